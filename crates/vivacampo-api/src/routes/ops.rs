//! Liveness, readiness and metrics for operators and orchestrators.

use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;
use vivacampo_core::jobs::{JobStatus, JobType};

use crate::state::{AppState, StorageNeed};

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// 200 while the process is alive.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Checks {
    /// "ok" or "unavailable".
    pub database: String,
    /// "ok", "pending" (run `vivacampo migrate`) or "unknown".
    pub migrations: String,
    /// "ok", "not_required" (this role does not use the raster store), "not_writable",
    /// "not_readable" or "checking".
    pub storage: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// "ready" or "not_ready".
    pub status: &'static str,
    pub checks: Checks,
}

/// How often a worker proves again that it can write to the raster store (a probe object is
/// written and deleted), and a tiler that it can read from it. Probes run in the background:
/// `/readyz` answers from the last one and never waits on the store, except for the first.
const WRITE_CHECK_EVERY: Duration = Duration::from_secs(60);
const READ_CHECK_EVERY: Duration = Duration::from_secs(15);
/// A store that does not answer a probe in this time fails it.
const STORE_CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// One probe of the raster store for `need`; the cause of a failure goes to the log only.
async fn probe_store(state: &AppState, need: StorageNeed) -> bool {
    let rasters = state.rasters();
    let result = match need {
        StorageNeed::None => return true,
        StorageNeed::Read => {
            tokio::time::timeout(STORE_CHECK_TIMEOUT, rasters.check_readable()).await
        }
        StorageNeed::Write => {
            tokio::time::timeout(STORE_CHECK_TIMEOUT, rasters.check_writable()).await
        }
    };
    match result {
        Ok(Ok(())) => true,
        Ok(Err(e)) => {
            tracing::warn!(error = %e, need = ?need, "raster store check failed");
            false
        }
        Err(_) => {
            tracing::warn!(need = ?need, timeout_s = STORE_CHECK_TIMEOUT.as_secs(), "raster store check did not answer in time");
            false
        }
    }
}

/// The raster-store check of `/readyz` for this role: `None` when the role needs no store,
/// else the result of the last probe, starting a new one in the background when it is stale.
async fn storage_ready(state: &AppState) -> Option<Option<bool>> {
    let need = state.storage_need();
    let every = match need {
        StorageNeed::None => return None,
        StorageNeed::Read => READ_CHECK_EVERY,
        StorageNeed::Write => WRITE_CHECK_EVERY,
    };
    let (last, start) = {
        let mut probe = state
            .storage_probe()
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        let stale = probe.last.is_none_or(|(at, _)| at.elapsed() >= every);
        let start = stale && !probe.running;
        probe.running |= start;
        (probe.last.map(|(_, ok)| ok), start)
    };
    if !start {
        return Some(last);
    }
    let task = {
        let state = state.clone();
        tokio::spawn(async move {
            let ok = probe_store(&state, need).await;
            let mut probe = state
                .storage_probe()
                .lock()
                .unwrap_or_else(|e| e.into_inner());
            probe.last = Some((Instant::now(), ok));
            probe.running = false;
            ok
        })
    };
    match last {
        Some(ok) => Some(Some(ok)),
        None => Some(task.await.ok()),
    }
}

/// 200 when this role can work: the database answers and migrations are current; a worker can
/// also write to the raster store, a tiler read from it. The body names no path, URI or secret;
/// causes go to the log.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = state.store().ping().await;
    if let Err(e) = &database {
        tracing::warn!(error = %e, "readiness: the database does not answer");
    }
    let migrations = match &database {
        Ok(()) => match state.store().migrations_current().await {
            Ok(true) => "ok",
            Ok(false) => "pending",
            Err(e) => {
                tracing::warn!(error = %e, "readiness: cannot read the migration state");
                "unknown"
            }
        },
        Err(_) => "unknown",
    };
    let storage = match storage_ready(&state).await {
        None => "not_required",
        Some(Some(true)) => "ok",
        Some(Some(false)) if state.storage_need() == StorageNeed::Write => "not_writable",
        Some(Some(false)) => "not_readable",
        Some(None) => "checking",
    };
    let ready = database.is_ok()
        && migrations == "ok"
        && matches!(storage, "ok" | "not_required")
        && !state.is_shutting_down();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks {
            database: if database.is_ok() {
                "ok"
            } else {
                "unavailable"
            }
            .into(),
            migrations: migrations.into(),
            storage: storage.into(),
        },
    };
    (
        if ready {
            StatusCode::OK
        } else {
            StatusCode::SERVICE_UNAVAILABLE
        },
        Json(body),
    )
}

