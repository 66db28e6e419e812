//! Daily weather from Open-Meteo: the archive (ERA5-based reanalysis, the past up to a few days
//! ago) and the forecast (the last days the archive lacks, and the next 16).
//!
//! - One request asks for several places (comma-separated `latitude`/`longitude`; the answer is
//!   then a JSON array, one series per place, in order).
//! - Units are read from `daily_units` and converted to °C, mm, % and km/h; `null` stays `None`.
//! - HTTP 400 `{"error": true, "reason": …}` is [`Error::WeatherRejected`] with the reason.
//! - HTTP 429: a minutely limit is waited out and retried (a few times); an hourly or daily
//!   limit is returned at once as [`Error::WeatherLimit`], so the job can come back later
//!   instead of looping.
//! - Every HTTP request is counted for `/metrics` as service `open_meteo`.
//!
//! [`server`] is a loopback server speaking the same API over fixture files or the generated
//! [`demo`] series: the tests and `vivacampo demo` go through this client and parser.

pub mod demo;
pub mod server;

use std::time::Duration;

use serde_json::Value;
use time::Date;
use vivacampo_core::weather::{DailyWeather, WeatherDay};

use crate::calls::{self, Service};
use crate::error::{Error, Result};

/// Open-Meteo's free archive endpoint.
pub const ARCHIVE_URL: &str = "https://archive-api.open-meteo.com/v1/archive";
/// Open-Meteo's free forecast endpoint.
pub const FORECAST_URL: &str = "https://api.open-meteo.com/v1/forecast";
/// The commercial archive endpoint (with `apikey`).
pub const CUSTOMER_ARCHIVE_URL: &str = "https://customer-archive-api.open-meteo.com/v1/archive";
/// The commercial forecast endpoint (with `apikey`).
pub const CUSTOMER_FORECAST_URL: &str = "https://customer-api.open-meteo.com/v1/forecast";

/// The daily variables asked for, in the order of [`DailyWeather`]'s fields.
pub const DAILY_VARIABLES: [&str; 7] = [
    "temperature_2m_min",
    "temperature_2m_max",
    "temperature_2m_mean",
    "precipitation_sum",
    "et0_fao_evapotranspiration",
    "relative_humidity_2m_mean",
    "wind_speed_10m_max",
];

/// Days of forecast asked for: today and the next 15.
pub const FORECAST_DAYS: u32 = 16;

/// Most past days the forecast endpoint serves.
pub const MAX_PAST_DAYS: u32 = 92;

/// Which request limit a 429 names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitPeriod {
    Minutely,
    Hourly,
    Daily,
}

impl LimitPeriod {
    /// The period a 429's reason names ("Daily API request limit exceeded. …").
    pub fn of_reason(reason: &str) -> LimitPeriod {
        let reason = reason.to_ascii_lowercase();
        if reason.contains("daily") {
            LimitPeriod::Daily
        } else if reason.contains("hourly") {
            LimitPeriod::Hourly
        } else {
            LimitPeriod::Minutely
        }
    }
}

impl std::fmt::Display for LimitPeriod {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            LimitPeriod::Minutely => "minutely",
            LimitPeriod::Hourly => "hourly",
            LimitPeriod::Daily => "daily",
        })
    }
}

/// Where and how to ask.
#[derive(Debug, Clone)]
pub struct WeatherOptions {
    pub archive_url: String,
    pub forecast_url: String,
    /// Commercial API key, sent as `apikey`.
    pub apikey: Option<String>,
    /// Retries after a minutely 429 (or a 5xx / connection failure).
    pub max_retries: u32,
    /// Wait after a minutely 429 when the server sends no `Retry-After`.
    pub limit_backoff: Duration,
    pub timeout: Duration,
}

impl WeatherOptions {
    /// Open-Meteo's own hosts: the free ones, or the commercial ones with a key.
    pub fn open_meteo(apikey: Option<String>) -> WeatherOptions {
        let (archive, forecast) = match apikey {
            Some(_) => (CUSTOMER_ARCHIVE_URL, CUSTOMER_FORECAST_URL),
            None => (ARCHIVE_URL, FORECAST_URL),
        };
        WeatherOptions {
            archive_url: archive.into(),
            forecast_url: forecast.into(),
            apikey,
            max_retries: 3,
            limit_backoff: Duration::from_secs(60),
            timeout: Duration::from_secs(60),
        }
    }

