//! PASTURE_DEGRADATION: the wet-season NDVI peak falling season after season while bare soil
//! (BSI) rises.
//!
//! A season is a wet season, ISO weeks 49 to 17 (December to April), named by its January's
//! year. The current season is compared with the earlier ones over the same weeks only (a season
//! in progress against the same part of earlier seasons), so an early-season evaluation does not
//! mistake "not at the peak yet" for decline. Outside the wet season, and while the current one
//! has fewer than [`PASTURE_MIN_WEEKS_NOW`] clear weeks, the last complete season is judged.

use std::collections::BTreeMap;

use super::context::{Clear, Context};
use super::stats::{median, round3, weeks_between};
use super::{
    BaselineInfo, BaselineSource, Detection, Evidence, FieldUse, Found, Severity, SignalType,
    evidence_weeks, text,
};
use crate::weeks::IsoWeek;

/// First ISO week of the wet season (in the year before the season's name).
pub const WET_FIRST_WEEK: u8 = 49;
/// Last ISO week of the wet season.
pub const WET_LAST_WEEK: u8 = 17;
/// Clear weeks the current season needs…
pub const PASTURE_MIN_WEEKS_NOW: usize = 4;
/// …and each earlier season.
pub const PASTURE_MIN_WEEKS_BEFORE: usize = 3;
/// Earlier seasons needed.
pub const PASTURE_MIN_SEASONS: usize = 2;
/// Fall of the peak (NDVI, against the median of earlier peaks) that is degradation…
pub const PASTURE_PEAK_DECLINE: f64 = 0.07;
/// …when bare soil rose by this much (BSI), or on its own when the peak fell by
/// [`PASTURE_PEAK_DECLINE_ALONE`].
pub const PASTURE_BSI_RISE: f64 = 0.02;
/// Fall of the peak that is degradation even without a BSI rise.
pub const PASTURE_PEAK_DECLINE_ALONE: f64 = 0.1;

/// The wet season (by its January's year) and the weeks into it, of `week`; `None` outside.
fn wet_season_of(week: IsoWeek) -> Option<(i32, i64)> {
    let season = if week.week >= WET_FIRST_WEEK {
        week.year + 1
    } else if week.week <= WET_LAST_WEEK {
        week.year
    } else {
        return None;
    };
    Some((season, weeks_between(season_start(season), week)))
}

fn season_start(season: i32) -> IsoWeek {
    IsoWeek::new(season - 1, WET_FIRST_WEEK).expect("week 49 exists every year")
}

struct SeasonFigures<'c, 'a> {
    peak: f64,
    bsi: Option<f64>,
    weeks: Vec<&'c Clear<'a>>,
}

fn figures<'c, 'a>(clear: &'c [Clear<'a>], season: i32, upto: i64) -> SeasonFigures<'c, 'a> {
    let weeks: Vec<&Clear> = clear
        .iter()
        .filter(|c| wet_season_of(c.week).is_some_and(|(s, p)| s == season && p <= upto))
        .collect();
    let mut ndvi: Vec<f64> = weeks.iter().map(|c| c.ndvi).collect();
    ndvi.sort_by(|a, b| b.total_cmp(a));
    let peak = median(&ndvi[..ndvi.len().min(3)]).unwrap_or(f64::NAN);
    let bsi: Vec<f64> = weeks.iter().filter_map(|c| c.bsi).collect();
    SeasonFigures {
        peak,
        bsi: median(&bsi),
        weeks,
    }
}

pub fn degradation(ctx: &Context, found: &mut Found) {
    if ctx.field_use != FieldUse::Pasture {
        return;
    }
    let (mut season, mut upto) = match wet_season_of(ctx.at) {
        Some(s) => s,
        None => (ctx.at.year, i64::MAX),
    };
    let mut now = figures(&ctx.clear, season, upto);
    if now.weeks.len() < PASTURE_MIN_WEEKS_NOW && upto != i64::MAX {
        // A wet season that has only begun says nothing yet: until it has its weeks, the
        // verdict is the last complete season's, so December does not forget April's.
        season -= 1;
        upto = i64::MAX;
        now = figures(&ctx.clear, season, upto);
    }
    if now.weeks.len() < PASTURE_MIN_WEEKS_NOW {
        return;
    }
    let earlier: Vec<SeasonFigures> = (1..=5)
        .map(|back| figures(&ctx.clear, season - back, upto))
        .filter(|s| s.weeks.len() >= PASTURE_MIN_WEEKS_BEFORE)
        .collect();
    if earlier.len() < PASTURE_MIN_SEASONS {
        return;
    }
    found.assessed(SignalType::PastureDegradation);
    let peaks: Vec<f64> = earlier.iter().map(|s| s.peak).collect();
    let peak_before = median(&peaks).expect("two seasons");
    let lowest_before = peaks.iter().copied().fold(f64::INFINITY, f64::min);
    let decline = peak_before - now.peak;
    let bsi_before = median(&earlier.iter().filter_map(|s| s.bsi).collect::<Vec<_>>());
    let bsi_rise = match (now.bsi, bsi_before) {
        (Some(n), Some(b)) => n - b,
        _ => 0.0,
    };
    let degraded = decline >= PASTURE_PEAK_DECLINE
        && now.peak < lowest_before - 0.01
        && (bsi_rise >= PASTURE_BSI_RISE || decline >= PASTURE_PEAK_DECLINE_ALONE);
    if !degraded {
        return;
    }
    let severity = match decline {
        d if d >= 0.15 => Severity::High,
        d if d >= 0.1 => Severity::Medium,
        _ => Severity::Low,
    };
    let rows: Vec<_> = now.weeks.iter().map(|c| (c.source, None)).collect();
    let (weeks, scene_ids) = evidence_weeks(&rows);
    let clouds: Vec<f64> = now.weeks.iter().map(|c| c.cloud).collect();
    let baseline = BaselineInfo {
        source: BaselineSource::OwnHistory,
        seasons: earlier.len(),
        curve: None,
    };
    let mut figures = BTreeMap::new();
    figures.insert("season", f64::from(season));
    figures.insert("peak_now", round3(now.peak));
    figures.insert("peak_before", round3(peak_before));
    figures.insert("peak_decline", round3(decline));
    if let (Some(n), Some(b)) = (now.bsi, bsi_before) {
        figures.insert("bsi_now", round3(n));
        figures.insert("bsi_before", round3(b));
    }
    figures.insert("bsi_rise", round3(bsi_rise));
    let strength = (decline - PASTURE_PEAK_DECLINE) / PASTURE_PEAK_DECLINE;
    found.detect(Detection {
        signal_type: SignalType::PastureDegradation,
        severity,
        confidence: super::confidence(strength, &clouds, Some(&baseline), ctx.noise_samples),
        year: ctx.at.year,
        week: ctx.at.week,
        first_seen_week: now.weeks[0].week,
        text: text::pasture_degradation(
            now.peak,
            peak_before,
            now.bsi.unwrap_or(f64::NAN),
            bsi_before.unwrap_or(f64::NAN),
            earlier.len(),
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
