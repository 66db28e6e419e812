//! The labelled scenario set (`scripts/signal-scenarios.py`) and how the signal rules are scored
//! on it; shared by the test `signal_scenarios` and the report `benches/signals.rs`.
//!
//! Each scenario's evaluated season is replayed week by week: `evaluate` sees only the weeks up
//! to the evaluation week, and `lifecycle::plan` opens, updates and resolves signals as the store
//! will. A signal's *episode* runs from its opening to its resolution. An episode is correct when
//! a label of its type covers its opening week (one week of slack before the label); a required
//! label is found when an episode of its type opened within it.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use time::{Date, Duration};
use vivacampo_core::signals::lifecycle::{self, Change, OpenSignal};
use vivacampo_core::signals::{
    CropKind, FieldSeries, FieldUse, FieldWeek, IndexStat, SignalStatus, SignalType, WeatherWeek,
    WeekStatus, evaluate,
};
use vivacampo_core::weeks::IsoWeek;

/// Where the fixture is.
pub const FIXTURE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/fixtures/signal-scenarios.json"
);

/// Types that say a field has a problem: any of them on a healthy field-season is a false alarm.
pub const PROBLEM_TYPES: [SignalType; 5] = [
    SignalType::LowVigor,
    SignalType::RapidDecline,
    SignalType::PersistentAnomaly,
    SignalType::WaterStress,
    SignalType::PastureDegradation,
];

/// A labelled event.
#[derive(Debug, Clone)]
pub struct Label {
    pub signal_type: SignalType,
    pub from: IsoWeek,
    pub to: IsoWeek,
    pub required: bool,
}

/// One field and its labels.
pub struct Scenario {
    pub id: String,
    pub kind: String,
    pub healthy: bool,
    pub series: FieldSeries,
    pub labels: Vec<Label>,
    /// The evaluated weeks, oldest first.
    pub window: Vec<IsoWeek>,
}

/// A signal from opening to resolution.
#[derive(Debug, Clone)]
pub struct Episode {
    pub signal_type: SignalType,
    pub opened: IsoWeek,
    pub closed: Option<IsoWeek>,
}

fn week_of(v: &Value) -> IsoWeek {
    IsoWeek::new(v[0].as_i64().unwrap() as i32, v[1].as_u64().unwrap() as u8).unwrap()
}

fn milli(v: &Value, i: usize) -> Option<f64> {
    v.get(i).and_then(Value::as_f64).map(|x| x / 1000.0)
}

fn tenths(v: &Value, i: usize) -> Option<f64> {
    v.get(i).and_then(Value::as_f64).map(|x| x / 10.0)
}

/// A Sentinel-2 L2A product name for a pass on `date` over `tile`.
fn scene_id(date: Date, tile: &str) -> String {
    let unit = if date.to_julian_day() / 5 % 2 == 0 {
        'A'
    } else {
        'B'
    };
    let (y, m, d) = (date.year(), u8::from(date.month()), date.day());
    format!("S2{unit}_MSIL2A_{y:04}{m:02}{d:02}T133859_T{tile}")
}

/// Reads the committed scenario set.
pub fn load() -> Vec<Scenario> {
    load_from(FIXTURE)
}

