//! A field's weather: daily or ISO-weekly past days, the forecast, and a sync job. The days
//! belong to the field's weather grid cell (shared with the other fields in it).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use time::{Date, Duration, OffsetDateTime};
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::flags::Flag;
use vivacampo_core::tenancy::Role;
use vivacampo_core::weather::{
    DEFAULT_GDD_BASE, WeatherDay, gdd, season_start, season_totals, weekly,
};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath};
use crate::routes::farms::not_found;
use crate::state::AppState;
use crate::views::{ErrorBody, JobAccepted, rfc3339};

/// The credit Open-Meteo's licence (CC BY 4.0) asks for.
pub const ATTRIBUTION: &str = "Weather data by Open-Meteo.com (CC BY 4.0)";

/// Longest range one request may ask for (days).
const MAX_DAYS: i64 = 366 * 11;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WeatherQuery {
    /// First date (YYYY-MM-DD); default 26 weeks before `to`.
    pub from: Option<String>,
    /// Last date (YYYY-MM-DD); default today.
    pub to: Option<String>,
    /// `day` (default) or `week` (ISO weeks, as the index history).
    pub step: Option<String>,
}

/// One day (°C, mm, %, km/h); a value the source lacks is null, never 0.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeatherDayView {
    pub date: String,
    pub t_min: Option<f64>,
    pub t_max: Option<f64>,
    pub t_mean: Option<f64>,
    pub precip_mm: Option<f64>,
    pub et0_mm: Option<f64>,
    pub rh_mean: Option<f64>,
    pub wind_max_kmh: Option<f64>,
    /// Growing degree days, base 10 °C.
    pub gdd: Option<f64>,
}

/// One ISO week: sums are null when a day of the week lacks the value.
#[derive(Debug, Serialize, ToSchema)]
pub struct WeatherWeekView {
    pub year: i32,
    pub week: u8,
    pub week_start: String,
    pub precip_mm: Option<f64>,
    pub et0_mm: Option<f64>,
    /// precip_mm − et0_mm.
    pub water_balance_mm: Option<f64>,
    pub gdd: Option<f64>,
    pub t_min: Option<f64>,
    pub t_max: Option<f64>,
    pub t_mean: Option<f64>,
    /// Days of the week with data.
    pub days: u32,
}

