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
use vivacampo_raster::radar::is_radar_index;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// Index name, default ndvi.
    #[param(schema_with = crate::openapi::schemas::index)]
    pub index: Option<String>,
    /// First date (YYYY-MM-DD): its ISO week is the first point.
    #[param(schema_with = crate::openapi::schemas::date)]
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD).
    #[param(schema_with = crate::openapi::schemas::date)]
    pub to: Option<String>,
    /// `previous_season`: also the same weeks one year earlier, aligned to this series' weeks.
    #[param(schema_with = crate::openapi::schemas::compare)]
    pub compare: Option<String>,
}

/// The previous season's value at one week of the series: the same ISO week one year earlier
/// (week 53 falls back to week 52 of a year without one).
#[derive(Debug, Serialize, ToSchema)]
pub struct ComparePoint {
    /// The week of this series it is aligned to.
    pub year: i32,
    #[schema(minimum = 1, maximum = 53)]
    pub week: u8,
    /// The earlier week the values come from.
    pub previous_year: i32,
    #[schema(minimum = 1, maximum = 53)]
    pub previous_week: u8,
    #[schema(format = Date)]
    pub previous_week_start: String,
    /// OK, NO_DATA or CLOUDY; null when that week was never processed. Values are null unless OK.
    pub status: Option<String>,
    pub mean: Option<f64>,
    pub p10: Option<f64>,
    pub p50: Option<f64>,
    pub p90: Option<f64>,
}

/// The same ISO week one year earlier (week 53 → 52 when that year has none).
pub fn previous_season_week(week: IsoWeek) -> IsoWeek {
    IsoWeek::new(week.year - 1, week.week)
        .or_else(|| IsoWeek::new(week.year - 1, 52))
        .unwrap_or(week)
}

/// One week of an index's time series.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeekPoint {
    pub year: i32,
    #[schema(minimum = 1, maximum = 53)]
    pub week: u8,
    #[schema(format = Date)]
    pub week_start: String,
    /// OK, NO_DATA or CLOUDY; statistics are null unless OK.
    #[schema(schema_with = crate::openapi::schemas::week_status)]
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
    /// With `compare=previous_season`: one item per point, in the same order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub previous_season: Option<Vec<ComparePoint>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WeekItem {
    pub year: i32,
    #[schema(minimum = 1, maximum = 53)]
    pub week: u8,
    #[schema(format = Date)]
    pub week_start: String,
    /// OK, NO_DATA or CLOUDY.
    #[schema(schema_with = crate::openapi::schemas::week_status)]
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
    /// The week's Sentinel-1 radar, once processed (null before, or with `radar_source = off`).
    pub radar: Option<RadarPart>,
}

/// A week's radar: OK with a scene of the field's orbit direction, else NO_DATA.
#[derive(Debug, Serialize, ToSchema)]
pub struct RadarPart {
    #[schema(schema_with = crate::openapi::schemas::radar_status)]
    pub status: String,
    pub scene_datetime: Option<String>,
    /// `ascending` or `descending`.
    pub orbit: Option<String>,
    pub valid_pixel_ratio: Option<f64>,
    /// The scenes used: `[{id, datetime, orbit, relative_orbit}]`.
    #[schema(value_type = Vec<Object>)]
    pub scenes: serde_json::Value,
    /// Whether `radar.tif` can be downloaded.
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

/// The index named in a request, checked against the catalogue (optical and radar).
pub fn index_name(value: Option<&str>) -> ApiResult<String> {
    let name = value.unwrap_or("ndvi").trim().to_ascii_lowercase();
    if vivacampo_raster::index::info(&name).is_some() || is_radar_index(&name) {
        Ok(name)
    } else {
        let known: Vec<&str> = vivacampo_raster::index::catalogue()
            .iter()
            .map(|i| i.name)
            .chain(vivacampo_raster::radar::INDICES)
            .collect();
        Err(ApiError::invalid(
            "index",
            "unknown_index",
            format!("unknown index {name:?}; known: {}", known.join(", ")),
        ))
    }
}

#[utoipa::path(get, path = "/v1/aois/{id}/history", tag = "fields", operation_id = "aoi_history", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"), HistoryQuery),
    responses((status = 200, body = History), (status = 400, body = ErrorBody), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    let compare = match q.compare.as_deref() {
        None => false,
        Some("previous_season") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "compare",
                "invalid",
                "compare must be previous_season",
            ));
        }
    };
    state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    // Radar indices come from the radar weeks: a CLOUDY optical week can be OK for radar.
    let radar = is_radar_index(&index);
    let store = state.store();
    let history = |from, to| {
        let (id, index) = (&id, &index);
        async move {
            if radar {
                store.radar_history(tenant, id, index, from, to).await
            } else {
                store.aoi_history(tenant, id, index, from, to).await
            }
        }
    };
    let points = history(from, to).await?;
    let previous_season = if compare {
        let earlier = history(from.map(previous_season_week), to.map(previous_season_week)).await?;
        Some(
            points
                .iter()
                .map(|p| {
                    let before = previous_season_week(p.week);
                    let found = earlier.iter().find(|e| e.week == before);
                    let s = found.and_then(|e| e.stats.as_ref());
                    ComparePoint {
                        year: p.week.year,
                        week: p.week.week,
                        previous_year: before.year,
                        previous_week: before.week,
                        previous_week_start: before.start().to_string(),
                        status: found.map(|e| e.status.clone()),
                        mean: s.and_then(|s| s.mean),
                        p10: s.and_then(|s| s.p10),
                        p50: s.and_then(|s| s.p50),
                        p90: s.and_then(|s| s.p90),
                    }
                })
                .collect(),
        )
    } else {
        None
    };
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
        previous_season,
    }))
}

