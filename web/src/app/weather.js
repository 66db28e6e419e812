// The field's weather: weekly rain and water balance aligned to the index chart's weeks, the
// last 7 days and the 7-day forecast, season totals, and the Open-Meteo credit (CC BY 4.0).
// Missing values stay missing (shown as "–"), never 0.

import { request } from './api.js';
import { weekKey } from './weeks.js';

export const ATTRIBUTION = 'Weather data by Open-Meteo.com (CC BY 4.0)';
export const ATTRIBUTION_URL = 'https://open-meteo.com/';

/** The weekly weather from the first index week's Monday to today, and the forecast. */
export async function loadWeather(aoiId, points) {
  const first = points[0]?.week_start;
  const from = first ? `&from=${first}` : '';
  const [weekly, daily, forecast] = await Promise.all([
    request('GET', `/v1/aois/${aoiId}/weather?step=week${from}`),
    request('GET', `/v1/aois/${aoiId}/weather?step=day&from=${isoDate(addDays(new Date(), -7))}`),
    request('GET', `/v1/aois/${aoiId}/weather/forecast`),
  ]);
  return { weekly, daily, forecast };
}

function addDays(date, n) {
  return new Date(date.getTime() + n * 86_400_000);
}

function isoDate(date) {
  return date.toISOString().slice(0, 10);
}

/**
 * Weekly rain (mm) and water balance (mm) for each index point, in the points' order (null
 * where the week has no weather or a missing day).
 */
export function alignWeeks(points, weeks) {
  const byKey = new Map((weeks ?? []).map((w) => [weekKey(w.year, w.week), w]));
  const rain = [];
  const balance = [];
  for (const p of points) {
    const w = byKey.get(weekKey(p.year, p.week));
    rain.push(w?.precip_mm ?? null);
    balance.push(w?.water_balance_mm ?? null);
  }
  return { rain, balance };
}

/** The last `n` days up to `today` (YYYY-MM-DD), oldest first. */
export function lastDays(days, today, n = 7) {
  return (days ?? []).filter((d) => d.date <= today).slice(-n);
}

/** The first `n` forecast days from `today`. */
export function nextDays(days, today, n = 7) {
  return (days ?? []).filter((d) => d.date >= today).slice(0, n);
}

/** Sum of a day field, null if any day lacks it or there are none. */
export function total(days, field) {
  if (!days?.length || days.some((d) => d[field] === null || d[field] === undefined)) return null;
  return days.reduce((s, d) => s + d[field], 0);
}

/** Weekly weather as CSV (dot decimals, CRLF), ending with the data credit. */
export function weatherCsv(weeks) {
  const columns = ['year', 'week', 'week_start', 'precip_mm', 'et0_mm', 'water_balance_mm', 'gdd', 't_min', 't_max', 't_mean', 'days'];
  const cell = (v) => (v === null || v === undefined ? '' : typeof v === 'number' ? String(Math.round(v * 1e6) / 1e6) : String(v));
  const rows = (weeks ?? []).map((w) => columns.map((c) => cell(w[c])).join(','));
  return `${[columns.join(','), ...rows, `"${ATTRIBUTION} ${ATTRIBUTION_URL}"`].join('\r\n')}\r\n`;
}

/**
 * The weather panel: `{el, update(data)}` where data is what loadWeather returns. `h` builds
 * elements, `t` translates, `num(value, digits)` formats a number ("–" for null).
 */
export function createWeatherPanel({ h, t, num, date }) {
  const el = h('section', { class: 'weather-panel', 'aria-label': t('weather.title') });
  const dash = (v, digits = 0) => (v === null || v === undefined ? '–' : num(v, digits));
  const table = (caption, days) => h('table', { class: 'weather-days' },
    h('caption', {}, caption),
    h('thead', {}, h('tr', {}, h('th', {}, t('weather.day')), h('th', {}, t('weather.rain')), h('th', {}, t('weather.temp')), h('th', {}, 'ET0'))),
    h('tbody', {}, ...days.map((d) => h('tr', {},
      h('td', {}, date(d.date)), h('td', {}, dash(d.precip_mm, 1)),
      h('td', {}, `${dash(d.t_min)}–${dash(d.t_max)} °C`), h('td', {}, dash(d.et0_mm, 1))))));
  return {
    el,
    update({ daily, forecast }) {
      const today = isoDate(new Date());
      const past = lastDays(daily?.days, today);
      const ahead = nextDays(forecast?.days, today);
      const season = daily?.season;
      el.replaceChildren(
        h('h3', {}, t('weather.title')),
        season ? h('p', { class: 'weather-season' }, t('weather.season', { rain: dash(season.precip_mm), gdd: dash(season.gdd), start: date(season.start) })) : '',
        past.length ? table(t('weather.last7', { rain: dash(total(past, 'precip_mm'), 1) }), past) : h('p', { class: 'muted' }, t('weather.empty')),
        ahead.length ? table(t('weather.next7', { rain: dash(total(ahead, 'precip_mm'), 1) }), ahead) : '',
        h('p', { class: 'weather-credit' }, h('a', { href: ATTRIBUTION_URL, target: '_blank', rel: 'noopener' }, t('weather.credit'))));
      el.dataset.days = String(past.length);
      el.dataset.forecast = String(ahead.length);
    },
  };
}
