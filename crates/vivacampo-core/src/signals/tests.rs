//! Rule tests on small hand-made series.

use time::Duration;
use time::macros::date;

use super::data::next_pass;
use super::lifecycle::{
    Change, HealthStatus, OpenSignal, Resolution, closed_by_harvest, health, plan,
};
use super::*;

fn w(year: i32, week: u8) -> IsoWeek {
    IsoWeek::new(year, week).unwrap()
}

/// A clear week: NDMI and BSI follow NDVI as they do over a canopy; image on Wednesday.
fn clear(week: IsoWeek, ndvi: f64) -> FieldWeek {
    clear_with(week, ndvi, 1.05 * ndvi - 0.52, 0.02)
}

fn clear_with(week: IsoWeek, ndvi: f64, ndmi: f64, cloud: f64) -> FieldWeek {
    FieldWeek {
        week,
        status: WeekStatus::Ok,
        image_date: Some(week.start() + Duration::days(2)),
        cloud_fraction: Some(cloud),
        valid_pixel_ratio: Some(1.0 - cloud),
        ndvi: Some(IndexStat {
            mean: ndvi,
            p10: Some(ndvi - 0.06),
            p90: Some(ndvi + 0.05),
        }),
        ndmi: Some(IndexStat::mean(ndmi)),
        bsi: Some(IndexStat::mean(0.22 - 0.5 * ndvi)),
        scene_ids: vec![format!("S2A_{week}")],
        radar: None,
    }
}

fn cloudy(week: IsoWeek) -> FieldWeek {
    FieldWeek {
        week,
        status: WeekStatus::Cloudy,
        image_date: Some(week.start() + Duration::days(2)),
        cloud_fraction: Some(0.9),
        valid_pixel_ratio: Some(0.1),
        ndvi: None,
        ndmi: None,
        bsi: None,
        scene_ids: vec![format!("S2A_{week}")],
        radar: None,
    }
}

/// `n` weeks ending with `last`, oldest first.
fn weeks_to(last: IsoWeek, n: usize) -> Vec<IsoWeek> {
    let mut v = last.back(n);
    v.reverse();
    v
}

/// A small deterministic wobble, ±0.01.
fn wobble(i: usize) -> f64 {
    [0.0, 0.01, -0.01, 0.005][i % 4]
}

fn found(e: &Evaluation, t: SignalType) -> Option<&Detection> {
    e.detections.iter().find(|d| d.signal_type == t)
}

/// A soybean season: bare until `sow_week`, green-up, plateau at 0.85 and the values given
/// after the plateau's first `plateau` weeks.
fn soybean(first: IsoWeek, bare: usize, plateau: usize, after: &[f64]) -> Vec<FieldWeek> {
    let curve = [0.25, 0.3, 0.5, 0.66, 0.78];
    let mut values: Vec<f64> = vec![0.22; bare];
    values.extend(curve);
    values.extend(std::iter::repeat_n(0.85, plateau));
    values.extend(after);
    let last = IsoWeek::containing(first.start() + Duration::weeks(values.len() as i64 - 1));
    weeks_to(last, values.len())
        .into_iter()
        .zip(values)
        .enumerate()
        .map(|(i, (week, v))| clear(week, v + wobble(i)))
        .collect()
}

#[test]
fn next_pass_follows_the_five_day_revisit() {
    assert_eq!(
        next_pass(date!(2026 - 01 - 07), date!(2026 - 01 - 18)),
        date!(2026 - 01 - 22)
    );
    assert_eq!(
        next_pass(date!(2026 - 01 - 07), date!(2026 - 01 - 07)),
        date!(2026 - 01 - 12)
    );
}