#[utoipa::path(get, path = "/v1/aois/{id}/weeks", tag = "fields", operation_id = "aoi_weeks", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 200, body = Weeks), (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody)))]
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
    let mut radar: std::collections::HashMap<IsoWeek, RadarPart> = state
        .store()
        .radar_week_records(tenant, &id)
        .await?
        .into_iter()
        .map(|r| {
            (
                r.week,
                RadarPart {
                    status: r.status,
                    scene_datetime: r.scene_datetime.map(rfc3339),
                    orbit: r.orbit,
                    valid_pixel_ratio: r.valid_pixel_ratio,
                    scenes: r.scenes,
                    has_raster: r.raster_key.is_some(),
                },
            )
        })
        .collect();
    let items = state
        .store()
        .aoi_week_records(tenant, &id)
        .await?
        .into_iter()
        .map(|w| WeekItem {
            radar: radar.remove(&w.week),
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

#[utoipa::path(get, path = "/v1/aois/{id}/weeks/{year}/{week}/raster.tif", tag = "fields", operation_id = "aoi_week_raster", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"),
           ("year" = i32, Path, description = "ISO week-numbering year", minimum = 1, maximum = 9999),
           ("week" = u8, Path, description = "ISO week, 1–53 (53 only in years that have it)", minimum = 1, maximum = 53)),
    responses((status = 200, description = "the field-week COG", content_type = "image/tiff"),
              (status = 400, description = "year or week not a number, or a week the year does not have", body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, description = "the raster store or the database is unavailable (Retry-After)", body = ErrorBody)))]
pub async fn raster(
    State(state): State<AppState>,
    auth: Auth,
    WeekPath { id, week: wanted }: WeekPath,
) -> ApiResult<Response> {
    let tenant = auth.tenant(Role::Viewer)?;
    state
        .require(vivacampo_core::flags::Flag::RasterDownload, Some(tenant))
        .await?;
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
    let filename = format!("vivacampo-{id}-{}-W{:02}.tif", wanted.year, wanted.week);
    download(&state, key, &filename).await
}

#[utoipa::path(get, path = "/v1/aois/{id}/weeks/{year}/{week}/radar.tif", tag = "fields", operation_id = "aoi_week_radar", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"),
           ("year" = i32, Path, description = "ISO week-numbering year", minimum = 1, maximum = 9999),
           ("week" = u8, Path, description = "ISO week, 1–53 (53 only in years that have it)", minimum = 1, maximum = 53)),
    responses((status = 200, description = "the field-week radar COG: bands VV and VH (gamma0, linear power, float32) and mask", content_type = "image/tiff"),
              (status = 400, description = "year or week not a number, or a week the year does not have", body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, description = "the raster store or the database is unavailable (Retry-After)", body = ErrorBody)))]
pub async fn radar_raster(
    State(state): State<AppState>,
    auth: Auth,
    WeekPath { id, week: wanted }: WeekPath,
) -> ApiResult<Response> {
    let tenant = auth.tenant(Role::Viewer)?;
    state
        .require(vivacampo_core::flags::Flag::RasterDownload, Some(tenant))
        .await?;
    let record = state
        .store()
        .radar_week_records(tenant, &id)
        .await?
        .into_iter()
        .find(|w| w.week == wanted)
        .ok_or_else(|| ApiError::not_found("week"))?;
    let key = record
        .raster_key
        .as_deref()
        .and_then(safe_key)
        .ok_or_else(|| ApiError::not_found("raster"))?;
    let filename = format!(
        "vivacampo-{id}-{}-W{:02}-radar.tif",
        wanted.year, wanted.week
    );
    download(&state, key, &filename).await
}

/// A stored COG as a GeoTIFF attachment.
async fn download(state: &AppState, key: &str, filename: &str) -> ApiResult<Response> {
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
        assert_eq!(index_name(Some("RVI")).unwrap(), "rvi");
    }
}
