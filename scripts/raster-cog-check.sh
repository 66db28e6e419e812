#!/usr/bin/env bash
# Writes COGs with vivacampo-raster (the cases of crates/vivacampo-raster/tests/cog_write.rs:
# u16 reflectance with scale/offset, f32 NDVI with NaN as nodata, u8 classes with nearest
# overviews) and checks them with GDAL: `rio cogeo validate --strict` and a rasterio read-back
# compared to what the writer was given. Exits non-zero when any file fails or none was written.
# Installs rasterio, numpy and rio-cogeo with pip when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -c 'import numpy, rasterio, rio_cogeo' 2>/dev/null ||
    python3 -m pip install --quiet rasterio numpy rio-cogeo
command -v rio >/dev/null || { echo "rio (from rasterio) is not on PATH" >&2; exit 1; }

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
VC_COG_OUT="$out" cargo test --locked -q -p vivacampo-raster --test cog_write
expected="ndvi_f32 reflectance_u16 scl_u8"
written=$(cd "$out" && ls -- *.tif 2>/dev/null | sed 's/\.tif$//' | sort | tr '\n' ' ' | sed 's/ $//')
if [ "$written" != "$expected" ]; then
    echo "expected COGs: $expected; written: ${written:-none}" >&2
    exit 1
fi
python3 scripts/raster-fixtures.py check-cog "$out"/*.tif