/// Reads a scenario set made by `scripts/signal-scenarios.py`.
pub fn load_from(path: &str) -> Vec<Scenario> {
    let text = std::fs::read_to_string(path).expect("scenario fixture");
    let doc: Value = serde_json::from_str(&text).expect("scenario JSON");
    let first = week_of(&doc["first_week"]);
    let total = doc["weeks"].as_u64().unwrap() as usize;
    let eval_from = week_of(&doc["evaluate_from"]);
    let all: Vec<IsoWeek> = {
        let last = IsoWeek::containing(first.start() + Duration::weeks(total as i64 - 1));
        let mut v = last.back(total);
        v.reverse();
        v
    };
    doc["scenarios"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let start = s["first"].as_u64().unwrap() as usize;
            let tile = s["tile"].as_str().unwrap();
            let status = s["status"].as_str().unwrap().as_bytes();
            let mut weeks = Vec::new();
            let mut weather = Vec::new();
            for (i, week) in all[start..].iter().enumerate() {
                let day = s["day"][i].as_i64().unwrap();
                let image_date = (day >= 0).then(|| week.start() + Duration::days(day));
                let st = match status[i] {
                    b'O' => WeekStatus::Ok,
                    b'C' => WeekStatus::Cloudy,
                    _ => WeekStatus::NoData,
                };
                let ndvi = milli(&s["ndvi"], i).map(|mean| IndexStat {
                    mean,
                    p10: milli(&s["ndvi_p10"], i),
                    p90: milli(&s["ndvi_p90"], i),
                });
                weeks.push(FieldWeek {
                    week: *week,
                    status: st,
                    image_date,
                    cloud_fraction: milli(&s["cloud"], i),
                    valid_pixel_ratio: milli(&s["vpr"], i),
                    ndvi,
                    ndmi: milli(&s["ndmi"], i).map(IndexStat::mean),
                    bsi: milli(&s["bsi"], i).map(IndexStat::mean),
                    scene_ids: image_date.map(|d| scene_id(d, tile)).into_iter().collect(),
                    radar: None,
                });
                if !s["precip"].is_null() {
                    weather.push(WeatherWeek {
                        week: *week,
                        precip_mm: tenths(&s["precip"], i),
                        et0_mm: tenths(&s["et0"], i),
                    });
                }
            }
            let field_use = match s["use"].as_str().unwrap() {
                "PASTURE" => FieldUse::Pasture,
                _ => FieldUse::Crop(s["crop"].as_str().map(|c| c.parse::<CropKind>().unwrap())),
            };
            let labels = s["labels"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| Label {
                    signal_type: l["type"].as_str().unwrap().parse().unwrap(),
                    from: week_of(&l["from"]),
                    to: week_of(&l["to"]),
                    required: l["required"].as_bool().unwrap(),
                })
                .collect();
            Scenario {
                id: s["id"].as_str().unwrap().to_owned(),
                kind: s["kind"].as_str().unwrap().to_owned(),
                healthy: s["healthy"].as_bool().unwrap(),
                series: FieldSeries {
                    field_use,
                    weeks,
                    weather,
                },
                labels,
                window: all.iter().copied().filter(|w| *w >= eval_from).collect(),
            }
        })
        .collect()
}

/// Replays a scenario's evaluated season through `evaluate` and `lifecycle::plan`.
pub fn replay(scenario: &Scenario) -> Vec<Episode> {
    let mut episodes: Vec<Episode> = Vec::new();
    let mut open: Vec<(OpenSignal, usize)> = Vec::new();
    for &week in &scenario.window {
        let evaluation = evaluate(&scenario.series, week);
        let signals: Vec<OpenSignal> = open.iter().map(|(o, _)| *o).collect();
        for change in lifecycle::plan(&signals, &evaluation) {
            match change {
                Change::Open(d) => {
                    episodes.push(Episode {
                        signal_type: d.signal_type,
                        opened: week,
                        closed: None,
                    });
                    open.push((
                        OpenSignal {
                            signal_type: d.signal_type,
                            status: SignalStatus::Open,
                            first_seen_week: d.first_seen_week,
                        },
                        episodes.len() - 1,
                    ));
                }
                Change::Update(d) => {
                    let (o, _) = open
                        .iter_mut()
                        .find(|(o, _)| o.signal_type == d.signal_type)
                        .expect("an update has an open signal");
                    o.first_seen_week = d.first_seen_week;
                }
                Change::Resolve { signal_type, .. } => {
                    let at = open
                        .iter()
                        .position(|(o, _)| o.signal_type == signal_type)
                        .expect("a resolution has an open signal");
                    let (_, e) = open.remove(at);
                    episodes[e].closed = Some(week);
                }
            }
        }
    }
    episodes
}

fn matches(e: &Episode, l: &Label) -> bool {
    e.signal_type == l.signal_type && e.opened >= l.from.previous() && e.opened <= l.to
}

/// Counts for one signal type.
#[derive(Debug, Default, Clone, Copy)]
pub struct TypeScore {
    pub labels: usize,
    pub found: usize,
    pub episodes: usize,
    pub correct: usize,
}

impl TypeScore {
    pub fn recall(&self) -> Option<f64> {
        (self.labels > 0).then(|| self.found as f64 / self.labels as f64)
    }
    pub fn precision(&self) -> Option<f64> {
        (self.episodes > 0).then(|| self.correct as f64 / self.episodes as f64)
    }
}

