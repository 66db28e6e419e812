// Browser end-to-end tests: the real `vivacampo demo` binary on embedded defaults (SQLite, offline
// demo catalog) driven in headless Chromium by playwright-core, and a plain `vivacampo serve`
// with sign-up closed and a base map of its own. Builds nothing: run `cargo build` first. Every
// step saves a screenshot; any failure (in a step or between them) saves FAILED-<name>.png, and
// the directory is kept for the CI log (old FAILED-*.png are removed at the start).
//
//   node web/tests/e2e.mjs
//   VIVACAMPO_BIN=… CHROMIUM=… E2E_SCREENSHOTS=… node web/tests/e2e.mjs
//
// E2E_SKIP_TILES=1 skips the tile assertions (for a build without the tiler).

import { spawn, spawnSync } from 'node:child_process';
import { createServer } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const here = dirname(fileURLToPath(import.meta.url));
const repo = resolve(here, '../..');
const targetDir = process.env.CARGO_TARGET_DIR ?? join(repo, 'target');
const binary = process.env.VIVACAMPO_BIN ?? join(targetDir, 'debug', 'vivacampo');
const chromiumPath = process.env.CHROMIUM ?? '/usr/bin/chromium';
const shots = resolve(process.env.E2E_SCREENSHOTS ?? join(here, 'screenshots'));
const skipTiles = process.env.E2E_SKIP_TILES === '1';
const DESKTOP = { width: 1366, height: 768 };
const PHONE = { width: 390, height: 844 };
// Inside the offline demo imagery (~10 × 10 km around -50.90, -17.74), clear of the demo fields.
const DRAW_VIEW = { center: [-17.758, -50.918], zoom: 15 };
const PROCESSING_TIMEOUT = 240_000;
// A field boundary file as farmers get them from other tools (east of the drawn field).
const KML = `<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><Placemark><name>Várzea Sul &lt;img src=x onerror="window.__xss=1"&gt;</name>
<Polygon><outerBoundaryIs><LinearRing><coordinates>
-50.9100,-17.7620,0 -50.9060,-17.7620,0 -50.9060,-17.7585,0 -50.9100,-17.7585,0 -50.9100,-17.7620,0
</coordinates></LinearRing></outerBoundaryIs></Polygon></Placemark></Document></kml>`;

// Two small boundary files for the GeoJSON import: one broken (a trailing comma), one good.
const GEOJSON_BROKEN = '{"type": "FeatureCollection",\n "features": [],}';
const GEOJSON = JSON.stringify({ type: 'FeatureCollection', features: [{ type: 'Feature', properties: { name: 'Talhão GeoJSON' },
  geometry: { type: 'Polygon', coordinates: [[[-50.914, -17.766], [-50.911, -17.766], [-50.911, -17.7635], [-50.914, -17.7635], [-50.914, -17.766]]] } }] });
// The chart's mean line and points (web/src/app/chart.js GREEN).
const SERIES_RGB = [30, 107, 52];

mkdirSync(shots, { recursive: true });
for (const old of readdirSync(shots).filter((f) => /^FAILED-.*\.png$/.test(f))) rmSync(join(shots, old));

// ---- the server ----------------------------------------------------------------------------

/**
 * Starts `vivacampo ARGS…` on a free port with its own data directory; `prepare(run)` runs
 * admin commands on that directory first.
 */
