//! Extractors that turn bad input into the API's error shape instead of axum's plain text.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use vivacampo_core::tenancy::{Role, TenantStatus};
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::accounts::Session;

use crate::credentials::token_digest;
use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry::RequestInfo;

/// A JSON body. Malformed JSON and wrong fields are 400, an oversized body is 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(ApiJson(value)),
            Err(JsonRejection::BytesRejection(e))
                if e.status() == StatusCode::PAYLOAD_TOO_LARGE =>
            {
                Err(ApiError::PayloadTooLarge {
                    limit: body_limit(),
                })
            }
            Err(JsonRejection::MissingJsonContentType(_)) => Err(ApiError::invalid(
                "body",
                "content_type",
                "expected a JSON body with Content-Type: application/json",
            )),
            Err(JsonRejection::JsonDataError(e)) => {
                Err(ApiError::invalid("body", "invalid", e.body_text()))
            }
            Err(e) => Err(ApiError::invalid("body", "malformed_json", e.body_text())),
        }
    }
}

tokio::task_local! {
    /// The body limit in force, for the 413 message.
    pub static BODY_LIMIT: usize;
}

fn body_limit() -> usize {
    BODY_LIMIT.try_with(|l| *l).unwrap_or(0)
}

/// Query parameters; a bad value is a 400 naming it.
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::invalid("query", "invalid", e.body_text()))
            }
            Err(e) => Err(ApiError::invalid("query", "invalid", e.body_text())),
        }
    }
}

/// A UUID in the path. Anything else cannot name a resource, so it is a 404.
pub struct IdPath(pub String);

impl<S: Send + Sync> FromRequestParts<S> for IdPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(raw) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("resource"))?;
        uuid::Uuid::parse_str(&raw)
            .map(|id| IdPath(id.to_string()))
            .map_err(|_| ApiError::not_found("resource"))
    }
}

/// A field id and an ISO week in the path (`/aois/{id}/weeks/{year}/{week}/…`). An id that is not
/// a UUID names nothing (404, like [`IdPath`]); a year or week that is not a number, or a week its
/// year does not have, is a 400 naming the segment.
pub struct WeekPath {
    pub id: String,
    pub week: IsoWeek,
}

impl<S: Send + Sync> FromRequestParts<S> for WeekPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path((id, year, week)) =
            axum::extract::Path::<(String, String, String)>::from_request_parts(parts, state)
                .await
                .map_err(|_| ApiError::not_found("resource"))?;
        let id = uuid::Uuid::parse_str(&id)
            .map_err(|_| ApiError::not_found("field"))?
            .to_string();
        let year = number(&year, "year", 1..=9999)?;
        let number_of_week = number(&week, "week", 1..=53)?;
        let week = IsoWeek::new(year, number_of_week as u8).ok_or_else(|| {
            ApiError::invalid(
                "week",
                "out_of_range",
                format!("{year} has no ISO week {number_of_week}"),
            )
        })?;
        Ok(WeekPath { id, week })
    }
}

/// A path segment as a whole number in `range`: `invalid` if it is not one, `out_of_range` if it
/// is outside.
fn number(text: &str, field: &str, range: std::ops::RangeInclusive<i32>) -> Result<i32, ApiError> {
    let bounds = format!("{} to {}", range.start(), range.end());
    let value: i64 = text.parse().map_err(|_| {
        ApiError::invalid(
            field,
            "invalid",
            format!("{field} must be a whole number from {bounds}, got {text:?}"),
        )
    })?;
    i32::try_from(value)
        .ok()
        .filter(|v| range.contains(v))
        .ok_or_else(|| {
            ApiError::invalid(
                field,
                "out_of_range",
                format!("{field} must be from {bounds}, got {value}"),
            )
        })
}

/// The client's address (the TCP peer), for rate limiting.
pub struct ClientIp(pub IpAddr);

impl<S: Send + Sync> FromRequestParts<S> for ClientIp {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip())
            .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        Ok(ClientIp(ip))
    }
}

/// The caller, from `Authorization: Bearer <token>`. Missing, unknown, expired or revoked
/// tokens are 401.
pub struct Auth {
    pub session: Session,
    pub token_digest: String,
}

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let header = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::Unauthenticated("missing Authorization: Bearer token".into())
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                ApiError::Unauthenticated("the Authorization header must be: Bearer <token>".into())
            })?;
        let digest = token_digest(token);
        let session = state.store().session(&digest).await?.ok_or_else(|| {
            ApiError::Unauthenticated(
                "the token is invalid, expired or revoked; sign in again".into(),
            )
        })?;
        if let Some(info) = parts.extensions.get::<RequestInfo>() {
            info.set_tenant(&session.tenant.id);
        }
        Ok(Auth {
            session,
            token_digest: digest,
        })
    }
}

impl Auth {
    /// The caller's tenant id, after checking the tenant is active and the role is at least
    /// `required`.
    pub fn tenant(&self, required: Role) -> Result<&str, ApiError> {
        if self.session.tenant.status == TenantStatus::Suspended {
            return Err(ApiError::Forbidden(
                "this workspace is suspended; contact support".into(),
            ));
        }
        if !self.session.role.allows(required) {
            return Err(ApiError::Forbidden(format!(
                "this action needs the {} role; you are {}",
                required, self.session.role
            )));
        }
        Ok(&self.session.tenant.id)
    }

    pub fn identity_id(&self) -> &str {
        &self.session.identity.id
    }

    /// Checks the caller is a system admin.
    pub fn system_admin(&self) -> Result<&str, ApiError> {
        if self.session.identity.is_system_admin {
            Ok(&self.session.identity.id)
        } else {
            Err(ApiError::Forbidden(
                "this action needs a system administrator".into(),
            ))
        }
    }
}