#[test]
fn three_weeks_without_a_clear_image_say_when_the_next_pass_is() {
    let mut weeks: Vec<FieldWeek> = weeks_to(w(2026, 2), 6)
        .into_iter()
        .map(|week| clear(week, 0.6))
        .collect();
    weeks.extend([cloudy(w(2026, 3)), cloudy(w(2026, 4))]);
    let series = FieldSeries {
        field_use: FieldUse::Pasture,
        weeks: weeks.clone(),
        weather: vec![],
    };
    let two = evaluate(&series, w(2026, 4));
    assert!(found(&two, SignalType::NoRecentData).is_none());
    assert!(two.assessed.contains(&SignalType::NoRecentData));

    weeks.push(cloudy(w(2026, 5)));
    let series = FieldSeries { weeks, ..series };
    let three = evaluate(&series, w(2026, 5));
    let d = found(&three, SignalType::NoRecentData).unwrap();
    assert_eq!(d.severity, Severity::Low);
    assert_eq!(d.first_seen_week, w(2026, 3));
    assert_eq!(d.evidence.figures["weeks_without_clear_image"], 3.0);
    // The last image was on Wednesday 2026-01-28; the week ends on Sunday 2026-02-01.
    assert_eq!(d.evidence.next_pass.as_deref(), Some("2026-02-02"));
    assert_eq!(
        d.evidence.scene_ids,
        ["S2A_2026-W03", "S2A_2026-W04", "S2A_2026-W05"]
    );
    assert!(
        d.text.en.explanation.contains("2026-02-02"),
        "{}",
        d.text.en.explanation
    );
    assert!(
        d.text.pt_br.explanation.contains("2026-W02"),
        "{}",
        d.text.pt_br.explanation
    );
    // A cloudy week judges nothing about vigor, so it cannot resolve a vigor signal.
    assert!(!three.assessed.contains(&SignalType::LowVigor));
}

#[test]
fn a_drop_beyond_the_fields_noise_is_a_rapid_decline_and_haze_waits_for_confirmation() {
    let history: Vec<FieldWeek> = weeks_to(w(2026, 20), 20)
        .into_iter()
        .enumerate()
        .map(|(i, week)| clear(week, 0.6 + wobble(i)))
        .collect();
    let series = |low: FieldWeek, after: Option<FieldWeek>| {
        let mut weeks = history.clone();
        weeks.push(low);
        weeks.extend(after);
        FieldSeries {
            field_use: FieldUse::Pasture,
            weeks,
            weather: vec![],
        }
    };
    let clean = series(clear(w(2026, 21), 0.4), None);
    let e = evaluate(&clean, w(2026, 21));
    let d = found(&e, SignalType::RapidDecline).unwrap();
    // Before: week 20 is the 20th value (i = 19, wobble +0.005).
    assert_eq!(d.evidence.figures["before"], 0.605);
    assert_eq!(d.evidence.figures["drop"], 0.205);
    // The threshold is 4 √2 times the field's noise (the wobble's), above the 0.1 floor.
    let noise = d.evidence.figures["noise"];
    assert_eq!(noise, 0.021);
    assert_eq!(d.evidence.figures["threshold"], 0.12);
    assert_eq!(d.severity, Severity::Medium);
    assert_eq!(d.first_seen_week, w(2026, 21));

    // The same drop in a partly cloudy image: not yet, and then confirmed by the next week.
    let hazy = clear_with(w(2026, 21), 0.4, 0.0, 0.3);
    let e = evaluate(&series(hazy.clone(), None), w(2026, 21));
    assert!(found(&e, SignalType::RapidDecline).is_none());
    let confirmed = series(hazy.clone(), Some(clear(w(2026, 22), 0.42)));
    let d = evaluate(&confirmed, w(2026, 22));
    assert_eq!(
        found(&d, SignalType::RapidDecline).unwrap().first_seen_week,
        w(2026, 21)
    );
    // Or undone: the hazy week was not the field.
    let undone = series(hazy, Some(clear(w(2026, 22), 0.6)));
    assert!(found(&evaluate(&undone, w(2026, 22)), SignalType::RapidDecline).is_none());
}