    /// A server speaking the same API at `base` (`{base}/v1/archive`, `{base}/v1/forecast`):
    /// a self-hosted Open-Meteo, a customer host, or the loopback [`server`].
    pub fn base_url(base: &str, apikey: Option<String>) -> WeatherOptions {
        let base = base.trim_end_matches('/');
        WeatherOptions {
            archive_url: format!("{base}/v1/archive"),
            forecast_url: format!("{base}/v1/forecast"),
            ..WeatherOptions::open_meteo(apikey)
        }
    }
}

/// A place to ask for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// The daily series of one place, as the service answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The grid cell the service snapped to.
    pub latitude: f64,
    pub longitude: f64,
    pub elevation: Option<f64>,
    pub timezone: String,
    pub days: Vec<WeatherDay>,
}

/// The Open-Meteo client.
#[derive(Debug, Clone)]
pub struct OpenMeteo {
    options: WeatherOptions,
    client: reqwest::Client,
}

impl OpenMeteo {
    pub fn new(options: WeatherOptions) -> Result<OpenMeteo> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(options.timeout)
            .user_agent(concat!("vivacampo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Request {
                url: options.forecast_url.clone(),
                source,
            })?;
        Ok(OpenMeteo { options, client })
    }

    pub fn options(&self) -> &WeatherOptions {
        &self.options
    }

    /// Reanalysis days `start..=end` (local dates in `timezone`) of each place, in order.
    pub async fn archive(
        &self,
        places: &[Location],
        timezone: &str,
        start: Date,
        end: Date,
    ) -> Result<Vec<Series>> {
        let range = [
            ("start_date", start.to_string()),
            ("end_date", end.to_string()),
        ];
        self.get(&self.options.archive_url, places, timezone, &range)
            .await
    }

    /// Forecast days: the `past_days` before today (at most [`MAX_PAST_DAYS`]), today and the
    /// next [`FORECAST_DAYS`] − 1, of each place, in order.
    pub async fn forecast(
        &self,
        places: &[Location],
        timezone: &str,
        past_days: u32,
    ) -> Result<Vec<Series>> {
        let range = [
            ("past_days", past_days.min(MAX_PAST_DAYS).to_string()),
            ("forecast_days", FORECAST_DAYS.to_string()),
        ];
        self.get(&self.options.forecast_url, places, timezone, &range)
            .await
    }

    async fn get(
        &self,
        url: &str,
        places: &[Location],
        timezone: &str,
        range: &[(&str, String)],
    ) -> Result<Vec<Series>> {
        if places.is_empty() {
            return Ok(Vec::new());
        }
        let join = |f: fn(&Location) -> f64| {
            places
                .iter()
                .map(|p| format!("{:.4}", f(p)))
                .collect::<Vec<_>>()
                .join(",")
        };
        let mut query: Vec<(&str, String)> = vec![
            ("latitude", join(|p| p.latitude)),
            ("longitude", join(|p| p.longitude)),
            ("daily", DAILY_VARIABLES.join(",")),
            ("timezone", timezone.to_owned()),
            ("temperature_unit", "celsius".into()),
            ("wind_speed_unit", "kmh".into()),
            ("precipitation_unit", "mm".into()),
        ];
        query.extend(range.iter().cloned());
        if let Some(key) = &self.options.apikey {
            query.push(("apikey", key.clone()));
        }
        let body = self.send(url, &query).await?;
        let series = match body {
            Value::Array(items) => items
                .iter()
                .map(|v| parse_series(url, v))
                .collect::<Result<Vec<_>>>()?,
            v => vec![parse_series(url, &v)?],
        };
        if series.len() != places.len() {
            return Err(Error::WeatherFormat {
                url: url.into(),
                reason: format!("{} series for {} places", series.len(), places.len()),
            });
        }
        Ok(series)
    }

    /// One logical request: retried after a minutely 429, a 5xx or a connection failure.
    async fn send(&self, url: &str, query: &[(&str, String)]) -> Result<Value> {
        let mut attempt = 0;
        let mut delay = Duration::from_millis(500);
        loop {
            let result = calls::record(Service::OpenMeteo, self.send_once(url, query).await);
            let (err, wait) = match result {
                Ok(v) => return Ok(v),
                Err(Attempt::Final(e)) => return Err(e),
                Err(Attempt::Limited {
                    reason,
                    retry_after,
                }) => match LimitPeriod::of_reason(&reason) {
                    LimitPeriod::Minutely => (
                        Error::WeatherLimit {
                            period: LimitPeriod::Minutely,
                            reason,
                        },
                        retry_after.unwrap_or(self.options.limit_backoff),
                    ),
                    period => return Err(Error::WeatherLimit { period, reason }),
                },
                Err(Attempt::Transient(e)) => {
                    let wait = delay;
                    delay = (delay * 2).min(Duration::from_secs(15));
                    (e, wait)
                }
            };
            if attempt >= self.options.max_retries {
                return Err(err);
            }
            attempt += 1;
            tracing::warn!(%url, attempt, error = %err, wait_ms = wait.as_millis() as u64, "weather request: retrying");
            tokio::time::sleep(wait).await;
        }
    }

    async fn send_once(
        &self,
        url: &str,
        query: &[(&str, String)],
    ) -> std::result::Result<Value, Attempt> {
        let transient = |source| {
            Attempt::Transient(Error::Request {
                url: url.into(),
                source,
            })
        };
        let full = url::Url::parse_with_params(url, query).map_err(|e| {
            Attempt::Final(Error::Location {
                url: url.into(),
                reason: e.to_string(),
            })
        })?;
        let resp = self.client.get(full).send().await.map_err(transient)?;
        let status = resp.status().as_u16();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let text = resp.text().await.map_err(transient)?;
        let reason = || {
            serde_json::from_str::<Value>(&text)
                .ok()
                .and_then(|v| v["reason"].as_str().map(str::to_owned))
                .unwrap_or_else(|| text.chars().take(200).collect())
        };
        match status {
            200..=299 => serde_json::from_str(&text).map_err(|source| {
                Attempt::Final(Error::Json {
                    what: format!("response of {url}"),
                    source,
                })
            }),
            429 => Err(Attempt::Limited {
                reason: reason(),
                retry_after,
            }),
            400..=499 => Err(Attempt::Final(Error::WeatherRejected { reason: reason() })),
            _ => Err(Attempt::Transient(Error::Http {
                url: url.into(),
                status,
                body: text.chars().take(200).collect(),
            })),
        }
    }
}

