import { test } from 'node:test';
import assert from 'node:assert/strict';
import { csvFileName, historyCsv } from '../../src/app/csv.js';

test('one row per week with empty cells for missing statistics', () => {
  const csv = historyCsv('ndvi', [
    { year: 2026, week: 9, week_start: '2026-02-23', status: 'OK', scene_datetime: '2026-02-25T13:20:00Z', valid_pixel_ratio: 0.98, mean: 0.7123456789, std: 0.05, min: 0.2, max: 0.9, p10: 0.6, p50: 0.71, p90: 0.8, baseline: 0.65, anomaly: 0.0623 },
    { year: 2026, week: 10, week_start: '2026-03-02', status: 'CLOUDY', scene_datetime: null, valid_pixel_ratio: 0.1, mean: null },
  ]);
  const lines = csv.split('\r\n');
  assert.equal(lines[0], 'index,year,week,week_start,status,scene_datetime,valid_pixel_ratio,mean,std,min,max,p10,p50,p90,baseline,anomaly');
  assert.equal(lines[1], 'ndvi,2026,9,2026-02-23,OK,2026-02-25T13:20:00Z,0.98,0.712346,0.05,0.2,0.9,0.6,0.71,0.8,0.65,0.0623');
  assert.equal(lines[2], 'ndvi,2026,10,2026-03-02,CLOUDY,,0.1,,,,,,,,,');
  assert.equal(lines[3], '');
});

test('file names are plain ASCII', () => {
  assert.equal(csvFileName('Pivô Central 1', 'ndvi'), 'pivo-central-1_ndvi.csv');
  assert.equal(csvFileName('***', 'evi'), 'field_evi.csv');
});
