#!/usr/bin/python3
"""Writes the boundary-file fixtures of crates/vivacampo-vector/tests/fixtures with GDAL (OGR),
and their expected geodesic areas with pyproj, into expected.json.

Run with Debian's python (`apt-get install -y gdal-bin python3-gdal python3-pyproj`):

    /usr/bin/python3 scripts/vector-fixtures.py

Every file holds the same kind of fields, written in its format and CRS by GDAL 3.6:

- car_sirgas_utm22s.zip: a SICAR-like package, a zip of per-layer zips (AREA_IMOVEL.zip,
  APP.zip, RESERVA_LEGAL.zip) in SIRGAS 2000 / UTM 22S (EPSG:31982), SICAR's columns. As real
  SICAR downloads: the DBF holds UTF-8 bytes while its language byte says Windows-1252 (0x57),
  there is no .cpg, and NOM_MUNICI of one property is cut mid-character at the field width
  ("Santo Ant" + the first byte of "ô").
  Property 1 has two parts, one with a hole; property 3 is a bow-tie (self_intersection).
- fields_wgs84_utm23s_cp1252.zip: Shapefile in WGS 84 / UTM 23S (EPSG:32723), text in
  Windows-1252 with a .cpg saying 1252 (as ArcGIS re-saves).
- fields_sirgas_4674_latin.zip: Shapefile in SIRGAS 2000 lon/lat, Windows-1252 bytes, no .cpg.
- fields_wgs84.geojson (RFC 7946), fields_sirgas_utm22s.geojson (GeoJSON with a crs member),
  fields_wgs84.kml (KML driver), fields_wgs84.kmz (LIBKML driver, which will not write the
  bow-tie, so it holds the first two).

Areas: each file is read back with OGR, transformed to EPSG:4326, and measured on the WGS84
ellipsoid with pyproj.Geod (outer rings minus holes), in hectares, unrounded.
"""

import json
import os
import shutil
import struct
import tempfile
import zipfile

from osgeo import ogr, osr
from pyproj import Geod

ogr.UseExceptions()
osr.UseExceptions()

OUT = os.path.join(os.path.dirname(__file__), "..", "crates", "vivacampo-vector", "tests", "fixtures")
GEOD = Geod(ellps="WGS84")


def square(lon, lat, d):
    return [(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d), (lon, lat)]


def ring_wkt(ring):
    return "(" + ", ".join(f"{x!r} {y!r}" for x, y in ring) + ")"


def polygons_wkt(polygons):
    return "MULTIPOLYGON(" + ", ".join("(" + ", ".join(ring_wkt(r) for r in p) + ")" for p in polygons) + ")"


def fields_at(lon, lat):
    """Three properties near (lon, lat): two parts one with a hole, a plain one, a bow-tie."""
    hole = [(lon + 0.004, lat + 0.004), (lon + 0.004, lat + 0.008), (lon + 0.008, lat + 0.008),
            (lon + 0.008, lat + 0.004), (lon + 0.004, lat + 0.004)]
    two_parts = [[square(lon, lat, 0.012), hole], [square(lon + 0.02, lat, 0.006)]]
    plain = [[[(lon + 0.04, lat), (lon + 0.055, lat + 0.001), (lon + 0.052, lat + 0.013),
               (lon + 0.041, lat + 0.01), (lon + 0.04, lat)]]]
    bowtie = [[[(lon + 0.07, lat), (lon + 0.08, lat + 0.01), (lon + 0.08, lat), (lon + 0.07, lat + 0.01),
                (lon + 0.07, lat)]]]
    return [two_parts, plain, bowtie]


SICAR_COLUMNS = [("COD_IMOVEL", 100), ("NUM_AREA", 0), ("COD_ESTADO", 2), ("NOM_MUNICI", 10),
                 ("NUM_MODULO", 0), ("TIPO_IMOVE", 3), ("SITUACAO", 2), ("CONDICAO_I", 100)]
