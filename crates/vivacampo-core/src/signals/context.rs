//! One evaluation's view of a field: its weeks up to the evaluation week, the clear ones, the
//! noise, the crop season and the expected band of any week.

use std::collections::BTreeMap;

use time::Duration;

use super::expected::{self, ANCHOR_NDVI, BARE_NDVI, CropCurve};
use super::series::{FieldSeries, FieldUse, FieldWeek, WeatherWeek};
use super::stats::{self, median, weeks_between};
use super::{BaselineSource, Index};
use crate::weeks::IsoWeek;

/// Noise assumed when a field has too few clear weeks to measure its own (NDVI units).
pub const DEFAULT_NOISE: f64 = 0.03;
/// Smallest noise a field is credited with: sensors and masks are never perfect.
pub const MIN_NOISE: f64 = 0.012;
/// Largest: a noisier field is not made quieter than this.
pub const MAX_NOISE: f64 = 0.08;
/// How far back (weeks) the noise is measured.
pub const NOISE_WEEKS: i64 = 104;
/// Earlier seasons searched for the same weeks (years back).
pub const HISTORY_SEASONS: i64 = 5;
/// Half-width (weeks) of the window around the same week of an earlier season: sowing moves from
/// year to year, so the band spans ±2 weeks of each earlier season.
pub const HISTORY_HALF_WINDOW: i64 = 2;

/// A clear week's values.
#[derive(Debug, Clone, Copy)]
pub struct Clear<'a> {
    pub week: IsoWeek,
    pub ndvi: f64,
    pub ndvi_p10: Option<f64>,
    pub ndmi: Option<f64>,
    pub bsi: Option<f64>,
    pub cloud: f64,
    pub source: &'a FieldWeek,
}

impl Clear<'_> {
    pub fn value(&self, index: Index) -> Option<f64> {
        match index {
            Index::Ndvi => Some(self.ndvi),
            Index::Ndmi => self.ndmi,
        }
    }
}

/// What a week should show, and the band below which it is anomalous.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Band {
    /// Expected value (median of earlier seasons, or the curve).
    pub expected: f64,
    /// Lowest value still normal.
    pub low: f64,
    /// Where the expectation comes from.
    pub source: BaselineSource,
    /// Earlier seasons behind it (0 for a curve).
    pub seasons: usize,
    /// The curve's name, for curves.
    pub curve: Option<&'static str>,
}

/// Where a crop field is in its season at the evaluation week.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Season {
    /// Bare between seasons (or never seen green).
    Fallow,
    /// Growing since the anchor week (`None`: already green when the series starts).
    Growing {
        anchor: Option<IsoWeek>,
        /// The last bare clear week before the anchor: green-up began after it. With clouds
        /// over the green-up, the anchor is late and this bounds how long the crop has grown.
        bare: Option<IsoWeek>,
        peak: f64,
        peak_week: IsoWeek,
    },
    /// Harvested: the first clear week after the drop, with the values around it.
    Harvested(Harvest),
}

/// A harvest found in the series.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Harvest {
    pub week: IsoWeek,
    pub anchor: Option<IsoWeek>,
    pub peak: f64,
    pub peak_week: IsoWeek,
    /// Last clear week before the drop, and its NDVI.
    pub before: (IsoWeek, f64),
    pub after: f64,
    /// Abrupt (one drop) or gradual (two bare weeks after maturity).
    pub abrupt: bool,
}

/// Drop (NDVI) from the last clear week at or above which a harvest is abrupt.
pub const HARVEST_MIN_DROP: f64 = 0.12;
/// NDVI at or below which a crop after its peak counts as harvested.
pub const HARVEST_MAX_NDVI: f64 = 0.42;
/// Largest gap (weeks) between the clear weeks before and after a harvest's drop.
pub const HARVEST_MAX_GAP: i64 = 8;
/// Lowest season peak for a harvest to be recognised.
pub const HARVEST_MIN_PEAK: f64 = 0.55;
/// Weeks a bare field may wait after bare soil for a green-up to count as a new season.
pub const ANCHOR_AFTER_BARE_WEEKS: i64 = 10;

pub struct Context<'a> {
    pub at: IsoWeek,
    pub field_use: FieldUse,
    /// Weeks up to `at`, oldest first, one per ISO week.
    pub weeks: Vec<&'a FieldWeek>,
    /// The clear ones.
    pub clear: Vec<Clear<'a>>,
    pub weather: BTreeMap<IsoWeek, &'a WeatherWeek>,
    /// Robust NDVI and NDMI noise, and how many residuals the NDVI one rests on.
    pub noise_ndvi: f64,
    pub noise_ndmi: f64,
    pub noise_samples: usize,
    /// Crop season state at `at` (crops only; pastures are always `Fallow` here and unused).
    pub season: Season,
}

