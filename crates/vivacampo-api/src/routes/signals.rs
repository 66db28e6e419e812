//! Signals: which fields need attention, why, and what to do (docs/signals.md). The list, one
//! signal, and the member's ack, resolve and dismiss. Texts come in the caller's language
//! ([`caller_language`]). The tenant's `signals` flag switches all of it off.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::http::header::ACCEPT_LANGUAGE;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::flags::Flag;
use vivacampo_core::signals::lifecycle::{HealthStatus, health};
use vivacampo_core::signals::{Language, Severity, SignalStatus, SignalType};
use vivacampo_core::tenancy::Role;
use vivacampo_store::signals::{SignalAction, SignalFilter};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath, JsonBody};
use crate::routes::farms::{not_found, page_request};
use crate::state::AppState;
use crate::views::{AoiView, ErrorBody};

/// Longest note a member may leave with a status change.
pub const MAX_NOTE_CHARS: usize = 2000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SignalQuery {
    /// OPEN, ACK, RESOLVED or DISMISSED.
    #[param(schema_with = crate::openapi::schemas::signal_status)]
    pub status: Option<String>,
    /// Only this field's signals.
    pub aoi_id: Option<String>,
    /// Only the signals of this farm's fields.
    pub farm_id: Option<String>,
    /// A signal type, e.g. WATER_STRESS.
    #[param(schema_with = crate::openapi::schemas::signal_type)]
    #[serde(rename = "type")]
    pub signal_type: Option<String>,
    /// LOW, MEDIUM or HIGH.
    #[param(schema_with = crate::openapi::schemas::severity)]
    pub severity: Option<String>,
    /// From 1, default 1.
    #[param(schema_with = crate::openapi::schemas::page)]
    pub page: Option<u32>,
    /// 1 to 200, default 50.
    #[param(schema_with = crate::openapi::schemas::page_size)]
    pub page_size: Option<u32>,
}

/// A member's status change: an optional note and "was this signal useful?".
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SignalUpdate {
    /// Up to 2000 characters.
    pub note: Option<String>,
    pub useful: Option<bool>,
}

/// The week a signal's condition was first seen.
#[derive(Debug, Serialize, ToSchema)]
pub struct FirstSeenWeek {
    pub year: i32,
    pub week: u8,
}

/// A signal (documentation of the JSON `vivacampo_store::signals::Signal::json` writes).
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalView {
    pub id: String,
    pub aoi_id: String,
    pub aoi_name: String,
    pub farm_id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::schemas::signal_type)]
    pub signal_type: String,
    #[schema(schema_with = crate::openapi::schemas::severity)]
    pub severity: String,
    /// 0..1: falls with cloud cover, short history and a small margin.
    pub confidence: f64,
    #[schema(schema_with = crate::openapi::schemas::signal_status)]
    pub status: String,
    /// ISO week of the evaluation that last opened or updated it (image time).
    pub year: i32,
    pub week: u8,
    pub first_seen_week: FirstSeenWeek,
    /// In the caller's language.
    pub title: String,
    pub explanation: String,
    pub actions: Vec<String>,
    /// The language of title, explanation and actions: pt-BR or en.
    pub language: String,
    /// The weeks and values it rests on (with expected values and band), the baseline, the
    /// weather totals, the rule's figures, the scene ids and (NO_RECENT_DATA) the next pass.
    #[schema(value_type = Object)]
    pub evidence: serde_json::Value,
    /// `system` (the field recovered, or was harvested) or `member`, once RESOLVED.
    pub resolved_by: Option<String>,
    /// Why the system resolved it: RECOVERED or HARVEST.
    pub resolution: Option<String>,
    pub note: Option<String>,
    pub useful: Option<bool>,
    pub status_changed_at: Option<String>,
    pub created_at: String,
    pub updated_at: String,
}

/// A page of signals, newest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct SignalPage {
    pub items: Vec<SignalView>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

/// A field's health badge from its open signals: ALERT when a field problem (any alarm but
/// NO_RECENT_DATA) of MEDIUM or HIGH severity is open, WATCH for other open alarms (LOW ones,
/// or no recent image), else OK (a harvest is information).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct HealthView {
    #[schema(schema_with = crate::openapi::schemas::health_status)]
    pub status: String,
    /// OPEN and ACK signals of the field, informational ones included.
    pub open_signals: usize,
}

impl Default for HealthView {
    fn default() -> Self {
        HealthView {
            status: HealthStatus::Ok.as_str().to_owned(),
            open_signals: 0,
        }
    }
}

