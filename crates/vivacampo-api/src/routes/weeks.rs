//! A field's processed weeks: the time series of an index, the list of weeks, the week COGs.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::tenancy::Role;
use vivacampo_core::weeks::IsoWeek;

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath, WeekPath};
use crate::routes::farms::not_found;
use crate::state::AppState;
use crate::views::{ErrorBody, rfc3339};

#[derive(Debug, Deserialize, IntoParams)]
pub struct HistoryQuery {
    /// Index name, default ndvi.
    pub index: Option<String>,
    /// First date (YYYY-MM-DD): its ISO week is the first point.
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD).
    pub to: Option<String>,
}

/// One week of an index's time series.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekPoint {
    pub year: i32,
    pub week: u8,
    pub week_start: String,
    /// OK, NO_DATA or CLOUDY; statistics are null unless OK.
    pub status: String,
    pub scene_datetime: Option<String>,
    pub valid_pixel_ratio: Option<f64>,
    pub mean: Option<f64>,
    pub std: Option<f64>,
    pub min: Option<f64>,
    pub max: Option<f64>,
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
    pub baseline: Option<f64>,
    pub anomaly: Option<f64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct History {
    pub aoi_id: String,
    pub index: String,
    /// Oldest first.
    pub points: Vec<WeekPoint>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WeekItem {
    pub year: i32,
    pub week: u8,
    pub week_start: String,
    pub status: String,
    pub scene_datetime: Option<String>,
    pub cloud_fraction: Option<f64>,
    pub valid_pixel_ratio: Option<f64>,
    /// Indices with statistics this week.
    pub indices: Vec<String>,
    /// The scenes used: `[{id, datetime}]`.
    #[schema(value_type = Vec<Object>)]
    pub scenes: serde_json::Value,
    /// Whether the field-week COG can be downloaded.
    pub has_raster: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Weeks {
    /// Newest first.
    pub items: Vec<WeekItem>,
}

fn week_of_date(field: &str, value: &str) -> ApiResult<IsoWeek> {
    time::Date::parse(
        value,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map(IsoWeek::containing)
    .map_err(|_| {
        ApiError::invalid(
            field,
            "invalid",
            format!("{field} must be a date YYYY-MM-DD"),
        )
    })
}

/// The index named in a request, checked against the catalogue.
pub fn index_name(value: Option<&str>) -> ApiResult<String> {
    let name = value.unwrap_or("ndvi").trim().to_ascii_lowercase();
    if vivacampo_raster::index::info(&name).is_some() {
        Ok(name)
    } else {
        let known: Vec<&str> = vivacampo_raster::index::catalogue()
            .iter()
            .map(|i| i.name)
            .collect();
        Err(ApiError::invalid(
            "index",
            "unknown_index",
            format!("unknown index {name:?}; known: {}", known.join(", ")),
        ))
    }
}

#[utoipa::path(get, path = "/v1/aois/{id}/history", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"), HistoryQuery),
    responses((status = 200, body = History), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn history(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> ApiResult<Json<History>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let index = index_name(q.index.as_deref())?;
    let from = q
        .from
        .as_deref()
        .map(|d| week_of_date("from", d))
        .transpose()?;
    let to = q.to.as_deref().map(|d| week_of_date("to", d)).transpose()?;
    state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let points = state
        .store()
        .aoi_history(tenant, &id, &index, from, to)
        .await?;
    let points = points
        .into_iter()
        .map(|p| {
            let s = p.stats.as_ref();
            WeekPoint {
                year: p.week.year,
                week: p.week.week,
                week_start: p.week.start().to_string(),
                status: p.status.clone(),
                scene_datetime: p.scene_datetime.map(rfc3339),
                valid_pixel_ratio: p.valid_pixel_ratio,
                mean: s.and_then(|s| s.mean),
                std: s.and_then(|s| s.std),
                min: s.and_then(|s| s.min),
                max: s.and_then(|s| s.max),
                p10: s.and_then(|s| s.p10),
                p50: s.and_then(|s| s.p50),
                p90: s.and_then(|s| s.p90),
                baseline: s.and(p.baseline),
                anomaly: s.and(p.anomaly),
            }
        })
        .collect();
    Ok(Json(History {
        aoi_id: id,
        index,
        points,
    }))
}

#[utoipa::path(get, path = "/v1/aois/{id}/weeks", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 200, body = Weeks), (status = 404, body = ErrorBody)))]
pub async fn weeks(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<Weeks>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let items = state
        .store()
        .aoi_week_records(tenant, &id)
        .await?
        .into_iter()
        .map(|w| WeekItem {
            year: w.week.year,
            week: w.week.week,
            week_start: w.week.start().to_string(),
            status: w.status,
            scene_datetime: w.scene_datetime.map(rfc3339),
            cloud_fraction: w.cloud_fraction,
            valid_pixel_ratio: w.valid_pixel_ratio,
            indices: w.indices,
            scenes: w.scenes,
            has_raster: w.raster_key.is_some(),
        })
        .collect();
    Ok(Json(Weeks { items }))
}

/// Refuses keys that could leave the raster directory.
fn safe_key(key: &str) -> Option<&str> {
    let ok = !key.is_empty()
        && !key.starts_with('/')
        && key
            .split('/')
            .all(|part| !part.is_empty() && part != "." && part != "..");
    ok.then_some(key)
}

#[utoipa::path(get, path = "/v1/aois/{id}/weeks/{year}/{week}/raster.tif", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"), ("year" = i32, Path, description = "ISO week-numbering year"),
           ("week" = u8, Path, description = "ISO week, 1–53 (53 only in years that have it)")),
    responses((status = 200, description = "the field-week COG", content_type = "image/tiff"),
              (status = 400, description = "year or week not a number, or a week the year does not have", body = ErrorBody),
              (status = 404, body = ErrorBody)))]
pub async fn raster(
    State(state): State<AppState>,
    auth: Auth,
    WeekPath { id, week: wanted }: WeekPath,
) -> ApiResult<Response> {
    let tenant = auth.tenant(Role::Viewer)?;
    let record = state
        .store()
        .aoi_week_records(tenant, &id)
        .await?
        .into_iter()
        .find(|w| w.week == wanted)
        .ok_or_else(|| ApiError::not_found("week"))?;
    let key = record
        .raster_key
        .as_deref()
        .and_then(safe_key)
        .ok_or_else(|| ApiError::not_found("raster"))?;
    let bytes = match state.rasters().get(key).await {
        Ok(bytes) => bytes,
        Err(vivacampo_imagery::Error::NotFound { .. }) => {
            return Err(ApiError::not_found("raster"));
        }
        Err(e) => {
            tracing::warn!(error = %e, "cannot read a field-week raster");
            return Err(ApiError::Unavailable(
                "raster storage is unavailable".into(),
            ));
        }
    };
    let filename = format!("vivacampo-{id}-{}-W{:02}.tif", wanted.year, wanted.week);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "image/tiff; application=geotiff; profile=cloud-optimized".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_inside_the_store() {
        assert!(safe_key("tenants/t/aois/a/2026/W10/v1.tif").is_some());
        assert!(safe_key("../etc/passwd").is_none());
        assert!(safe_key("/etc/passwd").is_none());
        assert!(safe_key("a//b").is_none());
    }

    #[test]
    fn index_names() {
        assert_eq!(index_name(None).unwrap(), "ndvi");
        assert_eq!(index_name(Some("NDRE")).unwrap(), "ndre");
        assert!(index_name(Some("ndxx")).is_err());
    }
}
