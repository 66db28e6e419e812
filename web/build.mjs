// Copies the browser libraries' distribution files (and their licences) from node_modules into
// web/vendor/, which is committed: the binary embeds web/src (the app, plain ES modules served as
// they are, no bundler) and web/vendor, so `cargo run` needs no npm step. .ci/run runs this after
// `npm ci` and fails when web/vendor differs from what the lockfile gives.
import { cpSync, mkdirSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = dirname(fileURLToPath(import.meta.url));
const vendor = join(root, 'vendor');
const modules = join(root, 'node_modules');

const vendored = [
  ['leaflet/dist/leaflet.js', 'leaflet/leaflet.js'],
  ['leaflet/dist/leaflet.css', 'leaflet/leaflet.css'],
  ['leaflet/dist/images/layers.png', 'leaflet/images/layers.png'],
  ['leaflet/dist/images/layers-2x.png', 'leaflet/images/layers-2x.png'],
  ['leaflet/dist/images/marker-icon.png', 'leaflet/images/marker-icon.png'],
  ['leaflet/dist/images/marker-icon-2x.png', 'leaflet/images/marker-icon-2x.png'],
  ['leaflet/dist/images/marker-shadow.png', 'leaflet/images/marker-shadow.png'],
  ['@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.min.js', 'geoman/leaflet-geoman.min.js'],
  ['@geoman-io/leaflet-geoman-free/dist/leaflet-geoman.css', 'geoman/leaflet-geoman.css'],
  ['uplot/dist/uPlot.iife.min.js', 'uplot/uPlot.iife.min.js'],
  ['uplot/dist/uPlot.min.css', 'uplot/uPlot.min.css'],
];

rmSync(vendor, { recursive: true, force: true });
for (const [from, to] of vendored) {
  mkdirSync(dirname(join(vendor, to)), { recursive: true });
  cpSync(join(modules, from), join(vendor, to));
}
// Licences travel with the vendored code.
for (const [pkg, to] of [['leaflet', 'leaflet'], ['@geoman-io/leaflet-geoman-free', 'geoman'], ['uplot', 'uplot']]) {
  cpSync(join(modules, pkg, 'LICENSE'), join(vendor, to, 'LICENSE'));
}
console.log(`web/vendor built (${vendored.length} files)`);
