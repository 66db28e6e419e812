//! A loopback server speaking Open-Meteo's archive and forecast API (`GET /v1/archive`,
//! `GET /v1/forecast`): comma-separated `latitude`/`longitude` (a JSON array answers several
//! places), `daily`, `timezone`, `start_date`/`end_date`, `past_days`/`forecast_days`,
//! `daily_units`, `null`s, and the service's 400 and 429 error bodies.
//!
//! It serves either a fixture (one Open-Meteo answer in its own format, whose days are served
//! for every place; days it lacks are `null`, as the archive's newest days are) or the generated
//! [`demo`](super::demo) series. `vivacampo demo` runs it over the demo series on loopback, so
//! the offline demo goes through the same client, parser and jobs as Open-Meteo. Tests switch
//! it into error modes and read the requests it saw.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use axum::Json;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use time::{Date, Duration};
use vivacampo_core::weather::{DailyWeather, GridCell};

use super::{DAILY_VARIABLES, Series, parse_series};
use crate::error::{Error, Result};

/// What the server answers with.
#[derive(Debug, Clone)]
pub enum WeatherData {
    /// The days of one parsed answer, for every place.
    Fixture(Arc<Series>),
    /// The generated demo series.
    Demo,
    /// The demo series with, in addition, a dry spell over the weeks before the date
    /// ([`super::demo::recent_dry_spell`]): what `vivacampo demo` serves, so its problem field
    /// dries down under a water deficit whatever today's date.
    DemoDrySpellUntil(Date),
}

impl WeatherData {
    /// A fixture file: one Open-Meteo answer (a single place) in its own format.
    pub fn fixture(path: &Path) -> Result<WeatherData> {
        let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
        let v: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
            what: path.display().to_string(),
            source,
        })?;
        Ok(WeatherData::Fixture(Arc::new(parse_series(
            &path.display().to_string(),
            &v,
        )?)))
    }

    fn day(&self, date: Date, lat: f64, lon: f64) -> Option<DailyWeather> {
        match self {
            WeatherData::Fixture(s) => s.days.iter().find(|d| d.date == date).map(|d| d.weather),
            WeatherData::Demo => Some(super::demo::day(date, lat, lon)),
            WeatherData::DemoDrySpellUntil(end) => {
                Some(super::demo::day_with_recent_dry_spell(date, lat, lon, *end))
            }
        }
    }

    fn elevation(&self) -> f64 {
        match self {
            WeatherData::Fixture(s) => s.elevation.unwrap_or(0.0),
            WeatherData::Demo | WeatherData::DemoDrySpellUntil(_) => 748.0,
        }
    }
}

/// How the server misbehaves.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    /// Answers normally.
    Normal,
    /// Answers the next `count` requests with 429 and `reason`, then normally.
    Limited { reason: String, count: u32 },
}

/// The reason Open-Meteo gives for its minutely limit.
pub const MINUTELY_LIMIT: &str =
    "Minutely API request limit exceeded. Please try again in one minute.";
/// The reason Open-Meteo gives for its daily limit.
pub const DAILY_LIMIT: &str = "Daily API request limit exceeded. Please try again tomorrow.";

/// The server's state: its data, mode, and the requests it saw.
pub struct WeatherServer {
    data: WeatherData,
    mode: Mutex<Mode>,
    requests: Mutex<Vec<String>>,
}

impl WeatherServer {
    pub fn new(data: WeatherData) -> Arc<WeatherServer> {
        Arc::new(WeatherServer {
            data,
            mode: Mutex::new(Mode::Normal),
            requests: Mutex::new(Vec::new()),
        })
    }

    pub fn set_mode(&self, mode: Mode) {
        *self.mode.lock().unwrap_or_else(|e| e.into_inner()) = mode;
    }

    /// Every request so far: `path?query`, in order.
    pub fn requests(&self) -> Vec<String> {
        self.requests
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The router (`/v1/archive`, `/v1/forecast`).
    pub fn router(self: &Arc<WeatherServer>) -> Router {
        Router::new()
            .route("/v1/archive", get(archive))
            .route("/v1/forecast", get(forecast))
            .with_state(self.clone())
    }

    /// Serves on a loopback port until the process ends; returns the base URL.
    pub async fn spawn(self: &Arc<WeatherServer>) -> Result<String> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Error::io("127.0.0.1:0", e))?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::io("127.0.0.1:0", e))?;
        let app = self.router();
        tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::error!(error = %e, "the loopback weather server stopped");
            }
        });
        Ok(format!("http://{addr}"))
    }
}

