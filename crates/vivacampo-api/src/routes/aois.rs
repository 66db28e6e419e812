//! Fields (AOIs): create, list, read, change, delete, backfill.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::flags::Flag;
use vivacampo_core::geometry::{FieldGeometry, GeometryError};
use vivacampo_core::tenancy::Role;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::aois::{AoiFilter, AoiPatch, NewAoi, Shape};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath, JsonBody};
use crate::routes::auth::check_name;
use crate::routes::farms::{not_found, page_request};
use crate::routes::signals::with_health;
use crate::state::AppState;
use crate::views::{AoiView, ErrorBody, JobAccepted, PageView};

/// Most weeks one backfill may cover (two years).
pub const MAX_BACKFILL_WEEKS: u32 = 104;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAoi {
    #[schema(format = Uuid)]
    pub farm_id: String,
    #[schema(schema_with = crate::openapi::schemas::name)]
    pub name: String,
    /// CROP or PASTURE.
    #[schema(schema_with = crate::openapi::schemas::use_type)]
    pub use_type: String,
    /// GeoJSON Polygon or MultiPolygon in lon/lat WGS84.
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
    /// For clients of the older API: WKT POLYGON or MULTIPOLYGON instead of `geometry`.
    pub geom: Option<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAoi {
    #[schema(schema_with = crate::openapi::schemas::name_or_null)]
    pub name: Option<String>,
    #[schema(schema_with = crate::openapi::schemas::use_type_or_null)]
    pub use_type: Option<String>,
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
    pub geom: Option<String>,
}

/// Either `weeks` (newest first, ending this week) or a date range.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BackfillRequest {
    /// 1–104 weeks ending with the current one.
    #[schema(minimum = 1, maximum = 104)]
    pub weeks: Option<u32>,
    /// First date (YYYY-MM-DD) of a range.
    #[schema(schema_with = crate::openapi::schemas::date_or_null)]
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD) of a range.
    #[schema(schema_with = crate::openapi::schemas::date_or_null)]
    pub to: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AoiQuery {
    /// Only the fields of this farm.
    pub farm_id: Option<String>,
    /// ACTIVE or ARCHIVED.
    #[param(schema_with = crate::openapi::schemas::aoi_status)]
    pub status: Option<String>,
    /// From 1, default 1.
    #[param(schema_with = crate::openapi::schemas::page)]
    pub page: Option<u32>,
    /// 1 to 200, default 50.
    #[param(schema_with = crate::openapi::schemas::page_size)]
    pub page_size: Option<u32>,
}

/// Sets the fields' health badges, unless the tenant's `signals` flag is off (then OK).
async fn field_health(state: &AppState, tenant: &str, views: &mut [AoiView]) -> ApiResult<()> {
    if state.require(Flag::Signals, Some(tenant)).await.is_ok() {
        with_health(state, tenant, views).await?;
    }
    Ok(())
}

fn geometry_error(e: GeometryError) -> ApiError {
    ApiError::invalid("geometry", e.reason.as_str(), e.message)
}

/// Validates `geometry` (GeoJSON) or `geom` (WKT) into a stored shape.
fn shape(geometry: Option<&serde_json::Value>, geom: Option<&str>) -> ApiResult<Option<Shape>> {
    let field = match (geometry, geom) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "geometry",
                "ambiguous",
                "send either geometry (GeoJSON) or geom (WKT), not both",
            ));
        }
        (Some(g), None) => FieldGeometry::from_geojson(g).map_err(geometry_error)?,
        (None, Some(wkt)) => FieldGeometry::from_wkt(wkt).map_err(geometry_error)?,
        (None, None) => return Ok(None),
    };
    Ok(Some(Shape {
        geometry: field.to_geojson(),
        area_ha: field.area_ha(),
        bbox: field.bbox(),
    }))
}

fn use_type(value: &str) -> ApiResult<String> {
    match value {
        "CROP" | "PASTURE" => Ok(value.to_owned()),
        _ => Err(ApiError::invalid(
            "use_type",
            "invalid",
            "use_type must be CROP or PASTURE",
        )),
    }
}

#[utoipa::path(post, path = "/v1/aois", tag = "fields", operation_id = "create_aoi", security(("bearer" = [])), request_body = CreateAoi,
    responses((status = 201, description = "the field, with backfill_job_id", body = AoiView),
              (status = 400, description = "invalid geometry: details.reason is one of not_polygonal, unclosed_ring, \
                too_few_points, self_intersection, out_of_range, too_small, too_large, too_many_vertices, empty", body = ErrorBody),
              (status = 403, description = "FORBIDDEN or QUOTA_EXCEEDED", body = ErrorBody),
              (status = 404, description = "no such farm", body = ErrorBody)))]
