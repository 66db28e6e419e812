//! Calls to outside services, counted by service and outcome for `/metrics`: the imagery
//! catalog (STAC searches), imagery files (COG header and tile reads) and the raster store.
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
}

const SERVICES: [Service; 3] = [Service::Catalog, Service::Imagery, Service::RasterStore];

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::Catalog => "catalog",
            Service::Imagery => "imagery",
            Service::RasterStore => "raster_store",
        }
    }
}

/// `[service][0 = ok, 1 = error]`.
static COUNTS: [[AtomicU64; 2]; 3] = [
    [AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0)],
    [AtomicU64::new(0), AtomicU64::new(0)],
];

/// Counts one call and hands its result back.
pub fn record<T, E>(service: Service, result: Result<T, E>) -> Result<T, E> {
    let outcome = usize::from(result.is_err());
    COUNTS[service as usize][outcome].fetch_add(1, Ordering::Relaxed);
    result
}

/// `(service, outcome, calls)` for every service and outcome, `outcome` being `ok` or `error`.
pub fn snapshot() -> Vec<(&'static str, &'static str, u64)> {
    SERVICES
        .iter()
        .flat_map(|&s| {
            [("ok", 0), ("error", 1)].map(|(outcome, i)| {
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
        assert_eq!(snapshot().len(), 6);
    }
}
