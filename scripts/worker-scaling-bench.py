#!/usr/bin/python3
"""Worker scaling: a backlog of field-weeks drained by 1, 2 and 4 `vivacampo worker` processes
on PostgreSQL; prints the drain time and field-weeks per hour of each run.

    /usr/bin/python3 scripts/worker-scaling-bench.py [path/to/vivacampo] [--fields 250]
        [--catalog DIR | --demo-catalog] [--latency-ms MS] [--runs 1x1,2x1,4x1]
        [--postgres postgres://postgres@127.0.0.1:5432/postgres]

The three settings of docs/performance.md ("Worker scaling"):

    # queue-bound: a catalog without scenes, every week ends NO_DATA
    worker-scaling-bench.py $CARGO_TARGET_DIR/debug/vivacampo --fields 250
    # CPU-bound: the local demo catalog (real COGs), release build
    worker-scaling-bench.py $CARGO_TARGET_DIR/release/vivacampo --fields 250 --demo-catalog
    # I/O-bound: the same catalog over HTTP, 80 ms added to every request
    worker-scaling-bench.py $CARGO_TARGET_DIR/release/vivacampo --fields 100 --demo-catalog \\
        --latency-ms 80 --runs 1x1,2x1,4x1,1x4,1x8

Each run gets a fresh database, imports `--fields` fields through `POST /v1/farms/{id}/import`
(a zipped SICAR shapefile: ~20 ha circles 560 m apart on a grid centred on the demo catalog's
area around Rio Verde, so 250 fields span 8.9 km of its 10 km) with the workers stopped, then
starts the workers and polls `GET /v1/admin/ops/queues` until nothing is pending, running or
failed. A backfill covers the default 8 ISO weeks up to today, so 250 fields are 2 000
field-weeks. `--runs` lists the runs as WORKERSxCONCURRENCY (`vivacampo worker` processes ×
`--worker-concurrency`); speed-ups are against the first run.

Imagery: without `--catalog` or `--demo-catalog` the catalog has no scenes, so every week ends
NO_DATA and the run measures the queue and the database. `--demo-catalog` writes `vivacampo
imagery demo-catalog --weeks 9` (ending today, so it covers the 8 backfill weeks) and uses it.
`--latency-ms` serves the catalog with `vivacampo imagery serve-catalog` behind a loopback proxy
(in this script) that waits that long before forwarding each request, as a remote COG store and
STAC API would; the workers then use `--imagery-source http://…` of the proxy. The radar source
follows the imagery source (`radar_source` unset), so the demo catalog's Sentinel-1 scenes are
read too: a field-week is a PROCESS_WEEK and a PROCESS_RADAR_WEEK job. Weather is off.

After each run the script prints the CPU time spent while draining by the workers, the API
(which answers the polling) and the PostgreSQL backends of the run's database (from /proc, so
it does not count other processes loading the machine), then, before the database is dropped,
the jobs by type and status with their mean run time and the optical and radar field-weeks by
status (OK, CLOUDY, NO_DATA…), so a run whose imagery was not read shows it.
"""

import http.client
import http.server
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

from osgeo import osr

HERE = os.path.dirname(os.path.abspath(__file__))
spec = importlib.util.spec_from_file_location("importbench", os.path.join(HERE, "vector-import-bench.py"))
bench = importlib.util.module_from_spec(spec)
spec.loader.exec_module(bench)

# The demo catalog's centre (crates/vivacampo-imagery/src/demo.rs, CENTER) and the field grid.
DEMO_CENTER = (-50.90, -17.74)
SPACING, RADIUS = 560, 250
# Headers that belong to one connection, not to the request or response forwarded.
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "te", "trailer", "transfer-encoding",
              "upgrade"}


def grid_origin(fields):
    """The first field's centre (EPSG:31982) so that the grid is centred on the demo area."""
    wgs84, utm = osr.SpatialReference(), osr.SpatialReference()
    wgs84.ImportFromEPSG(4326)
    utm.ImportFromEPSG(31982)
    wgs84.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    utm.SetAxisMappingStrategy(osr.OAMS_TRADITIONAL_GIS_ORDER)
    cx, cy, _ = osr.CoordinateTransformation(wgs84, utm).TransformPoint(*DEMO_CENTER)
    side = 1
    while side * side < fields:
        side += 1
    half = (side - 1) * SPACING / 2
    return cx - half, cy - half


