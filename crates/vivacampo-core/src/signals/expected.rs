//! Expected NDVI curves, used where a field has no earlier seasons of its own.
//!
//! A crop's curve is a double logistic of days after sowing (green-up, plateau, senescence), the
//! shape the demo imagery and the scenario generator also use, with each crop's calendar:
//!
//! | curve | peak | green-up midpoint | senescence midpoint | NDVI after senescence |
//! | --- | --- | --- | --- | --- |
//! | soybean | 0.85 | 30 d | 100 d | 0.50 |
//! | maize | 0.82 | 34 d | 118 d | 0.45 |
//! | generic crop | 0.75 | 32 d | 92 d | 0.50 |
//!
//! Sowing dates are not known, so the curve is aligned on the field's own green-up: the first
//! clear week whose NDVI reaches [`ANCHOR_NDVI`] after bare soil (the *anchor*). A late anchor
//! (clouds) only makes the curve expect less, never more. Pastures follow the rains instead: a
//! yearly cosine peaking mid-February (Brazil's Centre-South and Cerrado wet season).

use time::Date;

use super::series::CropKind;

/// NDVI of bare soil or straw.
pub const BASE_NDVI: f64 = 0.2;
/// NDVI a crop's green-up must reach to start a season (the anchor).
pub const ANCHOR_NDVI: f64 = 0.45;
/// NDVI at or below which a field counts as bare (between seasons).
pub const BARE_NDVI: f64 = 0.38;

/// One crop's expected NDVI curve.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CropCurve {
    /// The curve's name in evidence: `soybean`, `maize` or `generic_crop`.
    pub name: &'static str,
    /// Plateau NDVI.
    pub peak: f64,
    /// Days after sowing at which green-up is half done.
    pub green_up_days: f64,
    /// Days after sowing at which senescence is half done.
    pub senescence_days: f64,
    /// NDVI once senescence is over (before harvest).
    pub senescent_ndvi: f64,
}

/// Soybean (Glycine max), ~115-day cycle.
pub const SOYBEAN: CropCurve = CropCurve {
    name: "soybean",
    peak: 0.85,
    green_up_days: 30.0,
    senescence_days: 100.0,
    senescent_ndvi: 0.5,
};

/// Maize (summer or second crop), ~135-day cycle.
pub const MAIZE: CropCurve = CropCurve {
    name: "maize",
    peak: 0.82,
    green_up_days: 34.0,
    senescence_days: 118.0,
    senescent_ndvi: 0.45,
};

/// Any other or undeclared annual crop: a lower, shorter curve.
pub const GENERIC_CROP: CropCurve = CropCurve {
    name: "generic_crop",
    peak: 0.75,
    green_up_days: 32.0,
    senescence_days: 92.0,
    senescent_ndvi: 0.5,
};

impl CropCurve {
    /// The curve of a crop kind (the generic one when unknown).
    pub fn of(kind: Option<CropKind>) -> &'static CropCurve {
        match kind {
            Some(CropKind::Soybean) => &SOYBEAN,
            Some(CropKind::Maize) => &MAIZE,
            None => &GENERIC_CROP,
        }
    }

    fn at_day(&self, day: f64) -> f64 {
        let s = |t: f64| 1.0 / (1.0 + (-t).exp());
        BASE_NDVI + (self.peak - BASE_NDVI) * s((day - self.green_up_days) / 6.0)
            - (self.peak - self.senescent_ndvi) * s((day - self.senescence_days) / 7.0)
    }

    /// Days after sowing at which the curve reaches [`ANCHOR_NDVI`].
    fn anchor_day(&self) -> f64 {
        let g = (ANCHOR_NDVI - BASE_NDVI) / (self.peak - BASE_NDVI);
        self.green_up_days + 6.0 * (g / (1.0 - g)).ln()
    }

    /// Expected NDVI `weeks` after the anchor.
    pub fn ndvi_after_anchor(&self, weeks: f64) -> f64 {
        self.at_day(self.anchor_day() + 7.0 * weeks)
    }

    /// Weeks after the anchor during which the curve is trusted for vigor (green-up and
    /// plateau, ending two weeks before senescence is half done).
    pub fn plateau_end_weeks(&self) -> f64 {
        (self.senescence_days - self.anchor_day()) / 7.0 - 2.0
    }

    /// Weeks after the anchor from which the crop may be maturing or harvested: declines are
    /// expected, so only harvest is looked for.
    pub fn maturity_weeks(&self) -> f64 {
        (self.senescence_days - self.anchor_day()) / 7.0 - 1.5
    }
}

/// Expected NDVI of a Cerrado pasture on `date`: 0.5 + 0.17 cos(2π (day of year − 45) / 365),
/// 0.67 in mid-February, 0.33 in mid-August.
pub fn pasture_ndvi(date: Date) -> f64 {
    let doy = f64::from(date.ordinal());
    0.5 + 0.17 * ((doy - 45.0) / 365.0 * std::f64::consts::TAU).cos()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn curves_start_at_the_anchor_and_reach_their_peak() {
        for curve in [&SOYBEAN, &MAIZE, &GENERIC_CROP] {
            assert!(
                (curve.ndvi_after_anchor(0.0) - ANCHOR_NDVI).abs() < 0.01,
                "{}",
                curve.name
            );
            let plateau = curve.ndvi_after_anchor(5.0);
            assert!(
                (plateau - curve.peak).abs() < 0.01,
                "{}: {plateau}",
                curve.name
            );
            assert!(curve.ndvi_after_anchor(curve.maturity_weeks() + 4.0) < curve.peak - 0.2);
        }
        // Soybean: anchor 30 + 6 ln(0.625) = 27.18 days after sowing; maturity from
        // (100 - 27.18) / 7 - 1.5 = 8.90 weeks after it.
        assert!((SOYBEAN.anchor_day() - 27.18).abs() < 0.01);
        assert!((SOYBEAN.maturity_weeks() - 8.90).abs() < 0.01);
        assert_eq!(CropCurve::of(Some(CropKind::Maize)).name, "maize");
        assert_eq!(CropCurve::of(None).name, "generic_crop");
    }

    #[test]
    fn pasture_is_greenest_in_february() {
        assert!((pasture_ndvi(date!(2026 - 02 - 14)) - 0.67).abs() < 1e-9);
        assert!((pasture_ndvi(date!(2026 - 08 - 15)) - 0.33).abs() < 0.001);
    }
}
