//! CPU, memory, open files and uptime of this process for `/metrics`, read from `/proc/self`
//! (Linux; elsewhere only the uptime is known).

use std::sync::OnceLock;
use std::time::Instant;

use vivacampo_core::metrics::Registry;

/// Clock ticks per second of `/proc/self/stat` times (`USER_HZ`, 100 on every Linux platform
/// this runs on).
const TICKS_PER_SECOND: f64 = 100.0;

static STARTED: OnceLock<(Instant, f64)> = OnceLock::new();

/// Notes the start of the process (call early; otherwise the first scrape counts as start).
pub fn mark_start() {
    STARTED.get_or_init(|| {
        let unix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        (Instant::now(), unix)
    });
}

/// What `/proc/self` says: (CPU seconds, resident bytes, open file descriptors).
fn read_proc() -> Option<(f64, f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start at field 3.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    let fds = std::fs::read_dir("/proc/self/fd").ok()?.count() as f64;
    Some(((utime + stime) / TICKS_PER_SECOND, rss_kib * 1024.0, fds))
}

/// Sets the process gauges in the registry.
pub fn record(registry: &Registry) {
    mark_start();
    if let Some((started, unix)) = STARTED.get() {
        registry.set(
            "process_start_time_seconds",
            "Start time of the process since the Unix epoch.",
            &[],
            unix.floor(),
        );
        registry.set(
            "vivacampo_uptime_seconds",
            "Seconds since this process started.",
            &[],
            started.elapsed().as_secs_f64(),
        );
    }
    if let Some((cpu, rss, fds)) = read_proc() {
        registry.set_total(
            "process_cpu_seconds_total",
            "User and system CPU time of the process.",
            &[],
            cpu,
        );
        registry.set(
            "process_resident_memory_bytes",
            "Resident memory of the process.",
            &[],
            rss,
        );
        registry.set(
            "process_open_fds",
            "Open file descriptors of the process.",
            &[],
            fds,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[cfg(target_os = "linux")]
    fn proc_figures_are_plausible() {
        let (cpu, rss, fds) = read_proc().unwrap();
        assert!(cpu >= 0.0);
        assert!(rss > 1024.0 * 1024.0, "{rss}");
        assert!(fds >= 3.0, "{fds}");
        let r = Registry::new();
        record(&r);
        assert_eq!(
            r.value("process_open_fds", &[]).map(|v| v >= 3.0),
            Some(true)
        );
        assert!(r.value("vivacampo_uptime_seconds", &[]).is_some());
    }
}
