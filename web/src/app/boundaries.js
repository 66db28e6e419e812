// Boundary files through the server: a zipped Shapefile (CAR/SICAR), KMZ, KML or GeoJSON is sent
// to POST /v1/farms/{id}/import as a dry run, its features are drawn on the map with a checkbox
// each, and the ticked ones are imported in one request; one progress line follows the batch's
// backfills. Export buttons download the farm's fields as a Shapefile, KML or GeoJSON.
// The pure helpers at the top are unit-tested (web/tests/unit/boundaries.test.mjs).

import { ApiError, currentSession } from './api.js';
import { h, toast } from './dom.js';
import { describeError } from './i18n.js';
import { formatHectares } from './format.js';

/** Files the server-side import reads (the browser-side one handles plain GeoJSON and KML). */
export function isServerImport(fileName) {
  return /\.(zip|kmz)$/i.test(fileName);
}

/** The query string of an import request. */
export function importQuery({ dryRun = true, nameField = '', useType = 'CROP', indices = null } = {}) {
  const params = new URLSearchParams({ dry_run: String(dryRun), use_type: useType });
  if (nameField) params.set('name_field', nameField);
  if (indices) params.set('indices', [...indices].sort((a, b) => a - b).join(','));
  return params.toString();
}

/** Whether a feature can be ticked: a valid field, even if a duplicate or far from the farm. */
export function selectable(feature) {
  return feature.status === 'ok' || feature.status === 'duplicate' || feature.reason === 'outside_farm_region';
}

/** The features ticked at first: the ok ones. */
export function defaultSelection(features) {
  return new Set(features.filter((f) => f.status === 'ok').map((f) => f.index));
}

/** Counts for the preview's summary line. */
export function summarize(features, selected) {
  const count = (status) => features.filter((f) => f.status === status).length;
  const hectares = features.filter((f) => selected.has(f.index)).reduce((sum, f) => sum + (f.area_ha ?? 0), 0);
  return { ok: count('ok'), invalid: count('invalid'), duplicate: count('duplicate'), selected: selected.size, hectares };
}

/** A previewed feature's area and validation result: "192,4 ha · ok" (no area: "ok"). */
export function previewMeta(feature, lang, t) {
  const status = feature.reason ? t(`boundaries.reason.${feature.reason}`) : t('boundaries.status.ok');
  return feature.area_ha != null ? `${formatHectares(lang, feature.area_ha)} · ${status}` : status;
}

/** The map style of a previewed feature. */
export function previewStyle(feature, isSelected) {
  const color = feature.status === 'ok' ? '#1a7f37' : feature.status === 'duplicate' ? '#b35900' : '#b42318';
  return { color, weight: 2, fillColor: color, fillOpacity: isSelected ? 0.35 : 0.05, dashArray: isSelected ? null : '4 4' };
}

/** The batch's progress: created fields whose backfill has no job left in play. */
export function batchProgress(aois, createdIds) {
  const ids = new Set(createdIds);
  const mine = aois.filter((a) => ids.has(a.id));
  const done = mine.filter((a) => (a.processing?.pending_jobs ?? 0) === 0).length;
  return { done, total: createdIds.length };
}

async function send(method, path, body, contentType) {
  const session = currentSession();
  const headers = { accept: 'application/json' };
  if (session) headers.authorization = `Bearer ${session.token}`;
  if (contentType) headers['content-type'] = contentType;
  let response;
  try {
    response = await fetch(path, { method, headers, body });
  } catch {
    throw new ApiError(0, { error: { code: 'OFFLINE', message: 'network error' } });
  }
  if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => null));
  return response;
}

/** Downloads the farm's fields as `kind` (zip, kml, geojson). */
export async function exportFields(farmId, kind) {
  const response = await send('GET', `/v1/farms/${farmId}/fields.${kind}`);
  const name = /filename="([^"]+)"/.exec(response.headers.get('content-disposition') ?? '')?.[1] ?? `fields.${kind}`;
  const url = URL.createObjectURL(await response.blob());
  const link = h('a', { href: url, download: name, hidden: true });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10_000);
}

/** The export buttons of a farm's panel. */
export function exportButtons(farmId, t) {
  const button = (kind, label) => h('button', {
    class: 'btn ghost', type: 'button', 'data-export': kind,
    onclick: () => exportFields(farmId, kind).catch((e) => toast(describeError(t, e), 'error')),
  }, label);
  return h('div', { class: 'button-row export-row' },
    h('span', { class: 'muted' }, t('boundaries.export')),
    button('zip', 'Shapefile'), button('kml', 'KML'), button('geojson', 'GeoJSON'));
}

/**
 * Runs the import of `file` into the farm: dry run, preview on `map` in `container`, then the
 * import of the ticked features. `onImported(createdIds)` is called after a real import;
 * `api.aois` is polled for the batch's progress until every backfill is done.
 */
