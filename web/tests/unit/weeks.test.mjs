import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartColumns, defaultWeek, hasRadarMap, processingProgress, radarFill, seasonalBaseline, sortWeeks, stepWeek, weekKey, weekTicks, withoutCoverage } from '../../src/app/weeks.js';

const items = [
  { year: 2026, week: 10, week_start: '2026-03-02', status: 'CLOUDY' },
  { year: 2025, week: 52, week_start: '2025-12-22', status: 'OK' },
  { year: 2026, week: 1, week_start: '2025-12-29', status: 'OK' },
  { year: 2026, week: 9, week_start: '2026-02-23', status: 'NO_DATA' },
];

test('weeks sort across the year boundary and only OK weeks have a map', () => {
  const weeks = sortWeeks(items);
  assert.deepEqual(weeks.map((w) => w.key), ['2025-W52', '2026-W01', '2026-W09', '2026-W10']);
  assert.deepEqual(weeks.map((w) => w.viewable), [true, true, false, false]);
});

test('the default week is the latest OK one, and a current choice is kept', () => {
  const weeks = sortWeeks(items);
  assert.equal(defaultWeek(weeks, null), '2026-W01');
  assert.equal(defaultWeek(weeks, '2026-W09'), '2026-W09');
  assert.equal(defaultWeek(weeks, '2024-W01'), '2026-W01');
  assert.equal(defaultWeek(sortWeeks([items[0]]), null), '2026-W10');
  assert.equal(defaultWeek([], null), null);
});

test('stepping stays within the weeks', () => {
  const weeks = sortWeeks(items);
  assert.equal(stepWeek(weeks, '2026-W01', -1), '2025-W52');
  assert.equal(stepWeek(weeks, '2025-W52', -1), '2025-W52');
  assert.equal(stepWeek(weeks, '2026-W10', 1), '2026-W10');
  assert.equal(weekKey(2026, 3), '2026-W03');
});

test('progress follows the backfill job and the recorded weeks', () => {
  const weeks = sortWeeks(items);
  assert.deepEqual(processingProgress({ status: 'RUNNING', progress: { done: 3, total: 8 } }, weeks), { done: 3, total: 8, running: true });
  // Ended with weeks missing (dead ones): what is shown is what was done.
  assert.deepEqual(processingProgress({ status: 'DEAD', progress: { done: 4, total: 8 } }, weeks), { done: 4, total: 8, running: false });
  // Every week ended, some DEAD: the backfill is FAILED and will retry them; done is what was done.
  assert.deepEqual(processingProgress({ status: 'FAILED', progress: { done: 8, total: 8 } }, weeks, 1), { done: 4, total: 8, running: true });
  assert.deepEqual(processingProgress(null, weeks, 0), { done: 4, total: 4, running: false });
  assert.deepEqual(processingProgress(null, [], 1), { done: 0, total: 0, running: true });
  assert.equal(processingProgress({ status: 'SUCCEEDED', progress: { done: 8, total: 8 } }, weeks, 2).running, true);
});

test('chart columns are oldest first with nulls for missing statistics', () => {
  const { keys, data } = chartColumns([
    { year: 2026, week: 2, week_start: '2026-01-05', mean: 0.5, p10: 0.4, p90: 0.6, baseline: 0.45 },
    { year: 2026, week: 1, week_start: '2025-12-29', mean: null, p10: null, p90: null, baseline: null },
  ]);
  assert.deepEqual(keys, ['2026-W01', '2026-W02']);
  assert.deepEqual(data[0], [Date.UTC(2025, 11, 29) / 1000, Date.UTC(2026, 0, 5) / 1000]);
  assert.deepEqual(data.slice(1), [[null, 0.4], [null, 0.6], [null, 0.5], [null, 0.45]]);
});

test('a small refresh counts against every week the field shows, not its own 2', () => {
  const eight = Array.from({ length: 8 }, (_, i) => ({ key: `2026-W${10 + i}`, status: 'OK' }));
  assert.deepEqual(processingProgress({ status: 'RUNNING', progress: { done: 0, total: 2 } }, eight), { done: 6, total: 8, running: true });
  assert.deepEqual(processingProgress({ status: 'SUCCEEDED', progress: { done: 2, total: 2 } }, eight), { done: 8, total: 8, running: false });
});

test('a field no scene covers is said once, after processing', () => {
  const none = [{ status: 'NO_DATA' }, { status: 'NO_DATA' }];
  assert.equal(withoutCoverage(none, { running: false }), true);
  assert.equal(withoutCoverage(none, { running: true }), false);
  assert.equal(withoutCoverage([...none, { status: 'CLOUDY' }], { running: false }), false);
  assert.equal(withoutCoverage([], { running: false }), false);
});

test('the baseline shows only where an earlier season has the same week', () => {
  const points = seasonalBaseline([
    { year: 2025, week: 10, mean: 0.6, baseline: 0.5, anomaly: 0.1 },
    { year: 2026, week: 9, mean: 0.4, baseline: 0.3, anomaly: 0.1 },
    { year: 2026, week: 10, mean: 0.7, baseline: 0.6, anomaly: 0.1 },
  ]);
  assert.deepEqual(points.map((p) => [p.baseline, p.anomaly]), [[null, null], [null, null], [0.6, 0.1]]);
});

test('chart ticks sit on weeks, thinned to fit, always keeping the newest', () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8];
  assert.deepEqual(weekTicks(xs, 600), xs);
  assert.deepEqual(weekTicks(xs, 224), [2, 4, 6, 8]);
  assert.deepEqual(weekTicks([], 300), []);
});

test('cloudy weeks with radar get a radar point; clear, no-data and radar-less weeks do not', () => {
  const optical = [
    { year: 2026, week: 9, status: 'OK', mean: 0.7 },
    { year: 2026, week: 10, status: 'CLOUDY', mean: null },
    { year: 2026, week: 11, status: 'CLOUDY', mean: null },
    { year: 2026, week: 12, status: 'NO_DATA', mean: null },
    { year: 2026, week: 13, status: 'CLOUDY', mean: null },
  ];
  const rvi = [
    { year: 2026, week: 9, status: 'OK', mean: 0.8 },
    { year: 2026, week: 10, status: 'OK', mean: 0.62 },
    { year: 2026, week: 11, status: 'NO_DATA', mean: null },
    { year: 2026, week: 12, status: 'OK', mean: 0.5 },
  ];
  const fill = radarFill(optical, rvi);
  assert.deepEqual([...fill], [['2026-W10', 0.62]]);
  assert.equal(radarFill(optical, undefined).size, 0);
  assert.equal(radarFill(undefined, rvi).size, 0);
});

test('a week has a radar map when its radar week is OK and the file is kept', () => {
  assert.equal(hasRadarMap({ status: 'CLOUDY', radar: { status: 'OK', has_raster: true } }), true);
  assert.equal(hasRadarMap({ status: 'OK', radar: { status: 'OK', has_raster: false } }), false);
  assert.equal(hasRadarMap({ status: 'OK', radar: { status: 'NO_DATA', has_raster: false } }), false);
  assert.equal(hasRadarMap({ status: 'OK', radar: null }), false);
  assert.equal(hasRadarMap(undefined), false);
});
