//! Webhooks of the caller's workspace (TENANT_ADMIN), their delivery log and test pings, and
//! the caller's own notification preferences (`/v1/me/notifications`). The worker delivers
//! (crate `vivacampo-notify`); these routes only record and enqueue.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vivacampo_core::flags::Flag;
use vivacampo_core::net::{is_localhost_name, is_public_ip};
use vivacampo_core::notify::{MAX_WEBHOOK_URL_CHARS, NotificationPrefs, WebhookEvent};
use vivacampo_core::tenancy::Role;
use vivacampo_store::notifications::{Delivery, Webhook};

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, IdPath, JsonBody};
use crate::routes::farms::not_found;
use crate::state::AppState;
use crate::views::{ErrorBody, rfc3339};

/// Longest webhook description.
const MAX_DESCRIPTION_CHARS: usize = 500;
/// Deliveries listed, newest first.
const DELIVERIES_LISTED: i64 = 100;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWebhook {
    /// Where deliveries are POSTed: an http:// or https:// URL.
    pub url: String,
    /// At least one of `signal.opened`, `signal.resolved`, `job.dead`.
    #[schema(schema_with = crate::openapi::schemas::webhook_events)]
    pub events: Vec<String>,
    /// Up to 500 characters.
    pub description: Option<String>,
}

/// A webhook. `secret` (the HMAC-SHA256 key of `X-VivaCampo-Signature`) is only in the answer
/// to its creation: store it then.
#[derive(Debug, Serialize, ToSchema)]
pub struct WebhookView {
    pub id: String,
    pub url: String,
    #[schema(schema_with = crate::openapi::schemas::webhook_events)]
    pub events: Vec<WebhookEvent>,
    pub description: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    pub created_at: String,
}

impl WebhookView {
    fn new(webhook: Webhook, with_secret: bool) -> WebhookView {
        WebhookView {
            id: webhook.id,
            url: webhook.url,
            events: webhook.events,
            description: webhook.description,
            secret: with_secret.then_some(webhook.secret),
            created_at: rfc3339(webhook.created_at),
        }
    }
}

/// One delivery of one event to a webhook.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    pub id: String,
    /// `signal.opened`, `signal.resolved`, `job.dead` or `ping`.
    #[schema(value_type = String)]
    pub event: WebhookEvent,
    /// PENDING, DELIVERED, FAILED (will be retried) or DEAD (out of attempts).
    #[schema(value_type = String)]
    pub status: vivacampo_core::notify::DeliveryStatus,
    pub attempts: i64,
    /// The receiver's last HTTP status; null when it did not answer.
    pub response_status: Option<i64>,
    /// Why the last attempt failed.
    pub last_error: Option<String>,
    pub created_at: String,
    pub delivered_at: Option<String>,
}

impl From<Delivery> for DeliveryView {
    fn from(d: Delivery) -> DeliveryView {
        DeliveryView {
            id: d.id,
            event: d.event,
            status: d.status,
            attempts: d.attempts,
            response_status: d.response_status,
            last_error: d.last_error,
            created_at: rfc3339(d.created_at),
            delivered_at: d.delivered_at.map(rfc3339),
        }
    }
}

/// `{email: {signals: off|instant|daily, language: pt-BR|en}}`.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NotificationPrefsView {
    pub email: EmailPrefsView,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailPrefsView {
    /// `off`, `instant` (one e-mail per signal) or `daily` (one digest a day).
    #[schema(schema_with = crate::openapi::schemas::email_mode)]
    pub signals: String,
    /// `pt-BR` or `en`.
    #[schema(schema_with = crate::openapi::schemas::language)]
    pub language: String,
}

impl From<NotificationPrefs> for NotificationPrefsView {
    fn from(p: NotificationPrefs) -> NotificationPrefsView {
        NotificationPrefsView {
            email: EmailPrefsView {
                signals: p.email.signals.as_str().to_owned(),
                language: p.email.language.as_str().to_owned(),
            },
        }
    }
}

