//! Daily weather and what is derived from it: growing degree days, ISO-week aggregates on the
//! same weeks as the index history, the water balance and season-to-date totals; and the weather
//! grid cell a field belongs to. Pure functions: the data comes from the imagery crate's
//! Open-Meteo client and the store.
//!
//! A value the source lacks is `None`, never 0: a missing rain day is not a dry day. A weekly
//! sum over a week with a missing day is missing too, so a chart never shows a drought that did
//! not happen.

use geo::Centroid;
use time::{Date, Month};

use crate::weeks::IsoWeek;

/// Side of a weather grid cell, degrees: the ERA5 reanalysis grid (0.25°) that Open-Meteo's
/// archive snaps to. Fields whose centroids fall in the same cell share one stored series.
pub const CELL_DEGREES: f64 = 0.25;

/// Base temperature of growing degree days when the crop does not say otherwise, °C.
pub const DEFAULT_GDD_BASE: f64 = 10.0;

/// Month and day a crop season starts: 1 September, the start of the Cerrado's crop year (the
/// rains come in October; the dry season is May–September).
pub const SEASON_START: (Month, u8) = (Month::September, 1);

/// One day of weather at one place (°C, mm, %, km/h).
#[derive(Debug, Clone, Copy, PartialEq, Default, serde::Serialize, serde::Deserialize)]
pub struct DailyWeather {
    pub t_min: Option<f64>,
    pub t_max: Option<f64>,
    pub t_mean: Option<f64>,
    pub precip_mm: Option<f64>,
    pub et0_mm: Option<f64>,
    pub rh_mean: Option<f64>,
    pub wind_max_kmh: Option<f64>,
}

/// A dated day of weather.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherDay {
    pub date: Date,
    pub weather: DailyWeather,
}

/// A weather grid cell: indices of the cell's centre on the [`CELL_DEGREES`] grid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct GridCell {
    pub lat_index: i32,
    pub lon_index: i32,
}

impl GridCell {
    /// The cell whose centre is nearest to the point.
    pub fn containing(lon: f64, lat: f64) -> GridCell {
        GridCell {
            lat_index: (lat / CELL_DEGREES).round() as i32,
            lon_index: (lon / CELL_DEGREES).round() as i32,
        }
    }

    /// Latitude of the cell's centre.
    pub fn latitude(self) -> f64 {
        f64::from(self.lat_index) * CELL_DEGREES
    }

    /// Longitude of the cell's centre.
    pub fn longitude(self) -> f64 {
        f64::from(self.lon_index) * CELL_DEGREES
    }

    /// The cell's key: `era5:LAT_INDEX:LON_INDEX`.
    pub fn key(self) -> String {
        format!("era5:{}:{}", self.lat_index, self.lon_index)
    }
}

/// The centroid (lon, lat) of a field's geometry; `None` for an empty one.
pub fn centroid(geometry: &geo::MultiPolygon<f64>) -> Option<(f64, f64)> {
    geometry.centroid().map(|p| (p.x(), p.y()))
}

/// Base temperature of growing degree days for a crop (°C), from its common name in English or
/// Portuguese; [`DEFAULT_GDD_BASE`] for an unknown or unnamed crop.
pub fn gdd_base(crop: Option<&str>) -> f64 {
    let crop = crop.map(str::to_lowercase);
    match crop.as_deref() {
        Some("wheat" | "trigo" | "oat" | "aveia" | "barley" | "cevada") => 0.0,
        Some("cotton" | "algodão" | "algodao") => 15.5,
        Some("sugarcane" | "cana" | "cana-de-açúcar") => 12.0,
        _ => DEFAULT_GDD_BASE,
    }
}

/// Growing degree days of one day: `max(0, (t_max + t_min) / 2 − base)`; `None` without both
/// temperatures.
pub fn gdd(weather: &DailyWeather, base: f64) -> Option<f64> {
    let (lo, hi) = (weather.t_min?, weather.t_max?);
    Some(((hi + lo) / 2.0 - base).max(0.0))
}

/// One ISO week of weather.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherWeek {
    pub week: IsoWeek,
    pub precip_mm: Option<f64>,
    pub et0_mm: Option<f64>,
    /// Precipitation − ET0.
    pub water_balance_mm: Option<f64>,
    pub gdd: Option<f64>,
    /// Lowest daily minimum.
    pub t_min: Option<f64>,
    /// Highest daily maximum.
    pub t_max: Option<f64>,
    /// Mean of the daily means.
    pub t_mean: Option<f64>,
    /// Days of the week the series has (fewer than 7 at its ends).
    pub days: u32,
}

/// Sum of values, `None` if any is missing or there are none.
fn sum(values: impl Iterator<Item = Option<f64>>) -> Option<f64> {
    let mut total = 0.0;
    let mut any = false;
    for v in values {
        total += v?;
        any = true;
    }
    any.then_some(total)
}

