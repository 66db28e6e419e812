#!/usr/bin/env python3
"""Independent NDVI statistics of one field-week, with rasterio + numpy + pyproj.

Reads the Sentinel-2-like scene files of a static STAC catalog the way the product documents
its PROCESS_WEEK (docs/adr/0005-imagery-sources.md), without any of its code:

1. the week's items over the field (ISO week, bbox overlap), newest first;
2. the field grid: the field's UTM zone, 10 m pixels aligned to multiples of 10 m, the field's
   bounding box plus one pixel; pixels whose centre is inside the polygon (GDAL's rasterize);
3. per scene, every band warped by GDAL onto that grid with nearest neighbour (the 10 m grids
   are aligned, so each field pixel is exactly one source pixel; the product's bilinear gives
   the same values there): B04 and B08, the 20 m bands for the data check, and SCL;
   reflectance = DN * scale + offset from each asset's `raster:bands`, DN 0 = no data;
4. per pixel the newest observation whose SCL class is clear (2, 4, 5, 6, 7) and whose bands
   (all seven the product stores, 20 m ones included) have data;
5. NDVI = (B08 - B04) / (B08 + B04); numpy's nanmean, nanstd (ddof 0), nanmin, nanmax and
   nanpercentile (linear) over the field's pixels.

Writes crates/vivacampo-worker/tests/fixtures/ndvi-reference.json, which the Rust test
`ndvi_statistics_equal_an_independent_rasterio_computation` compares with the pipeline's
statistics (within 1e-6). The scene files are the committed fixture catalog made by:

    vivacampo imagery demo-catalog --out crates/vivacampo-worker/tests/fixtures/reference-catalog \
        --weeks 2 --end-date 2026-03-08 --size-m 1200

Re-run after changing the fixture:

    pip install rasterio pyproj numpy
    python3 scripts/ndvi-reference.py
"""

import datetime as dt
import json
import math
from pathlib import Path

import numpy as np
import pyproj
import rasterio
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.transform import from_origin
from rasterio.warp import reproject

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "crates/vivacampo-worker/tests/fixtures"
CATALOG = FIXTURES / "reference-catalog"
OUTPUT = FIXTURES / "ndvi-reference.json"

# An irregular field inside the fixture's 1.2 km area (lon, lat).
FIELD = [
    (-50.9035, -17.7430),
    (-50.8972, -17.7425),
    (-50.8965, -17.7380),
    (-50.8990, -17.7362),
    (-50.9030, -17.7370),
    (-50.9035, -17.7430),
]
YEAR, WEEK = 2026, 10
RES = 10.0
BANDS_10M = {"red": "B04", "nir": "B08", "blue": "B02", "green": "B03"}
BANDS_20M = {"rededge1": "B05", "swir16": "B11", "swir22": "B12"}
CLEAR = {2, 4, 5, 6, 7}


def week_interval(year, week):
    monday = dt.datetime.fromisocalendar(year, week, 1).replace(tzinfo=dt.timezone.utc)
    return monday, monday + dt.timedelta(days=7) - dt.timedelta(seconds=1)


def items_of_week():
    start, end = week_interval(YEAR, WEEK)
    lons = [p[0] for p in FIELD]
    lats = [p[1] for p in FIELD]
    field_bbox = (min(lons), min(lats), max(lons), max(lats))
    found = []
    for path in sorted(CATALOG.glob("*/*.json")):
        item = json.loads(path.read_text())
        when = dt.datetime.fromisoformat(item["properties"]["datetime"].replace("Z", "+00:00"))
        b = item["bbox"]
        overlaps = b[0] <= field_bbox[2] and field_bbox[0] <= b[2] and b[1] <= field_bbox[3] and field_bbox[1] <= b[3]
        if start <= when <= end and overlaps:
            found.append((when, path, item))
    found.sort(key=lambda f: f[0], reverse=True)
    return found


