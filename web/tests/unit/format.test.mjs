import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatHectares, formatPercent, formatShortDate, geometryAreaHa, ringAreaM2 } from '../../src/app/format.js';

// A 0.01° × 0.01° square at the equator: (R·0.01·π/180)² = 1113.195² ≈ 1 239 203 m² on the sphere.
const square = [[0, 0], [0.01, 0], [0.01, 0.01], [0, 0.01], [0, 0]];

test('geodesic area of a small square near the equator', () => {
  assert.ok(Math.abs(ringAreaM2(square) - 1239203) < 50, String(ringAreaM2(square)));
  assert.equal(ringAreaM2([[0, 0], [1, 1]]), 0);
});

test('holes are subtracted and multipolygons summed', () => {
  const hole = [[0.002, 0.002], [0.004, 0.002], [0.004, 0.004], [0.002, 0.004], [0.002, 0.002]];
  const outer = geometryAreaHa({ type: 'Polygon', coordinates: [square] });
  const withHole = geometryAreaHa({ type: 'Polygon', coordinates: [square, hole] });
  assert.ok(Math.abs(outer - withHole - outer * 0.04) < 0.01);
  assert.ok(Math.abs(geometryAreaHa({ type: 'MultiPolygon', coordinates: [[square], [square]] }) - 2 * outer) < 1e-9);
});

test('the demo pivot (radius 560 m) is about 98.5 ha', () => {
  const [lon, lat] = [-50.905, -17.745];
  const ring = [];
  for (let i = 0; i <= 64; i += 1) {
    const a = (i / 64) * 2 * Math.PI;
    ring.push([lon + (560 * Math.cos(a)) / (111320 * Math.cos((lat * Math.PI) / 180)), lat + (560 * Math.sin(a)) / 110574]);
  }
  const ha = geometryAreaHa({ type: 'Polygon', coordinates: [ring] });
  assert.ok(Math.abs(ha - 98.5) < 1.5, String(ha));
});

test('hectares, percentages and dates in each language', () => {
  assert.equal(formatHectares('pt-BR', 12.345), '12,35 ha');
  assert.equal(formatHectares('en', 12.345), '12.35 ha');
  assert.equal(formatHectares('en', 1234.5), '1,235 ha');
  assert.equal(formatPercent('en', 0.234), '23%');
  assert.match(formatPercent('pt-BR', 0.234), /^23\s?%$/);
  assert.equal(formatShortDate('en', '2026-03-02'), 'Mar 2');
  assert.match(formatShortDate('pt-BR', '2026-03-02T13:20:00Z'), /^2 de mar/);
});