impl<'a> Context<'a> {
    pub fn new(series: &'a FieldSeries, at: IsoWeek) -> Context<'a> {
        let mut by_week: BTreeMap<IsoWeek, &FieldWeek> = BTreeMap::new();
        for w in series.weeks.iter().filter(|w| w.week <= at) {
            by_week.insert(w.week, w);
        }
        let weeks: Vec<&FieldWeek> = by_week.into_values().collect();
        let clear: Vec<Clear> = weeks
            .iter()
            .filter(|w| w.is_clear())
            .map(|w| Clear {
                week: w.week,
                ndvi: w.ndvi.map(|s| s.mean).unwrap_or(f64::NAN),
                ndvi_p10: w.ndvi.and_then(|s| s.p10),
                ndmi: w.ndmi.map(|s| s.mean).filter(|v| v.is_finite()),
                bsi: w.bsi.map(|s| s.mean).filter(|v| v.is_finite()),
                cloud: w.cloud_fraction.unwrap_or(0.0).clamp(0.0, 1.0),
                source: w,
            })
            .collect();
        let weather = series
            .weather
            .iter()
            .filter(|w| w.week <= at)
            .map(|w| (w.week, w))
            .collect();
        let recent = |index: Index| -> Vec<f64> {
            clear
                .iter()
                .filter(|c| weeks_between(c.week, at) < NOISE_WEEKS)
                .filter_map(|c| c.value(index))
                .collect()
        };
        let (noise_ndvi, noise_samples) = stats::noise(&recent(Index::Ndvi))
            .filter(|(_, n)| *n >= 8)
            .map_or((DEFAULT_NOISE, 0), |(s, n)| {
                (s.clamp(MIN_NOISE, MAX_NOISE), n)
            });
        let noise_ndmi = stats::noise(&recent(Index::Ndmi))
            .filter(|(_, n)| *n >= 8)
            .map_or(DEFAULT_NOISE, |(s, _)| s.clamp(MIN_NOISE, MAX_NOISE));
        let season = match series.field_use {
            FieldUse::Crop(kind) => crop_season(&clear, CropCurve::of(kind)),
            FieldUse::Pasture => Season::Fallow,
        };
        Context {
            at,
            field_use: series.field_use,
            weeks,
            clear,
            weather,
            noise_ndvi,
            noise_ndmi,
            noise_samples,
            season,
        }
    }

    /// The evaluation week's clear values, if it is clear.
    pub fn current(&self) -> Option<&Clear<'a>> {
        self.clear.last().filter(|c| c.week == self.at)
    }

    /// Weeks since the anchor of the growing season at `week` (crops).
    pub fn weeks_since_anchor(&self, week: IsoWeek) -> Option<f64> {
        match self.season {
            Season::Growing {
                anchor: Some(a), ..
            } => Some(weeks_between(a, week) as f64),
            _ => None,
        }
    }

    /// A growing crop's age at the evaluation week, in weeks: since the anchor, and since the
    /// last bare week before it (the earliest possible green-up; clouds over the green-up make
    /// the anchor late).
    pub fn crop_age(&self) -> Option<(f64, f64)> {
        match self.season {
            Season::Growing {
                anchor: Some(a),
                bare,
                ..
            } => {
                let k = weeks_between(a, self.at) as f64;
                Some((k, longest_growth(Some(a), bare, self.at).unwrap_or(k)))
            }
            _ => None,
        }
    }

    /// The weeks after the anchor from which a crop may be maturing: its curve's, or soybean's
    /// for an undeclared crop (later than the generic curve's, as undeclared fields are mostly
    /// soybean and maize).
    fn maturity_weeks(&self) -> Option<f64> {
        match self.field_use {
            FieldUse::Crop(Some(kind)) => Some(CropCurve::of(Some(kind)).maturity_weeks()),
            FieldUse::Crop(None) => Some(expected::SOYBEAN.maturity_weeks()),
            FieldUse::Pasture => None,
        }
    }

    /// Whether a growing crop has reached the weeks where declines are expected (maturity),
    /// its age taken halfway between the weeks since the anchor and since the last bare week.
    pub fn maturing(&self) -> bool {
        match (self.maturity_weeks(), self.crop_age()) {
            (Some(m), Some((k, longest))) => (k + longest) / 2.0 >= m,
            _ => false,
        }
    }

    /// Whether a growing crop is maturing counting from the anchor only (the latest estimate).
    pub fn maturing_by_anchor(&self) -> bool {
        match (self.maturity_weeks(), self.crop_age()) {
            (Some(m), Some((k, _))) => k >= m,
            _ => false,
        }
    }

    /// The field's own band for `week` from earlier seasons: for each season 1..5 years back
    /// with at least 2 clear values within ±2 weeks of the same week, that season's median,
    /// minimum. Expected = median of the seasons' medians; low = median of the seasons' minima.
    pub fn history_band(&self, index: Index, week: IsoWeek) -> Option<Band> {
        let mut medians = Vec::new();
        let mut lows = Vec::new();
        for years in 1..=HISTORY_SEASONS {
            let same = IsoWeek::containing(week.start() - Duration::days(364 * years));
            let values: Vec<f64> = self
                .clear
                .iter()
                .filter(|c| weeks_between(c.week, same).abs() <= HISTORY_HALF_WINDOW)
                .filter_map(|c| c.value(index))
                .collect();
            if values.len() >= 2 {
                medians.push(median(&values).expect("values"));
                lows.push(values.iter().copied().fold(f64::INFINITY, f64::min));
            }
        }
        Some(Band {
            expected: median(&medians)?,
            low: median(&lows).expect("one season at least"),
            source: BaselineSource::OwnHistory,
            seasons: medians.len(),
            curve: None,
        })
    }

