#!/usr/bin/env bash
# Starts an S3 server (moto) on loopback for the S3 tests and creates the test bucket; prints
# the variables the tests read. `scripts/s3-test-server.sh stop` stops it.
#
#   eval "$(scripts/s3-test-server.sh)"
#   cargo test -p vivacampo-imagery --test s3
set -euo pipefail

port="${VIVACAMPO_TEST_S3_PORT:-5055}"
bucket="${VIVACAMPO_TEST_S3_BUCKET:-vivacampo-test}"
pidfile="${TMPDIR:-/tmp}/vivacampo-moto-$port.pid"
url="http://127.0.0.1:$port"

if [[ "${1:-}" == stop ]]; then
    [[ -f "$pidfile" ]] && kill "$(cat "$pidfile")" 2>/dev/null || true
    rm -f "$pidfile"
    exit 0
fi

if ! command -v moto_server >/dev/null 2>&1; then
    python3 -m pip install --quiet 'moto[server]' >&2
fi

if ! curl -fsS -o /dev/null "$url/" 2>/dev/null; then
    nohup moto_server -H 127.0.0.1 -p "$port" >"${TMPDIR:-/tmp}/vivacampo-moto-$port.log" 2>&1 &
    echo $! >"$pidfile"
    for _ in $(seq 1 50); do
        curl -fsS -o /dev/null "$url/" 2>/dev/null && break
        sleep 0.2
    done
fi
curl -fsS -o /dev/null "$url/" >&2

# moto accepts any credentials; an existing bucket answers 409, which is fine.
curl -sS -o /dev/null -X PUT "$url/$bucket" >&2

echo "export VIVACAMPO_TEST_S3_ENDPOINT=$url"
echo "export VIVACAMPO_TEST_S3_BUCKET=$bucket"