SICAR_ROWS = [
    ["GO-5218805-0A1B2C3D4E5F4A5B8C9D0E1F2A3B4C5D", 0, "GO", "Rio Verde", 4.2, "IRU", "AT",
     "Aguardando análise"],
    ["GO-5218805-1F2E3D4C5B6A4B3C2D1E0F9A8B7C6D5E", 0, "GO", "Santo Antônio da Barra", 1.1, "IRU", "PE",
     "Análise com pendências"],
    ["GO-5218805-9A8B7C6D5E4F4A3B2C1D0E9F8A7B6C5D", 0, "GO", "Jataí", 0.5, "AST", "AT", ""],
]
NAMES = ["Talhão Sede", "Pasto São José", "Várzea Ruim"]


def srs(epsg):
    s = osr.SpatialReference()
    s.ImportFromEPSG(epsg)
    s.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    return s


def write_layer(path, driver, epsg, fields, columns, rows, options=None, dsco=None):
    print("writing", os.path.basename(path), driver, f"EPSG:{epsg}")
    drv = ogr.GetDriverByName(driver)
    ds = drv.CreateDataSource(path, options=dsco or [])
    layer_name = os.path.splitext(os.path.basename(path))[0]
    layer = ds.CreateLayer(layer_name, srs(epsg), ogr.wkbMultiPolygon, options=options or [])
    for name, width in columns:
        if width == 0:
            defn = ogr.FieldDefn(name, ogr.OFTReal)
            defn.SetWidth(12)
            defn.SetPrecision(2)
        else:
            defn = ogr.FieldDefn(name, ogr.OFTString)
            defn.SetWidth(width)
        layer.CreateField(defn)
    to_target = osr.CoordinateTransformation(srs(4326), srs(epsg))
    for polygons, row in zip(fields, rows):
        feature = ogr.Feature(layer.GetLayerDefn())
        for (name, _), value in zip(columns, row):
            feature.SetField(name, value)
        geometry = ogr.CreateGeometryFromWkt(polygons_wkt(polygons))
        geometry.Transform(to_target)
        feature.SetGeometry(geometry)
        layer.CreateFeature(feature)
    ds = None


def expected_areas(path):
    """Geodesic areas (ha) of every feature, read back by OGR in EPSG:4326, with pyproj."""
    ds = ogr.Open(path)
    layer = ds.GetLayer(0)
    source = layer.GetSpatialRef() or srs(4326)
    source.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    to_wgs84 = osr.CoordinateTransformation(source, srs(4326))
    out = []
    for feature in layer:
        geometry = feature.GetGeometryRef().Clone()
        geometry.Transform(to_wgs84)
        geometry = ogr.ForceToMultiPolygon(geometry)
        area = 0.0
        for p in range(geometry.GetGeometryCount()):
            polygon = geometry.GetGeometryRef(p)
            for r in range(polygon.GetGeometryCount()):
                ring = polygon.GetGeometryRef(r)
                lons = [ring.GetX(i) for i in range(ring.GetPointCount())]
                lats = [ring.GetY(i) for i in range(ring.GetPointCount())]
                a = abs(GEOD.polygon_area_perimeter(lons, lats)[0])
                area += a if r == 0 else -a
        out.append({"area_ha": area / 10_000, "parts": geometry.GetGeometryCount(),
                    "holes": sum(geometry.GetGeometryRef(p).GetGeometryCount() - 1
                                 for p in range(geometry.GetGeometryCount()))})
    return out


def zip_dir(directory, stem, target, exts):
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as z:
        for ext in exts:
            path = os.path.join(directory, stem + ext)
            if os.path.exists(path):
                z.write(path, stem + ext)