/// An http(s) URL with a host, no longer than [`MAX_WEBHOOK_URL_CHARS`]; unless
/// `allow_private`, its host may not be a non-public IP address or `localhost` (the worker also
/// checks what a host name resolves to, at each delivery).
fn check_url(raw: &str, allow_private: bool) -> ApiResult<String> {
    let raw = raw.trim();
    if raw.chars().count() > MAX_WEBHOOK_URL_CHARS {
        return Err(ApiError::invalid(
            "url",
            "too_long",
            format!("url is longer than {MAX_WEBHOOK_URL_CHARS} characters"),
        ));
    }
    let url = url::Url::parse(raw)
        .map_err(|_| ApiError::invalid("url", "invalid", "url is not a valid URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(ApiError::invalid(
            "url",
            "scheme",
            "url must start with http:// or https://",
        ));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(ApiError::invalid("url", "invalid", "url has no host"));
    }
    let not_public = match url.host() {
        Some(url::Host::Ipv4(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Ipv6(ip)) => !is_public_ip(ip.into()),
        Some(url::Host::Domain(name)) => is_localhost_name(name),
        None => false,
    };
    if not_public && !allow_private {
        return Err(ApiError::invalid(
            "url",
            "not_public",
            "url must name a public internet address, not a loopback, private or link-local one",
        ));
    }
    Ok(url.to_string())
}

/// A non-empty list of subscribable events, without repeats.
fn check_events(raw: &[String]) -> ApiResult<Vec<WebhookEvent>> {
    let expected = || {
        WebhookEvent::SUBSCRIBABLE
            .iter()
            .map(|e| e.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    if raw.is_empty() {
        return Err(ApiError::invalid(
            "events",
            "empty",
            format!("events must name at least one of {}", expected()),
        ));
    }
    let mut events = Vec::new();
    for name in raw {
        let event = name
            .parse::<WebhookEvent>()
            .ok()
            .filter(|e| WebhookEvent::SUBSCRIBABLE.contains(e))
            .ok_or_else(|| {
                ApiError::invalid(
                    "events",
                    "invalid",
                    format!("unknown event {name:?}; expected one of {}", expected()),
                )
            })?;
        if !events.contains(&event) {
            events.push(event);
        }
    }
    Ok(events)
}

fn check_description(raw: Option<&str>) -> ApiResult<Option<String>> {
    let Some(text) = raw.map(str::trim).filter(|t| !t.is_empty()) else {
        return Ok(None);
    };
    if text.chars().count() > MAX_DESCRIPTION_CHARS {
        return Err(ApiError::invalid(
            "description",
            "too_long",
            format!("description is longer than {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    if vivacampo_core::text::has_control(text) {
        return Err(ApiError::invalid(
            "description",
            "control_characters",
            "description contains control characters",
        ));
    }
    Ok(Some(text.to_owned()))
}

#[utoipa::path(get, path = "/v1/webhooks", tag = "notifications", operation_id = "list_webhooks", security(("bearer" = [])),
    responses((status = 200, body = Vec<WebhookView>),
              (status = 403, description = "FORBIDDEN (role below TENANT_ADMIN, suspended workspace)", body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag webhooks)", body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<WebhookView>>> {
    let tenant = auth.tenant(Role::TenantAdmin)?;
    state.require(Flag::Webhooks, Some(tenant)).await?;
    let webhooks = state.store().webhooks(tenant).await?;
    Ok(Json(
        webhooks
            .into_iter()
            .map(|w| WebhookView::new(w, false))
            .collect(),
    ))
}

#[utoipa::path(post, path = "/v1/webhooks", tag = "notifications", operation_id = "create_webhook", security(("bearer" = [])), request_body = CreateWebhook,
    responses((status = 201, body = WebhookView, description = "the webhook, with its secret (shown only now)"), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (role below TENANT_ADMIN, suspended workspace), or QUOTA_EXCEEDED (20 webhooks per workspace)", body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag webhooks)", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    body: JsonBody<CreateWebhook>,
) -> ApiResult<(StatusCode, Json<WebhookView>)> {
    let tenant = auth.tenant(Role::TenantAdmin)?;
    state.require(Flag::Webhooks, Some(tenant)).await?;
    let body = body.parse()?;
    let url = check_url(&body.url, state.config().webhook_allow_private)?;
    let events = check_events(&body.events)?;
    let description = check_description(body.description.as_deref())?;
    let webhook = state
        .store()
        .create_webhook(
            tenant,
            Some(auth.identity_id()),
            &url,
            &events,
            description.as_deref(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(WebhookView::new(webhook, true))))
}

#[utoipa::path(delete, path = "/v1/webhooks/{id}", tag = "notifications", operation_id = "delete_webhook", security(("bearer" = [])),
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 204, description = "deleted, with its delivery log"),
              (status = 403, description = "FORBIDDEN (role below TENANT_ADMIN, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag webhooks)", body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let tenant = auth.tenant(Role::TenantAdmin)?;
    state.require(Flag::Webhooks, Some(tenant)).await?;
    state
        .store()
        .delete_webhook(tenant, &id, Some(auth.identity_id()))
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/v1/webhooks/{id}/deliveries", tag = "notifications", operation_id = "webhook_deliveries", security(("bearer" = [])),
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 200, body = Vec<DeliveryView>, description = "the 100 newest deliveries, newest first"),
              (status = 403, description = "FORBIDDEN (role below TENANT_ADMIN, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag webhooks)", body = ErrorBody)))]
pub async fn deliveries(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<Vec<DeliveryView>>> {
    let tenant = auth.tenant(Role::TenantAdmin)?;
    state.require(Flag::Webhooks, Some(tenant)).await?;
    let deliveries = state
        .store()
        .webhook_deliveries(tenant, &id, DELIVERIES_LISTED)
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    Ok(Json(deliveries.into_iter().map(Into::into).collect()))
}

#[utoipa::path(post, path = "/v1/webhooks/{id}/test", tag = "notifications", operation_id = "test_webhook", security(("bearer" = [])),
    params(("id" = String, Path, description = "webhook id")),
    responses((status = 202, body = DeliveryView, description = "a `ping` delivery is queued"),
              (status = 403, description = "FORBIDDEN (role below TENANT_ADMIN, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag webhooks)", body = ErrorBody)))]
