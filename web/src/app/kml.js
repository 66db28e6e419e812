// Field boundaries from a user's file: GeoJSON (FeatureCollection, Feature or bare geometry) or
// KML (Placemarks with Polygon/MultiGeometry). Returns [{name, geometry}] with Polygon or
// MultiPolygon geometries; everything else in the file is skipped. A file that cannot be read
// throws an ImportError, whose `key` and `params` put the problem in the user's language.

/** A problem with the user's file: `key` is an i18n key, `params` fill it. */
export class ImportError extends Error {
  constructor(key, params = {}, message = key) {
    super(message);
    this.name = 'ImportError';
    this.key = key;
    this.params = params;
  }
}

function polygonal(geometry) {
  return geometry && (geometry.type === 'Polygon' || geometry.type === 'MultiPolygon');
}

/** Features of a parsed GeoJSON object. */
export function fieldsFromGeoJson(json, fallbackName = 'Field') {
  if (!json || typeof json !== 'object' || Array.isArray(json)) throw new ImportError('import.notGeoJson');
  const features = json.type === 'FeatureCollection' ? json.features
    : json.type === 'Feature' ? [json]
      : [{ type: 'Feature', properties: {}, geometry: json }];
  const fields = [];
  for (const feature of Array.isArray(features) ? features : []) {
    const geometry = feature?.geometry;
    if (geometry?.type === 'GeometryCollection') {
      const polygons = (geometry.geometries ?? []).filter(polygonal);
      polygons.forEach((g) => fields.push({ name: nameOf(feature, fields.length, fallbackName), geometry: g }));
    } else if (polygonal(geometry)) {
      fields.push({ name: nameOf(feature, fields.length, fallbackName), geometry });
    }
  }
  return fields;
}

function nameOf(feature, index, fallbackName) {
  const p = feature.properties ?? {};
  return String(p.name ?? p.Name ?? p.NAME ?? p.nome ?? p.title ?? `${fallbackName} ${index + 1}`);
}

function decodeEntities(text) {
  return text.replace(/<!\[CDATA\[([\s\S]*?)\]\]>/g, '$1')
    .replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'").replace(/&amp;/g, '&').trim();
}

/** Inner texts of <tag> elements (namespace prefixes allowed) in `xml`. */
function elements(xml, tag) {
  const re = new RegExp(`<(?:\\w+:)?${tag}\\b[^>]*>([\\s\\S]*?)</(?:\\w+:)?${tag}>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]);
}

/** "lon,lat[,alt] lon,lat …" → [[lon, lat], …], closed. */
export function parseCoordinates(text) {
  const ring = decodeEntities(text).split(/\s+/).filter(Boolean).map((tuple) => {
    const [lon, lat] = tuple.split(',').map(Number);
    if (!Number.isFinite(lon) || !Number.isFinite(lat)) throw new ImportError('import.badCoordinate', { value: tuple }, `bad coordinate "${tuple}"`);
    return [lon, lat];
  });
  if (ring.length > 0) {
    const [first, last] = [ring[0], ring.at(-1)];
    if (first[0] !== last[0] || first[1] !== last[1]) ring.push([...first]);
  }
  return ring;
}

function kmlPolygon(xml) {
  const outer = elements(xml, 'outerBoundaryIs').flatMap((b) => elements(b, 'coordinates'));
  const inner = elements(xml, 'innerBoundaryIs').flatMap((b) => elements(b, 'coordinates'));
  if (outer.length === 0) return null;
  return [parseCoordinates(outer[0]), ...inner.map(parseCoordinates)];
}

/** Placemarks of KML text with their polygons. */
export function fieldsFromKml(text, fallbackName = 'Field') {
  const fields = [];
  for (const placemark of elements(text, 'Placemark')) {
    const polygons = elements(placemark, 'Polygon').map(kmlPolygon).filter(Boolean);
    if (polygons.length === 0) continue;
    const withoutGeometry = placemark.replace(/<(?:\w+:)?(MultiGeometry|Polygon)\b[\s\S]*<\/(?:\w+:)?\1>/, '');
    const name = elements(withoutGeometry, 'name')[0];
    fields.push({
      name: name ? decodeEntities(name) : `${fallbackName} ${fields.length + 1}`,
      geometry: polygons.length === 1 ? { type: 'Polygon', coordinates: polygons[0] }
        : { type: 'MultiPolygon', coordinates: polygons },
    });
  }
  return fields;
}

/**
 * Where JSON.parse stopped, as {line, column} (1-based), from its message: browsers say
 * "… at position 41 (line 3 column 7)" or only "… at position 41"; null when they say neither.
 */
export function jsonErrorPlace(text, message) {
  const lineColumn = /line (\d+) column (\d+)/.exec(message);
  if (lineColumn) return { line: Number(lineColumn[1]), column: Number(lineColumn[2]) };
  const position = /position (\d+)/.exec(message);
  if (!position) return null;
  const before = text.slice(0, Number(position[1])).split('\n');
  return { line: before.length, column: before.at(-1).length + 1 };
}

/** Fields of a file's text, by its name's extension or its first character. */
export function fieldsFromFile(fileName, text, fallbackName = 'Field') {
  const trimmed = text.trimStart();
  if (/\.kml$/i.test(fileName) || trimmed.startsWith('<')) return fieldsFromKml(text, fallbackName);
  let json;
  try {
    json = JSON.parse(text);
  } catch (error) {
    const place = jsonErrorPlace(text, String(error.message));
    throw place ? new ImportError('import.badJsonAt', place, error.message) : new ImportError('import.badJson', {}, error.message);
  }
  return fieldsFromGeoJson(json, fallbackName);
}