def patch_dbf(path, language_byte=None, replace=None):
    """Sets the DBF language byte, and overwrites values (padded with spaces to their length)."""
    data = bytearray(open(path, "rb").read())
    if language_byte is not None:
        data[29] = language_byte
    for prefix, new in replace or []:
        at = data.index(prefix)
        data[at:at + len(prefix)] = new.ljust(len(prefix), b" ")
    open(path, "wb").write(bytes(data))


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = {}
    tmp = tempfile.mkdtemp()
    try:
        # 1. SICAR-like package in SIRGAS 2000 / UTM 22S.
        fields = fields_at(-50.93, -17.83)
        layers = {}
        for layer_name, take in [("AREA_IMOVEL", fields), ("APP", fields[:1]), ("RESERVA_LEGAL", fields[1:2])]:
            d = os.path.join(tmp, layer_name)
            os.makedirs(d)
            shp = os.path.join(d, layer_name + ".shp")
            write_layer(shp, "ESRI Shapefile", 31982, take, SICAR_COLUMNS, SICAR_ROWS,
                        options=["ENCODING=UTF-8"])
            os.remove(os.path.join(d, layer_name + ".cpg"))
            # UTF-8 bytes, language byte Windows-1252; "Santo Antônio…" cut at 10 bytes, inside
            # "ô" (GDAL widens the column to fit the value, so the cut is made here).
            patch_dbf(os.path.join(d, layer_name + ".dbf"), language_byte=0x57,
                      replace=[("Santo Antônio da Barra".encode(), "Santo Antônio".encode()[:10])]
                      if layer_name == "AREA_IMOVEL" else [])
            inner = os.path.join(tmp, layer_name + ".zip")
            zip_dir(d, layer_name, inner, [".shp", ".shx", ".dbf", ".prj"])
            layers[layer_name] = inner
            if layer_name == "AREA_IMOVEL":
                expected["car_sirgas_utm22s.zip"] = expected_areas(shp)
        with zipfile.ZipFile(os.path.join(OUT, "car_sirgas_utm22s.zip"), "w", zipfile.ZIP_STORED) as z:
            for name, path in layers.items():
                z.write(path, name + ".zip")

        # 2. Shapefiles with a .cpg (Windows-1252) and without (Windows-1252 bytes).
        columns = [("nome", 50), ("cultura", 20)]
        rows = [[n, c] for n, c in zip(NAMES, ["Soja", "Braquiária", "Milho"])]
        for stem, epsg, origin, opts, keep_cpg in [
            ("fields_wgs84_utm23s_cp1252", 32723, (-47.52, -16.77), ["ENCODING=CP1252"], True),
            ("fields_sirgas_4674_latin", 4674, (-50.93, -17.83), ["ENCODING=CP1252"], False),
        ]:
            d = os.path.join(tmp, stem)
            os.makedirs(d)
            shp = os.path.join(d, stem + ".shp")
            write_layer(shp, "ESRI Shapefile", epsg, fields_at(*origin), columns, rows, options=opts)
            if not keep_cpg:
                os.remove(os.path.join(d, stem + ".cpg"))
            expected[stem + ".zip"] = expected_areas(shp)
            zip_dir(d, stem, os.path.join(OUT, stem + ".zip"), [".shp", ".shx", ".dbf", ".prj", ".cpg"])

        # 3. GeoJSON (WGS84 and UTM with a crs member), KML, KMZ.
        columns = [("name", 50), ("cultura", 20)]
        rows = [[n, c] for n, c in zip(NAMES, ["Soja", "Braquiária", "Milho"])]
        fields = fields_at(-50.93, -17.83)
        # LIBKML refuses to write the bow-tie, so the KMZ holds the first two.
        for name, driver, epsg, count in [
            ("fields_wgs84.geojson", "GeoJSON", 4326, 3),
            ("fields_sirgas_utm22s.geojson", "GeoJSON", 31982, 3),
            ("fields_wgs84.kml", "KML", 4326, 3),
            ("fields_wgs84.kmz", "LIBKML", 4326, 2),
        ]:
            path = os.path.join(OUT, name)
            if os.path.exists(path):
                os.remove(path)
            write_layer(path, driver, epsg, fields[:count], columns, rows[:count])
            expected[name] = expected_areas(path)
        for name, rows_of in expected.items():
            for row, label in zip(rows_of, NAMES):
                row["name"] = label
        for row, sicar in zip(expected["car_sirgas_utm22s.zip"], SICAR_ROWS):
            row["name"] = sicar[0]
        with open(os.path.join(OUT, "expected.json"), "w") as f:
            json.dump(expected, f, indent=1, ensure_ascii=False, sort_keys=True)
            f.write("\n")
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    main()
