//! Feature flags: the system admin's switches, and the flags in force for the caller's tenant
//! (the web app hides what is off).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use vivacampo_core::flags::Flag;
use vivacampo_core::tenancy::Role;
use vivacampo_store::StoreError;

use crate::error::{ApiError, ApiResult};
use crate::extract::{Auth, JsonBody};
use crate::state::AppState;
use crate::views::ErrorBody;

/// A flag as the system admin sees it.
#[derive(Debug, Serialize, ToSchema)]
pub struct FlagView {
    pub key: String,
    pub description: String,
    /// The global value.
    pub enabled: bool,
    /// Tenants with their own value, by tenant id.
    pub tenants: BTreeMap<String, bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct SetFlag {
    pub enabled: bool,
    /// Set the value for this tenant only; without it, the global value.
    pub tenant_id: Option<String>,
}

fn view(flag: Flag, set: &vivacampo_core::flags::FlagSet) -> FlagView {
    FlagView {
        key: flag.as_str().to_owned(),
        description: flag.description().to_owned(),
        enabled: set.global(flag),
        tenants: set.overrides(flag).into_iter().collect(),
    }
}

#[utoipa::path(get, path = "/v1/admin/flags", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = [FlagView]), (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn list(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<Vec<FlagView>>> {
    auth.system_admin()?;
    let set = state.store().flag_values().await?;
    Ok(Json(Flag::ALL.iter().map(|f| view(*f, &set)).collect()))
}

#[utoipa::path(put, path = "/v1/admin/flags/{key}", tag = "admin", security(("bearer" = [])),
    params(("key" = String, Path, description = "flag key, e.g. tiles")),
    request_body = SetFlag,
    responses((status = 200, body = FlagView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn set(
    State(state): State<AppState>,
    auth: Auth,
    Path(key): Path<String>,
    body: JsonBody<SetFlag>,
) -> ApiResult<Json<FlagView>> {
    let actor = auth.system_admin()?;
    let body = body.parse()?;
    let flag: Flag = key
        .parse()
        .map_err(|_| ApiError::NotFound(format!("no feature flag {key:?}")))?;
    if let Some(t) = &body.tenant_id
        && uuid::Uuid::parse_str(t).is_err()
    {
        return Err(ApiError::invalid(
            "tenant_id",
            "invalid",
            "tenant_id must be a tenant's id",
        ));
    }
    state
        .store()
        .set_flag(flag, body.tenant_id.as_deref(), body.enabled, Some(actor))
        .await
        .map_err(|e| match e {
            StoreError::NotFound => ApiError::not_found("tenant"),
            other => other.into(),
        })?;
    tracing::info!(
        flag = flag.as_str(),
        tenant_id = body.tenant_id.as_deref().unwrap_or(""),
        enabled = body.enabled,
        actor,
        "feature flag set"
    );
    let set = state.store().flag_values().await?;
    Ok(Json(view(flag, &set)))
}

#[utoipa::path(get, path = "/v1/flags", tag = "auth", security(("bearer" = [])),
    responses((status = 200, description = "flag key → whether it is on for the caller's tenant", body = BTreeMap<String, bool>),
        (status = 401, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn mine(
    State(state): State<AppState>,
    auth: Auth,
) -> ApiResult<Json<BTreeMap<String, bool>>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let set = state.store().flags().await;
    Ok(Json(
        Flag::ALL
            .iter()
            .map(|f| (f.as_str().to_owned(), set.enabled(*f, Some(tenant))))
            .collect(),
    ))
}