#[test]
fn low_vigor_compares_with_the_fields_own_earlier_seasons() {
    let mut weeks = Vec::new();
    for year in [2024, 2025] {
        for (i, week) in weeks_to(w(year, 12), 10).into_iter().enumerate() {
            weeks.push(clear(week, 0.66 + wobble(i)));
        }
    }
    for (i, week) in weeks_to(w(2026, 10), 8).into_iter().enumerate() {
        weeks.push(clear(week, 0.66 + wobble(i)));
    }
    weeks.push(clear(w(2026, 11), 0.42));
    weeks.push(clear(w(2026, 12), 0.41));
    let series = FieldSeries {
        field_use: FieldUse::Pasture,
        weeks,
        weather: vec![],
    };
    let e = evaluate(&series, w(2026, 12));
    let d = found(&e, SignalType::LowVigor).unwrap();
    let baseline = d.evidence.baseline.as_ref().unwrap();
    assert_eq!(baseline.source, BaselineSource::OwnHistory);
    assert_eq!(baseline.seasons, 2);
    assert_eq!(d.first_seen_week, w(2026, 11));
    assert_eq!(d.evidence.weeks.len(), 2);
    assert_eq!(d.severity, Severity::High);
    assert!(
        d.text.pt_br.explanation.contains("0,41"),
        "{}",
        d.text.pt_br.explanation
    );
    assert!(
        d.text
            .en
            .explanation
            .contains("2 images in a row below since 2026-W11"),
        "{}",
        d.text.en.explanation
    );
    assert!(
        d.text.en.explanation.contains("0.41"),
        "{}",
        d.text.en.explanation
    );
    // One low week is not enough.
    assert!(found(&evaluate(&series, w(2026, 11)), SignalType::LowVigor).is_none());
}

#[test]
fn a_harvest_after_the_peak_is_information_and_closes_the_seasons_signals() {
    let mut weeks = soybean(w(2025, 40), 3, 8, &[0.7, 0.55]);
    let harvest_week = IsoWeek::containing(weeks.last().unwrap().week.start() + Duration::weeks(1));
    weeks.push(clear(harvest_week, 0.22));
    let series = FieldSeries {
        field_use: FieldUse::Crop(Some(CropKind::Soybean)),
        weeks,
        weather: vec![],
    };
    let e = evaluate(&series, harvest_week);
    let d = found(&e, SignalType::HarvestDetected).unwrap();
    assert_eq!(d.first_seen_week, harvest_week);
    assert_eq!(d.severity, Severity::Low);
    assert!(!d.signal_type.is_alarm());
    assert!(
        e.detections.iter().all(|d| !d.signal_type.is_alarm()),
        "{:?}",
        e.detections
    );
    let open = [
        OpenSignal {
            signal_type: SignalType::LowVigor,
            status: SignalStatus::Ack,
            first_seen_week: w(2025, 50),
        },
        OpenSignal {
            signal_type: SignalType::NoRecentData,
            status: SignalStatus::Open,
            first_seen_week: w(2025, 52),
        },
    ];
    let changes = plan(&open, &e);
    assert!(changes.contains(&Change::Resolve {
        signal_type: SignalType::LowVigor,
        reason: Resolution::Harvest,
    }));
    // Data came back: the missing-data signal recovered.
    assert!(changes.contains(&Change::Resolve {
        signal_type: SignalType::NoRecentData,
        reason: Resolution::Recovered,
    }));
    assert!(matches!(&changes[0], Change::Open(d) if d.signal_type == SignalType::HarvestDetected));
    // Weeks before the harvest: no harvest, and no decline alarm for the senescence.
    let before = evaluate(&series, harvest_week.previous());
    assert!(before.detections.is_empty(), "{:?}", before.detections);
}

