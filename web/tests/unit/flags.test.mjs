import { test } from 'node:test';
import assert from 'node:assert/strict';
import { flagOn, visibleParts } from '../../src/app/flags.js';

test('unknown flags count as on', () => {
  assert.equal(flagOn(null, 'weather'), true);
  assert.equal(flagOn({}, 'weather'), true);
  assert.deepEqual(visibleParts(null), { indexLayer: true, retry: true, weather: true, rasterDownload: true, signals: true, webhooks: true, email: true });
});

test('a flag turned off hides its part, and only it', () => {
  assert.equal(flagOn({ weather: false }, 'weather'), false);
  assert.equal(flagOn({ weather: true }, 'weather'), true);
  assert.deepEqual(visibleParts({ tiles: true, weather: false, backfill: true, raster_download: true }),
    { indexLayer: true, retry: true, weather: false, rasterDownload: true, signals: true, webhooks: true, email: true });
  assert.deepEqual(visibleParts({ tiles: false, weather: true, backfill: false, raster_download: false }),
    { indexLayer: false, retry: false, weather: true, rasterDownload: false, signals: true, webhooks: true, email: true });
  assert.equal(visibleParts({ signals: false }).signals, false);
  assert.equal(visibleParts({ signals: false }).weather, true);
});
