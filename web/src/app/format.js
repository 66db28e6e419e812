// Numbers, areas, dates and percentages in the user's language, and the geodesic area of a
// polygon for the live read-out while drawing, computed as the API computes the area it stores.

// WGS84, as the server's area (Karney's geodesic polygon area on the ellipsoid, geo's
// `geodesic_area_unsigned`).
const WGS84_A = 6378137;
const WGS84_F = 1 / 298.257223563;
const E2 = WGS84_F * (2 - WGS84_F);
const E = Math.sqrt(E2);
const RAD = Math.PI / 180;

/** q(φ) of the authalic latitude (Snyder, Map Projections, eq. 3-12). */
function authalicQ(sinPhi) {
  return (1 - E2) * (sinPhi / (1 - E2 * sinPhi * sinPhi) - (1 / (2 * E)) * Math.log((1 - E * sinPhi) / (1 + E * sinPhi)));
}
const Q_POLE = authalicQ(1);
/** The radius of the sphere with the ellipsoid's area. */
const AUTHALIC_RADIUS = WGS84_A * Math.sqrt(Q_POLE / 2);

/**
 * Area in m² of a ring of [lon, lat] points on the WGS84 ellipsoid. Latitudes go to the
 * authalic sphere (which keeps areas), where the ring's spherical excess is exact; an edge
 * there differs from the ellipsoid's geodesic by less than a field can show, so for fields
 * this agrees with the server's geodesic area to better than 1e-6 (tested against
 * GeographicLib's values).
 */
export function ringAreaM2(ring) {
  const n = ring.length;
  if (n < 3) return 0;
  let total = 0;
  const halfTan = ([, lat]) => Math.tan(Math.asin(Math.max(-1, Math.min(1, authalicQ(Math.sin(lat * RAD)) / Q_POLE))) / 2);
  for (let i = 0; i < n; i += 1) {
    const a = ring[i];
    const b = ring[(i + 1) % n];
    let dLon = (b[0] - a[0]) * RAD;
    if (dLon > Math.PI) dLon -= 2 * Math.PI;
    if (dLon < -Math.PI) dLon += 2 * Math.PI;
    const [ta, tb] = [halfTan(a), halfTan(b)];
    total += 2 * Math.atan2(Math.tan(dLon / 2) * (ta + tb), 1 + ta * tb);
  }
  return Math.abs(total) * AUTHALIC_RADIUS * AUTHALIC_RADIUS;
}

/**
 * Hectares of a GeoJSON Polygon or MultiPolygon (outer rings minus holes), rounded to
 * hundredths as the server stores a field's area, so the drawing shows what will be saved.
 */
export function geometryAreaHa(geometry) {
  if (!geometry) return 0;
  const polygons = geometry.type === 'Polygon' ? [geometry.coordinates]
    : geometry.type === 'MultiPolygon' ? geometry.coordinates : [];
  let m2 = 0;
  for (const rings of polygons) {
    rings.forEach((ring, i) => { m2 += (i === 0 ? 1 : -1) * ringAreaM2(ring); });
  }
  return Math.round(m2 / 100) / 100;
}

/** The total of fields' areas as the server totals a farm (`total_area_ha`: summed, then hundredths). */
export function sumHectares(aois) {
  return Math.round(aois.reduce((sum, a) => sum + a.area_ha, 0) * 100) / 100;
}

/**
 * "12,3 ha" / "1,234.5 ha": every area in the app, one decimal, in the user's language. Sums
 * are added before rounding, so a farm's total is the same wherever it shows.
 */
export function formatHectares(lang, ha) {
  return `${new Intl.NumberFormat(lang, { minimumFractionDigits: 1, maximumFractionDigits: 1 }).format(ha)} ha`;
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