/// The whole set's scores.
#[derive(Debug, Default)]
pub struct Report {
    pub scenarios: usize,
    pub by_type: BTreeMap<SignalType, TypeScore>,
    pub healthy: usize,
    pub healthy_with_alarm: Vec<String>,
    /// WATER_STRESS labels of drought scenarios: (labels, found).
    pub droughts: (usize, usize),
    /// HARVEST_DETECTED labels: (labels, found).
    pub harvests: (usize, usize),
    /// Required labels not found, and episodes that match no label, for reading.
    pub missed: Vec<String>,
    pub wrong: Vec<String>,
}

impl Report {
    pub fn false_alarm_rate(&self) -> f64 {
        self.healthy_with_alarm.len() as f64 / self.healthy as f64
    }
    pub fn drought_recall(&self) -> f64 {
        self.droughts.1 as f64 / self.droughts.0 as f64
    }
    pub fn harvest_recall(&self) -> f64 {
        self.harvests.1 as f64 / self.harvests.0 as f64
    }

    /// The report as a text table.
    pub fn render(&self) -> String {
        let pct =
            |v: Option<f64>| v.map_or("   —".to_owned(), |v| format!("{:5.1} %", 100.0 * v));
        let mut out = String::new();
        writeln!(
            out,
            "signal scenarios: {} field-seasons ({} healthy)",
            self.scenarios, self.healthy
        )
        .unwrap();
        writeln!(
            out,
            "{:<20} {:>7} {:>6} {:>8} {:>9} {:>8} {:>10}",
            "type", "labels", "found", "recall", "episodes", "correct", "precision"
        )
        .unwrap();
        for (t, s) in &self.by_type {
            writeln!(
                out,
                "{:<20} {:>7} {:>6} {:>8} {:>9} {:>8} {:>10}",
                t.as_str(),
                s.labels,
                s.found,
                pct(s.recall()),
                s.episodes,
                s.correct,
                pct(s.precision())
            )
            .unwrap();
        }
        writeln!(
            out,
            "false alarms on healthy field-seasons: {}/{} = {:.1} % (target < 5 %)",
            self.healthy_with_alarm.len(),
            self.healthy,
            100.0 * self.false_alarm_rate()
        )
        .unwrap();
        writeln!(
            out,
            "drought recall (WATER_STRESS): {}/{} = {:.1} % (target >= 90 %)",
            self.droughts.1,
            self.droughts.0,
            100.0 * self.drought_recall()
        )
        .unwrap();
        writeln!(
            out,
            "harvest recall (HARVEST_DETECTED): {}/{} = {:.1} % (target >= 90 %)",
            self.harvests.1,
            self.harvests.0,
            100.0 * self.harvest_recall()
        )
        .unwrap();
        out
    }
}

/// Scores every scenario.
pub fn score(scenarios: &[Scenario]) -> Report {
    let mut report = Report {
        scenarios: scenarios.len(),
        ..Report::default()
    };
    for t in SignalType::ALL {
        report.by_type.insert(*t, TypeScore::default());
    }
    for s in scenarios {
        let episodes = replay(s);
        for l in s.labels.iter().filter(|l| l.required) {
            let found = episodes.iter().any(|e| matches(e, l));
            let score = report.by_type.get_mut(&l.signal_type).unwrap();
            score.labels += 1;
            score.found += usize::from(found);
            if l.signal_type == SignalType::WaterStress && s.kind == "drought" {
                report.droughts.0 += 1;
                report.droughts.1 += usize::from(found);
            }
            if l.signal_type == SignalType::HarvestDetected {
                report.harvests.0 += 1;
                report.harvests.1 += usize::from(found);
            }
            if !found {
                report
                    .missed
                    .push(format!("{} {} {}..{}", s.id, l.signal_type, l.from, l.to));
            }
        }
        let mut alarm = false;
        for e in &episodes {
            let correct = s.labels.iter().any(|l| matches(e, l));
            let score = report.by_type.get_mut(&e.signal_type).unwrap();
            score.episodes += 1;
            score.correct += usize::from(correct);
            if !correct {
                report
                    .wrong
                    .push(format!("{} {} opened {}", s.id, e.signal_type, e.opened));
            }
            alarm |= PROBLEM_TYPES.contains(&e.signal_type);
        }
        if s.healthy {
            report.healthy += 1;
            if alarm {
                report.healthy_with_alarm.push(s.id.clone());
            }
        }
    }
    report
}
