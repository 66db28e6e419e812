import { test } from 'node:test';
import assert from 'node:assert/strict';
import { batchProgress, defaultSelection, importQuery, isServerImport, previewMeta, previewStyle, selectable, summarize } from '../../src/app/boundaries.js';
import { DICTIONARIES, translator } from '../../src/app/i18n.js';

const FEATURES = [
  { index: 0, name: 'A', area_ha: 10.5, status: 'ok' },
  { index: 1, name: 'B', area_ha: 4, status: 'duplicate', reason: 'duplicate' },
  { index: 2, name: 'C', status: 'invalid', reason: 'self_intersection' },
  { index: 3, name: 'D', area_ha: 2, status: 'invalid', reason: 'outside_farm_region' },
  { index: 4, name: 'E', area_ha: 1.25, status: 'ok' },
];

test('zips and KMZ go to the server, plain GeoJSON and KML stay in the browser', () => {
  assert.equal(isServerImport('SICAR_GO.zip'), true);
  assert.equal(isServerImport('talhoes.KMZ'), true);
  assert.equal(isServerImport('talhoes.kml'), false);
  assert.equal(isServerImport('talhoes.geojson'), false);
});

test('the import query carries the choices, indices in order', () => {
  assert.equal(importQuery(), 'dry_run=true&use_type=CROP');
  assert.equal(importQuery({ dryRun: false, nameField: 'NOM_MUNICI', useType: 'PASTURE', indices: new Set([5, 0, 2]) }),
    'dry_run=false&use_type=PASTURE&name_field=NOM_MUNICI&indices=0%2C2%2C5');
});

test('ok features are ticked at first; duplicates and far ones may be ticked; broken ones never', () => {
  assert.deepEqual([...defaultSelection(FEATURES)], [0, 4]);
  assert.deepEqual(FEATURES.map(selectable), [true, true, false, true, true]);
});

test('the summary counts statuses and the ticked hectares', () => {
  assert.deepEqual(summarize(FEATURES, new Set([0, 4])), { ok: 2, invalid: 2, duplicate: 1, selected: 2, hectares: 11.75 });
});

test('unticked features are drawn dashed and faint', () => {
  assert.equal(previewStyle(FEATURES[0], true).fillOpacity, 0.35);
  assert.equal(previewStyle(FEATURES[0], false).dashArray, '4 4');
  assert.notEqual(previewStyle(FEATURES[1], true).color, previewStyle(FEATURES[0], true).color);
});

test('the batch is done when no created field has a job in play', () => {
  const aois = [
    { id: 'a', processing: { pending_jobs: 0 } },
    { id: 'b', processing: { pending_jobs: 3 } },
    { id: 'other', processing: { pending_jobs: 1 } },
  ];
  assert.deepEqual(batchProgress(aois, ['a', 'b']), { done: 1, total: 2 });
});

test('every reason the server gives has words in both languages', () => {
  const reasons = ['duplicate', 'outside_farm_region', 'not_polygonal', 'self_intersection', 'too_small', 'too_large',
    'too_many_vertices', 'too_few_points', 'unclosed_ring', 'out_of_range', 'empty'];
  for (const lang of Object.keys(DICTIONARIES)) {
    const t = translator(lang);
    for (const reason of reasons) assert.notEqual(t(`boundaries.reason.${reason}`), `boundaries.reason.${reason}`, `${lang} ${reason}`);
    assert.ok(DICTIONARIES[lang]['invalid.file.missing_prj']);
  }
  assert.equal(translator('pt-BR')('boundaries.confirm', { n: 3 }), 'Importar 3 talhões');
});

test('a preview line has its area and result after the name, spaced', () => {
  const t = translator('pt-BR');
  assert.equal(previewMeta({ name: 'Talhão Sede', area_ha: 192.4, status: 'ok' }, 'pt-BR', t), '192,4 ha · ok');
  assert.equal(previewMeta({ name: 'C', status: 'invalid', reason: 'self_intersection' }, 'pt-BR', t),
    DICTIONARIES['pt-BR']['boundaries.reason.self_intersection']);
});
