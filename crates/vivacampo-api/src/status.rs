//! The operations status document (`vivacampo ops status`, `GET /v1/admin/ops/status`): one
//! screen that answers the runbook's triage questions, read from the database (every process
//! writes its deploy record and a summary of its counters there, see [`crate::heartbeat`]) and
//! a probe of the raster store. Each part has a time budget, so the answer comes in under 2 s
//! even when the database is saturated.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;
use vivacampo_core::jobs::JobStatus;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::processes::ProcessRecord;
use vivacampo_store::{Store, now_ms};

use crate::heartbeat::HEARTBEAT;
use crate::views::rfc3339;

/// The SLO: under 1 % of requests fail (5xx)…
pub const SLO_ERROR_RATE: f64 = 0.01;
/// …and 95 % answer within 500 ms.
pub const SLO_P95_MS: f64 = 500.0;
/// A window with fewer requests says nothing about the SLO.
const SLO_MIN_REQUESTS: u64 = 20;
/// A process that has not written for this long is stale.
const STALE_AFTER_MS: i64 = 3 * HEARTBEAT.as_millis() as i64;
/// Share of the storage quota from which storage counts as nearly full.
const QUOTA_WARNING: f64 = 0.9;
/// A ready job older than this means the workers do not keep up.
const OLDEST_READY_LIMIT_S: f64 = 900.0;
/// Time budget of the database part and of the storage probe.
const DB_BUDGET: Duration = Duration::from_millis(1500);
const STORAGE_BUDGET: Duration = Duration::from_millis(1500);

/// healthy (exit 0), degraded (1) or down (2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
#[schema(as = OpsHealth)]
pub enum Health {
    Healthy,
    Degraded,
    Down,
}

