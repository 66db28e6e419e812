#!/usr/bin/env bash
# PROCESS_WEEK benchmarks (docs/performance.md): builds the bench in release, then runs it pinned
# to one core so "on one core" means what it says.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/root/.cache/vivacampo-target}"
cargo bench -p vivacampo-worker --bench pipeline --no-run 2>&1 | tail -1
bin=$(ls -t "$CARGO_TARGET_DIR"/release/deps/pipeline-* | grep -v '\.d$' | head -1)
taskset -c 0 "$bin" --bench
