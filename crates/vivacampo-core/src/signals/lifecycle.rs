//! What an evaluation does to a field's signals: one open signal per field and type; a
//! recurrence updates it; a rule that looked and no longer finds its condition resolves it; a
//! harvest resolves the season's signals.
//!
//! "Open" means OPEN or ACK (an acknowledged signal still follows the field). RESOLVED and
//! DISMISSED signals are history: a new detection opens a new signal.

use super::{Detection, Evaluation, Severity, SignalStatus, SignalType};
use crate::weeks::IsoWeek;
use crate::wire_enum;

wire_enum!(
    /// Why the system resolved a signal by itself.
    Resolution {
        /// The rule looked again and the condition is gone.
        Recovered => "RECOVERED",
        /// The crop was harvested: the season's signals are over.
        Harvest => "HARVEST",
    }
);

/// A field's open signal, as the store holds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenSignal {
    /// Its type (one open signal per field and type).
    pub signal_type: SignalType,
    /// OPEN or ACK.
    pub status: SignalStatus,
    /// When its condition was first seen.
    pub first_seen_week: IsoWeek,
}

/// What to do with one signal.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Open a new signal.
    Open(Detection),
    /// Update the open signal of this type (severity, confidence, evidence, text, week); its
    /// `first_seen_week` keeps the earlier of the two.
    Update(Detection),
    /// Resolve the open signal of this type, by the system.
    Resolve {
        /// The type.
        signal_type: SignalType,
        /// Why.
        reason: Resolution,
    },
}

/// The open signal types a harvest in `detections` closes: the season's own signals
/// ([`SignalType::ends_with_season`]), unless detected again in the same evaluation.
pub fn closed_by_harvest(open: &[SignalType], detections: &[Detection]) -> Vec<SignalType> {
    if !detections
        .iter()
        .any(|d| d.signal_type == SignalType::HarvestDetected)
    {
        return Vec::new();
    }
    open.iter()
        .copied()
        .filter(|t| t.ends_with_season())
        .filter(|t| !detections.iter().any(|d| d.signal_type == *t))
        .collect()
}

/// The changes `evaluation` makes to a field whose open signals are `open`. Idempotent:
/// applying the changes and planning the same evaluation again gives only updates.
pub fn plan(open: &[OpenSignal], evaluation: &Evaluation) -> Vec<Change> {
    let mut changes = Vec::new();
    for detection in &evaluation.detections {
        match open.iter().find(|o| o.signal_type == detection.signal_type) {
            Some(o) => {
                let mut d = detection.clone();
                d.first_seen_week = d.first_seen_week.min(o.first_seen_week);
                changes.push(Change::Update(d));
            }
            None => changes.push(Change::Open(detection.clone())),
        }
    }
    let open_types: Vec<SignalType> = open.iter().map(|o| o.signal_type).collect();
    let harvested = closed_by_harvest(&open_types, &evaluation.detections);
    for o in open {
        if evaluation
            .detections
            .iter()
            .any(|d| d.signal_type == o.signal_type)
        {
            continue;
        }
        if harvested.contains(&o.signal_type) {
            changes.push(Change::Resolve {
                signal_type: o.signal_type,
                reason: Resolution::Harvest,
            });
        } else if evaluation.assessed.contains(&o.signal_type) {
            changes.push(Change::Resolve {
                signal_type: o.signal_type,
                reason: Resolution::Recovered,
            });
        }
    }
    changes
}

wire_enum!(
    /// A field's health badge, from its open signals.
    HealthStatus {
        /// No open alarm.
        Ok => "OK",
        /// Open alarms of low severity, or no recent image.
        Watch => "WATCH",
        /// An open alarm of medium or high severity.
        Alert => "ALERT",
    }
);

/// A field's health from the types and severities of its open signals: ALERT when a field
/// problem (any alarm but missing data) is MEDIUM or HIGH, WATCH for other alarms, else OK (a
/// harvest is information).
pub fn health(open: &[(SignalType, Severity)]) -> HealthStatus {
    open.iter()
        .filter(|(t, _)| t.is_alarm())
        .map(|&(t, s)| {
            if t != SignalType::NoRecentData && s >= Severity::Medium {
                HealthStatus::Alert
            } else {
                HealthStatus::Watch
            }
        })
        .max()
        .unwrap_or(HealthStatus::Ok)
}
