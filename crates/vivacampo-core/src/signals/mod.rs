//! Signals: which fields need attention, why, and what to do — as pure functions of a field's
//! weekly series, its earlier seasons and its weather.
//!
//! [`evaluate`] runs every rule for one field at one ISO week (image time: only weeks up to it
//! count) and returns the [`Detection`]s, each with severity, a confidence that falls with cloud
//! cover and short history, the evidence it rests on (weeks, values, baseline, weather totals,
//! scene ids) and its text in pt-BR and English. [`lifecycle::plan`] turns the detections and a
//! field's open signals into what to open, update and resolve. How each rule works and how well
//! they do on the labelled scenario set: `docs/signals.md`.
//!
//! The rules:
//! - [`SignalType::LowVigor`]: well below the field's own earlier seasons at the same weeks,
//!   else the crop's expected curve ([`expected`]);
//! - [`SignalType::RapidDecline`]: a drop between clear weeks beyond the field's own noise;
//! - [`SignalType::PersistentAnomaly`]: three clear weeks in a row below the baseline band;
//! - [`SignalType::WaterStress`]: falling NDMI or NDVI while the weather shows a water deficit;
//! - [`SignalType::NoRecentData`]: three or more weeks without a clear image or a radar scene;
//! - [`SignalType::PastureDegradation`]: the wet-season peak falling season after season while
//!   bare soil rises;
//! - [`SignalType::HarvestDetected`]: the abrupt end of a season after its peak (information),
//!   from NDVI, or from a Sentinel-1 VH/RVI drop while the optical weeks are cloudy.
//!
//! Nothing here does I/O.
#![warn(missing_docs)]

mod context;
mod data;
mod decline;
pub mod expected;
mod harvest;
pub mod lifecycle;
mod pasture;
mod series;
pub mod stats;
mod text;
mod vigor;
mod water;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

pub use series::{
    CropKind, FieldSeries, FieldUse, FieldWeek, IndexStat, RadarStat, WeatherWeek, WeekStatus,
};
pub use text::{Text, Texts};

use crate::weeks::IsoWeek;
use crate::wire_enum;
use context::Context;

wire_enum!(
    /// What a signal says about a field.
    SignalType {
        /// Well below what the field should show now.
        LowVigor => "LOW_VIGOR",
        /// A drop between clear weeks beyond the field's own noise.
        RapidDecline => "RAPID_DECLINE",
        /// Three or more clear weeks in a row below the baseline band.
        PersistentAnomaly => "PERSISTENT_ANOMALY",
        /// Falling NDMI or NDVI with a water deficit.
        WaterStress => "WATER_STRESS",
        /// No clear image for several weeks.
        NoRecentData => "NO_RECENT_DATA",
        /// A pasture's wet-season peak falling season after season, bare soil rising.
        PastureDegradation => "PASTURE_DEGRADATION",
        /// A crop was harvested (information).
        HarvestDetected => "HARVEST_DETECTED",
    }
);

impl SignalType {
    /// Whether the signal asks for attention (all but the informational harvest).
    pub fn is_alarm(self) -> bool {
        !matches!(self, SignalType::HarvestDetected)
    }

    /// Whether the signal belongs to one crop season, so a harvest closes it.
    pub fn ends_with_season(self) -> bool {
        matches!(
            self,
            SignalType::LowVigor
                | SignalType::RapidDecline
                | SignalType::PersistentAnomaly
                | SignalType::WaterStress
        )
    }
}

wire_enum!(
    /// How much a signal matters.
    Severity {
        /// Worth a look.
        Low => "LOW",
        /// Worth a visit soon.
        Medium => "MEDIUM",
        /// Worth a visit now.
        High => "HIGH",
    }
);

wire_enum!(
    /// Where a signal is in its life. OPEN and ACK signals are open: a recurrence updates them
    /// and a recovery resolves them.
    SignalStatus {
        /// New or updated, not yet seen by anyone.
        Open => "OPEN",
        /// Seen by a member; still follows the field.
        Ack => "ACK",
        /// Over: resolved by a member or by the system.
        Resolved => "RESOLVED",
        /// Judged not useful by a member.
        Dismissed => "DISMISSED",
    }
);

wire_enum!(
    /// What a signal's expected values come from.
    BaselineSource {
        /// The field's own earlier seasons at the same weeks.
        OwnHistory => "OWN_HISTORY",
        /// The crop's expected curve, aligned on this season's green-up.
        CropCurve => "CROP_CURVE",
        /// The expected pasture curve of the calendar.
        PastureCurve => "PASTURE_CURVE",
    }
);

