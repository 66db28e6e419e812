#!/usr/bin/env python3
"""Fixtures and reference values for crates/vivacampo-raster, made with GDAL (rasterio).

    pip install rasterio numpy rio-cogeo pyproj spyndex
    python3 scripts/raster-fixtures.py gen        # GeoTIFF matrix + expected.json
    python3 scripts/raster-fixtures.py crs        # crs_points.json (pyproj)
    python3 scripts/raster-fixtures.py numeric    # stats_ref.json (numpy) + index_ref.json (spyndex)
    python3 scripts/raster-fixtures.py warp       # warp_ref.json (GDAL warper, exact transformer)
    python3 scripts/raster-fixtures.py check-cog FILE.tif [...]   # rio cogeo validate + read back

Rust tests compare against the JSON written here exactly (pixels) or within the stated
tolerances. Every fixture is small (70 x 50 px, 32 x 32 tiles, so edge tiles are partial).
"""
import json
import os
import subprocess
import sys
import warnings

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIX = os.path.join(ROOT, "crates", "vivacampo-raster", "tests", "fixtures")
GEN = os.path.join(FIX, "gen")

W, H = 70, 50
TRANSFORM = Affine(10.0, 0.0, 500000.0, 0.0, -10.0, 7500000.0)
DTYPES = ["uint8", "int16", "uint16", "int32", "uint32", "float32", "float64"]
WINDOW = (13, 9, 40, 33)  # col_off, row_off, width, height


def fnv64(arr):
    """FNV-1a 64 over the little-endian bytes of a C-ordered array (the Rust tests use the same)."""
    data = np.ascontiguousarray(arr)
    data = data.astype(data.dtype.newbyteorder("<"), copy=False).tobytes()
    h = 0xCBF29CE484222325
    # numpy-vectorised would need 64-bit overflow tricks; files are tiny, a loop is fine.
    for b in data:
        h ^= b
        h = (h * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return "%016x" % h


def make_data(dtype, bands, w=W, h=H, seed=0):
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w]
    out = []
    for b in range(bands):
        smooth = np.sin(xx / 9.0 + b) * np.cos(yy / 7.0 - b)
        noise = rng.normal(0, 0.05, (h, w))
        v = smooth + noise  # about [-1.2, 1.2]
        if dtype == "uint8":
            a = np.clip((v + 1.2) * 100, 0, 255).astype(np.uint8)
        elif dtype == "int16":
            a = (v * 12000).astype(np.int16)
        elif dtype == "uint16":
            a = np.clip((v + 1.2) * 25000, 0, 65535).astype(np.uint16)
        elif dtype == "int32":
            a = (v * 1.5e9).astype(np.int32)
        elif dtype == "uint32":
            a = ((v + 1.2) * 1.7e9).astype(np.uint32)
        elif dtype == "float32":
            a = (v * 1000.0).astype(np.float32)
        else:
            a = (v * 1e5 + 1e-3 * xx).astype(np.float64)
        out.append(a)
    return np.stack(out)