/// Weekly aggregates of daily weather, oldest week first. The dates are local dates of the
/// field's farm (the series is fetched in its time zone), so the weeks are the farm's ISO weeks,
/// the same as the index history's. Sums (precipitation, ET0, GDD) and the mean temperature are
/// `None` when a day of the week lacks the value; the minimum and maximum use the days that have
/// one.
pub fn weekly(days: &[WeatherDay], gdd_base: f64) -> Vec<WeatherWeek> {
    let mut sorted: Vec<&WeatherDay> = days.iter().collect();
    sorted.sort_by_key(|d| d.date);
    let mut weeks = Vec::new();
    for chunk in sorted.chunk_by(|a, b| IsoWeek::containing(a.date) == IsoWeek::containing(b.date))
    {
        let w = |f: fn(&DailyWeather) -> Option<f64>| chunk.iter().map(move |d| f(&d.weather));
        let precip = sum(w(|d| d.precip_mm));
        let et0 = sum(w(|d| d.et0_mm));
        let n = chunk.len() as f64;
        weeks.push(WeatherWeek {
            week: IsoWeek::containing(chunk[0].date),
            precip_mm: precip,
            et0_mm: et0,
            water_balance_mm: precip.zip(et0).map(|(p, e)| p - e),
            gdd: sum(chunk.iter().map(|d| gdd(&d.weather, gdd_base))),
            t_min: w(|d| d.t_min).flatten().reduce(f64::min),
            t_max: w(|d| d.t_max).flatten().reduce(f64::max),
            t_mean: sum(w(|d| d.t_mean)).map(|s| s / n),
            days: chunk.len() as u32,
        });
    }
    weeks
}

/// The first day of the crop season `date` falls in (see [`SEASON_START`]).
pub fn season_start(date: Date) -> Date {
    let (month, day) = SEASON_START;
    let this_year = Date::from_calendar_date(date.year(), month, day).expect("a valid date");
    if date >= this_year {
        this_year
    } else {
        Date::from_calendar_date(date.year() - 1, month, day).expect("a valid date")
    }
}

/// The first day of the season `seasons` seasons before the one `date` falls in: where a new
/// cell's history starts.
pub fn history_start(date: Date, seasons: u32) -> Date {
    let start = season_start(date);
    start
        .replace_year(start.year() - seasons as i32)
        .expect("1 September exists every year")
}

/// Season-to-date totals of rain and GDD.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct SeasonTotals {
    /// First day of the season.
    pub start: Date,
    /// Rain over the days that have a value.
    pub precip_mm: f64,
    /// GDD over the days that have both temperatures.
    pub gdd: f64,
    /// Days of the season so far the series has.
    pub days: u32,
    /// Of those, days without a precipitation value (the total is a lower bound when > 0).
    pub days_without_precip: u32,
    /// Of those, days without a GDD value.
    pub days_without_gdd: u32,
}

/// Totals from `start` through `until` (inclusive).
pub fn season_totals(days: &[WeatherDay], start: Date, until: Date, base: f64) -> SeasonTotals {
    let mut t = SeasonTotals {
        start,
        precip_mm: 0.0,
        gdd: 0.0,
        days: 0,
        days_without_precip: 0,
        days_without_gdd: 0,
    };
    for d in days.iter().filter(|d| d.date >= start && d.date <= until) {
        t.days += 1;
        match d.weather.precip_mm {
            Some(p) => t.precip_mm += p,
            None => t.days_without_precip += 1,
        }
        match gdd(&d.weather, base) {
            Some(g) => t.gdd += g,
            None => t.days_without_gdd += 1,
        }
    }
    t
}

