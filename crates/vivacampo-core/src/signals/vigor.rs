//! LOW_VIGOR (well below what the field should show now) and PERSISTENT_ANOMALY (several clear
//! weeks in a row below the normal band).

use std::collections::BTreeMap;

use time::Duration;

use super::context::{Band, Clear, Context, Season};
use super::stats::{median, round3, weeks_between};
use super::{
    BaselineInfo, BaselineSource, Detection, Evidence, FieldUse, Found, Severity, SignalType,
    evidence_weeks, text,
};
use crate::weeks::IsoWeek;

/// How far below a crop or pasture curve is still normal for LOW_VIGOR (NDVI; +0.05 for the
/// generic crop curve).
pub const VIGOR_CURVE_TOLERANCE: f64 = 0.15;
/// Smallest deficit (expected − NDVI) that is LOW_VIGOR…
pub const VIGOR_MIN_DEFICIT: f64 = 0.12;
/// …and as a share of the expected value.
pub const VIGOR_MIN_SHARE: f64 = 0.2;
/// Expected NDVI below which the field is not expected to be green, so low vigor is not judged.
pub const VIGOR_MIN_EXPECTED: f64 = 0.45;
/// How far below a curve is still normal for PERSISTENT_ANOMALY.
pub const ANOMALY_CURVE_TOLERANCE: f64 = 0.10;
/// Clear weeks in a row below the band that make an anomaly persistent.
pub const ANOMALY_WEEKS: usize = 3;
/// Largest span (weeks) those clear weeks may cover.
pub const ANOMALY_SPAN_WEEKS: i64 = 6;

/// Weeks after a crop's anchor before its vigor is judged: green-up timing moves from year to
/// year, and during green-up NDVI changes by 0.1-0.15 a week.
pub const VIGOR_AFTER_ANCHOR_WEEKS: f64 = 1.0;

/// Whether vigor can be judged now, and the smallest expected value to judge it by.
fn judged_above(ctx: &Context) -> Option<f64> {
    match (ctx.field_use, ctx.season) {
        (FieldUse::Pasture, _) => Some(VIGOR_MIN_EXPECTED),
        (FieldUse::Crop(_), Season::Growing { .. }) if !ctx.maturing() => {
            let k = ctx.crop_age().map_or(f64::INFINITY, |(k, _)| k);
            (k >= VIGOR_AFTER_ANCHOR_WEEKS).then_some(VIGOR_MIN_EXPECTED)
        }
        // Bare where earlier seasons were clearly green already (a failed or missing crop):
        // only the field's own history can say so.
        (FieldUse::Crop(_), Season::Fallow) => Some(0.6),
        _ => None,
    }
}

/// The week's band and how far below it the week is, if it is anomalous: below the band's low
/// minus `margin` (history only; curves carry their tolerance), by at least `min_deficit`.
fn below(
    ctx: &Context,
    c: &Clear,
    tolerance: f64,
    margin: f64,
    min_expected: f64,
    min_deficit: impl Fn(f64) -> f64,
) -> Option<(Band, f64)> {
    let band = ctx.ndvi_band(c.week, tolerance)?;
    if min_expected >= 0.6 && band.source != BaselineSource::OwnHistory {
        return None;
    }
    let margin = if band.source == BaselineSource::OwnHistory {
        margin
    } else {
        0.0
    };
    let deficit = band.expected - c.ndvi;
    (band.expected >= min_expected
        && c.ndvi < band.low - margin
        && deficit >= min_deficit(band.expected))
    .then_some((band, deficit))
}