def field_grid():
    lons = [p[0] for p in FIELD]
    lats = [p[1] for p in FIELD]
    mid_lon, mid_lat = (min(lons) + max(lons)) / 2, (min(lats) + max(lats)) / 2
    zone = int(math.floor((mid_lon + 180) / 6)) + 1
    epsg = (32700 if mid_lat < 0 else 32600) + zone
    to_utm = pyproj.Transformer.from_crs(4326, epsg, always_xy=True)
    ring = [to_utm.transform(lon, lat) for lon, lat in FIELD]
    xs = [p[0] for p in ring]
    ys = [p[1] for p in ring]
    x0 = math.floor(min(xs) / RES) * RES - RES
    y0 = math.floor(min(ys) / RES) * RES - RES
    x1 = math.ceil(max(xs) / RES) * RES + RES
    y1 = math.ceil(max(ys) / RES) * RES + RES
    width, height = round((x1 - x0) / RES), round((y1 - y0) / RES)
    transform = from_origin(x0, y1, RES, RES)
    inside = geometry_mask(
        [{"type": "Polygon", "coordinates": [ring]}],
        out_shape=(height, width),
        transform=transform,
        all_touched=False,
        invert=True,
    )
    return epsg, transform, width, height, inside


def read_on_grid(path, epsg, transform, width, height, resampling, dtype):
    out = np.zeros((height, width), dtype=dtype)
    with rasterio.open(path) as src:
        reproject(
            source=rasterio.band(src, 1),
            destination=out,
            src_nodata=0,
            dst_transform=transform,
            dst_crs=f"EPSG:{epsg}",
            dst_nodata=0,
            resampling=resampling,
        )
    return out


def reflectance(item, path, key, grid):
    asset = item["assets"][key]
    band = asset["raster:bands"][0]
    dn = read_on_grid(path.parent / asset["href"], *grid, Resampling.nearest, np.uint16).astype(np.float64)
    refl = dn * band["scale"] + band["offset"]
    refl[dn == 0] = np.nan
    return refl


def main():
    epsg, transform, width, height, inside = field_grid()
    grid = (epsg, transform, width, height)
    scenes = items_of_week()
    assert scenes, "no scene in the week"
    chosen = np.full((height, width), -1)
    red = np.full((height, width), np.nan)
    nir = np.full((height, width), np.nan)
    for i, (_, path, item) in enumerate(scenes):
        scl = read_on_grid(path.parent / item["assets"]["scl"]["href"], *grid, Resampling.nearest, np.uint8)
        bands = {k: reflectance(item, path, k, grid) for k in list(BANDS_10M) + list(BANDS_20M)}
        have_data = np.all([np.isfinite(v) for v in bands.values()], axis=0)
        clear = np.isin(scl, list(CLEAR)) & have_data & (chosen < 0)
        chosen[clear] = i
        red[clear] = bands["red"][clear]
        nir[clear] = bands["nir"][clear]
    ndvi = (nir - red) / (nir + red)
    values = ndvi[inside]
    valid = values[np.isfinite(values)]
    p10, p50, p90 = np.nanpercentile(values, [10, 50, 90])
    reference = {
        "field": {"type": "Polygon", "coordinates": [[list(p) for p in FIELD]]},
        "year": YEAR,
        "week": WEEK,
        "grid": {"epsg": epsg, "width": width, "height": height, "origin": [transform.c, transform.f]},
        "scenes": [item["id"] for _, _, item in scenes],
        "field_pixels": int(inside.sum()),
        "valid_pixel_ratio": float(valid.size / inside.sum()),
        "ndvi": {
            "valid_count": int(valid.size),
            "mean": float(np.nanmean(values)),
            "std": float(np.nanstd(values)),
            "min": float(np.nanmin(values)),
            "max": float(np.nanmax(values)),
            "p10": float(p10),
            "p50": float(p50),
            "p90": float(p90),
        },
    }
    OUTPUT.write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
