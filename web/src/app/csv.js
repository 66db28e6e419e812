// The chart's series as CSV: one row per week, oldest first, dot decimals (a file for
// spreadsheets and scripts, independent of the interface language).

const COLUMNS = ['year', 'week', 'week_start', 'status', 'scene_datetime', 'valid_pixel_ratio',
  'mean', 'std', 'min', 'max', 'p10', 'p50', 'p90', 'baseline', 'anomaly'];

function cell(value) {
  if (value === null || value === undefined) return '';
  const text = typeof value === 'number' ? String(Math.round(value * 1e6) / 1e6) : String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

/** CSV text (header + rows, CRLF line ends as RFC 4180) of history points. */
export function historyCsv(index, points) {
  const header = ['index', ...COLUMNS].join(',');
  const rows = points.map((point) => [index, ...COLUMNS.map((c) => point[c])].map(cell).join(','));
  return `${[header, ...rows].join('\r\n')}\r\n`;
}

/** A file name such as "talhao-1_ndvi.csv" from a field name. */
export function csvFileName(fieldName, index) {
  const slug = fieldName.normalize('NFD').replace(/[\u0300-\u036f]/g, '')
    .toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '') || 'field';
  return `${slug}_${index}.csv`;
}
