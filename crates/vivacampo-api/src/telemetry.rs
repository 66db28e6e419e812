//! Per-request observability: the `X-Request-Id` header, one JSON log line per request and the
//! request metrics.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header::HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use vivacampo_core::metrics::LATENCY_BUCKETS;

use crate::error::REQUEST_ID;
use crate::extract::BODY_LIMIT;
use crate::state::AppState;

pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// Facts learnt while serving a request (the tenant is known only after authentication).
#[derive(Clone, Default)]
pub struct RequestInfo(Arc<Mutex<Option<String>>>);

impl RequestInfo {
    pub fn set_tenant(&self, tenant_id: &str) {
        *self.0.lock().unwrap_or_else(|e| e.into_inner()) = Some(tenant_id.to_owned());
    }

    fn tenant(&self) -> Option<String> {
        self.0.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
}

/// A client's request id is kept if it is short and printable; otherwise a new one is made.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(&REQUEST_ID_HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_owned)
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// The outermost middleware of every route.
pub async fn observe(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request_id(&req);
    let info = RequestInfo::default();
    req.extensions_mut().insert(info.clone());
    let method = req.method().clone();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let limit = state.config().body_limit;
    let mut response = REQUEST_ID
        .scope(id.clone(), BODY_LIMIT.scope(limit, next.run(req)))
        .await;
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(REQUEST_ID_HEADER, value);
    }
    let status = response.status().as_u16();
    let latency = started.elapsed().as_secs_f64();
    let status_text = status.to_string();
    let metrics = state.metrics();
    metrics.inc(
        "vivacampo_http_requests_total",
        "HTTP requests served, by method, route and status.",
        &[
            ("method", method.as_str()),
            ("route", &route),
            ("status", &status_text),
        ],
        1.0,
    );
    metrics.observe(
        "vivacampo_http_request_duration_seconds",
        "HTTP request latency, by method, route and status.",
        &[
            ("method", method.as_str()),
            ("route", &route),
            ("status", &status_text),
        ],
        LATENCY_BUCKETS,
        latency,
    );
    let tenant_id = info.tenant().unwrap_or_default();
    let latency_ms = (latency * 1000.0 * 1000.0).round() / 1000.0;
    // Server errors at ERROR, so filtering a log for ERROR finds every failed request.
    if status >= 500 {
        tracing::error!(target: "vivacampo::http", method = %method, route, status, latency_ms,
            request_id = id, tenant_id, "request failed");
    } else {
        tracing::info!(target: "vivacampo::http", method = %method, route, status, latency_ms,
            request_id = id, tenant_id, "request");
    }
    response
}
