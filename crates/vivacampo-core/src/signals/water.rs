//! WATER_STRESS: NDMI or NDVI falling against what the field should show, while the weather
//! shows a water deficit (precipitation − ET0 < 0) beyond the season's normal.
//!
//! A harvest falls too, but only after the crop's maturity, when this rule does not look; a
//! pasture browns every dry season, but then the deficit is the normal one of those weeks in
//! earlier years, so it is not stress.

use std::collections::BTreeMap;

use time::Duration;

use super::context::{Clear, Context, Season};
use super::decline::DECLINE_CONFIRM_CLOUD as CONFIRM_CLOUD;
use super::expected::CropCurve;
use super::stats::{median, round1, round3, weeks_between};
use super::{
    Detection, Evidence, FieldUse, Found, Index, Severity, SignalType, WeatherTotals,
    evidence_weeks, text, weather_totals,
};
use crate::weeks::IsoWeek;

/// Weeks before the evaluation week searched for the reference (the recent best) week.
pub const WATER_LOOKBACK_WEEKS: i64 = 5;
/// After a cloud gap, how far back (weeks) the last clear week may be.
pub const WATER_GAP_LOOKBACK_WEEKS: i64 = 9;
/// Smallest fall (index units) that counts…
pub const WATER_MIN_FALL: f64 = 0.07;
/// …and in units of the index's own noise.
pub const WATER_FALL_Z: f64 = 2.5;
/// NDVI below the expected band's value (history or curve) that counts as fallen, when the
/// fall itself was hidden by clouds.
pub const WATER_MIN_SHORTFALL: f64 = 0.12;
/// The weather windows (weeks, ending with the evaluation week): a short one for a deficit that
/// just began after heavy rain, longer ones for a drought seen late through clouds.
pub const WATER_WINDOWS: [usize; 3] = [3, 6, 9];
/// Water balance over a window (mm) at or below which there is a deficit…
pub const WATER_MAX_BALANCE: f64 = -25.0;
/// …with at least this many weeks in deficit…
pub const WATER_MIN_DEFICIT_WEEKS: usize = 2;
/// …and at least this much below the same weeks' median balance in earlier years, when the
/// field has weather for them (mm).
pub const WATER_MIN_ANOMALY: f64 = -40.0;

struct Fall<'c, 'a> {
    index: Index,
    reference: Option<&'c Clear<'a>>,
    fall: f64,
    threshold: f64,
}

/// The median balance of the same weeks in earlier years, when the field has their weather.
fn normal_balance(ctx: &Context, from: IsoWeek, to: IsoWeek) -> Option<f64> {
    let balances: Vec<f64> = (1..=5)
        .filter_map(|years| {
            let shift = Duration::days(364 * years);
            let f = IsoWeek::containing(from.start() - shift);
            let t = IsoWeek::containing(to.start() - shift);
            weather_totals(ctx, f, t).map(|w| w.balance_mm)
        })
        .collect();
    median(&balances)
}

/// The first weather window in deficit, with its anomaly against earlier years: at most
/// [`WATER_MIN_ANOMALY`] and 30 % of the normal balance's size below normal. A pasture needs
/// earlier years' weather: its dry season is in deficit every year.
fn deficit(ctx: &Context) -> Option<(WeatherTotals, Option<f64>)> {
    WATER_WINDOWS.iter().find_map(|&weeks| {
        let from = ctx.at.back(weeks)[weeks - 1];
        let totals = weather_totals(ctx, from, ctx.at)?;
        let normal = normal_balance(ctx, from, ctx.at);
        if normal.is_none() && ctx.field_use == FieldUse::Pasture {
            return None;
        }
        let anomaly = normal.map(|n| (totals.balance_mm - n, n));
        (totals.balance_mm <= WATER_MAX_BALANCE
            && totals.deficit_weeks >= WATER_MIN_DEFICIT_WEEKS
            && anomaly.is_none_or(|(a, n)| a <= WATER_MIN_ANOMALY.min(-0.3 * n.abs())))
        .then_some((totals, anomaly.map(|(a, _)| a)))
    })
}

