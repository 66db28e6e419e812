import { test } from 'node:test';
import assert from 'node:assert/strict';
import { OSM_TILES, basemapAttribution, serverBasemap } from '../../src/app/basemap.js';

test('the server names its base map, or none; without a word it is OpenStreetMap', () => {
  assert.equal(serverBasemap(null), OSM_TILES);
  assert.equal(serverBasemap(''), OSM_TILES);
  assert.equal(serverBasemap('none'), null);
  assert.equal(serverBasemap('http://10.0.0.5:8081/{z}/{x}/{y}.png'), 'http://10.0.0.5:8081/{z}/{x}/{y}.png');
});

test('attribution: OpenStreetMap\'s, or the tile host as text', () => {
  assert.match(basemapAttribution(OSM_TILES), /openstreetmap\.org\/copyright/);
  assert.equal(basemapAttribution('https://tiles.example.com/{z}/{x}/{y}.png'), 'tiles.example.com');
  assert.equal(basemapAttribution('http://a<b>/{z}/{x}/{y}'), 'a&#60;b&#62;');
});
