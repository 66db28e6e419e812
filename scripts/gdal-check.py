#!/usr/bin/env python3
"""GDAL reads what `vivacampo demo` serves (issue 4's acceptance: "the COGs download and open in
GDAL"). Signs in to a running server as the demo account, downloads every processed week's COG of
every field through `GET /v1/aois/{id}/weeks/{year}/{week}/raster.tif`, and checks with rasterio
(GDAL) and rio-cogeo:

- it is a valid COG (`rio cogeo validate --strict` rules);
- band descriptions B02 … B12 and `mask`, reflectance scale 1e-4 / offset −0.1 as GDAL reads them;
- the field outline in the `VIVACAMPO_FIELD` metadata;
- NDVI computed by GDAL from the file over its `mask` equals the week's API statistics (within the
  uint16 quantisation of reflectance, 1e-3).

    python3 -m pip install rasterio rio-cogeo
    python3 scripts/gdal-check.py http://127.0.0.1:8080
"""
import json
import sys
import tempfile
import time
import urllib.error
import urllib.request

import numpy as np
import rasterio
from rio_cogeo.cogeo import cog_validate

BANDS = ("B02", "B03", "B04", "B05", "B08", "B11", "B12", "mask")


def call(base, path, token=None, body=None):
    req = urllib.request.Request(base + path, data=None if body is None else json.dumps(body).encode())
    req.add_header("content-type", "application/json")
    if token:
        req.add_header("authorization", f"Bearer {token}")
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.read()


def processed_fields(base, token, deadline):
    """The fields, once none has a job pending (the demo's backfills are done)."""
    while True:
        fields = json.loads(call(base, "/v1/aois", token))["items"]
        if fields and all(f["processing"]["pending_jobs"] == 0 for f in fields):
            return fields
        assert time.time() < deadline, "the demo's fields were not processed in time"
        time.sleep(1)


def main(base, email="demo@vivacampo.dev", password="vivacampo-demo"):
    deadline = time.time() + 300
    while True:
        try:
            token = json.loads(call(base, "/v1/auth/login", body={"email": email, "password": password}))["token"]
            break
        except (urllib.error.URLError, ConnectionError):
            assert time.time() < deadline, f"no server at {base}"
            time.sleep(1)
    checked = 0
    for aoi in processed_fields(base, token, deadline):
        history = json.loads(call(base, f"/v1/aois/{aoi['id']}/history?index=ndvi", token))["points"]
        means = {(p["year"], p["week"]): p["mean"] for p in history}
        for week in json.loads(call(base, f"/v1/aois/{aoi['id']}/weeks", token))["items"]:
            if week["status"] != "OK":
                continue
            y, w = week["year"], week["week"]
            with tempfile.NamedTemporaryFile(suffix=".tif") as f:
                f.write(call(base, f"/v1/aois/{aoi['id']}/weeks/{y}/{w}/raster.tif", token))
                f.flush()
                valid, errors, _ = cog_validate(f.name, strict=True, quiet=True)
                assert valid, f"{aoi['name']} {y}-W{w}: not a valid COG: {errors}"
                with rasterio.open(f.name) as cog:
                    assert cog.crs.to_epsg() // 100 in (326, 327), cog.crs
                    assert cog.descriptions == BANDS, cog.descriptions
                    assert cog.scales[:7] == (1e-4,) * 7 and cog.offsets[:7] == (-0.1,) * 7
                    outline = json.loads(cog.tags()["VIVACAMPO_FIELD"])
                    assert outline["type"] in ("Polygon", "MultiPolygon"), outline
                    red, nir, mask = (cog.read(i, masked=True) for i in (3, 5, 8))
                    red = red.astype("float64") * 1e-4 - 0.1
                    nir = nir.astype("float64") * 1e-4 - 0.1
                    clear = (mask.filled(0) == 1) & ~np.ma.getmaskarray(red) & ~np.ma.getmaskarray(nir)
                    ndvi = ((nir - red) / (nir + red)).filled(np.nan)[clear]
                    gdal_mean = float(np.nanmean(ndvi))
            api_mean = means[(y, w)]
            assert abs(gdal_mean - api_mean) < 1e-3, f"{aoi['name']} {y}-W{w}: GDAL {gdal_mean} API {api_mean}"
            checked += 1
            print(f"{aoi['name']} {y}-W{w:02}: valid COG, NDVI mean GDAL {gdal_mean:.5f} = API {api_mean:.5f}")
    assert checked > 0, "no processed week to check"
    print(f"{checked} field-week COGs open in GDAL {rasterio.__gdal_version__} and agree with the API")


if __name__ == "__main__":
    main(*sys.argv[1:])
