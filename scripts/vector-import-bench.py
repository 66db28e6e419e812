#!/usr/bin/python3
"""Times boundary imports through a running API: a dry run of a municipality-size SICAR-like
download (default 5 000 properties) and a real import of 500 fields in one request.

    cargo build -p vivacampo
    /usr/bin/python3 scripts/vector-import-bench.py [path/to/vivacampo] [--features N] [--backfills]

Writes the files with GDAL (SIRGAS 2000 / UTM 22S, 48-vertex properties of ~25 ha, SICAR's
columns, zip of zips), starts `vivacampo api` on loopback with a temporary SQLite database and a
system administrator who lifts the tenant's quotas, and prints the wall time of each request.
With --backfills it then starts one `vivacampo worker` (an imagery catalog without scenes, so
every week ends NO_DATA: this measures the queue, not imagery reads) and prints how long the 500
fields' backfills take to finish, from `GET /v1/admin/ops/queues`.
"""

import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import zipfile

from osgeo import ogr, osr

ogr.UseExceptions()


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
    with urllib.request.urlopen(req, timeout=600) as res:
        return json.loads(res.read() or b"null")


def sicar_zip(path, count, tmp, origin=(430_000, 8_020_000), spacing=700, radius=282):
    """A zip of AREA_IMOVEL.zip with `count` properties on a square grid in EPSG:31982: circles of
    48 vertices and `radius` metres (282 m: ~25 ha), centres `spacing` metres apart, the first at
    `origin`."""
    d = os.path.join(tmp, f"AREA_IMOVEL_{count}")
    os.makedirs(d)
    shp = os.path.join(d, "AREA_IMOVEL.shp")
    srs = osr.SpatialReference()
    srs.ImportFromEPSG(31982)
    ds = ogr.GetDriverByName("ESRI Shapefile").CreateDataSource(shp)
    layer = ds.CreateLayer("AREA_IMOVEL", srs, ogr.wkbPolygon, options=["ENCODING=UTF-8"])
    for name, width in [("COD_IMOVEL", 100), ("NOM_MUNICI", 50)]:
        field = ogr.FieldDefn(name, ogr.OFTString)
        field.SetWidth(width)
        layer.CreateField(field)
    side = int(math.ceil(math.sqrt(count)))
    for i in range(count):
        cx, cy = origin[0] + (i % side) * spacing, origin[1] + (i // side) * spacing
        ring = ogr.Geometry(ogr.wkbLinearRing)
        for k in range(48):
            a = 2 * math.pi * k / 48
            ring.AddPoint_2D(cx + radius * math.cos(a), cy + radius * math.sin(a))
        ring.CloseRings()
        polygon = ogr.Geometry(ogr.wkbPolygon)
        polygon.AddGeometry(ring)
        feature = ogr.Feature(layer.GetLayerDefn())
        feature.SetField("COD_IMOVEL", f"GO-5218805-{i:032X}")
        feature.SetField("NOM_MUNICI", "Rio Verde")
        feature.SetGeometry(polygon)
        layer.CreateFeature(feature)
    ds = None
    inner = os.path.join(tmp, f"inner_{count}.zip")
    with zipfile.ZipFile(inner, "w", zipfile.ZIP_DEFLATED) as z:
        for ext in (".shp", ".shx", ".dbf", ".prj"):
            z.write(os.path.join(d, "AREA_IMOVEL" + ext), "AREA_IMOVEL" + ext)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.write(inner, "AREA_IMOVEL.zip")


def main():
    args = sys.argv[1:]
    count = 5000
    backfills = "--backfills" in args
    args = [a for a in args if a != "--backfills"]
    if "--features" in args:
        count = int(args[args.index("--features") + 1])
        del args[args.index("--features"):args.index("--features") + 2]
    root = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(root, "target"))
    binary = args[0] if args else os.path.join(target, "debug", "vivacampo")
    tmp = tempfile.mkdtemp(prefix="vc-import-bench-")
    data = os.path.join(tmp, "data")
    municipal, batch = os.path.join(tmp, "municipal.zip"), os.path.join(tmp, "batch.zip")
    sicar_zip(municipal, count, tmp)
    sicar_zip(batch, 500, tmp)
    print(f"files: {count} properties {os.path.getsize(municipal) / 1e6:.1f} MB, "
          f"500 properties {os.path.getsize(batch) / 1e6:.1f} MB")
    common = ["--data-dir", data, "--log-format", "text", "--log", "warn"]
    subprocess.run([binary, "migrate", *common], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([binary, "admin", "create-user", "--email", "bench@example.com", "--password",
                    "segredo-forte", "--name", "Bench", "--tenant", "Bench", "--system-admin", *common],
                   check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([binary, "api", "--bind", f"127.0.0.1:{port}", *common])
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        login = call(base, "POST", "/v1/auth/login", body={"email": "bench@example.com", "password": "segredo-forte"})
        token, tenant = login["token"], login["tenant"]["id"]
        call(base, "PATCH", f"/v1/admin/tenants/{tenant}", token,
             {"quotas": {"max_fields": 100_000, "max_hectares": 10_000_000}})
        farm = call(base, "POST", "/v1/farms", token, {"name": "Bench"})["id"]
        with open(municipal, "rb") as f:
            body = f.read()
        start = time.monotonic()
        dry = call(base, "POST", f"/v1/farms/{farm}/import?dry_run=true&geometry=false", token, body, "application/zip")
        took = time.monotonic() - start
        ok = sum(1 for f in dry["features"] if f["status"] == "ok")
        print(f"dry run, {len(dry['features'])} properties ({ok} ok), no geometries: {took:.2f} s")
        start = time.monotonic()
        dry = call(base, "POST", f"/v1/farms/{farm}/import?dry_run=true", token, body, "application/zip")
        print(f"dry run, {len(dry['features'])} properties with geometries: {time.monotonic() - start:.2f} s")
        with open(batch, "rb") as f:
            body = f.read()
        start = time.monotonic()
        real = call(base, "POST", f"/v1/farms/{farm}/import?dry_run=false", token, body, "application/zip")
        print(f"real import, {len(real['created'])} fields and {len(real['backfill_job_ids'])} backfills "
              f"in one request: {time.monotonic() - start:.2f} s")
        if backfills:
            catalog = os.path.join(tmp, "empty-catalog")
            os.makedirs(catalog)
            start = time.monotonic()
            worker = subprocess.Popen([binary, "worker", "--bind", f"127.0.0.1:{free_port()}",
                                       "--imagery-source", catalog, *common],
                                      env={**os.environ, "VIVACAMPO_WEATHER_SOURCE": "off"})
            try:
                while True:
                    q = call(base, "GET", "/v1/admin/ops/queues", token)
                    if q["pending"] + q["running"] + q["failed"] == 0:
                        break
                    if time.monotonic() - start > 1800:
                        raise SystemExit(f"backfills not finished after 30 min: {q}")
                    time.sleep(1)
                took = time.monotonic() - start
                jobs = call(base, "GET", "/v1/jobs?status=SUCCEEDED&page_size=1", token)["total"]
                print(f"backfills of the 500 fields finished with one worker: {took:.1f} s, "
                      f"{jobs} jobs succeeded, {q['dead']} dead ({jobs / took:.0f} jobs/s)")
            finally:
                worker.terminate()
                worker.wait(timeout=30)
    finally:
        server.terminate()
        server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