type Params = Vec<(String, String)>;

fn error(status: StatusCode, reason: impl Into<String>) -> Response {
    (
        status,
        Json(json!({"error": true, "reason": reason.into()})),
    )
        .into_response()
}

fn bad(reason: impl Into<String>) -> Response {
    error(StatusCode::BAD_REQUEST, reason)
}

/// Records the request and answers it with the mode's error, if any.
fn intake(server: &WeatherServer, path: &str, params: &Params) -> Option<Response> {
    let query = params
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    server
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{path}?{query}"));
    let mut mode = server.mode.lock().unwrap_or_else(|e| e.into_inner());
    if let Mode::Limited { reason, count } = &mut *mode {
        let reason = reason.clone();
        *count -= 1;
        if *count == 0 {
            *mode = Mode::Normal;
        }
        return Some(error(StatusCode::TOO_MANY_REQUESTS, reason));
    }
    None
}

fn param<'a>(params: &'a Params, key: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn date_param(params: &Params, key: &str) -> std::result::Result<Option<Date>, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    param(params, key)
        .map(|s| {
            Date::parse(s, format).map_err(|_| {
                format!("Invalid date format. Make sure to use 'YYYY-MM-DD'. Given: {s}.")
            })
        })
        .transpose()
}

fn coordinates(params: &Params) -> std::result::Result<Vec<(f64, f64)>, String> {
    let list = |key: &str| -> std::result::Result<Vec<f64>, String> {
        param(params, key)
            .ok_or_else(|| format!("Parameter '{key}' is required"))?
            .split(',')
            .map(|s| {
                s.trim()
                    .parse::<f64>()
                    .map_err(|_| format!("Floating point number is not valid: {s}"))
            })
            .collect()
    };
    let (lats, lons) = (list("latitude")?, list("longitude")?);
    if lats.len() != lons.len() {
        return Err(
            "Parameter 'latitude' and 'longitude' must have the same number of elements".into(),
        );
    }
    for &lat in &lats {
        if !(-90.0..=90.0).contains(&lat) {
            return Err(format!(
                "Latitude must be in range of -90 to 90°. Given: {lat}."
            ));
        }
    }
    for &lon in &lons {
        if !(-180.0..=180.0).contains(&lon) {
            return Err(format!(
                "Longitude must be in range of -180 to 180°. Given: {lon}."
            ));
        }
    }
    Ok(lats.into_iter().zip(lons).collect())
}

fn variables(params: &Params) -> std::result::Result<Vec<String>, String> {
    let daily = param(params, "daily").unwrap_or("");
    let vars: Vec<String> = daily
        .split(',')
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect();
    for v in &vars {
        if !DAILY_VARIABLES.contains(&v.as_str()) {
            return Err(format!(
                "Data corrupted at path ''. Cannot initialize ForecastVariableDaily from invalid String value {v}."
            ));
        }
    }
    if !vars.is_empty() && param(params, "timezone").is_none() {
        return Err("Timezone is required".into());
    }
    Ok(vars)
}

fn unit_of(var: &str) -> &'static str {
    match var {
        v if v.starts_with("temperature") => "°C",
        v if v.starts_with("relative_humidity") => "%",
        v if v.starts_with("wind_speed") => "km/h",
        _ => "mm",
    }
}

fn value_of(w: &DailyWeather, var: &str) -> Option<f64> {
    match var {
        "temperature_2m_min" => w.t_min,
        "temperature_2m_max" => w.t_max,
        "temperature_2m_mean" => w.t_mean,
        "precipitation_sum" => w.precip_mm,
        "et0_fao_evapotranspiration" => w.et0_mm,
        "relative_humidity_2m_mean" => w.rh_mean,
        _ => w.wind_max_kmh,
    }
}