/// How far `index` fell by `current`'s week from the recent best week beyond what the field's baseline expects to
/// fall over the same weeks (rises of the baseline do not count). The reference is the second
/// best of the recent weeks when there are three or more, so one bright outlier does not make
/// a fall.
fn fall_of<'c, 'a>(ctx: &'c Context<'a>, current: &Clear, index: Index) -> Option<Fall<'c, 'a>> {
    // A crop's expected change follows its curve aligned on this season's green-up (earlier
    // seasons at the same calendar weeks may have been sown weeks apart); a pasture's follows
    // its own earlier seasons, else the pasture curve. NDMI is expected to change as NDVI does
    // (the two move nearly one to one as a canopy grows and dries).
    let expected = |c: &Clear| -> Option<f64> {
        match ctx.field_use {
            FieldUse::Crop(kind) => {
                let k = ctx.weeks_since_anchor(c.week)?;
                Some(CropCurve::of(kind).ndvi_after_anchor(k))
            }
            FieldUse::Pasture => match ctx.history_band(index, c.week) {
                Some(b) => Some(b.expected),
                None => ctx.ndvi_band(c.week, 0.0).map(|b| b.expected),
            },
        }
    };
    let expected_now = expected(current);
    let now = current.value(index)?;
    let mut earlier = ctx.clear.iter().filter(|c| c.week < current.week);
    let mut recent: Vec<&Clear> = earlier
        .clone()
        .filter(|c| weeks_between(c.week, current.week) <= WATER_LOOKBACK_WEEKS)
        .collect();
    if recent.is_empty() {
        // After a cloud gap, the last clear week before it.
        recent.extend(
            earlier
                .next_back()
                .filter(|c| weeks_between(c.week, current.week) <= WATER_GAP_LOOKBACK_WEEKS),
        );
    }
    let mut candidates: Vec<(&Clear, f64)> = recent
        .into_iter()
        .filter_map(|c| {
            let v = c.value(index)?;
            let expected_fall = match (expected(c), expected_now) {
                (Some(then), Some(now)) => (then - now).max(0.0),
                _ => 0.0,
            };
            Some((c, v - now - expected_fall))
        })
        .collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1));
    let (reference, fall) = *candidates.get(usize::from(candidates.len() >= 3))?;
    let noise = match index {
        Index::Ndmi => ctx.noise_ndmi,
        Index::Ndvi => ctx.noise_ndvi,
    };
    Some(Fall {
        index,
        reference: Some(reference),
        fall,
        threshold: (WATER_FALL_Z * noise).max(WATER_MIN_FALL),
    })
}

