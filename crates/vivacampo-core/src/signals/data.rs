//! NO_RECENT_DATA: weeks without a clear image, and when the next pass is expected.

use time::{Date, Duration};

use super::context::Context;
use super::stats::weeks_between;
use super::{Detection, Evidence, Found, Severity, SignalType, evidence_weeks, text};

/// Weeks without a clear image that raise the signal.
pub const NO_DATA_WEEKS: usize = 3;
/// Sentinel-2's revisit (two satellites), days.
pub const REVISIT_DAYS: i64 = 5;

/// The first Sentinel-2 pass after `after`, given the date of a known pass: passes repeat every
/// [`REVISIT_DAYS`].
pub fn next_pass(last_pass: Date, after: Date) -> Date {
    let days = (after - last_pass).whole_days();
    let periods = days.div_euclid(REVISIT_DAYS) + 1;
    last_pass + Duration::days(periods * REVISIT_DAYS)
}

pub fn no_recent_data(ctx: &Context, found: &mut Found) {
    found.assessed(SignalType::NoRecentData);
    // A CLOUDY week with radar is a week with data: radar sees through the clouds.
    let last_radar = ctx
        .weeks
        .iter()
        .rev()
        .find(|w| w.has_radar())
        .map(|w| w.week);
    let last_clear = ctx.clear.last().map(|c| c.week).max(last_radar);
    let run = match last_clear {
        Some(w) => weeks_between(w, ctx.at),
        None => match ctx.weeks.first() {
            Some(first) => weeks_between(first.week, ctx.at) + 1,
            None => return,
        },
    };
    if run < NO_DATA_WEEKS as i64 {
        return;
    }
    let run = run as usize;
    let first_missing = ctx.at.back(run)[run - 1];
    let missing: Vec<_> = ctx
        .weeks
        .iter()
        .filter(|w| w.week >= first_missing)
        .map(|w| (*w, None))
        .collect();
    let (weeks, scene_ids) = evidence_weeks(&missing);
    let last_pass = ctx.weeks.iter().rev().find_map(|w| w.image_date);
    let next = last_pass.map(|d| next_pass(d, ctx.at.end()));
    let severity = match run {
        r if r >= 8 => Severity::High,
        r if r >= 5 => Severity::Medium,
        _ => Severity::Low,
    };
    let mut figures = std::collections::BTreeMap::new();
    figures.insert("weeks_without_clear_image", run as f64);
    figures.insert("threshold_weeks", NO_DATA_WEEKS as f64);
    figures.insert("revisit_days", REVISIT_DAYS as f64);
    let next_text = next.map(|d| d.to_string());
    found.detect(Detection {
        signal_type: SignalType::NoRecentData,
        severity,
        confidence: 0.95,
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: first_missing,
        evidence: Evidence {
            index: "none",
            weeks,
            baseline: None,
            weather: None,
            figures,
            scene_ids,
            next_pass: next_text.clone(),
        },
        text: text::no_recent_data(run, last_clear, next_text.as_deref()),
    });
}