def samples(arr):
    bands, h, w = arr.shape
    pts = [(0, 0), (h - 1, w - 1), (h - 1, 0), (0, w - 1), (31, 31), (32, 32), (h // 2, w // 3)]
    res = []
    for b in range(bands):
        for r, c in pts:
            v = arr[b, r, c]
            res.append([b + 1, r, c, float(v) if arr.dtype.kind == "f" else int(v)])
    return res


def describe(path):
    with rasterio.open(path) as ds:
        full = ds.read()
        win = ds.read(window=rasterio.windows.Window(*WINDOW))
        d = {
            "file": os.path.relpath(path, FIX),
            "width": ds.width,
            "height": ds.height,
            "count": ds.count,
            "dtype": ds.dtypes[0],
            "nodata": "nan" if ds.nodata is not None and np.isnan(ds.nodata) else ds.nodata,
            "epsg": ds.crs.to_epsg() if ds.crs else None,
            "geotransform": list(ds.transform.to_gdal()),
            "block": list(ds.block_shapes[0][::-1]),
            "overviews": ds.overviews(1),
            "band_fnv": [fnv64(full[b]) for b in range(ds.count)],
            "window": list(WINDOW),
            "window_fnv": [fnv64(win[b]) for b in range(ds.count)],
            "samples": samples(full),
            "descriptions": list(ds.descriptions),
            "scales": list(ds.scales),
            "offsets": list(ds.offsets),
        }
        ovs = []
        for i, f in enumerate(ds.overviews(1)):
            with rasterio.open(path, overview_level=i) as ov:
                a = ov.read()
                ovs.append({"width": ov.width, "height": ov.height,
                            "band_fnv": [fnv64(a[b]) for b in range(ov.count)]})
        d["overview_data"] = ovs
        flags = ds.mask_flag_enums[0]
        if any(f.name == "per_dataset" for f in flags):
            d["mask_fnv"] = fnv64(ds.dataset_mask())
        return d


def write(name, arr, **opts):
    path = os.path.join(GEN, name + ".tif")
    profile = dict(driver="GTiff", width=arr.shape[2], height=arr.shape[1], count=arr.shape[0],
                   dtype=str(arr.dtype), crs=opts.pop("crs", "EPSG:32722"),
                   transform=opts.pop("transform", TRANSFORM))
    overviews = opts.pop("overviews", None)
    mask = opts.pop("mask", None)
    profile.update(opts)
    env = {"GDAL_TIFF_INTERNAL_MASK": True} if mask is not None else {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.Env(**env):
            with rasterio.open(path, "w", **profile) as ds:
                ds.write(arr)
                if mask is not None:
                    ds.write_mask(mask)
                if overviews:
                    ds.build_overviews(overviews, Resampling.average)
    return path


def gen():
    os.makedirs(GEN, exist_ok=True)
    for f in os.listdir(GEN):
        os.remove(os.path.join(GEN, f))
    tiled = dict(tiled=True, blockxsize=32, blockysize=32, interleave="pixel")
    files = []
    # compression x predictor x dtype, tiled, pixel-interleaved, little-endian classic TIFF
    for dt in DTYPES:
        arr = make_data(dt, 2)
        files.append(write(f"none_{dt}", arr, compress="none", **tiled))
        preds = [1, 2] + ([3] if dt.startswith("float") else [])
        for comp in ["deflate", "lzw", "zstd"]:
            for p in preds:
                files.append(write(f"{comp}_p{p}_{dt}", arr, compress=comp, predictor=p, **tiled))
    # layouts: strips, planar, big-endian, BigTIFF
    layouts = {
        "strip": dict(tiled=False, blockysize=8, interleave="pixel"),
        "tiled_planar": dict(tiled=True, blockxsize=32, blockysize=32, interleave="band"),
        "strip_planar": dict(tiled=False, blockysize=8, interleave="band"),
        "tiled_be": dict(tiled=True, blockxsize=32, blockysize=32, interleave="pixel",
                         ENDIANNESS="BIG"),
        "tiled_bigtiff": dict(tiled=True, blockxsize=32, blockysize=32, interleave="pixel",
                              BIGTIFF="YES"),
        "strip_planar_bigtiff_be": dict(tiled=False, blockysize=8, interleave="band",
                                        BIGTIFF="YES", ENDIANNESS="BIG"),
    }
    for lname, lopts in layouts.items():
        for dt, comp, p in [("uint16", "deflate", 2), ("float32", "zstd", 3),
                            ("int16", "lzw", 2), ("uint8", "none", 1)]:
            files.append(write(f"{lname}_{comp}_p{p}_{dt}", make_data(dt, 3, seed=1),
                               compress=comp, predictor=p, **lopts))
    # georeferencing, nodata, overviews, masks
    files.append(write("geo_4326_nodata", make_data("int16", 1, seed=2), crs="EPSG:4326",
                       transform=Affine(0.001, 0, -47.9, 0, -0.001, -15.7), nodata=-9999,
                       compress="deflate", **tiled))
    rot = Affine(7.0, 2.0, 300000.0, 1.5, -7.0, 8000000.0)
    files.append(write("rotated_31983", make_data("uint16", 1, seed=3), crs="EPSG:31983",
                       transform=rot, compress="deflate", **tiled))
    files.append(write("overviews_uint16", make_data("uint16", 2, seed=4), nodata=0,
                       compress="deflate", predictor=2, overviews=[2, 4], **tiled))
    m = np.full((H, W), 255, np.uint8)
    m[10:30, 5:40] = 0
    m[:, 65:] = 0
    files.append(write("mask_uint8", make_data("uint8", 3, seed=5), compress="deflate",
                       mask=m, **tiled))
    files.append(write("nodata_nan_float32", make_data("float32", 1, seed=6), nodata=float("nan"),
                       compress="lzw", predictor=3, **tiled))
    for name in ["rgbn.tif", "rgbn_suba.tif"]:
        files.append(os.path.join(FIX, name))
    expected = [describe(p) for p in files]
    with open(os.path.join(FIX, "expected.json"), "w") as fh:
        json.dump(expected, fh, indent=1)
    total = sum(os.path.getsize(p) for p in files)
    print(f"{len(files)} fixtures, {total / 1e6:.2f} MB")


def crs():
    from pyproj import Transformer
    rng = np.random.default_rng(7)
    cases = []
    zones = [(32601, 1), (32618, 18), (32633, 33), (32660, 60), (32701, 1), (32722, 22),
             (32760, 60), (31965, 11), (31973, 19), (31983, 23), (31985, 25), (31978, 18)]
    for epsg, zone in zones:
        north = epsg < 32700 and not (31965 <= epsg <= 31985 and False)
        cm = -183 + 6 * zone
        pts = []
        for _ in range(12):
            dlon = rng.uniform(-9, 9)  # well outside the 3 degrees of the zone
            lat = rng.uniform(-80, 84)
            pts.append((cm + dlon, lat))
        # explicit: far from the meridian, and southern points in northern zones
        pts += [(cm + 3, 0.0), (cm - 2.9, -10.0), (cm + 0.5, -33.2), (cm, 45.0), (cm + 8, 60.0)]
        t = Transformer.from_crs(4326, epsg, always_xy=True)
        for lon, lat in pts:
            x, y = t.transform(lon, lat)
            cases.append({"epsg": epsg, "lon": lon, "lat": lat, "x": x, "y": y})
    t = Transformer.from_crs(4326, 3857, always_xy=True)
    for lon, lat in [(0, 0), (-47.93, -15.78), (179.9, 85.0), (-179.9, -85.0), (5.15, 52.04)]:
        x, y = t.transform(lon, lat)
        cases.append({"epsg": 3857, "lon": lon, "lat": lat, "x": x, "y": y})
    with open(os.path.join(FIX, "crs_points.json"), "w") as fh:
        json.dump(cases, fh, indent=0)
    print(f"{len(cases)} CRS points")


def np_stats(v, zone):
    z = v[zone]
    ok = z[np.isfinite(z)]
    out = {"count": int(z.size), "valid_count": int(ok.size),
           "valid_ratio": ok.size / z.size if z.size else 0.0}
    for k, f in [("mean", np.nanmean), ("std", np.nanstd), ("min", np.nanmin), ("max", np.nanmax)]:
        out[k] = float(f(z)) if ok.size else None
    for p in (10, 50, 90):
        out[f"p{p}"] = float(np.nanpercentile(z, p)) if ok.size else None
    return out


def cli_reference():
    """What `vivacampo raster info/stats` must print for rgbn_suba.tif (nodata 0)."""
    from pyproj import Transformer
    from rasterio.features import rasterize
    from rasterio.warp import transform_bounds
    with rasterio.open(os.path.join(FIX, "rgbn_suba.tif")) as ds:
        bounds = transform_bounds(ds.crs, "EPSG:4326", *ds.bounds, densify_pts=64)
        a = ds.read().astype("float64")
        a[a == ds.nodata] = np.nan
        red, nir = a[2], a[3]
        with np.errstate(divide="ignore", invalid="ignore"):
            ndvi = (nir - red) / (nir + red)
        ndvi[~((ndvi >= -1) & (ndvi <= 1))] = np.nan
        # a field with a hole, in lon/lat; vertices projected to UTM as the Rust code does
        x0, y0 = ds.bounds.left, ds.bounds.top
        ring = [(x0 + 101.3, y0 - 80.7), (x0 + 903.1, y0 - 121.9), (x0 + 1000.7, y0 - 703.3),
                (x0 + 302.9, y0 - 901.1)]
        hole = [(x0 + 401.7, y0 - 301.3), (x0 + 601.1, y0 - 298.9), (x0 + 503.3, y0 - 502.9)]
        to_ll = Transformer.from_crs(ds.crs, 4326, always_xy=True)
        ll = lambda r: [list(to_ll.transform(x, y)) for x, y in r + r[:1]]
        aoi = {"type": "Polygon", "coordinates": [ll(ring), ll(hole)]}
        to_utm = Transformer.from_crs(4326, ds.crs, always_xy=True)
        utm = {"type": "Polygon", "coordinates": [[list(to_utm.transform(*p)) for p in r]
                                                  for r in aoi["coordinates"]]}
        zone = rasterize([(utm, 1)], out_shape=(ds.height, ds.width), transform=ds.transform) == 1
        full = np.ones_like(zone)
        return {"bounds_lonlat": list(bounds), "aoi": aoi,
                "ndvi_aoi": np_stats(ndvi, zone), "band1": np_stats(a[0], full),
                "geotransform": list(ds.transform.to_gdal())}


def numeric():
    import spyndex
    rng = np.random.default_rng(11)
    # statistics: values with NaNs and masked entries
    vals = rng.normal(0.4, 0.2, 997)
    vals[::17] = np.nan
    valid = vals[np.isfinite(vals)]
    stats = {
        "values": [None if not np.isfinite(v) else float(v) for v in vals],
        "count": int(vals.size), "valid_count": int(valid.size),
        "mean": float(np.nanmean(vals)), "std": float(np.nanstd(vals)),
        "min": float(np.nanmin(vals)), "max": float(np.nanmax(vals)),
        "p10": float(np.nanpercentile(vals, 10)), "p50": float(np.nanpercentile(vals, 50)),
        "p90": float(np.nanpercentile(vals, 90)),
    }
    counts, edges = np.histogram(valid, bins=10, range=(-0.2, 1.0))
    stats["histogram"] = {"bins": 10, "range": [-0.2, 1.0], "counts": counts.tolist(),
                          "edges": edges.tolist()}
    # polygon masks: rasterio.features.rasterize (pixel centres / all touched), holes included
    from rasterio.features import rasterize
    poly = {"type": "Polygon", "coordinates": [
        [[500012.3, 7499987.1], [500611.0, 7499950.2], [500655.5, 7499530.8],
         [500300.2, 7499580.4], [500040.9, 7499620.0], [500012.3, 7499987.1]],
        [[500200.0, 7499900.0], [500330.0, 7499905.0], [500310.0, 7499760.0],
         [500200.0, 7499900.0]]]}
    masks = {}
    for touched in [False, True]:
        m = rasterize([(poly, 1)], out_shape=(H, W), transform=TRANSFORM, all_touched=touched)
        masks["all_touched" if touched else "centre"] = "".join(map(str, m.ravel().tolist()))
    stats["polygon"] = poly
    stats["masks"] = masks
    stats["cli"] = cli_reference()
    with open(os.path.join(FIX, "stats_ref.json"), "w") as fh:
        json.dump(stats, fh)
    # indices on reflectance
    n = 64
    bands = {k: rng.uniform(0.01, 0.6, n) for k in ["B", "G", "R", "RE1", "N", "S1", "S2"]}
    params = dict(bands)
    params.update(L=0.5, g=2.5, C1=6.0, C2=7.5)
    names = {"ndvi": "NDVI", "ndre": "NDREI", "ndwi": "NDWI", "ndmi": "NDMI", "evi": "EVI",
             "savi": "SAVI", "gndvi": "GNDVI", "reci": "CIRE", "msi": "MSI", "nbr": "NBR",
             "bsi": "BI", "ari": "ARI", "cri": "CRI550"}
    out = {"bands": {k: v.tolist() for k, v in bands.items()}, "indices": {}, "formulas": {}}
    for ours, theirs in names.items():
        idx = spyndex.indices[theirs]
        p = dict(params, L=1.0) if ours == "evi" else params  # spyndex: EVI L=1, SAVI L=0.5
        vals = spyndex.computeIndex(theirs, params={b: p[b] for b in idx.bands})
        out["indices"][ours] = np.asarray(vals, dtype=float).tolist()
        out["formulas"][ours] = {"spyndex": theirs, "formula": idx.formula, "bands": idx.bands}
    with open(os.path.join(FIX, "index_ref.json"), "w") as fh:
        json.dump(out, fh)
    print(json.dumps(out["formulas"], indent=1))


def warp():
    """gdalwarp-equivalent references (exact transformer, tolerance 0) for XYZ tiles over rgbn*.tif."""
    from rasterio.warp import reproject
    half = 20037508.342789244
    cases = []
    for name, (z, x, y) in [("rgbn.tif", (16, 19620, 29336)), ("rgbn.tif", (15, 9810, 14668)),
                            ("rgbn.tif", (17, 39240, 58672)),
                            ("rgbn_suba.tif", (16, 19620, 29336))]:
        size = 2 * half / 2 ** z
        minx, maxy = -half + x * size, half - y * size
        px = 96  # a coarse grid over the tile keeps the JSON small; the lattice is still used
        dst_t = Affine(size / px, 0, minx, 0, -size / px, maxy)
        with rasterio.open(os.path.join(FIX, name)) as ds:
            for method in ["nearest", "bilinear"]:
                out = np.full((px, px), np.nan)
                reproject(ds.read(1).astype("float64"), out, src_transform=ds.transform,
                          src_crs=ds.crs, src_nodata=ds.nodata if ds.nodata is not None else None,
                          dst_transform=dst_t, dst_crs="EPSG:3857", dst_nodata=np.nan,
                          resampling=getattr(Resampling, method), tolerance=0)
                cases.append({"file": name, "z": z, "x": x, "y": y, "size": px, "method": method,
                              "values": [None if not np.isfinite(v) else round(float(v), 9)
                                         for v in out.ravel()]})
    with open(os.path.join(FIX, "warp_ref.json"), "w") as fh:
        json.dump(cases, fh)
    print(f"{len(cases)} warp references")


def compare_overviews(path):
    """How far our overviews are from GDAL's own (same resampling) for the same pixels."""
    import tempfile
    with rasterio.open(path) as ds:
        if not ds.overviews(1):
            return
        nearest = ds.dtypes[0] == "uint8" and ds.nodata is None
        profile = ds.profile
        data = ds.read()
        ours = []
        for i in range(len(ds.overviews(1))):
            with rasterio.open(path, overview_level=i) as ov:
                ours.append(ov.read().astype("float64"))
    with tempfile.TemporaryDirectory() as tmp:
        ref = os.path.join(tmp, "ref.tif")
        profile.update(driver="GTiff")
        with rasterio.open(ref, "w", **profile) as dst:
            dst.write(data)
            dst.build_overviews(ds_factors(path), Resampling.nearest if nearest else Resampling.average)
        for i, o in enumerate(ours):
            with rasterio.open(ref, overview_level=i) as ov:
                g = ov.read().astype("float64")
            same = o.shape == g.shape
            diff = np.nanmax(np.abs(o - g)) if same else float("nan")
            print(f"  overview {i} {o.shape[1:]} vs GDAL {g.shape[1:]} "
                  f"({'nearest' if nearest else 'average'}): max |diff| {diff}")


def ds_factors(path):
    with rasterio.open(path) as ds:
        return ds.overviews(1)


def check_cog(paths):
    ok = True
    for p in paths:
        r = subprocess.run(["rio", "cogeo", "validate", "--strict", p], capture_output=True, text=True)
        print(r.stdout.strip() or r.stderr.strip())
        ok &= r.returncode == 0 and "is a valid cloud optimized GeoTIFF" in r.stdout
        side = p + ".expect.json"  # written by the Rust test: what it meant to write
        if os.path.exists(side):
            exp = json.load(open(side))
            with rasterio.open(p) as ds:
                a = ds.read()
                nd = ds.nodata
                got = {"band_fnv": [fnv64(a[b]) for b in range(ds.count)],
                       "descriptions": list(ds.descriptions), "scales": list(ds.scales),
                       "offsets": list(ds.offsets),
                       "nodata": "nan" if nd is not None and np.isnan(nd) else nd,
                       "epsg": ds.crs.to_epsg(), "geotransform": list(ds.transform.to_gdal()),
                       "overviews": ds.overviews(1)}
            for k, v in exp.items():
                if got.get(k) != v:
                    print(f"  MISMATCH {k}: rasterio {got.get(k)} expected {v}")
                    ok = False
            print(f"  read back through rasterio: {'identical' if ok else 'DIFFERENT'}")
            compare_overviews(p)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else "gen"
    {"gen": gen, "crs": crs, "numeric": numeric, "warp": warp}.get(cmd, lambda: check_cog(sys.argv[2:]))()
