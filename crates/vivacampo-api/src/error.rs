//! The one error type of the API and its mapping to the error shape of API.md:
//! `{"error": {"code", "message", "details", "request_id"}}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use vivacampo_core::flags::Flag;
use vivacampo_store::StoreError;

tokio::task_local! {
    /// The id of the request being served, for error bodies.
    pub static REQUEST_ID: String;
}

/// Everything a handler can answer besides success.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{message}")]
    Validation {
        message: String,
        details: serde_json::Value,
    },
    #[error("{0}")]
    Unauthenticated(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    QuotaExceeded(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error("method not allowed on this endpoint")]
    MethodNotAllowed,
    #[error("request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    #[error("too many requests; try again in {retry_after} s")]
    RateLimited { retry_after: u64 },
    #[error("{0}")]
    Unavailable(String),
    #[error("this feature ({}) is switched off for now; try again later", .0.as_str())]
    FeatureDisabled(Flag),
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// A 400 naming the offending field and a machine-readable reason.
    pub fn invalid(field: &str, reason: &str, message: impl Into<String>) -> ApiError {
        ApiError::Validation {
            message: message.into(),
            details: json!({"field": field, "reason": reason}),
        }
    }

    pub fn not_found(what: &str) -> ApiError {
        ApiError::NotFound(format!("{what} not found"))
    }

    fn status_and_code(&self) -> (StatusCode, &'static str) {
        match self {
            ApiError::Validation { .. } => (StatusCode::BAD_REQUEST, "VALIDATION_ERROR"),
            ApiError::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, "UNAUTHENTICATED"),
            ApiError::Forbidden(_) => (StatusCode::FORBIDDEN, "FORBIDDEN"),
            ApiError::QuotaExceeded(_) => (StatusCode::FORBIDDEN, "QUOTA_EXCEEDED"),
            ApiError::NotFound(_) => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ApiError::Conflict(_) => (StatusCode::CONFLICT, "CONFLICT"),
            ApiError::MethodNotAllowed => (StatusCode::METHOD_NOT_ALLOWED, "METHOD_NOT_ALLOWED"),
            ApiError::PayloadTooLarge { .. } => {
                (StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE")
            }
            ApiError::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED"),
            ApiError::Unavailable(_) => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ApiError::FeatureDisabled(_) => (StatusCode::SERVICE_UNAVAILABLE, "FEATURE_DISABLED"),
            ApiError::Internal(_) => (StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL"),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound => ApiError::not_found("resource"),
            StoreError::Conflict(m) => ApiError::Conflict(m),
            StoreError::Quota(m) => ApiError::QuotaExceeded(m),
            StoreError::Unavailable(m) => {
                // The cause (an I/O error, a server message) is for the log, not the client.
                let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
                tracing::warn!(request_id, error = %m, "database unavailable");
                ApiError::Unavailable("the database is unavailable; try again in a moment".into())
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code) = self.status_and_code();
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        if let ApiError::Internal(detail) = &self {
            // The client gets a bare "internal error"; the log gets the cause.
            tracing::error!(request_id, error = %detail, "internal error");
        }
        let details = match &self {
            ApiError::Validation { details, .. } => details.clone(),
            ApiError::FeatureDisabled(flag) => json!({"flag": flag.as_str()}),
            _ => json!({}),
        };
        let body = json!({"error": {"code": code, "message": self.to_string(), "details": details, "request_id": request_id}});
        let mut response = (status, axum::Json(body)).into_response();
        let retry_after = match &self {
            ApiError::RateLimited { retry_after } => Some(*retry_after),
            ApiError::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
