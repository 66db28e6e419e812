// The field's index over time with uPlot: the p10–p90 band, the mean with its points, the
// baseline dashed, the selected week as a vertical rule. Clicking a point selects its week.

import { chartColumns, weekTicks } from './weeks.js';
import { evidenceColumns } from './signals.js';

const GREEN = '#1e6b34';
const BAND = 'rgba(46, 139, 87, 0.18)';
// The band's edges, ≥ 3:1 on the white plot (the fill alone is too faint to read).
const BAND_EDGE = '#4f8f69';
const BASELINE = '#7a5c12';
const SELECTED = '#c2410c';
// Weekly rain (bars) and water balance (line) on the right-hand mm axis.
const RAIN = '#1d5fa8';
const RAIN_FILL = 'rgba(29, 95, 168, 0.28)';
const BALANCE = '#6b3fa0';
// Last season's curve, faint behind this season's.
const PREVIOUS = 'rgba(90, 100, 95, 0.55)';
// A signal's evidence: its weeks shaded, its baseline band (expected … lowest normal) in red.
const EVIDENCE_WEEK = 'rgba(185, 28, 28, 0.12)';
const EVIDENCE_EDGE = '#b91c1c';
const EVIDENCE_BAND = 'rgba(185, 28, 28, 0.10)';
// Radar (Sentinel-1 RVI) points on cloudy weeks: hollow blue rings, no line, so
// they never read as the optical mean.
const RADAR = '#0f5c8c';

/**
 * Draws into `container`; returns {update(points, selectedKey, weather, extras), destroy()}.
 * `weather` (optional): `{rain, balance}`, mm per point, aligned to `points` (weather.js
 * alignWeeks). `extras` (optional): `{previous, signal}`: last season's values by week key
 * (signals.js previousSeason), a signal whose evidence is drawn (its weeks and baseline band), and
 * `radar`: radar values by week key for the cloudy weeks (weeks.js radarFill), drawn as rings.
 * `onSelect(key)` is called with the week key of a clicked point. `labels`: {mean, baseline,
 * week(number, monday), rain, balance}, where `monday` is the week's first day in seconds (the
 * text the week chips show for it).
 */
