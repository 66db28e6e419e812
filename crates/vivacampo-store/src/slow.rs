//! Slow statements timed by the product itself, for databases without `pg_stat_statements`
//! (and for SQLite). Every connection this crate opens asks sqlx to report statements that run
//! longer than [`threshold`] (the `db_slow_statement` setting) as a WARN event of target
//! `sqlx::query`; the binary's logging layer logs that event and hands it to [`record`], which
//! counts it (`vivacampo_db_slow_statements_total`) and keeps per-statement figures that each
//! process's heartbeat carries to `vivacampo ops status`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::operations::SlowStatement;

/// Statements of this length or longer are slow (milliseconds).
static THRESHOLD_MS: AtomicU64 = AtomicU64::new(500);
/// Slow statements seen by this process.
static TOTAL: AtomicU64 = AtomicU64::new(0);
/// Distinct statements kept; past it the least-seen one makes room.
const KEPT: usize = 100;
/// Statement text kept per entry (characters).
const TEXT: usize = 200;

#[derive(Default)]
struct Figures {
    calls: u64,
    total_ms: f64,
    max_ms: f64,
}

static LOG: Mutex<Option<HashMap<String, Figures>>> = Mutex::new(None);

/// Sets the threshold for stores opened from now on (the `db_slow_statement` setting).
pub fn set_threshold(threshold: Duration) {
    THRESHOLD_MS.store(threshold.as_millis() as u64, Ordering::Relaxed);
}

/// Statements this long or longer are reported.
pub fn threshold() -> Duration {
    Duration::from_millis(THRESHOLD_MS.load(Ordering::Relaxed))
}

/// Counts one slow statement (`statement`: its text or sqlx's summary of it).
pub fn record(statement: &str, elapsed: Duration) {
    TOTAL.fetch_add(1, Ordering::Relaxed);
    let text: String = statement
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .take(TEXT)
        .collect();
    let ms = elapsed.as_secs_f64() * 1000.0;
    let mut guard = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let log = guard.get_or_insert_with(HashMap::new);
    if !log.contains_key(&text)
        && log.len() >= KEPT
        && let Some(evict) = log
            .iter()
            .min_by_key(|(_, f)| f.calls)
            .map(|(k, _)| k.clone())
    {
        log.remove(&evict);
    }
    let f = log.entry(text).or_default();
    f.calls += 1;
    f.total_ms += ms;
    f.max_ms = f.max_ms.max(ms);
}

/// Slow statements seen by this process since it started.
pub fn total() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

/// The `limit` statements with the highest mean time among the slow ones this process saw.
pub fn slowest(limit: usize) -> Vec<SlowStatement> {
    let guard = LOG.lock().unwrap_or_else(|e| e.into_inner());
    let mut all: Vec<SlowStatement> = guard
        .iter()
        .flatten()
        .map(|(query, f)| SlowStatement {
            query: query.clone(),
            calls: f.calls as i64,
            mean_ms: f.total_ms / f.calls.max(1) as f64,
        })
        .collect();
    all.sort_by(|a, b| b.mean_ms.total_cmp(&a.mean_ms));
    all.truncate(limit);
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slow_statements_are_counted_by_text_and_bounded() {
        let before = total();
        record("SELECT  pg_sleep($1)\n", Duration::from_millis(700));
        record("SELECT pg_sleep($1)", Duration::from_millis(900));
        record("UPDATE jobs SET x = 1", Duration::from_millis(600));
        assert!(total() >= before + 3);
        let top = slowest(100);
        let sleep = top
            .iter()
            .find(|s| s.query == "SELECT pg_sleep($1)")
            .unwrap();
        assert_eq!(sleep.calls, 2);
        assert!((sleep.mean_ms - 800.0).abs() < 1e-6);
        for i in 0..(KEPT + 20) {
            record(&format!("SELECT {i}"), Duration::from_millis(501));
        }
        assert!(slowest(usize::MAX).len() <= KEPT);
        assert!(
            slowest(usize::MAX)
                .iter()
                .any(|s| s.query == "SELECT pg_sleep($1)"),
            "the most-seen statement stays"
        );
    }
}
