// Numbers, areas, dates and percentages in the user's language, and the geodesic area of a
// polygon for the live read-out while drawing (the API computes the authoritative area).

const EARTH_RADIUS_M = 6378137;

/** Area in m² of a ring of [lon, lat] points on the WGS84 sphere (spherical excess, as Leaflet.draw and turf). */
export function ringAreaM2(ring) {
  const n = ring.length;
  if (n < 3) return 0;
  const rad = Math.PI / 180;
  let total = 0;
  for (let i = 0; i < n; i += 1) {
    const [lon1, lat1] = ring[i];
    const [lon2, lat2] = ring[(i + 1) % n];
    total += (lon2 - lon1) * rad * (2 + Math.sin(lat1 * rad) + Math.sin(lat2 * rad));
  }
  return Math.abs((total * EARTH_RADIUS_M * EARTH_RADIUS_M) / 2);
}

/** Hectares of a GeoJSON Polygon or MultiPolygon (outer rings minus holes). */
export function geometryAreaHa(geometry) {
  if (!geometry) return 0;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  let m2 = 0;
  for (const rings of polygons) {
    rings.forEach((ring, i) => { m2 += (i === 0 ? 1 : -1) * ringAreaM2(ring); });
  }
  return m2 / 10000;
}

/** "12,34 ha" / "12.34 ha" (two decimals below 100 ha, one up to 1000, none above). */
export function formatHectares(lang, ha) {
  const digits = ha < 100 ? 2 : ha < 1000 ? 1 : 0;
  return `${new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(ha)} ha`;
}

export function formatNumber(lang, value, digits = 2) {
  if (value === null || value === undefined || Number.isNaN(value)) return '–';
  return new Intl.NumberFormat(lang, { minimumFractionDigits: digits, maximumFractionDigits: digits }).format(value);
}

/** A fraction 0..1 as "23 %" / "23%". */
export function formatPercent(lang, fraction) {
  if (fraction === null || fraction === undefined) return '–';
  return new Intl.NumberFormat(lang, { style: 'percent', maximumFractionDigits: 0 }).format(fraction);
}

/** "2 de mar." / "Mar 2": a date (YYYY-MM-DD or RFC 3339) as day and month, in UTC. */
export function formatShortDate(lang, value) {
  if (!value) return '–';
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return new Intl.DateTimeFormat(lang, { day: 'numeric', month: 'short', timeZone: 'UTC' }).format(date);
}

/** "02/03/2026" / "3/2/2026": a full date in UTC. */
export function formatDate(lang, value) {
  if (!value) return '–';
  const date = new Date(value.length === 10 ? `${value}T00:00:00Z` : value);
  return new Intl.DateTimeFormat(lang, { dateStyle: 'medium', timeZone: 'UTC' }).format(date);
}

/** Date and time in the browser's zone, for job times. */
export function formatDateTime(lang, value) {
  if (!value) return '–';
  return new Intl.DateTimeFormat(lang, { dateStyle: 'short', timeStyle: 'short' }).format(new Date(value));
}