/// The language of a request's `Accept-Language` (the first of pt… or en… by preference),
/// `None` when it names neither.
pub fn accept_language(headers: &HeaderMap) -> Option<Language> {
    let value = headers.get(ACCEPT_LANGUAGE)?.to_str().ok()?;
    let mut tags: Vec<(f32, usize, &str)> = value
        .split(',')
        .enumerate()
        .filter_map(|(i, part)| {
            let mut pieces = part.trim().split(';');
            let tag = pieces.next()?.trim();
            let q = pieces
                .find_map(|p| p.trim().strip_prefix("q="))
                .map(|q| q.trim().parse::<f32>().unwrap_or(0.0))
                .unwrap_or(1.0);
            (q > 0.0 && !tag.is_empty()).then_some((q, i, tag))
        })
        .collect();
    tags.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    tags.iter().find_map(|(_, _, tag)| {
        let primary = tag.split('-').next()?.to_ascii_lowercase();
        match primary.as_str() {
            "pt" => Some(Language::PtBr),
            "en" => Some(Language::En),
            _ => None,
        }
    })
}

/// The caller's language for texts: the request's `Accept-Language` (pt-BR or en), else the
/// member's notification language, else pt-BR. The one place that decides it.
pub async fn caller_language(state: &AppState, auth: &Auth, headers: &HeaderMap) -> Language {
    if let Some(language) = accept_language(headers) {
        return language;
    }
    let Ok(tenant) = auth.tenant(Role::Viewer) else {
        return Language::PtBr;
    };
    // The preference only picks a language: if it cannot be read, the default serves.
    state
        .store()
        .notification_prefs(tenant, auth.identity_id())
        .await
        .map(|prefs| prefs.email.language)
        .unwrap_or(Language::PtBr)
}

fn parse_param<T: std::str::FromStr>(field: &str, value: Option<&str>) -> ApiResult<Option<T>>
where
    T::Err: std::fmt::Display,
{
    value
        .map(|v| {
            v.parse::<T>()
                .map_err(|e| ApiError::invalid(field, "invalid", format!("{field}: {e}")))
        })
        .transpose()
}

fn uuid_param(field: &str, value: Option<String>) -> ApiResult<Option<String>> {
    value
        .map(|v| {
            uuid::Uuid::parse_str(&v)
                .map(|u| u.to_string())
                .map_err(|_| ApiError::invalid(field, "invalid", format!("{field} must be an id")))
        })
        .transpose()
}

/// The health badge of every field of the caller's tenant that has an open signal.
pub async fn health_by_aoi(
    state: &AppState,
    tenant: &str,
) -> ApiResult<HashMap<String, HealthView>> {
    let open = state.store().open_signals_by_aoi(tenant).await?;
    Ok(open
        .into_iter()
        .map(|(aoi, signals)| {
            (
                aoi,
                HealthView {
                    status: health(&signals).as_str().to_owned(),
                    open_signals: signals.len(),
                },
            )
        })
        .collect())
}

/// Sets the health badge of field views.
pub async fn with_health(state: &AppState, tenant: &str, views: &mut [AoiView]) -> ApiResult<()> {
    let health = health_by_aoi(state, tenant).await?;
    for view in views {
        view.health = health.get(&view.id).cloned().unwrap_or_default();
    }
    Ok(())
}

#[utoipa::path(get, path = "/v1/signals", tag = "signals", operation_id = "list_signals", security(("bearer" = [])),
    params(SignalQuery),
    responses((status = 200, body = SignalPage), (status = 400, description = "a filter names no known value", body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 503, description = "FEATURE_DISABLED (signals)", body = ErrorBody)))]
/// A page of the tenant's signals, newest first. Title, explanation and actions are in the
/// request's `Accept-Language` (pt-BR or en), else the member's language, else pt-BR.
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<SignalQuery>,
) -> ApiResult<Json<serde_json::Value>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Signals, Some(tenant)).await?;
    let filter = SignalFilter {
        status: parse_param::<SignalStatus>("status", q.status.as_deref())?,
        aoi_id: uuid_param("aoi_id", q.aoi_id)?,
        farm_id: uuid_param("farm_id", q.farm_id)?,
        signal_type: parse_param::<SignalType>("type", q.signal_type.as_deref())?,
        severity: parse_param::<Severity>("severity", q.severity.as_deref())?,
    };
    let page = page_request(q.page, q.page_size)?;
    let language = caller_language(&state, &auth, &headers).await;
    let page = state.store().list_signals(tenant, &filter, page).await?;
    Ok(Json(serde_json::json!({
        "items": page.items.iter().map(|s| s.json(language)).collect::<Vec<_>>(),
        "page": page.page,
        "page_size": page.page_size,
        "total": page.total,
    })))
}

#[utoipa::path(get, path = "/v1/signals/{id}", tag = "signals", operation_id = "get_signal", security(("bearer" = [])),
    params(("id" = String, Path, description = "signal id")),
    responses((status = 200, body = SignalView), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody), (status = 503, description = "FEATURE_DISABLED (signals)", body = ErrorBody)))]