class DelayProxy(http.server.ThreadingHTTPServer):
    """Forwards every request to `backend` after `delay` seconds, keeping the method, headers
    (Range, Host: the catalog server builds its links from Host), body and status."""

    daemon_threads = True
    request_queue_size = 256

    def __init__(self, backend, delay):
        self.backend, self.delay = backend, delay
        self.requests, self.bytes, self.lock = 0, 0, threading.Lock()
        self.local = threading.local()
        super().__init__(("127.0.0.1", 0), ProxyHandler)

    def forward(self, method, path, headers, body):
        for attempt in range(2):
            conn = getattr(self.local, "conn", None)
            if conn is None:
                conn = self.local.conn = http.client.HTTPConnection(*self.backend, timeout=60)
            try:
                conn.request(method, path, body, headers)
                res = conn.getresponse()
                return res, res.read()
            except (http.client.HTTPException, OSError):
                conn.close()
                self.local.conn = None
                if attempt:
                    raise


class ProxyHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def relay(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
        time.sleep(self.server.delay)
        res, data = self.server.forward(self.command, self.path, headers, body)
        with self.server.lock:
            self.server.requests += 1
            self.server.bytes += len(data)
        self.send_response(res.status)
        for k, v in res.getheaders():
            if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    do_GET = do_POST = do_HEAD = relay

    def log_message(self, *args):
        pass


def serve_catalog(binary, catalog, latency_ms):
    """`vivacampo imagery serve-catalog` behind a DelayProxy: (process, proxy, proxy URL)."""
    port = bench.free_port()
    server = subprocess.Popen([binary, "imagery", "serve-catalog", catalog, "--listen", f"127.0.0.1:{port}"],
                              stdout=subprocess.DEVNULL)
    for _ in range(600):
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1)
            break
        except OSError:
            time.sleep(0.1)
    proxy = DelayProxy(("127.0.0.1", port), latency_ms / 1000)
    threading.Thread(target=proxy.serve_forever, daemon=True).start()
    return server, proxy, f"http://127.0.0.1:{proxy.server_address[1]}"


