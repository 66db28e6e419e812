import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { formatHectares, formatPercent, formatShortDate, geometryAreaHa, ringAreaM2 } from '../../src/app/format.js';

// The server's reference fields: GeographicLib's geodesic areas on WGS84 (the values
// crates/vivacampo-core/tests/geometry_reference.rs checks the server's area against).
const reference = JSON.parse(readFileSync(new URL('../../../crates/vivacampo-core/tests/fixtures/geometry/reference-areas.json', import.meta.url)));

test('the drawing area is the server\'s geodesic area (GeographicLib reference fields)', () => {
  assert.ok(reference.cases.length >= 10);
  for (const { name, geometry, area_m2: m2 } of reference.cases) {
    const rings = geometry.type === 'Polygon' ? [geometry.coordinates] : geometry.coordinates;
    const ours = rings.reduce((sum, polygon) => sum + polygon.reduce((s, ring, i) => s + (i === 0 ? 1 : -1) * ringAreaM2(ring), 0), 0);
    assert.ok(Math.abs(ours - m2) / m2 < 1e-7, `${name}: ${ours} m² vs ${m2} m²`);
    // Rounded to hundredths, as the API stores and reports it.
    assert.equal(geometryAreaHa(geometry), Math.round(m2 / 100) / 100, name);
  }
  assert.equal(ringAreaM2([[0, 0], [1, 1]]), 0);
});

test('hectares, percentages and dates in each language', () => {
  // One decimal everywhere, grouped in the language's way.
  assert.equal(formatHectares('pt-BR', 12.345), '12,3 ha');
  assert.equal(formatHectares('en', 93.9), '93.9 ha');
  assert.equal(formatHectares('en', 1234.56), '1,234.6 ha');
  assert.equal(formatHectares('pt-BR', 729.46), '729,5 ha');
  assert.equal(formatPercent('en', 0.234), '23%');
  assert.match(formatPercent('pt-BR', 0.234), /^23\s?%$/);
  assert.equal(formatShortDate('en', '2026-03-02'), 'Mar 2');
  assert.match(formatShortDate('pt-BR', '2026-03-02T13:20:00Z'), /^2 de mar/);
});
