//! Liveness, readiness and metrics for operators and orchestrators.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::state::AppState;

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
    /// "ok" or what is wrong.
    pub database: String,
    pub migrations: String,
    pub storage: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    /// "ready" or "not_ready".
    pub status: &'static str,
    pub checks: Checks,
}

fn outcome<E: std::fmt::Display>(result: Result<(), E>) -> String {
    match result {
        Ok(()) => "ok".into(),
        Err(e) => e.to_string(),
    }
}

/// Writes and deletes a probe object; a store that does not answer in 5 s is not ready.
async fn storage_writable(state: &AppState) -> Result<(), String> {
    match tokio::time::timeout(
        std::time::Duration::from_secs(5),
        state.rasters().check_writable(),
    )
    .await
    {
        Ok(result) => result.map_err(|e| e.to_string()),
        Err(_) => Err("the raster store did not answer within 5 s".to_owned()),
    }
}

/// 200 when the database answers, migrations are current and storage is writable.
#[utoipa::path(get, path = "/readyz", tag = "operations",
    responses((status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let database = state.store().ping().await;
    let migrations = match &database {
        Ok(()) => match state.store().migrations_current().await {
            Ok(true) => Ok(()),
            Ok(false) => Err("pending or unknown migrations: run `vivacampo migrate`".to_owned()),
            Err(e) => Err(e.to_string()),
        },
        Err(_) => Err("unknown: the database is unavailable".to_owned()),
    };
    let storage = storage_writable(&state).await;
    let ready =
        database.is_ok() && migrations.is_ok() && storage.is_ok() && !state.is_shutting_down();
    let body = Readiness {
        status: if ready { "ready" } else { "not_ready" },
        checks: Checks {
            database: outcome(database),
            migrations: outcome(migrations),
            storage: outcome(storage),
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
    match state.store().queue_stats().await {
        Ok(stats) => {
            registry.clear("vivacampo_queue_jobs");
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
    for (service, outcome, calls) in vivacampo_imagery::calls::snapshot() {
        registry.set_total(
            "vivacampo_external_calls_total",
            "Calls to outside services (catalog, imagery files, raster store), by outcome.",
            &[("service", service), ("outcome", outcome)],
            calls as f64,
        );
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
        }
        Err(e) => tracing::warn!(error = %e, "cannot read storage figures for /metrics"),
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