/// The run of consecutive clear weeks (gaps of at most `max_gap` weeks) ending at the newest,
/// for which `test` holds, oldest first; for a growing crop, only its weeks since it can be
/// judged ([`VIGOR_AFTER_ANCHOR_WEEKS`] after the anchor).
fn run_back<'c, 'a, T>(
    ctx: &'c Context<'a>,
    max_gap: i64,
    mut test: impl FnMut(&Clear<'a>) -> Option<T>,
) -> Vec<(&'c Clear<'a>, T)> {
    let since = match ctx.season {
        Season::Growing {
            anchor: Some(a), ..
        } if ctx.field_use != FieldUse::Pasture => Some(IsoWeek::containing(
            a.start() + Duration::weeks(VIGOR_AFTER_ANCHOR_WEEKS as i64),
        )),
        _ => None,
    };
    let mut run = Vec::new();
    let mut next_week = None;
    for c in ctx.clear.iter().rev() {
        if next_week.is_some_and(|n| weeks_between(c.week, n) > max_gap)
            || since.is_some_and(|s| c.week < s)
        {
            break;
        }
        match test(c) {
            Some(t) => run.push((c, t)),
            None => break,
        }
        next_week = Some(c.week);
    }
    run.reverse();
    run
}

fn baseline_info(band: &Band) -> BaselineInfo {
    BaselineInfo {
        source: band.source,
        seasons: band.seasons,
        curve: band.curve,
    }
}

pub fn low_vigor(ctx: &Context, found: &mut Found) {
    let Some(current) = ctx.current() else {
        return;
    };
    let Some(min_expected) = judged_above(ctx) else {
        if matches!(ctx.field_use, FieldUse::Crop(_)) {
            found.assessed(SignalType::LowVigor);
        }
        return;
    };
    if ctx.ndvi_band(current.week, VIGOR_CURVE_TOLERANCE).is_none() {
        return;
    }
    found.assessed(SignalType::LowVigor);
    let margin = (2.0 * ctx.noise_ndvi).max(0.04);
    let min_deficit = |e: f64| VIGOR_MIN_DEFICIT.max(VIGOR_MIN_SHARE * e);
    let run = run_back(ctx, 4, |c| {
        below(
            ctx,
            c,
            VIGOR_CURVE_TOLERANCE,
            margin,
            min_expected,
            min_deficit,
        )
    });
    if run.len() < 2 {
        return;
    }
    let (last, (band, deficit)) = run[run.len() - 1];
    let share = deficit / band.expected;
    let severity = match share {
        s if s >= 0.35 => Severity::High,
        s if s >= 0.22 => Severity::Medium,
        _ => Severity::Low,
    };
    let threshold = min_deficit(band.expected);
    let strength = (deficit - threshold) / threshold;
    let rows: Vec<_> = run
        .iter()
        .map(|(c, (b, _))| (c.source, Some((b.expected, b.low))))
        .collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let baseline = baseline_info(&band);
    let clouds: Vec<f64> = run.iter().map(|(c, _)| c.cloud).collect();
    let mut figures = BTreeMap::new();
    figures.insert("ndvi", round3(last.ndvi));
    figures.insert("expected", round3(band.expected));
    figures.insert("band_low", round3(band.low));
    figures.insert("deficit", round3(deficit));
    figures.insert("min_deficit", round3(threshold));
    figures.insert("noise", round3(ctx.noise_ndvi));
    found.detect(Detection {
        signal_type: SignalType::LowVigor,
        severity,
        confidence: super::confidence(strength, &clouds, Some(&baseline), ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: run[0].0.week,
        text: text::low_vigor(
            run[0].0.week,
            run.len(),
            last.week,
            last.ndvi,
            band.expected,
            band.seasons,
            band.curve,
        ),
        evidence: Evidence {
            index: "ndvi",
            weeks,
            baseline: Some(baseline),
            weather: None,
            figures,
            scene_ids,
            next_pass: None,
        },
    });
}

pub fn persistent_anomaly(ctx: &Context, found: &mut Found) {
    let Some(current) = ctx.current() else {
        return;
    };
    let Some(min_expected) = judged_above(ctx) else {
        if matches!(ctx.field_use, FieldUse::Crop(_)) {
            found.assessed(SignalType::PersistentAnomaly);
        }
        return;
    };
    let min_expected = if min_expected >= 0.6 { 0.6 } else { 0.4 };
    if ctx
        .ndvi_band(current.week, ANOMALY_CURVE_TOLERANCE)
        .is_none()
    {
        return;
    }
    found.assessed(SignalType::PersistentAnomaly);
    let margin = ctx.noise_ndvi.max(0.02);
    let run = run_back(ctx, 3, |c| {
        below(
            ctx,
            c,
            ANOMALY_CURVE_TOLERANCE,
            margin,
            min_expected,
            |_| 0.05,
        )
    });
    if run.len() < ANOMALY_WEEKS {
        return;
    }
    let recent = &run[run.len() - ANOMALY_WEEKS..];
    if weeks_between(recent[0].0.week, ctx.at) >= ANOMALY_SPAN_WEEKS {
        return;
    }
    let deficit = run.iter().map(|(_, (_, d))| d).sum::<f64>() / run.len() as f64;
    let severity = match deficit {
        d if d >= 0.15 => Severity::High,
        d if d >= 0.08 => Severity::Medium,
        _ => Severity::Low,
    };
    // Patchy: the spread between the mean and the worst tenth widened against the weeks before.
    let first = run[0].0.week;
    let spread = |c: &Clear| c.ndvi_p10.map(|p| c.ndvi - p);
    let before: Vec<f64> = ctx
        .clear
        .iter()
        .filter(|c| c.week < first && weeks_between(c.week, first) <= 8)
        .filter_map(spread)
        .collect();
    let widened = match (median(&before), spread(current)) {
        (Some(b), Some(now)) => now - b,
        _ => 0.0,
    };
    let localized = widened >= 0.05;
    let band = run[run.len() - 1].1.0;
    let rows: Vec<_> = run
        .iter()
        .map(|(c, (b, _))| (c.source, Some((b.expected, b.low))))
        .collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let baseline = baseline_info(&band);
    let clouds: Vec<f64> = run.iter().map(|(c, _)| c.cloud).collect();
    let strength = (run.len() - ANOMALY_WEEKS) as f64 / 3.0 + (deficit - 0.05) / 0.1;
    let mut figures = BTreeMap::new();
    figures.insert("weeks_below", run.len() as f64);
    figures.insert("mean_deficit", round3(deficit));
    figures.insert("p10_spread_widening", round3(widened));
    figures.insert("margin", round3(margin));
    found.detect(Detection {
        signal_type: SignalType::PersistentAnomaly,
        severity,
        confidence: super::confidence(strength, &clouds, Some(&baseline), ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: first,
        text: text::persistent_anomaly(
            first,
            ctx.at,
            run.len(),
            deficit,
            localized,
            band.seasons,
            band.curve,
        ),
        evidence: Evidence {
            index: "ndvi",
            weeks,
            baseline: Some(baseline),
            weather: None,
            figures,
            scene_ids,
            next_pass: None,
        },
    });
}
