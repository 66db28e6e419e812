//! Jobs of the caller's workspace.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::IntoParams;
use vivacampo_core::jobs::{JobStatus, JobType};
use vivacampo_core::tenancy::Role;
use vivacampo_store::queue::JobFilter;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath};
use crate::routes::farms::{not_found, page_request};
use crate::state::AppState;
use crate::views::{ErrorBody, JobRunView, JobView, PageView};

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct JobQuery {
    /// Only the jobs of this field.
    pub aoi_id: Option<String>,
    #[param(schema_with = crate::openapi::schemas::job_status)]
    pub status: Option<String>,
    #[serde(rename = "type")]
    #[param(schema_with = crate::openapi::schemas::job_type)]
    pub job_type: Option<String>,
    /// From 1, default 1.
    #[param(schema_with = crate::openapi::schemas::page)]
    pub page: Option<u32>,
    /// 1 to 200, default 50.
    #[param(schema_with = crate::openapi::schemas::page_size)]
    pub page_size: Option<u32>,
}

pub(crate) fn parse_status(value: Option<&str>) -> ApiResult<Option<JobStatus>> {
    value
        .map(|s| {
            s.parse().map_err(|e: vivacampo_core::UnknownValue| {
                ApiError::invalid("status", "invalid", e.to_string())
            })
        })
        .transpose()
}

fn parse_type(value: Option<&str>) -> ApiResult<Option<JobType>> {
    value
        .map(|s| {
            s.parse().map_err(|e: vivacampo_core::UnknownValue| {
                ApiError::invalid("type", "invalid", e.to_string())
            })
        })
        .transpose()
}

#[utoipa::path(get, path = "/v1/jobs", tag = "jobs", operation_id = "list_jobs", security(("bearer" = [])), params(JobQuery),
    responses((status = 200, body = PageView<JobView>), (status = 400, body = ErrorBody), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<JobQuery>,
) -> ApiResult<Json<PageView<JobView>>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let filter = JobFilter {
        aoi_id: q.aoi_id,
        status: parse_status(q.status.as_deref())?,
        job_type: parse_type(q.job_type.as_deref())?,
    };
    let page = state
        .store()
        .list_jobs(Some(tenant), &filter, page_request(q.page, q.page_size)?)
        .await?;
    Ok(Json(PageView::from_page(page, JobView::from)))
}

#[utoipa::path(get, path = "/v1/jobs/{id}", tag = "jobs", operation_id = "get_job", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = JobView), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<JobView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    Ok(Json(
        state
            .store()
            .job(tenant, &id)
            .await
            .map_err(|e| not_found(e, "job"))?
            .into(),
    ))
}

#[utoipa::path(get, path = "/v1/jobs/{id}/runs", tag = "jobs", operation_id = "job_runs", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 200, body = Vec<JobRunView>), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn runs(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<Vec<JobRunView>>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let runs = state
        .store()
        .job_runs(tenant, &id)
        .await
        .map_err(|e| not_found(e, "job"))?;
    Ok(Json(runs.into_iter().map(JobRunView::from).collect()))
}

#[utoipa::path(post, path = "/v1/jobs/{id}/retry", tag = "jobs", operation_id = "retry_job", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 202, body = JobView), (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "not FAILED, DEAD or CANCELLED", body = ErrorBody)))]
pub async fn retry(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let tenant = auth.tenant(Role::Operator)?;
    let job = state
        .store()
        .retry_job(Some(tenant), &id)
        .await
        .map_err(|e| not_found(e, "job"))?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}

#[utoipa::path(post, path = "/v1/jobs/{id}/cancel", tag = "jobs", operation_id = "cancel_job", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 202, body = JobView), (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "already finished", body = ErrorBody)))]
pub async fn cancel(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let tenant = auth.tenant(Role::Operator)?;
    let job = state
        .store()
        .cancel_job(tenant, &id)
        .await
        .map_err(|e| not_found(e, "job"))?;
    Ok((StatusCode::ACCEPTED, Json(job.into())))
}
