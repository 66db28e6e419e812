//! Extractors that turn bad input into the API's error shape instead of axum's plain text.

use std::marker::PhantomData;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::rejection::QueryRejection;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::StatusCode;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use vivacampo_core::tenancy::{Role, TenantStatus};
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::accounts::Session;

use crate::credentials::token_digest;
use crate::error::ApiError;
use crate::state::AppState;
use crate::telemetry::RequestInfo;

/// A JSON body, read before the handler runs. For routes without a role check (sign-in,
/// sign-up); a route that checks a role takes a [`JsonBody`] and parses it after the check.
/// Malformed JSON, anything but an object, a `\0` in a string and wrong fields are 400, an
/// oversized body is 413.
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        JsonBody::<T>::from_request(req, state)
            .await?
            .parse()
            .map(ApiJson)
    }
}

/// A JSON body read but not yet parsed: the handler checks the caller's role first, then calls
/// [`JsonBody::parse`], so a caller without the role learns nothing about validation (403, not
/// 400). Only an oversized body is refused before the handler (413).
pub struct JsonBody<T> {
    json_content_type: bool,
    bytes: Bytes,
    target: PhantomData<fn() -> T>,
}

impl<S: Send + Sync, T> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let json_content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(is_json);
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge {
                    limit: body_limit(),
                }
            } else {
                ApiError::invalid("body", "unreadable", "the request body could not be read")
            }
        })?;
        Ok(JsonBody {
            json_content_type,
            bytes,
            target: PhantomData,
        })
    }
}

impl<T: DeserializeOwned> JsonBody<T> {
    /// The body as `T`: a JSON object with no `\0` in any string, whose fields fit `T`.
    pub fn parse(self) -> Result<T, ApiError> {
        if !self.json_content_type {
            return Err(ApiError::invalid(
                "body",
                "content_type",
                "expected a JSON body with Content-Type: application/json",
            ));
        }
        parse_json(&self.bytes)
    }

    /// Like [`JsonBody::parse`], but an empty body (all of whose fields are optional) is
    /// `T::default()`.
    pub fn parse_or_default(self) -> Result<T, ApiError>
    where
        T: Default,
    {
        if self.bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(T::default());
        }
        self.parse()
    }
}

/// `application/json` or `application/…+json`, with or without parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// Parses a request body: JSON, an object (serde would also take an array for a struct),
/// no NUL in any key or string, then the fields of `T`, naming the offending one.
fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let value: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        let message = match e.classify() {
            serde_json::error::Category::Eof => "the JSON body ends too early".to_owned(),
            _ => format!(
                "the body is not valid JSON (line {}, column {})",
                e.line(),
                e.column()
            ),
        };
        ApiError::invalid("body", "malformed_json", message)
    })?;
    if !value.is_object() {
        return Err(ApiError::invalid(
            "body",
            "not_object",
            "the request body must be a JSON object",
        ));
    }
    if let Some(field) = nul_in(&value, "") {
        return Err(ApiError::invalid(
            &field,
            "control_character",
            format!("{field} must not contain a NUL character"),
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let field = if path == "." { "body".to_owned() } else { path };
        ApiError::invalid(
            &field,
            "invalid",
            public_message(&e.into_inner().to_string()),
        )
    })
}

/// The path (`quotas.max_fields`, `geometry.coordinates[0]`) of the first key or string that
/// holds a `\0`.
fn nul_in(value: &serde_json::Value, path: &str) -> Option<String> {
    use serde_json::Value;
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(s) if s.contains('\0') => Some(if path.is_empty() {
            "body".into()
        } else {
            path.into()
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(i, v)| nul_in(v, &format!("{path}[{i}]"))),
        Value::Object(map) => map.iter().find_map(|(k, v)| {
            if k.contains('\0') {
                Some(join(&k.replace('\0', "\\0")))
            } else {
                nul_in(v, &join(k))
            }
        }),
        _ => None,
    }
}

/// A serde message without the Rust type names it carries (`expected struct CreateFarm`).
fn public_message(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(at) = rest.find("struct ") {
        out.push_str(&rest[..at]);
        let after = &rest[at + "struct ".len()..];
        let end = after
            .find(|c: char| !(c.is_alphanumeric() || c == '_'))
            .unwrap_or(after.len());
        out.push_str("a JSON object");
        rest = &after[end..];
    }
    out.push_str(rest);
    out
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
        if parts.uri.query().is_some_and(query_has_control) {
            return Err(ApiError::invalid(
                "query",
                "control_character",
                "query parameters must not contain control characters",
            ));
        }
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(ApiQuery(value)),
            Err(QueryRejection::FailedToDeserializeQueryString(e)) => {
                Err(ApiError::invalid("query", "invalid", e.body_text()))
            }
            Err(e) => Err(ApiError::invalid("query", "invalid", e.body_text())),
        }
    }
}

/// Whether a query string, once percent-decoded, holds a control character (`%00`, `%1B`, …).
fn query_has_control(query: &str) -> bool {
    let raw = query.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
        match (
            raw[i],
            raw.get(i + 1).copied().and_then(hex),
            raw.get(i + 2).copied().and_then(hex),
        ) {
            (b'%', Some(hi), Some(lo)) => {
                decoded.push(hi << 4 | lo);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    vivacampo_core::text::has_control(&String::from_utf8_lossy(&decoded))
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
        Auth::from_parts_on(parts, state.store()).await
    }
}

/// [`Auth`] read through the store's dedicated connection ([`vivacampo_store::Store::dedicated`]):
/// for the operations status, which must answer while a load holds every pooled connection.
pub struct OpsAuth(pub Auth);

impl FromRequestParts<AppState> for OpsAuth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Auth::from_parts_on(parts, &state.store().dedicated())
            .await
            .map(OpsAuth)
    }
}

impl Auth {
    /// The caller of the request in `parts`, looked up in `store`.
    async fn from_parts_on(
        parts: &mut Parts,
        store: &vivacampo_store::Store,
    ) -> Result<Self, ApiError> {
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
        let session = store.session(&digest).await?.ok_or_else(|| {
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