pub async fn test(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<DeliveryView>)> {
    let tenant = auth.tenant(Role::TenantAdmin)?;
    state.require(Flag::Webhooks, Some(tenant)).await?;
    let delivery = state
        .store()
        .enqueue_webhook_ping(tenant, &id)
        .await
        .map_err(|e| not_found(e, "webhook"))?;
    Ok((StatusCode::ACCEPTED, Json(delivery.into())))
}

#[utoipa::path(get, path = "/v1/me/notifications", tag = "notifications", operation_id = "my_notifications", security(("bearer" = [])),
    responses((status = 200, body = NotificationPrefsView),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag email)", body = ErrorBody)))]
pub async fn my_prefs(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<NotificationPrefsView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Email, Some(tenant)).await?;
    let prefs = state
        .store()
        .notification_prefs(tenant, auth.identity_id())
        .await?;
    Ok(Json(prefs.into()))
}

#[utoipa::path(put, path = "/v1/me/notifications", tag = "notifications", operation_id = "set_my_notifications", security(("bearer" = [])),
    request_body = NotificationPrefsView,
    responses((status = 200, body = NotificationPrefsView), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag email)", body = ErrorBody)))]
pub async fn set_my_prefs(
    State(state): State<AppState>,
    auth: Auth,
    body: JsonBody<NotificationPrefsView>,
) -> ApiResult<Json<NotificationPrefsView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Email, Some(tenant)).await?;
    let body = body.parse()?;
    let prefs =
        NotificationPrefs {
            email: vivacampo_core::notify::EmailPrefs {
                signals: body.email.signals.parse().map_err(
                    |e: vivacampo_core::UnknownValue| {
                        ApiError::invalid("email.signals", "invalid", e.to_string())
                    },
                )?,
                language: body.email.language.parse().map_err(
                    |e: vivacampo_core::UnknownValue| {
                        ApiError::invalid("email.language", "invalid", e.to_string())
                    },
                )?,
            },
        };
    let prefs = state
        .store()
        .set_notification_prefs(tenant, auth.identity_id(), prefs)
        .await?;
    Ok(Json(prefs.into()))
}