    /// The expected NDVI band of `week`: the field's own history when it has some, else the
    /// crop's curve aligned on this season's anchor (green-up and plateau only), else the
    /// pasture curve. `tolerance` is how far below the curve is still normal.
    pub fn ndvi_band(&self, week: IsoWeek, tolerance: f64) -> Option<Band> {
        if let Some(band) = self.history_band(Index::Ndvi, week) {
            return Some(band);
        }
        match self.field_use {
            FieldUse::Crop(kind) => {
                let curve = CropCurve::of(kind);
                let k = self.weeks_since_anchor(week)?;
                if !(0.0..=curve.plateau_end_weeks()).contains(&k) {
                    return None;
                }
                let expected = curve.ndvi_after_anchor(k);
                let extra = if kind.is_none() { 0.05 } else { 0.0 };
                Some(Band {
                    expected,
                    low: expected - tolerance - extra,
                    source: BaselineSource::CropCurve,
                    seasons: 0,
                    curve: Some(curve.name),
                })
            }
            FieldUse::Pasture => {
                let expected = expected::pasture_ndvi(week.start() + Duration::days(3));
                Some(Band {
                    expected,
                    low: expected - tolerance,
                    source: BaselineSource::PastureCurve,
                    seasons: 0,
                    curve: Some("pasture"),
                })
            }
        }
    }

    /// The weather of the weeks `from..=to` (those that have it).
    pub fn weather_between(&self, from: IsoWeek, to: IsoWeek) -> Vec<&'a WeatherWeek> {
        self.weather.range(from..=to).map(|(_, w)| *w).collect()
    }
}

/// Weeks a crop may have grown by `week`: since the week after the last bare week before the
/// anchor (the anchor itself when there was no gap).
fn longest_growth(anchor: Option<IsoWeek>, bare: Option<IsoWeek>, week: IsoWeek) -> Option<f64> {
    match (anchor, bare) {
        (Some(_), Some(b)) => Some((weeks_between(b, week) - 1) as f64),
        (Some(a), None) => Some(weeks_between(a, week) as f64),
        _ => None,
    }
}

/// Walks a crop's clear weeks: bare → green-up (anchor) → peak → harvest → bare → …
fn crop_season(clear: &[Clear], curve: &CropCurve) -> Season {
    let mut season = Season::Fallow;
    let mut last_bare: Option<IsoWeek> = None;
    let mut seen_any = false;
    let mut prev: Option<(IsoWeek, f64)> = None;
    let mut low_after_maturity = 0;
    for c in clear {
        let v = c.ndvi;
        if v <= BARE_NDVI {
            last_bare = Some(c.week);
        }
        season = match season {
            Season::Fallow | Season::Harvested(_) => {
                let after_bare =
                    last_bare.is_some_and(|b| weeks_between(b, c.week) <= ANCHOR_AFTER_BARE_WEEKS);
                if v >= ANCHOR_NDVI && (after_bare || !seen_any) {
                    low_after_maturity = 0;
                    Season::Growing {
                        anchor: after_bare.then_some(c.week),
                        bare: last_bare.filter(|_| after_bare),
                        peak: v,
                        peak_week: c.week,
                    }
                } else {
                    season
                }
            }
            Season::Growing {
                anchor,
                bare,
                peak,
                peak_week,
            } => {
                let k = longest_growth(anchor, bare, c.week);
                let mature = k.is_none_or(|k| k >= curve.maturity_weeks());
                let drop = prev
                    .filter(|(w, _)| weeks_between(*w, c.week) <= HARVEST_MAX_GAP)
                    .map(|(_, p)| p - v);
                if mature && v <= BARE_NDVI {
                    low_after_maturity += 1;
                }
                let abrupt = drop.is_some_and(|d| d >= HARVEST_MIN_DROP);
                if mature && peak >= HARVEST_MIN_PEAK && v <= HARVEST_MAX_NDVI && abrupt
                    || low_after_maturity >= 2 && peak >= HARVEST_MIN_PEAK
                {
                    Season::Harvested(Harvest {
                        week: c.week,
                        anchor,
                        peak,
                        peak_week,
                        before: prev.unwrap_or((c.week, v)),
                        after: v,
                        abrupt,
                    })
                } else if low_after_maturity >= 2 {
                    Season::Fallow
                } else if v > peak {
                    Season::Growing {
                        anchor,
                        bare,
                        peak: v,
                        peak_week: c.week,
                    }
                } else {
                    season
                }
            }
        };
        seen_any = true;
        prev = Some((c.week, v));
    }
    season
}
