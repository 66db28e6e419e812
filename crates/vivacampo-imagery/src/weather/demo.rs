//! The offline demo's weather: a plausible Cerrado series (Rio Verde, Goiás) for any day and
//! place, the same every run. Dry season May–September, rainy season October–April (about
//! 1 600 mm a year), and every year a three-week dry spell in November ([`DRY_SPELL`]), early in
//! the summer maize's growth: the demo maize field's NDVI curve dips after it.

use time::Date;
use vivacampo_core::weather::{DailyWeather, GridCell};

/// Days of the year (first and last, inclusive) of the demo's dry spell: 3–23 November (in a
/// leap year, 2–22 November).
pub const DRY_SPELL: (u16, u16) = (307, 327);

/// Mean monthly rain (mm) and share of wet days, January first: Rio Verde's climate normals,
/// rounded.
const MONTHS: [(f64, f64); 12] = [
    (280.0, 0.70),
    (220.0, 0.65),
    (210.0, 0.60),
    (90.0, 0.35),
    (30.0, 0.12),
    (8.0, 0.04),
    (5.0, 0.03),
    (15.0, 0.06),
    (50.0, 0.20),
    (150.0, 0.45),
    (220.0, 0.60),
    (270.0, 0.70),
];

fn hash(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^ (x >> 33)
}

/// A number in `0..1` fixed by the day, the cell and `salt`.
fn unit(day: i32, cell: GridCell, salt: u64) -> f64 {
    let seed = (day as i64 as u64)
        ^ ((cell.lat_index as i64 as u64) << 20)
        ^ ((cell.lon_index as i64 as u64) << 40)
        ^ (salt << 56);
    (hash(seed) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether `date` is in the year's dry spell.
pub fn in_dry_spell(date: Date) -> bool {
    (DRY_SPELL.0..=DRY_SPELL.1).contains(&date.ordinal())
}

/// Days before the demo's end date (first and last, inclusive) of its recent dry spell: the four
/// weeks up to three days before the end date.
pub const RECENT_DRY_SPELL_DAYS: (i64, i64) = (31, 3);

/// Whether `date` falls in the dry spell before `end` (see [`RECENT_DRY_SPELL_DAYS`]).
pub fn recent_dry_spell(date: Date, end: Date) -> bool {
    let before = (end - date).whole_days();
    (RECENT_DRY_SPELL_DAYS.1..=RECENT_DRY_SPELL_DAYS.0).contains(&before)
}

/// The demo weather with a dry spell over the weeks before `end` (no rain, hotter, drier air,
/// more evaporative demand), as `vivacampo demo` serves it: its problem field dries down under
/// it on any date.
pub fn day_with_recent_dry_spell(
    date: Date,
    latitude: f64,
    longitude: f64,
    end: Date,
) -> DailyWeather {
    weather(date, latitude, longitude, recent_dry_spell(date, end))
}

/// The demo weather of a day at a place.
pub fn day(date: Date, latitude: f64, longitude: f64) -> DailyWeather {
    weather(date, latitude, longitude, false)
}

fn weather(date: Date, latitude: f64, longitude: f64, extra_spell: bool) -> DailyWeather {
    let cell = GridCell::containing(longitude, latitude);
    let n = date.to_julian_day();
    let doy = f64::from(date.ordinal());
    let season = |peak_doy: f64| ((doy - peak_doy) / 365.25 * std::f64::consts::TAU).cos();
    let (month_rain, wet_share) = MONTHS[usize::from(u8::from(date.month())) - 1];
    let dry_spell = extra_spell || in_dry_spell(date);
    let wet = !dry_spell && unit(n, cell, 1) < wet_share;
    let precip = if wet {
        let mean = month_rain / (30.4 * wet_share);
        // Exponential amounts, rounded to 0.1 mm as Open-Meteo sends them.
        (-(1.0 - unit(n, cell, 2)).ln() * mean * 10.0).round() / 10.0
    } else {
        0.0
    };
    let noise = |salt| unit(n, cell, salt) - 0.5;
    let heat = if dry_spell { 2.0 } else { 0.0 };
    let t_min = 17.5 + 3.5 * season(15.0) + 1.5 * noise(3) - if wet { 0.0 } else { 0.5 };
    let t_max = 30.5 + 1.5 * season(260.0) + 1.5 * noise(4) - if wet { 2.5 } else { 0.0 } + heat;
    let rh = (66.0 + 14.0 * season(30.0) + 6.0 * noise(5) + if wet { 8.0 } else { 0.0 }
        - if dry_spell { 14.0 } else { 0.0 })
    .clamp(25.0, 98.0);
    let et0 = (4.6 + 0.9 * season(275.0) + 0.6 * noise(6)) * if wet { 0.7 } else { 1.0 }
        + if dry_spell { 1.0 } else { 0.0 };
    let round = |v: f64| (v * 10.0).round() / 10.0;
    DailyWeather {
        t_min: Some(round(t_min)),
        t_max: Some(round(t_max)),
        t_mean: Some(round((t_min + t_max) / 2.0 + 0.4)),
        precip_mm: Some(precip),
        et0_mm: Some(round(et0.max(0.5))),
        rh_mean: Some(rh.round()),
        wind_max_kmh: Some(round(11.0 + 6.0 * unit(n, cell, 7))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn the_series_is_a_cerrado_year() {
        let (lat, lon) = (-17.74, -50.90);
        let mut by_month = [0.0f64; 12];
        let mut start = date!(2016 - 09 - 01);
        let end = date!(2026 - 08 - 31);
        while start <= end {
            by_month[usize::from(u8::from(start.month())) - 1] +=
                day(start, lat, lon).precip_mm.unwrap();
            start = start.next_day().unwrap();
        }
        let year: f64 = by_month.iter().sum::<f64>() / 10.0;
        let dry: f64 = by_month[4..9].iter().sum::<f64>() / 10.0;
        assert!((1300.0..1900.0).contains(&year), "{year} mm a year");
        assert!(dry < 0.1 * year, "{dry} mm May–September of {year}");
        let d = day(date!(2026 - 11 - 10), lat, lon);
        assert_eq!(d.precip_mm, Some(0.0));
        assert!(d.et0_mm.unwrap() > 4.5);
        assert_eq!(day(date!(2026 - 11 - 10), lat, lon), d);
    }
}