/// Season-to-date totals (the crop season starts on 1 September).
#[derive(Debug, Serialize, ToSchema)]
pub struct SeasonView {
    pub start: String,
    pub precip_mm: f64,
    pub gdd: f64,
    pub days: u32,
    /// Days without a rain value (the total is then a lower bound).
    pub days_without_precip: u32,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct WeatherView {
    pub aoi_id: String,
    /// `open-meteo`, `demo`, or the URL of the server the days came from; null before the first
    /// fetch.
    pub source: Option<String>,
    pub attribution: String,
    /// The weather grid cell (as the source snapped it).
    pub latitude: f64,
    pub longitude: f64,
    pub elevation: Option<f64>,
    /// step=day: oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub days: Option<Vec<WeatherDayView>>,
    /// step=week: oldest first.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weeks: Option<Vec<WeatherWeekView>>,
    /// Season to date (up to `to`).
    pub season: SeasonView,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastView {
    pub aoi_id: String,
    pub source: Option<String>,
    pub attribution: String,
    /// When the forecast was fetched; null before the first fetch.
    pub issued_at: Option<String>,
    /// Today to +15 days.
    pub days: Vec<WeatherDayView>,
}

fn date_param(field: &str, value: Option<&str>, default: Date) -> ApiResult<Date> {
    match value {
        None => Ok(default),
        Some(v) => Date::parse(v, time::macros::format_description!("[year]-[month]-[day]"))
            .map_err(|_| {
                ApiError::invalid(
                    field,
                    "invalid",
                    format!("{field} must be a date YYYY-MM-DD"),
                )
            }),
    }
}

fn day_view(d: &WeatherDay) -> WeatherDayView {
    let w = &d.weather;
    WeatherDayView {
        date: d.date.to_string(),
        t_min: w.t_min,
        t_max: w.t_max,
        t_mean: w.t_mean,
        precip_mm: w.precip_mm,
        et0_mm: w.et0_mm,
        rh_mean: w.rh_mean,
        wind_max_kmh: w.wind_max_kmh,
        gdd: gdd(w, DEFAULT_GDD_BASE),
    }
}

#[utoipa::path(get, path = "/v1/aois/{id}/weather", tag = "weather", operation_id = "aoi_weather", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"), WeatherQuery),
    responses((status = 200, body = WeatherView), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag weather)", body = ErrorBody)))]
pub async fn weather(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    ApiQuery(q): ApiQuery<WeatherQuery>,
) -> ApiResult<Json<WeatherView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Weather, Some(tenant)).await?;
    let today = OffsetDateTime::now_utc().date();
    let to = date_param("to", q.to.as_deref(), today)?;
    let from = date_param("from", q.from.as_deref(), to - Duration::weeks(26))?;
    if from > to {
        return Err(ApiError::invalid(
            "from",
            "after_to",
            "from must not be after to",
        ));
    }
    if (to - from).whole_days() > MAX_DAYS {
        return Err(ApiError::invalid(
            "from",
            "range_too_long",
            "ask for at most 11 years at once",
        ));
    }
    let weekly_step = match q.step.as_deref() {
        None | Some("day") => false,
        Some("week") => true,
        Some(_) => {
            return Err(ApiError::invalid(
                "step",
                "invalid",
                "step must be day or week",
            ));
        }
    };
    let store = state.store();
    let (grid, _) = store
        .field_weather_cell(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let cell = store.aoi_weather_cell(tenant, &id).await?;
    let season_from = season_start(to);
    let first = from.min(season_from);
    let days = match &cell {
        Some(c) => store.weather_days(&c.id, first, to).await?,
        None => Vec::new(),
    };
    let totals = season_totals(&days, season_from, to, DEFAULT_GDD_BASE);
    let in_range: Vec<WeatherDay> = days.into_iter().filter(|d| d.date >= from).collect();
    let (days, weeks) = if weekly_step {
        let weeks = weekly(&in_range, DEFAULT_GDD_BASE)
            .into_iter()
            .map(|w| WeatherWeekView {
                year: w.week.year,
                week: w.week.week,
                week_start: w.week.start().to_string(),
                precip_mm: w.precip_mm,
                et0_mm: w.et0_mm,
                water_balance_mm: w.water_balance_mm,
                gdd: w.gdd,
                t_min: w.t_min,
                t_max: w.t_max,
                t_mean: w.t_mean,
                days: w.days,
            })
            .collect();
        (None, Some(weeks))
    } else {
        (Some(in_range.iter().map(day_view).collect()), None)
    };
    Ok(Json(WeatherView {
        aoi_id: id,
        source: cell.as_ref().and_then(|c| c.source.clone()),
        attribution: ATTRIBUTION.into(),
        latitude: cell
            .as_ref()
            .and_then(|c| c.latitude)
            .unwrap_or(grid.latitude()),
        longitude: cell
            .as_ref()
            .and_then(|c| c.longitude)
            .unwrap_or(grid.longitude()),
        elevation: cell.as_ref().and_then(|c| c.elevation),
        days,
        weeks,
        season: SeasonView {
            start: totals.start.to_string(),
            precip_mm: (totals.precip_mm * 10.0).round() / 10.0,
            gdd: (totals.gdd * 10.0).round() / 10.0,
            days: totals.days,
            days_without_precip: totals.days_without_precip,
        },
    }))
}

#[utoipa::path(get, path = "/v1/aois/{id}/weather/forecast", tag = "weather", operation_id = "aoi_weather_forecast", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 200, body = ForecastView),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody), (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag weather)", body = ErrorBody)))]
pub async fn forecast(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Json<ForecastView>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Weather, Some(tenant)).await?;
    let store = state.store();
    store
        .field_weather_cell(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let cell = store.aoi_weather_cell(tenant, &id).await?;
    let today = OffsetDateTime::now_utc().date();
    let days = match &cell {
        Some(c) => {
            store
                .weather_days(&c.id, today, today + Duration::days(15))
                .await?
        }
        None => Vec::new(),
    };
    Ok(Json(ForecastView {
        aoi_id: id,
        source: cell.as_ref().and_then(|c| c.source.clone()),
        attribution: ATTRIBUTION.into(),
        issued_at: cell
            .as_ref()
            .and_then(|c| c.forecast_issued_at)
            .map(rfc3339),
        days: days.iter().map(day_view).collect(),
    }))
}

#[utoipa::path(post, path = "/v1/aois/{id}/weather/sync", tag = "weather", operation_id = "aoi_weather_sync", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id")),
    responses((status = 202, body = JobAccepted), (status = 403, description = "FORBIDDEN (role below OPERATOR, suspended workspace)", body = ErrorBody),
              (status = 404, body = ErrorBody),
              (status = 503, description = "UNAVAILABLE, or FEATURE_DISABLED (flag weather)", body = ErrorBody)))]
pub async fn sync(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<(StatusCode, Json<JobAccepted>)> {
    let tenant = auth.tenant(Role::Operator)?;
    state.require(Flag::Weather, Some(tenant)).await?;
    let (_, enqueued) = state
        .store()
        .enqueue_field_weather(tenant, &id, true)
        .await
        .map_err(|e| not_found(e, "field"))?;
    Ok((
        StatusCode::ACCEPTED,
        Json(JobAccepted {
            job_id: enqueued.job.id,
        }),
    ))
}
