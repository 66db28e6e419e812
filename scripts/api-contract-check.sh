#!/usr/bin/env bash
# Checks the served OpenAPI document with tools that are not ours:
#   1. openapi-spec-validator must find 0 errors in GET /v1/openapi.json;
#   2. schemathesis, a property-based fuzzer, generates requests from that document and sends
#      them, signed in, to the real debug binary (`vivacampo serve` on loopback, a temporary
#      data directory, an empty offline imagery catalog). Every check must pass: no 5xx, every
#      status, content type and body as documented, invalid input refused, valid input accepted.
# The run is bounded (examples per operation, SCHEMATHESIS_MAX_TIME seconds); the few
# operations where a check cannot apply are listed, with the reason, in api-contract-check.toml.
# Exits non-zero on any failure. Needs python3 (pip installs the two tools when missing) and cargo.
#
#   bash scripts/api-contract-check.sh            # SCHEMATHESIS_EXAMPLES=40 SCHEMATHESIS_MAX_TIME=240
set -euo pipefail
cd "$(dirname "$0")/.."

target="${CARGO_TARGET_DIR:-$PWD/target}"
examples="${SCHEMATHESIS_EXAMPLES:-40}"
max_time="${SCHEMATHESIS_MAX_TIME:-240}"
port="${API_CONTRACT_PORT:-18097}"
base="http://127.0.0.1:$port"

python3 -c 'import openapi_spec_validator' 2>/dev/null ||
    python3 -m pip install --quiet 'openapi-spec-validator>=0.7,<0.10'
python3 -c 'import schemathesis' 2>/dev/null || python3 -m pip install --quiet 'schemathesis>=4.3,<5'

cargo build --locked -q -p vivacampo
bin="$target/debug/vivacampo"

work=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

export VIVACAMPO_DATA_DIR="$work/data"
mkdir -p "$work/catalog"
email="contract@vivacampo.test"
password="contract-check-$(date +%s)"
"$bin" admin create-user --email "$email" --password "$password" --name "Contract check" \
    --tenant "Contract check" --role TENANT_ADMIN --system-admin >/dev/null

"$bin" serve --bind "127.0.0.1:$port" --imagery-source "$work/catalog" --log-format text \
    --auth-rate-limit 100000 >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    curl -fs "$base/healthz" >/dev/null 2>&1 && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/server.log"; exit 1; }
    sleep 0.2
done
curl -fs "$base/healthz" >/dev/null

token=$(curl -fs -X POST "$base/v1/auth/login" -H 'content-type: application/json' \
    -d "{\"email\":\"$email\",\"password\":\"$password\"}" |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["token"])')

# A farm and a field, so the field routes answer with real content (the fuzzer rarely draws a
# valid field geometry itself); api-contract-check.toml points those routes' {id} here.
json_id() { python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])'; }
farm=$(curl -fs -X POST "$base/v1/farms" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' -d '{"name": "Contract farm"}' | json_id)
field='{"type": "Polygon", "coordinates": [[[-49.30, -16.70], [-49.29, -16.70], [-49.29, -16.69], [-49.30, -16.69], [-49.30, -16.70]]]}'
VIVACAMPO_CONTRACT_AOI=$(curl -fs -X POST "$base/v1/aois" -H "authorization: Bearer $token" \
    -H 'content-type: application/json' \
    -d "{\"farm_id\": \"$farm\", \"name\": \"Contract field\", \"use_type\": \"CROP\", \"geometry\": $field}" | json_id)
export VIVACAMPO_CONTRACT_AOI

echo "==> openapi-spec-validator"
curl -fs "$base/v1/openapi.json" -o "$work/openapi.json"
python3 - "$work/openapi.json" <<'EOF'
import json, sys
from openapi_spec_validator import OpenAPIV31SpecValidator
spec = json.load(open(sys.argv[1]))
errors = list(OpenAPIV31SpecValidator(spec).iter_errors())
for e in errors:
    print(f"  {'/'.join(map(str, e.absolute_path))}: {e.message}")
print(f"openapi-spec-validator: {len(errors)} errors")
sys.exit(1 if errors else 0)
EOF

echo "==> schemathesis ($examples examples per operation, at most ${max_time}s)"
# Every check runs (schemathesis' default; `--checks all` on the command line would override the
# per-operation settings of the .toml). Signing out would revoke the token the run uses: that one
# operation is not fuzzed, nor is switching feature flags (a flag turned off makes its routes
# answer the documented 503 FEATURE_DISABLED for the rest of the run).
status=0
schemathesis --no-color --config-file scripts/api-contract-check.toml run "$base/v1/openapi.json" --url "$base" \
    --header "Authorization: Bearer $token" \
    --generation-database none \
    --exclude-path /v1/auth/logout \
    --exclude-path-regex "^/v1/admin/flags/" \
    --max-examples "$examples" --max-time "$max_time" --seed 20261205 \
    --workers 2 --request-timeout 30 \
    --suppress-health-check too_slow,filter_too_much \
    --report junit --report-dir "$work/report" || status=$?
if [ "$status" -ne 0 ]; then
    echo "server log (last 40 lines):"
    tail -n 40 "$work/server.log"
fi
exit "$status"
