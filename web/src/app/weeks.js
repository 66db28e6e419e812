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
 * Processing progress from the field's latest BACKFILL job and its weeks: `{done, total, running}`.
 * The job knows how many weeks it fans out; without a job the recorded weeks are all there is.
 */
export function processingProgress(backfillJob, weeks, pendingJobs = 0) {
  const recorded = weeks.length;
  if (!backfillJob) return { done: recorded, total: recorded, running: pendingJobs > 0 };
  const total = Math.max(backfillJob.progress?.total ?? 0, 0);
  const done = Math.min(Math.max(backfillJob.progress?.done ?? 0, recorded), total || recorded);
  const finished = ['SUCCEEDED', 'DEAD', 'CANCELLED'].includes(backfillJob.status);
  return {
    done,
    total: total || recorded,
    running: pendingJobs > 0 || !finished || done < total,
  };
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
