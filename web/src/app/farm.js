// A farm's map and its side panel (a bottom sheet on phones): the fields outlined and labelled,
// drawing, editing, deleting and importing fields, and a field's panel with its processing
// progress, index and week selectors, the index tiles over the map and the chart.

import { api, ApiError, canEdit, currentRole } from './api.js';
import { h, ask, toast } from './dom.js';
import { countFields, describeError } from './i18n.js';
import { formatHectares, formatNumber, formatPercent, formatShortDate, formatDate, geometryAreaHa, sumHectares } from './format.js';
import { csvFileName, historyCsv } from './csv.js';
import { defaultWeek, hasRadarMap, processingProgress, radarFill, seasonalBaseline, sortWeeks, stepWeek, weekKey, withoutCoverage } from './weeks.js';
import { ImportError, fieldsFromFile } from './kml.js';
import { exportButtons, importWithPreview, isServerImport } from './boundaries.js';
import { FALLBACK_INDICES, groupIndices, legendGradient, mergeIndices } from './indices.js';
import { createChart } from './chart.js';
import { alignWeeks, createWeatherPanel, loadWeather, weatherCsv } from './weather.js';
import { OSM_TILES, basemapAttribution, serverBasemap } from './basemap.js';
import { app, navigate, serverHint, showError } from './main.js';
import { visibleParts } from './flags.js';
import { HEALTH_COLORS, actionBody, allowedActions, evidenceIndex, healthOf, isOpen, previousSeason, sceneIds, signalOverlay } from './signals.js';
import { severityBadge, signalStatusBadge, signalWeek } from './inbox.js';

const BASEMAP_KEY = 'vivacampo.basemap';
const VIEW_KEY = 'vivacampo.view';
const INDEX_KEY = 'vivacampo.index';
// Set once the base map failed to load in this browser session: it is said once, and the map
// starts without it until the session ends (or the user picks it again).
const BASEMAP_OFFLINE_KEY = 'vivacampo.basemapOffline';
// The phone's bottom sheet: its open height (share of the map) and its collapsed height (px),
// as in app.css.
const SHEET_SHARE = 0.58;
const SHEET_COLLAPSED_PX = 128;
const POLL_MS = 3000;
const BRAZIL = { center: [-15.8, -52.0], zoom: 4 };

// Outlines that show on the light base maps (≥ 3:1): dark green fields; the selected one amber
// on a dark casing, so it shows over the index tiles of any colour too; drafts dark amber.
const FIELD_STYLE = { color: '#14532d', weight: 2, fillColor: '#2e8b57', fillOpacity: 0.18 };
const SELECTED_STYLE = { color: '#ffb703', weight: 3, fillOpacity: 0 };
const CASING_STYLE = { color: '#18261c', weight: 7, opacity: 0.85, fill: false };
const DRAFT_COLOR = '#b45309';
const DRAFT_STYLE = { color: DRAFT_COLOR, weight: 3, dashArray: '6 4', fillColor: '#ffb703', fillOpacity: 0.2 };

let indicesPromise = null;

/** The index catalogue, fetched once; the built-in copy when the server has none. */
function loadIndices() {
  indicesPromise ??= api.indices()
    .then((body) => mergeIndices(Array.isArray(body) ? body : body?.items))
    .catch(() => FALLBACK_INDICES);
  return indicesPromise;
}

function escapeHtml(text) {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** The user's choice: "osm" (the server's base map, whatever it is) or "none". */
function basemapChoice() {
  const fromUrl = new URLSearchParams(location.search).get('basemap');
  return fromUrl ?? localStorage.getItem(BASEMAP_KEY) ?? 'osm';
}

