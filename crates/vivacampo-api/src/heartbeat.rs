//! A process's record in the database: it registers at start (role, version, commit, host),
//! then every [`HEARTBEAT`] writes a small rolling summary of its own counters (requests, 5xx,
//! latency buckets over 5 and 15 minutes, calls to outside services, its connection pool), so
//! `vivacampo ops status` reads every replica from the database and needs no scrape.

use std::collections::{BTreeMap, VecDeque};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::watch;
use vivacampo_core::metrics::Registry;
use vivacampo_store::processes::NewProcess;
use vivacampo_store::{Store, now_ms};

/// How often a process writes its heartbeat.
pub const HEARTBEAT: Duration = Duration::from_secs(10);

/// Routes that are not users' requests and so not in the SLO figures.
const OPERATIONS_ROUTES: [&str; 3] = ["/metrics", "/healthz", "/readyz"];

/// Who this process is.
#[derive(Debug, Clone)]
pub struct BuildInfo {
    /// `serve`, `api`, `tiler` or `worker`.
    pub role: String,
    pub version: String,
    pub commit: String,
}

impl BuildInfo {
    /// Sets `vivacampo_build_info{version,commit,role} 1`.
    pub fn record(&self, registry: &Registry) {
        registry.set(
            "vivacampo_build_info",
            "Version, git commit and role of this process (always 1).",
            &[
                ("version", &self.version),
                ("commit", &self.commit),
                ("role", &self.role),
            ],
            1.0,
        );
    }
}

/// The host name, as the kernel knows it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown".to_owned())
}

#[derive(Debug, Clone, Default)]
struct Sample {
    at_ms: i64,
    requests: u64,
    errors: u64,
    buckets: Vec<u64>,
    /// service → (ok, error) calls since the process started.
    external: BTreeMap<&'static str, (u64, u64)>,
}

/// The counters of the last 15 minutes, sampled at each heartbeat.
#[derive(Debug, Default)]
pub struct Sampler {
    samples: VecDeque<Sample>,
    bounds: &'static [f64],
    last_success: BTreeMap<&'static str, i64>,
}