export function createChart(container, { labels, lang, onSelect }) {
  let keys = [];
  const readout = document.createElement('div');
  readout.className = 'chart-readout';
  readout.hidden = true;
  const numberFormat = new Intl.NumberFormat(lang, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  // The hovered week's figures, above the plot (uPlot's own legend is off to save room).
  const showReadout = (u) => {
    const i = u.cursor.idx;
    const mean = i === null || i === undefined ? null : u.data[3][i];
    const radar = i === null || i === undefined ? null : u.data[10]?.[i];
    if ((mean === null || mean === undefined) && radar !== null && radar !== undefined) {
      readout.textContent = `${labels.week(Number(keys[i]?.split('-W')[1]), u.data[0][i])} · ${labels.radar ?? 'radar'} ${numberFormat.format(radar)}`;
      readout.hidden = false;
      return;
    }
    if (mean === null || mean === undefined) {
      readout.hidden = true;
      return;
    }
    const band = u.data[1][i] === null ? '' : ` (${numberFormat.format(u.data[1][i])}–${numberFormat.format(u.data[2][i])})`;
    const baseline = u.data[4][i] === null ? '' : ` · ${labels.baseline} ${numberFormat.format(u.data[4][i])}`;
    const week = Number(keys[i]?.split('-W')[1]);
    const rain = u.data[5][i] === null ? '' : ` · ${labels.rain ?? 'mm'} ${Math.round(u.data[5][i])}`;
    readout.textContent = `${labels.week(week, u.data[0][i])} · ${labels.mean} ${numberFormat.format(mean)}${band}${baseline}${rain}`;
    readout.hidden = false;
  };
  let selectedKey = null;
  let plot = null;
  let marked = [];

  // The evidence's weeks: a shaded column a week wide under the curves.
  const markedWeeks = (u) => {
    if (!marked.some(Boolean)) return;
    const { ctx } = u;
    const xs = u.data[0];
    const half = xs.length > 1 ? Math.abs(u.valToPos(xs[1], 'x', true) - u.valToPos(xs[0], 'x', true)) / 2 : 12 * devicePixelRatio;
    ctx.save();
    ctx.fillStyle = EVIDENCE_WEEK;
    ctx.strokeStyle = EVIDENCE_EDGE;
    ctx.lineWidth = devicePixelRatio;
    marked.forEach((on, i) => {
      if (!on) return;
      const x = u.valToPos(xs[i], 'x', true);
      ctx.fillRect(x - half, u.bbox.top, 2 * half, u.bbox.height);
      ctx.fillStyle = EVIDENCE_EDGE;
      ctx.fillRect(x - half, u.bbox.top, 2 * half, 3 * devicePixelRatio);
      ctx.fillStyle = EVIDENCE_WEEK;
    });
    ctx.restore();
  };

  const selectedRule = (u) => {
    const i = keys.indexOf(selectedKey);
    if (i < 0) return;
    const x = u.valToPos(u.data[0][i], 'x', true);
    const { ctx } = u;
    ctx.save();
    ctx.strokeStyle = SELECTED;
    ctx.lineWidth = 2 * devicePixelRatio;
    ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
    ctx.beginPath();
    ctx.moveTo(x, u.bbox.top);
    ctx.lineTo(x, u.bbox.top + u.bbox.height);
    ctx.stroke();
    const y = u.data[3][i];
    if (y !== null && y !== undefined) {
      ctx.setLineDash([]);
      ctx.fillStyle = SELECTED;
      ctx.beginPath();
      ctx.arc(x, u.valToPos(y, 'y', true), 6 * devicePixelRatio, 0, 2 * Math.PI);
      ctx.fill();
    }
    ctx.restore();
  };

  // Axis labels stay short: "Oct 5" in English, "05/10" in Portuguese ("5 de out." would overlap).
  // Ticks sit on the weeks' Mondays, the x of every point (the week chips show the same day).
  const dateFormat = new Intl.DateTimeFormat(lang, lang === 'en'
    ? { day: 'numeric', month: 'short', timeZone: 'UTC' }
    : { day: '2-digit', month: '2-digit', timeZone: 'UTC' });

  function build(data) {
    const width = Math.max(container.clientWidth, 240);
    const opts = {
      width,
      height: 180,
      legend: { show: false },
      cursor: { drag: { x: false, y: false }, points: { size: 9 } },
      scales: { x: { time: true }, y: { auto: true }, mm: { auto: true } },
      axes: [
        { stroke: '#3d4a40', grid: { stroke: '#e3e8e4' }, ticks: { stroke: '#c9d1cb' }, splits: (u) => weekTicks(u.data[0], u.bbox.width / devicePixelRatio), values: (u, splits) => splits.map((s) => dateFormat.format(new Date(s * 1000))) },
        { stroke: '#3d4a40', grid: { stroke: '#e3e8e4' }, ticks: { stroke: '#c9d1cb' }, size: 44, values: (u, splits) => splits.map((s) => s.toFixed(2)) },
        { scale: 'mm', side: 1, stroke: RAIN, grid: { show: false }, ticks: { stroke: '#c9d1cb' }, size: 40, values: (u, splits) => splits.map((s) => String(Math.round(s))) },
      ],
      series: [
        {},
        // The band spans cloudy weeks as the mean does, instead of breaking around them.
        { label: 'P10', stroke: BAND_EDGE, width: 1, spanGaps: true, points: { show: false } },
        { label: 'P90', stroke: BAND_EDGE, width: 1, spanGaps: true, points: { show: false } },
        { label: labels.mean, stroke: GREEN, width: 2.5, spanGaps: true, points: { show: true, size: 7, fill: GREEN, stroke: '#fff' } },
        { label: labels.baseline, stroke: BASELINE, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: false } },
        { label: labels.rain, scale: 'mm', stroke: RAIN, fill: RAIN_FILL, width: 1, paths: window.uPlot.paths.bars({ size: [0.5, 24] }), points: { show: false } },
        { label: labels.balance, scale: 'mm', stroke: BALANCE, width: 1.5, points: { show: true, size: 4, fill: BALANCE } },
        { label: labels.previous ?? 'previous', stroke: PREVIOUS, width: 1.5, dash: [2, 3], spanGaps: true, points: { show: false } },
        { label: labels.expected ?? 'expected', stroke: EVIDENCE_EDGE, width: 1, dash: [3, 3], spanGaps: true, points: { show: false } },
        { label: labels.low ?? 'low', stroke: EVIDENCE_EDGE, width: 1, spanGaps: true, points: { show: false } },
        { label: labels.radar ?? 'radar', stroke: RADAR, width: 2, paths: () => null, points: { show: true, size: 10, width: 2.5, fill: '#fff', stroke: RADAR } },
      ],
      bands: [{ series: [2, 1], fill: BAND }, { series: [8, 9], fill: EVIDENCE_BAND }],
      hooks: { drawClear: [markedWeeks], draw: [selectedRule], setCursor: [showReadout] },
    };
    plot = new window.uPlot(opts, data, container);
    container.prepend(readout);
    plot.over.addEventListener('mouseleave', () => { readout.hidden = true; });
    plot.over.addEventListener('click', () => {
      const i = plot.cursor.idx;
      if (i !== null && i !== undefined && keys[i]) onSelect(keys[i]);
    });
    plot.over.style.cursor = 'pointer';
  }

  const resize = new ResizeObserver(() => {
    if (plot && container.clientWidth > 0) plot.setSize({ width: container.clientWidth, height: 180 });
  });
  resize.observe(container);

  return {
    update(points, key, weather, extras = {}) {
      const columns = chartColumns(points);
      keys = columns.keys;
      selectedKey = key;
      const none = columns.data[0].map(() => null);
      const previous = extras.previous ? keys.map((k) => extras.previous.get(k) ?? null) : none;
      const evidence = extras.signal ? evidenceColumns(extras.signal, keys) : { marked: [], expected: none, low: none };
      marked = evidence.marked;
      const radar = extras.radar ? keys.map((k) => extras.radar.get(k) ?? null) : none;
      const data = [...columns.data, weather?.rain ?? none, weather?.balance ?? none, previous, evidence.expected, evidence.low, radar];
      container.dataset.rainWeeks = String(data[5].filter((v) => v !== null).length);
      container.dataset.previousWeeks = String(previous.filter((v) => v !== null).length);
      container.dataset.markedWeeks = String(marked.filter(Boolean).length);
      container.dataset.bandWeeks = String(evidence.low.filter((v) => v !== null).length);
      container.dataset.radarWeeks = String(radar.filter((v) => v !== null).length);
      if (!plot) build(data);
      else plot.setData(data);
      container.dataset.points = String(columns.data[3].filter((v) => v !== null).length);
    },
    select(key) {
      selectedKey = key;
      plot?.redraw(false);
    },
    destroy() {
      resize.disconnect();
      plot?.destroy();
      plot = null;
    },
  };
}
