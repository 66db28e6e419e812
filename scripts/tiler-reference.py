#!/usr/bin/env python3
"""Reference index values of XYZ tiles of the committed field-week COGs, rendered by rio-tiler
(TiTiler's engine) the way the VivaCampo tiler renders them: bands unscaled with the file's
scale/offset, warped bilinearly (tile reads padded, see PADDING), every index computed per pixel from its formula, clipped to the
field polygon the COG carries in its `VIVACAMPO_FIELD` metadata (pixel centres inside, as
rasterio's geometry_mask decides on the tile grid). Writes
crates/vivacampo-raster/tests/fixtures/field_week_tiles.json, which
`cargo test -p vivacampo-raster --test titiler_ref` compares with our renderer (Rust tests never
need Python).

The COGs are field-weeks written by the real pipeline (`vivacampo demo`): `field_week.tif` is the
demo pivot on a clear week, `field_week_cloudy.tif` a rectangular field on a partly cloudy one.

    python3 -m venv /tmp/rt && /tmp/rt/bin/pip install rio-tiler
    /tmp/rt/bin/python scripts/tiler-reference.py
"""
import json
import os

import morecantile
import numpy as np
import rio_tiler
from rasterio.enums import Resampling
from rasterio.features import geometry_mask
from rasterio.warp import reproject, transform_geom
from rio_tiler.colormap import cmap
from rio_tiler.io import Reader

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "crates", "vivacampo-raster", "tests", "fixtures")
COGS = ["field_week.tif", "field_week_cloudy.tif"]
OUT = os.path.join(FIXTURES, "field_week_tiles.json")
# 1-based bands of a field-week COG: B02 B03 B04 B05 B08 B11 B12 mask.
BANDS = {"B": 1, "G": 2, "R": 3, "RE1": 4, "N": 5, "S1": 6, "S2": 7}
NIR = BANDS["N"]
# The formulas of crates/vivacampo-raster/src/index.rs, written out independently.
INDICES = {
    "ndvi": lambda b: (b["N"] - b["R"]) / (b["N"] + b["R"]),
    "ndre": lambda b: (b["N"] - b["RE1"]) / (b["N"] + b["RE1"]),
    "ndwi": lambda b: (b["G"] - b["N"]) / (b["G"] + b["N"]),
    "ndmi": lambda b: (b["N"] - b["S1"]) / (b["N"] + b["S1"]),
    "evi": lambda b: 2.5 * (b["N"] - b["R"]) / (b["N"] + 6 * b["R"] - 7.5 * b["B"] + 1),
    "savi": lambda b: 1.5 * (b["N"] - b["R"]) / (b["N"] + b["R"] + 0.5),
    "gndvi": lambda b: (b["N"] - b["G"]) / (b["N"] + b["G"]),
    "reci": lambda b: b["N"] / b["RE1"] - 1,
    "msi": lambda b: b["S1"] / b["N"],
    "nbr": lambda b: (b["N"] - b["S2"]) / (b["N"] + b["S2"]),
    "bsi": lambda b: ((b["S1"] + b["R"]) - (b["N"] + b["B"])) / ((b["S1"] + b["R"]) + (b["N"] + b["B"])),
    "ari": lambda b: 1 / b["G"] - 1 / b["RE1"],
    "cri": lambda b: 1 / b["B"] - 1 / b["G"],
}
SAMPLES = 64  # pixels kept per tile and index
# rio-tiler reads each tile alone, so a widened (downsampling) kernel is cut at the tile's edge
# unless the read is padded; ours samples the whole window. Padding compares like with like.
PADDING = 8


def runs(valid):
    """[row, start, end) runs of valid pixels."""
    out = []
    for r, row in enumerate(valid):
        padded = np.concatenate([[False], row, [False]])
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        out.extend([r, int(a), int(b)] for a, b in zip(edges[::2], edges[1::2]))
    return out


def tiles_of(name, tms):
    out = []
    with Reader(os.path.join(FIXTURES, name)) as cog:
        field = json.loads(cog.dataset.tags()["VIVACAMPO_FIELD"])
        field_3857 = transform_geom("EPSG:4326", "EPSG:3857", field)
        w, s, e, n = cog.get_geographic_bounds("epsg:4326")
        cx, cy = (w + e) / 2, (s + n) / 2
        points = [(cx, cy, z) for z in range(12, 19)]
        points += [(w + (e - w) * 0.08, cy, 16), (e - (e - w) * 0.05, n - (n - s) * 0.05, 17),
                   (cx, s + (n - s) * 0.1, 18)]
        for lon, lat, z in points:
            t = tms.tile(lon, lat, z)
            data = cog.tile(t.x, t.y, t.z, tilesize=256, indexes=tuple(BANDS.values()),
                            resampling_method="bilinear", reproject_method="bilinear",
                            unscale=True, padding=PADDING)
            inside = geometry_mask([field_3857], out_shape=(256, 256), transform=data.transform,
                                   invert=True, all_touched=False)
            bands = {k: data.array[i].filled(np.nan).astype("float64")
                     for i, k in enumerate(BANDS)}
            keep = inside & ~np.ma.getmaskarray(data.array).any(axis=0)
            # Values are sampled only where the kernel sees clear pixels alone: at cloud edges
            # renderers legitimately differ (GDAL's warper answers nodata, rio-tiler's two-stage
            # read mixes, ours renormalises over the clear taps); the outlines compare those.
            clear = np.zeros((256, 256))
            reproject((cog.dataset.read(NIR) != 0).astype("float64"), clear,
                      src_transform=cog.dataset.transform, src_crs=cog.dataset.crs,
                      dst_transform=data.transform, dst_crs="EPSG:3857",
                      resampling=Resampling.bilinear)
            sampled = keep & (clear > 0.9999)
            entry = {"cog": name, "z": t.z, "x": t.x, "y": t.y, "inside": runs(inside),
                     "valid": runs(keep), "indices": {}}
            for index, formula in INDICES.items():
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = formula(bands)
                ok = sampled & np.isfinite(values)
                flat = np.flatnonzero(ok.ravel())
                if len(flat) > SAMPLES:
                    flat = flat[np.linspace(0, len(flat) - 1, SAMPLES).astype(int)]
                entry["indices"][index] = [[int(i), round(float(values.ravel()[i]), 6)]
                                           for i in flat]
            out.append(entry)
    return out


def main():
    tms = morecantile.tms.get("WebMercatorQuad")
    tiles = [t for name in COGS for t in tiles_of(name, tms)]
    doc = {
        "generator": f"scripts/tiler-reference.py, rio-tiler {rio_tiler.__version__}",
        "cogs": COGS,
        "colormaps": {"rdylgn": [list(map(int, cmap.get("rdylgn")[i][:3])) for i in range(256)]},
        "tiles": tiles,
    }
    with open(OUT, "w") as f:
        json.dump(doc, f, separators=(",", ":"))
    print("wrote", OUT, len(tiles), "tiles,",
          sum(len(v) for t in tiles for v in t["indices"].values()), "values")


if __name__ == "__main__":
    main()
