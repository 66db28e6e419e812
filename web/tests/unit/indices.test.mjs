import { test } from 'node:test';
import assert from 'node:assert/strict';
import { FALLBACK_INDICES, legendGradient, mergeIndices } from '../../src/app/indices.js';

test('the built-in catalogue starts with NDVI and has a legend across its range', () => {
  const ndvi = FALLBACK_INDICES[0];
  assert.equal(ndvi.name, 'ndvi');
  assert.deepEqual([ndvi.legend[0].value, ndvi.legend.at(-1).value], [-0.2, 0.8]);
  assert.equal(legendGradient(ndvi.legend).split('%').length - 1, 7);
  const msi = FALLBACK_INDICES.find((i) => i.name === 'msi');
  assert.equal(msi.legend[0].color, '#5e4fa2');
});

test("the server's catalogue wins, keeping Portuguese text and dropping true colour", () => {
  const merged = mergeIndices([
    { name: 'true_color', title: 'True colour' },
    { name: 'ndvi', title: 'NDVI', description: 'server text', range: [0, 1], legend: [{ value: 0, color: '#000' }, { value: 1, color: '#fff' }] },
  ]);
  assert.deepEqual(merged.map((i) => i.name), ['ndvi']);
  assert.equal(merged[0].description, 'server text');
  assert.match(merged[0].description_pt, /biomassa/);
  assert.equal(merged[0].legend.length, 2);
  assert.equal(mergeIndices(undefined), FALLBACK_INDICES);
});
