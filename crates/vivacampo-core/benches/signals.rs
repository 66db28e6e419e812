//! Precision and recall of each signal rule on the labelled scenario set, the false-alarm rate
//! on healthy field-seasons, and how long the rules take. Run:
//!
//! ```sh
//! cargo bench -p vivacampo-core --bench signals            # the committed set
//! cargo bench -p vivacampo-core --bench signals -- --verbose  # and every miss and false alarm
//! SIGNAL_SCENARIOS=/tmp/holdout.json cargo bench -p vivacampo-core --bench signals
//! ```
//!
//! `SIGNAL_SCENARIOS` names other sets made by `scripts/signal-scenarios.py --seed N --out F`
//! (comma-separated: scored together).

#[path = "../tests/support/signal_scenarios.rs"]
#[allow(dead_code)]
mod scenarios;

use std::time::Instant;

fn main() {
    let set: Vec<scenarios::Scenario> = match std::env::var("SIGNAL_SCENARIOS") {
        Ok(paths) => paths.split(',').flat_map(scenarios::load_from).collect(),
        Err(_) => scenarios::load(),
    };
    let started = Instant::now();
    let report = scenarios::score(&set);
    let elapsed = started.elapsed();
    print!("{}", report.render());
    let evaluations: usize = set.iter().map(|s| s.window.len()).sum();
    println!(
        "{evaluations} evaluations in {:.2} s ({:.0} µs each)",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1e6 / evaluations as f64
    );
    let verbose = std::env::args().any(|a| a == "--verbose");
    if verbose {
        for line in report.missed.iter().chain(&report.wrong) {
            println!("  {line}");
        }
    }
}