/** Renders the farm screen into `main`; returns the clean-up to run when leaving it. */
export function renderFarm(main, farmId, initialFieldId, initialSignalId = null) {
  const t = app.t;
  const lang = app.lang;
  const state = {
    farm: null,
    aois: [],
    layers: new Map(),
    selectedId: null,
    detail: null,
    draft: null,
    editing: null,
    pollTimer: null,
    alive: true,
  };

  // ---- layout ----
  const mapEl = h('div', { class: 'map', id: 'map', role: 'application', 'aria-label': t('map.label') });
  const areaText = h('span', { role: 'status', 'aria-live': 'polite' });
  const cancelDrawButton = h('button', { class: 'btn small cancel-draw', type: 'button', id: 'cancel-draw', hidden: true, onclick: () => { cancelDraft(); renderList(); } }, t('map.cancelDraw'));
  const areaBox = h('div', { class: 'area-box', hidden: true }, areaText, cancelDrawButton);
  const mapMessage = h('div', { class: 'map-message', role: 'status', hidden: true });
  const legendBox = h('div', { class: 'map-legend', hidden: true });
  const basemapUrl = serverBasemap(serverHint('basemap'));
  const basemapSelect = h('select', {
    'aria-label': t('map.basemap'),
    onchange: (e) => {
      localStorage.setItem(BASEMAP_KEY, e.target.value);
      sessionStorage.removeItem(BASEMAP_OFFLINE_KEY);
      basemapNote.hidden = true;
      applyBasemap(e.target.value);
    },
  }, h('option', { value: 'osm' }, basemapUrl === OSM_TILES ? t('map.osm') : t('map.serverBasemap')), h('option', { value: 'none' }, t('map.none')));
  basemapSelect.value = basemapChoice() === 'none' || !basemapUrl || sessionStorage.getItem(BASEMAP_OFFLINE_KEY) ? 'none' : 'osm';
  const basemapNote = h('span', { class: 'basemap-note', role: 'status', hidden: true });
  const panelBody = h('div', { class: 'panel-body' });
  const sheetHandle = h('button', {
    class: 'sheet-handle', type: 'button', 'aria-expanded': 'true', 'aria-controls': 'panel',
    onclick: () => {
      const collapsed = panel.classList.toggle('collapsed');
      sheetHandle.setAttribute('aria-expanded', String(!collapsed));
      setTimeout(() => map.invalidateSize(), 250);
    },
  }, h('span', { class: 'grip', 'aria-hidden': 'true' }), h('span', { class: 'visually-hidden' }, t('fields.title')));
  const panel = h('aside', { class: 'panel', id: 'panel' }, sheetHandle, panelBody);
  main.append(h('div', { class: 'farm-layout' },
    h('section', { class: 'map-wrap' }, mapEl, areaBox, mapMessage, legendBox,
      basemapUrl ? h('div', { class: 'basemap' }, h('label', {}, h('span', {}, t('map.basemap')), basemapSelect), basemapNote) : null),
    panel));

  // ---- map ----
  const L = window.L;
  const map = L.map(mapEl, { zoomControl: false, attributionControl: true, fadeAnimation: false });
  L.control.zoom({ zoomInTitle: t('map.zoomIn'), zoomOutTitle: t('map.zoomOut') }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com" title="Leaflet">Leaflet</a>');
  map.createPane('indexPane').style.zIndex = '350';
  // The selected field's casing: over its index tiles, under the outlines.
  map.createPane('casingPane').style.zIndex = '390';
  map.getPane('casingPane').style.pointerEvents = 'none';
  map.pm.setLang(lang === 'pt-BR' ? 'pt_br' : 'en');
  let basemapLayer = null;
  function applyBasemap(choice) {
    basemapLayer?.remove();
    basemapLayer = null;
    mapEl.classList.toggle('blank', choice === 'none');
    if (choice !== 'none' && basemapUrl) {
      const layer = L.tileLayer(basemapUrl, { maxZoom: 19, attribution: basemapAttribution(basemapUrl), className: 'basemap-tiles' });
      // On a closed network the base map cannot load: after a few failures and no success, show
      // the map without it (for this visit only, so it comes back when the network does).
      let loaded = 0;
      let failed = 0;
      layer.on('tileload', () => { loaded += 1; });
      layer.on('tileerror', () => {
        failed += 1;
        if (failed === 4 && loaded === 0 && basemapLayer === layer) {
          basemapSelect.value = 'none';
          applyBasemap('none');
          // Once per session, in the base map's own box (over nothing else), not as a toast.
          if (!sessionStorage.getItem(BASEMAP_OFFLINE_KEY)) {
            sessionStorage.setItem(BASEMAP_OFFLINE_KEY, '1');
            basemapNote.textContent = t('map.basemapOfflineShort');
            basemapNote.hidden = false;
          }
        }
      });
      basemapLayer = layer.addTo(map);
    }
  }
  applyBasemap(basemapSelect.value);
  try {
    const view = JSON.parse(localStorage.getItem(VIEW_KEY) ?? 'null');
    if (view) map.setView(view.center, view.zoom);
    else map.setView(BRAZIL.center, BRAZIL.zoom);
  } catch {
    map.setView(BRAZIL.center, BRAZIL.zoom);
  }
  map.on('moveend', () => {
    const c = map.getCenter();
    localStorage.setItem(VIEW_KEY, JSON.stringify({ center: [c.lat, c.lng], zoom: map.getZoom() }));
  });

  const fieldsLayer = L.featureGroup().addTo(map);

  /**
   * Padding that keeps fitted bounds in the part of the map the user sees: on phones, above the
   * bottom sheet at the height it has once its content is in (it may still be loading now).
   */
  function fitPadding(padding) {
    const phone = window.matchMedia('(max-width: 760px)').matches;
    const collapsed = panel.classList.contains('collapsed') || panel.classList.contains('collapsed-mobile');
    const sheet = !phone ? 0 : collapsed ? SHEET_COLLAPSED_PX : Math.max(panel.offsetHeight, Math.round(mapEl.clientHeight * SHEET_SHARE));
    return { paddingTopLeft: [padding, padding + 40], paddingBottomRight: [padding, padding + sheet] };
  }

  /** Field labels that would overlap an earlier one (the selected field's first) are hidden. */
  function collideLabels() {
    const placed = [];
    const layers = [...state.layers.entries()].sort(([a], [b]) => (b === state.selectedId) - (a === state.selectedId));
    for (const [, layer] of layers) {
      const el = layer.getTooltip()?.getElement();
      if (!el) continue;
      el.style.visibility = '';
      const r = el.getBoundingClientRect();
      const overlaps = placed.some((p) => r.left < p.right + 4 && r.right + 4 > p.left && r.top < p.bottom + 2 && r.bottom + 2 > p.top);
      if (overlaps) el.style.visibility = 'hidden';
      else placed.push(r);
    }
  }
  map.on('zoomend moveend', collideLabels);

  function showMessage(text) {
    mapMessage.textContent = text ?? '';
    mapMessage.hidden = !text;
  }

  function drawFields() {
    fieldsLayer.clearLayers();
    state.layers.clear();
    for (const aoi of state.aois) {
      const layer = L.geoJSON(aoi.geometry, { style: fieldStyle(aoi) });
      // A node, not a string: Leaflet would parse a string as HTML.
      const label = document.createElement('span');
      label.textContent = aoi.name;
      const health = fieldHealth(aoi);
      if (health) {
        label.dataset.health = health;
        // WATCH and ALERT also say it in the label (the outline's colour alone is not enough).
        if (health !== 'OK') label.prepend(h('span', { class: `health-dot health-${health}`, title: t(`health.${health}`), 'aria-label': t(`health.${health}`) }, '!'), ' ');
      }
      layer.bindTooltip(label, { permanent: true, direction: 'center', className: 'field-label' });
      layer.on('click', () => { if (!state.draft && !state.editing && !map.pm.globalDrawModeEnabled()) selectField(aoi.id); });
      layer.addTo(fieldsLayer);
      state.layers.set(aoi.id, layer);
    }
    drawCasing();
    collideLabels();
  }

  let casing = null;
  /** The dark casing under the selected field's outline (none while its boundary is edited). */
  function drawCasing() {
    casing?.remove();
    casing = null;
    const aoi = state.aois.find((a) => a.id === state.selectedId);
    if (aoi && !state.editing) casing = L.geoJSON(aoi.geometry, { pane: 'casingPane', interactive: false, style: CASING_STYLE }).addTo(map);
  }

  /** The field's health badge word while signals are on (null otherwise). */
  function fieldHealth(aoi) {
    return visibleParts(app.flags).signals ? healthOf(aoi) : null;
  }

  /** A field's outline: coloured by its health (WATCH amber, ALERT red), amber when selected. */
  function fieldStyle(aoi) {
    const health = fieldHealth(aoi);
    const base = health && health !== 'OK' ? { ...FIELD_STYLE, color: HEALTH_COLORS[health], fillColor: HEALTH_COLORS[health], weight: 3 } : FIELD_STYLE;
    return aoi.id === state.selectedId ? { ...base, ...SELECTED_STYLE } : base;
  }

  function restyle() {
    for (const [id, layer] of state.layers) {
      const aoi = state.aois.find((a) => a.id === id);
      if (aoi) layer.setStyle(fieldStyle(aoi));
    }
    drawCasing();
  }

  /** The health badge of a field (nothing while signals are off or the server does not say). */
  function healthBadge(aoi) {
    const health = fieldHealth(aoi);
    return health ? h('span', { class: `badge health health-${health}`, 'data-health': health }, t(`health.${health}`)) : null;
  }

  // ---- data ----
  async function loadFarm() {
    const [farm, aois] = await Promise.all([api.farm(farmId), api.aois(farmId)]);
    state.farm = farm;
    state.aois = aois.items;
    document.title = `${farm.name} · VivaCampo`;
    drawFields();
  }

  async function fitInitialView() {
    if (state.aois.length > 0) {
      map.fitBounds(fieldsLayer.getBounds(), { ...fitPadding(30), maxZoom: 16 });
      return;
    }
    if (localStorage.getItem(VIEW_KEY)) return;
    // A farm without fields opens where the workspace's other fields are.
    try {
      const any = await api.anyAoi();
      const bbox = any?.items?.[0]?.bbox;
      if (bbox) map.fitBounds([[bbox[1], bbox[0]], [bbox[3], bbox[2]]], { maxZoom: 14 });
    } catch { /* the Brazil-wide view stays */ }
  }

  // ---- panel: the list of fields ----
  function renderList() {
    // Leaving a field's panel drops an edit of its boundary that was not saved.
    cancelEditing();
    stopPolling();
    state.detail?.chart?.destroy();
    state.detail = null;
    removeIndexLayer();
    legendBox.hidden = true;
    showMessage(state.aois.length === 0 && canEdit() ? t('map.emptyHint') : null);
    const fileInput = h('input', { type: 'file', accept: '.zip,.kmz,.geojson,.json,.kml,application/zip,application/vnd.google-earth.kmz,application/geo+json,application/vnd.google-earth.kml+xml', class: 'visually-hidden', onchange: importFile, id: 'import-file' });
    panelBody.replaceChildren(
      h('a', { class: 'back', href: '#/farms' }, '← ', t('nav.farms')),
      h('h1', { class: 'panel-title' }, state.farm?.name ?? ''),
      h('p', { class: 'muted' }, `${countFields(t, state.aois.length)} · ${formatHectares(lang, sumHectares(state.aois))}`),
      canEdit() && h('div', { class: 'button-row' },
        h('button', { class: 'btn primary', type: 'button', id: 'draw-field', onclick: startDrawing }, t('map.draw')),
        h('label', { class: 'btn ghost', for: 'import-file', tabindex: 0, role: 'button', onkeydown: (e) => { if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); fileInput.click(); } } }, t('map.import')),
        fileInput),
      state.aois.length > 0 && exportButtons(farmId, t),
      h('h2', { class: 'section-title' }, t('fields.title')),
      state.aois.length === 0 ? h('p', { class: 'empty' }, t('fields.empty'))
        : h('ul', { class: 'field-list' }, state.aois.map((aoi) => h('li', {},
          h('button', { class: 'field-item', type: 'button', onclick: () => selectField(aoi.id) },
            h('span', { class: 'field-name' }, aoi.name),
            h('span', { class: 'field-meta' }, t(`fields.${aoi.use_type}`), ' · ', formatHectares(lang, aoi.area_ha)),
            h('span', { class: 'field-badges' }, healthBadge(aoi),
              aoi.processing?.pending_jobs > 0 ? h('span', { class: 'badge status-RUNNING' }, t('status.RUNNING')) : null))))));
  }

  async function importFile(e) {
    const file = e.target.files?.[0];
    e.target.value = '';
    if (!file) return;
    // Shapefiles (CAR/SICAR) and KMZ are read by the server, with a preview to confirm.
    if (isServerImport(file.name)) {
      await importWithPreview({ file, farmId, map, container: panelBody, t, lang, api, onImported: loadFarm, onClose: renderList });
      return;
    }
    let fields;
    try {
      fields = fieldsFromFile(file.name, await file.text(), t('fields.new'));
    } catch (error) {
      const message = error instanceof ImportError ? t(error.key, error.params) : t('import.unreadable');
      toast(t('map.importFailed', { name: file.name, message }), 'error');
      return;
    }
    if (fields.length === 0) {
      toast(t('map.importNone'), 'error');
      return;
    }
    let created = 0;
    const problems = [];
    for (const field of fields) {
      try {
        await api.createAoi({ farm_id: farmId, name: field.name, use_type: 'CROP', geometry: field.geometry });
        created += 1;
      } catch (error) {
        problems.push(t('map.importFailed', { name: field.name, message: describeError(t, error) }));
      }
    }
    await loadFarm();
    renderList();
    if (created > 0) map.fitBounds(fieldsLayer.getBounds(), { ...fitPadding(30), maxZoom: 16 });
    toast([t('map.importDone', { n: created }), ...problems].join(' '), problems.length ? 'error' : 'info');
  }

  // ---- drawing a new field ----
  function showArea(latlngs, extra) {
    const ring = latlngs.map((ll) => [ll.lng, ll.lat]);
    if (extra) ring.push([extra.lng, extra.lat]);
    if (ring.length < 3) {
      areaText.textContent = t('map.drawHint');
    } else {
      ring.push(ring[0]);
      areaText.textContent = t('map.area', { area: formatHectares(lang, geometryAreaHa({ type: 'Polygon', coordinates: [ring] })) });
    }
    areaBox.hidden = false;
  }

  let working = null;
  const onDrawMove = (e) => { if (working) showArea(working.getLatLngs(), e.latlng); };

  function startDrawing() {
    cancelDraft();
    showMessage(null);
    areaText.textContent = t('map.drawHint');
    areaBox.hidden = false;
    cancelDrawButton.hidden = false;
    map.pm.enableDraw('Polygon', { snappable: false, continueDrawing: false, templineStyle: { color: DRAFT_COLOR }, hintlineStyle: { color: DRAFT_COLOR, dashArray: [5, 5] }, pathOptions: DRAFT_STYLE });
    panel.classList.add('collapsed-mobile');
  }

  map.on('pm:drawstart', ({ workingLayer }) => {
    working = workingLayer;
    workingLayer.on('pm:vertexadded', () => showArea(workingLayer.getLatLngs()));
    map.on('mousemove', onDrawMove);
  });
  map.on('pm:drawend', () => {
    working = null;
    cancelDrawButton.hidden = true;
    map.off('mousemove', onDrawMove);
    if (!state.draft) areaBox.hidden = true;
    panel.classList.remove('collapsed-mobile');
  });
  map.on('pm:create', ({ layer }) => {
    layer.setStyle(DRAFT_STYLE);
    state.draft = layer;
    layer.pm.enable({ snappable: false });
    const refresh = () => showArea(layer.getLatLngs()[0]);
    layer.on('pm:edit pm:markerdrag', refresh);
    refresh();
    renderDraftForm();
  });

  function cancelDraft() {
    cancelDrawButton.hidden = true;
    map.pm.disableDraw();
    if (state.draft) {
      state.draft.pm.disable();
      state.draft.remove();
      state.draft = null;
    }
    areaBox.hidden = true;
  }

  // Escape drops a drawing in progress or a drawn field not yet saved.
  const onEscape = (e) => {
    if (e.key !== 'Escape' || !(state.draft || map.pm.globalDrawModeEnabled())) return;
    if (document.querySelector('dialog[open]')) return;
    e.preventDefault();
    cancelDraft();
    renderList();
  };
  document.addEventListener('keydown', onEscape);

  function renderDraftForm() {
    const message = h('p', { class: 'form-message', role: 'alert', 'data-kind': 'error' });
    const name = h('input', { name: 'name', type: 'text', required: true, maxlength: 120, value: `${t('fields.new')} ${state.aois.length + 1}` });
    const use = h('select', { name: 'use_type' }, h('option', { value: 'CROP' }, t('fields.CROP')), h('option', { value: 'PASTURE' }, t('fields.PASTURE')));
    const form = h('form', {
      class: 'draft-form',
      onsubmit: async (e) => {
        e.preventDefault();
        message.textContent = '';
        const button = form.querySelector('button[type=submit]');
        button.disabled = true;
        try {
          const aoi = await api.createAoi({ farm_id: farmId, name: name.value.trim(), use_type: use.value, geometry: state.draft.toGeoJSON().geometry });
          cancelDraft();
          await loadFarm();
          selectField(aoi.id);
        } catch (error) {
          message.textContent = describeError(t, error);
          button.disabled = false;
        }
      },
    },
    h('h2', { class: 'panel-title' }, t('fields.new')),
    h('p', { class: 'hint' }, t('map.adjustHint')),
    message,
    h('label', { class: 'field' }, h('span', {}, t('fields.name')), name),
    h('label', { class: 'field' }, h('span', {}, t('fields.useType')), use),
    h('div', { class: 'button-row' },
      h('button', { class: 'btn primary', type: 'submit', id: 'save-field' }, t('fields.save')),
      h('button', { class: 'btn ghost', type: 'button', onclick: () => { cancelDraft(); renderList(); } }, t('common.cancel'))));
    panelBody.replaceChildren(form);
    panel.classList.remove('collapsed', 'collapsed-mobile');
    name.focus();
    name.select();
  }

  // ---- a field's panel ----
  let indexLayer = null;
  function removeIndexLayer() {
    indexLayer?.remove();
    indexLayer = null;
  }

  function stopPolling() {
    clearTimeout(state.pollTimer);
    state.pollTimer = null;
  }

  async function selectField(id, signalId = null) {
    cancelDraft();
    cancelEditing();
    state.selectedId = id;
    restyle();
    history.replaceState(null, '', signalId ? `#/farms/${farmId}/fields/${id}/signals/${signalId}` : `#/farms/${farmId}/fields/${id}`);
    const aoi = state.aois.find((a) => a.id === id);
    if (!aoi) { renderList(); return; }
    const layer = state.layers.get(id);
    if (layer) map.fitBounds(layer.getBounds(), { ...fitPadding(40), maxZoom: 16 });
    state.detail?.chart?.destroy();
    const indices = await loadIndices();
    const saved = localStorage.getItem(INDEX_KEY);
    // A signal opened from the inbox: its evidence's index is the chart's.
    let signal = null;
    if (signalId) {
      try {
        signal = await api.signal(signalId, lang);
      } catch (error) {
        showError(error);
      }
      if (signal && signal.aoi_id !== id) signal = null;
    }
    const wanted = evidenceIndex(signal);
    state.detail = {
      aoi,
      indices,
      index: wanted && indices.some((i) => i.name === wanted) ? wanted : indices.some((i) => i.name === saved) ? saved : 'ndvi',
      signal,
      signals: [],
      previous: new Map(),
      radarFill: new Map(),
      weeks: [],
      points: [],
      weekKey: null,
      tileKey: null,
      backfill: null,
      dead: [],
      chart: null,
    };
    renderDetail();
    await refreshDetail();
  }

  function detailFor(id) {
    return state.detail && state.detail.aoi.id === id && state.alive ? state.detail : null;
  }

  async function refreshDetail() {
    const d = state.detail;
    if (!d) return;
    const id = d.aoi.id;
    try {
      const [aoi, weeks, history, backfills, dead] = await Promise.all([
        api.aoi(id), api.weeks(id), api.history(id, d.index),
        api.jobs(`&aoi_id=${id}&type=BACKFILL`), api.jobs(`&aoi_id=${id}&status=DEAD`),
      ]);
      if (!detailFor(id)) return;
      d.aoi = aoi;
      d.weeks = sortWeeks(weeks.items);
      d.points = seasonalBaseline(history.points);
      d.previous = previousSeason(history);
      d.backfill = [...backfills.items].sort((a, b) => b.created_at.localeCompare(a.created_at))[0] ?? null;
      d.dead = dead.items.filter((j) => j.type === 'PROCESS_WEEK');
      d.weekKey = defaultWeek(d.weeks, d.weekKey);
      d.radarFill = await radarPointsFor(d, id);
      if (!detailFor(id)) return;
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) { navigate(`#/farms/${farmId}`); return; }
      showError(error);
    }
    await refreshSignals(d, id);
    updateDetail();
    refreshWeather(d, id);
    const progress = processingProgress(d.backfill, d.weeks, d.aoi.processing?.pending_jobs ?? 0);
    if (progress.running && detailFor(id)) state.pollTimer = setTimeout(() => refreshDetail(), POLL_MS);
  }

  /**
   * On an optical index's chart, the CLOUDY weeks that have radar get a radar (RVI) point: the
   * radar history is fetched only when the server has radar and some week has it (best effort).
   */
  async function radarPointsFor(d, id) {
    const radar = groupIndices(d.indices).radar;
    if (radar.some((i) => i.name === d.index) || !radar.some((i) => i.name === 'rvi')) return new Map();
    if (!d.weeks.some((w) => w.status === 'CLOUDY' && w.radar?.status === 'OK')) return new Map();
    try {
      return radarFill(d.points, (await api.history(id, 'rvi')).points);
    } catch {
      return new Map();
    }
  }

  /** The field's weather: the panel, and rain bars under the index curve (best effort). */
  function refreshWeather(d, id) {
    // While the field is processing its weather may still arrive; once it has days, once is enough.
    if (d.weather?.daily?.days?.length || d.weatherLoading || !visibleParts(app.flags).weather) return;
    d.weatherLoading = true;
    loadWeather(id, d.points).finally(() => { d.weatherLoading = false; }).then((weather) => {
      if (!detailFor(id)) return;
      d.weather = weather;
      d.els.weather.update(weather);
      updateDetail();
    }).catch(() => {});
  }

  /** The field's open signals (and the opened one, again), while signals are on. */
  async function refreshSignals(d, id) {
    if (!visibleParts(app.flags).signals) return;
    try {
      const [list, signal] = await Promise.all([
        api.signals(`&aoi_id=${id}`, lang),
        d.signal ? api.signal(d.signal.id, lang) : null,
      ]);
      if (!detailFor(id)) return;
      d.signals = list.items.filter((s) => isOpen(s.status));
      // The card is drawn again only when the signal changed (a note being typed stays).
      if (signal && d.signal?.id === signal.id && JSON.stringify(signal) !== JSON.stringify(d.signal)) {
        d.signal = signal;
        renderSignalCard();
      }
    } catch { /* the panel shows without them */ }
    renderSignals(false);
  }

  /** The field's open signals, as buttons that open each one (and the opened one's card). */
  function renderSignals(card = true) {
    const d = state.detail;
    if (!d?.els) return;
    const list = d.signals.filter((s) => s.id !== d.signal?.id);
    d.els.signals.hidden = list.length === 0;
    d.els.signals.replaceChildren(h('h2', { class: 'section-title' }, t('signals.open')),
      h('ul', { class: 'field-signal-list' }, list.map((s) => h('li', {},
        h('button', { class: 'field-signal', type: 'button', 'data-id': s.id, onclick: () => openSignal(s.id) },
          severityBadge(t, s.severity), h('span', { class: 'signal-title' }, s.title ?? t(`signalType.${s.type}`)), h('span', { class: 'muted' }, signalWeek(t, s)))))));
    if (card) renderSignalCard();
  }

  async function openSignal(signalId) {
    const d = state.detail;
    if (!d) return;
    let signal;
    try {
      signal = await api.signal(signalId, lang);
    } catch (error) { showError(error); return; }
    if (!detailFor(signal.aoi_id)) return;
    d.signal = signal;
    history.replaceState(null, '', `#/farms/${farmId}/fields/${d.aoi.id}/signals/${signal.id}`);
    const wanted = evidenceIndex(signal);
    if (wanted && wanted !== d.index && d.indices.some((i) => i.name === wanted)) {
      d.index = wanted;
      d.els.indexSelect.value = wanted;
      stopPolling();
      await refreshDetail();
    } else {
      renderSignals();
      updateDetail();
    }
    panelBody.scrollTop = 0;
    d.els.signalCard.querySelector('.signal-card-title')?.focus({ preventScroll: true });
  }

  function closeSignal() {
    const d = state.detail;
    if (!d) return;
    d.signal = null;
    history.replaceState(null, '', `#/farms/${farmId}/fields/${d.aoi.id}`);
    renderSignals();
    updateDetail();
  }

  /** The opened signal: what, why, what to do, its scenes, and what the member may do with it. */
  function renderSignalCard() {
    const d = state.detail;
    const card = d.els.signalCard;
    const s = d.signal;
    card.hidden = !s;
    if (!s) { card.replaceChildren(); return; }
    card.dataset.status = s.status;
    const can = allowedActions(currentRole(), s.status);
    const ids = sceneIds(s);
    const note = h('textarea', { name: 'note', rows: 2, maxlength: 2000, id: 'signal-note' });
    const useful = h('select', { name: 'useful', id: 'signal-useful' },
      h('option', { value: '' }, t('signal.usefulUnset')), h('option', { value: 'yes' }, t('signal.usefulYes')), h('option', { value: 'no' }, t('signal.usefulNo')));
    const act = async (action, button) => {
      const buttons = [...card.querySelectorAll('.signal-buttons button')];
      buttons.forEach((b) => { b.disabled = true; });
      try {
        const body = actionBody(note.value, useful.value === 'yes' ? true : useful.value === 'no' ? false : null);
        const updated = await api.signalAction(s.id, action, body, lang);
        if (!detailFor(updated.aoi_id ?? d.aoi.id)) return;
        d.signal = updated;
        renderSignalCard();
        toast(t(`signal.done.${action}`));
        // The field's health may have changed: its badge, outline and open signals follow.
        await loadFarm();
        if (!detailFor(d.aoi.id)) return;
        const fresh = state.aois.find((a) => a.id === d.aoi.id);
        if (fresh) d.aoi = { ...d.aoi, health: fresh.health };
        restyle();
        await refreshSignals(d, d.aoi.id);
        updateDetail();
        card.querySelector('.signal-card-title')?.focus();
      } catch (error) {
        showError(error);
        buttons.forEach((b) => { b.disabled = false; });
        button.focus();
      }
    };
    const actionButton = (action, kind) => h('button', { class: `btn ${kind} small`, type: 'button', id: `signal-${action}`, onclick: (e) => act(action, e.currentTarget) }, t(`signal.${action}`));
    const evidence = s.evidence ?? {};
    const weather = evidence.weather;
    card.replaceChildren(
      h('div', { class: 'signal-card-head' },
        severityBadge(t, s.severity), signalStatusBadge(t, s.status), h('span', { class: 'muted' }, signalWeek(t, s)),
        h('button', { class: 'btn ghost icon close-signal', type: 'button', 'aria-label': t('common.close'), title: t('common.close'), onclick: closeSignal }, '×')),
      h('h2', { class: 'signal-card-title', tabindex: -1 }, s.title ?? t(`signalType.${s.type}`)),
      h('p', { class: 'signal-explanation' }, s.explanation ?? ''),
      s.actions?.length ? h('div', { class: 'signal-todo' }, h('h3', {}, t('signal.actions')), h('ul', {}, s.actions.map((a) => h('li', {}, a)))) : null,
      h('p', { class: 'signal-facts muted' },
        t('signal.confidence', { pct: formatPercent(lang, s.confidence) }),
        evidence.weeks?.length ? ` · ${t('signal.evidenceWeeks', { n: evidence.weeks.length })}` : null,
        weather ? ` · ${t('signal.weather', { rain: formatNumber(lang, weather.precip_mm, 0), balance: formatNumber(lang, weather.balance_mm, 0) })}` : null),
      ids.length ? h('details', { class: 'signal-scenes' }, h('summary', {}, t('signal.scenes', { n: ids.length })),
        h('ul', {}, ids.map((id) => h('li', {}, h('code', {}, id))))) : null,
      can.ack || can.resolve || can.dismiss ? h('form', { class: 'signal-form', onsubmit: (e) => e.preventDefault() },
        h('label', { class: 'field' }, h('span', {}, t('signal.note')), note),
        h('label', { class: 'field' }, h('span', {}, t('signal.useful')), useful),
        h('div', { class: 'button-row signal-buttons' },
          can.ack ? actionButton('ack', 'primary') : null,
          can.resolve ? actionButton('resolve', can.ack ? 'ghost' : 'primary') : null,
          can.dismiss ? actionButton('dismiss', 'ghost') : null)) : null);
  }

  /** Whether `name` is one of the catalogue's radar (Sentinel-1) indices. */
  function isRadarIndex(name) {
    return groupIndices(state.detail?.indices).radar.some((i) => i.name === name);
  }

  /** The index selector's options: optical indices, then a "Radar" group when the server has radar. */
  function indexOptions(indices, selected) {
    const option = (i) => h('option', { value: i.name, selected: i.name === selected }, i.title);
    const { optical, radar } = groupIndices(indices);
    if (radar.length === 0) return optical.map(option);
    return [h('optgroup', { label: t('fields.optical') }, optical.map(option)), h('optgroup', { label: t('fields.radar') }, radar.map(option))];
  }

  function downloadWeatherCsv() {
    const d = state.detail;
    if (!d.weather) return;
    saveBlob(new Blob([weatherCsv(d.weather.weekly.weeks)], { type: 'text/csv;charset=utf-8' }), csvFileName(d.aoi.name, 'weather'));
  }

  function renderDetail() {
    const d = state.detail;
    const { aoi } = d;
    d.els = {
      progress: h('div', { class: 'progress', id: 'progress' }),
      retry: h('div'),
      indexSelect: h('select', {
        id: 'index-select',
        'aria-label': t('fields.index'),
        onchange: async (e) => {
          d.index = e.target.value;
          localStorage.setItem(INDEX_KEY, d.index);
          stopPolling();
          await refreshDetail();
        },
      }, indexOptions(d.indices, d.index)),
      legend: h('div', { class: 'legend' }),
      weeks: h('div', { class: 'weeks', role: 'listbox', 'aria-label': t('fields.week'), 'aria-orientation': 'horizontal', id: 'weeks', tabindex: 0, onkeydown: onWeekKey }),
      weekInfo: h('p', { class: 'week-info', 'aria-live': 'polite' }),
      chartTitle: h('h3', { class: 'chart-title' }),
      chart: h('div', { class: 'chart', id: 'chart' }),
      chartLegend: h('div', { class: 'chart-legend', 'aria-hidden': 'true' },
        h('span', { class: 'key mean' }, t('chart.mean')), h('span', { class: 'key band' }, t('chart.band')),
        h('span', { class: 'key baseline', title: t('chart.baselineHint') }, t('chart.baseline')), h('span', { class: 'key selected' }, t('chart.selected')),
        h('span', { class: 'key previous', hidden: true }, t('chart.previous')), h('span', { class: 'key evidence', hidden: true }, t('chart.evidence')),
        h('span', { class: 'key radar', hidden: true, title: t('chart.radarHint') }, t('chart.radar')),
        visibleParts(app.flags).weather && h('span', { class: 'key rain' }, t('chart.rain')), visibleParts(app.flags).weather && h('span', { class: 'key balance' }, t('chart.balance'))),
      baselineNote: h('p', { class: 'description baseline-note' }, t('chart.baselineHint')),
      chartEmpty: h('p', { class: 'muted' }, t('chart.empty')),
      weather: createWeatherPanel({ h, t, num: (v, digits) => formatNumber(lang, v, digits), date: (s) => formatShortDate(lang, s) }),
      name: h('h1', { class: 'panel-title' }, aoi.name),
      meta: h('p', { class: 'field-facts' }),
      signals: h('div', { class: 'field-signals', id: 'field-signals', hidden: true }),
      signalCard: h('section', { class: 'signal-card', id: 'signal-card', hidden: true, 'aria-label': t('signal.label') }),
    };
    d.els.editRow = h('span', { class: 'button-row' });
    panelBody.replaceChildren(
      h('button', { class: 'back linklike', type: 'button', onclick: () => { state.selectedId = null; restyle(); history.replaceState(null, '', `#/farms/${farmId}`); renderList(); } }, '← ', state.farm?.name ?? t('fields.title')),
      d.els.name,
      d.els.meta,
      d.els.signalCard,
      d.els.signals,
      d.els.progress,
      d.els.retry,
      h('div', { class: 'control' }, h('label', { for: 'index-select' }, t('fields.index')), d.els.indexSelect),
      d.els.legend,
      h('div', { class: 'weeks-head' }, h('span', { class: 'visually-hidden', id: 'weeks-label' }, t('fields.week')), d.els.weekInfo,
        h('span', { class: 'week-steps' },
          h('button', { class: 'btn ghost icon', type: 'button', 'aria-label': t('week.prev'), onclick: () => chooseWeek(stepWeek(d.weeks, d.weekKey, -1)) }, '‹'),
          h('button', { class: 'btn ghost icon', type: 'button', 'aria-label': t('week.next'), onclick: () => chooseWeek(stepWeek(d.weeks, d.weekKey, 1)) }, '›'))),
      d.els.weeks,
      h('div', { class: 'chart-head' }, d.els.chartTitle,
        h('span', { class: 'button-row' },
          visibleParts(app.flags).rasterDownload && h('button', { class: 'btn ghost small', type: 'button', id: 'download-tif', title: t('fields.geotiffHint'), 'aria-label': t('fields.geotiffHint'), onclick: downloadGeoTiff }, '⤓ GeoTIFF'),
          h('button', { class: 'btn ghost small', type: 'button', id: 'download-csv', title: t('fields.download'), 'aria-label': t('fields.download'), onclick: downloadCsv }, '⤓ CSV'))),
      d.els.chart,
      d.els.chartLegend,
      d.els.baselineNote,
      d.els.chartEmpty,
      visibleParts(app.flags).weather && d.els.weather.el,
      visibleParts(app.flags).weather && h('button', { class: 'btn ghost small', type: 'button', id: 'download-weather-csv', onclick: downloadWeatherCsv }, `⤓ CSV ${t('weather.title')}`),
      canEdit() && h('div', { class: 'button-row danger-zone' }, d.els.editRow,
        h('button', { class: 'btn ghost small danger-text', type: 'button', onclick: deleteField }, t('fields.delete'))));
    d.chart = createChart(d.els.chart, { labels: { mean: t('chart.mean'), baseline: t('chart.baseline'), previous: t('chart.previous'), radar: t('chart.radar'), expected: t('chart.expected'), low: t('chart.low'), week: (week, monday) => t('week.selected', { week, date: formatShortDate(lang, new Date(monday * 1000).toISOString()) }), rain: t('chart.rain'), balance: t('chart.balance') }, lang, onSelect: chooseWeek });
    renderEditControls();
    renderSignals();
    updateDetail();
  }

  function updateDetail() {
    const d = state.detail;
    if (!d?.els) return;
    const { aoi } = d;
    d.els.name.textContent = aoi.name;
    d.els.meta.replaceChildren(
      h('span', { class: 'chip' }, t(`fields.${aoi.use_type}`)),
      h('span', {}, formatHectares(lang, aoi.area_ha)),
      healthBadge(aoi));
    const progress = processingProgress(d.backfill, d.weeks, aoi.processing?.pending_jobs ?? 0);
    // While weeks are (re)processed their COGs change: the tiles are asked for again each time
    // the count moves and when it ends, so a new boundary's map replaces the old one.
    d.tileGeneration = `${progress.done}/${progress.total}/${progress.running}`;
    const ratio = progress.total ? progress.done / progress.total : 0;
    const uncovered = withoutCoverage(d.weeks, progress);
    d.uncovered = uncovered;
    d.els.progress.classList.toggle('uncovered', uncovered);
    d.els.progress.replaceChildren(
      h('div', { class: 'progress-text' },
        uncovered ? t('fields.noCoverage') : progress.total ? t('fields.progress', { done: progress.done, total: progress.total }) : t('fields.waiting'),
        progress.running ? h('span', { class: 'spinner', 'aria-hidden': 'true' }) : null),
      h('div', { class: 'bar', role: 'progressbar', 'aria-valuemin': 0, 'aria-valuemax': progress.total, 'aria-valuenow': progress.done, 'aria-label': t('fields.progress', { done: progress.done, total: progress.total }) },
        h('span', { style: { width: `${Math.round(ratio * 100)}%` } })));
    d.els.progress.dataset.done = String(progress.done);
    d.els.progress.dataset.total = String(progress.total);
    d.els.progress.dataset.running = String(progress.running);
    d.els.progress.dataset.coverage = uncovered ? 'none' : 'some';
    d.els.retry.replaceChildren(d.dead.length && canEdit() && visibleParts(app.flags).retry ? h('button', { class: 'btn ghost small', type: 'button', onclick: retryFailed }, t('fields.retryFailed', { n: d.dead.length })) : '');
    const index = d.indices.find((i) => i.name === d.index) ?? d.indices[0];
    d.els.legend.replaceChildren(
      h('div', { class: 'ramp-row' },
        h('span', {}, formatNumber(lang, index.legend[0].value, 1)),
        h('div', { class: 'ramp', style: { background: legendGradient(index.legend) } }),
        h('span', {}, formatNumber(lang, index.legend.at(-1).value, 1))),
      h('p', { class: 'description' }, lang === 'pt-BR' ? index.description_pt ?? index.description : index.description));
    legendBox.replaceChildren(h('strong', {}, index.title), h('div', { class: 'ramp', style: { background: legendGradient(index.legend) } }),
      h('div', { class: 'ramp-labels' }, h('span', {}, formatNumber(lang, index.legend[0].value, 1)), h('span', {}, formatNumber(lang, index.legend.at(-1).value, 1))));
    renderWeeks();
    d.els.chartTitle.textContent = t('fields.chart', { index: index.title });
    const hasPoints = d.points.some((p) => p.mean !== null && p.mean !== undefined) || d.radarFill.size > 0;
    const hasBaseline = d.points.some((p) => p.baseline !== null && p.baseline !== undefined);
    // A field without coverage says so once, in the progress box: no "chart appears when…".
    d.els.chartEmpty.hidden = hasPoints || uncovered;
    d.els.chart.hidden = !hasPoints;
    d.els.chartLegend.hidden = !hasPoints;
    d.els.chartLegend.querySelector('.key.baseline').hidden = !hasBaseline;
    d.els.baselineNote.hidden = !hasPoints || !hasBaseline;
    const overlay = signalOverlay(d.signal, d.index);
    d.els.chartLegend.querySelector('.key.previous').hidden = d.previous.size === 0;
    d.els.chartLegend.querySelector('.key.evidence').hidden = !overlay;
    d.els.chartLegend.querySelector('.key.radar').hidden = d.radarFill.size === 0;
    if (hasPoints) d.chart.update(d.points, d.weekKey, d.weather ? alignWeeks(d.points, d.weather.weekly.weeks) : null, { previous: d.previous, signal: overlay, radar: d.radarFill });
    updateTiles();
  }

  /** The week's cloud line: "☁ 12 %", "Nublado ☁ 64 %" or "⊘ Sem dados". */
  function weekCloud(w) {
    const pct = w.cloud_fraction === null || w.cloud_fraction === undefined ? null : formatPercent(lang, w.cloud_fraction);
    if (w.status === 'OK') return t('week.cloud', { pct: pct ?? '–' });
    if (w.status === 'CLOUDY') return pct ? t('week.cloudyPct', { pct }) : t('week.CLOUDY');
    return t('week.noDataMark');
  }

  /**
   * A week chip's tooltip: the ISO week and its Monday (as the chip, the chart and the CSV
   * date it), then the scene's own date, then the status.
   */
  function weekTitle(w) {
    return [t('week.of', { key: w.key, date: formatDate(lang, w.week_start) }),
      w.scene_datetime ? t('week.scene', { date: formatDate(lang, w.scene_datetime) }) : null,
      t(`week.${w.status}`)].filter(Boolean).join(' · ');
  }

  /** The message over the map for a week without a map. */
  function weekWithoutMap(w) {
    if (isRadarIndex(state.detail?.index)) return t('map.noRadarWeek', { week: w.week });
    if (w.status === 'CLOUDY') {
      return w.cloud_fraction === null || w.cloud_fraction === undefined ? t('map.cloudyWeek', { week: w.week })
        : t('map.cloudyWeekPct', { week: w.week, pct: formatPercent(lang, w.cloud_fraction) });
    }
    return t('map.noDataWeek', { week: w.week });
  }

  function weekOptionId(key) {
    return `week-${key}`;
  }

  function renderWeeks() {
    const d = state.detail;
    const list = d.els.weeks;
    if (d.weeks.length === 0) {
      list.replaceChildren(h('p', { class: 'muted' }, t('fields.noWeeks')));
      list.removeAttribute('aria-activedescendant');
      d.els.weekInfo.textContent = '';
      return;
    }
    // A listbox whose focus stays on the list: the selected week is its active option
    // (aria-activedescendant), arrows and Home/End move it, a click picks one.
    list.replaceChildren(...d.weeks.map((w) => h('div', {
      role: 'option',
      id: weekOptionId(w.key),
      class: `week status-${w.status}`,
      'aria-selected': String(w.key === d.weekKey),
      'data-key': w.key,
      'data-week-start': w.week_start,
      title: weekTitle(w),
      onclick: () => { chooseWeek(w.key); list.focus({ preventScroll: true }); },
    },
    h('span', { class: 'week-no' }, t('week.label', { week: w.week })),
    h('span', { class: 'week-date' }, formatShortDate(lang, w.week_start)),
    h('span', { class: 'week-cloud' }, weekCloud(w)))));
    const selected = list.querySelector('[aria-selected=true]');
    if (selected) {
      list.setAttribute('aria-activedescendant', selected.id);
      // Scroll the strip only (scrollIntoView would also scroll the page sideways on phones).
      list.scrollLeft = selected.offsetLeft - list.offsetLeft - (list.clientWidth - selected.offsetWidth) / 2;
    } else {
      list.removeAttribute('aria-activedescendant');
    }
    const week = d.weeks.find((w) => w.key === d.weekKey);
    const point = d.points.find((p) => weekKey(p.year, p.week) === d.weekKey);
    d.els.weekInfo.replaceChildren(week ? h('span', {},
      h('strong', {}, t('week.selected', { week: week.week, date: formatShortDate(lang, week.week_start) })),
      week.scene_datetime ? ` · ${t('week.scene', { date: formatShortDate(lang, week.scene_datetime) })}` : null,
      point?.mean !== null && point?.mean !== undefined ? ` · ${t('chart.mean')} ${formatNumber(lang, point.mean, 2)}` : null,
      d.radarFill.has(d.weekKey) ? h('span', { class: 'radar-value' }, ` · ${t('chart.radar')} ${formatNumber(lang, d.radarFill.get(d.weekKey), 2)}`) : null,
      week.status !== 'OK' ? h('span', { class: `badge status-${week.status}` }, weekCloud(week)) : null) : t('fields.week'));
  }

  function onWeekKey(e) {
    const d = state.detail;
    const steps = { ArrowLeft: -1, ArrowRight: 1, ArrowUp: -1, ArrowDown: 1 };
    if (e.key in steps) {
      e.preventDefault();
      chooseWeek(stepWeek(d.weeks, d.weekKey, steps[e.key]));
    } else if (e.key === 'Home' || e.key === 'End') {
      e.preventDefault();
      chooseWeek((e.key === 'Home' ? d.weeks[0] : d.weeks.at(-1))?.key);
    }
  }

  function chooseWeek(key) {
    const d = state.detail;
    if (!d || !key) return;
    d.weekKey = key;
    renderWeeks();
    d.chart?.select(key);
    updateTiles();
  }

  async function updateTiles() {
    const d = state.detail;
    const week = d.weeks.find((w) => w.key === d.weekKey);
    // A radar index's map comes from the week's radar COG, whatever the optical week's status.
    const mapped = isRadarIndex(d.index) ? hasRadarMap(week) : week?.status === 'OK';
    const tileKey = week && mapped && visibleParts(app.flags).indexLayer ? `${d.index}/${week.key}/${d.tileGeneration ?? ''}` : null;
    if (tileKey === d.tileKey) return;
    d.tileKey = tileKey;
    legendBox.hidden = !tileKey;
    if (!tileKey) {
      removeIndexLayer();
      showMessage(week && !d.uncovered && visibleParts(app.flags).indexLayer ? weekWithoutMap(week) : null);
      return;
    }
    const id = d.aoi.id;
    // The message of a week without a map goes as soon as one with a map is chosen.
    showMessage(null);
    try {
      const tileJson = await api.tileJson(id, d.index, week.year, week.week);
      if (!detailFor(id) || d.tileKey !== tileKey) return;
      removeIndexLayer();
      showMessage(null);
      const b = tileJson.bounds;
      indexLayer = L.tileLayer(tileJson.tiles[0], {
        pane: 'indexPane',
        minZoom: tileJson.minzoom ?? 0,
        maxZoom: 22,
        maxNativeZoom: tileJson.maxzoom ?? 18,
        bounds: b ? [[b[1], b[0]], [b[3], b[2]]] : undefined,
        className: 'index-tiles',
        // The imagery's credit (Copernicus), as text: Leaflet would read a string as HTML.
        attribution: escapeHtml(tileJson.attribution ?? ''),
      });
      // Tiles wholly outside the field are 204s, which the browser reports as errors; only a
      // layer where no tile at all loaded is a failure worth a message.
      let loaded = 0;
      indexLayer.on('tileload', () => { loaded += 1; });
      indexLayer.on('load', () => showMessage(loaded > 0 || map.getZoom() < (tileJson.minzoom ?? 0) ? null : t('map.tilesFailed')));
      indexLayer.addTo(map);
    } catch (error) {
      if (d.tileKey !== tileKey) return;
      removeIndexLayer();
      legendBox.hidden = true;
      showMessage(error.status === 404 ? t('map.tilesUnavailable') : t('map.tilesFailed'));
    }
  }

  function saveBlob(blob, fileName) {
    const link = h('a', { href: URL.createObjectURL(blob), download: fileName });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  /** The selected week's COG (all bands, for QGIS); the download needs the session's token. */
  async function downloadGeoTiff() {
    const d = state.detail;
    const week = d.weeks.find((w) => w.key === d.weekKey);
    if (!week?.has_raster) {
      toast(t('fields.noRaster'), 'error');
      return;
    }
    try {
      const blob = await api.raster(d.aoi.id, week.year, week.week);
      saveBlob(blob, csvFileName(d.aoi.name, week.key).replace(/\.csv$/, '.tif'));
    } catch (error) { showError(error); }
  }

  function downloadCsv() {
    const d = state.detail;
    saveBlob(new Blob([historyCsv(d.index, d.points)], { type: 'text/csv;charset=utf-8' }), csvFileName(d.aoi.name, d.index));
  }

  async function retryFailed() {
    const d = state.detail;
    try {
      await Promise.all(d.dead.map((job) => api.retryJob(job.id)));
      toast(t('fields.retried'));
      stopPolling();
      await refreshDetail();
    } catch (error) { showError(error); }
  }

  // ---- editing a field's boundary: Save sends it, Cancel (or leaving the panel) restores it ----
  function renderEditControls(focus = false) {
    const row = state.detail?.els?.editRow;
    if (!row) return;
    row.replaceChildren(...(state.editing
      ? [h('button', { class: 'btn primary small', type: 'button', id: 'save-boundary', onclick: saveEditing }, t('fields.editSave')),
        h('button', { class: 'btn ghost small', type: 'button', id: 'cancel-edit', onclick: () => cancelEditing(true) }, t('common.cancel'))]
      : [h('button', { class: 'btn ghost small', type: 'button', id: 'edit-field', onclick: startEditing }, t('fields.edit'))]));
    if (focus) row.querySelector('button').focus();
  }

  function startEditing() {
    const d = state.detail;
    const layer = state.layers.get(d.aoi.id);
    if (!layer) return;
    state.editing = layer;
    drawCasing();
    layer.pm.enable({ snappable: false, allowSelfIntersection: true });
    const refresh = () => {
      const latlngs = layer.getLayers()[0].getLatLngs();
      showArea((Array.isArray(latlngs[0]) ? (Array.isArray(latlngs[0][0]) ? latlngs[0][0] : latlngs[0]) : latlngs));
    };
    layer.on('pm:edit pm:markerdrag', refresh);
    refresh();
    renderEditControls(true);
  }

  /** Ends the editing mode of `layer` (its handles go away); the shape stays as it is now. */
  function endEditing(layer) {
    layer.pm.disable();
    layer.off('pm:edit pm:markerdrag');
    state.editing = null;
    areaBox.hidden = true;
    drawCasing();
  }

  /** Drops an unsaved edit: the handles go and the field is drawn again as saved. */
  function cancelEditing(focus = false) {
    const layer = state.editing;
    if (!layer) return;
    endEditing(layer);
    drawFields();
    renderEditControls(focus);
  }

  async function saveEditing() {
    const layer = state.editing;
    const d = state.detail;
    if (!layer || !d) return;
    const geometry = layer.getLayers()[0].toGeoJSON().geometry;
    // Leaflet rounds nothing, so an untouched boundary comes back equal: no reprocessing then.
    if (JSON.stringify(geometry.coordinates) === JSON.stringify(d.aoi.geometry.coordinates)) {
      endEditing(layer);
      renderEditControls(true);
      return;
    }
    const buttons = [...d.els.editRow.querySelectorAll('button')];
    buttons.forEach((b) => { b.disabled = true; });
    try {
      await api.updateAoi(d.aoi.id, { geometry });
    } catch (error) {
      // The edit stays open, so the boundary can be fixed (or cancelled).
      toast(describeError(t, error), 'error');
      buttons.forEach((b) => { b.disabled = false; });
      return;
    }
    if (state.editing === layer) endEditing(layer);
    await loadFarm();
    if (!detailFor(d.aoi.id)) return;
    restyle();
    renderEditControls(true);
    d.tileKey = null;
    stopPolling();
    await refreshDetail();
  }

  async function deleteField() {
    const d = state.detail;
    const ok = await ask({ title: t('fields.delete'), message: t('fields.deleteConfirm', { name: d.aoi.name }), confirm: t('common.delete'), cancel: t('common.cancel'), danger: true });
    if (!ok) return;
    try {
      await api.deleteAoi(d.aoi.id);
      state.selectedId = null;
      history.replaceState(null, '', `#/farms/${farmId}`);
      await loadFarm();
      renderList();
    } catch (error) { showError(error); }
  }

  // ---- start ----
  panelBody.replaceChildren(h('p', { class: 'muted' }, t('common.loading')));
  (async () => {
    try {
      await loadFarm();
    } catch (error) {
      if (error.status === 404) { navigate('#/farms'); return; }
      panelBody.replaceChildren(h('p', { class: 'form-message', 'data-kind': 'error' }, describeError(t, error)));
      return;
    }
    if (!state.alive) return;
    await fitInitialView();
    if (initialFieldId && state.aois.some((a) => a.id === initialFieldId)) selectField(initialFieldId, initialSignalId);
    else renderList();
  })();

  return () => {
    state.alive = false;
    document.removeEventListener('keydown', onEscape);
    stopPolling();
    state.detail?.chart?.destroy();
    // Leaflet 1.9 ends a zoom animation on a 250 ms timer that moves the map's pane; a map removed
    // before that timer fires makes it throw, so the (already detached) map goes after it.
    map.stop();
    setTimeout(() => map.remove(), 300);
  };
}
