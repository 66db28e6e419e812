//! Response shapes of API.md, built from store rows. Times are RFC 3339 UTC strings.

use serde::Serialize;
use utoipa::ToSchema;
use vivacampo_core::jobs::public_error;
use vivacampo_store::accounts::{Identity, Membership, Tenant};
use vivacampo_store::aois::Aoi;
use vivacampo_store::farms::Farm;
use vivacampo_store::queue::{Job, JobRun};

/// Formats epoch milliseconds as `2026-03-02T10:15:00Z`.
pub fn rfc3339(ms: i64) -> String {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityView {
    pub id: String,
    pub email: String,
    pub name: String,
}

impl From<&Identity> for IdentityView {
    fn from(i: &Identity) -> Self {
        IdentityView {
            id: i.id.clone(),
            email: i.email.clone(),
            name: i.name.clone(),
        }
    }
}

/// The current workspace and the caller's role in it.
#[derive(Debug, Serialize, ToSchema)]
pub struct CurrentTenantView {
    pub id: String,
    pub name: String,
    /// TENANT_ADMIN, OPERATOR or VIEWER.
    pub role: String,
    /// COMPANY or PERSONAL.
    #[serde(rename = "type")]
    pub kind: String,
    /// ACTIVE or SUSPENDED.
    pub status: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipView {
    pub tenant_id: String,
    pub tenant_name: String,
    pub role: String,
}

impl From<&Membership> for MembershipView {
    fn from(m: &Membership) -> Self {
        MembershipView {
            tenant_id: m.tenant_id.clone(),
            tenant_name: m.tenant_name.clone(),
            role: m.role.to_string(),
        }
    }
}

/// The answer to login, sign-up and workspace switch.
#[derive(Debug, Serialize, ToSchema)]
pub struct LoginView {
    pub token: String,
    /// Always "Bearer".
    pub token_type: &'static str,
    pub expires_at: String,
    pub identity: IdentityView,
    pub tenant: CurrentTenantView,
    pub memberships: Vec<MembershipView>,
}

/// `GET /v1/me`.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeView {
    pub identity: IdentityView,
    pub tenant: CurrentTenantView,
    pub role: String,
    pub memberships: Vec<MembershipView>,
    pub is_system_admin: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct QuotasView {
    pub max_fields: i64,
    pub max_hectares: f64,
}

/// A tenant as system admins see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TenantView {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub status: String,
    pub plan: String,
    pub quotas: QuotasView,
    pub min_valid_pixel_ratio: f64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<&Tenant> for TenantView {
    fn from(t: &Tenant) -> Self {
        TenantView {
            id: t.id.clone(),
            name: t.name.clone(),
            kind: t.kind.to_string(),
            status: t.status.to_string(),
            plan: t.plan.clone(),
            quotas: QuotasView {
                max_fields: t.quotas.max_fields,
                max_hectares: t.quotas.max_hectares,
            },
            min_valid_pixel_ratio: t.min_valid_pixel_ratio,
            created_at: rfc3339(t.created_at),
            updated_at: rfc3339(t.updated_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct FarmView {
    pub id: String,
    pub name: String,
    /// IANA time zone.
    pub timezone: String,
    /// Active fields of the farm.
    pub aoi_count: i64,
    /// Total area of the active fields, hectares.
    pub total_area_ha: f64,
    pub created_at: String,
    pub updated_at: String,
}

impl From<Farm> for FarmView {
    fn from(f: Farm) -> Self {
        FarmView {
            id: f.id,
            name: f.name,
            timezone: f.timezone,
            aoi_count: f.aoi_count,
            total_area_ha: (f.total_area_ha * 100.0).round() / 100.0,
            created_at: rfc3339(f.created_at),
            updated_at: rfc3339(f.updated_at),
        }
    }
}

/// An ISO week.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekView {
    pub year: i32,
    #[schema(minimum = 1, maximum = 53)]
    pub week: u8,
    /// The Monday that starts the week.
    pub week_start: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProcessingView {
    /// Imagery jobs of this field (BACKFILL, PROCESS_WEEK) still queued, running or waiting to
    /// retry; weather jobs are not counted.
    pub pending_jobs: i64,
    pub last_processed_week: Option<WeekView>,
}

/// A field (area of interest).
#[derive(Debug, Serialize, ToSchema)]
pub struct AoiView {
    pub id: String,
    pub farm_id: String,
    pub name: String,
    /// CROP or PASTURE.
    #[schema(schema_with = crate::openapi::schemas::use_type)]
    pub use_type: String,
    /// ACTIVE or ARCHIVED.
    #[schema(schema_with = crate::openapi::schemas::aoi_status)]
    pub status: String,
    /// Geodesic area, hectares, 2 decimals.
    pub area_ha: f64,
    /// [minlon, minlat, maxlon, maxlat].
    pub bbox: [f64; 4],
    /// GeoJSON MultiPolygon, lon/lat WGS84.
    #[schema(value_type = Object)]
    pub geometry: serde_json::Value,
    pub geometry_version: i64,
    pub created_at: String,
    pub updated_at: String,
    pub processing: ProcessingView,
    /// The badge of the field's open signals (see `HealthView`).
    pub health: crate::routes::signals::HealthView,
    /// Set on creation only: the job backfilling the field's recent weeks.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub backfill_job_id: Option<String>,
}

impl From<Aoi> for AoiView {
    fn from(a: Aoi) -> Self {
        AoiView {
            id: a.id,
            farm_id: a.farm_id,
            name: a.name,
            use_type: a.use_type,
            status: a.status,
            area_ha: a.area_ha,
            bbox: a.bbox,
            geometry: a.geometry,
            geometry_version: a.geometry_version,
            created_at: rfc3339(a.created_at),
            updated_at: rfc3339(a.updated_at),
            processing: ProcessingView {
                pending_jobs: a.pending_jobs,
                last_processed_week: a.last_processed_week.map(|w| WeekView {
                    year: w.year,
                    week: w.week,
                    week_start: w.start().to_string(),
                }),
            },
            health: Default::default(),
            backfill_job_id: None,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    pub done: i64,
    pub total: i64,
}

/// A background job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    pub id: String,
    #[serde(rename = "type")]
    #[schema(schema_with = crate::openapi::schemas::job_type)]
    pub job_type: String,
    pub aoi_id: Option<String>,
    /// FAILED will retry; DEAD is the dead-letter state.
    #[schema(schema_with = crate::openapi::schemas::job_status)]
    pub status: String,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: ProgressView,
    pub last_error: Option<String>,
    pub run_after: String,
    pub created_at: String,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// The ISO week a PROCESS_WEEK job works on, `2026-W14`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub week: Option<String>,
    /// Only in the system admin's views.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tenant_id: Option<String>,
}

impl From<Job> for JobView {
    fn from(j: Job) -> Self {
        JobView {
            id: j.id,
            job_type: j.job_type.to_string(),
            aoi_id: j.aoi_id,
            status: j.status.to_string(),
            attempts: j.attempts,
            max_attempts: j.max_attempts,
            progress: ProgressView {
                done: j.progress.done,
                total: j.progress.total,
            },
            last_error: j.last_error.as_deref().map(public_error),
            run_after: rfc3339(j.run_after),
            created_at: rfc3339(j.created_at),
            started_at: j.started_at.map(rfc3339),
            finished_at: j.finished_at.map(rfc3339),
            week: job_week(&j.payload),
            tenant_id: None,
        }
    }
}

/// `2026-W14` from a job payload's `year` and `week`.
fn job_week(payload: &serde_json::Value) -> Option<String> {
    let year = payload.get("year")?.as_i64()?;
    let week = payload.get("week")?.as_u64()?;
    Some(format!("{year}-W{week:02}"))
}

impl JobView {
    /// The view with the owning tenant, for system admins.
    pub fn with_tenant(j: Job) -> JobView {
        let tenant = j.tenant_id.clone();
        JobView {
            tenant_id: Some(tenant),
            ..JobView::from(j)
        }
    }
}

/// One attempt of a job.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobRunView {
    pub attempt: i64,
    /// RUNNING, SUCCEEDED, FAILED, LOST (the worker stopped responding), CANCELLED.
    pub status: String,
    pub started_at: String,
    pub finished_at: Option<String>,
    pub error: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub metrics: Option<serde_json::Value>,
}

impl From<JobRun> for JobRunView {
    fn from(r: JobRun) -> Self {
        JobRunView {
            attempt: r.attempt,
            status: r.status,
            started_at: rfc3339(r.started_at),
            finished_at: r.finished_at.map(rfc3339),
            error: r.error.as_deref().map(public_error),
            metrics: r.metrics,
        }
    }
}

/// `{job_id}` of an accepted request.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobAccepted {
    pub job_id: String,
}

/// A page of a list.
#[derive(Debug, Serialize, ToSchema)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub page: u32,
    pub page_size: u32,
    pub total: i64,
}

impl<T> PageView<T> {
    pub fn from_page<U>(page: vivacampo_store::Page<U>, f: impl FnMut(U) -> T) -> PageView<T> {
        let page = page.map(f);
        PageView {
            items: page.items,
            page: page.page,
            page_size: page.page_size,
            total: page.total,
        }
    }
}

/// The error shape shared by every endpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// VALIDATION_ERROR, UNAUTHENTICATED, FORBIDDEN, QUOTA_EXCEEDED, NOT_FOUND, CONFLICT,
    /// PAYLOAD_TOO_LARGE, RATE_LIMITED, UNAVAILABLE, INTERNAL.
    pub code: String,
    pub message: String,
    /// For VALIDATION_ERROR: `{field, reason}`.
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
    pub request_id: String,
}

#[cfg(test)]
mod tests {
    #[test]
    fn times_are_rfc3339_utc() {
        assert_eq!(super::rfc3339(1_772_446_500_000), "2026-03-02T10:15:00Z");
    }
}

#[cfg(test)]
mod job_week_tests {
    use super::job_week;

    #[test]
    fn a_process_week_job_names_its_iso_week() {
        let payload =
            serde_json::json!({"aoi_id": "a", "year": 2026, "week": 4, "geometry_version": 1});
        assert_eq!(job_week(&payload).as_deref(), Some("2026-W04"));
        assert_eq!(
            job_week(&serde_json::json!({"aoi_id": "a", "weeks": 8})),
            None
        );
    }
}