impl Health {
    /// The exit code of `vivacampo ops status`.
    pub fn exit_code(self) -> u8 {
        match self {
            Health::Healthy => 0,
            Health::Degraded => 1,
            Health::Down => 2,
        }
    }
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Replica {
    pub role: String,
    pub version: String,
    pub commit: String,
    pub host: String,
    pub pid: i64,
    pub started_at: String,
    pub heartbeat_at: String,
    /// live, stale (stopped heart-beating) or stopped.
    pub state: String,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RoleStatus {
    pub role: String,
    pub live: usize,
    pub stale: usize,
    /// "version (commit)" of the live replicas.
    pub versions: Vec<String>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SloWindow {
    pub minutes: u32,
    pub requests: u64,
    pub errors: u64,
    pub error_rate: f64,
    /// Upper bound of the latency bucket holding the 95th percentile; null without requests.
    pub p95_ms: Option<f64>,
    /// Whether the window meets the SLO (true with too few requests to tell).
    pub ok: bool,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct DatabaseStatus {
    /// "ok" or what is wrong.
    pub status: String,
    pub engine: String,
    /// Connections the live processes' pools hold / may hold, and callers waiting for one.
    pub pool_in_use: u64,
    pub pool_max: u64,
    pub pool_waiting: u64,
    /// Connections open on the server and its limit (PostgreSQL).
    pub server_connections: Option<i64>,
    pub server_limit: Option<i64>,
    /// The slowest statements, [{query, calls, mean_ms, source}]: from pg_stat_statements when
    /// installed, else those the live processes timed at `db_slow_statement` or longer
    /// (source "vivacampo").
    #[schema(value_type = Vec<Object>)]
    pub slowest_statements: Vec<Value>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct QueueStatus {
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    pub oldest_pending_age_seconds: f64,
    pub running_past_timeout: BTreeMap<String, i64>,
    pub dead: BTreeMap<String, i64>,
}

#[derive(Debug, Clone, Default, Serialize, ToSchema)]
pub struct StorageStatus {
    /// "ok" or what is wrong (not writable, nearly full).
    pub status: String,
    pub used_bytes: i64,
    pub quota_bytes: Option<u64>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ExternalStatus {
    pub service: String,
    pub calls_5m: u64,
    pub errors_5m: u64,
    pub error_rate_5m: f64,
    pub last_success: Option<String>,
}

/// The whole document.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OpsStatus {
    pub status: Health,
    /// One line per thing that is wrong, naming the component.
    pub problems: Vec<String>,
    pub checked_at: String,
    pub took_ms: u64,
    pub database: DatabaseStatus,
    pub roles: Vec<RoleStatus>,
    pub replicas: Vec<Replica>,
    /// Processes started in the last 24 h.
    pub deploys_24h: Vec<Replica>,
    pub slo: Vec<SloWindow>,
    pub queue: QueueStatus,
    pub storage: StorageStatus,
    pub external: Vec<ExternalStatus>,
}

/// What the status reads besides the database.
pub struct StatusInputs<'a> {
    pub rasters: Option<&'a RasterStore>,
    pub storage_quota: Option<u64>,
}

fn replica(p: &ProcessRecord, now: i64) -> Replica {
    let state = if p.stopped_at.is_some() {
        "stopped"
    } else if now - p.heartbeat_at > STALE_AFTER_MS {
        "stale"
    } else {
        "live"
    };
    Replica {
        role: p.role.clone(),
        version: p.version.clone(),
        commit: p.git_commit.clone(),
        host: p.host.clone(),
        pid: p.pid,
        started_at: rfc3339(p.started_at),
        heartbeat_at: rfc3339(p.heartbeat_at),
        state: state.to_owned(),
    }
}

/// The 95th percentile's bucket bound, in ms, from per-bucket counts (`total` includes those
/// above the last bound, whose bound is unknown: reported as twice the last).
fn p95_ms(bounds: &[f64], buckets: &[u64], total: u64) -> Option<f64> {
    if total == 0 {
        return None;
    }
    let target = (total as f64 * 0.95).ceil() as u64;
    let mut seen = 0;
    for (bound, n) in bounds.iter().zip(buckets) {
        seen += n;
        if seen >= target {
            return Some(bound * 1000.0);
        }
    }
    bounds.last().map(|b| b * 2000.0)
}

fn slo_windows(live: &[&ProcessRecord]) -> Vec<SloWindow> {
    [5u32, 15]
        .into_iter()
        .map(|minutes| {
            let key = format!("{minutes}m");
            let (mut requests, mut errors) = (0u64, 0u64);
            let mut bounds: Vec<f64> = Vec::new();
            let mut buckets: Vec<u64> = Vec::new();
            for p in live {
                let w = &p.summary[&key];
                requests += w["requests"].as_u64().unwrap_or(0);
                errors += w["errors"].as_u64().unwrap_or(0);
                let b: Vec<f64> = p.summary["bounds"]
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_f64).collect())
                    .unwrap_or_default();
                if bounds.is_empty() && !b.is_empty() {
                    bounds = b.clone();
                    buckets = vec![0; b.len()];
                }
                if b == bounds {
                    for (i, n) in w["buckets"].as_array().into_iter().flatten().enumerate() {
                        if let Some(slot) = buckets.get_mut(i) {
                            *slot += n.as_u64().unwrap_or(0);
                        }
                    }
                }
            }
            let error_rate = if requests == 0 {
                0.0
            } else {
                errors as f64 / requests as f64
            };
            let p95 = p95_ms(&bounds, &buckets, requests);
            let ok = requests < SLO_MIN_REQUESTS
                || (error_rate < SLO_ERROR_RATE && p95.is_none_or(|p| p <= SLO_P95_MS));
            SloWindow {
                minutes,
                requests,
                errors,
                error_rate,
                p95_ms: p95,
                ok,
            }
        })
        .collect()
}

fn external(live: &[&ProcessRecord]) -> Vec<ExternalStatus> {
    let mut by_service: BTreeMap<String, (u64, u64, Option<i64>)> = BTreeMap::new();
    for p in live {
        if let Some(services) = p.summary["5m"]["external"].as_object() {
            for (service, calls) in services {
                let e = by_service.entry(service.clone()).or_default();
                e.0 += calls["ok"].as_u64().unwrap_or(0);
                e.1 += calls["error"].as_u64().unwrap_or(0);
            }
        }
        if let Some(last) = p.summary["external_last_success"].as_object() {
            for (service, at) in last {
                let e = by_service.entry(service.clone()).or_default();
                e.2 = e.2.max(at.as_i64());
            }
        }
    }
    by_service
        .into_iter()
        .map(|(service, (ok, err, last))| ExternalStatus {
            service,
            calls_5m: ok + err,
            errors_5m: err,
            error_rate_5m: if ok + err == 0 {
                0.0
            } else {
                err as f64 / (ok + err) as f64
            },
            last_success: last.map(rfc3339),
        })
        .collect()
}

/// Without `pg_stat_statements`: the slow statements the live processes timed themselves
/// (their heartbeats' `slow_statements`), merged by text, highest mean first, five at most.
fn own_slow_statements(live: &[&ProcessRecord]) -> Vec<Value> {
    let mut merged: BTreeMap<String, (i64, f64)> = BTreeMap::new();
    for p in live {
        for s in p.summary["slow_statements"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let (Some(query), Some(calls), Some(mean)) = (
                s["query"].as_str(),
                s["calls"].as_i64(),
                s["mean_ms"].as_f64(),
            ) else {
                continue;
            };
            let e = merged.entry(query.to_owned()).or_default();
            e.0 += calls;
            e.1 += mean * calls as f64;
        }
    }
    let mut all: Vec<(String, i64, f64)> = merged
        .into_iter()
        .filter(|(_, (calls, _))| *calls > 0)
        .map(|(q, (calls, total))| (q, calls, total / calls as f64))
        .collect();
    all.sort_by(|a, b| b.2.total_cmp(&a.2));
    all.into_iter()
        .take(5)
        .map(|(query, calls, mean_ms)| {
            serde_json::json!({"query": query, "calls": calls, "mean_ms": mean_ms, "source": "vivacampo"})
        })
        .collect()
}

/// Reads everything the database part needs.
async fn database_part(store: &Store) -> Result<DbFigures, vivacampo_store::StoreError> {
    let now = now_ms();
    let processes = store.processes_since(now - 24 * 3600 * 1000).await?;
    let queue = store.queue_stats().await?;
    let past_timeout = store.running_past_timeout().await?;
    let storage = store.raster_bytes_by_tenant().await?;
    let server = store.server_connections().await?;
    let slowest = store.slowest_statements(5).await?;
    Ok(DbFigures {
        processes,
        queue,
        past_timeout,
        storage_bytes: storage.iter().map(|(_, b)| b).sum(),
        server,
        slowest,
    })
}

struct DbFigures {
    processes: Vec<ProcessRecord>,
    queue: vivacampo_store::queue::QueueStats,
    past_timeout: Vec<(vivacampo_core::jobs::JobType, i64)>,
    storage_bytes: i64,
    server: Option<(i64, i64)>,
    slowest: Option<Vec<vivacampo_store::operations::SlowStatement>>,
}

/// The document when the database cannot even be opened: down.
pub fn unreachable(message: &str, started: Instant) -> OpsStatus {
    OpsStatus {
        status: Health::Down,
        problems: vec![format!("database: unreachable: {message}")],
        checked_at: rfc3339(now_ms()),
        took_ms: started.elapsed().as_millis() as u64,
        database: DatabaseStatus {
            status: format!("unreachable: {message}"),
            ..DatabaseStatus::default()
        },
        roles: Vec::new(),
        replicas: Vec::new(),
        deploys_24h: Vec::new(),
        slo: Vec::new(),
        queue: QueueStatus::default(),
        storage: StorageStatus {
            status: "unknown: the database is unreachable".into(),
            ..StorageStatus::default()
        },
        external: Vec::new(),
    }
}

/// Builds the status document. `store` should be a connection of its own (the CLI opens one),
/// so a saturated application pool does not block it.
pub async fn gather(store: &Store, inputs: StatusInputs<'_>) -> OpsStatus {
    let started = Instant::now();
    let now = now_ms();
    let mut problems = Vec::new();
    let mut health = Health::Healthy;
    let degrade = |problems: &mut Vec<String>, health: &mut Health, what: String| {
        problems.push(what);
        *health = (*health).max(Health::Degraded);
    };

    let storage_probe = async {
        match inputs.rasters {
            Some(rasters) => {
                match tokio::time::timeout(STORAGE_BUDGET, rasters.check_writable()).await {
                    Ok(Ok(())) => Ok(()),
                    Ok(Err(e)) => Err(format!("not writable: {e}")),
                    Err(_) => Err("did not answer within 1.5 s".to_owned()),
                }
            }
            None => Ok(()),
        }
    };
    let database = async {
        match store.ping().await {
            Err(e) => Err((Health::Down, format!("unreachable: {e}"))),
            Ok(()) => database_part(store)
                .await
                .map_err(|e| (Health::Degraded, e.to_string())),
        }
    };
    let (probe, figures) = tokio::join!(storage_probe, tokio::time::timeout(DB_BUDGET, database));
    let figures = match figures {
        Ok(f) => f,
        Err(_) => Err((
            Health::Degraded,
            "did not answer within 1.5 s (saturated?)".to_owned(),
        )),
    };

    let mut db = DatabaseStatus {
        status: "ok".into(),
        engine: store.backend().name().into(),
        ..DatabaseStatus::default()
    };
    let mut storage = StorageStatus {
        status: "ok".into(),
        quota_bytes: inputs.storage_quota,
        ..StorageStatus::default()
    };
    let mut queue = QueueStatus::default();
    let (mut roles, mut replicas, mut deploys, mut slo, mut ext) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    match figures {
        Err((level, message)) => {
            db.status = message.clone();
            problems.push(format!("database: {message}"));
            health = health.max(level);
        }
        Ok(f) => {
            let live: Vec<&ProcessRecord> = f
                .processes
                .iter()
                .filter(|p| p.stopped_at.is_none() && now - p.heartbeat_at <= STALE_AFTER_MS)
                .collect();
            // Exhausted: every connection of a process's pool busy and callers waiting (a
            // caller alone may wait briefly for SQLite's write lock with connections free).
            let (mut exhausted, mut exhausted_waiting) = (0, 0);
            for p in &live {
                let pool = &p.summary["pool"];
                let (in_use, max, waiting) = (
                    pool["in_use"].as_u64().unwrap_or(0),
                    pool["max"].as_u64().unwrap_or(0),
                    pool["waiting"].as_u64().unwrap_or(0),
                );
                db.pool_in_use += in_use;
                db.pool_max += max;
                db.pool_waiting += waiting;
                if waiting > 0 && max > 0 && in_use >= max {
                    exhausted += 1;
                    exhausted_waiting += waiting;
                }
            }
            if exhausted > 0 {
                degrade(
                    &mut problems,
                    &mut health,
                    format!(
                        "database pool: exhausted in {exhausted} process(es), {exhausted_waiting} callers waiting for a connection"
                    ),
                );
            }
            if let Some((used, limit)) = f.server {
                db.server_connections = Some(used);
                db.server_limit = Some(limit);
                if limit > 0 && used as f64 >= 0.9 * limit as f64 {
                    degrade(
                        &mut problems,
                        &mut health,
                        format!("database: {used} of the server's {limit} connections in use"),
                    );
                }
            }
            db.slowest_statements = match f.slowest {
                Some(found) => found
                    .into_iter()
                    .map(|s| serde_json::json!({"query": s.query, "calls": s.calls, "mean_ms": s.mean_ms, "source": "pg_stat_statements"}))
                    .collect(),
                None => own_slow_statements(&live),
            };

            let all: Vec<Replica> = f.processes.iter().map(|p| replica(p, now)).collect();
            let mut by_role: BTreeMap<String, RoleStatus> = BTreeMap::new();
            for r in &all {
                let entry = by_role.entry(r.role.clone()).or_insert_with(|| RoleStatus {
                    role: r.role.clone(),
                    live: 0,
                    stale: 0,
                    versions: Vec::new(),
                });
                match r.state.as_str() {
                    "live" => {
                        entry.live += 1;
                        let v = format!("{} ({})", r.version, r.commit);
                        if !entry.versions.contains(&v) {
                            entry.versions.push(v);
                        }
                    }
                    "stale" => entry.stale += 1,
                    _ => {}
                }
            }
            for role in by_role.values() {
                if role.stale > 0 {
                    degrade(
                        &mut problems,
                        &mut health,
                        format!(
                            "{}: {} replica(s) stopped heart-beating",
                            role.role, role.stale
                        ),
                    );
                }
            }
            roles = by_role.into_values().collect();
            deploys = all
                .iter()
                .zip(&f.processes)
                .filter(|(_, p)| now - p.started_at <= 24 * 3600 * 1000)
                .map(|(r, _)| r.clone())
                .collect();
            replicas = all.into_iter().filter(|r| r.state != "stopped").collect();

            slo = slo_windows(&live);
            for w in &slo {
                if !w.ok {
                    degrade(
                        &mut problems,
                        &mut health,
                        format!(
                            "api: SLO missed over {} min: {:.1} % errors, p95 {} ms",
                            w.minutes,
                            w.error_rate * 100.0,
                            w.p95_ms.map_or("-".to_owned(), |p| format!("{p:.0}"))
                        ),
                    );
                }
            }
            ext = external(&live);
            for e in &ext {
                if e.calls_5m >= 5 && e.error_rate_5m > 0.2 {
                    degrade(
                        &mut problems,
                        &mut health,
                        format!(
                            "{}: {} of {} calls failed in 5 min",
                            e.service, e.errors_5m, e.calls_5m
                        ),
                    );
                }
            }

            let sum = |status: JobStatus| {
                f.queue
                    .depth
                    .iter()
                    .filter(|d| d.1 == status)
                    .map(|d| d.2)
                    .sum::<i64>()
            };
            queue = QueueStatus {
                pending: sum(JobStatus::Pending),
                running: sum(JobStatus::Running),
                failed: sum(JobStatus::Failed),
                oldest_pending_age_seconds: f.queue.oldest_ready_age_seconds,
                running_past_timeout: f
                    .past_timeout
                    .iter()
                    .map(|(t, n)| (t.to_string(), *n))
                    .collect(),
                dead: f
                    .queue
                    .depth
                    .iter()
                    .filter(|d| d.1 == JobStatus::Dead)
                    .map(|d| (d.0.to_string(), d.2))
                    .collect(),
            };
            let stuck: i64 = queue.running_past_timeout.values().sum();
            if stuck > 0 {
                degrade(
                    &mut problems,
                    &mut health,
                    format!("worker: {stuck} job(s) running past their timeout"),
                );
            }
            if queue.oldest_pending_age_seconds > OLDEST_READY_LIMIT_S {
                degrade(
                    &mut problems,
                    &mut health,
                    format!(
                        "worker: the oldest ready job has waited {:.0} s",
                        queue.oldest_pending_age_seconds
                    ),
                );
            }
            storage.used_bytes = f.storage_bytes;
            if let Some(quota) = inputs.storage_quota
                && quota > 0
                && f.storage_bytes as f64 >= QUOTA_WARNING * quota as f64
            {
                storage.status = format!(
                    "{:.0} % of the storage quota used",
                    100.0 * f.storage_bytes as f64 / quota as f64
                );
                degrade(
                    &mut problems,
                    &mut health,
                    format!("storage: {}", storage.status),
                );
            }
        }
    }
    if let Err(message) = probe {
        storage.status = message.clone();
        degrade(&mut problems, &mut health, format!("storage: {message}"));
    }
    OpsStatus {
        status: health,
        problems,
        checked_at: rfc3339(now),
        took_ms: started.elapsed().as_millis() as u64,
        database: db,
        roles,
        replicas,
        deploys_24h: deploys,
        slo,
        queue,
        storage,
        external: ext,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn p95_is_the_bound_of_its_bucket() {
        let bounds = [0.1, 0.5, 1.0];
        assert_eq!(p95_ms(&bounds, &[90, 9, 1], 100), Some(500.0));
        assert_eq!(p95_ms(&bounds, &[96, 4, 0], 100), Some(100.0));
        assert_eq!(p95_ms(&bounds, &[0, 0, 0], 10), Some(2000.0));
        assert_eq!(p95_ms(&bounds, &[], 0), None);
    }
}