/// The answer for the places and days, an array when several places were asked for.
fn answer(
    data: &WeatherData,
    places: &[(f64, f64)],
    vars: &[String],
    timezone: &str,
    start: Date,
    end: Date,
) -> Response {
    let dates: Vec<Date> =
        std::iter::successors(Some(start), |d| d.next_day().filter(|n| *n <= end)).collect();
    let one = |&(lat, lon): &(f64, f64)| {
        let cell = GridCell::containing(lon, lat);
        let days: Vec<Option<DailyWeather>> =
            dates.iter().map(|&d| data.day(d, lat, lon)).collect();
        let mut units = serde_json::Map::from_iter([("time".to_owned(), json!("iso8601"))]);
        let mut daily = serde_json::Map::from_iter([(
            "time".to_owned(),
            json!(dates.iter().map(ToString::to_string).collect::<Vec<_>>()),
        )]);
        for v in vars {
            units.insert(v.clone(), json!(unit_of(v)));
            let column: Vec<Option<f64>> = days
                .iter()
                .map(|d| d.as_ref().and_then(|w| value_of(w, v)))
                .collect();
            daily.insert(v.clone(), json!(column));
        }
        json!({
            "latitude": cell.latitude(), "longitude": cell.longitude(),
            "generationtime_ms": 0.2, "utc_offset_seconds": if timezone == "GMT" { 0 } else { -10_800 },
            "timezone": timezone, "timezone_abbreviation": if timezone == "GMT" { "GMT" } else { "-03" },
            "elevation": data.elevation(), "daily_units": units, "daily": daily,
        })
    };
    let mut out: Vec<Value> = places.iter().map(one).collect();
    if out.len() == 1 {
        Json(out.remove(0)).into_response()
    } else {
        Json(Value::Array(out)).into_response()
    }
}

async fn archive(
    State(server): State<Arc<WeatherServer>>,
    Query(params): Query<Params>,
) -> Response {
    if let Some(r) = intake(&server, "/v1/archive", &params) {
        return r;
    }
    let run = || -> std::result::Result<Response, String> {
        let places = coordinates(&params)?;
        let vars = variables(&params)?;
        let (Some(start), Some(end)) = (
            date_param(&params, "start_date")?,
            date_param(&params, "end_date")?,
        ) else {
            return Err("Parameter 'start_date' and 'end_date' are required".into());
        };
        if end < start {
            return Err("End-date must be larger or equals than start-date".into());
        }
        let tz = param(&params, "timezone").unwrap_or("GMT");
        Ok(answer(&server.data, &places, &vars, tz, start, end))
    };
    run().unwrap_or_else(bad)
}

async fn forecast(
    State(server): State<Arc<WeatherServer>>,
    Query(params): Query<Params>,
) -> Response {
    if let Some(r) = intake(&server, "/v1/forecast", &params) {
        return r;
    }
    let run = || -> std::result::Result<Response, String> {
        let places = coordinates(&params)?;
        let vars = variables(&params)?;
        let number = |key: &str, default: i64, max: i64| -> std::result::Result<i64, String> {
            match param(&params, key) {
                None => Ok(default),
                Some(s) => match s.parse::<i64>() {
                    Ok(n) if (0..=max).contains(&n) => Ok(n),
                    _ => Err(format!(
                        "Parameter '{key}' must be between 0 and {max}. Given: {s}."
                    )),
                },
            }
        };
        let past = number("past_days", 0, 92)?;
        let ahead = number("forecast_days", 7, 16)?;
        let today = time::OffsetDateTime::now_utc().date();
        let start = today - Duration::days(past);
        let end = today + Duration::days((ahead - 1).max(0));
        let tz = param(&params, "timezone").unwrap_or("GMT");
        Ok(answer(&server.data, &places, &vars, tz, start, end))
    };
    run().unwrap_or_else(bad)
}

/// How many places each request asked for, by path (for budget figures).
pub fn places_per_path(requests: &[String]) -> BTreeMap<String, (usize, usize)> {
    let mut out: BTreeMap<String, (usize, usize)> = BTreeMap::new();
    for r in requests {
        let (path, query) = r.split_once('?').unwrap_or((r, ""));
        let places = query
            .split('&')
            .find_map(|kv| kv.strip_prefix("latitude="))
            .map_or(0, |v| v.split(',').count());
        let e = out.entry(path.to_owned()).or_default();
        e.0 += 1;
        e.1 += places;
    }
    out
}
