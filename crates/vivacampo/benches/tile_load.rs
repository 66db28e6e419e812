//! HTTP load generator for map tiles: `scripts/tile-bench.sh` runs it against the release
//! binary (and TiTiler). Keep-alive HTTP/1.1 over plain TCP, one connection per client.
//!
//! ```text
//! cargo bench -p vivacampo --bench tile_load -- --vivacampo http://127.0.0.1:8080 \
//!     [--concurrency 8] [--seconds 0] [--rate 0] [--warmup] [--zooms 10-17] [--indices ndvi,evi]
//! cargo bench -p vivacampo --bench tile_load -- --template 'http://h/{z}/{x}/{y}.png?…' \
//!     --bounds W,S,E,N [same options]
//! ```
//! `--seconds 0` requests every tile once (a cold pass when the server's tile cache is off);
//! otherwise clients cycle through the tiles for that long. `--rate R` paces the clients to R
//! requests/s in all. Prints one JSON line.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

struct Options {
    vivacampo: Option<String>,
    template: Option<String>,
    bounds: Option<[f64; 4]>,
    concurrency: usize,
    seconds: f64,
    warmup: bool,
    zooms: (u8, u8),
    indices: Vec<String>,
    email: String,
    password: String,
    /// At most this many fields and OK weeks per field (0: all).
    fields: usize,
    weeks: usize,
    label: String,
    /// Offered requests per second across all clients (0: as fast as answers come).
    rate: f64,
}

fn options() -> Options {
    let mut o = Options {
        vivacampo: None,
        template: None,
        bounds: None,
        concurrency: 8,
        seconds: 0.0,
        warmup: false,
        zooms: (10, 17),
        indices: ["ndvi", "ndre", "evi", "ndmi", "true_color"]
            .map(String::from)
            .to_vec(),
        email: "demo@vivacampo.dev".into(),
        password: "vivacampo-demo".into(),
        fields: 0,
        weeks: 0,
        label: String::new(),
        rate: 0.0,
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut i = 0;
    while i < args.len() {
        let value = || args.get(i + 1).cloned().unwrap_or_default();
        match args[i].as_str() {
            "--vivacampo" => o.vivacampo = Some(value()),
            "--template" => o.template = Some(value()),
            "--bounds" => {
                let v: Vec<f64> = value().split(',').filter_map(|s| s.parse().ok()).collect();
                o.bounds = v.try_into().ok();
            }
            "--concurrency" => o.concurrency = value().parse().unwrap_or(8),
            "--seconds" => o.seconds = value().parse().unwrap_or(0.0),
            "--zooms" => {
                let v = value();
                let (a, b) = v.split_once('-').unwrap_or((&v, &v));
                o.zooms = (a.parse().unwrap_or(10), b.parse().unwrap_or(17));
            }
            "--indices" => o.indices = value().split(',').map(String::from).collect(),
            "--email" => o.email = value(),
            "--password" => o.password = value(),
            "--fields" => o.fields = value().parse().unwrap_or(0),
            "--weeks" => o.weeks = value().parse().unwrap_or(0),
            "--label" => o.label = value(),
            "--rate" => o.rate = value().parse().unwrap_or(0.0),
            "--warmup" => {
                o.warmup = true;
                i += 1;
                continue;
            }
            // `cargo bench` passes --bench; ignore what we do not know.
            _ => {
                i += 1;
                continue;
            }
        }
        i += 2;
    }
    o
}

/// `http://host:port/path?q` → (host:port, /path?q).
fn split_url(url: &str) -> (String, String) {
    let rest = url.strip_prefix("http://").expect("http:// URLs only");
    let (host, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (
        host.to_owned(),
        if path.is_empty() {
            "/".into()
        } else {
            path.to_owned()
        },
    )
}

/// A keep-alive HTTP/1.1 connection.
struct Conn {
    host: String,
    stream: Option<BufReader<TcpStream>>,
}

impl Conn {
    fn new(host: &str) -> Conn {
        Conn {
            host: host.to_owned(),
            stream: None,
        }
    }

    async fn request(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        for attempt in 0..2 {
            if self.stream.is_none() {
                let s = TcpStream::connect(&self.host).await?;
                s.set_nodelay(true)?;
                self.stream = Some(BufReader::new(s));
            }
            match self.exchange(method, path, headers, body).await {
                Ok(r) => return Ok(r),
                // A closed keep-alive connection: reconnect once.
                Err(_) if attempt == 0 => self.stream = None,
                Err(e) => return Err(e),
            }
        }
        unreachable!()
    }

    async fn exchange(
        &mut self,
        method: &str,
        path: &str,
        headers: &str,
        body: &str,
    ) -> std::io::Result<(u16, Vec<u8>)> {
        let s = self.stream.as_mut().expect("connected");
        let req = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{headers}Content-Length: {}\r\n\r\n{body}",
            self.host,
            body.len()
        );
        s.get_mut().write_all(req.as_bytes()).await?;
        let mut line = String::new();
        if s.read_line(&mut line).await? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        let status: u16 = line
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let (mut length, mut close) = (0usize, false);
        loop {
            line.clear();
            s.read_line(&mut line).await?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            let lower = l.to_ascii_lowercase();
            if let Some(v) = lower.strip_prefix("content-length:") {
                length = v.trim().parse().unwrap_or(0);
            } else if lower.starts_with("connection:") && lower.contains("close") {
                close = true;
            }
        }
        let mut buf = vec![0; length];
        s.read_exact(&mut buf).await?;
        if close {
            self.stream = None;
        }
        Ok((status, buf))
    }
}

/// Tiles z/x/y covering `bounds` at each zoom.
fn tiles(bounds: [f64; 4], zooms: (u8, u8)) -> Vec<(u8, u32, u32)> {
    let mut out = Vec::new();
    for z in zooms.0..=zooms.1 {
        let n = f64::from(1u32 << z);
        let x = |lon: f64| ((lon + 180.0) / 360.0 * n).floor() as u32;
        let y = |lat: f64| {
            let phi = lat.to_radians();
            ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n).floor()
                as u32
        };
        for tx in x(bounds[0])..=x(bounds[2]) {
            for ty in y(bounds[3])..=y(bounds[1]) {
                out.push((z, tx, ty));
            }
        }
    }
    out
}