/// One signal, its texts in the caller's language (`Accept-Language`, pt-BR or en).
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    IdPath(id): IdPath,
) -> ApiResult<Json<serde_json::Value>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Signals, Some(tenant)).await?;
    let signal = state
        .store()
        .signal(tenant, &id)
        .await
        .map_err(|e| not_found(e, "signal"))?;
    let language = caller_language(&state, &auth, &headers).await;
    Ok(Json(signal.json(language)))
}

async fn change(
    state: AppState,
    auth: Auth,
    headers: HeaderMap,
    id: String,
    body: JsonBody<SignalUpdate>,
    action: SignalAction,
) -> ApiResult<Json<serde_json::Value>> {
    let role = match action {
        SignalAction::Ack => Role::Viewer,
        SignalAction::Resolve | SignalAction::Dismiss => Role::Operator,
    };
    let tenant = auth.tenant(role)?;
    state.require(Flag::Signals, Some(tenant)).await?;
    let body = body.parse_or_default()?;
    let note = body
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(note) = note {
        if note.chars().count() > MAX_NOTE_CHARS {
            return Err(ApiError::invalid(
                "note",
                "too_long",
                format!("note must be at most {MAX_NOTE_CHARS} characters"),
            ));
        }
        if note
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t')
        {
            return Err(ApiError::invalid(
                "note",
                "control_character",
                "note must not contain control characters",
            ));
        }
    }
    let signal = state
        .store()
        .set_signal_status(tenant, auth.identity_id(), &id, action, note, body.useful)
        .await
        .map_err(|e| not_found(e, "signal"))?;
    let language = caller_language(&state, &auth, &headers).await;
    Ok(Json(signal.json(language)))
}

#[utoipa::path(post, path = "/v1/signals/{id}/ack", tag = "signals", operation_id = "ack_signal", security(("bearer" = [])),
    params(("id" = String, Path, description = "signal id")), request_body(content = Option<SignalUpdate>, description = "optional"),
    responses((status = 200, description = "ACK: seen; it still follows the field", body = SignalView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "the signal is RESOLVED or DISMISSED", body = ErrorBody),
              (status = 503, description = "FEATURE_DISABLED (signals)", body = ErrorBody)))]
pub async fn ack(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    IdPath(id): IdPath,
    body: JsonBody<SignalUpdate>,
) -> ApiResult<Json<serde_json::Value>> {
    change(state, auth, headers, id, body, SignalAction::Ack).await
}

#[utoipa::path(post, path = "/v1/signals/{id}/resolve", tag = "signals", operation_id = "resolve_signal", security(("bearer" = [])),
    params(("id" = String, Path, description = "signal id")), request_body(content = Option<SignalUpdate>, description = "optional"),
    responses((status = 200, description = "RESOLVED by the member (OPERATOR)", body = SignalView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "the signal is RESOLVED or DISMISSED", body = ErrorBody),
              (status = 503, description = "FEATURE_DISABLED (signals)", body = ErrorBody)))]
pub async fn resolve(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    IdPath(id): IdPath,
    body: JsonBody<SignalUpdate>,
) -> ApiResult<Json<serde_json::Value>> {
    change(state, auth, headers, id, body, SignalAction::Resolve).await
}

#[utoipa::path(post, path = "/v1/signals/{id}/dismiss", tag = "signals", operation_id = "dismiss_signal", security(("bearer" = [])),
    params(("id" = String, Path, description = "signal id")), request_body(content = Option<SignalUpdate>, description = "optional"),
    responses((status = 200, description = "DISMISSED: judged not useful (OPERATOR)", body = SignalView), (status = 400, body = ErrorBody),
              (status = 403, body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "the signal is RESOLVED or DISMISSED", body = ErrorBody),
              (status = 503, description = "FEATURE_DISABLED (signals)", body = ErrorBody)))]
pub async fn dismiss(
    State(state): State<AppState>,
    auth: Auth,
    headers: HeaderMap,
    IdPath(id): IdPath,
    body: JsonBody<SignalUpdate>,
) -> ApiResult<Json<serde_json::Value>> {
    change(state, auth, headers, id, body, SignalAction::Dismiss).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(ACCEPT_LANGUAGE, value.parse().unwrap());
        h
    }

    #[test]
    fn accept_language_picks_the_preferred_known_language() {
        assert_eq!(
            accept_language(&headers("en-US,en;q=0.9")),
            Some(Language::En)
        );
        assert_eq!(accept_language(&headers("pt-BR")), Some(Language::PtBr));
        assert_eq!(
            accept_language(&headers("fr;q=1, en;q=0.5, pt;q=0.8")),
            Some(Language::PtBr)
        );
        assert_eq!(accept_language(&headers("de, fr")), None);
        assert_eq!(accept_language(&headers("en;q=0")), None);
        assert_eq!(accept_language(&HeaderMap::new()), None);
    }
}