#[test]
fn falling_moisture_is_water_stress_only_with_a_water_deficit() {
    // Soybean at its plateau, then NDMI and NDVI fall over two weeks.
    let mut weeks = soybean(w(2025, 44), 3, 4, &[]);
    let last = weeks.last().unwrap().week;
    let w1 = IsoWeek::containing(last.start() + Duration::weeks(1));
    let w2 = IsoWeek::containing(last.start() + Duration::weeks(2));
    weeks.push(clear_with(w1, 0.8, 0.3, 0.02));
    weeks.push(clear_with(w2, 0.74, 0.2, 0.02));
    let weather = |precip: f64| -> Vec<WeatherWeek> {
        weeks_to(w2, 10)
            .into_iter()
            .map(|week| WeatherWeek {
                week,
                precip_mm: Some(precip),
                et0_mm: Some(32.0),
            })
            .collect()
    };
    let soy = FieldUse::Crop(Some(CropKind::Soybean));
    let dry = FieldSeries {
        field_use: soy,
        weeks: weeks.clone(),
        weather: weather(2.0),
    };
    let e = evaluate(&dry, w2);
    let d = found(&e, SignalType::WaterStress).unwrap();
    let weather_totals = d.evidence.weather.as_ref().unwrap();
    assert_eq!(weather_totals.weeks, 3);
    assert_eq!(weather_totals.balance_mm, -90.0);
    assert_eq!(weather_totals.deficit_weeks, 3);
    assert_eq!(d.evidence.index, "ndmi");
    assert_eq!(d.first_seen_week, w1);
    assert!(
        d.text.en.explanation.contains("-90 mm"),
        "{}",
        d.text.en.explanation
    );

    let wet = FieldSeries {
        weather: weather(60.0),
        ..dry.clone()
    };
    let e = evaluate(&wet, w2);
    assert!(found(&e, SignalType::WaterStress).is_none());
    assert!(e.assessed.contains(&SignalType::WaterStress));

    // Without weather the rule cannot say either way.
    let unknown = FieldSeries {
        weather: vec![],
        ..dry
    };
    let e = evaluate(&unknown, w2);
    assert!(found(&e, SignalType::WaterStress).is_none());
    assert!(!e.assessed.contains(&SignalType::WaterStress));
}

#[test]
fn a_pasture_whose_wet_season_peak_falls_season_after_season_is_degrading() {
    let mut weeks = Vec::new();
    for (year, peak, bare) in [(2024, 0.72, 0.0), (2025, 0.7, 0.0), (2026, 0.58, 0.04)] {
        for (i, week) in weeks_to(w(year, 10), 12).into_iter().enumerate() {
            let mut fw = clear(week, peak - 0.01 * (i % 3) as f64);
            fw.bsi = Some(IndexStat::mean(0.22 - 0.5 * peak + bare));
            weeks.push(fw);
        }
    }
    let series = FieldSeries {
        field_use: FieldUse::Pasture,
        weeks,
        weather: vec![],
    };
    let e = evaluate(&series, w(2026, 10));
    let d = found(&e, SignalType::PastureDegradation).unwrap();
    assert_eq!(d.evidence.figures["peak_now"], 0.58);
    assert_eq!(d.evidence.figures["peak_before"], 0.71);
    assert_eq!(d.evidence.figures["peak_decline"], 0.13);
    assert_eq!(d.severity, Severity::Medium);
    assert_eq!(d.evidence.baseline.as_ref().unwrap().seasons, 2);

    // In the first weeks of the next wet season the verdict is still the last season's.
    let mut early = series.clone();
    early.weeks.push(clear(w(2026, 49), 0.5));
    let e = evaluate(&early, w(2026, 49));
    let d = found(&e, SignalType::PastureDegradation).unwrap();
    assert_eq!(d.evidence.figures["season"], 2026.0);
    assert_eq!(d.evidence.figures["peak_now"], 0.58);
    // Once that season has its weeks, it is judged itself: a recovered peak clears the field.
    for week in [w(2026, 50), w(2026, 51), w(2026, 52), w(2027, 1)] {
        early.weeks.push(clear(week, 0.72));
    }
    let e = evaluate(&early, w(2027, 1));
    assert!(e.assessed.contains(&SignalType::PastureDegradation));
    assert!(found(&e, SignalType::PastureDegradation).is_none());
}

