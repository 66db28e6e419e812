//! Robust statistics: medians and median absolute deviations, so one hazy week cannot move a
//! threshold.

use crate::weeks::IsoWeek;

/// Scale of the MAD to the standard deviation of normally distributed noise.
pub const MAD_TO_SIGMA: f64 = 1.4826;

/// The median of `values` (NaN-free), or `None` when empty.
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    Some(if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    })
}

/// The median absolute deviation from the median.
pub fn mad(values: &[f64]) -> Option<f64> {
    let m = median(values)?;
    let deviations: Vec<f64> = values.iter().map(|v| (v - m).abs()).collect();
    median(&deviations)
}

/// The week-to-week noise of a series (standard-deviation units, robust): from each value's
/// departure from the mean of its two neighbours, `v[i] − (v[i−1] + v[i+1]) / 2`, which a
/// straight trend (green-up, a dry-down) does not change and whose variance is 1.5 σ² for
/// independent noise; σ = 1.4826 × MAD / √1.5, so a few outliers (haze) do not count. Returns
/// the estimate and how many departures it rests on; `None` with fewer than 5 values.
pub fn noise(values: &[f64]) -> Option<(f64, usize)> {
    if values.len() < 5 {
        return None;
    }
    let departures: Vec<f64> = values
        .windows(3)
        .map(|w| w[1] - (w[0] + w[2]) / 2.0)
        .collect();
    Some((
        MAD_TO_SIGMA * mad(&departures)? / 1.5_f64.sqrt(),
        departures.len(),
    ))
}

/// Whole weeks from `from` to `to` (negative when `to` is earlier).
pub fn weeks_between(from: IsoWeek, to: IsoWeek) -> i64 {
    (to.start() - from.start()).whole_weeks()
}

/// `value` rounded to 3 decimals, as evidence shows it.
pub fn round3(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// `value` rounded to 1 decimal (millimetres of water).
pub fn round1(value: f64) -> f64 {
    (value * 10.0).round() / 10.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_mad_of_known_values() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
        // |1-3|, |2-3|, |3-3|, |4-3|, |100-3| = 2, 1, 0, 1, 97 -> median 1.
        assert_eq!(mad(&[1.0, 2.0, 3.0, 4.0, 100.0]), Some(1.0));
    }

    #[test]
    fn noise_ignores_trends_and_one_outlier() {
        // A straight ramp has no noise; one hazy dip does not change that.
        let ramp: Vec<f64> = (0..12).map(|i| 0.2 + 0.05 * f64::from(i)).collect();
        let (sigma, n) = noise(&ramp).unwrap();
        assert_eq!(n, 10);
        assert!(sigma < 1e-12, "{sigma}");
        let mut hazy = ramp.clone();
        hazy[6] -= 0.15;
        let (sigma, _) = noise(&hazy).unwrap();
        assert!(sigma < 1e-12, "{sigma}");
        // 0.50, 0.52, 0.48 repeated: departures cycle +0.03, -0.03, 0, so the MAD is 0.03
        // and sigma 1.4826 * 0.03 / sqrt(1.5) = 0.036316.
        let wobble: Vec<f64> = (0..13).map(|i| [0.5, 0.52, 0.48][i % 3]).collect();
        let (sigma, n) = noise(&wobble).unwrap();
        assert_eq!(n, 11);
        assert!((sigma - 0.036316).abs() < 1e-6, "{sigma}");
        assert_eq!(noise(&[0.1, 0.2, 0.3, 0.4]), None);
    }

    #[test]
    fn weeks_between_crosses_years() {
        let a = IsoWeek::new(2025, 50).unwrap();
        let b = IsoWeek::new(2026, 3).unwrap();
        assert_eq!(weeks_between(a, b), 5);
        assert_eq!(weeks_between(b, a), -5);
    }
}
