import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  actionBody, allowedActions, evidenceColumns, evidenceIndex, healthOf, isOpen, newestFirst, previousSeason, sceneIds, signalOverlay, signalQuery,
} from '../../src/app/signals.js';

// A signal as GET /v1/signals/{id} answers it (API.md; evidence as vivacampo-core's Evidence).
const signal = {
  id: 's1', aoi_id: 'a1', farm_id: 'f1', type: 'RAPID_DECLINE', severity: 'HIGH', status: 'OPEN', year: 2026, week: 9,
  evidence: {
    index: 'ndvi',
    weeks: [
      { year: 2026, week: 7, status: 'OK', ndvi: 0.71, expected: 0.7, band_low: 0.6, scene_ids: ['S2A_1'] },
      { year: 2026, week: 8, status: 'CLOUDY', ndvi: null, expected: 0.72, band_low: 0.62, scene_ids: [] },
      { year: 2026, week: 9, status: 'OK', ndvi: 0.45, expected: 0.73, band_low: 0.63, scene_ids: ['S2B_2', 'S2A_1'] },
    ],
    scene_ids: ['S2A_1', 'S2B_2'],
  },
};

test('the inbox filters become the query, empty ones left out and values encoded', () => {
  assert.equal(signalQuery({}), '');
  assert.equal(signalQuery({ farm: 'f1', type: '', status: 'OPEN' }), '&farm_id=f1&status=OPEN');
  assert.equal(signalQuery({ type: 'LOW_VIGOR', aoi: 'a b' }), '&aoi_id=a%20b&type=LOW_VIGOR');
});

test('signals are listed newest first: by week, then by last change', () => {
  const list = [
    { id: 'old', year: 2025, week: 50, updated_at: '2026-01-01T00:00:00Z' },
    { id: 'new', year: 2026, week: 3, updated_at: '2026-01-20T00:00:00Z' },
    { id: 'same-week-later', year: 2026, week: 3, updated_at: '2026-01-21T00:00:00Z' },
  ];
  assert.deepEqual(newestFirst(list).map((s) => s.id), ['same-week-later', 'new', 'old']);
  assert.deepEqual(newestFirst(null), []);
});

test('the health badge is read from the AOI view, and only its three words', () => {
  assert.equal(healthOf({ health: { status: 'ALERT', open_signals: 2 } }), 'ALERT');
  assert.equal(healthOf({ health: { status: 'OK', open_signals: 0 } }), 'OK');
  assert.equal(healthOf({}), null);
  assert.equal(healthOf({ health: { status: 'BROKEN' } }), null);
});

test('VIEWERs acknowledge; OPERATORs and administrators also resolve and dismiss open signals', () => {
  assert.deepEqual(allowedActions('VIEWER', 'OPEN'), { ack: true, resolve: false, dismiss: false });
  assert.deepEqual(allowedActions('OPERATOR', 'OPEN'), { ack: true, resolve: true, dismiss: true });
  assert.deepEqual(allowedActions('TENANT_ADMIN', 'ACK'), { ack: false, resolve: true, dismiss: true });
  assert.deepEqual(allowedActions('VIEWER', 'ACK'), { ack: false, resolve: false, dismiss: false });
  assert.deepEqual(allowedActions('OPERATOR', 'RESOLVED'), { ack: false, resolve: false, dismiss: false });
  assert.deepEqual(allowedActions(null, 'OPEN'), { ack: false, resolve: false, dismiss: false });
  assert.equal(isOpen('ACK'), true);
  assert.equal(isOpen('DISMISSED'), false);
});

test('an action sends the note only when written and `useful` only when answered', () => {
  assert.deepEqual(actionBody('', null), {});
  assert.deepEqual(actionBody('  visited, pest  ', true), { note: 'visited, pest', useful: true });
  assert.deepEqual(actionBody(undefined, false), { useful: false });
});

test('the evidence becomes chart columns on the chart\'s weeks: marks and the baseline band', () => {
  const keys = ['2026-W06', '2026-W07', '2026-W08', '2026-W09', '2026-W10'];
  const columns = evidenceColumns(signal, keys);
  assert.deepEqual(columns.marked, [false, true, true, true, false]);
  assert.deepEqual(columns.expected, [null, 0.7, 0.72, 0.73, null]);
  assert.deepEqual(columns.low, [null, 0.6, 0.62, 0.63, null]);
  assert.deepEqual(evidenceColumns(null, keys).marked, [false, false, false, false, false]);
});

test('on another index the chart marks the evidence weeks but draws no band', () => {
  assert.equal(signalOverlay(signal, 'ndvi'), signal);
  const other = signalOverlay(signal, 'ndmi');
  assert.deepEqual(evidenceColumns(other, ['2026-W07', '2026-W09']), { marked: [true, true], expected: [null, null], low: [null, null] });
  assert.equal(signalOverlay(null, 'ndvi'), null);
  assert.equal(evidenceIndex(signal), 'ndvi');
  assert.equal(evidenceIndex({ evidence: { index: 'none' } }), null);
});

test('scene ids come from the evidence, else from its weeks, without repeats', () => {
  assert.deepEqual(sceneIds(signal), ['S2A_1', 'S2B_2']);
  assert.deepEqual(sceneIds({ evidence: { weeks: signal.evidence.weeks } }), ['S2A_1', 'S2B_2']);
  assert.deepEqual(sceneIds({}), []);
});

test('last season\'s curve is keyed by this season\'s weeks', () => {
  // GET /v1/aois/{id}/history?compare=previous_season (routes/weeks.rs ComparePoint).
  const history = { points: [], previous_season: [
    { year: 2026, week: 1, previous_year: 2025, previous_week: 1, previous_week_start: '2024-12-30', status: 'OK', mean: 0.45 },
    { year: 2026, week: 2, previous_year: 2025, previous_week: 2, previous_week_start: '2025-01-06', status: 'CLOUDY', mean: null },
    { year: 2026, week: 3, previous_year: 2025, previous_week: 3, previous_week_start: '2025-01-13', status: null, mean: null },
  ] };
  assert.deepEqual([...previousSeason(history)], [['2026-W01', 0.45]]);
  assert.equal(previousSeason({ points: [{ year: 2026, week: 1, mean: 0.5 }] }).size, 0);
  assert.equal(previousSeason(null).size, 0);
});
