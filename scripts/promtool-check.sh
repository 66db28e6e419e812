#!/usr/bin/env bash
# Checks the alert rules in deploy/prometheus/ and runs their unit tests with promtool (Debian
# package `prometheus`; installed here if missing, the service is not started), and checks that
# every alert has a test and a runbook link, and the dashboard is valid JSON.
set -euo pipefail
cd "$(dirname "$0")/../deploy/prometheus"

if ! command -v promtool >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null \
        || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus >/dev/null; }
fi

promtool check rules alerts.yml
promtool test rules tests.yml

status=0
for alert in $(grep -oP '^\s+- alert: \K\S+' alerts.yml); do
    if ! grep -qE "alertname: ${alert}(,|$| )" tests.yml; then
        echo "alert $alert has no test in tests.yml" >&2
        status=1
    fi
done
alerts=$(grep -c '^\s*- alert:' alerts.yml)
links=$(grep -c 'runbook_url: "docs/runbooks/' alerts.yml)
if [[ "$alerts" != "$links" ]]; then
    echo "$alerts alerts but $links runbook links" >&2
    status=1
fi
python3 -m json.tool grafana-dashboard.json >/dev/null
# Every runbook link names an existing file and heading (GitHub's heading anchors).
python3 - <<'PY' || status=1
import re, sys
bad = 0
for url in sorted(set(re.findall(r'runbook_url: "([^"]+)"', open("alerts.yml").read()))):
    path, _, anchor = url.partition("#")
    try:
        text = open("../../" + path).read()
    except OSError:
        print(f"runbook link {url}: no such file", file=sys.stderr); bad = 1; continue
    slugs = {re.sub(r"[^a-z0-9 _-]", "", h.strip().lower()).replace(" ", "-")
             for h in re.findall(r"^#+ (.*)$", text, re.M)}
    if anchor and anchor not in slugs:
        print(f"runbook link {url}: no such heading", file=sys.stderr); bad = 1
sys.exit(bad)
PY
exit $status