wire_enum!(
    /// A language signals are written in.
    Language {
        /// Brazilian Portuguese.
        PtBr => "pt-BR",
        /// English.
        En => "en",
    }
);

/// The indices the rules read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Index {
    Ndvi,
    Ndmi,
}

/// One rule's finding for a field at an evaluation week.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detection {
    /// The signal's type.
    #[serde(rename = "type")]
    pub signal_type: SignalType,
    /// How much it matters.
    pub severity: Severity,
    /// How sure the rule is, 0..1: falls with cloud cover, short history and a small margin.
    pub confidence: f64,
    /// ISO year of the evaluation week.
    pub year: i32,
    /// ISO week of the evaluation week.
    pub week: u8,
    /// The first week of the condition as this evaluation sees it.
    pub first_seen_week: IsoWeek,
    /// What it rests on.
    pub evidence: Evidence,
    /// Title, explanation and actions in pt-BR and English.
    pub text: Texts,
}

impl Detection {
    /// The evaluation week.
    pub fn iso_week(&self) -> IsoWeek {
        IsoWeek {
            year: self.year,
            week: self.week,
        }
    }
}

/// The numbers and weeks a detection rests on, so every statement traces to its images.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evidence {
    /// The main index (`ndvi`, `ndmi`, `bsi`; `none` for missing data).
    pub index: &'static str,
    /// The weeks looked at, oldest first.
    pub weeks: Vec<EvidenceWeek>,
    /// Where the expected values come from, when the rule compares with them.
    pub baseline: Option<BaselineInfo>,
    /// Weather totals over the rule's window, when it reads weather.
    pub weather: Option<WeatherTotals>,
    /// The rule's own figures (drops, thresholds, noise, counts), by name.
    pub figures: BTreeMap<&'static str, f64>,
    /// Every scene behind the weeks above, oldest first, without repeats.
    pub scene_ids: Vec<String>,
    /// Expected date of the next Sentinel-2 pass, `YYYY-MM-DD` (NO_RECENT_DATA).
    pub next_pass: Option<String>,
}

/// One week in the evidence.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct EvidenceWeek {
    /// ISO year.
    pub year: i32,
    /// ISO week.
    pub week: u8,
    /// What processing found.
    pub status: WeekStatus,
    /// Acquisition date of the newest scene, `YYYY-MM-DD`.
    pub image_date: Option<String>,
    /// Cloud fraction over the field.
    pub cloud_fraction: Option<f64>,
    /// NDVI mean.
    pub ndvi: Option<f64>,
    /// NDVI 10th percentile.
    pub ndvi_p10: Option<f64>,
    /// NDMI mean.
    pub ndmi: Option<f64>,
    /// BSI mean.
    pub bsi: Option<f64>,
    /// Expected value of the main index this week.
    pub expected: Option<f64>,
    /// Lowest normal value of the main index this week.
    pub band_low: Option<f64>,
    /// The week's scenes.
    pub scene_ids: Vec<String>,
}

/// Where expected values come from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct BaselineInfo {
    /// The field's own earlier seasons, or a curve.
    pub source: BaselineSource,
    /// Earlier seasons used (0 for curves).
    pub seasons: usize,
    /// The curve's name, for curves.
    pub curve: Option<&'static str>,
}

/// Weather totals over a window of weeks.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WeatherTotals {
    /// First week.
    pub from: IsoWeek,
    /// Last week.
    pub to: IsoWeek,
    /// Weeks with weather in the window.
    pub weeks: usize,
    /// Precipitation, mm.
    pub precip_mm: f64,
    /// Reference evapotranspiration, mm.
    pub et0_mm: f64,
    /// Precipitation − ET0, mm.
    pub balance_mm: f64,
    /// Weeks whose balance was negative.
    pub deficit_weeks: usize,
}

/// The result of one evaluation: what was found, and which rules could look (a rule that had
/// no clear image or no weather cannot say a field recovered).
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// The evaluation week.
    pub week: IsoWeek,
    /// What was found, at most one per type.
    pub detections: Vec<Detection>,
    /// The types whose rule had the data to decide; an open signal of such a type that is not
    /// detected again has recovered.
    pub assessed: Vec<SignalType>,
}

