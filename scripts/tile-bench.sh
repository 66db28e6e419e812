#!/usr/bin/env bash
# Tile server load test (issue 5): the release binary on the demo data, cold and warm, at
# concurrency 8 and 32, 64 clients for 30 s, and TiTiler on the same field COG when it is
# installed (TITILER_PYTHON=/path/to/python with `pip install titiler.application uvicorn`).
# Prints one JSON line per run: tiles/s, p50/p95/p99, statuses. See docs/performance.md.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=${VC_TILE_BENCH_DIR:-$(mktemp -d /tmp/vc-tile-bench.XXXX)}
mkdir -p "$dir"
api_port=${VC_TILE_BENCH_PORT:-18480}
titiler_port=$((api_port + 1))
cargo build -q --release -p vivacampo
cargo bench -q -p vivacampo --bench tile_load --no-run 2>/dev/null
bin=target/release/vivacampo
[ -n "${CARGO_TARGET_DIR:-}" ] && bin=$CARGO_TARGET_DIR/release/vivacampo
load() { cargo bench -q -p vivacampo --bench tile_load -- "$@" 2>/dev/null; }
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; }
trap cleanup EXIT

wait_ready() {
    for _ in $(seq 1 120); do
        curl -fs "http://127.0.0.1:$1/readyz" >/dev/null 2>&1 && return 0
        sleep 0.5
    done
    echo "server on :$1 did not start" >&2
    exit 1
}

# 1. The demo: seed and process 8 weeks of 2 fields, then stop.
# Request logs stay on (info, as deployed), written to a file.
export VIVACAMPO_DATA_DIR=$dir
if [ ! -f "$dir/.processed" ]; then
    "$bin" demo --bind "127.0.0.1:$api_port" >>"$dir/server.log" &
    pids+=($!)
    wait_ready "$api_port"
    for _ in $(seq 1 240); do
        n=$(find "$dir/rasters" -name '*.tif' 2>/dev/null | wc -l)
        [ "$n" -ge 16 ] && break
        sleep 0.5
    done
    sleep 2
    kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true
    touch "$dir/.processed"
fi
echo "== $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg), $(find "$dir/rasters" -name '*.tif' | wc -l) field-week COGs"

# 2. Our runs: the api role (tiles included) with the caches as each run needs.
serve() {
    "$bin" api --bind "127.0.0.1:$api_port" "$@" >>"$dir/server.log" &
    pids+=($!)
    wait_ready "$api_port"
}
stop() { kill "${pids[-1]}"; wait "${pids[-1]}" 2>/dev/null || true; }
base=http://127.0.0.1:$api_port

serve --tile-cache 0
load --vivacampo "$base" --concurrency 8 --label "cold pass (tile cache off), c=8"
load --vivacampo "$base" --concurrency 32 --label "cold pass (tile cache off), c=32"
load --vivacampo "$base" --concurrency 8 --seconds 10 --label "cold (tile cache off), cycling, c=8"
stop
serve --tile-cache 0 --tile-block-cache 0
load --vivacampo "$base" --concurrency 8 --label "cold pass (both caches off), c=8"
stop
serve
load --vivacampo "$base" --concurrency 8 --warmup --seconds 10 --label "warm, c=8"
load --vivacampo "$base" --concurrency 8 --seconds 15 --rate 2000 --label "warm, 2000 tiles/s offered, c=8"
load --vivacampo "$base" --concurrency 32 --seconds 10 --label "warm, c=32"
load --vivacampo "$base" --concurrency 64 --seconds 30 --label "warm, 64 clients x 30 s"
stop
serve --tile-cache 0
load --vivacampo "$base" --concurrency 64 --seconds 30 --label "cold (tile cache off), 64 clients x 30 s"
# The TiTiler comparison's tile set: one field-week, NDVI, rendered on every request.
load --vivacampo "$base" --concurrency 8 --seconds 15 --fields 1 --weeks 1 --indices ndvi \
    --label "one field-week NDVI, tile cache off, c=8 (vs TiTiler)"
tj=$(curl -fs -X POST "$base/v1/auth/login" -H 'Content-Type: application/json' \
    -d '{"email":"demo@vivacampo.dev","password":"vivacampo-demo"}' | python3 -c 'import json,sys; print(json.load(sys.stdin)["token"])')
aoi=$(curl -fs "$base/v1/aois" -H "Authorization: Bearer $tj" | python3 -c 'import json,sys; print(json.load(sys.stdin)["items"][0]["id"])')
bounds=$(curl -fs "$base/v1/tiles/aois/$aoi/tilejson.json?index=ndvi" -H "Authorization: Bearer $tj" \
    | python3 -c 'import json,sys; print(",".join(map(str, json.load(sys.stdin)["bounds"])))')
stop

# 3. TiTiler (2 uvicorn workers) on the newest COG of the same field, same expression, rescale,
# colormap, resampling.
if [ -n "${TITILER_PYTHON:-}" ]; then
    cog=$(find "$dir/rasters" -path "*$aoi*" -name '*.tif' | sort | tail -1)
    "$TITILER_PYTHON" -m uvicorn titiler.application.main:app --port "$titiler_port" --workers 2 \
        --log-level warning &
    pids+=($!)
    for _ in $(seq 1 60); do curl -fs "http://127.0.0.1:$titiler_port/healthz" >/dev/null 2>&1 && break; sleep 0.5; done
    q="url=file://$cog&expression=(b5-b3)/(b5%2Bb3)&unscale=true&rescale=-0.2,0.8&colormap_name=rdylgn&resampling=bilinear&reproject=bilinear"
    load --template "http://127.0.0.1:$titiler_port/cog/tiles/WebMercatorQuad/{z}/{x}/{y}.png?$q" \
        --bounds "$bounds" --concurrency 8 --seconds 15 --label "TiTiler, same field-week NDVI, c=8"
    stop
fi
