import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { FALLBACK_INDICES, groupIndices, legendGradient, mergeIndices } from '../../src/app/indices.js';

test('the built-in catalogue starts with NDVI and has a legend across its range', () => {
  const ndvi = FALLBACK_INDICES[0];
  assert.equal(ndvi.name, 'ndvi');
  assert.deepEqual([ndvi.legend[0].value, ndvi.legend.at(-1).value], [0, 0.9]);
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

test("the built-in catalogue has the server's ranges and colour maps (vivacampo-raster's index.rs)", () => {
  const source = readFileSync(new URL('../../../crates/vivacampo-raster/src/index.rs', import.meta.url), 'utf8');
  const defs = [...source.matchAll(/name: "(\w+)",[\s\S]*?range: \[([-\d.]+), ([-\d.]+)\],[\s\S]*?colormap: "(\w+)",/g)]
    .map(([, name, lo, hi, colormap]) => [name, [Number(lo), Number(hi)], colormap]);
  assert.equal(defs.length, 13);
  const ours = new Map(FALLBACK_INDICES.map((i) => [i.name, [i.range, i.colormap]]));
  for (const [name, range, colormap] of defs) assert.deepEqual(ours.get(name), [range, colormap], name);
});

test('radar indices (sensor "radar") form their own group after the optical ones', () => {
  const items = [{ name: 'ndvi' }, { name: 'rvi', sensor: 'radar' }, { name: 'ndmi', sensor: 'optical' }, { name: 'vh_vv', sensor: 'radar' }];
  const { optical, radar } = groupIndices(items);
  assert.deepEqual(optical.map((i) => i.name), ['ndvi', 'ndmi']);
  assert.deepEqual(radar.map((i) => i.name), ['rvi', 'vh_vv']);
  assert.deepEqual(groupIndices(null), { optical: [], radar: [] });
});
