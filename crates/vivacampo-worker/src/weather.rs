//! PROCESS_WEATHER: keeps one weather grid cell's daily series current. A new cell gets its
//! history from the archive (`history_seasons` crop seasons back); later runs ask the archive
//! only for the days after the last one it had, and the forecast once a day (the days the archive
//! lacks yet, and the next 16). Other cells of the same time zone that are due today ride along
//! in the same requests (several places per request), so their own jobs find nothing to do.
//!
//! Idempotent: a second run the same day asks for nothing. An hourly or daily request limit
//! stops the job at once and enqueues its successor for the next hour or the next day; it never
//! loops. Other failures are returned and the job is retried, then DEAD.

use std::collections::BTreeMap;

use time::{Date, Duration, OffsetDateTime, Time};
use vivacampo_core::weather::history_start;
use vivacampo_imagery::Error as ImageryError;
use vivacampo_imagery::weather::{LimitPeriod, Location, MAX_PAST_DAYS, OpenMeteo};
use vivacampo_store::StoreError;
use vivacampo_store::weather::{DayKind, WeatherCell, WeatherFetch, weather_job};

use crate::handlers::{HandlerResult, JobContext};

/// Where weather comes from and how much history a new cell gets.
#[derive(Debug, Clone)]
pub struct Weather {
    pub client: OpenMeteo,
    /// Its name, stored with the days: `open-meteo`, `demo`, or the base URL.
    pub source: String,
    /// Crop seasons of history fetched for a new cell (10 by default).
    pub history_seasons: u32,
}

/// Days the archive (ERA5) lags behind today; the forecast covers them.
pub const ARCHIVE_LAG_DAYS: i64 = 5;

/// Most cells one request asks for.
pub const BATCH: i64 = 50;

/// Days re-asked of the archive for a cell with a history but no archive day yet.
const RECENT_DAYS: i64 = 30;

/// The archive days a cell still needs, `None` when it is up to date or the archive was asked
/// today already (days it had no value for then will not come the same day).
pub fn archive_range(cell: &WeatherCell, today: Date, seasons: u32) -> Option<(Date, Date)> {
    if cell.archive_date == Some(today) {
        return None;
    }
    let end = today - Duration::days(ARCHIVE_LAG_DAYS);
    let start = match (cell.history_from, cell.archive_until) {
        (None, _) => history_start(today, seasons),
        (Some(_), Some(until)) => until + Duration::days(1),
        (Some(_), None) => end - Duration::days(RECENT_DAYS),
    };
    (start <= end).then_some((start, end))
}

/// Links a field to its weather cell and enqueues the cell's PROCESS_WEATHER job of the day.
/// Returns `{cell, job_id}`, or `None` for a deleted field.
pub async fn enqueue_for_field(
    ctx: &JobContext,
    aoi_id: &str,
) -> Result<Option<serde_json::Value>, String> {
    match ctx
        .store
        .enqueue_field_weather(&ctx.job.tenant_id, aoi_id, false)
        .await
    {
        Ok((cell, enqueued)) => Ok(Some(
            serde_json::json!({"cell": cell.id, "job_id": enqueued.job.id}),
        )),
        Err(StoreError::NotFound) => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}

/// Runs one PROCESS_WEATHER job.
pub async fn process_weather(ctx: &JobContext, weather: &Weather) -> HandlerResult {
    let job = &ctx.job;
    let cell_id = job.payload["cell_id"]
        .as_str()
        .ok_or("PROCESS_WEATHER payload needs cell_id")?;
    let force = job.payload["force"].as_bool().unwrap_or(false);
    let cell = match ctx.store.weather_cell(cell_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Ok(serde_json::json!({"skipped": "no such weather cell"}));
        }
        Err(e) => return Err(e.to_string()),
    };
    let today = OffsetDateTime::now_utc().date();
    match refresh(ctx, weather, cell, today, force).await {
        Ok(done) => Ok(done),
        Err(Failure::Weather(ImageryError::WeatherLimit { period, reason }))
            if period != LimitPeriod::Minutely =>
        {
            let now = OffsetDateTime::now_utc();
            let at = match period {
                LimitPeriod::Daily => (today + Duration::days(1))
                    .with_time(Time::from_hms(0, 10, 0).expect("a valid time"))
                    .assume_utc(),
                _ => now + Duration::hours(1),
            };
            let aoi = job.aoi_id.as_deref();
            let next = ctx
                .store
                .enqueue(weather_job(
                    &job.tenant_id,
                    aoi,
                    cell_id,
                    at.date(),
                    Some(at),
                    false,
                ))
                .await
                .map_err(|e| e.to_string())?;
            tracing::warn!(%reason, retry_at = %at, "weather request limit reached; the cell is fetched again later");
            Ok(serde_json::json!({
                "deferred": format!("the weather service's {period} request limit is reached"),
                "retry_at": at.to_string(),
                "next_job_id": next.job.id,
            }))
        }
        Err(e) => Err(e.to_string()),
    }
}

