// The field's index over time with uPlot: the p10–p90 band, the mean with its points, the
// baseline dashed, the selected week as a vertical rule. Clicking a point selects its week.

import { chartColumns } from './weeks.js';

const GREEN = '#1e6b34';
const BAND = 'rgba(46, 139, 87, 0.18)';
// The band's edges, ≥ 3:1 on the white plot (the fill alone is too faint to read).
const BAND_EDGE = '#4f8f69';
const BASELINE = '#7a5c12';
const SELECTED = '#c2410c';

/**
 * Draws into `container`; returns {update(points, selectedKey), destroy()}. `onSelect(key)` is
 * called with the week key of a clicked point. `labels`: {mean, baseline, week(number)}.
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
    if (mean === null || mean === undefined) {
      readout.hidden = true;
      return;
    }
    const band = u.data[1][i] === null ? '' : ` (${numberFormat.format(u.data[1][i])}–${numberFormat.format(u.data[2][i])})`;
    const baseline = u.data[4][i] === null ? '' : ` · ${labels.baseline} ${numberFormat.format(u.data[4][i])}`;
    const week = Number(keys[i]?.split('-W')[1]);
    readout.textContent = `${labels.week(week)} · ${labels.mean} ${numberFormat.format(mean)}${band}${baseline}`;
    readout.hidden = false;
  };
  let selectedKey = null;
  let plot = null;

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
      scales: { x: { time: true }, y: { auto: true } },
      axes: [
        { stroke: '#3d4a40', grid: { stroke: '#e3e8e4' }, ticks: { stroke: '#c9d1cb' }, values: (u, splits) => splits.map((s) => dateFormat.format(new Date(s * 1000))) },
        { stroke: '#3d4a40', grid: { stroke: '#e3e8e4' }, ticks: { stroke: '#c9d1cb' }, size: 44, values: (u, splits) => splits.map((s) => s.toFixed(2)) },
      ],
      series: [
        {},
        // The band spans cloudy weeks as the mean does, instead of breaking around them.
        { label: 'P10', stroke: BAND_EDGE, width: 1, spanGaps: true, points: { show: false } },
        { label: 'P90', stroke: BAND_EDGE, width: 1, spanGaps: true, points: { show: false } },
        { label: labels.mean, stroke: GREEN, width: 2.5, spanGaps: true, points: { show: true, size: 7, fill: GREEN, stroke: '#fff' } },
        { label: labels.baseline, stroke: BASELINE, width: 1.5, dash: [6, 4], spanGaps: true, points: { show: false } },
      ],
      bands: [{ series: [2, 1], fill: BAND }],
      hooks: { draw: [selectedRule], setCursor: [showReadout] },
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
    update(points, key) {
      const columns = chartColumns(points);
      keys = columns.keys;
      selectedKey = key;
      if (!plot) build(columns.data);
      else plot.setData(columns.data);
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
