//! System administration: tenants, the dead-letter queue, queue figures.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::jobs::JobStatus;
use vivacampo_core::tenancy::{Quotas, TenantKind, TenantStatus};
use vivacampo_store::accounts::{NewTenant, TenantPatch};
use vivacampo_store::queue::JobFilter;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiJson, ApiQuery, Auth, IdPath};
use crate::routes::auth::check_name;
use crate::routes::farms::{PageQuery, not_found, page_request};
use crate::routes::jobs::parse_status;
use crate::state::AppState;
use crate::views::{ErrorBody, JobView, PageView, TenantView};

#[derive(Debug, Serialize, ToSchema)]
pub struct QueueDepth {
    #[serde(rename = "type")]
    pub job_type: String,
    pub status: String,
    pub count: i64,
}

/// `GET /v1/admin/ops/queues`.
#[derive(Debug, Serialize, ToSchema)]
pub struct QueuesView {
    pub depth: Vec<QueueDepth>,
    /// Seconds the oldest ready job has waited.
    pub oldest_pending_age_seconds: f64,
    pub pending: i64,
    pub running: i64,
    pub failed: i64,
    pub dead: i64,
}

#[utoipa::path(get, path = "/v1/admin/ops/queues", tag = "admin", security(("bearer" = [])),
    responses((status = 200, body = QueuesView), (status = 403, body = ErrorBody)))]
pub async fn queues(State(state): State<AppState>, auth: Auth) -> ApiResult<Json<QueuesView>> {
    auth.system_admin()?;
    let stats = state.store().queue_stats().await?;
    let sum = |status: JobStatus| {
        stats
            .depth
            .iter()
            .filter(|d| d.1 == status)
            .map(|d| d.2)
            .sum::<i64>()
    };
    Ok(Json(QueuesView {
        pending: sum(JobStatus::Pending),
        running: sum(JobStatus::Running),
        failed: sum(JobStatus::Failed),
        dead: sum(JobStatus::Dead),
        oldest_pending_age_seconds: stats.oldest_ready_age_seconds,
        depth: stats
            .depth
            .iter()
            .map(|(t, s, n)| QueueDepth {
                job_type: t.to_string(),
                status: s.to_string(),
                count: *n,
            })
            .collect(),
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct AdminJobQuery {
    /// e.g. DEAD for the dead-letter queue.
    pub status: Option<String>,
    pub page: Option<u32>,
    pub page_size: Option<u32>,
}

#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", security(("bearer" = [])), params(AdminJobQuery),
    responses((status = 200, body = PageView<JobView>), (status = 403, body = ErrorBody)))]
pub async fn jobs(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AdminJobQuery>,
) -> ApiResult<Json<PageView<JobView>>> {
    auth.system_admin()?;
    let filter = JobFilter {
        status: parse_status(q.status.as_deref())?,
        ..Default::default()
    };
    let page = state
        .store()
        .list_jobs(None, &filter, page_request(q.page, q.page_size)?)
        .await?;
    Ok(Json(PageView::from_page(page, JobView::with_tenant)))
}

#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 202, body = JobView), (status = 404, body = ErrorBody), (status = 409, body = ErrorBody)))]
pub async fn retry_job(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    auth.system_admin()?;
    let job = state
        .store()
        .retry_job(None, &id)
        .await
        .map_err(|e| not_found(e, "job"))?;
    Ok((StatusCode::ACCEPTED, Json(JobView::with_tenant(job))))
}

#[utoipa::path(get, path = "/v1/admin/tenants", tag = "admin", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageView<TenantView>), (status = 403, body = ErrorBody)))]
pub async fn tenants(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<PageQuery>,
) -> ApiResult<Json<PageView<TenantView>>> {
    auth.system_admin()?;
    let page = state
        .store()
        .list_tenants(page_request(q.page, q.page_size)?)
        .await?;
    Ok(Json(PageView::from_page(page, |t| TenantView::from(&t))))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotasInput {
    pub max_fields: Option<i64>,
    pub max_hectares: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    pub name: String,
    /// COMPANY (default) or PERSONAL.
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub plan: Option<String>,
    pub quotas: Option<QuotasInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    pub name: Option<String>,
    /// ACTIVE or SUSPENDED.
    pub status: Option<String>,
    pub plan: Option<String>,
    pub quotas: Option<QuotasInput>,
    /// Below this share of clear pixels a week is CLOUDY (0–1).
    pub min_valid_pixel_ratio: Option<f64>,
}

fn check_quotas(q: &QuotasInput) -> ApiResult<()> {
    if q.max_fields.is_some_and(|n| n < 0) {
        return Err(ApiError::invalid(
            "quotas.max_fields",
            "out_of_range",
            "max_fields must not be negative",
        ));
    }
    if q.max_hectares.is_some_and(|h| !h.is_finite() || h < 0.0) {
        return Err(ApiError::invalid(
            "quotas.max_hectares",
            "out_of_range",
            "max_hectares must be a non-negative number",
        ));
    }
    Ok(())
}

fn check_plan(plan: &str) -> ApiResult<String> {
    let plan = plan.trim();
    if plan.is_empty()
        || plan.len() > 40
        || !plan.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        return Err(ApiError::invalid(
            "plan",
            "invalid",
            "plan must be a short name such as BASIC, PRO or ENTERPRISE",
        ));
    }
    Ok(plan.to_ascii_uppercase())
}

#[utoipa::path(post, path = "/v1/admin/tenants", tag = "admin", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    auth: Auth,
    ApiJson(body): ApiJson<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let actor = auth.system_admin()?.to_owned();
    let name = check_name("name", &body.name)?;
    let kind: TenantKind = body.kind.as_deref().unwrap_or("COMPANY").parse().map_err(
        |e: vivacampo_core::UnknownValue| ApiError::invalid("type", "invalid", e.to_string()),
    )?;
    let plan = body.plan.as_deref().map(check_plan).transpose()?;
    let quotas = match &body.quotas {
        Some(q) => {
            check_quotas(q)?;
            let defaults = Quotas::default_for(kind);
            Some(Quotas {
                max_fields: q.max_fields.unwrap_or(defaults.max_fields),
                max_hectares: q.max_hectares.unwrap_or(defaults.max_hectares),
            })
        }
        None => None,
    };
    let tenant = state
        .store()
        .create_tenant(
            NewTenant {
                name: &name,
                kind,
                plan: plan.as_deref(),
                quotas,
            },
            Some(&actor),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(TenantView::from(&tenant))))
}