pub async fn create(
    State(state): State<AppState>,
    auth: Auth,
    body: JsonBody<CreateAoi>,
) -> ApiResult<(StatusCode, Json<AoiView>)> {
    let tenant = auth.tenant(Role::Operator)?;
    let body = body.parse()?;
    let name = check_name("name", &body.name)?;
    let use_type = use_type(&body.use_type)?;
    let farm_id = uuid::Uuid::parse_str(&body.farm_id)
        .map_err(|_| ApiError::not_found("farm"))?
        .to_string();
    let geometry = body.geometry;
    let geom = body.geom;
    // Validation of a 10 000-vertex ring is CPU work: keep it off the async threads.
    let shape = tokio::task::spawn_blocking(move || shape(geometry.as_ref(), geom.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??
        .ok_or_else(|| {
            ApiError::invalid(
                "geometry",
                "empty",
                "geometry (GeoJSON) or geom (WKT) is required",
            )
        })?;
    let new = NewAoi {
        farm_id,
        name,
        use_type,
        shape,
        backfill_weeks: state.config().default_backfill_weeks,
    };
    let (aoi, job_id) = state
        .store()
        .create_aoi(tenant, auth.identity_id(), new)
        .await
        .map_err(|e| not_found(e, "farm"))?;
    let mut view = AoiView::from(aoi);
    view.backfill_job_id = Some(job_id);
    Ok((StatusCode::CREATED, Json(view)))
}

#[utoipa::path(get, path = "/v1/aois", tag = "fields", operation_id = "list_aois", security(("bearer" = [])), params(AoiQuery),
    responses((status = 200, body = PageView<AoiView>), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    auth: Auth,
    ApiQuery(q): ApiQuery<AoiQuery>,
) -> ApiResult<Json<PageView<AoiView>>> {
    let tenant = auth.tenant(Role::Viewer)?;
    if let Some(status) = &q.status
        && status != "ACTIVE"
        && status != "ARCHIVED"
    {
        return Err(ApiError::invalid(
            "status",
            "invalid",
            "status must be ACTIVE or ARCHIVED",
        ));
    }
    let filter = AoiFilter {
        farm_id: q.farm_id,
        status: q.status,
    };
    let page = state
        .store()
        .list_aois(tenant, &filter, page_request(q.page, q.page_size)?)
        .await?;
    let mut view = PageView::from_page(page, AoiView::from);
    field_health(&state, tenant, &mut view.items).await?;
    Ok(Json(view))
}

#[utoipa::path(get, path = "/v1/aois/{id}", tag = "fields", operation_id = "get_aoi", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 200, body = AoiView), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn get(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<AoiView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let aoi = state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let mut view = [AoiView::from(aoi)];
    field_health(&state, tenant, &mut view).await?;
    let [view] = view;
    Ok(Json(view))
}

#[utoipa::path(patch, path = "/v1/aois/{id}", tag = "fields", operation_id = "update_aoi", security(("bearer" = [])), request_body = UpdateAoi,
    params(("id" = String, Path, description = "field id")),
    responses((status = 200, description = "a new geometry keeps the old one as a version and reprocesses", body = AoiView),
              (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn update(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    body: JsonBody<UpdateAoi>,
) -> ApiResult<Json<AoiView>> {
    let tenant = auth.tenant(Role::Operator)?;
    let body = body.parse()?;
    let name = body
        .name
        .as_deref()
        .map(|n| check_name("name", n))
        .transpose()?;
    let use_type = body.use_type.as_deref().map(use_type).transpose()?;
    let geometry = body.geometry;
    let geom = body.geom;
    let shape = tokio::task::spawn_blocking(move || shape(geometry.as_ref(), geom.as_deref()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))??;
    let weeks = state.config().default_backfill_weeks;
    let (aoi, backfill) = state
        .store()
        .update_aoi(
            tenant,
            auth.identity_id(),
            &id,
            AoiPatch {
                name,
                use_type,
                shape,
            },
            weeks,
        )
        .await
        .map_err(|e| not_found(e, "field"))?;
    let mut view = [AoiView::from(aoi)];
    field_health(&state, tenant, &mut view).await?;
    let [mut view] = view;
    view.backfill_job_id = backfill;
    Ok(Json(view))
}

#[utoipa::path(delete, path = "/v1/aois/{id}", tag = "fields", operation_id = "delete_aoi", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 204, description = "deleted; a DELETE_AOI_ASSETS job removes its rasters"),
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
        .delete_aoi(tenant, auth.identity_id(), &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    Ok(StatusCode::NO_CONTENT)
}

fn parse_date(field: &str, value: &str) -> ApiResult<time::Date> {
    time::Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| {
        ApiError::invalid(
            field,
            "invalid",
            format!("{field} must be a date YYYY-MM-DD"),
        )
    })
}

/// The weeks a backfill request names, newest first.
fn requested_weeks(body: &BackfillRequest, today: time::Date) -> ApiResult<Vec<IsoWeek>> {
    match (body.weeks, &body.from, &body.to) {
        (Some(weeks), None, None) => {
            if !(1..=MAX_BACKFILL_WEEKS).contains(&weeks) {
                return Err(ApiError::invalid(
                    "weeks",
                    "out_of_range",
                    format!("weeks must be between 1 and {MAX_BACKFILL_WEEKS}"),
                ));
            }
            Ok(IsoWeek::containing(today).back(weeks as usize))
        }
        (None, Some(from), Some(to)) => {
            let (from, to) = (parse_date("from", from)?, parse_date("to", to)?);
            if from > to {
                return Err(ApiError::invalid(
                    "from",
                    "after_to",
                    "from must not be after to",
                ));
            }
            if to > today {
                return Err(ApiError::invalid(
                    "to",
                    "in_future",
                    "to must not be in the future",
                ));
            }
            let weeks = IsoWeek::spanning(from, to);
            if weeks.len() > MAX_BACKFILL_WEEKS as usize {
                return Err(ApiError::invalid(
                    "from",
                    "out_of_range",
                    format!("a backfill covers at most {MAX_BACKFILL_WEEKS} weeks"),
                ));
            }
            Ok(weeks)
        }
        (None, None, None) => Ok(IsoWeek::containing(today).back(8)),
        _ => Err(ApiError::invalid(
            "weeks",
            "ambiguous",
            "send either weeks or both from and to",
        )),
    }
}

#[utoipa::path(post, path = "/v1/aois/{id}/backfill", tag = "fields", operation_id = "backfill_aoi", security(("bearer" = [])), request_body = BackfillRequest,
    params(("id" = String, Path, description = "field id")),
    responses((status = 202, body = JobAccepted), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn backfill(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    body: JsonBody<BackfillRequest>,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    let tenant = auth.tenant(Role::Operator)?;
    state
        .require(vivacampo_core::flags::Flag::Backfill, Some(tenant))
        .await?;
    let body = body.parse()?;
    let weeks = requested_weeks(&body, time::OffsetDateTime::now_utc().date())?;
    let job_id = state
        .store()
        .request_backfill(tenant, auth.identity_id(), &id, &weeks)
        .await
        .map_err(|e| not_found(e, "field"))?;
    Ok((StatusCode::ACCEPTED, Json(JobAccepted { job_id })))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn req(weeks: Option<u32>, from: Option<&str>, to: Option<&str>) -> BackfillRequest {
        BackfillRequest {
            weeks,
            from: from.map(Into::into),
            to: to.map(Into::into),
        }
    }

    #[test]
    fn backfill_requests() {
        let today = date!(2026 - 03 - 18);
        assert_eq!(
            requested_weeks(&req(Some(4), None, None), today)
                .unwrap()
                .len(),
            4
        );
        assert!(requested_weeks(&req(Some(105), None, None), today).is_err());
        assert!(requested_weeks(&req(Some(0), None, None), today).is_err());
        assert_eq!(
            requested_weeks(&req(None, Some("2026-01-01"), Some("2026-01-31")), today)
                .unwrap()
                .len(),
            5
        );
        assert!(
            requested_weeks(&req(None, Some("2026-02-01"), Some("2026-01-31")), today).is_err()
        );
        assert!(
            requested_weeks(&req(None, Some("2026-01-01"), Some("2026-12-31")), today).is_err()
        );
        assert!(requested_weeks(&req(Some(3), Some("2026-01-01"), None), today).is_err());
        assert!(
            requested_weeks(&req(None, Some("2026-13-01"), Some("2026-12-31")), today).is_err()
        );
    }

    #[test]
    fn wkt_and_geojson_both_accepted_but_not_together() {
        let wkt =
            "POLYGON((-49.30 -16.70, -49.29 -16.70, -49.29 -16.69, -49.30 -16.69, -49.30 -16.70))";
        let s = shape(None, Some(wkt)).unwrap().unwrap();
        assert!(s.area_ha > 100.0 && s.area_ha < 120.0, "{}", s.area_ha);
        assert_eq!(s.geometry["type"], "MultiPolygon");
        let g = serde_json::json!({"type": "Point", "coordinates": [0, 0]});
        assert!(shape(Some(&g), Some(wkt)).is_err());
        match shape(Some(&g), None) {
            Err(ApiError::Validation { details, .. }) => {
                assert_eq!(details["reason"], "not_polygonal")
            }
            other => panic!("{other:?}"),
        }
    }
}
