// Signals in the app (API.md "Signals and notifications"): what the inbox filters on, who may
// do what with a signal, the field's health badge, and the evidence and last season's curve as
// chart columns. Pure functions: the screens are in inbox.js and farm.js.

import { weekKey } from './weeks.js';

export const SIGNAL_TYPES = ['LOW_VIGOR', 'RAPID_DECLINE', 'PERSISTENT_ANOMALY', 'WATER_STRESS', 'NO_RECENT_DATA', 'PASTURE_DEGRADATION', 'HARVEST_DETECTED'];
export const SIGNAL_STATUSES = ['OPEN', 'ACK', 'RESOLVED', 'DISMISSED'];
export const SEVERITIES = ['LOW', 'MEDIUM', 'HIGH'];
export const HEALTH_STATUSES = ['OK', 'WATCH', 'ALERT'];
export const NOTIFY_MODES = ['off', 'instant', 'daily'];
export const WEBHOOK_EVENTS = ['signal.opened', 'signal.resolved', 'job.dead'];

// Field outlines on the map by health (≥ 3:1 on the light base maps, as FIELD_STYLE in farm.js).
export const HEALTH_COLORS = { OK: '#14532d', WATCH: '#a16207', ALERT: '#b91c1c' };

/** The query string of the inbox's filters (`&farm_id=…&type=…&status=…`), empty ones left out. */
export function signalQuery(filters = {}) {
  const keys = { farm: 'farm_id', aoi: 'aoi_id', type: 'type', status: 'status', severity: 'severity' };
  return Object.entries(keys)
    .filter(([key]) => filters[key])
    .map(([key, param]) => `&${param}=${encodeURIComponent(filters[key])}`)
    .join('');
}

/** Signals newest first (by the week they speak of, then by their last change). */
export function newestFirst(signals) {
  return [...(signals ?? [])].sort((a, b) => (b.year - a.year) || (b.week - a.week)
    || String(b.updated_at ?? b.created_at ?? '').localeCompare(String(a.updated_at ?? a.created_at ?? '')));
}

/** A field's health badge word (OK, WATCH, ALERT), or null when the server does not say. */
export function healthOf(aoi) {
  const status = aoi?.health?.status;
  return HEALTH_STATUSES.includes(status) ? status : null;
}

/**
 * What `role` may do with a signal in `status`: anyone may acknowledge an OPEN signal (VIEWERs
 * too); OPERATORs and administrators resolve or dismiss an open (OPEN or ACK) one.
 */
export function allowedActions(role, status) {
  const open = status === 'OPEN' || status === 'ACK';
  const operator = role === 'OPERATOR' || role === 'TENANT_ADMIN';
  return {
    ack: Boolean(role) && status === 'OPEN',
    resolve: operator && open,
    dismiss: operator && open,
  };
}

/** The body of an ack/resolve/dismiss: the note when one was written, `useful` when answered. */
export function actionBody(note, useful) {
  const body = {};
  const text = (note ?? '').trim();
  if (text) body.note = text;
  if (useful === true || useful === false) body.useful = useful;
  return body;
}

/** The index the signal's evidence is about, when the chart can show it (ndvi, ndmi, bsi). */
export function evidenceIndex(signal) {
  const index = signal?.evidence?.index;
  return ['ndvi', 'ndmi', 'bsi'].includes(index) ? index : null;
}

/**
 * The signal's evidence as chart columns for the weeks `keys` ("2026-W09", the chart's order):
 * `marked` (true for the weeks it rests on), `expected` and `low` (the baseline band where the
 * evidence has one: the expected value and the lowest normal one).
 */
export function evidenceColumns(signal, keys) {
  const weeks = new Map((signal?.evidence?.weeks ?? []).map((w) => [weekKey(w.year, w.week), w]));
  const num = (v) => (typeof v === 'number' && Number.isFinite(v) ? v : null);
  return {
    marked: keys.map((k) => weeks.has(k)),
    expected: keys.map((k) => num(weeks.get(k)?.expected)),
    low: keys.map((k) => num(weeks.get(k)?.band_low)),
  };
}

/** The evidence's scene ids: its own list, else those of its weeks, without repeats. */
export function sceneIds(signal) {
  const evidence = signal?.evidence ?? {};
  const ids = evidence.scene_ids?.length ? evidence.scene_ids : (evidence.weeks ?? []).flatMap((w) => w.scene_ids ?? []);
  return [...new Set(ids)];
}

/**
 * Last season's values by this season's week key ("2026-W09" → 0.61), from a history answered
 * with `compare=previous_season`: `previous_season` has one item per point, each with the week
 * of this series it aligns to (`year`, `week`) and the earlier week's `mean` (null unless OK).
 */
export function previousSeason(history) {
  const out = new Map();
  for (const p of Array.isArray(history?.previous_season) ? history.previous_season : []) {
    if (typeof p.mean === 'number' && Number.isFinite(p.mean)) out.set(weekKey(p.year, p.week), p.mean);
  }
  return out;
}

/** Whether a signal in `status` is still open (OPEN or ACK: it follows the field). */
export function isOpen(status) {
  return status === 'OPEN' || status === 'ACK';
}

/**
 * What the chart draws of `signal` while it shows `index`: the whole evidence on the evidence's
 * own index; on another index only its weeks (its baseline band is in another unit).
 */
export function signalOverlay(signal, index) {
  if (!signal?.evidence) return null;
  if (signal.evidence.index === index) return signal;
  return { ...signal, evidence: { ...signal.evidence, weeks: (signal.evidence.weeks ?? []).map((w) => ({ year: w.year, week: w.week })) } };
}
