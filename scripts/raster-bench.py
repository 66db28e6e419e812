#!/usr/bin/env python3
"""Benchmark helpers for scripts/raster-bench.sh.

    raster-bench.py make FILE     # 10980 x 10980 uint16 COG, Deflate + predictor 2, 1024 tiles
    raster-bench.py decode FILE   # rasterio (GDAL) full read, 1 thread and all threads
"""
import os
import sys
import time

import numpy as np
import rasterio
from rasterio.enums import Resampling
from rasterio.transform import Affine

N = 10980


def make(path):
    """Sentinel-2-like band: smooth fields plus sensor noise, 0 = nodata in one corner."""
    rng = np.random.default_rng(1)
    profile = dict(driver="GTiff", width=N, height=N, count=1, dtype="uint16", crs="EPSG:32722",
                   transform=Affine(10, 0, 199980, 0, -10, 7500040), nodata=0, tiled=True,
                   blockxsize=1024, blockysize=1024, compress="deflate", predictor=2,
                   BIGTIFF="IF_SAFER")
    tmp = path + ".tmp.tif"
    with rasterio.open(tmp, "w", **profile) as ds:
        for r0 in range(0, N, 1024):
            h = min(1024, N - r0)
            yy, xx = np.mgrid[r0:r0 + h, 0:N]
            v = 1500 + 900 * np.sin(xx / 97.0) * np.cos(yy / 61.0) + 300 * np.sin((xx + yy) / 13.0)
            v += rng.normal(0, 40, v.shape)
            a = np.clip(v, 1, 65535).astype(np.uint16)
            if r0 == 0:
                a[:200, :300] = 0
            ds.write(a, 1, window=rasterio.windows.Window(0, r0, N, h))
    # COG layout with overviews, as Earth Search serves it
    from rio_cogeo.cogeo import cog_translate
    from rio_cogeo.profiles import cog_profiles
    prof = cog_profiles.get("deflate")
    prof.update(blockxsize=1024, blockysize=1024, predictor=2)
    cog_translate(tmp, path, prof, overview_resampling="average", quiet=True)
    os.remove(tmp)
    print(f"wrote {path} ({os.path.getsize(path) / 1e6:.0f} MB)")


def decode(path):
    for threads in ["1", "ALL_CPUS"]:
        best = float("inf")
        for _ in range(3):
            with rasterio.Env(GDAL_NUM_THREADS=threads, GDAL_CACHEMAX=64):
                t = time.perf_counter()
                with rasterio.open(path) as ds:
                    a = ds.read(1)
                best = min(best, time.perf_counter() - t)
        mpx = a.size / best / 1e6
        print(f"rasterio {rasterio.__version__} / GDAL {rasterio.__gdal_version__}, "
              f"GDAL_NUM_THREADS={threads}: {best * 1000:.0f} ms ({mpx:.0f} Mpx/s)")


if __name__ == "__main__":
    {"make": make, "decode": decode}[sys.argv[1]](sys.argv[2])