#[utoipa::path(patch, path = "/v1/admin/tenants/{id}", tag = "admin", security(("bearer" = [])), request_body = UpdateTenant,
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_tenant(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    ApiJson(body): ApiJson<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    let actor = auth.system_admin()?.to_owned();
    let status = body
        .status
        .as_deref()
        .map(|s| {
            s.parse::<TenantStatus>()
                .map_err(|e| ApiError::invalid("status", "invalid", e.to_string()))
        })
        .transpose()?;
    if let Some(q) = &body.quotas {
        check_quotas(q)?;
    }
    if body
        .min_valid_pixel_ratio
        .is_some_and(|r| !(0.0..=1.0).contains(&r))
    {
        return Err(ApiError::invalid(
            "min_valid_pixel_ratio",
            "out_of_range",
            "min_valid_pixel_ratio must be between 0 and 1",
        ));
    }
    let patch = TenantPatch {
        name: body
            .name
            .as_deref()
            .map(|n| check_name("name", n))
            .transpose()?,
        status,
        plan: body.plan.as_deref().map(check_plan).transpose()?,
        max_fields: body.quotas.as_ref().and_then(|q| q.max_fields),
        max_hectares: body.quotas.as_ref().and_then(|q| q.max_hectares),
        min_valid_pixel_ratio: body.min_valid_pixel_ratio,
    };
    let tenant = state
        .store()
        .update_tenant(&id, patch, Some(&actor))
        .await
        .map_err(|e| not_found(e, "tenant"))?;
    Ok(Json(TenantView::from(&tenant)))
}
