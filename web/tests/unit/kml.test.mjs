import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ImportError, fieldsFromFile, fieldsFromGeoJson, fieldsFromKml, jsonErrorPlace, parseCoordinates } from '../../src/app/kml.js';
import { translator } from '../../src/app/i18n.js';

const KML = `<?xml version="1.0" encoding="UTF-8"?>
<kml xmlns="http://www.opengis.net/kml/2.2"><Document><name>Fazenda</name>
  <Placemark><name>Talhão &amp; Sede</name>
    <Polygon><outerBoundaryIs><LinearRing><coordinates>
      -50.90,-17.74,0 -50.89,-17.74,0 -50.89,-17.73,0 -50.90,-17.73,0
    </coordinates></LinearRing></outerBoundaryIs>
    <innerBoundaryIs><LinearRing><coordinates>-50.898,-17.738 -50.897,-17.738 -50.897,-17.737 -50.898,-17.738</coordinates></LinearRing></innerBoundaryIs>
    </Polygon></Placemark>
  <Placemark><name>Ponto</name><Point><coordinates>-50.9,-17.7</coordinates></Point></Placemark>
  <Placemark><name><![CDATA[Dois pivôs]]></name><MultiGeometry>
    <Polygon><outerBoundaryIs><LinearRing><coordinates>1,1 2,1 2,2 1,1</coordinates></LinearRing></outerBoundaryIs></Polygon>
    <Polygon><outerBoundaryIs><LinearRing><coordinates>3,3 4,3 4,4 3,3</coordinates></LinearRing></outerBoundaryIs></Polygon>
  </MultiGeometry></Placemark>
</Document></kml>`;

test('KML placemarks become polygons, rings closed, points skipped', () => {
  const fields = fieldsFromKml(KML);
  assert.equal(fields.length, 2);
  assert.equal(fields[0].name, 'Talhão & Sede');
  assert.equal(fields[0].geometry.type, 'Polygon');
  assert.equal(fields[0].geometry.coordinates.length, 2);
  assert.deepEqual(fields[0].geometry.coordinates[0].at(-1), [-50.9, -17.74]);
  assert.equal(fields[0].geometry.coordinates[0].length, 5);
  assert.equal(fields[1].name, 'Dois pivôs');
  assert.equal(fields[1].geometry.type, 'MultiPolygon');
  assert.equal(fields[1].geometry.coordinates.length, 2);
});

test('namespaced KML (kml: prefix) and unnamed placemarks', () => {
  const text = '<kml:kml><kml:Placemark><kml:Polygon><kml:outerBoundaryIs><kml:LinearRing><kml:coordinates>0,0 1,0 1,1 0,0</kml:coordinates></kml:LinearRing></kml:outerBoundaryIs></kml:Polygon></kml:Placemark></kml:kml>';
  const fields = fieldsFromKml(text, 'Field');
  assert.deepEqual(fields, [{ name: 'Field 1', geometry: { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] } }]);
});

test('bad coordinates are an error', () => {
  assert.throws(() => parseCoordinates('1,a 2,2'), /bad coordinate/);
});

/** The error `body` throws, in the words the user sees. */
function words(lang, body) {
  try {
    body();
  } catch (error) {
    assert.ok(error instanceof ImportError, `${error}`);
    return translator(lang)(error.key, error.params);
  }
  assert.fail('no error');
}

test('file problems are put in the user\'s language', () => {
  assert.equal(words('pt-BR', () => parseCoordinates('1,a 2,2')), 'coordenada inválida “1,a” (esperado longitude,latitude).');
  assert.equal(words('en', () => fieldsFromFile('x.kml', '<kml><Placemark><Polygon><outerBoundaryIs><coordinates>1,1 x,2</coordinates></outerBoundaryIs></Polygon></Placemark></kml>')),
    'bad coordinate “x,2” (expected longitude,latitude).');
  // A trailing comma: V8 names the position, the app says line and column.
  const broken = '{"type": "FeatureCollection",\n  "features": [],}';
  assert.equal(words('pt-BR', () => fieldsFromFile('x.geojson', broken)), 'o arquivo não é um GeoJSON válido (erro na linha 2, coluna 18).');
  assert.equal(words('en', () => fieldsFromFile('x.geojson', '{"type": [,]}')), 'the file is not valid GeoJSON.');
  assert.equal(words('en', () => fieldsFromFile('x.json', 'null')), 'the file holds no GeoJSON object.');
  assert.equal(words('en', () => fieldsFromFile('x.json', '[1, 2]')), 'the file holds no GeoJSON object.');
});

test('where JSON.parse stopped, from either form of its message', () => {
  assert.deepEqual(jsonErrorPlace('{\n  "a": }', 'Unexpected token } in JSON at position 9'), { line: 2, column: 8 });
  assert.deepEqual(jsonErrorPlace('', 'Expected property name in JSON at position 1 (line 1 column 2)'), { line: 1, column: 2 });
  assert.equal(jsonErrorPlace('x', 'Unexpected end of JSON input'), null);
});

test('GeoJSON collections, features and bare geometries', () => {
  const polygon = { type: 'Polygon', coordinates: [[[0, 0], [1, 0], [1, 1], [0, 0]]] };
  const collection = { type: 'FeatureCollection', features: [
    { type: 'Feature', properties: { name: 'A' }, geometry: polygon },
    { type: 'Feature', properties: {}, geometry: { type: 'Point', coordinates: [0, 0] } },
    { type: 'Feature', properties: { nome: 'B' }, geometry: { type: 'MultiPolygon', coordinates: [polygon.coordinates] } },
  ] };
  assert.deepEqual(fieldsFromGeoJson(collection).map((f) => [f.name, f.geometry.type]), [['A', 'Polygon'], ['B', 'MultiPolygon']]);
  assert.deepEqual(fieldsFromGeoJson(polygon, 'Talhão'), [{ name: 'Talhão 1', geometry: polygon }]);
  assert.equal(fieldsFromFile('x.geojson', JSON.stringify(collection)).length, 2);
  assert.equal(fieldsFromFile('x.kml', KML).length, 2);
});
