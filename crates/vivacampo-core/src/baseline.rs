//! The baseline an index value is compared against, and the anomaly.
//!
//! Baseline of a week: the mean of the same ISO week in previous years when there is one (the
//! season's normal), else the mean of the previous 4 OK weeks (the recent trend).

use crate::weeks::IsoWeek;

/// How many recent weeks the fallback baseline averages.
pub const RECENT_WEEKS: usize = 4;

/// The baseline of `week` from the index means of other OK weeks of the same field.
pub fn baseline(week: IsoWeek, history: &[(IsoWeek, f64)]) -> Option<f64> {
    let same_week: Vec<f64> = history
        .iter()
        .filter(|(w, v)| w.week == week.week && w.year < week.year && v.is_finite())
        .map(|(_, v)| *v)
        .collect();
    if !same_week.is_empty() {
        return Some(same_week.iter().sum::<f64>() / same_week.len() as f64);
    }
    let mut earlier: Vec<&(IsoWeek, f64)> = history
        .iter()
        .filter(|(w, v)| *w < week && v.is_finite())
        .collect();
    earlier.sort_by_key(|(w, _)| std::cmp::Reverse(*w));
    let recent: Vec<f64> = earlier.iter().take(RECENT_WEEKS).map(|(_, v)| *v).collect();
    (!recent.is_empty()).then(|| recent.iter().sum::<f64>() / recent.len() as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(year: i32, week: u8) -> IsoWeek {
        IsoWeek::new(year, week).unwrap()
    }

    #[test]
    fn same_week_of_previous_years_wins() {
        let history = [
            (w(2024, 10), 0.6),
            (w(2025, 10), 0.8),
            (w(2026, 9), 0.1),
            (w(2026, 11), 0.9),
        ];
        assert_eq!(baseline(w(2026, 10), &history), Some(0.7));
    }

    #[test]
    fn falls_back_to_the_previous_four_weeks() {
        let history = [
            (w(2026, 5), 0.9),
            (w(2026, 6), 0.1),
            (w(2026, 7), 0.2),
            (w(2026, 8), 0.3),
            (w(2026, 9), 0.4),
            (w(2026, 11), 5.0),
        ];
        let b = baseline(w(2026, 10), &history).unwrap();
        assert!((b - 0.25).abs() < 1e-12);
        assert_eq!(baseline(w(2026, 10), &[]), None);
        assert_eq!(
            baseline(w(2026, 10), &[(w(2026, 11), 0.5)]),
            None,
            "later weeks never count"
        );
    }
}
