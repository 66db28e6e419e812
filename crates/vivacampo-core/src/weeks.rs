//! ISO weeks: the unit in which field imagery is processed and charted.

use time::{Date, Duration, Weekday};

/// One ISO week (`year` is the ISO week-numbering year, which can differ from the calendar year
/// near New Year).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct IsoWeek {
    pub year: i32,
    pub week: u8,
}

impl IsoWeek {
    /// The week `date` falls in.
    pub fn containing(date: Date) -> IsoWeek {
        let (year, week, _) = date.to_iso_week_date();
        IsoWeek { year, week }
    }

    /// Builds a week, or `None` if `week` does not exist in `year` (week 53 exists only in some years).
    pub fn new(year: i32, week: u8) -> Option<IsoWeek> {
        Date::from_iso_week_date(year, week, Weekday::Monday)
            .ok()
            .map(|_| IsoWeek { year, week })
    }

    /// The Monday that starts the week.
    pub fn start(self) -> Date {
        Date::from_iso_week_date(self.year, self.week, Weekday::Monday)
            .expect("IsoWeek values are valid by construction")
    }

    /// The Sunday that ends the week.
    pub fn end(self) -> Date {
        self.start() + Duration::days(6)
    }

    /// The week before this one.
    pub fn previous(self) -> IsoWeek {
        IsoWeek::containing(self.start() - Duration::days(7))
    }

    /// `count` weeks ending with this one, newest first.
    pub fn back(self, count: usize) -> Vec<IsoWeek> {
        std::iter::successors(Some(self), |w| Some(w.previous()))
            .take(count)
            .collect()
    }

    /// The weeks that overlap the dates `from..=to`, newest first.
    pub fn spanning(from: Date, to: Date) -> Vec<IsoWeek> {
        let first = IsoWeek::containing(from);
        let mut weeks = Vec::new();
        let mut week = IsoWeek::containing(to);
        while week >= first {
            weeks.push(week);
            week = week.previous();
        }
        weeks
    }
}

impl std::fmt::Display for IsoWeek {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-W{:02}", self.year, self.week)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn iso_year_differs_from_calendar_year_at_new_year() {
        assert_eq!(
            IsoWeek::containing(date!(2021 - 01 - 03)),
            IsoWeek {
                year: 2020,
                week: 53
            }
        );
        assert_eq!(
            IsoWeek::containing(date!(2024 - 12 - 30)),
            IsoWeek {
                year: 2025,
                week: 1
            }
        );
        assert_eq!(
            IsoWeek::new(2020, 53).unwrap().start(),
            date!(2020 - 12 - 28)
        );
        assert!(IsoWeek::new(2021, 53).is_none());
    }

    #[test]
    fn walking_back_crosses_years() {
        let weeks = IsoWeek::new(2025, 2).unwrap().back(3);
        assert_eq!(
            weeks,
            vec![
                IsoWeek {
                    year: 2025,
                    week: 2
                },
                IsoWeek {
                    year: 2025,
                    week: 1
                },
                IsoWeek {
                    year: 2024,
                    week: 52
                }
            ]
        );
    }

    #[test]
    fn spanning_includes_partial_weeks() {
        let weeks = IsoWeek::spanning(date!(2026 - 03 - 04), date!(2026 - 03 - 16));
        assert_eq!(weeks.len(), 3);
        assert_eq!(
            weeks[0],
            IsoWeek {
                year: 2026,
                week: 12
            }
        );
        assert_eq!(
            weeks[2],
            IsoWeek {
                year: 2026,
                week: 10
            }
        );
    }
}
