//! The signal rules on the labelled scenario set (`scripts/signal-scenarios.py`) meet their
//! targets: false alarms on fewer than 5 % of healthy field-seasons, at least 90 % of droughts
//! and harvests found; and no rule's precision falls below its measured level by more than a few
//! points. Prints the full report with `-- --nocapture`.

#[path = "support/signal_scenarios.rs"]
mod scenarios;

use vivacampo_core::signals::SignalType;

#[test]
fn signal_rules_meet_their_targets_on_the_scenario_set() {
    let set = scenarios::load();
    let report = scenarios::score(&set);
    println!("{}", report.render());
    for line in report.missed.iter().chain(&report.wrong) {
        println!("  {line}");
    }
    assert_eq!(report.scenarios, 280);
    assert!(
        report.false_alarm_rate() < 0.05,
        "false alarms on healthy fields: {:?}",
        report.healthy_with_alarm
    );
    assert!(report.harvest_recall() >= 0.9, "{}", report.render());
    assert!(report.drought_recall() >= 0.9, "{}", report.render());
    for (signal_type, floor) in [
        (SignalType::WaterStress, 0.85),
        (SignalType::HarvestDetected, 0.9),
        (SignalType::LowVigor, 0.85),
        (SignalType::PastureDegradation, 0.9),
        (SignalType::PersistentAnomaly, 0.9),
    ] {
        let precision = report.by_type[&signal_type].precision().unwrap();
        assert!(precision >= floor, "{signal_type}: {}", report.render());
    }
}
