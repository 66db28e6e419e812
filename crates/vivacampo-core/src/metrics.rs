//! A small in-process metrics registry rendered in the Prometheus text exposition format.
//!
//! Counters, gauges and histograms keyed by metric name and label values. Callers record into
//! one shared [`Registry`]; `/metrics` calls [`Registry::render`].

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;

/// Latency buckets in seconds, from 1 ms to 10 s.
pub const LATENCY_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// Job duration buckets in seconds, from 10 ms to 10 min.
pub const JOB_BUCKETS: &[f64] = &[0.01, 0.1, 0.5, 1.0, 5.0, 15.0, 60.0, 180.0, 600.0];

type Labels = Vec<(&'static str, String)>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Counter,
    Gauge,
    Histogram,
}

#[derive(Debug)]
enum Series {
    Value(f64),
    Histogram {
        bounds: &'static [f64],
        counts: Vec<u64>,
        sum: f64,
        count: u64,
    },
}

#[derive(Debug)]
struct Family {
    help: &'static str,
    kind: Kind,
    series: BTreeMap<Labels, Series>,
}

/// Thread-safe metrics registry.
#[derive(Debug, Default)]
pub struct Registry {
    families: Mutex<BTreeMap<&'static str, Family>>,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    fn with_series(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &[(&'static str, &str)],
        init: impl FnOnce() -> Series,
        update: impl FnOnce(&mut Series),
    ) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let family = families.entry(name).or_insert_with(|| Family {
            help,
            kind,
            series: BTreeMap::new(),
        });
        debug_assert_eq!(family.kind, kind, "metric {name} used with two kinds");
        let key: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        update(family.series.entry(key).or_insert_with(init));
    }

    /// Adds `by` to a counter.
    pub fn inc(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        by: f64,
    ) {
        self.with_series(
            name,
            help,
            Kind::Counter,
            labels,
            || Series::Value(0.0),
            |s| {
                if let Series::Value(v) = s {
                    *v += by;
                }
            },
        );
    }

    /// Sets a counter to a total kept elsewhere (read at scrape time).
    pub fn set_total(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.set_value(name, help, Kind::Counter, labels, value);
    }

    /// Sets a gauge.
    pub fn set(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.set_value(name, help, Kind::Gauge, labels, value);
    }

    fn set_value(
        &self,
        name: &'static str,
        help: &'static str,
        kind: Kind,
        labels: &[(&'static str, &str)],
        value: f64,
    ) {
        self.with_series(
            name,
            help,
            kind,
            labels,
            || Series::Value(0.0),
            |s| {
                if let Series::Value(v) = s {
                    *v = value;
                }
            },
        );
    }

    /// Drops every series of a gauge family, so a scrape-time refresh does not keep stale labels.
    pub fn clear(&self, name: &'static str) {
        let mut families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(family) = families.get_mut(name) {
            family.series.clear();
        }
    }

    /// Records one observation in a histogram with the given bucket upper bounds.
    pub fn observe(
        &self,
        name: &'static str,
        help: &'static str,
        labels: &[(&'static str, &str)],
        bounds: &'static [f64],
        value: f64,
    ) {
        self.with_series(
            name,
            help,
            Kind::Histogram,
            labels,
            || Series::Histogram {
                bounds,
                counts: vec![0; bounds.len()],
                sum: 0.0,
                count: 0,
            },
            |s| {
                if let Series::Histogram {
                    bounds,
                    counts,
                    sum,
                    count,
                } = s
                {
                    if let Some(i) = bounds.iter().position(|b| value <= *b) {
                        counts[i] += 1;
                    }
                    *sum += value;
                    *count += 1;
                }
            },
        );
    }

    /// The value of a counter or gauge series, if it exists (for tests and health checks).
    pub fn value(&self, name: &str, labels: &[(&'static str, &str)]) -> Option<f64> {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let key: Labels = labels.iter().map(|(k, v)| (*k, (*v).to_owned())).collect();
        match families.get(name)?.series.get(&key)? {
            Series::Value(v) => Some(*v),
            Series::Histogram { count, .. } => Some(*count as f64),
        }
    }

    /// A histogram family summed over the series whose labels `keep` accepts: the bucket bounds,
    /// the per-bucket (not cumulative) counts, and the count of all observations (those above
    /// the last bound included). `None` if the family has no such series.
    pub fn histogram_sum(
        &self,
        name: &str,
        keep: impl Fn(&[(&'static str, String)]) -> bool,
    ) -> Option<(&'static [f64], Vec<u64>, u64)> {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut total: Option<(&'static [f64], Vec<u64>, u64)> = None;
        for (labels, series) in &families.get(name)?.series {
            if let Series::Histogram {
                bounds,
                counts,
                count,
                ..
            } = series
                && keep(labels)
            {
                let entry = total.get_or_insert_with(|| (*bounds, vec![0; bounds.len()], 0));
                if entry.0 == *bounds {
                    entry.1.iter_mut().zip(counts).for_each(|(a, b)| *a += b);
                    entry.2 += count;
                }
            }
        }
        total
    }

    /// Renders every family in the Prometheus text format (version 0.0.4).
    pub fn render(&self) -> String {
        let families = self.families.lock().unwrap_or_else(|e| e.into_inner());
        let mut out = String::new();
        for (name, family) in families.iter() {
            let kind = match family.kind {
                Kind::Counter => "counter",
                Kind::Gauge => "gauge",
                Kind::Histogram => "histogram",
            };
            let _ = writeln!(out, "# HELP {name} {}", family.help);
            let _ = writeln!(out, "# TYPE {name} {kind}");
            for (labels, series) in &family.series {
                match series {
                    Series::Value(v) => {
                        let _ = writeln!(out, "{name}{} {}", label_text(labels, None), number(*v));
                    }
                    Series::Histogram {
                        bounds,
                        counts,
                        sum,
                        count,
                    } => {
                        let mut cumulative = 0;
                        for (bound, n) in bounds.iter().zip(counts) {
                            cumulative += n;
                            let le = number(*bound);
                            let _ = writeln!(
                                out,
                                "{name}_bucket{} {cumulative}",
                                label_text(labels, Some(&le))
                            );
                        }
                        let _ = writeln!(
                            out,
                            "{name}_bucket{} {count}",
                            label_text(labels, Some("+Inf"))
                        );
                        let _ = writeln!(
                            out,
                            "{name}_sum{} {}",
                            label_text(labels, None),
                            number(*sum)
                        );
                        let _ = writeln!(out, "{name}_count{} {count}", label_text(labels, None));
                    }
                }
            }
        }
        out
    }
}

fn number(v: f64) -> String {
    if v.is_finite() && v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

fn label_text(labels: &Labels, le: Option<&str>) -> String {
    if labels.is_empty() && le.is_none() {
        return String::new();
    }
    let mut parts: Vec<String> = labels
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", escape(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    format!("{{{}}}", parts.join(","))
}

fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_histograms() {
        let r = Registry::new();
        r.inc(
            "http_requests_total",
            "Requests.",
            &[("route", "/v1/farms"), ("status", "200")],
            1.0,
        );
        r.inc(
            "http_requests_total",
            "Requests.",
            &[("route", "/v1/farms"), ("status", "200")],
            1.0,
        );
        r.observe(
            "lat_seconds",
            "Latency.",
            &[("route", "/a\"b")],
            &[0.1, 1.0],
            0.5,
        );
        let text = r.render();
        assert!(text.contains("# TYPE http_requests_total counter"));
        assert!(text.contains("http_requests_total{route=\"/v1/farms\",status=\"200\"} 2"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\\\"b\",le=\"0.1\"} 0"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\\\"b\",le=\"1\"} 1"));
        assert!(text.contains("lat_seconds_bucket{route=\"/a\\\"b\",le=\"+Inf\"} 1"));
        assert!(text.contains("lat_seconds_count{route=\"/a\\\"b\"} 1"));
        assert_eq!(
            r.value(
                "http_requests_total",
                &[("route", "/v1/farms"), ("status", "200")]
            ),
            Some(2.0)
        );
    }

    #[test]
    fn histograms_sum_over_chosen_series() {
        let r = Registry::new();
        for (status, value) in [("200", 0.05), ("200", 0.5), ("500", 2.0), ("500", 20.0)] {
            r.observe("lat", "L.", &[("status", status)], &[0.1, 1.0, 5.0], value);
        }
        assert_eq!(
            r.histogram_sum("lat", |_| true),
            Some((&[0.1, 1.0, 5.0][..], vec![1, 1, 1], 4))
        );
        assert_eq!(
            r.histogram_sum("lat", |l| l
                .iter()
                .any(|(k, v)| *k == "status" && v.starts_with('5'))),
            Some((&[0.1, 1.0, 5.0][..], vec![0, 0, 1], 2))
        );
        assert_eq!(r.histogram_sum("nope", |_| true), None);
    }

    #[test]
    fn clear_drops_stale_gauge_series() {
        let r = Registry::new();
        r.set("queue_depth", "Depth.", &[("status", "PENDING")], 3.0);
        r.clear("queue_depth");
        r.set("queue_depth", "Depth.", &[("status", "RUNNING")], 1.0);
        let text = r.render();
        assert!(!text.contains("PENDING"));
        assert!(text.contains("queue_depth{status=\"RUNNING\"} 1"));
    }
}