/// Running season-to-date totals `(date, rain, gdd)` of each day from `start`, oldest first;
/// missing values add nothing (see [`SeasonTotals`] for how many there were).
pub fn cumulative(days: &[WeatherDay], start: Date, base: f64) -> Vec<(Date, f64, f64)> {
    let mut sorted: Vec<&WeatherDay> = days.iter().filter(|d| d.date >= start).collect();
    sorted.sort_by_key(|d| d.date);
    let (mut rain, mut degree_days) = (0.0, 0.0);
    sorted
        .into_iter()
        .map(|d| {
            rain += d.weather.precip_mm.unwrap_or(0.0);
            degree_days += gdd(&d.weather, base).unwrap_or(0.0);
            (d.date, rain, degree_days)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn day(date: Date, t_min: f64, t_max: f64, precip: Option<f64>, et0: f64) -> WeatherDay {
        WeatherDay {
            date,
            weather: DailyWeather {
                t_min: Some(t_min),
                t_max: Some(t_max),
                t_mean: Some((t_min + t_max) / 2.0),
                precip_mm: precip,
                et0_mm: Some(et0),
                rh_mean: Some(70.0),
                wind_max_kmh: Some(12.0),
            },
        }
    }

    #[test]
    fn degree_days_have_a_base_and_no_negative_days() {
        let d = day(date!(2026 - 01 - 05), 18.0, 30.0, Some(0.0), 4.0).weather;
        assert_eq!(gdd(&d, 10.0), Some(14.0));
        assert_eq!(gdd(&d, gdd_base(Some("Cotton"))), Some(8.5));
        assert_eq!(gdd(&d, 30.0), Some(0.0));
        let missing = DailyWeather { t_max: None, ..d };
        assert_eq!(gdd(&missing, 10.0), None);
        assert_eq!(gdd_base(None), 10.0);
        assert_eq!(gdd_base(Some("milho")), 10.0);
        assert_eq!(gdd_base(Some("trigo")), 0.0);
    }

    #[test]
    fn weeks_are_iso_weeks_and_sums_are_exact() {
        // Sunday 2025-12-28 ends 2025-W52; Monday 2025-12-29 starts 2026-W01.
        let days = vec![
            day(date!(2025 - 12 - 29), 20.0, 30.0, Some(12.5), 4.0),
            day(date!(2025 - 12 - 28), 19.0, 29.0, Some(3.0), 5.0),
            day(date!(2025 - 12 - 30), 21.0, 33.0, Some(0.0), 6.5),
            day(date!(2026 - 01 - 04), 18.0, 28.0, Some(1.5), 3.5),
        ];
        let weeks = weekly(&days, 10.0);
        assert_eq!(weeks.len(), 2);
        assert_eq!(weeks[0].week.to_string(), "2025-W52");
        assert_eq!(weeks[0].days, 1);
        assert_eq!(weeks[0].gdd, Some(14.0));
        let w = weeks[1];
        assert_eq!(w.week.to_string(), "2026-W01");
        assert_eq!(w.days, 3);
        assert_eq!(w.precip_mm, Some(14.0));
        assert_eq!(w.et0_mm, Some(14.0));
        assert_eq!(w.water_balance_mm, Some(0.0));
        assert_eq!(w.gdd, Some(15.0 + 17.0 + 13.0));
        assert_eq!(w.t_min, Some(18.0));
        assert_eq!(w.t_max, Some(33.0));
        assert_eq!(w.t_mean, Some((25.0 + 27.0 + 23.0) / 3.0));
    }

    #[test]
    fn a_missing_day_makes_the_week_missing_not_dry() {
        let days = vec![
            day(date!(2026 - 03 - 02), 20.0, 30.0, Some(10.0), 4.0),
            day(date!(2026 - 03 - 03), 20.0, 30.0, None, 4.0),
        ];
        let w = weekly(&days, 10.0)[0];
        assert_eq!(w.precip_mm, None);
        assert_eq!(w.water_balance_mm, None);
        assert_eq!(w.et0_mm, Some(8.0));
        let totals = season_totals(&days, date!(2025 - 09 - 01), date!(2026 - 03 - 31), 10.0);
        assert_eq!(totals.precip_mm, 10.0);
        assert_eq!(totals.days, 2);
        assert_eq!(totals.days_without_precip, 1);
        assert_eq!(totals.gdd, 30.0);
        assert_eq!(totals.days_without_gdd, 0);
    }

    #[test]
    fn seasons_start_on_the_first_of_september() {
        assert_eq!(season_start(date!(2026 - 12 - 05)), date!(2026 - 09 - 01));
        assert_eq!(season_start(date!(2026 - 08 - 31)), date!(2025 - 09 - 01));
        assert_eq!(season_start(date!(2026 - 09 - 01)), date!(2026 - 09 - 01));
        assert_eq!(
            history_start(date!(2026 - 12 - 05), 10),
            date!(2016 - 09 - 01)
        );
        let days = vec![
            day(date!(2026 - 08 - 31), 20.0, 30.0, Some(50.0), 4.0),
            day(date!(2026 - 09 - 02), 20.0, 30.0, Some(2.0), 4.0),
            day(date!(2026 - 09 - 01), 10.0, 20.0, None, 4.0),
        ];
        assert_eq!(
            cumulative(&days, date!(2026 - 09 - 01), 10.0),
            vec![
                (date!(2026 - 09 - 01), 0.0, 5.0),
                (date!(2026 - 09 - 02), 2.0, 20.0)
            ]
        );
    }

    #[test]
    fn cells_snap_to_the_quarter_degree_grid() {
        let a = GridCell::containing(-50.905, -17.745);
        let b = GridCell::containing(-50.885, -17.726);
        assert_eq!(a, b);
        assert_eq!(a.key(), "era5:-71:-204");
        assert_eq!((a.latitude(), a.longitude()), (-17.75, -51.0));
        assert_ne!(GridCell::containing(-50.87, -17.745), a);
    }
}
