//! RAPID_DECLINE: a drop between clear weeks beyond the field's own week-to-week noise.

use std::collections::BTreeMap;

use super::context::{Clear, Context, Season};
use super::stats::{round3, weeks_between};
use super::{Detection, Evidence, FieldUse, Found, Severity, SignalType, evidence_weeks, text};

/// Robust z-score of a drop (in units of the field's week-to-week difference noise, √2 × its
/// noise) that counts as rapid…
pub const DECLINE_Z: f64 = 4.0;
/// …and the smallest drop (NDVI) that counts at all.
pub const DECLINE_MIN_DROP: f64 = 0.10;
/// NDVI the field must have before the drop (a drop from bare soil is noise).
pub const DECLINE_MIN_BEFORE: f64 = 0.4;
/// Largest gap (weeks) between the two clear weeks compared.
pub const DECLINE_MAX_GAP: i64 = 3;
/// Cloud fraction above which a low week needs the next clear week to confirm it (residual haze
/// the cloud mask missed lowers NDVI for one image only).
pub const DECLINE_CONFIRM_CLOUD: f64 = 0.1;
/// Weeks after the drop during which the signal stays while the field has not recovered.
pub const DECLINE_KEEP_WEEKS: i64 = 8;

struct Drop<'c, 'a> {
    before: &'c Clear<'a>,
    low: &'c Clear<'a>,
    confirm: Option<&'c Clear<'a>>,
    excess: f64,
    expected_drop: f64,
}

pub fn rapid_decline(ctx: &Context, found: &mut Found) {
    let Some(current) = ctx.current() else {
        return;
    };
    let in_season = match ctx.field_use {
        FieldUse::Pasture => true,
        FieldUse::Crop(_) => matches!(ctx.season, Season::Growing { .. }) && !ctx.maturing(),
    };
    found.assessed(SignalType::RapidDecline);
    if !in_season {
        return;
    }
    let threshold = (DECLINE_Z * std::f64::consts::SQRT_2 * ctx.noise_ndvi).max(DECLINE_MIN_DROP);
    let expected = |c: &Clear| ctx.ndvi_band(c.week, 0.0).map(|b| b.expected);
    // A crop's drops count from its anchor on (the harvest of the season before is not one).
    let since = match ctx.season {
        Season::Growing { anchor, .. } => anchor,
        _ => None,
    };
    let recent: Vec<&Clear> = ctx
        .clear
        .iter()
        .filter(|c| weeks_between(c.week, ctx.at) <= DECLINE_KEEP_WEEKS)
        .filter(|c| since.is_none_or(|s| c.week >= s))
        .collect();
    let mut event: Option<Drop> = None;
    for (i, pair) in recent.windows(2).enumerate() {
        let (a, b) = (pair[0], pair[1]);
        if a.ndvi < DECLINE_MIN_BEFORE || weeks_between(a.week, b.week) > DECLINE_MAX_GAP {
            continue;
        }
        let expected_drop = match (expected(a), expected(b)) {
            (Some(ea), Some(eb)) => (ea - eb).max(0.0),
            _ => 0.0,
        };
        let excess = a.ndvi - b.ndvi - expected_drop;
        if excess < threshold {
            continue;
        }
        let confirm = if b.cloud > DECLINE_CONFIRM_CLOUD {
            match recent.get(i + 2) {
                Some(c) if a.ndvi - c.ndvi - expected_drop >= 0.75 * threshold => Some(*c),
                _ => continue,
            }
        } else {
            None
        };
        event = Some(Drop {
            before: a,
            low: b,
            confirm,
            excess,
            expected_drop,
        });
    }
    let Some(drop) = event else {
        return;
    };
    // Still down: the field has not come back to within half the threshold of where it was.
    if current.ndvi > drop.before.ndvi - threshold / 2.0 {
        return;
    }
    let severity = match drop.excess {
        e if e >= 0.25 => Severity::High,
        e if e >= 0.15 => Severity::Medium,
        _ => Severity::Low,
    };
    let mut shown = vec![drop.before, drop.low];
    shown.extend(drop.confirm);
    if current.week > shown[shown.len() - 1].week {
        shown.push(current);
    }
    let rows: Vec<_> = shown.iter().map(|c| (c.source, None)).collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let clouds: Vec<f64> = shown.iter().map(|c| c.cloud).collect();
    let mut figures = BTreeMap::new();
    figures.insert("before", round3(drop.before.ndvi));
    figures.insert("after", round3(drop.low.ndvi));
    figures.insert("drop", round3(drop.before.ndvi - drop.low.ndvi));
    figures.insert("expected_drop", round3(drop.expected_drop));
    figures.insert("threshold", round3(threshold));
    figures.insert("noise", round3(ctx.noise_ndvi));
    figures.insert("current", round3(current.ndvi));
    let strength = (drop.excess - threshold) / threshold;
    found.detect(Detection {
        signal_type: SignalType::RapidDecline,
        severity,
        confidence: super::confidence(strength, &clouds, None, ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: drop.low.week,
        text: text::rapid_decline(
            (drop.before.week, drop.before.ndvi),
            (drop.low.week, drop.low.ndvi),
            ctx.noise_ndvi,
        ),
        evidence: Evidence {
            index: "ndvi",
            weeks,
            baseline: None,
            weather: None,
            figures,
            scene_ids,
            next_pass: None,
        },
    });
}