#[test]
fn recurrences_update_and_recoveries_resolve_only_what_was_looked_at() {
    let detection = |t: SignalType, first: IsoWeek| Detection {
        signal_type: t,
        severity: Severity::Medium,
        confidence: 0.8,
        year: 2026,
        week: 12,
        first_seen_week: first,
        evidence: Evidence {
            index: "ndvi",
            weeks: vec![],
            baseline: None,
            weather: None,
            figures: BTreeMap::new(),
            scene_ids: vec![],
            next_pass: None,
        },
        text: text::harvest(w(2026, 12), (w(2026, 11), 0.8), 0.2, 0.85),
    };
    let open = [
        OpenSignal {
            signal_type: SignalType::LowVigor,
            status: SignalStatus::Open,
            first_seen_week: w(2026, 8),
        },
        OpenSignal {
            signal_type: SignalType::RapidDecline,
            status: SignalStatus::Open,
            first_seen_week: w(2026, 9),
        },
        OpenSignal {
            signal_type: SignalType::WaterStress,
            status: SignalStatus::Ack,
            first_seen_week: w(2026, 9),
        },
    ];
    let evaluation = Evaluation {
        week: w(2026, 12),
        detections: vec![
            detection(SignalType::LowVigor, w(2026, 11)),
            detection(SignalType::PersistentAnomaly, w(2026, 10)),
        ],
        assessed: vec![
            SignalType::LowVigor,
            SignalType::PersistentAnomaly,
            SignalType::RapidDecline,
        ],
    };
    let changes = plan(&open, &evaluation);
    assert_eq!(changes.len(), 3, "{changes:?}");
    assert!(matches!(&changes[0], Change::Update(d)
        if d.signal_type == SignalType::LowVigor && d.first_seen_week == w(2026, 8)));
    assert!(matches!(&changes[1], Change::Open(d)
        if d.signal_type == SignalType::PersistentAnomaly));
    assert_eq!(
        changes[2],
        Change::Resolve {
            signal_type: SignalType::RapidDecline,
            reason: Resolution::Recovered
        }
    );
    // WATER_STRESS was not assessed (no weather): it stays open.
    assert_eq!(
        closed_by_harvest(&[SignalType::WaterStress, SignalType::NoRecentData], &[]),
        []
    );
    let harvest = [detection(SignalType::HarvestDetected, w(2026, 12))];
    assert_eq!(
        closed_by_harvest(
            &[
                SignalType::WaterStress,
                SignalType::NoRecentData,
                SignalType::PastureDegradation
            ],
            &harvest
        ),
        [SignalType::WaterStress]
    );
}

#[test]
fn detections_serialise_with_their_wire_names() {
    let mut weeks: Vec<FieldWeek> = weeks_to(w(2026, 2), 3)
        .into_iter()
        .map(|week| clear(week, 0.6))
        .collect();
    weeks.extend([cloudy(w(2026, 3)), cloudy(w(2026, 4)), cloudy(w(2026, 5))]);
    let series = FieldSeries {
        field_use: FieldUse::Pasture,
        weeks,
        weather: vec![],
    };
    let e = evaluate(&series, w(2026, 5));
    let json = serde_json::to_value(&e.detections[0]).unwrap();
    assert_eq!(json["type"], "NO_RECENT_DATA");
    assert_eq!(json["severity"], "LOW");
    assert_eq!(
        json["first_seen_week"],
        serde_json::json!({"year": 2026, "week": 3})
    );
    assert_eq!(json["evidence"]["weeks"][0]["status"], "CLOUDY");
    assert_eq!(json["text"]["pt-BR"]["title"], "Sem imagem recente");
    assert_eq!(json["text"]["en"]["title"], "No recent image");
    assert_eq!(
        e.detections[0].text.get(Language::PtBr).title,
        "Sem imagem recente"
    );
    assert_eq!(
        "HARVEST_DETECTED".parse::<SignalType>(),
        Ok(SignalType::HarvestDetected)
    );
    assert!("HARVEST".parse::<SignalType>().is_err());
}