async function startServer(args = ['demo'], prepare = () => {}) {
  const dataDir = mkdtempSync(join(tmpdir(), 'vivacampo-web-e2e-'));
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('VIVACAMPO_')));
  const admin = (...command) => {
    const run = spawnSync(binary, ['admin', ...command, '--data-dir', dataDir], { cwd: dataDir, env, encoding: 'utf8' });
    if (run.status !== 0) throw new Error(`admin ${command[0]} failed: ${run.stderr}`);
  };
  prepare(admin);
  const child = spawn(binary, [...args, '--data-dir', dataDir, '--bind', '127.0.0.1:0', '--log-format', 'json'], {
    cwd: dataDir, env: { ...env, VIVACAMPO_LOG: 'info' }, stdio: ['ignore', 'pipe', 'inherit'],
  });
  const address = await new Promise((resolveAddress, reject) => {
    const timer = setTimeout(() => reject(new Error('vivacampo did not listen within 120 s')), 120_000);
    child.on('error', (error) => reject(new Error(`cannot start ${binary}: ${error.message} (run cargo build first)`)));
    child.on('exit', (code) => reject(new Error(`vivacampo exited with ${code}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (process.env.E2E_ECHO) console.error(`[server] ${line}`);
      if (!line.includes('listening on http://')) return;
      try {
        const address = JSON.parse(line).address;
        clearTimeout(timer);
        resolveAddress(address);
      } catch { /* a plain-text line */ }
    });
  });
  return {
    url: `http://${address}`,
    /** `vivacampo admin add-member` on the running server's database. */
    addMember(email, tenant, role) {
      admin('add-member', '--email', email, '--tenant', tenant, '--role', role);
    },
    async stop() {
      child.kill('SIGTERM');
      await new Promise((r) => { if (child.exitCode !== null) r(); else child.on('exit', r); });
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

// ---- helpers ---------------------------------------------------------------------------------

const results = [];

async function step(page, name, body) {
  const started = Date.now();
  try {
    await body();
    await page.screenshot({ path: join(shots, `${name}.png`) });
    results.push({ name, ok: true, ms: Date.now() - started });
    console.log(`ok   ${name} (${((Date.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    await page.screenshot({ path: join(shots, `FAILED-${name}.png`) }).catch(() => {});
    results.push({ name, ok: false, error });
    console.log(`FAIL ${name}: ${error.stack ?? error}`);
    throw Object.assign(error instanceof Error ? error : new Error(String(error)), { screenshotSaved: true });
  }
}

/**
 * One test on a page of its own: `body(session)` runs its steps; a failure outside a step
 * (signing in, the check for browser errors) saves FAILED-<name>.png too.
 */
async function scenario(browser, name, options, body) {
  const session = await newPage(browser, options);
  try {
    await body(session);
    assert(session.problems.length === 0, `browser errors: ${session.problems.join(' | ')}`);
  } catch (error) {
    if (!error?.screenshotSaved) {
      await session.page.screenshot({ path: join(shots, `FAILED-${name}.png`) }).catch(() => {});
      results.push({ name, ok: false, error });
      console.log(`FAIL ${name} (outside a step): ${error?.stack ?? error}`);
    }
    throw error;
  } finally {
    await session.context.close();
  }
}

async function newPage(browser, { lang, viewport, view, basemap = 'none' }) {
  const context = await browser.newContext({ viewport, locale: lang, deviceScaleFactor: 1, acceptDownloads: true });
  // Offline: no base map tiles from the internet (unless the test serves its own).
  await context.addInitScript(([view, basemap]) => {
    if (!localStorage.getItem('vivacampo.basemap')) localStorage.setItem('vivacampo.basemap', basemap);
    if (view && !localStorage.getItem('vivacampo.view')) localStorage.setItem('vivacampo.view', JSON.stringify(view));
  }, [view, basemap]);
  const page = await context.newPage();
  page.setDefaultTimeout(30_000);
  const tiles = [];
  page.on('response', async (response) => {
    if (!/\/v1\/tiles\/aois\/.+\.png/.test(response.url())) return;
    const body = response.status() === 200 ? await response.body().catch(() => Buffer.alloc(0)) : Buffer.alloc(0);
    tiles.push({ url: response.url(), status: response.status(), bytes: body.length });
  });
  const problems = [];
  page.on('pageerror', (error) => problems.push(error.message));
  page.on('console', (message) => { if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) problems.push(message.text()); });
  return { context, page, tiles, problems };
}

async function signIn(page, url, email, password) {
  await page.goto(`${url}/#/signin`);
  await page.fill('input[name=email]', email);
  await page.fill('input[name=password]', password);
  await page.click('form.auth-form button[type=submit]');
  await page.waitForSelector('.topbar');
}

/** Waits until the field panel shows all weeks processed; returns {done, total}. */
async function waitProcessed(page) {
  await page.waitForFunction(() => {
    const el = document.querySelector('#progress');
    return el && el.dataset.running === 'false' && Number(el.dataset.total) > 0 && el.dataset.done === el.dataset.total;
  }, null, { timeout: PROCESSING_TIMEOUT, polling: 500 });
  return page.$eval('#progress', (el) => ({ done: Number(el.dataset.done), total: Number(el.dataset.total) }));
}

async function waitTiles(page, tiles, since) {
  if (skipTiles) return;
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const fresh = tiles.slice(since);
    if (fresh.some((t) => t.status === 200 && t.bytes > 100)) {
      await page.waitForFunction(() => [...document.querySelectorAll('.index-tiles img')].some((img) => img.complete && img.naturalWidth === 256));
      return;
    }
    await page.waitForTimeout(250);
  }
  throw new Error(`no index tile loaded (HTTP 200, non-empty); saw ${JSON.stringify(tiles.slice(since).slice(0, 5))}`);
}

/** Waits for the chart, and checks its canvas really has pixels of the series colour. */
async function waitChart(page) {
  await page.waitForFunction(() => Number(document.querySelector('#chart')?.dataset.points ?? 0) > 0 && document.querySelector('#chart canvas'));
  const drawn = await page.waitForFunction((rgb) => {
    const canvas = document.querySelector('#chart canvas');
    const { data } = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height);
    let series = 0;
    for (let i = 0; i < data.length; i += 4) {
      if (data[i + 3] > 200 && Math.abs(data[i] - rgb[0]) + Math.abs(data[i + 1] - rgb[1]) + Math.abs(data[i + 2] - rgb[2]) < 40) series += 1;
    }
    return series > 150 ? series : false;
  }, SERIES_RGB, { polling: 200, timeout: 10_000 }).catch(() => null);
  assert(drawn, 'the chart canvas has no pixels of the series colour');
  return page.$eval('#chart', (el) => Number(el.dataset.points));
}

/** The week keys of the week selector, oldest first, with their status and selection. */
function weekOptions(page) {
  return page.$$eval('#weeks [role=option]', (els) => els.map((el) => ({
    key: el.dataset.key, status: /status-(\w+)/.exec(el.className)[1], selected: el.getAttribute('aria-selected') === 'true', text: el.textContent,
  })));
}

/**
 * Clicks the chart at the point of week `index` (points are a week apart, edge to edge; a
 * little inside the plot, whose cursor takes the nearest point).
 */
async function clickChartPoint(page, index, count) {
  const over = await page.locator('#chart .u-over').boundingBox();
  const x = over.x + 3 + (count > 1 ? ((over.width - 6) * index) / (count - 1) : over.width / 2);
  await page.mouse.move(x, over.y + over.height / 2, { steps: 4 });
  await page.waitForTimeout(100);
  await page.mouse.click(x, over.y + over.height / 2);
}

/** Answers the dialog of dom.js ask(): `confirm` true presses its main button, else Cancel. */
async function answerDialog(page, confirm, input) {
  await page.waitForSelector('dialog.dialog[open]');
  if (input !== undefined) await page.fill('dialog.dialog input', input);
  await page.click(confirm ? 'dialog.dialog button[type=submit]' : 'dialog.dialog .btn.ghost');
  await page.waitForSelector('dialog.dialog', { state: 'detached' });
}

function toastText(page) {
  return page.evaluate(() => document.getElementById('toast')?.textContent ?? '');
}

async function waitToast(page, pattern) {
  await page.waitForFunction((source) => new RegExp(source).test(document.getElementById('toast')?.textContent ?? ''), pattern.source)
    .catch(async (error) => { throw new Error(`toast ${pattern} not shown; it says ${JSON.stringify(await toastText(page))} (${error.message})`); });
}

/** The box of `locator` once the map has stopped moving it (fitBounds animates). */
async function settled(locator) {
  let previous = null;
  for (let i = 0; i < 50; i += 1) {
    const box = await locator.boundingBox();
    if (previous && box && box.x === previous.x && box.y === previous.y) return box;
    previous = box;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the map did not settle');
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}

// ---- the tests -------------------------------------------------------------------------------

async function demoField(browser, url, lang, viewport, tag, fieldPosition = 0, checkSessions = false) {
  await scenario(browser, tag, { lang, viewport }, async ({ page, tiles }) => {
    await step(page, `${tag}-signin`, async () => {
      await page.goto(url);
      await page.waitForSelector('form.auth-form');
      await page.waitForSelector('.hint.demo >> text=demo@vivacampo.dev / vivacampo-demo');
      if (checkSessions) {
        await page.fill('input[name=email]', 'demo@vivacampo.dev');
        await page.fill('input[name=password]', 'not-the-password');
        await page.click('form.auth-form button[type=submit]');
        await page.waitForFunction(() => /Wrong email or password/.test(document.querySelector('.form-message')?.textContent ?? ''));
      }
    });
    await signIn(page, url, 'demo@vivacampo.dev', 'vivacampo-demo');
    await step(page, `${tag}-farms`, async () => {
      await page.waitForSelector('.farm-card');
      await page.waitForSelector('.farm-thumb svg');
      const text = await page.textContent('.farm-card');
      assert(/Fazenda Santa Rita/.test(text) && /3 (fields|talhões)/.test(text), `farm card: ${text}`);
    });
    await step(page, `${tag}-field`, async () => {
      await page.click('.farm-link');
      await page.waitForSelector('.field-item');
      const since = tiles.length;
      await page.locator('.field-item').nth(fieldPosition).click();
      const progress = await waitProcessed(page);
      assert(progress.total === 8, `demo field weeks: ${JSON.stringify(progress)}`);
      await waitTiles(page, tiles, since);
      await waitChart(page);
      await page.waitForTimeout(300);
    });
    if (checkSessions) {
      await step(page, `${tag}-chart-click`, async () => {
        // Clicking a point of the chart selects its week: the selector and the tiles follow.
        const weeks = await weekOptions(page);
        const target = weeks.findIndex((w) => w.status === 'OK' && !w.selected);
        assert(target >= 0, `an OK week to click: ${JSON.stringify(weeks)}`);
        const since = tiles.length;
        await clickChartPoint(page, target, weeks.length);
        await page.waitForSelector(`#weeks [data-key="${weeks[target].key}"][aria-selected=true]`);
        assert(await page.$eval('#weeks', (el, key) => el.getAttribute('aria-activedescendant') === `week-${key}`, weeks[target].key), 'the listbox names its active week');
        const week = Number(weeks[target].key.split('-W')[1]);
        await waitTiles(page, tiles, since);
        if (!skipTiles) assert(tiles.slice(since).some((t) => t.url.includes(`&week=${week}&`)), `tiles of week ${week}: ${JSON.stringify(tiles.slice(since).slice(0, 2))}`);
      });
      await step(page, `${tag}-basemap-offline`, async () => {
        // No internet: the OpenStreetMap layer fails, and the map carries on without it.
        await page.route('https://tile.openstreetmap.org/**', (route) => route.abort());
        await page.selectOption('.basemap select', 'osm');
        await page.waitForFunction(() => document.querySelector('.basemap select')?.value === 'none');
        await page.waitForFunction(() => /Base map unavailable/.test(document.getElementById('toast')?.textContent ?? ''));
      });
      await step(page, `${tag}-session-expired`, async () => {
        // The token is revoked behind the app's back (as an expiry or a sign-out elsewhere would).
        await page.evaluate(async () => {
          const { token } = JSON.parse(localStorage.getItem('vivacampo.session'));
          await fetch('/v1/auth/logout', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
        });
        await page.click('.topbar nav a[href="#/jobs"]');
        await page.waitForFunction(() => /session expired/.test(document.querySelector('.form-message')?.textContent ?? ''));
      });
    }
  });
}

async function newUserDrawsAField(browser, url) {
  const email = `agro${Date.now()}@example.com`;
  await scenario(browser, 'pt-desktop', { lang: 'pt-BR', viewport: DESKTOP, view: DRAW_VIEW }, async ({ page, tiles }) => {
    await step(page, 'pt-desktop-signup', async () => {
      await page.goto(`${url}/#/signup`);
      await page.fill('input[name=name]', 'Ana Agrônoma');
      await page.fill('input[name=email]', email);
      await page.fill('input[name=password]', 'senha-muito-boa');
      // A workspace name of spaces is about the workspace name, in words (not "geometry").
      await page.fill('input[name=workspace]', '   ');
      await page.click('form.auth-form button[type=submit]');
      await page.waitForFunction(() => /espaço de trabalho não pode ficar em branco/.test(document.querySelector('.form-message')?.textContent ?? ''));
      await page.fill('input[name=workspace]', 'Agro Boa Vista');
      await page.click('form.auth-form button[type=submit]');
      await page.waitForSelector('.farm-grid .empty');
    });
    await step(page, 'pt-desktop-farm-created', async () => {
      await page.fill('.inline-form input', 'Fazenda Boa Vista');
      await page.click('.inline-form button');
      await page.waitForSelector('#draw-field');
      await page.waitForSelector('.leaflet-container');
      const zoom = await page.$$eval('.leaflet-control-zoom a', (els) => els.map((el) => el.getAttribute('aria-label')));
      assert(zoom.join() === 'Aproximar,Afastar', `zoom buttons: ${zoom}`);
      assert(await page.textContent('.skip') === 'Pular para o conteúdo', 'skip link');
    });
    await step(page, 'pt-desktop-drawing', async () => {
      await page.click('#draw-field');
      const box = await page.locator('#map').boundingBox();
      const cx = box.x + box.width / 2;
      const cy = box.y + box.height / 2;
      const corners = [[-90, -70], [90, -80], [100, 70], [-80, 80]];
      for (const [dx, dy] of corners) {
        await page.mouse.click(cx + dx, cy + dy);
        await page.waitForTimeout(150);
      }
      await page.mouse.move(cx - 20, cy + 10);
      const area = await page.textContent('.area-box');
      assert(/ha$/.test(area.trim()), `live area while drawing: ${area}`);
      await page.mouse.click(cx + corners[0][0], cy + corners[0][1]);
      await page.waitForSelector('#save-field');
      const drafted = await page.textContent('.area-box');
      assert(/Área: \d+,\d+ ha/.test(drafted), `area of the drawn field: ${drafted}`);
    });
    await step(page, 'pt-desktop-field-processing', async () => {
      // A name of spaces is refused as a name.
      await page.fill('input[name=name]', '  ');
      await page.click('#save-field');
      await page.waitForFunction(() => /Dê um nome/.test(document.querySelector('.draft-form .form-message')?.textContent ?? ''));
      await page.fill('input[name=name]', 'Talhão Norte');
      await page.click('#save-field');
      await page.waitForSelector('#progress');
      const progress = await waitProcessed(page);
      assert(progress.total === 8 && progress.done === 8, `backfill: ${JSON.stringify(progress)}`);
      assert(/8\/8 semanas processadas/.test(await page.textContent('#progress')), 'progress text');
      await waitChart(page);
    });
    await step(page, 'pt-desktop-cloudy-week', async () => {
      // The demo imagery has clouds over this field: the week says so, with its cloud share.
      const cloudy = page.locator('#weeks .week.status-CLOUDY').first();
      assert(await cloudy.count() === 1, `a CLOUDY week: ${JSON.stringify(await weekOptions(page))}`);
      const text = await cloudy.textContent();
      assert(/Nublado ☁ \d+\s?%/.test(text), `cloudy week text: ${text}`);
      assert(await cloudy.evaluate((el) => getComputedStyle(el).borderStyle) === 'dashed', 'cloudy weeks have a dashed edge');
      await cloudy.click();
      await page.waitForFunction(() => /nublada demais para o mapa \(\d+\s?% de nuvens\)/.test(document.querySelector('.map-message')?.textContent ?? ''));
      assert(await page.locator('.index-tiles').count() === 0, 'no index layer for a cloudy week');
      // The keyboard moves the selection; focus stays on the list, which names its active week.
      await page.focus('#weeks');
      await page.keyboard.press('End');
      const last = (await weekOptions(page)).at(-1);
      assert(last.selected, 'End selects the last week');
      assert(await page.$eval('#weeks', (el) => el.getAttribute('aria-activedescendant')) === `week-${last.key}`, 'aria-activedescendant');
      assert(await page.evaluate(() => document.activeElement?.id) === 'weeks', 'focus stays on the list');
    });
    await step(page, 'pt-desktop-index-week', async () => {
      let since = tiles.length;
      await page.selectOption('#index-select', 'ndre');
      await page.waitForFunction(() => /NDRE/.test(document.querySelector('.chart-title')?.textContent ?? ''));
      await waitTiles(page, tiles, since);
      const weeks = await page.$$eval('#weeks .week.status-OK', (els) => els.map((el) => [el.dataset.key, el.getAttribute('aria-selected')]));
      const other = weeks.find(([, selected]) => selected !== 'true');
      assert(other, `another OK week to choose: ${JSON.stringify(weeks)}`);
      since = tiles.length;
      await page.click(`#weeks .week[data-key="${other[0]}"]`);
      await page.waitForSelector(`#weeks .week[data-key="${other[0]}"][aria-selected=true]`);
      await waitTiles(page, tiles, since);
      const points = await waitChart(page);
      assert(points >= 1, 'chart points');
      if (!skipTiles) assert(tiles.slice(since).every((t) => t.status === 200 || t.status === 204 || t.status === 304), `tile statuses ${JSON.stringify(tiles.slice(since))}`);
      const [csv] = await Promise.all([page.waitForEvent('download'), page.click('#download-csv')]);
      const csvText = readFileSync(await csv.path(), 'utf8');
      assert(csv.suggestedFilename() === 'talhao-norte_ndre.csv' && csvText.startsWith('index,year,week,') && csvText.trim().split('\r\n').length === 9, `CSV ${csv.suggestedFilename()}: ${csvText.slice(0, 80)}`);
      const [tif] = await Promise.all([page.waitForEvent('download'), page.click('#download-tif')]);
      const tifBytes = readFileSync(await tif.path());
      assert(tifBytes.length > 1000 && tifBytes.subarray(0, 2).toString() === 'II', `GeoTIFF of ${tifBytes.length} bytes`);
      const chart = await page.locator('#chart .u-over').boundingBox();
      await page.mouse.move(chart.x + chart.width / 2, chart.y + chart.height / 2);
      await page.waitForSelector('.chart-readout:not([hidden])');
      const readout = await page.textContent('.chart-readout');
      assert(/^Sem\. \d+ · Média \d,\d\d/.test(readout), `chart readout ${readout}`);
      await page.waitForTimeout(300);
    });
    await step(page, 'pt-desktop-retry-failed', async () => {
      // No week fails on the demo imagery, so the list of dead jobs is made up: one SUCCEEDED job
      // of the field, shown as DEAD. The server refuses to retry it (409), in words; then a
      // retry that the server accepts.
      const job = await page.evaluate(async () => {
        const { token } = JSON.parse(localStorage.getItem('vivacampo.session'));
        const aoi = location.hash.split('/fields/')[1];
        const jobs = await (await fetch(`/v1/jobs?aoi_id=${aoi}&type=PROCESS_WEEK`, { headers: { authorization: `Bearer ${token}` } })).json();
        return jobs.items[0];
      });
      await page.route('**/v1/jobs?*status=DEAD*', (route) => route.fulfill({ json: { items: [{ ...job, status: 'DEAD' }], page: 1, page_size: 50, total: 1 } }));
      await page.selectOption('#index-select', 'ndvi');
      const retry = page.locator('button >> text=Reprocessar semanas com falha (1)');
      await retry.waitFor();
      await retry.click();
      await waitToast(page, /não pode ser repetido agora/);
      await page.route(`**/v1/jobs/${job.id}/retry`, (route) => route.fulfill({ status: 202, json: { ...job, status: 'PENDING' } }));
      await retry.click();
      await waitToast(page, /Reprocessamento pedido/);
      await page.unroute('**/v1/jobs?*status=DEAD*');
      await page.unroute(`**/v1/jobs/${job.id}/retry`);
    });
    await step(page, 'pt-desktop-crosses-itself', async () => {
      await page.click('.back.linklike');
      await page.click('#draw-field');
      const box = await page.locator('#map').boundingBox();
      const x = box.x + box.width / 2;
      const y = box.y + box.height / 2 + 40;
      // A bow tie: the API refuses it and the panel says why, in words.
      for (const [dx, dy] of [[-420, -120], [-300, 60], [-300, -120], [-420, 60], [-420, -120]]) {
        await page.mouse.click(x + dx, y + dy);
        await page.waitForTimeout(150);
      }
      await page.waitForSelector('#save-field');
      await page.click('#save-field');
      await page.waitForFunction(() => /cruza a si mesmo/.test(document.querySelector('.draft-form .form-message')?.textContent ?? ''));
    });
    await step(page, 'pt-desktop-import-kml', async () => {
      await page.click('.draft-form .btn.ghost');
      await page.setInputFiles('#import-file', { name: 'talhoes.kml', mimeType: 'application/vnd.google-earth.kml+xml', buffer: Buffer.from(KML) });
      await page.waitForFunction(() => /Talhões importados: 1/.test(document.getElementById('toast')?.textContent ?? ''));
      await page.waitForSelector('.field-item >> text=Várzea Sul');
      // A name with markup is text everywhere, on the map's labels too.
      await page.waitForFunction(() => [...document.querySelectorAll('.field-label')].some((l) => l.textContent.includes('<img')));
      await page.waitForTimeout(300);
      assert(await page.evaluate(() => window.__xss === undefined), 'markup in a field name ran');
    });
    await step(page, 'pt-desktop-import-geojson', async () => {
      // A broken file is explained in Portuguese, with where it broke; a good one is imported.
      await page.setInputFiles('#import-file', { name: 'ruim.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(GEOJSON_BROKEN) });
      await waitToast(page, /^ruim\.geojson: o arquivo não é um GeoJSON válido \(erro na linha 2, coluna \d+\)\.$/);
      await page.setInputFiles('#import-file', { name: 'talhoes.geojson', mimeType: 'application/geo+json', buffer: Buffer.from(GEOJSON) });
      await waitToast(page, /Talhões importados: 1/);
      await page.waitForSelector('.field-item >> text=Talhão GeoJSON');
    });
    await step(page, 'pt-desktop-delete-field', async () => {
      await page.click('.field-item >> text=Talhão GeoJSON');
      await page.click('.danger-zone .danger-text');
      await answerDialog(page, false);
      assert(await page.textContent('.panel-title') === 'Talhão GeoJSON', 'cancel keeps the field');
      await page.click('.danger-zone .danger-text');
      assert(/Excluir o talhão "Talhão GeoJSON"\?/.test(await page.textContent('dialog.dialog')), 'the dialog names the field');
      await answerDialog(page, true);
      await page.waitForSelector('#draw-field');
      await page.waitForFunction(() => ![...document.querySelectorAll('.field-item')].some((el) => el.textContent.includes('Talhão GeoJSON')));
      assert(await page.locator('.field-item').count() === 2, 'two fields left');
    });
    await step(page, 'pt-desktop-edit-boundary', async () => {
      await page.click('.field-item >> text=Várzea Sul');
      await page.waitForSelector('#edit-field');
      const before = await page.textContent('.field-facts');
      const handles = '.leaflet-marker-icon.marker-icon:not(.marker-icon-middle)';
      async function dragCorner() {
        const corner = page.locator(handles).first();
        const box = await settled(corner);
        await page.mouse.move(box.x + box.width / 2, box.y + box.height / 2);
        await page.mouse.down();
        await page.mouse.move(box.x + box.width / 2 - 60, box.y + box.height / 2 - 40, { steps: 8 });
        await page.mouse.up();
      }
      // The selected outline's box on screen (the map does not move while editing).
      const outline = () => page.$eval('.leaflet-overlay-pane path.leaflet-interactive[stroke="#ffb703"]', (el) => {
        const r = el.getBoundingClientRect();
        return [r.x, r.y, r.width, r.height].map(Math.round);
      });
      const same = (a, b) => a.every((v, i) => Math.abs(v - b[i]) <= 1);
      // Cancel puts the saved boundary back.
      await page.click('#edit-field');
      await settled(page.locator(handles).first());
      const saved = await outline();
      await dragCorner();
      assert(!same(await outline(), saved), 'the drag moved the outline');
      await page.click('#cancel-edit');
      assert(await page.locator(handles).count() === 0, 'no handles after cancelling');
      assert(same(await outline(), saved), `cancel restores the saved boundary: ${await outline()} vs ${saved}`);
      // Leaving the panel with an edit open drops it too.
      await page.click('#edit-field');
      await dragCorner();
      await page.click('.back.linklike');
      await page.waitForSelector('#draw-field');
      assert(await page.locator(handles).count() === 0, 'no handles left on the list');
      await page.click('.field-item >> text=Várzea Sul');
      await page.click('#edit-field');
      await settled(page.locator(handles).first());
      assert(same(await outline(), saved), `leaving the panel restores the saved boundary: ${await outline()} vs ${saved}`);
      await page.click('#cancel-edit');
      // Save sends it.
      await page.click('#edit-field');
      await dragCorner();
      await page.click('#save-boundary');
      await page.waitForFunction((text) => document.querySelector('.field-facts')?.textContent !== text, before);
      await page.waitForSelector('#edit-field');
      assert(await page.locator(handles).count() === 0, 'no handles after saving');
    });
    await step(page, 'pt-desktop-jobs', async () => {
      await page.click('.topbar nav a[href="#/jobs"]');
      await page.waitForSelector('table.jobs .badge');
      // Jobs name their field, linked to it.
      await page.waitForSelector('table.jobs a[href*="/fields/"] >> text=Talhão Norte');
    });
    await step(page, 'pt-desktop-farm-rename-delete', async () => {
      await page.click('.topbar nav a[href="#/farms"]');
      await page.fill('.inline-form input', 'Fazenda Provisória');
      await page.click('.inline-form button');
      await page.waitForSelector('#draw-field');
      await page.click('.topbar nav a[href="#/farms"]');
      const card = (name) => page.locator('.farm-card', { hasText: name });
      await card('Fazenda Provisória').locator('button', { hasText: 'Renomear' }).click();
      await answerDialog(page, true, 'Fazenda Renomeada');
      await card('Fazenda Renomeada').waitFor();
      await card('Fazenda Renomeada').locator('button', { hasText: 'Excluir' }).click();
      assert(/Excluir a fazenda "Fazenda Renomeada"/.test(await page.textContent('dialog.dialog')), 'the dialog names the farm');
      await answerDialog(page, false);
      assert(await card('Fazenda Renomeada').count() === 1, 'cancel keeps the farm');
      await card('Fazenda Renomeada').locator('button', { hasText: 'Excluir' }).click();
      await answerDialog(page, true);
      // The list reloads: the deleted farm goes, the other comes back.
      await card('Fazenda Renomeada').waitFor({ state: 'detached' });
      await card('Fazenda Boa Vista').waitFor();
      assert(await card('Fazenda Renomeada').count() === 0, 'the deleted farm is gone');
    });
    await step(page, 'pt-desktop-signout', async () => {
      await page.click('.topbar .signout');
      await page.waitForSelector('form.auth-form .form-message[data-kind=info]');
    });
  });
}

async function workspaceSwitch(browser, server) {
  server.addMember('demo@vivacampo.dev', 'Agro Boa Vista', 'VIEWER');
  await scenario(browser, 'en-desktop-workspace', { lang: 'en', viewport: DESKTOP }, async ({ page }) => {
    await signIn(page, server.url, 'demo@vivacampo.dev', 'vivacampo-demo');
    await step(page, 'en-desktop-workspace-switch', async () => {
      await page.waitForSelector('.farm-card >> text=Fazenda Santa Rita');
      const options = await page.$$eval('.workspace select option', (els) => els.map((el) => el.textContent));
      assert(options.length === 2 && options.includes('Agro Boa Vista'), `workspaces: ${options}`);
      await page.selectOption('.workspace select', { label: 'Agro Boa Vista' });
      await page.waitForSelector('.farm-card >> text=Fazenda Boa Vista');
      await page.waitForSelector('.farm-thumb svg');
      // A VIEWER there: nothing to create, rename or delete.
      assert(await page.locator('.inline-form, .farm-actions').count() === 0, 'a viewer sees editing controls');
    });
  });
}

/** A tile server on loopback (plain HTTP, as on a farm's closed network): every tile one PNG. */
async function startTileServer() {
  const png = readFileSync(join(repo, 'web/vendor/leaflet/images/layers.png'));
  const hits = [];
  const server = createServer((request, response) => {
    hits.push(request.url);
    response.writeHead(200, { 'content-type': 'image/png', 'access-control-allow-origin': '*' });
    response.end(png);
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${server.address().port}`, hits, stop: () => new Promise((r) => server.close(r)) };
}

/** `vivacampo serve` with sign-up closed and the operator's own base map (plain HTTP). */
async function closedServerWithBasemap(browser) {
  const tileServer = await startTileServer();
  const server = await startServer(
    ['serve', '--signup', 'false', '--basemap', `${tileServer.url}/osm/{z}/{x}/{y}.png`],
    (admin) => admin('create-user', '--email', 'op@fazenda.lan', '--password', 'senha-do-operador', '--name', 'Operador', '--tenant', 'Fazenda Fechada'),
  );
  try {
    await scenario(browser, 'pt-phone-closed', { lang: 'pt-BR', viewport: PHONE, view: DRAW_VIEW, basemap: 'osm' }, async ({ page }) => {
      await step(page, 'pt-phone-signup-closed', async () => {
        await page.goto(server.url);
        await page.waitForSelector('form.auth-form');
        assert(await page.locator('a[href="#/signup"]').count() === 0, 'no sign-up link when sign-up is closed');
        await page.goto(`${server.url}/#/signup`);
        await page.waitForFunction(() => /cadastro está fechado/.test(document.querySelector('.form-message')?.textContent ?? ''));
        assert(await page.locator('input[name=name]').count() === 0, 'the sign-in form, not the sign-up one');
      });
      await signIn(page, server.url, 'op@fazenda.lan', 'senha-do-operador');
      await step(page, 'pt-phone-server-basemap', async () => {
        await page.fill('.inline-form input', 'Fazenda do Operador');
        await page.click('.inline-form button');
        await page.waitForSelector('.leaflet-container');
        // The page allowed the plain-HTTP origin (no CSP refusal in the console) and the tiles drew.
        await page.waitForFunction(() => [...document.querySelectorAll('.basemap-tiles img')].some((img) => img.complete && img.naturalWidth > 0));
        assert(tileServer.hits.some((u) => /^\/osm\/\d+\/\d+\/\d+\.png$/.test(u)), `tile requests: ${tileServer.hits.slice(0, 3)}`);
        assert(await page.$eval('.basemap select option[value=osm]', (el) => el.textContent) === 'Mapa do servidor', 'the option names the server map');
      });
    });
  } finally {
    await server.stop();
    await tileServer.stop();
  }
}

const started = Date.now();
// The browser first: if it cannot start, no server is left running behind the failure. The
// network flags keep Chromium from calling Google's services, which this closed network refuses.
const browser = await chromium.launch({
  executablePath: chromiumPath,
  args: ['--no-sandbox', '--disable-dev-shm-usage', '--disable-gpu', '--disable-quic', '--no-first-run',
    '--disable-background-networking', '--disable-component-update', '--disable-sync'],
});
const server = await startServer().catch(async (error) => {
  await browser.close();
  throw error;
});
let failed = false;
try {
  await newUserDrawsAField(browser, server.url);
  await demoField(browser, server.url, 'en', DESKTOP, 'en-desktop', 1, true);
  await demoField(browser, server.url, 'pt-BR', PHONE, 'pt-phone', 1);
  await demoField(browser, server.url, 'en', PHONE, 'en-phone');
  await demoField(browser, server.url, 'pt-BR', DESKTOP, 'pt-desktop-demo');
  await workspaceSwitch(browser, server);
  await closedServerWithBasemap(browser);
} catch {
  failed = true;
} finally {
  await browser.close();
  await server.stop();
}
console.log(`${results.filter((r) => r.ok).length}/${results.length} steps passed in ${((Date.now() - started) / 1000).toFixed(0)} s; screenshots in ${shots}`);
process.exit(failed ? 1 : 0);
