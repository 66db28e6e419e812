//! What the rules read: one field's weekly series, its use, and its weather.

use time::Date;

use crate::weeks::IsoWeek;
use crate::wire_enum;

wire_enum!(
    /// What processing found in a field-week (as stored for the week).
    WeekStatus {
        /// Enough clear pixels: statistics are meaningful.
        Ok => "OK",
        /// Scenes exist but too few pixels over the field are clear.
        Cloudy => "CLOUDY",
        /// No scene covers the field this week.
        NoData => "NO_DATA",
    }
);

wire_enum!(
    /// The crop a field grows, when the farmer said. Unknown crops use the generic crop curve.
    CropKind {
        /// Soybean.
        Soybean => "SOYBEAN",
        /// Maize (summer or second crop).
        Maize => "MAIZE",
    }
);

/// What the field is used for, which chooses the expected curves and which rules apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldUse {
    /// An annual crop (sown, grown, harvested), with its kind when known.
    Crop(Option<CropKind>),
    /// A pasture: green with the rains, never harvested.
    Pasture,
}

/// Statistics of one index over a field-week's clear pixels.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct IndexStat {
    /// Mean over the clear pixels.
    pub mean: f64,
    /// 10th percentile (the worst tenth of the field starts below it), when known.
    pub p10: Option<f64>,
    /// 90th percentile, when known.
    pub p90: Option<f64>,
}

impl IndexStat {
    /// A statistic with only the mean.
    pub fn mean(mean: f64) -> IndexStat {
        IndexStat {
            mean,
            p10: None,
            p90: None,
        }
    }
}

/// Sentinel-1 radar of a field-week (the field's one orbit direction), when a scene covered it:
/// radar sees through clouds, so a CLOUDY week can still have it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RadarStat {
    /// Radar Vegetation Index mean, 4·VH/(VV+VH).
    pub rvi: f64,
    /// VH backscatter, dB (of the field's mean linear power).
    pub vh_db: f64,
}

/// One processed week of a field. Index statistics are only meaningful when `status` is OK.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldWeek {
    /// The ISO week of the images (image time, never processing time).
    pub week: IsoWeek,
    /// What processing found.
    pub status: WeekStatus,
    /// Acquisition date of the newest scene used (also for CLOUDY weeks: a scene existed).
    pub image_date: Option<Date>,
    /// Share of the field under cloud, shadow or cirrus in the scenes used (0..1).
    pub cloud_fraction: Option<f64>,
    /// Share of the field's pixels that were clear and valid (0..1).
    pub valid_pixel_ratio: Option<f64>,
    /// NDVI (vigor).
    pub ndvi: Option<IndexStat>,
    /// NDMI (canopy water).
    pub ndmi: Option<IndexStat>,
    /// BSI (bare soil).
    pub bsi: Option<IndexStat>,
    /// The scenes the week's statistics come from, so evidence traces to the images.
    pub scene_ids: Vec<String>,
    /// The week's radar (`None`: no radar scene, or radar off).
    pub radar: Option<RadarStat>,
}

impl FieldWeek {
    /// A week whose NDVI can be trusted: status OK with an NDVI mean.
    pub fn is_clear(&self) -> bool {
        self.status == WeekStatus::Ok && self.ndvi.is_some_and(|s| s.mean.is_finite())
    }

    /// A week with radar values to read.
    pub fn has_radar(&self) -> bool {
        self.radar
            .is_some_and(|r| r.rvi.is_finite() && r.vh_db.is_finite())
    }
}

/// One ISO week of weather over the field (totals of the daily values).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WeatherWeek {
    /// The week.
    pub week: IsoWeek,
    /// Precipitation, mm.
    pub precip_mm: Option<f64>,
    /// Reference evapotranspiration (FAO-56 ET0), mm.
    pub et0_mm: Option<f64>,
}

impl WeatherWeek {
    /// The week's water balance, precipitation − ET0 in mm; negative is a deficit.
    pub fn balance_mm(&self) -> Option<f64> {
        Some(self.precip_mm? - self.et0_mm?).filter(|b| b.is_finite())
    }
}

/// Everything the rules know about one field: its use, every processed week (earlier seasons
/// included: they are the field's own baseline) and the weekly weather (may be empty).
///
/// Weeks may come in any order; a week given twice counts once (the last one).
#[derive(Debug, Clone, PartialEq)]
pub struct FieldSeries {
    /// Crop (with kind) or pasture.
    pub field_use: FieldUse,
    /// The processed weeks.
    pub weeks: Vec<FieldWeek>,
    /// Weekly weather; weeks without it are simply absent.
    pub weather: Vec<WeatherWeek>,
}