fn expand(template: &str, t: (u8, u32, u32)) -> String {
    template
        .replace("{z}", &t.0.to_string())
        .replace("{x}", &t.1.to_string())
        .replace("{y}", &t.2.to_string())
}

async fn get_json(conn: &mut Conn, path: &str, token: &str) -> Value {
    let headers = format!("Authorization: Bearer {token}\r\n");
    let (status, body) = conn.request("GET", path, &headers, "").await.expect("GET");
    assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("JSON")
}

/// Logs in to a VivaCampo server and lists the tile URLs of every field, OK week and index.
async fn vivacampo_urls(base: &str, o: &Options) -> Vec<String> {
    let (host, _) = split_url(base);
    let mut conn = Conn::new(&host);
    let login = json!({"email": o.email, "password": o.password}).to_string();
    let (status, body) = conn
        .request(
            "POST",
            "/v1/auth/login",
            "Content-Type: application/json\r\n",
            &login,
        )
        .await
        .expect("login");
    assert_eq!(status, 200, "login: {}", String::from_utf8_lossy(&body));
    let token = serde_json::from_slice::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let aois = get_json(&mut conn, "/v1/aois", &token).await;
    let mut urls = Vec::new();
    let limit = |n: usize| if n == 0 { usize::MAX } else { n };
    for aoi in aois["items"]
        .as_array()
        .unwrap()
        .iter()
        .take(limit(o.fields))
    {
        let id = aoi["id"].as_str().unwrap();
        let weeks = get_json(&mut conn, &format!("/v1/aois/{id}/weeks"), &token).await;
        let ok = weeks["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|w| w["status"] == "OK" && w["has_raster"] == true);
        for week in ok.take(limit(o.weeks)) {
            for index in &o.indices {
                let path = format!(
                    "/v1/tiles/aois/{id}/tilejson.json?index={index}&year={}&week={}",
                    week["year"], week["week"]
                );
                let tj = get_json(&mut conn, &path, &token).await;
                let b: Vec<f64> = tj["bounds"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter_map(Value::as_f64)
                    .collect();
                let template = tj["tiles"][0].as_str().unwrap();
                for t in tiles([b[0], b[1], b[2], b[3]], o.zooms) {
                    urls.push(expand(template, t));
                }
            }
        }
    }
    urls
}

struct Outcome {
    latencies: Vec<f64>,
    statuses: BTreeMap<u16, u64>,
    errors: u64,
}

/// `clients` connections share the URL list: each takes the next URL until the list is done
/// (`seconds` = 0) or the time is up (cycling). With a `rate`, each client sends on a fixed
/// schedule (an open-loop load below saturation).
async fn run(urls: &[String], clients: usize, seconds: f64, rate: f64) -> (Outcome, f64) {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};
    let next = Arc::new(AtomicUsize::new(0));
    let urls: Arc<Vec<(String, String)>> = Arc::new(urls.iter().map(|u| split_url(u)).collect());
    let started = Instant::now();
    let deadline = (seconds > 0.0).then(|| started + Duration::from_secs_f64(seconds));
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (next, urls) = (next.clone(), urls.clone());
        tasks.push(tokio::spawn(async move {
            let mut out = Outcome {
                latencies: Vec::new(),
                statuses: BTreeMap::new(),
                errors: 0,
            };
            let mut conn = Conn::new(&urls[0].0);
            let interval = (rate > 0.0).then(|| Duration::from_secs_f64(clients as f64 / rate));
            let mut due = tokio::time::Instant::now();
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let i = match deadline {
                    None if i >= urls.len() => break,
                    None => i,
                    Some(d) if Instant::now() >= d => break,
                    Some(_) => i % urls.len(),
                };
                let t = match interval {
                    Some(every) => {
                        due += every;
                        tokio::time::sleep_until(due).await;
                        // From the send, not the schedule: the timer wakes up to 1 ms late.
                        Instant::now()
                    }
                    None => Instant::now(),
                };
                match conn.request("GET", &urls[i].1, "", "").await {
                    Ok((status, _)) => {
                        out.latencies.push(t.elapsed().as_secs_f64() * 1000.0);
                        *out.statuses.entry(status).or_default() += 1;
                    }
                    Err(_) => {
                        out.errors += 1;
                        conn = Conn::new(&urls[0].0);
                    }
                }
            }
            out
        }));
    }
    let mut all = Outcome {
        latencies: Vec::new(),
        statuses: BTreeMap::new(),
        errors: 0,
    };
    for t in tasks {
        let o = t.await.expect("client");
        all.latencies.extend(o.latencies);
        all.errors += o.errors;
        for (k, v) in o.statuses {
            *all.statuses.entry(k).or_default() += v;
        }
    }
    (all, started.elapsed().as_secs_f64())
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let i = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[i]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let o = options();
    let urls = match (&o.vivacampo, &o.template, o.bounds) {
        (Some(base), _, _) => vivacampo_urls(base, &o).await,
        (None, Some(t), Some(b)) => tiles(b, o.zooms)
            .into_iter()
            .map(|tile| expand(t, tile))
            .collect(),
        _ => {
            eprintln!(
                "usage: tile_load --vivacampo BASE_URL | --template URL --bounds W,S,E,N [--concurrency N] [--seconds S] [--warmup] [--zooms 10-17] [--indices a,b]"
            );
            std::process::exit(2);
        }
    };
    assert!(!urls.is_empty(), "no tiles to request");
    if o.warmup {
        run(&urls, o.concurrency, 0.0, 0.0).await;
    }
    let (mut out, elapsed) = run(&urls, o.concurrency, o.seconds, o.rate).await;
    out.latencies.sort_by(f64::total_cmp);
    let n = out.latencies.len();
    let statuses: BTreeMap<String, u64> = out
        .statuses
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let server_errors: u64 = out
        .statuses
        .iter()
        .filter(|(k, _)| **k >= 500 && **k != 503)
        .map(|(_, v)| v)
        .sum();
    println!(
        "{}",
        json!({
            "label": o.label,
            "unique_tiles": urls.len(),
            "concurrency": o.concurrency,
            "offered_rate": o.rate,
            "requests": n,
            "seconds": (elapsed * 100.0).round() / 100.0,
            "tiles_per_s": (n as f64 / elapsed).round(),
            "p50_ms": (percentile(&out.latencies, 50.0) * 100.0).round() / 100.0,
            "p95_ms": (percentile(&out.latencies, 95.0) * 100.0).round() / 100.0,
            "p99_ms": (percentile(&out.latencies, 99.0) * 100.0).round() / 100.0,
            "max_ms": (out.latencies.last().copied().unwrap_or(f64::NAN) * 100.0).round() / 100.0,
            "statuses": statuses,
            "shed_503": out.statuses.get(&503).copied().unwrap_or(0),
            "other_5xx": server_errors,
            "connection_errors": out.errors,
        })
    );
}
