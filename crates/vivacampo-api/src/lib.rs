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
pub mod heartbeat;
pub mod openapi;
pub mod process_stats;
pub mod ratelimit;
pub mod response_headers;
pub mod routes;
pub mod state;
pub mod status;
pub mod telemetry;
pub mod tiles;
pub mod timeout;
pub mod views;

pub use state::{ApiConfig, AppState, StorageNeed};

use error::ApiError;
use routes::{
    admin, aois, auth, boundaries, farms, flags, jobs, ops, signals, weather, web, webhooks, weeks,
};

async fn openapi_json() -> Json<utoipa::openapi::OpenApi> {
    Json(openapi::ApiDoc::openapi())
}

async fn no_route() -> ApiError {
    ApiError::NotFound("no such endpoint; see /v1/openapi.json".into())
}

async fn wrong_method() -> ApiError {
    ApiError::MethodNotAllowed
}

/// `/metrics` on the public listener, unless `metrics_bind` gave it a listener of its own.
fn with_metrics(state: &AppState, routes: Router<AppState>) -> Router<AppState> {
    if state.config().serve_metrics {
        routes.route("/metrics", get(ops::metrics))
    } else {
        routes
    }
}

/// `/metrics` alone, for the `metrics_bind` listener.
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(ops::metrics))
        .fallback(no_route)
        .with_state(state)
}

/// The operations endpoints alone (`/healthz`, `/readyz`, `/metrics`), for `worker` processes.
pub fn ops_router(state: AppState) -> Router {
    with_metrics(&state, Router::new())
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
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
    tiles::count_shed(state.metrics(), 0.0);
    with_metrics(&state, Router::new())
        .nest(
            "/v1",
            tile_routes().layer(axum::middleware::map_response(
                response_headers::private_by_default,
            )),
        )
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            timeout::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}

/// The application: every route of API.md under `/v1`, plus `/healthz`, `/readyz`, `/metrics`.
pub fn router(state: AppState) -> Router {
    tiles::count_shed(state.metrics(), 0.0);
    let body_limit = state.config().body_limit;
    let import_limit = state.config().import_limit;
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
        // A boundary file may be larger than a JSON body: its own limit replaces the global one.
        .route(
            "/farms/{id}/import",
            post(boundaries::import).layer(DefaultBodyLimit::max(import_limit)),
        )
        .route(
            "/farms/{id}/fields.geojson",
            get(boundaries::export_geojson),
        )
        .route("/farms/{id}/fields.kml", get(boundaries::export_kml))
        .route("/farms/{id}/fields.zip", get(boundaries::export_shapefile))
        .route("/aois", post(aois::create).get(aois::list))
        .route(
            "/aois/{id}",
            get(aois::get).patch(aois::update).delete(aois::delete),
        )
        .route("/aois/{id}/backfill", post(aois::backfill))
        .route("/aois/{id}/history", get(weeks::history))
        .route("/aois/{id}/weeks", get(weeks::weeks))
        .route("/aois/{id}/weather", get(weather::weather))
        .route("/aois/{id}/weather/forecast", get(weather::forecast))
        .route("/aois/{id}/weather/sync", post(weather::sync))
        .route(
            "/aois/{id}/weeks/{year}/{week}/raster.tif",
            get(weeks::raster),
        )
        .route("/signals", get(signals::list))
        .route("/signals/{id}", get(signals::get))
        .route("/signals/{id}/ack", post(signals::ack))
        .route("/signals/{id}/resolve", post(signals::resolve))
        .route("/signals/{id}/dismiss", post(signals::dismiss))
        .route(
            "/aois/{id}/weeks/{year}/{week}/radar.tif",
            get(weeks::radar_raster),
        )
        .route("/webhooks", get(webhooks::list).post(webhooks::create))
        .route("/webhooks/{id}", axum::routing::delete(webhooks::delete))
        .route("/webhooks/{id}/deliveries", get(webhooks::deliveries))
        .route("/webhooks/{id}/test", post(webhooks::test))
        .route(
            "/me/notifications",
            get(webhooks::my_prefs).put(webhooks::set_my_prefs),
        )
        .route("/jobs", get(jobs::list))
        .route("/jobs/{id}", get(jobs::get))
        .route("/jobs/{id}/runs", get(jobs::runs))
        .route("/jobs/{id}/retry", post(jobs::retry))
        .route("/jobs/{id}/cancel", post(jobs::cancel))
        .route("/admin/ops/queues", get(admin::queues))
        .route("/admin/ops/status", get(ops::status))
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
        .route("/admin/flags", get(flags::list))
        .route("/admin/flags/{key}", axum::routing::put(flags::set))
        .route("/flags", get(flags::mine))
        .route("/openapi.json", get(openapi_json))
        .merge(tile_routes())
        .layer(axum::middleware::map_response(
            response_headers::private_by_default,
        ));
    with_metrics(&state, Router::new())
        .nest("/v1", v1)
        .route("/", get(web::index))
        .route("/assets/{*path}", get(web::file))
        .route("/healthz", get(ops::healthz))
        .route("/readyz", get(ops::readyz))
        .fallback(no_route)
        .method_not_allowed_fallback(wrong_method)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            timeout::limit,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            telemetry::observe,
        ))
        .with_state(state)
}
