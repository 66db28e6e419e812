import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ATTRIBUTION, alignWeeks, lastDays, nextDays, total, weatherCsv } from '../../src/app/weather.js';

const week = (year, wk, precip, balance) => ({ year, week: wk, precip_mm: precip, water_balance_mm: balance });

test('weekly rain and balance follow the index weeks, missing weeks and days stay null', () => {
  const points = [{ year: 2025, week: 52 }, { year: 2026, week: 1 }, { year: 2026, week: 2 }, { year: 2026, week: 3 }];
  const weeks = [week(2026, 1, 12.5, 2), week(2025, 52, 3, -2), week(2026, 2, null, null)];
  assert.deepEqual(alignWeeks(points, weeks), { rain: [3, 12.5, null, null], balance: [-2, 2, null, null] });
  assert.deepEqual(alignWeeks(points, undefined), { rain: [null, null, null, null], balance: [null, null, null, null] });
});

test('the last and next seven days around today', () => {
  const days = Array.from({ length: 20 }, (_, i) => ({ date: `2026-12-${String(i + 1).padStart(2, '0')}`, precip_mm: i }));
  assert.deepEqual(lastDays(days, '2026-12-10').map((d) => d.date), ['2026-12-04', '2026-12-05', '2026-12-06', '2026-12-07', '2026-12-08', '2026-12-09', '2026-12-10']);
  assert.deepEqual(nextDays(days, '2026-12-10').map((d) => d.precip_mm), [9, 10, 11, 12, 13, 14, 15]);
  assert.equal(total(lastDays(days, '2026-12-03'), 'precip_mm'), 3);
  assert.equal(total([{ precip_mm: 1 }, { precip_mm: null }], 'precip_mm'), null, 'a missing day is not a dry day');
  assert.equal(total([], 'precip_mm'), null);
});

test('the weather CSV ends with the Open-Meteo credit', () => {
  const csv = weatherCsv([{ year: 2026, week: 1, week_start: '2025-12-29', precip_mm: 12.5, et0_mm: 10.5, water_balance_mm: 2, gdd: 32, t_min: 20, t_max: 33, t_mean: 26, days: 2 },
    { year: 2026, week: 2, week_start: '2026-01-05', precip_mm: null, et0_mm: 3.5, water_balance_mm: null, gdd: 13, t_min: 18, t_max: 28, t_mean: 23, days: 1 }]);
  const lines = csv.split('\r\n');
  assert.equal(lines[0], 'year,week,week_start,precip_mm,et0_mm,water_balance_mm,gdd,t_min,t_max,t_mean,days');
  assert.equal(lines[1], '2026,1,2025-12-29,12.5,10.5,2,32,20,33,26,2');
  assert.equal(lines[2], '2026,2,2026-01-05,,3.5,,13,18,28,23,1');
  assert.equal(lines[3], `"${ATTRIBUTION} https://open-meteo.com/"`);
  assert.equal(ATTRIBUTION, 'Weather data by Open-Meteo.com (CC BY 4.0)');
});