pub fn water_stress(ctx: &Context, found: &mut Found) {
    let Some(current) = ctx.current() else {
        return;
    };
    let in_season = match ctx.field_use {
        FieldUse::Pasture => true,
        FieldUse::Crop(_) => {
            matches!(ctx.season, Season::Growing { .. }) && !ctx.maturing_by_anchor()
        }
    };
    if !in_season {
        found.assessed(SignalType::WaterStress);
        return;
    }
    let longest = WATER_WINDOWS[WATER_WINDOWS.len() - 1];
    if weather_totals(ctx, ctx.at.back(longest)[longest - 1], ctx.at).is_none() {
        return;
    }
    found.assessed(SignalType::WaterStress);
    let Some((weather, anomaly)) = deficit(ctx) else {
        return;
    };
    let mut falls: Vec<Fall> = [Index::Ndmi, Index::Ndvi]
        .into_iter()
        .filter_map(|index| fall_of(ctx, current, index))
        .filter(|f| f.fall >= f.threshold - 1e-9)
        .collect();
    // A fall hidden by clouds (the previous clear week is 3 or more weeks back): the field is
    // now well below what it should show, past its green-up.
    let after_gap = ctx
        .clear
        .iter()
        .rev()
        .nth(1)
        .is_none_or(|p| weeks_between(p.week, ctx.at) >= 3);
    let past_green_up = ctx.field_use == FieldUse::Pasture
        || ctx.crop_age().is_some_and(|(_, longest)| longest >= 3.0);
    if let Some(band) = ctx
        .ndvi_band(ctx.at, 0.0)
        .filter(|_| after_gap && past_green_up)
    {
        let shortfall = band.expected - current.ndvi;
        let threshold = (3.0 * ctx.noise_ndvi).max(WATER_MIN_SHORTFALL);
        if shortfall >= threshold {
            falls.push(Fall {
                index: Index::Ndvi,
                reference: None,
                fall: shortfall,
                threshold,
            });
        }
    }
    let Some(fall) = falls
        .into_iter()
        .max_by(|a, b| (a.fall / a.threshold).total_cmp(&(b.fall / b.threshold)))
    else {
        return;
    };
    // Residual haze lowers both indices for one image: a partly cloudy week needs the clear week
    // before it to show the fall too, unless the fall is twice the threshold.
    if current.cloud > CONFIRM_CLOUD && fall.fall < 2.0 * fall.threshold {
        let previous = ctx.clear.iter().rev().nth(1);
        let confirmed = previous.is_some_and(|p| {
            fall.reference.is_none_or(|r| p.week > r.week)
                && fall_of(ctx, p, fall.index).is_some_and(|f| f.fall >= fall.threshold / 2.0)
        });
        if !confirmed {
            return;
        }
    }
    let severity = if fall.fall >= 0.15 || weather.balance_mm <= -100.0 {
        Severity::High
    } else if fall.fall >= 0.1 {
        Severity::Medium
    } else {
        Severity::Low
    };
    let since = fall.reference.map_or(weather.from, |r| r.week);
    let shown: Vec<&Clear> = ctx.clear.iter().filter(|c| c.week >= since).collect();
    // The first week after the reference that had fallen at least half the threshold.
    let first_seen = fall
        .reference
        .and_then(|r| {
            let from = r.value(fall.index)?;
            ctx.clear.iter().find(|c| {
                c.week > r.week
                    && c.value(fall.index)
                        .is_some_and(|v| v <= from - fall.threshold / 2.0)
            })
        })
        .map_or(ctx.at, |c| c.week);
    let rows: Vec<_> = shown.iter().map(|c| (c.source, None)).collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let clouds: Vec<f64> = shown.iter().map(|c| c.cloud).collect();
    let name = match fall.index {
        Index::Ndmi => "ndmi",
        Index::Ndvi => "ndvi",
    };
    let value = |c: &Clear| c.value(fall.index).unwrap_or(f64::NAN);
    let mut figures = BTreeMap::new();
    figures.insert("fall", round3(fall.fall));
    figures.insert("threshold", round3(fall.threshold));
    figures.insert("current", round3(value(current)));
    if let Some(r) = fall.reference {
        figures.insert("reference", round3(value(r)));
    } else {
        figures.insert("below_expected", 1.0);
    }
    if let Some(a) = anomaly {
        figures.insert("balance_anomaly_mm", round1(a));
    }
    let strength = (fall.fall - fall.threshold) / fall.threshold
        + (WATER_MAX_BALANCE - weather.balance_mm) / 100.0;
    let from = match fall.reference {
        Some(r) => (r.week, value(r)),
        None => (ctx.at, current.ndvi + fall.fall),
    };
    found.detect(Detection {
        signal_type: SignalType::WaterStress,
        severity,
        confidence: super::confidence(strength, &clouds, None, ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: first_seen,
        text: text::water_stress(
            name,
            from,
            (ctx.at, value(current)),
            weather.balance_mm,
            weather.deficit_weeks,
            weather.weeks,
        ),
        evidence: Evidence {
            index: name,
            weeks,
            baseline: None,
            weather: Some(weather),
            figures,
            scene_ids,
            next_pass: None,
        },
    });
}
