//! The overall request timeout: a request not answered within the `request_timeout` setting
//! gets 503 UNAVAILABLE with `Retry-After`, so one stuck query or store call cannot hold a
//! client, and the connection it uses, for ever. The handler's work is dropped at that point.

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::AppState;

/// Answers 503 when the rest of the stack takes longer than [`AppState::request_timeout`].
pub async fn limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let limit = state.request_timeout();
    match tokio::time::timeout(limit, next.run(req)).await {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!(timeout_ms = limit.as_millis() as u64, "request timed out");
            ApiError::Unavailable("the server took too long to answer; try again shortly".into())
                .into_response()
        }
    }
}
