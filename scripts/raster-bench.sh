#!/usr/bin/env bash
# Raster engine benchmarks: our figures and GDAL's (rasterio) for the same 10980 x 10980 band,
# in one run. Needs: pip install rasterio numpy rio-cogeo. Release build; takes a few minutes
# the first time (the test band is generated once into $VC_BENCH_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${VC_BENCH_DIR:-/tmp/vc-raster-bench}
mkdir -p "$dir"
cog="$dir/s2_like_b04.tif"
[ -f "$cog" ] || python3 scripts/raster-bench.py make "$cog"
cargo bench -q -p vivacampo-raster --bench raster --no-run 2>/dev/null
# The machine is shared: alternate the two readers a few times; compare the best of each.
for round in 1 2 3; do
    echo "== round $round, load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
    python3 scripts/raster-bench.py decode "$cog"
    VC_BENCH_COG="$cog" VC_BENCH_DECODE_ONLY=1 cargo bench -q -p vivacampo-raster --bench raster 2>/dev/null
done
echo "== vivacampo-raster, other targets"
cargo bench -q -p vivacampo-raster --bench raster 2>/dev/null