impl Sampler {
    /// Reads the registry's request figures and the outside-call counters now.
    pub fn sample(&mut self, registry: &Registry, at_ms: i64) {
        let user_route = |labels: &[(&'static str, String)]| {
            !labels
                .iter()
                .any(|(k, v)| *k == "route" && OPERATIONS_ROUTES.contains(&v.as_str()))
        };
        let all = registry.histogram_sum("vivacampo_http_request_duration_seconds", user_route);
        let errors = registry.histogram_sum("vivacampo_http_request_duration_seconds", |l| {
            user_route(l) && l.iter().any(|(k, v)| *k == "status" && v.starts_with('5'))
        });
        let mut sample = Sample {
            at_ms,
            errors: errors.map_or(0, |e| e.2),
            ..Sample::default()
        };
        if let Some((bounds, buckets, count)) = all {
            self.bounds = bounds;
            sample.buckets = buckets;
            sample.requests = count;
        }
        for (service, outcome, calls) in vivacampo_imagery::calls::snapshot() {
            let entry = sample.external.entry(service).or_default();
            if outcome == "ok" {
                entry.0 = calls;
            } else {
                entry.1 = calls;
            }
        }
        if let Some(previous) = self.samples.back() {
            for (service, (ok, _)) in &sample.external {
                if previous.external.get(service).is_some_and(|p| p.0 < *ok) {
                    self.last_success.insert(service, at_ms);
                }
            }
        }
        self.samples.push_back(sample);
        while self
            .samples
            .front()
            .is_some_and(|s| at_ms - s.at_ms > 16 * 60 * 1000)
        {
            self.samples.pop_front();
        }
    }

    /// The figures of the last `minutes` (or since the start, if it is younger).
    fn window(&self, minutes: i64) -> Value {
        let (Some(last), Some(first)) = (self.samples.back(), self.samples.front()) else {
            return json!({"requests": 0, "errors": 0, "buckets": []});
        };
        // The newest sample at least the window old, or the oldest there is.
        let start = self
            .samples
            .iter()
            .rev()
            .find(|s| last.at_ms - s.at_ms >= minutes * 60 * 1000)
            .unwrap_or(first);
        let buckets: Vec<u64> = last
            .buckets
            .iter()
            .enumerate()
            .map(|(i, n)| n - start.buckets.get(i).copied().unwrap_or(0))
            .collect();
        let external: BTreeMap<&str, Value> = last
            .external
            .iter()
            .map(|(service, (ok, err))| {
                let (ok0, err0) = start.external.get(service).copied().unwrap_or((0, 0));
                (*service, json!({"ok": ok - ok0, "error": err - err0}))
            })
            .collect();
        json!({
            "seconds": (last.at_ms - start.at_ms) / 1000,
            "requests": last.requests - start.requests,
            "errors": last.errors - start.errors,
            "buckets": buckets,
            "external": external,
        })
    }

    /// The summary a heartbeat writes.
    pub fn summary(&self, store: &Store) -> Value {
        let pool = store.pool_stats();
        json!({
            "bounds": self.bounds,
            "5m": self.window(5),
            "15m": self.window(15),
            "external_last_success": self.last_success,
            "pool": {
                "max": pool.max,
                "open": pool.open,
                "in_use": pool.open as usize - pool.idle.min(pool.open as usize),
                "waiting": pool.waiting,
            },
            "slow_statements": vivacampo_store::slow::slowest(5)
                .into_iter()
                .map(|s| json!({"query": s.query, "calls": s.calls, "mean_ms": s.mean_ms}))
                .collect::<Vec<_>>(),
        })
    }
}

/// Registers this process, heart-beats until `shutdown` turns true, then marks it stopped. A
/// database that cannot be written only costs a warning: the process keeps serving.
///
/// `store` writes the records: give it a connection of its own (a one-connection [`Store`]),
/// so heartbeats still arrive, and report the saturation, when `pool` (the process's working
/// pool, whose figures the summary carries) has no connection free.
pub async fn run(
    store: Store,
    pool: Store,
    registry: std::sync::Arc<Registry>,
    build: BuildInfo,
    mut shutdown: watch::Receiver<bool>,
) {
    let host = host_name();
    let id = match store
        .register_process(NewProcess {
            role: &build.role,
            version: &build.version,
            git_commit: &build.commit,
            host: &host,
            pid: std::process::id(),
        })
        .await
    {
        Ok(id) => id,
        Err(e) => {
            tracing::warn!(error = %e, "cannot record this process in the database");
            return;
        }
    };
    let mut sampler = Sampler::default();
    let mut every = tokio::time::interval(HEARTBEAT);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => {}
        }
        if *shutdown.borrow() {
            break;
        }
        sampler.sample(&registry, now_ms());
        if let Err(e) = store.process_heartbeat(&id, &sampler.summary(&pool)).await {
            tracing::warn!(error = %e, "cannot write this process's heartbeat");
        }
    }
    if let Err(e) = store.process_stopped(&id).await {
        tracing::warn!(error = %e, "cannot record this process's stop");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivacampo_core::metrics::LATENCY_BUCKETS;

    fn observe(r: &Registry, route: &str, status: &str, seconds: f64) {
        r.observe(
            "vivacampo_http_request_duration_seconds",
            "L.",
            &[("method", "GET"), ("route", route), ("status", status)],
            LATENCY_BUCKETS,
            seconds,
        );
    }

    #[test]
    fn windows_are_deltas_of_user_requests() {
        let r = Registry::new();
        let mut s = Sampler::default();
        observe(&r, "/v1/farms", "200", 0.01);
        s.sample(&r, 0);
        observe(&r, "/v1/farms", "200", 0.02);
        observe(&r, "/v1/farms", "500", 0.3);
        observe(&r, "/metrics", "200", 0.001);
        s.sample(&r, 60_000);
        for _ in 0..3 {
            observe(&r, "/v1/aois", "503", 0.7);
        }
        s.sample(&r, 10 * 60_000);
        let w5 = s.window(5);
        assert_eq!(
            (w5["requests"].as_u64(), w5["errors"].as_u64()),
            (Some(3), Some(3))
        );
        assert_eq!(w5["seconds"], 540);
        let w15 = s.window(15);
        assert_eq!(
            (w15["requests"].as_u64(), w15["errors"].as_u64()),
            (Some(5), Some(4))
        );
        assert_eq!(w15["buckets"][9], 3, "0.7 s is in the 1 s bucket");
    }
}
