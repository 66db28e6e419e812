#!/usr/bin/env bash
# Writes COGs with vivacampo-raster and checks them with GDAL: `rio cogeo validate --strict`
# and a rasterio read-back compared to what the writer was given.
# Needs: pip install rasterio numpy rio-cogeo
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
VC_COG_OUT="$out" cargo test -q -p vivacampo-raster --test cog_write >/dev/null
python3 scripts/raster-fixtures.py check-cog "$out"/*.tif
rm -rf "$out"
