#!/usr/bin/env python3
"""Sentinel-1 RTC test fixtures and their independent radar statistics (rasterio + numpy).

1. Writes a small static STAC catalog of `sentinel-1-rtc` items, shaped like Planetary
   Computer's (assets `vv` and `vh`: float32 gamma0 linear-power COGs written by GDAL's COG
   driver, nodata -32768, `sat:orbit_state`, `sat:relative_orbit`), over the field of
   scripts/ndvi-reference.py, to crates/vivacampo-worker/tests/fixtures/radar-catalog/:
     - S1A 2026-03-07 descending: the newest; its western part is outside the swath (nodata);
     - S1A 2026-03-03 descending: covers everything (fills the newest one's gap);
     - S1A 2026-03-05 ascending: the other look direction, which the field does not use.
   The backscatter is a field-scale pattern times gamma-distributed speckle (4 looks).

2. Computes what docs/radar.md says PROCESS_RADAR_WEEK computes, without any of its code:
   the field grid (UTM, 10 m, bbox + 1 pixel, pixel centres inside the polygon); the field's
   orbit direction (most scenes in the 8 weeks up to the week; ties descending); the week's
   scenes of that direction newest first, VV and VH warped by GDAL (nearest) onto the grid;
   per pixel the newest valid one (both finite and > 0); a 3 x 3 mean of the valid pixels
   around each valid pixel; rvi = 4 VH/(VV+VH), vh_vv = VH/VV with numpy's nan statistics
   over the field; vv_db / vh_db as 10 log10 of the linear nanmean, nanmin, nanmax and
   nanpercentile (linear), and the std of the per-pixel dB values.
   Writes crates/vivacampo-worker/tests/fixtures/radar-reference.json, which the Rust test
   `radar_statistics_equal_an_independent_rasterio_computation` compares (1e-6).

    pip install rasterio pyproj numpy
    python3 scripts/radar-fixtures.py
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
CATALOG = FIXTURES / "radar-catalog"
OUTPUT = FIXTURES / "radar-reference.json"

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
NODATA = -32768.0
EPSG = 32722
# The scenes' 10 m grid: 1.2 km square, aligned like Sentinel-1 RTC's UTM grids.
X0, Y1, SIZE = 510000.0, 8039220.0, 120
SCENES = [
    # id, datetime, orbit, relative orbit, VV mean, VH mean, columns without data (west)
    ("S1A_IW_GRDH_1SDV_20260303T085512_R053_RTC", "2026-03-03T08:55:12Z", "descending", 53, 0.080, 0.018, 0),
    ("S1A_IW_GRDH_1SDV_20260305T214402_R082_RTC", "2026-03-05T21:44:02Z", "ascending", 82, 0.110, 0.030, 0),
    ("S1A_IW_GRDH_1SDV_20260307T085512_R053_RTC", "2026-03-07T08:55:12Z", "descending", 53, 0.060, 0.010, 50),
]
CLEAR_DN = None


def write_cog(path, data):
    profile = {
        "driver": "COG",
        "width": SIZE,
        "height": SIZE,
        "count": 1,
        "dtype": "float32",
        "crs": f"EPSG:{EPSG}",
        "transform": from_origin(X0, Y1, RES, RES),
        "nodata": NODATA,
        "compress": "DEFLATE",
        "blocksize": 256,
    }
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(data.astype(np.float32), 1)


def make_catalog():
    CATALOG.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(2026)
    to_lonlat = pyproj.Transformer.from_crs(EPSG, 4326, always_xy=True)
    corners = [to_lonlat.transform(x, y) for x, y in
               [(X0, Y1), (X0 + SIZE * RES, Y1), (X0, Y1 - SIZE * RES), (X0 + SIZE * RES, Y1 - SIZE * RES)]]
    lons = [c[0] for c in corners]
    lats = [c[1] for c in corners]
    bbox = [min(lons), min(lats), max(lons), max(lats)]
    yy, xx = np.mgrid[0:SIZE, 0:SIZE]
    pattern = 1.0 + 0.3 * np.sin(xx / 17.0) * np.cos(yy / 23.0)
    links = []
    for sid, when, orbit, rel, vv_mean, vh_mean, gap in SCENES:
        d = CATALOG / sid
        d.mkdir(exist_ok=True)
        for band, mean in (("vv", vv_mean), ("vh", vh_mean)):
            speckle = rng.gamma(4.0, 1.0 / 4.0, size=(SIZE, SIZE))
            data = mean * pattern * speckle
            data[:, :gap] = NODATA
            write_cog(d / f"{band}.tif", data)
        item = {
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [],
            "id": sid,
            "collection": "sentinel-1-rtc",
            "bbox": bbox,
            "geometry": {"type": "Polygon", "coordinates": [[
                [bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]], [bbox[0], bbox[1]]]]},
            "properties": {
                "datetime": when,
                "platform": "SENTINEL-1A",
                "constellation": "Sentinel-1",
                "sar:instrument_mode": "IW",
                "sar:polarizations": ["VV", "VH"],
                "sat:orbit_state": orbit,
                "sat:relative_orbit": rel,
                "proj:epsg": EPSG,
                "proj:shape": [SIZE, SIZE],
                "proj:transform": [RES, 0.0, X0, 0.0, -RES, Y1],
            },
            "assets": {
                band: {
                    "href": f"./{band}.tif",
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "roles": ["data"],
                    "title": f"{band.upper()}: gamma0 terrain-corrected, linear power",
                    "raster:bands": [{"nodata": NODATA, "data_type": "float32"}],
                }
                for band in ("vv", "vh")
            },
            "links": [],
        }
        (d / f"{sid}.json").write_text(json.dumps(item, indent=2) + "\n")
        links.append({"href": f"./{sid}/{sid}.json", "rel": "item", "type": "application/geo+json"})
    links.append({"href": "./catalog.json", "rel": "root", "type": "application/json"})
    catalog = {
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "vivacampo-radar-fixture",
        "description": "Sentinel-1 RTC-like test scenes over the reference field (scripts/radar-fixtures.py)",
        "links": links,
    }
    (CATALOG / "catalog.json").write_text(json.dumps(catalog, indent=2) + "\n")


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
    inside = geometry_mask([{"type": "Polygon", "coordinates": [ring]}], out_shape=(height, width),
                           transform=transform, all_touched=False, invert=True)
    return epsg, transform, width, height, inside


def read_on_grid(path, epsg, transform, width, height):
    out = np.full((height, width), np.nan, dtype=np.float64)
    with rasterio.open(path) as src:
        reproject(source=rasterio.band(src, 1), destination=out, src_nodata=src.nodata,
                  dst_transform=transform, dst_crs=f"EPSG:{epsg}", dst_nodata=np.nan,
                  resampling=Resampling.nearest)
    return out


def stats(values):
    valid = values[np.isfinite(values)]
    p10, p50, p90 = np.nanpercentile(values, [10, 50, 90])
    return {"valid_count": int(valid.size), "mean": float(np.nanmean(values)), "std": float(np.nanstd(values)),
            "min": float(np.nanmin(values)), "max": float(np.nanmax(values)),
            "p10": float(p10), "p50": float(p50), "p90": float(p90)}


def db_stats(values):
    s = stats(values)
    out = {k: (10 * math.log10(v) if k not in ("valid_count",) else v) for k, v in s.items()}
    out["std"] = float(np.nanstd(10 * np.log10(values)))
    return out


def main():
    make_catalog()
    epsg, transform, width, height, inside = field_grid()
    grid = (epsg, transform, width, height)
    items = []
    for path in sorted(CATALOG.glob("*/*.json")):
        items.append(json.loads(path.read_text()) | {"_dir": path.parent})
    monday = dt.datetime.fromisocalendar(YEAR, WEEK, 1).replace(tzinfo=dt.timezone.utc)
    end = monday + dt.timedelta(days=7) - dt.timedelta(seconds=1)
    start8 = monday - dt.timedelta(weeks=7)
    when = lambda i: dt.datetime.fromisoformat(i["properties"]["datetime"].replace("Z", "+00:00"))
    recent = [i for i in items if start8 <= when(i) <= end]
    asc = sum(i["properties"]["sat:orbit_state"] == "ascending" for i in recent)
    desc = sum(i["properties"]["sat:orbit_state"] == "descending" for i in recent)
    orbit = "ascending" if asc > desc else "descending"
    week_items = sorted([i for i in items if monday <= when(i) <= end and i["properties"]["sat:orbit_state"] == orbit],
                        key=when, reverse=True)
    vv = np.full((height, width), np.nan)
    vh = np.full((height, width), np.nan)
    used = []
    for item in week_items:
        a = read_on_grid(item["_dir"] / "vv.tif", *grid)
        b = read_on_grid(item["_dir"] / "vh.tif", *grid)
        ok = np.isfinite(a) & np.isfinite(b) & (a > 0) & (b > 0) & ~np.isfinite(vv)
        if (ok & inside).any():
            used.append(item["id"])
        vv[ok] = a[ok]
        vh[ok] = b[ok]
    valid = np.isfinite(vv)

    def boxcar(band):
        out = np.full_like(band, np.nan)
        for y in range(height):
            for x in range(width):
                if valid[y, x]:
                    win = band[max(y - 1, 0):y + 2, max(x - 1, 0):x + 2]
                    out[y, x] = np.mean(win[np.isfinite(win)])
        return out

    vv, vh = boxcar(vv), boxcar(vh)
    z = inside
    reference = {
        "field": {"type": "Polygon", "coordinates": [[list(p) for p in FIELD]]},
        "year": YEAR,
        "week": WEEK,
        "orbit": orbit,
        "scenes": used,
        "field_pixels": int(z.sum()),
        "valid_pixel_ratio": float(np.isfinite(vv[z]).sum() / z.sum()),
        "rvi": stats((4 * vh / (vv + vh))[z]),
        "vh_vv": stats((vh / vv)[z]),
        "vv_db": db_stats(vv[z]),
        "vh_db": db_stats(vh[z]),
    }
    OUTPUT.write_text(json.dumps(reference, indent=2) + "\n")
    print(json.dumps(reference, indent=2))


if __name__ == "__main__":
    main()