export async function importWithPreview({ file, farmId, map, container, t, lang, api, onImported, onClose }) {
  const body = await file.arrayBuffer();
  const contentType = file.type || 'application/octet-stream';
  let nameField = '';
  let useType = 'CROP';
  let preview;
  let selected;
  const layer = L.featureGroup().addTo(map);

  const close = () => {
    layer.remove();
    onClose();
  };

  async function dryRun() {
    try {
      const response = await send('POST', `/v1/farms/${farmId}/import?${importQuery({ nameField, useType })}`, body, contentType);
      preview = await response.json();
    } catch (error) {
      toast(t('map.importFailed', { name: file.name, message: describeError(t, error) }), 'error');
      close();
      return;
    }
    selected = defaultSelection(preview.features);
    render();
    if (layer.getLayers().length > 0) map.fitBounds(layer.getBounds(), { maxZoom: 16 });
  }

  function drawPreview() {
    layer.clearLayers();
    for (const feature of preview.features) {
      if (!feature.geometry) continue;
      const shape = L.geoJSON(feature.geometry, { style: previewStyle(feature, selected.has(feature.index)) });
      shape.bindTooltip(`${feature.name} · ${formatHectares(lang, feature.area_ha)}`);
      layer.addLayer(shape);
    }
  }

  function render() {
    drawPreview();
    const sum = summarize(preview.features, selected);
    const list = h('ul', { class: 'import-list' }, preview.features.map((feature) => {
      const box = h('input', {
        type: 'checkbox', checked: selected.has(feature.index), disabled: !selectable(feature),
        'data-index': feature.index,
        onchange: (e) => {
          if (e.target.checked) selected.add(feature.index); else selected.delete(feature.index);
          render();
        },
      });
      // The spaces are text nodes of their own so the line reads "Talhão Sede 192,4 ha · ok".
      return h('li', { class: `import-item status-${feature.status}` },
        h('label', {}, box, ' ', h('span', { class: 'field-name' }, feature.name), ' ',
          h('span', { class: 'field-meta' }, previewMeta(feature, lang, t))));
    }));
    const nameSelect = h('select', {
      'aria-label': t('boundaries.nameField'),
      onchange: (e) => { nameField = e.target.value; dryRun(); },
    }, h('option', { value: '' }, t('boundaries.nameAuto')),
    preview.attributes.map((a) => h('option', { value: a, selected: a === nameField }, a)));
    const useSelect = h('select', {
      'aria-label': t('boundaries.useType'),
      onchange: (e) => { useType = e.target.value; },
    }, ['CROP', 'PASTURE'].map((u) => h('option', { value: u, selected: u === useType }, t(`fields.${u}`))));
    container.replaceChildren(
      h('h2', { class: 'section-title' }, t('boundaries.previewTitle', { name: file.name })),
      h('p', { class: 'muted', id: 'import-summary' }, t('boundaries.summary', { ...sum, area: formatHectares(lang, sum.hectares) })),
      h('div', { class: 'button-row' }, h('label', {}, t('boundaries.nameField'), ' ', nameSelect), h('label', {}, t('boundaries.useType'), ' ', useSelect)),
      h('div', { class: 'button-row' },
        h('button', { class: 'btn primary', type: 'button', id: 'import-confirm', disabled: selected.size === 0, onclick: confirm },
          t('boundaries.confirm', { n: selected.size })),
        h('button', { class: 'btn ghost', type: 'button', onclick: close }, t('boundaries.cancel'))),
      list);
  }

  async function confirm() {
    const query = importQuery({ dryRun: false, nameField, useType, indices: selected });
    let result;
    try {
      const response = await send('POST', `/v1/farms/${farmId}/import?${query}&geometry=false`, body, contentType);
      result = await response.json();
    } catch (error) {
      toast(t('map.importFailed', { name: file.name, message: describeError(t, error) }), 'error');
      return;
    }
    layer.remove();
    const created = result.created;
    toast(t('map.importDone', { n: created.length }));
    await onImported(created);
    const line = h('p', { class: 'muted', id: 'import-progress', role: 'status' });
    container.replaceChildren(h('h2', { class: 'section-title' }, t('boundaries.progressTitle')), line,
      h('button', { class: 'btn ghost', type: 'button', onclick: onClose }, t('boundaries.close')));
    for (;;) {
      const aois = (await api.aois(farmId).catch(() => ({ items: [] }))).items;
      const progress = batchProgress(aois, created);
      line.textContent = t('boundaries.progress', progress);
      if (progress.done >= progress.total || !line.isConnected) break;
      await new Promise((resolve) => setTimeout(resolve, 3000));
    }
  }

  container.replaceChildren(h('p', { class: 'muted', role: 'status' }, t('boundaries.reading', { name: file.name })));
  await dryRun();
}
