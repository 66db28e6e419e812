//! The VivaCampo HTTP API (axum): routes, authentication, the error shape, metrics, OpenAPI.
//!
//! [`router`] builds the whole application for the `api` and `serve` roles. Handlers are thin;
//! the rules live in `vivacampo-core` and the data in `vivacampo-store`.

use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use axum::{Json, Router};
use utoipa::OpenApi;

pub mod credentials;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod ratelimit;
pub mod routes;
pub mod state;
pub mod telemetry;
pub mod tiles;
pub mod views;

pub use state::{ApiConfig, AppState};

use error::ApiError;
use routes::{admin, aois, auth, farms, jobs, ops, web, weeks};

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

async fn no_route() -> ApiError {
    ApiError::NotFound("no such endpoint; see /v1/openapi.json".into())
}

async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`), for `worker` processes.
pub fn ops_router(state: AppState) -> Router {
    Router::new()
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(no_route)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}

/// The tile routes of API.md "Tiles" and the index catalogue, under `/v1`.
fn tile_routes() -> Router<AppState> {
    Router::new()
        .route("/tiles/aois/{id}/tilejson.json", get(tiles::tilejson))
        .route("/tiles/aois/{id}/{z}/{x}/{y}", get(tiles::tile))
        .route("/indices", get(tiles::indices))
}

/// The tile routes alone plus the operations endpoints, for `tiler` processes.
pub fn tiler_router(state: AppState) -> Router {
    Router::new()
        .nest("/v1", tile_routes())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}

/// The application: every route of API.md under `/v1`, plus `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: AppState) -> Router {
    let body_limit = state.config().body_limit;
    let v1 = Router::new()
        .route("/auth/signup", post(auth::signup))
        .route("/auth/login", post(auth::login))
        .route("/auth/logout", post(auth::logout))
        .route("/auth/workspaces/switch", post(auth::switch_workspace))
        .route("/me", get(auth::me))
        .route("/farms", post(farms::create).get(farms::list))
        .route(
            "/farms/{id}",
            get(farms::get).patch(farms::update).delete(farms::delete),
        )
        .route("/aois", post(aois::create).get(aois::list))
        .route(
            "/aois/{id}",
            get(aois::get).patch(aois::update).delete(aois::delete),
        )
        .route("/aois/{id}/backfill", post(aois::backfill))
        .route("/aois/{id}/history", get(weeks::history))
        .route("/aois/{id}/weeks", get(weeks::weeks))
        .route(
            "/aois/{id}/weeks/{year}/{week}/raster.tif",
            get(weeks::raster),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/runs", get(jobs::runs))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/admin/ops/queues", get(admin::queues))
        .route("/admin/jobs", get(admin::jobs))
        .route("/admin/jobs/{id}/retry", post(admin::retry_job))
        .route(
            "/admin/tenants",
            get(admin::tenants).post(admin::create_tenant),
        )
        .route(
            "/admin/tenants/{id}",
            axum::routing::patch(admin::update_tenant),
        )
        .route("/openapi.json", get(openapi_json))
        .merge(tile_routes());
    Router::new()
        .nest("/v1", v1)
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::file))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .route("/metrics", get(ops::metrics))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}