/// Runs every rule for `series` at week `at`, seeing only weeks up to `at`.
pub fn evaluate(series: &FieldSeries, at: IsoWeek) -> Evaluation {
    let ctx = Context::new(series, at);
    let mut found = Found::default();
    data::no_recent_data(&ctx, &mut found);
    harvest::harvest(&ctx, &mut found);
    vigor::low_vigor(&ctx, &mut found);
    vigor::persistent_anomaly(&ctx, &mut found);
    decline::rapid_decline(&ctx, &mut found);
    water::water_stress(&ctx, &mut found);
    pasture::degradation(&ctx, &mut found);
    Evaluation {
        week: at,
        detections: found.detections,
        assessed: found.assessed,
    }
}

/// What the rules report into.
#[derive(Default)]
struct Found {
    detections: Vec<Detection>,
    assessed: Vec<SignalType>,
}

impl Found {
    fn assessed(&mut self, signal_type: SignalType) {
        if !self.assessed.contains(&signal_type) {
            self.assessed.push(signal_type);
        }
    }

    fn detect(&mut self, detection: Detection) {
        self.assessed(detection.signal_type);
        self.detections.push(detection);
    }
}

/// How sure a rule is: `strength` (0..1, how far past its threshold), times a data factor
/// (1 − 0.8 × the mean cloud fraction of the evidence weeks), a baseline factor (own history
/// of 2+ seasons 1.0, one season 0.85, a curve 0.7, no baseline 0.9) and 0.85 when the field's
/// noise could not be measured (fewer than 8 residuals). Clamped to 0.05..0.99, 2 decimals.
fn confidence(
    strength: f64,
    clouds: &[f64],
    baseline: Option<&BaselineInfo>,
    noise_samples: usize,
) -> f64 {
    let base = 0.55 + 0.4 * strength.clamp(0.0, 1.0);
    let cloud = if clouds.is_empty() {
        0.0
    } else {
        clouds.iter().sum::<f64>() / clouds.len() as f64
    };
    let history = match baseline {
        Some(b) if b.source == BaselineSource::OwnHistory => {
            if b.seasons >= 2 {
                1.0
            } else {
                0.85
            }
        }
        Some(_) => 0.7,
        None => 0.9,
    };
    let noise = if noise_samples >= 8 { 1.0 } else { 0.85 };
    let c = base * (1.0 - 0.8 * cloud.clamp(0.0, 1.0)) * history * noise;
    (c.clamp(0.05, 0.99) * 100.0).round() / 100.0
}

/// Evidence rows for `weeks`, with each one's expected value and band low if given.
fn evidence_weeks(weeks: &[(&FieldWeek, Option<(f64, f64)>)]) -> (Vec<EvidenceWeek>, Vec<String>) {
    let mut scenes: Vec<String> = Vec::new();
    let rows = weeks
        .iter()
        .map(|(w, band)| {
            for s in &w.scene_ids {
                if !scenes.contains(s) {
                    scenes.push(s.clone());
                }
            }
            EvidenceWeek {
                year: w.week.year,
                week: w.week.week,
                status: w.status,
                image_date: w.image_date.map(|d| d.to_string()),
                cloud_fraction: w.cloud_fraction.map(stats::round3),
                ndvi: w.ndvi.map(|s| stats::round3(s.mean)),
                ndvi_p10: w.ndvi.and_then(|s| s.p10).map(stats::round3),
                ndmi: w.ndmi.map(|s| stats::round3(s.mean)),
                bsi: w.bsi.map(|s| stats::round3(s.mean)),
                expected: band.map(|b| stats::round3(b.0)),
                band_low: band.map(|b| stats::round3(b.1)),
                scene_ids: w.scene_ids.clone(),
            }
        })
        .collect();
    (rows, scenes)
}

/// Weather totals over `from..=to`, or `None` when fewer than 60 % of the weeks have weather.
fn weather_totals(ctx: &Context, from: IsoWeek, to: IsoWeek) -> Option<WeatherTotals> {
    let span = stats::weeks_between(from, to) + 1;
    let weeks: Vec<(f64, f64)> = ctx
        .weather_between(from, to)
        .iter()
        .filter_map(|w| Some((w.precip_mm?, w.et0_mm?)))
        .filter(|(p, e)| p.is_finite() && e.is_finite())
        .collect();
    if span <= 0 || (weeks.len() as f64) < 0.6 * span as f64 {
        return None;
    }
    let precip: f64 = weeks.iter().map(|w| w.0).sum();
    let et0: f64 = weeks.iter().map(|w| w.1).sum();
    Some(WeatherTotals {
        from,
        to,
        weeks: weeks.len(),
        precip_mm: stats::round1(precip),
        et0_mm: stats::round1(et0),
        balance_mm: stats::round1(precip - et0),
        deficit_weeks: weeks.iter().filter(|(p, e)| p - e < 0.0).count(),
    })
}
