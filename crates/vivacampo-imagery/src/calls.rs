//! Calls to outside services, counted by service and outcome for `/metrics`: the imagery
//! catalog (STAC searches), imagery files (COG header and tile reads), the raster store and the
//! weather service (Open-Meteo).
//! One set of counters per process, like a default metrics registry, because every part of a
//! process that reaches these services should add to the same figures.

use std::sync::atomic::{AtomicU64, Ordering};

/// An outside service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Service {
    /// STAC API searches (a static catalog's directory reads are not calls).
    Catalog,
    /// Reads of imagery COGs: headers and tiles, over HTTP, S3 or files.
    Imagery,
    /// Writes, reads and deletes in the raster store.
    RasterStore,
    /// Open-Meteo archive and forecast requests, each HTTP request (retries too).
    OpenMeteo,
    /// Sentinel Hub token, Catalog and Process requests, each HTTP request (retries too).
    SentinelHub,
}

const SERVICES: [Service; 5] = [
    Service::Catalog,
    Service::Imagery,
    Service::RasterStore,
    Service::OpenMeteo,
    Service::SentinelHub,
];

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Imagery => "imagery",
            Service::RasterStore => "raster_store",
            Service::OpenMeteo => "open_meteo",
            Service::SentinelHub => "sentinel_hub",
        }
    }
}

/// `[service][0 = ok, 1 = error, 2 = timeout]`.
static COUNTS: [[AtomicU64; 3]; 5] = [
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
];

/// Counts one call and hands its result back.
pub fn record<T, E>(service: Service, result: Result<T, E>) -> Result<T, E> {
    let outcome = usize::from(result.is_err());
    COUNTS[service as usize][outcome].fetch_add(1, Ordering::Relaxed);
    result
}

/// Counts one call that got no answer in time.
pub fn record_timeout(service: Service) {
    COUNTS[service as usize][2].fetch_add(1, Ordering::Relaxed);
}

/// `(service, outcome, calls)` for every service and outcome, `outcome` being `ok`, `error` or
/// `timeout`.
pub fn snapshot() -> Vec<(&'static str, &'static str, u64)> {
    SERVICES
        .iter()
        .flat_map(|&s| {
            [("ok", 0), ("error", 1), ("timeout", 2)].map(|(outcome, i)| {
                (
                    s.name(),
                    outcome,
                    COUNTS[s as usize][i].load(Ordering::Relaxed),
                )
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn calls(service: &str, outcome: &str) -> u64 {
        snapshot()
            .into_iter()
            .find(|(s, o, _)| *s == service && *o == outcome)
            .map(|(_, _, n)| n)
            .unwrap()
    }

    #[test]
    fn outcomes_are_counted_per_service() {
        let (ok, err) = (calls("catalog", "ok"), calls("catalog", "error"));
        assert_eq!(record::<_, ()>(Service::Catalog, Ok(5)), Ok(5));
        assert_eq!(record::<(), _>(Service::Catalog, Err("down")), Err("down"));
        assert!(calls("catalog", "ok") > ok);
        assert!(calls("catalog", "error") > err);
        let timeouts = calls("catalog", "timeout");
        record_timeout(Service::Catalog);
        assert_eq!(calls("catalog", "timeout"), timeouts + 1);
        assert_eq!(snapshot().len(), 15);
    }
}