def psql(url, sql):
    subprocess.run(["psql", url, "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def psql_rows(url, sql):
    out = subprocess.run(["psql", url, "-qAtF", "\t", "-c", sql], check=True, capture_output=True, text=True)
    return [line.split("\t") for line in out.stdout.splitlines()]


def cpu_seconds(pid):
    """User + system CPU time of a running process."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds(database):
    """CPU time of the PostgreSQL backends connected to `database` (their process titles name it)."""
    total = 0.0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                title = f.read().decode(errors="replace")
            if title.startswith("postgres: ") and f" {database} " in title:
                total += cpu_seconds(pid)
        except OSError:
            pass
    return total


def report(url):
    """What the run did, from its database: jobs by type and status, field-weeks by status."""
    jobs = psql_rows(url, "SELECT job_type, status, count(*), round(avg(finished_at - started_at)) "
                          "FROM jobs GROUP BY 1, 2 ORDER BY 1, 2")
    print("  jobs: " + ", ".join(f"{t} {s} {n} (mean {ms} ms)" for t, s, n, ms in jobs))
    for table in ("aoi_weeks", "aoi_radar_weeks"):
        rows = psql_rows(url, f"SELECT status, count(*) FROM {table} GROUP BY 1 ORDER BY 1")
        print(f"  {table}: " + (", ".join(f"{s} {n}" for s, n in rows) or "none"))


def run(binary, admin_url, workers, concurrency, fields, imagery, tmp, proxy):
    label = f"{workers}x{concurrency}"
    name = f"vc_scaling_{os.getpid()}_{workers}_{concurrency}"
    psql(admin_url, f"DROP DATABASE IF EXISTS {name}")
    psql(admin_url, f"CREATE DATABASE {name}")
    parts = urllib.parse.urlsplit(admin_url)
    url = urllib.parse.urlunsplit(parts._replace(path="/" + name))
    data = os.path.join(tmp, f"data-{label}")
    env = {**os.environ, "VIVACAMPO_DATABASE_URL": url, "VIVACAMPO_WEATHER_SOURCE": "off"}
    common = ["--data-dir", data, "--log-format", "text", "--log", "warn"]
    subprocess.run([binary, "migrate", *common], check=True, stdout=subprocess.DEVNULL, env=env)
    subprocess.run([binary, "admin", "create-user", "--email", "bench@example.com", "--password",
                    "segredo-forte", "--name", "Bench", "--tenant", "Bench", "--system-admin", *common],
                   check=True, stdout=subprocess.DEVNULL, env=env)
    port = bench.free_port()
    base = f"http://127.0.0.1:{port}"
    procs = [subprocess.Popen([binary, "api", "--bind", f"127.0.0.1:{port}", *common], env=env)]
    try:
        for _ in range(600):
            try:
                urllib.request.urlopen(base + "/healthz", timeout=1)
                break
            except OSError:
                time.sleep(0.1)
        login = bench.call(base, "POST", "/v1/auth/login",
                           body={"email": "bench@example.com", "password": "segredo-forte"})
        token, tenant = login["token"], login["tenant"]["id"]
        bench.call(base, "PATCH", f"/v1/admin/tenants/{tenant}", token,
                   {"quotas": {"max_fields": 100_000, "max_hectares": 10_000_000}})
        farm = bench.call(base, "POST", "/v1/farms", token, {"name": "Bench"})["id"]
        batch = os.path.join(tmp, f"batch-{label}.zip")
        os.makedirs(os.path.join(tmp, f"w{label}"))
        bench.sicar_zip(batch, fields, os.path.join(tmp, f"w{label}"), grid_origin(fields), SPACING, RADIUS)
        with open(batch, "rb") as f:
            bench.call(base, "POST", f"/v1/farms/{farm}/import?dry_run=false", token, f.read(),
                       "application/zip")
        queued = bench.call(base, "GET", "/v1/admin/ops/queues", token)
        if proxy:
            with proxy.lock:
                proxy.requests = proxy.bytes = 0
        print(f"{label}: load average {os.getloadavg()[0]:.2f} at the start", flush=True)
        # The import's share of the API's and PostgreSQL's CPU time, not counted below.
        before = {"api": cpu_seconds(procs[0].pid), "PostgreSQL": postgres_cpu_seconds(name)}
        start = time.monotonic()
        for _ in range(workers):
            procs.append(subprocess.Popen(
                [binary, "worker", "--bind", f"127.0.0.1:{bench.free_port()}", "--worker-concurrency",
                 str(concurrency), "--imagery-source", imagery, *common], env=env))
        while True:
            q = bench.call(base, "GET", "/v1/admin/ops/queues", token)
            if q["pending"] + q["running"] + q["failed"] == 0:
                break
            if time.monotonic() - start > 3600:
                raise SystemExit(f"not drained after 60 min: {q}")
            time.sleep(0.5)
        took = time.monotonic() - start
        cpu = {"workers": sum(cpu_seconds(p.pid) for p in procs[1:]),
               "api": cpu_seconds(procs[0].pid) - before["api"],
               "PostgreSQL": postgres_cpu_seconds(name) - before["PostgreSQL"]}
        weeks = fields * 8
        print(f"{workers} worker(s) x concurrency {concurrency}: {queued['pending']} jobs queued, "
              f"{weeks} field-weeks drained in {took:.1f} s = {weeks / took * 3600:,.0f} field-weeks/h, "
              f"{q['dead']} dead; load average {os.getloadavg()[0]:.2f} at the end", flush=True)
        print("  CPU time: " + ", ".join(f"{k} {v:.1f} s ({v / weeks * 1000:.1f} ms per field-week)"
                                        for k, v in cpu.items()))
        if proxy:
            print(f"  catalog requests through the proxy: {proxy.requests} ({proxy.bytes / 1e6:.1f} MB)")
        report(url)
        return took
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=30)
        psql(admin_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        shutil.rmtree(data, ignore_errors=True)


def main():
    args = sys.argv[1:]

    def option(name, default):
        if name in args:
            i = args.index(name)
            value = args[i + 1]
            del args[i:i + 2]
            return value
        return default

    def flag(name):
        if name in args:
            args.remove(name)
            return True
        return False

    fields = int(option("--fields", "250"))
    catalog = option("--catalog", None)
    demo = flag("--demo-catalog")
    latency_ms = float(option("--latency-ms", "0"))
    runs = [tuple(int(n) for n in r.split("x")) for r in option("--runs", "1x1,2x1,4x1").split(",")]
    admin_url = option("--postgres", "postgres://postgres@127.0.0.1:5432/postgres")
    target = os.environ.get("CARGO_TARGET_DIR", os.path.join(HERE, "..", "target"))
    binary = args[0] if args else os.path.join(target, "debug", "vivacampo")
    tmp = tempfile.mkdtemp(prefix="vc-scaling-")
    if demo:
        catalog = os.path.join(tmp, "demo-catalog")
        subprocess.run([binary, "imagery", "demo-catalog", "--out", catalog, "--weeks", "9"], check=True)
    elif catalog is None:
        catalog = os.path.join(tmp, "empty-catalog")
        os.makedirs(catalog)
    server, proxy, imagery = None, None, os.path.abspath(catalog)
    if latency_ms:
        server, proxy, imagery = serve_catalog(binary, imagery, latency_ms)
    print(f"binary {binary}; {fields} fields; imagery {imagery}"
          + (f" (+{latency_ms:.0f} ms per request)" if proxy else ""), flush=True)
    try:
        times = {(w, c): run(binary, admin_url, w, c, fields, imagery, tmp, proxy) for w, c in runs}
    finally:
        if proxy:
            proxy.shutdown()
            server.terminate()
            server.wait(timeout=30)
        shutil.rmtree(tmp, ignore_errors=True)
    first = times[runs[0]]
    print("speed-up: " + ", ".join(f"{w}x{c} {first / t:.2f}x" for (w, c), t in times.items()))


if __name__ == "__main__":
    main()
