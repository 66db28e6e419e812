import { test } from 'node:test';
import assert from 'node:assert/strict';
import { chartColumns, defaultWeek, processingProgress, sortWeeks, stepWeek, weekKey } from '../../src/app/weeks.js';

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
  assert.deepEqual(processingProgress({ status: 'RUNNING', progress: { done: 3, total: 8 } }, weeks), { done: 4, total: 8, running: true });
  assert.deepEqual(processingProgress({ status: 'SUCCEEDED', progress: { done: 8, total: 8 } }, weeks), { done: 8, total: 8, running: false });
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