/// Why a refresh stopped.
#[derive(Debug, thiserror::Error)]
enum Failure {
    #[error(transparent)]
    Weather(#[from] ImageryError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Fetches what `cell` (and the cells due with it) lack. Returns the job's metrics.
async fn refresh(
    ctx: &JobContext,
    weather: &Weather,
    cell: WeatherCell,
    today: Date,
    force: bool,
) -> Result<serde_json::Value, Failure> {
    let store = &ctx.store;
    let mut batch = vec![cell.clone()];
    let due = store
        .due_weather_cells(&cell.timezone, today, BATCH)
        .await?;
    batch.extend(
        due.into_iter()
            .filter(|c| c.id != cell.id)
            .take(BATCH as usize - 1),
    );
    let place = |c: &WeatherCell| Location {
        latitude: c.cell.latitude(),
        longitude: c.cell.longitude(),
    };
    let (mut archive_requests, mut forecast_requests, mut days) = (0, 0, 0);
    // Archive: one request per distinct range (a new cell's history alone, the rest together).
    let mut by_range: BTreeMap<(Date, Date), Vec<&WeatherCell>> = BTreeMap::new();
    for c in &batch {
        if let Some(range) = archive_range(c, today, weather.history_seasons) {
            by_range.entry(range).or_default().push(c);
        }
    }
    for ((start, end), cells) in &by_range {
        let places: Vec<Location> = cells.iter().map(|c| place(c)).collect();
        let series = weather
            .client
            .archive(&places, &cell.timezone, *start, *end)
            .await?;
        archive_requests += 1;
        for (c, s) in cells.iter().zip(&series) {
            let fetch = WeatherFetch {
                kind: DayKind::Archive,
                source: &weather.source,
                latitude: s.latitude,
                longitude: s.longitude,
                elevation: s.elevation,
                days: &s.days,
                history_from: c.history_from.is_none().then_some(*start),
            };
            days += store.store_weather(&c.id, &fetch, today).await?;
        }
    }
    // Forecast: once a day per cell (or on a sync), all cells in one request.
    let fresh: Vec<WeatherCell> = {
        let mut v = Vec::new();
        for c in &batch {
            v.push(store.weather_cell(&c.id).await?);
        }
        v
    };
    let stale: Vec<&WeatherCell> = fresh
        .iter()
        .filter(|c| (force && c.id == cell.id) || c.forecast_date != Some(today))
        .collect();
    if !stale.is_empty() {
        let past_days = stale
            .iter()
            .map(|c| match c.archive_until {
                Some(u) => (today - u).whole_days().max(1),
                None => ARCHIVE_LAG_DAYS + 2,
            })
            .max()
            .unwrap_or(1)
            .min(i64::from(MAX_PAST_DAYS)) as u32;
        let places: Vec<Location> = stale.iter().map(|c| place(c)).collect();
        let series = weather
            .client
            .forecast(&places, &cell.timezone, past_days)
            .await?;
        forecast_requests += 1;
        for (c, s) in stale.iter().zip(&series) {
            let fetch = WeatherFetch {
                kind: DayKind::Forecast,
                source: &weather.source,
                latitude: s.latitude,
                longitude: s.longitude,
                elevation: s.elevation,
                days: &s.days,
                history_from: None,
            };
            days += store.store_weather(&c.id, &fetch, today).await?;
        }
    }
    Ok(serde_json::json!({
        "cell": cell.id,
        "cells": batch.len(),
        "archive_requests": archive_requests,
        "forecast_requests": forecast_requests,
        "days_stored": days,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;
    use vivacampo_core::weather::GridCell;

    fn cell(history: Option<Date>, until: Option<Date>) -> WeatherCell {
        WeatherCell {
            id: "c".into(),
            cell: GridCell {
                lat_index: -71,
                lon_index: -204,
            },
            timezone: "America/Sao_Paulo".into(),
            latitude: None,
            longitude: None,
            elevation: None,
            source: None,
            history_from: history,
            archive_until: until,
            archive_date: None,
            forecast_date: None,
            forecast_issued_at: None,
        }
    }

    #[test]
    fn the_archive_is_asked_only_for_missing_days() {
        let today = date!(2026 - 12 - 05);
        assert_eq!(
            archive_range(&cell(None, None), today, 10),
            Some((date!(2016 - 09 - 01), date!(2026 - 11 - 30)))
        );
        let h = Some(date!(2016 - 09 - 01));
        assert_eq!(
            archive_range(&cell(h, Some(date!(2026 - 11 - 27))), today, 10),
            Some((date!(2026 - 11 - 28), date!(2026 - 11 - 30)))
        );
        assert_eq!(
            archive_range(&cell(h, Some(date!(2026 - 11 - 30))), today, 10),
            None
        );
        assert_eq!(
            archive_range(&cell(h, None), today, 10),
            Some((date!(2026 - 10 - 31), date!(2026 - 11 - 30)))
        );
        let asked_today = WeatherCell {
            archive_date: Some(today),
            ..cell(h, Some(date!(2026 - 03 - 01)))
        };
        assert_eq!(archive_range(&asked_today, today, 10), None);
    }
}