/// Prometheus text: requests, pool, queue, jobs, storage, external calls.
#[utoipa::path(get, path = "/metrics", tag = "operations",
    responses((status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain")))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let registry = state.metrics();
    crate::process_stats::record(registry);
    let pool = state.store().pool_stats();
    registry.set(
        "vivacampo_db_pool_max_connections",
        "Upper bound of database connections.",
        &[],
        f64::from(pool.max),
    );
    registry.set(
        "vivacampo_db_pool_connections",
        "Open database connections.",
        &[],
        f64::from(pool.open),
    );
    registry.set(
        "vivacampo_db_pool_in_use",
        "Database connections in use.",
        &[],
        f64::from(pool.open).max(0.0) - pool.idle as f64,
    );
    registry.set(
        "vivacampo_db_pool_waiting",
        "Callers waiting for a database connection.",
        &[],
        pool.waiting as f64,
    );
    registry.set_total(
        "vivacampo_db_slow_statements_total",
        "Database statements that ran db_slow_statement or longer (this process).",
        &[],
        vivacampo_store::slow::total() as f64,
    );
    // The database figures are shared by every replica: read them at most every
    // SCRAPE_DB_EVERY per process, whatever the scrape rate; between reads the gauges keep
    // their last values.
    if state.database_figures_due(SCRAPE_DB_EVERY) {
        database_figures(&state).await;
    }
    for (service, outcome, calls) in vivacampo_imagery::calls::snapshot() {
        registry.set_total(
            "vivacampo_external_calls_total",
            "Calls to outside services (catalog, imagery files, raster store), by outcome.",
            &[("service", service), ("outcome", outcome)],
            calls as f64,
        );
    }
    registry.set_total(
        "vivacampo_sentinel_hub_processing_units_total",
        "Sentinel Hub processing units spent by this process's Process API calls (per tenant: the processing_units of its PROCESS_WEEK jobs).",
        &[],
        vivacampo_imagery::sentinel_hub::processing_units_total(),
    );
    let (orphans_found, orphans_deleted) = vivacampo_imagery::store::orphan_totals();
    registry.set_total(
        "vivacampo_store_orphans_found_total",
        "Raster store objects no database row names, found past the grace period by storage sweeps.",
        &[],
        orphans_found as f64,
    );
    registry.set_total(
        "vivacampo_store_orphans_deleted_total",
        "Raster store objects no database row names, deleted by storage sweeps.",
        &[],
        orphans_deleted as f64,
    );
    #[cfg(unix)]
    if let Some(dir) = state.rasters().local_dir() {
        match nix::sys::statvfs::statvfs(&dir) {
            Ok(fs) => {
                let block = fs.fragment_size() as f64;
                registry.set(
                    "vivacampo_storage_free_bytes",
                    "Bytes free for unprivileged writes on the file system of a local raster store.",
                    &[],
                    fs.blocks_available() as f64 * block,
                );
                registry.set(
                    "vivacampo_storage_capacity_bytes",
                    "Size of the file system of a local raster store.",
                    &[],
                    fs.blocks() as f64 * block,
                );
            }
            Err(e) => tracing::warn!(error = %e, "cannot read the raster store's free space"),
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        registry.render(),
    )
        .into_response()
}

/// How often `/metrics` reads the queue and storage figures from the database.
const SCRAPE_DB_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Queue depth and storage, from the database.
async fn database_figures(state: &AppState) {
    let registry = state.metrics();
    match state.store().queue_stats().await {
        Ok(stats) => {
            registry.clear("vivacampo_queue_jobs");
            // The states alerts watch are there at 0 too, so rules see a series from the start.
            for job_type in JobType::ALL {
                for status in [
                    JobStatus::Pending,
                    JobStatus::Running,
                    JobStatus::Failed,
                    JobStatus::Dead,
                ] {
                    registry.set(
                        "vivacampo_queue_jobs",
                        "Jobs in the queue, by type and status.",
                        &[("type", job_type.as_str()), ("status", status.as_str())],
                        0.0,
                    );
                }
            }
            for (job_type, status, count) in &stats.depth {
                registry.set(
                    "vivacampo_queue_jobs",
                    "Jobs in the queue, by type and status.",
                    &[("type", job_type.as_str()), ("status", status.as_str())],
                    *count as f64,
                );
            }
            registry.set(
                "vivacampo_queue_oldest_pending_age_seconds",
                "Age of the oldest job ready to run.",
                &[],
                stats.oldest_ready_age_seconds,
            );
            registry.set(
                "vivacampo_queue_stats_up",
                "1 when queue figures could be read.",
                &[],
                1.0,
            );
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read queue figures for /metrics");
            registry.set(
                "vivacampo_queue_stats_up",
                "1 when queue figures could be read.",
                &[],
                0.0,
            );
        }
    }
    match state.store().raster_bytes_by_tenant().await {
        Ok(per_tenant) => {
            registry.clear("vivacampo_storage_bytes");
            let mut total = 0i64;
            for (tenant, bytes) in &per_tenant {
                total += bytes;
                registry.set(
                    "vivacampo_storage_bytes",
                    "Bytes of field-week COGs in the raster store, by tenant.",
                    &[("tenant", tenant.as_str())],
                    *bytes as f64,
                );
            }
            registry.set(
                "vivacampo_storage_bytes_total",
                "Bytes of field-week COGs in the raster store, all tenants.",
                &[],
                total as f64,
            );
            if let Some(quota) = state.config().storage_quota {
                registry.set(
                    "vivacampo_storage_quota_bytes",
                    "The storage_quota setting: bytes the raster store may hold.",
                    &[],
                    quota as f64,
                );
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot read storage figures for /metrics"),
    }
}

/// The operations status document (as `vivacampo ops status --json`), read through a
/// connection of its own, so a load that exhausts the application pool does not hold it up.
#[utoipa::path(get, path = "/v1/admin/ops/status", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = crate::status::OpsStatus), (status = 401, body = crate::views::ErrorBody),
        (status = 403, body = crate::views::ErrorBody)))]
pub async fn status(
    State(state): State<AppState>,
    crate::extract::OpsAuth(auth): crate::extract::OpsAuth,
) -> crate::error::ApiResult<Json<crate::status::OpsStatus>> {
    auth.system_admin()?;
    let inputs = crate::status::StatusInputs {
        rasters: Some(state.rasters()),
        storage_quota: state.config().storage_quota,
    };
    let store = state.store().dedicated();
    Ok(Json(crate::status::gather(&store, inputs).await))
}