#[test]
fn a_harvest_in_dry_weather_is_not_a_drought() {
    // Soybean: plateau, senescence, harvest, all under a water deficit every week.
    let mut weeks = soybean(w(2025, 40), 3, 7, &[0.78, 0.66, 0.55]);
    let harvest_week = IsoWeek::containing(weeks.last().unwrap().week.start() + Duration::weeks(1));
    weeks.push(clear(harvest_week, 0.22));
    let weather = weeks
        .iter()
        .map(|fw| WeatherWeek {
            week: fw.week,
            precip_mm: Some(0.0),
            et0_mm: Some(35.0),
        })
        .collect();
    let series = FieldSeries {
        field_use: FieldUse::Crop(Some(CropKind::Soybean)),
        weeks,
        weather,
    };
    let mut found_harvest = false;
    for fw in &series.weeks {
        let e = evaluate(&series, fw.week);
        assert!(
            e.detections.iter().all(|d| !d.signal_type.is_alarm()),
            "{}: {:?}",
            fw.week,
            e.detections
        );
        found_harvest |= found(&e, SignalType::HarvestDetected).is_some();
    }
    assert!(found_harvest);
}

#[test]
fn a_new_field_is_judged_against_its_crops_curve() {
    // No earlier seasons: a soybean field that greens up but stalls at 0.55.
    let values = [0.22, 0.22, 0.25, 0.3, 0.47, 0.52, 0.55, 0.55, 0.56, 0.55];
    let weeks: Vec<FieldWeek> = weeks_to(w(2025, 50), values.len())
        .into_iter()
        .zip(values)
        .map(|(week, v)| clear(week, v))
        .collect();
    let series = FieldSeries {
        field_use: FieldUse::Crop(Some(CropKind::Soybean)),
        weeks,
        weather: vec![],
    };
    let e = evaluate(&series, w(2025, 50));
    let d = found(&e, SignalType::LowVigor).unwrap();
    let baseline = d.evidence.baseline.as_ref().unwrap();
    assert_eq!(baseline.source, BaselineSource::CropCurve);
    assert_eq!(baseline.curve, Some("soybean"));
    // Anchor 2025-W45 (0.47): 5 weeks later the curve expects 0.845.
    assert_eq!(d.evidence.figures["expected"], 0.845);
    // 0.845 − 0.55 = 0.295, 34.9 % of expected: MEDIUM (HIGH from 35 %).
    assert_eq!(d.evidence.figures["deficit"], 0.295);
    assert_eq!(d.severity, Severity::Medium);
    // A curve is a weaker baseline than the field's own seasons.
    assert!(d.confidence <= 0.7, "{}", d.confidence);
    assert!(
        d.text.pt_br.explanation.contains("curva esperada (soja)"),
        "{}",
        d.text.pt_br.explanation
    );
}

#[test]
fn health_is_the_worst_open_alarm() {
    use SignalType::*;
    assert_eq!(health(&[]), HealthStatus::Ok);
    assert_eq!(
        health(&[(HarvestDetected, Severity::Low)]),
        HealthStatus::Ok
    );
    assert_eq!(
        health(&[(NoRecentData, Severity::High)]),
        HealthStatus::Watch
    );
    assert_eq!(health(&[(LowVigor, Severity::Low)]), HealthStatus::Watch);
    assert_eq!(
        health(&[
            (NoRecentData, Severity::Low),
            (WaterStress, Severity::Medium)
        ]),
        HealthStatus::Alert
    );
    assert_eq!(HealthStatus::Watch.as_str(), "WATCH");
}

