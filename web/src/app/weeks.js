// Week handling for the field panel: which weeks exist and how they are marked, which one is
// selected by default, and how far the field's processing has come.

export const WEEK_STATUSES = ['OK', 'CLOUDY', 'NO_DATA'];

/** A stable key for a week: "2026-W09". */
export function weekKey(year, week) {
  return `${year}-W${String(week).padStart(2, '0')}`;
}

/** Weeks of `/weeks` items, oldest first, each with its key and whether it has a map to show. */
export function sortWeeks(items) {
  return [...items]
    .sort((a, b) => a.year - b.year || a.week - b.week)
    .map((item) => ({ ...item, key: weekKey(item.year, item.week), viewable: item.status === 'OK' }));
}

/**
 * The week to show: the current choice while it still exists, else the latest OK week, else the
 * latest week of any status, else null.
 */
export function defaultWeek(weeks, currentKey) {
  if (currentKey && weeks.some((w) => w.key === currentKey)) return currentKey;
  const ok = weeks.filter((w) => w.viewable);
  const pick = ok.at(-1) ?? weeks.at(-1);
  return pick ? pick.key : null;
}

/** The week `step` places before (-1) or after (+1) `key`, staying at the ends. */
export function stepWeek(weeks, key, step) {
  const i = weeks.findIndex((w) => w.key === key);
  if (i < 0) return weeks.at(-1)?.key ?? null;
  return weeks[Math.max(0, Math.min(weeks.length - 1, i + step))].key;
}

/**
 * Processing progress of the field's weeks from its latest BACKFILL job and the recorded weeks:
 * `{done, total, running}`. It counts every week the field shows, not the latest job alone: a
 * daily refresh of 2 of 8 weeks reads 6/8 while it runs and 8/8 after, never 2/2.
 */
export function processingProgress(backfillJob, weeks, pendingJobs = 0) {
  const recorded = weeks.length;
  if (!backfillJob) return { done: recorded, total: recorded, running: pendingJobs > 0 };
  const jobTotal = Math.max(backfillJob.progress?.total ?? 0, 0);
  const jobDone = Math.min(Math.max(backfillJob.progress?.done ?? 0, 0), jobTotal);
  const finished = ['SUCCEEDED', 'DEAD', 'CANCELLED'].includes(backfillJob.status);
  // A parent job ends only after its last week (dead ones included): ended is not running.
  const running = pendingJobs > 0 || !finished;
  const total = Math.max(recorded, jobTotal);
  // Once it ended, or while it waits to retry its dead weeks (FAILED), the weeks shown are what
  // was done (a dead week is missing from them).
  const settled = !running || backfillJob.status === 'FAILED';
  const done = settled ? recorded : Math.max(jobDone, recorded - (jobTotal - jobDone));
  return { done: Math.min(Math.max(done, 0), total), total, running };
}

/**
 * True when the field's processing has ended and no week has a scene (every week NO_DATA): no
 * imagery of the selected source covers the field, which is said once instead of per week.
 */
export function withoutCoverage(weeks, progress) {
  return !progress.running && weeks.length > 0 && weeks.every((w) => w.status === 'NO_DATA');
}

/**
 * The points with the baseline (and anomaly) only where it is the season's normal: the same
 * week of an earlier season of this field has a mean. Elsewhere there is no history to
 * compare with, and the line and the CSV leave it out.
 */
export function seasonalBaseline(points) {
  const seen = new Map();
  for (const p of points) {
    if (p.mean === null || p.mean === undefined) continue;
    seen.set(p.week, Math.min(seen.get(p.week) ?? Infinity, p.year));
  }
  return points.map((p) => (seen.has(p.week) && seen.get(p.week) < p.year ? p : { ...p, baseline: null, anomaly: null }));
}

/**
 * The chart's x ticks: the Mondays of the weeks (seconds), every `step`-th one so that ticks
 * stay at least `minPx` apart on a plot `width` pixels wide.
 */
export function weekTicks(xs, width, minPx = 56) {
  if (xs.length === 0) return [];
  const step = Math.max(1, Math.ceil((xs.length * minPx) / Math.max(width, 1)));
  return xs.filter((_, i) => (xs.length - 1 - i) % step === 0);
}

/** History points keyed by week, for the chart and the CSV. */
export function pointsByWeek(points) {
  return new Map(points.map((p) => [weekKey(p.year, p.week), p]));
}

/** Seconds since the epoch of a week's Monday (the chart's x). */
export function weekStartSeconds(weekStart) {
  return Date.parse(`${weekStart}T00:00:00Z`) / 1000;
}

/** The chart's columns: x, p10, p90, mean, baseline (null where a week has no statistic). */
export function chartColumns(points) {
  const sorted = [...points].sort((a, b) => a.year - b.year || a.week - b.week);
  return {
    keys: sorted.map((p) => weekKey(p.year, p.week)),
    data: [
      sorted.map((p) => weekStartSeconds(p.week_start)),
      sorted.map((p) => p.p10 ?? null),
      sorted.map((p) => p.p90 ?? null),
      sorted.map((p) => p.mean ?? null),
      sorted.map((p) => p.baseline ?? null),
    ],
  };
}

/**
 * Radar points for the optical chart: the radar series' mean (`radarPoints`, e.g. RVI's history)
 * of each week whose optical point is CLOUDY and whose radar week is OK, by week key.
 */
export function radarFill(points, radarPoints) {
  const cloudy = new Set((points ?? []).filter((p) => p.status === 'CLOUDY').map((p) => weekKey(p.year, p.week)));
  const fill = new Map();
  for (const r of radarPoints ?? []) {
    const key = weekKey(r.year, r.week);
    if (r.status === 'OK' && r.mean !== null && r.mean !== undefined && cloudy.has(key)) fill.set(key, r.mean);
  }
  return fill;
}

/** Whether a week has a radar map: its radar week is OK and its radar COG is still stored. */
export function hasRadarMap(week) {
  return week?.radar?.status === 'OK' && week.radar.has_raster !== false;
}