/// How one HTTP request ended, when not with data.
enum Attempt {
    Final(Error),
    Limited {
        reason: String,
        retry_after: Option<Duration>,
    },
    Transient(Error),
}

/// Converts a value in `unit` to the unit [`DailyWeather`] uses for `variable`.
fn converter(variable: &str, unit: &str) -> Option<fn(f64) -> f64> {
    let unit = unit.trim();
    let same: fn(f64) -> f64 = |v| v;
    match variable {
        v if v.starts_with("temperature") => match unit {
            "°C" => Some(same),
            "°F" => Some(|v| (v - 32.0) * 5.0 / 9.0),
            _ => None,
        },
        "precipitation_sum" | "et0_fao_evapotranspiration" => match unit {
            "mm" => Some(same),
            "inch" => Some(|v| v * 25.4),
            _ => None,
        },
        v if v.starts_with("relative_humidity") => (unit == "%").then_some(same),
        v if v.starts_with("wind_speed") => match unit {
            "km/h" => Some(same),
            "m/s" => Some(|v| v * 3.6),
            "mp/h" | "mph" => Some(|v| v * 1.609_344),
            "kn" => Some(|v| v * 1.852),
            _ => None,
        },
        _ => None,
    }
}

/// One place's answer: `daily.time` and the variables' parallel arrays, units from
/// `daily_units`. A variable the answer lacks is `None` on every day.
pub fn parse_series(url: &str, v: &Value) -> Result<Series> {
    let bad = |reason: String| Error::WeatherFormat {
        url: url.into(),
        reason,
    };
    let daily = &v["daily"];
    let times = daily["time"]
        .as_array()
        .ok_or_else(|| bad("no daily.time array".into()))?;
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let dates = times
        .iter()
        .map(|t| {
            t.as_str()
                .and_then(|s| Date::parse(s, format).ok())
                .ok_or_else(|| bad(format!("daily.time holds {t}, not a YYYY-MM-DD date")))
        })
        .collect::<Result<Vec<Date>>>()?;
    let mut columns: Vec<Vec<Option<f64>>> = Vec::with_capacity(DAILY_VARIABLES.len());
    for name in DAILY_VARIABLES {
        let Some(values) = daily[name].as_array() else {
            columns.push(vec![None; dates.len()]);
            continue;
        };
        if values.len() != dates.len() {
            return Err(bad(format!(
                "daily.{name} has {} values for {} days",
                values.len(),
                dates.len()
            )));
        }
        let unit = v["daily_units"][name]
            .as_str()
            .ok_or_else(|| bad(format!("no daily_units.{name}")))?;
        let convert =
            converter(name, unit).ok_or_else(|| bad(format!("unknown unit {unit:?} of {name}")))?;
        let column = values
            .iter()
            .map(|x| match x {
                Value::Null => Ok(None),
                x => x
                    .as_f64()
                    .map(|f| Some(convert(f)))
                    .ok_or_else(|| bad(format!("daily.{name} holds {x}"))),
            })
            .collect::<Result<Vec<_>>>()?;
        columns.push(column);
    }
    let days = dates
        .iter()
        .enumerate()
        .map(|(i, &date)| WeatherDay {
            date,
            weather: DailyWeather {
                t_min: columns[0][i],
                t_max: columns[1][i],
                t_mean: columns[2][i],
                precip_mm: columns[3][i],
                et0_mm: columns[4][i],
                rh_mean: columns[5][i],
                wind_max_kmh: columns[6][i],
            },
        })
        .collect();
    Ok(Series {
        latitude: v["latitude"]
            .as_f64()
            .ok_or_else(|| bad("no latitude".into()))?,
        longitude: v["longitude"]
            .as_f64()
            .ok_or_else(|| bad("no longitude".into()))?,
        elevation: v["elevation"].as_f64(),
        timezone: v["timezone"].as_str().unwrap_or("GMT").to_owned(),
        days,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn units_are_read_and_nulls_kept() {
        let v = json!({
            "latitude": -17.75, "longitude": -51.0, "elevation": 748.0, "timezone": "America/Sao_Paulo",
            "daily_units": {"time": "iso8601", "temperature_2m_min": "°F", "temperature_2m_max": "°C",
                            "precipitation_sum": "inch", "wind_speed_10m_max": "m/s"},
            "daily": {"time": ["2026-01-05", "2026-01-06"],
                      "temperature_2m_min": [68.0, null], "temperature_2m_max": [30.0, 31.5],
                      "precipitation_sum": [1.0, null], "wind_speed_10m_max": [5.0, 2.5]}
        });
        let s = parse_series("u", &v).unwrap();
        assert_eq!(s.days.len(), 2);
        let d = s.days[0].weather;
        assert_eq!(d.t_min, Some(20.0));
        assert_eq!(d.precip_mm, Some(25.4));
        assert_eq!(d.wind_max_kmh, Some(18.0));
        assert_eq!(d.t_mean, None);
        assert_eq!(s.days[1].weather.t_min, None);
        assert_eq!(s.days[1].weather.precip_mm, None);
        assert_eq!(s.elevation, Some(748.0));
    }

    #[test]
    fn bad_shapes_are_errors() {
        let v = json!({"latitude": 1.0, "longitude": 2.0, "daily_units": {"precipitation_sum": "furlong"},
                       "daily": {"time": ["2026-01-05"], "precipitation_sum": [1.0]}});
        let e = parse_series("u", &v).unwrap_err().to_string();
        assert_eq!(
            e,
            "weather response from u: unknown unit \"furlong\" of precipitation_sum"
        );
        let v = json!({"latitude": 1.0, "longitude": 2.0, "daily_units": {"precipitation_sum": "mm"},
                       "daily": {"time": ["2026-01-05"], "precipitation_sum": [1.0, 2.0]}});
        assert!(parse_series("u", &v).is_err());
    }

    #[test]
    fn limit_periods_come_from_the_reason() {
        let p = LimitPeriod::of_reason;
        assert_eq!(
            p("Daily API request limit exceeded. Please try again tomorrow."),
            LimitPeriod::Daily
        );
        assert_eq!(
            p("Hourly API request limit exceeded. Please try again in the next hour."),
            LimitPeriod::Hourly
        );
        assert_eq!(
            p("Minutely API request limit exceeded. Please try again in one minute."),
            LimitPeriod::Minutely
        );
    }
}