#[test]
fn an_empty_or_unknown_field_raises_nothing() {
    for field_use in [FieldUse::Pasture, FieldUse::Crop(None)] {
        let empty = FieldSeries {
            field_use,
            weeks: vec![],
            weather: vec![],
        };
        let e = evaluate(&empty, w(2026, 10));
        assert!(e.detections.is_empty());
        // One clear week: too little to judge anything but missing data.
        let one = FieldSeries {
            weeks: vec![clear(w(2026, 10), 0.1)],
            ..empty
        };
        let e = evaluate(&one, w(2026, 10));
        assert!(e.detections.is_empty(), "{:?}", e.detections);
    }
}

/// A cloudy week with radar (RVI, VH dB).
fn cloudy_with_radar(week: IsoWeek, rvi: f64, vh_db: f64) -> FieldWeek {
    FieldWeek {
        radar: Some(RadarStat { rvi, vh_db }),
        ..cloudy(week)
    }
}

#[test]
fn cloudy_weeks_with_radar_are_not_missing_data() {
    let mut weeks: Vec<FieldWeek> = weeks_to(w(2026, 2), 6)
        .into_iter()
        .map(|week| clear(week, 0.6))
        .collect();
    weeks.extend([
        cloudy(w(2026, 3)),
        cloudy_with_radar(w(2026, 4), 0.7, -16.0),
        cloudy(w(2026, 5)),
    ]);
    let series = FieldSeries {
        field_use: FieldUse::Pasture,
        weeks: weeks.clone(),
        weather: vec![],
    };
    let e = evaluate(&series, w(2026, 5));
    assert!(found(&e, SignalType::NoRecentData).is_none());
    assert!(e.assessed.contains(&SignalType::NoRecentData));
    // Without the radar, the same weeks are three without data.
    weeks[7].radar = None;
    let series = FieldSeries { weeks, ..series };
    assert!(found(&evaluate(&series, w(2026, 5)), SignalType::NoRecentData).is_some());
}

#[test]
fn a_vh_drop_under_clouds_is_a_harvest() {
    // A soybean season to maturity, then clouds; radar follows the canopy, then drops.
    let mut weeks = soybean(w(2025, 40), 3, 8, &[0.7]);
    let last = weeks.last().unwrap().week;
    let after = |n: i64| IsoWeek::containing(last.start() + Duration::weeks(n));
    for (i, week) in weeks.iter_mut().enumerate() {
        week.radar = Some(RadarStat {
            rvi: 0.75 + wobble(i),
            vh_db: -14.0 + wobble(i),
        });
    }
    weeks.push(cloudy_with_radar(after(1), 0.74, -14.2));
    weeks.push(cloudy_with_radar(after(2), 0.38, -18.6));
    let series = FieldSeries {
        field_use: FieldUse::Crop(Some(CropKind::Soybean)),
        weeks: weeks.clone(),
        weather: vec![],
    };
    let before = evaluate(&series, after(1));
    assert!(found(&before, SignalType::HarvestDetected).is_none());
    let e = evaluate(&series, after(2));
    let d = found(&e, SignalType::HarvestDetected).expect("a radar harvest");
    assert_eq!(d.first_seen_week, after(2));
    assert_eq!(d.evidence.index, "vh_db");
    assert_eq!(d.evidence.figures["vh_drop_db"], 4.4);
    assert!(d.text.en.title.contains("radar"), "{}", d.text.en.title);
    assert!(e.detections.iter().all(|d| !d.signal_type.is_alarm()));
    // A small wobble of the radar is no harvest.
    let mut calm = weeks;
    let n = calm.len();
    calm[n - 1].radar = Some(RadarStat {
        rvi: 0.7,
        vh_db: -14.9,
    });
    let series = FieldSeries {
        weeks: calm,
        ..series
    };
    assert!(found(&evaluate(&series, after(2)), SignalType::HarvestDetected).is_none());
}
