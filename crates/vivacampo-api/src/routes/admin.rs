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
use crate::extract::{ApiQuery, Auth, IdPath, JsonBody};
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

#[utoipa::path(get, path = "/v1/admin/ops/queues", tag = "admin", operation_id = "admin_queues", security(("bearer" = [])),
    responses((status = 200, body = QueuesView), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody)))]
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
#[into_params(parameter_in = Query)]
pub struct AdminJobQuery {
    /// e.g. DEAD for the dead-letter queue.
    #[param(schema_with = crate::openapi::schemas::job_status)]
    pub status: Option<String>,
    /// From 1, default 1.
    #[param(schema_with = crate::openapi::schemas::page)]
    pub page: Option<u32>,
    /// 1 to 200, default 50.
    #[param(schema_with = crate::openapi::schemas::page_size)]
    pub page_size: Option<u32>,
}

#[utoipa::path(get, path = "/v1/admin/jobs", tag = "admin", operation_id = "admin_list_jobs", security(("bearer" = [])), params(AdminJobQuery),
    responses((status = 200, body = PageView<JobView>), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody)))]
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

#[utoipa::path(post, path = "/v1/admin/jobs/{id}/retry", tag = "admin", operation_id = "admin_retry_job", security(("bearer" = [])),
    params(("id" = String, Path, description = "job id")),
    responses((status = 202, body = JobView), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 409, description = "not FAILED, DEAD or CANCELLED", body = ErrorBody)))]
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

#[utoipa::path(get, path = "/v1/admin/tenants", tag = "admin", operation_id = "admin_list_tenants", security(("bearer" = [])), params(PageQuery),
    responses((status = 200, body = PageView<TenantView>), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody)))]
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

/// `quotas` as a JSON object or null: serde would also read an array (`[1, 2]`) as the struct.
fn object_or_null<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<QuotasInput>, D::Error> {
    use serde::de::{Error, Unexpected};
    use serde_json::Value;
    let value = Value::deserialize(deserializer)?;
    let unexpected = match &value {
        Value::Null => return Ok(None),
        Value::Object(_) => {
            return serde_json::from_value(value)
                .map(Some)
                .map_err(D::Error::custom);
        }
        Value::Bool(b) => Unexpected::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Unexpected::Signed(i),
            (_, Some(u)) => Unexpected::Unsigned(u),
            _ => Unexpected::Float(n.as_f64().unwrap_or_default()),
        },
        Value::String(text) => Unexpected::Str(text),
        Value::Array(_) => Unexpected::Seq,
    };
    Err(D::Error::invalid_type(unexpected, &"a JSON object"))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QuotasInput {
    #[schema(minimum = 0)]
    pub max_fields: Option<i64>,
    #[schema(minimum = 0)]
    pub max_hectares: Option<f64>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTenant {
    #[schema(schema_with = crate::openapi::schemas::name)]
    pub name: String,
    /// COMPANY (default) or PERSONAL.
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::schemas::tenant_kind_or_null)]
    pub kind: Option<String>,
    /// A short name such as BASIC, PRO or ENTERPRISE.
    #[schema(schema_with = crate::openapi::schemas::plan_or_null)]
    pub plan: Option<String>,
    #[serde(default, deserialize_with = "object_or_null")]
    pub quotas: Option<QuotasInput>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateTenant {
    #[schema(schema_with = crate::openapi::schemas::name_or_null)]
    pub name: Option<String>,
    /// ACTIVE or SUSPENDED.
    #[schema(schema_with = crate::openapi::schemas::tenant_status_or_null)]
    pub status: Option<String>,
    /// A short name such as BASIC, PRO or ENTERPRISE.
    #[schema(schema_with = crate::openapi::schemas::plan_or_null)]
    pub plan: Option<String>,
    #[serde(default, deserialize_with = "object_or_null")]
    pub quotas: Option<QuotasInput>,
    /// Below this share of clear pixels a week is CLOUDY (0–1).
    #[schema(minimum = 0, maximum = 1)]
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

#[utoipa::path(post, path = "/v1/admin/tenants", tag = "admin", operation_id = "admin_create_tenant", security(("bearer" = [])), request_body = CreateTenant,
    responses((status = 201, body = TenantView), (status = 400, body = ErrorBody), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody)))]
pub async fn create_tenant(
    State(state): State<AppState>,
    auth: Auth,
    body: JsonBody<CreateTenant>,
) -> ApiResult<(StatusCode, Json<TenantView>)> {
    let actor = auth.system_admin()?.to_owned();
    let body = body.parse()?;
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

#[utoipa::path(patch, path = "/v1/admin/tenants/{id}", tag = "admin", operation_id = "admin_update_tenant", security(("bearer" = [])), request_body = UpdateTenant,
    params(("id" = String, Path, description = "tenant id")),
    responses((status = 200, body = TenantView), (status = 400, body = ErrorBody), (status = 403, description = "FORBIDDEN (not a system administrator)", body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update_tenant(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    body: JsonBody<UpdateTenant>,
) -> ApiResult<Json<TenantView>> {
    let actor = auth.system_admin()?.to_owned();
    let body = body.parse()?;
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
