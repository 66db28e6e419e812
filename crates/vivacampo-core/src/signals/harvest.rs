//! HARVEST_DETECTED: the abrupt end of a crop season after its peak, at the expected time.

use std::collections::BTreeMap;

use super::context::{Context, Season};
use super::stats::{round3, weeks_between};
use super::{Detection, Evidence, FieldUse, Found, Severity, SignalType, evidence_weeks, text};

/// Weeks after the harvest during which evaluations still report it (so reprocessing a nearby
/// week finds it again); later it is over.
pub const HARVEST_REPORT_WEEKS: i64 = 3;

/// VH drop (dB) between radar weeks at or above which a maturing crop counts as harvested.
pub const RADAR_VH_DROP_DB: f64 = 3.0;
/// RVI drop between radar weeks at or above which a maturing crop counts as harvested.
pub const RADAR_RVI_DROP: f64 = 0.25;
/// Largest gap (weeks) between the radar weeks compared.
pub const RADAR_MAX_GAP: i64 = 3;

pub fn harvest(ctx: &Context, found: &mut Found) {
    if !matches!(ctx.field_use, FieldUse::Crop(_)) {
        return;
    }
    if ctx.current().is_none() {
        radar_harvest(ctx, found);
        return;
    }
    found.assessed(SignalType::HarvestDetected);
    let Season::Harvested(h) = ctx.season else {
        return;
    };
    if weeks_between(h.week, ctx.at) > HARVEST_REPORT_WEEKS {
        return;
    }
    let rows: Vec<_> = ctx
        .weeks
        .iter()
        .filter(|w| w.week >= h.peak_week.min(h.before.0) && w.week <= h.week)
        .filter(|w| w.week == h.peak_week || w.week >= h.before.0)
        .map(|w| (*w, None))
        .collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let mut figures = BTreeMap::new();
    figures.insert("season_peak", round3(h.peak));
    figures.insert("before", round3(h.before.1));
    figures.insert("after", round3(h.after));
    figures.insert("drop", round3(h.before.1 - h.after));
    if let Some(a) = h.anchor {
        figures.insert("weeks_since_green_up", weeks_between(a, h.week) as f64);
    }
    let clouds: Vec<f64> = ctx
        .clear
        .iter()
        .filter(|c| c.week == h.week || c.week == h.before.0)
        .map(|c| c.cloud)
        .collect();
    let strength = if h.abrupt { 1.0 } else { 0.3 };
    found.detect(Detection {
        signal_type: SignalType::HarvestDetected,
        severity: Severity::Low,
        confidence: super::confidence(strength, &clouds, None, ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: h.week,
        evidence: Evidence {
            index: "ndvi",
            weeks,
            baseline: None,
            weather: None,
            figures,
            scene_ids,
            next_pass: None,
        },
        text: text::harvest(h.week, h.before, h.after, h.peak),
    });
}

/// HARVEST_DETECTED from radar while the optical weeks are cloudy: a crop growing past its peak
/// and maturing (by NDVI), then a VH drop of [`RADAR_VH_DROP_DB`] or an RVI drop of
/// [`RADAR_RVI_DROP`] between radar weeks after the last clear optical week, within
/// [`HARVEST_REPORT_WEEKS`] of the evaluation week (which must have radar).
fn radar_harvest(ctx: &Context, found: &mut Found) {
    let at_week = ctx.weeks.last().filter(|w| w.week == ctx.at);
    if !at_week.is_some_and(|w| w.has_radar()) {
        return;
    }
    found.assessed(SignalType::HarvestDetected);
    let Season::Growing {
        anchor,
        peak,
        peak_week,
        ..
    } = ctx.season
    else {
        return;
    };
    if peak < super::context::HARVEST_MIN_PEAK || !ctx.maturing() {
        return;
    }
    let last_clear = ctx.clear.last().map(|c| c.week);
    let radar: Vec<_> = ctx
        .weeks
        .iter()
        .filter(|w| w.has_radar() && w.week >= peak_week)
        .map(|w| (*w, w.radar.expect("has radar")))
        .collect();
    let drop = radar.windows(2).rev().find(|pair| {
        let ((bw, b), (aw, a)) = (pair[0], pair[1]);
        weeks_between(bw.week, aw.week) <= RADAR_MAX_GAP
            && last_clear.is_none_or(|c| aw.week > c)
            && (b.vh_db - a.vh_db >= RADAR_VH_DROP_DB || b.rvi - a.rvi >= RADAR_RVI_DROP)
    });
    let Some(pair) = drop else {
        return;
    };
    let ((bw, before), (aw, after)) = (pair[0], pair[1]);
    if weeks_between(aw.week, ctx.at) > HARVEST_REPORT_WEEKS {
        return;
    }
    let (weeks, scene_ids) = evidence_weeks(&[(bw, None), (aw, None)]);
    let mut figures = BTreeMap::new();
    figures.insert("season_peak", round3(peak));
    figures.insert("vh_db_before", round3(before.vh_db));
    figures.insert("vh_db_after", round3(after.vh_db));
    figures.insert("rvi_before", round3(before.rvi));
    figures.insert("rvi_after", round3(after.rvi));
    figures.insert("vh_drop_db", round3(before.vh_db - after.vh_db));
    if let Some(a) = anchor {
        figures.insert("weeks_since_green_up", weeks_between(a, aw.week) as f64);
    }
    let strong =
        before.vh_db - after.vh_db >= RADAR_VH_DROP_DB && before.rvi - after.rvi >= RADAR_RVI_DROP;
    found.detect(Detection {
        signal_type: SignalType::HarvestDetected,
        severity: Severity::Low,
        // Radar alone: no cloud to discount, but one sensor's word.
        confidence: if strong { 0.8 } else { 0.6 },
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: aw.week,
        evidence: Evidence {
            index: "vh_db",
            weeks,
            baseline: None,
            weather: None,
            figures,
            scene_ids,
            next_pass: None,
        },
        text: text::harvest_radar(aw.week, (bw.week, before.vh_db), after.vh_db),
    });
}
