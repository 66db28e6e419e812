//! Farms.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::tenancy::Role;
use vivacampo_store::PageRequest;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath, JsonBody};
use crate::routes::auth::check_name;
use crate::state::AppState;
use crate::views::{ErrorBody, FarmView, PageView};

/// The time zone of a new farm when none is given.
pub const DEFAULT_TIMEZONE: &str = "America/Sao_Paulo";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateFarm {
    #[schema(schema_with = crate::openapi::schemas::name)]
    pub name: String,
    /// IANA time zone, default America/Sao_Paulo.
    #[schema(schema_with = crate::openapi::schemas::timezone_or_null)]
    pub timezone: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateFarm {
    #[schema(schema_with = crate::openapi::schemas::name_or_null)]
    pub name: Option<String>,
    /// IANA time zone.
    #[schema(schema_with = crate::openapi::schemas::timezone_or_null)]
    pub timezone: Option<String>,
}

/// `?page=&page_size=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// From 1, default 1.
    #[param(schema_with = crate::openapi::schemas::page)]
    pub page: Option<u32>,
    /// 1–200, default 50.
    #[param(schema_with = crate::openapi::schemas::page_size)]
    pub page_size: Option<u32>,
}

pub(crate) fn page_request(page: Option<u32>, page_size: Option<u32>) -> ApiResult<PageRequest> {
    PageRequest::new(page, page_size).map_err(|m| {
        let field = if page == Some(0) { "page" } else { "page_size" };
        ApiError::invalid(field, "out_of_range", m)
    })
}

/// Accepts the names of the IANA tz database, such as `America/Sao_Paulo`,
/// `America/Argentina/Buenos_Aires` or `UTC`.
fn check_timezone(tz: &str) -> ApiResult<String> {
    let tz = tz.trim();
    if vivacampo_core::timezone::is_iana(tz) {
        Ok(tz.to_owned())
    } else if vivacampo_core::text::has_control(tz) {
        Err(ApiError::invalid(
            "timezone",
            "control_character",
            "timezone must not contain control characters",
        ))
    } else {
        Err(ApiError::invalid(
            "timezone",
            "invalid",
            format!("{tz:?} is not an IANA time zone name such as America/Sao_Paulo"),
        ))
    }
}

#[utoipa::path(post, path = "/v1/farms", tag = "farms", operation_id = "create_farm", security(("bearer" = [])), request_body = CreateFarm,
    responses((status = 201, body = FarmView), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    body: JsonBody<CreateFarm>,
) -> ApiResult<(StatusCode, Json<FarmView>)> {
    let tenant = auth.tenant(Role::Operator)?;
    let body = body.parse()?;
    let name = check_name("name", &body.name)?;
    let timezone = check_timezone(body.timezone.as_deref().unwrap_or(DEFAULT_TIMEZONE))?;
    let farm = state
        .store()
        .create_farm(tenant, auth.identity_id(), &name, &timezone)
        .await?;
    Ok((StatusCode::CREATED, Json(farm.into())))
}

#[utoipa::path(get, path = "/v1/farms", tag = "farms", operation_id = "list_farms", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageView<FarmView>), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageView<FarmView>>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let page = state
        .store()
        .list_farms(tenant, page_request(q.page, q.page_size)?)
        .await?;
    Ok(Json(PageView::from_page(page, FarmView::from)))
}

#[utoipa::path(get, path = "/v1/farms/{id}", tag = "farms", operation_id = "get_farm", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, body = FarmView), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<FarmView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let farm = state
        .store()
        .farm(tenant, &id)
        .await
        .map_err(|e| not_found(e, "farm"))?;
    Ok(Json(farm.into()))
}

#[utoipa::path(patch, path = "/v1/farms/{id}", tag = "farms", operation_id = "update_farm", security(("bearer" = [])), request_body = UpdateFarm,
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, body = FarmView), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    body: JsonBody<UpdateFarm>,
) -> ApiResult<Json<FarmView>> {
    let tenant = auth.tenant(Role::Operator)?;
    let body = body.parse()?;
    let name = body
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let timezone = body.timezone.as_deref().map(check_timezone).transpose()?;
    let farm = state
        .store()
        .update_farm(
            tenant,
            auth.identity_id(),
            &id,
            name.as_deref(),
            timezone.as_deref(),
        )
        .await
        .map_err(|e| not_found(e, "farm"))?;
    Ok(Json(farm.into()))
}

#[utoipa::path(delete, path = "/v1/farms/{id}", tag = "farms", operation_id = "delete_farm", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id")),
    responses((status = 204, description = "deleted with its fields"),
              (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn delete(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<StatusCode> {
    let tenant = auth.tenant(Role::Operator)?;
    state
        .store()
        .delete_farm(tenant, auth.identity_id(), &id)
        .await
        .map_err(|e| not_found(e, "farm"))?;
    Ok(StatusCode::NO_CONTENT)
}

/// Names the missing resource in a 404.
pub(crate) fn not_found(err: vivacampo_store::StoreError, what: &str) -> ApiError {
    match err {
        vivacampo_store::StoreError::NotFound => ApiError::not_found(what),
        other => other.into(),
    }
}

#[cfg(test)]
mod tests {
    use super::check_timezone;

    #[test]
    fn timezone_names() {
        assert!(check_timezone("America/Sao_Paulo").is_ok());
        assert!(check_timezone("America/Argentina/Buenos_Aires").is_ok());
        assert!(check_timezone("UTC").is_ok());
        assert!(check_timezone("Etc/GMT+3").is_ok());
        assert!(check_timezone("Mars/Olympus").is_err());
        assert!(check_timezone("America/Sao_Paulo\0").is_err());
        assert!(check_timezone("america/sao paulo").is_err());
        assert!(check_timezone("").is_err());
        assert!(check_timezone("../etc/passwd").is_err());
    }
}
