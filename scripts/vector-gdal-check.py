#!/usr/bin/python3
"""Exports a farm's fields through a running VivaCampo API and opens the three files with GDAL:
the Shapefile (zip), the KML and the GeoJSON must hold every field with its geometry (area equal
to the API's within 0.01 %, parts and holes) and attributes (id, name, use_type, area_ha).

Needs Debian's GDAL bindings and pyproj (`apt-get install -y gdal-bin python3-gdal python3-pyproj`)
and a built binary:

    cargo build -p vivacampo
    /usr/bin/python3 scripts/vector-gdal-check.py [path/to/vivacampo]

It starts `vivacampo api` on a free loopback port with a temporary data directory, signs up,
imports two fixtures (SICAR-like, and a Shapefile with non-ASCII names; a field with a hole and
two parts), exports,
checks, and stops the server. Exit status 0 when every check passes.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from osgeo import gdal, ogr, osr
from pyproj import Geod

gdal.UseExceptions()
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "crates", "vivacampo-vector", "tests", "fixtures")
GEOD = Geod(ellps="WGS84")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(base, method, path, token=None, body=None, content_type="application/json"):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(base + path, data=data, method=method)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(req, timeout=60) as res:
            return res.status, res.read()
    except urllib.error.HTTPError as e:
        raise SystemExit(f"{method} {path}: {e.code} {e.read().decode(errors='replace')}")


def area_ha(geometry):
    """Geodesic area of an OGR (multi)polygon in lon/lat, outer rings minus holes."""
    geometry = ogr.ForceToMultiPolygon(geometry.Clone())
    total = 0.0
    for p in range(geometry.GetGeometryCount()):
        polygon = geometry.GetGeometryRef(p)
        for r in range(polygon.GetGeometryCount()):
            ring = polygon.GetGeometryRef(r)
            lons = [ring.GetX(i) for i in range(ring.GetPointCount())]
            lats = [ring.GetY(i) for i in range(ring.GetPointCount())]
            a = abs(GEOD.polygon_area_perimeter(lons, lats)[0])
            total += a if r == 0 else -a
    return total / 10_000, geometry.GetGeometryCount(), sum(
        geometry.GetGeometryRef(p).GetGeometryCount() - 1 for p in range(geometry.GetGeometryCount()))


def check_file(path, fields, failures, label):
    ds = ogr.Open(path)
    if ds is None:
        failures.append(f"{label}: GDAL cannot open it")
        return
    layer = ds.GetLayer(0)
    srs = layer.GetSpatialRef()
    if srs is None or srs.GetAuthorityCode(None) not in ("4326", None) or not srs.IsGeographic():
        failures.append(f"{label}: CRS is not WGS84 lon/lat ({srs.ExportToWkt() if srs else None})")
    names = [layer.GetLayerDefn().GetFieldDefn(i).GetName() for i in range(layer.GetLayerDefn().GetFieldCount())]
    # The KML driver reads <name> as the Name field.
    name_key = "name" if "name" in names else "Name"
    for wanted in ("id", "use_type", "area_ha"):
        if wanted not in names:
            failures.append(f"{label}: no attribute {wanted} (has {names})")
    by_id = {f["id"]: f for f in fields}
    seen = 0
    for feature in layer:
        seen += 1
        field = by_id.get(feature.GetField("id"))
        if field is None:
            failures.append(f"{label}: unknown id {feature.GetField('id')}")
            continue
        if feature.GetField(name_key) != field["name"]:
            failures.append(f"{label}: name {feature.GetField(name_key)!r} != {field['name']!r}")
        if feature.GetField("use_type") != field["use_type"]:
            failures.append(f"{label}: use_type {feature.GetField('use_type')!r}")
        if abs(float(feature.GetField("area_ha")) - field["area_ha"]) > 0.005:
            failures.append(f"{label}: area_ha attribute {feature.GetField('area_ha')} != {field['area_ha']}")
        geometry = feature.GetGeometryRef()
        if geometry is None or not geometry.IsValid():
            failures.append(f"{label}: {field['name']}: geometry missing or invalid")
            continue
        area, parts, holes = area_ha(geometry)
        if abs(area - field["area_ha"]) / field["area_ha"] > 1e-4:
            failures.append(f"{label}: {field['name']}: area {area:.4f} ha != {field['area_ha']}")
        want_parts = len(field["geometry"]["coordinates"])
        want_holes = sum(len(p) - 1 for p in field["geometry"]["coordinates"])
        if (parts, holes) != (want_parts, want_holes):
            failures.append(f"{label}: {field['name']}: {parts} parts {holes} holes, want {want_parts} {want_holes}")
    if seen != len(fields):
        failures.append(f"{label}: {seen} features, want {len(fields)}")
    print(f"{label}: {seen} features checked")


def main():
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(ROOT, "target"))
    binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(target, "debug", "vivacampo")
    data = tempfile.mkdtemp(prefix="vc-gdal-check-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([binary, "api", "--bind", f"127.0.0.1:{port}", "--data-dir", data,
                              "--log-format", "text", "--log", "warn"])
    failures = []
    try:
        for _ in range(600):
            try:
                call(base, "GET", "/healthz")
                break
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.1)
        _, body = call(base, "POST", "/v1/auth/signup",
                       body={"email": "gdal@example.com", "password": "segredo-forte", "name": "GDAL"})
        token = json.loads(body)["token"]
        _, body = call(base, "POST", "/v1/farms", token, {"name": "Fazenda São José"})
        farm = json.loads(body)["id"]
        # The second file lies far from the first (outside the farm's region): chosen explicitly.
        for fixture, query in (("car_sirgas_utm22s.zip", ""), ("fields_wgs84_utm23s_cp1252.zip", "&indices=0,1")):
            with open(os.path.join(FIXTURES, fixture), "rb") as f:
                call(base, "POST", f"/v1/farms/{farm}/import?dry_run=false{query}", token, f.read(),
                     content_type="application/octet-stream")
        _, body = call(base, "GET", f"/v1/aois?farm_id={farm}&page_size=200", token)
        fields = json.loads(body)["items"]
        print(f"{len(fields)} fields in the farm")
        out = tempfile.mkdtemp(prefix="vc-gdal-export-")
        for ext in ("zip", "kml", "geojson"):
            _, content = call(base, "GET", f"/v1/farms/{farm}/fields.{ext}", token)
            path = os.path.join(out, f"fields.{ext}")
            with open(path, "wb") as f:
                f.write(content)
            check_file(("/vsizip/" + path) if ext == "zip" else path, fields, failures, ext)
        shutil.rmtree(out)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(data, ignore_errors=True)
    for failure in failures:
        print("FAIL", failure)
    print("GDAL check:", "failed" if failures else "passed")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
