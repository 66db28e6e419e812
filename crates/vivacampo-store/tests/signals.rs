//! Signals on both engines: the lifecycle applied from real evaluations (open, update,
//! resolve), idempotence, the one-open rule, NOTIFY events, members' changes, tenant isolation
//! and field deletion.

use vivacampo_core::jobs::JobType;
use vivacampo_core::signals::{Language, SignalStatus, SignalType, evaluate};
use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};
use vivacampo_store::queue::JobFilter;
use vivacampo_store::signals::{SignalAction, SignalFilter};
use vivacampo_store::testing::{TestDb, duplicate_open_signal};
use vivacampo_store::{PageRequest, Store, StoreError};

async fn field(store: &Store, email: &str) -> (String, String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email,
                name: "A",
                password_hash: "h",
                is_system_admin: false,
            },
            "W",
        )
        .await
        .unwrap();
    let farm = store
        .create_farm(&tenant.id, &identity.id, "F", "UTC")
        .await
        .unwrap();
    let shape = Shape {
        geometry: serde_json::json!({"type": "MultiPolygon", "coordinates": []}),
        area_ha: 10.0,
        bbox: [0.0; 4],
    };
    let (aoi, _) = store
        .create_aoi(
            &tenant.id,
            &identity.id,
            NewAoi {
                farm_id: farm.id,
                name: "Talhão 7".into(),
                use_type: "CROP".into(),
                shape,
                backfill_weeks: 8,
            },
        )
        .await
        .unwrap();
    (identity.id, tenant.id, aoi.id)
}

fn week(w: u8) -> IsoWeek {
    IsoWeek::new(2026, w).unwrap()
}

fn result(w: u8, status: WeekStatus, ndvi: Option<f64>) -> WeekResult {
    WeekResult {
        week: week(w),
        status,
        scene_datetime: Some(week(w).start().midnight().assume_utc().unix_timestamp() * 1000),
        cloud_fraction: Some(if status == WeekStatus::Ok { 0.02 } else { 0.9 }),
        valid_pixel_ratio: Some(if status == WeekStatus::Ok { 0.95 } else { 0.05 }),
        raster_key: None,
        raster_bytes: None,
        scenes: serde_json::json!([{"id": format!("S2A_MSIL2A_2026W{w:02}"), "datetime": "2026-03-02T13:30:00Z"}]),
        stats: ndvi
            .map(|mean| IndexStats {
                index: "ndvi".into(),
                count: 1000,
                valid_count: 950,
                mean: Some(mean),
                std: Some(0.05),
                min: Some(mean - 0.2),
                max: Some(mean + 0.1),
                p10: Some(mean - 0.08),
                p50: Some(mean),
                p90: Some(mean + 0.05),
            })
            .into_iter()
            .collect(),
    }
}

/// Judges the field at its newest week and applies the result, as DETECT_SIGNALS does.
async fn detect(store: &Store, tenant: &str, aoi: &str) -> vivacampo_store::signals::Applied {
    let series = store.field_series(tenant, aoi).await.unwrap();
    let at = series.weeks.iter().map(|w| w.week).max().unwrap();
    store
        .apply_evaluation(tenant, aoi, &evaluate(&series, at))
        .await
        .unwrap()
}

async fn notify_jobs(store: &Store, tenant: &str) -> Vec<serde_json::Value> {
    store
        .list_jobs(
            Some(tenant),
            &JobFilter {
                job_type: Some(JobType::Notify),
                ..Default::default()
            },
            PageRequest::default(),
        )
        .await
        .unwrap()
        .items
        .into_iter()
        .map(|j| j.payload)
        .collect()
}

#[tokio::test]
async fn the_lifecycle_opens_updates_and_resolves_once_per_field_and_type() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant, aoi) = field(store, "a@x.io").await;
        store
            .record_aoi_week(&tenant, &aoi, &result(10, WeekStatus::Ok, Some(0.7)))
            .await
            .unwrap();
        for w in 11..=14 {
            store
                .record_aoi_week(&tenant, &aoi, &result(w, WeekStatus::Cloudy, None))
                .await
                .unwrap();
        }
        let series = store.field_series(&tenant, &aoi).await.unwrap();
        assert_eq!(series.weeks.len(), 5);
        assert!((series.weeks[0].ndvi.unwrap().p10.unwrap() - 0.62).abs() < 1e-9);
        assert_eq!(series.weeks[0].scene_ids, ["S2A_MSIL2A_2026W10"]);

        // Four weeks without a clear image: NO_RECENT_DATA opens, with a NOTIFY event.
        let applied = detect(store, &tenant, &aoi).await;
        assert_eq!(applied.opened.len(), 1, "{applied:?}");
        let signal = store.signal(&tenant, &applied.opened[0]).await.unwrap();
        assert_eq!(signal.signal_type, SignalType::NoRecentData);
        assert_eq!(signal.status, SignalStatus::Open);
        assert_eq!(signal.week, week(14));
        assert_eq!(signal.first_seen_week, week(11));
        assert_eq!(signal.aoi_name, "Talhão 7");
        let json = signal.json(Language::PtBr);
        assert_eq!(json["type"], "NO_RECENT_DATA");
        assert_eq!(
            json["first_seen_week"],
            serde_json::json!({"year": 2026, "week": 11})
        );
        assert!(
            json["evidence"]["scene_ids"]
                .as_array()
                .unwrap()
                .contains(&serde_json::json!("S2A_MSIL2A_2026W14"))
        );
        assert_ne!(
            json["title"],
            signal.json(Language::En)["title"],
            "texts in both languages"
        );
        let events = notify_jobs(store, &tenant).await;
        assert_eq!(events.len(), 1);
        assert_eq!(events[0]["event"], "signal.opened");
        assert_eq!(events[0]["tenant_id"], tenant.as_str());
        assert_eq!(events[0]["data"]["id"], signal.id.as_str());
        assert_eq!(events[0]["data"]["title"], signal.texts.en.title.as_str());
        assert_eq!(
            events[0]["texts"]["pt-BR"]["title"],
            signal.texts.pt_br.title.as_str()
        );
        assert!(events[0]["texts"]["en"]["actions"].is_array());

        // Reprocessing the same weeks changes nothing: same rows, no new event.
        let again = detect(store, &tenant, &aoi).await;
        assert_eq!(
            (
                again.opened.len(),
                again.updated.len(),
                again.resolved.len()
            ),
            (0, 0, 0)
        );
        assert_eq!(again.unchanged, 1);
        assert_eq!(store.signal(&tenant, &signal.id).await.unwrap(), signal);
        assert_eq!(notify_jobs(store, &tenant).await.len(), 1);

        // The database holds one open signal per field and type.
        assert!(matches!(
            duplicate_open_signal(store, &signal.id).await,
            Err(StoreError::Conflict(_))
        ));

        // An ACK still follows the field: a recurrence updates it.
        let acked = store
            .set_signal_status(
                &tenant,
                &actor,
                &signal.id,
                SignalAction::Ack,
                Some("vou ver"),
                None,
            )
            .await
            .unwrap();
        assert_eq!(acked.status, SignalStatus::Ack);
        store
            .record_aoi_week(&tenant, &aoi, &result(15, WeekStatus::NoData, None))
            .await
            .unwrap();
        let update = detect(store, &tenant, &aoi).await;
        assert_eq!(update.updated, std::slice::from_ref(&signal.id));
        let updated = store.signal(&tenant, &signal.id).await.unwrap();
        assert_eq!(
            (updated.status, updated.week, updated.first_seen_week),
            (SignalStatus::Ack, week(15), week(11))
        );

        // A clear week: the condition is gone, the system resolves it.
        store
            .record_aoi_week(&tenant, &aoi, &result(16, WeekStatus::Ok, Some(0.72)))
            .await
            .unwrap();
        let recovered = detect(store, &tenant, &aoi).await;
        assert_eq!(recovered.resolved, std::slice::from_ref(&signal.id));
        let resolved = store.signal(&tenant, &signal.id).await.unwrap();
        assert_eq!(resolved.status, SignalStatus::Resolved);
        assert_eq!(resolved.resolved_by.as_deref(), Some("system"));
        assert_eq!(resolved.resolution.as_deref(), Some("RECOVERED"));
        assert_eq!(resolved.note.as_deref(), Some("vou ver"));
        let events = notify_jobs(store, &tenant).await;
        assert_eq!(events.len(), 2);
        assert!(events.iter().any(|e| e["event"] == "signal.resolved"
            && e["data"]["status"] == "RESOLVED"
            && e["data"]["resolved_by"] == "system"));
        assert_eq!(detect(store, &tenant, &aoi).await, Default::default());

        let open = store
            .list_signals(
                &tenant,
                &SignalFilter {
                    status: Some(SignalStatus::Open),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(open.total, 0);
        assert_eq!(
            store
                .list_signals(&tenant, &SignalFilter::default(), PageRequest::default())
                .await
                .unwrap()
                .total,
            1
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn members_change_signals_of_their_own_tenant_only() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant, aoi) = field(store, "a@x.io").await;
        let (other_actor, other_tenant, _) = field(store, "b@x.io").await;
        for w in 10..=13 {
            store
                .record_aoi_week(&tenant, &aoi, &result(w, WeekStatus::Cloudy, None))
                .await
                .unwrap();
        }
        let id = detect(store, &tenant, &aoi).await.opened[0].clone();

        // Another tenant sees nothing and changes nothing.
        assert!(matches!(
            store.signal(&other_tenant, &id).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(
            store
                .list_signals(
                    &other_tenant,
                    &SignalFilter::default(),
                    PageRequest::default()
                )
                .await
                .unwrap()
                .total,
            0
        );
        assert!(matches!(
            store
                .set_signal_status(
                    &other_tenant,
                    &other_actor,
                    &id,
                    SignalAction::Dismiss,
                    None,
                    None
                )
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            store.field_series(&other_tenant, &aoi).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            store
                .open_signals_by_aoi(&other_tenant)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            store.open_signals_by_aoi(&tenant).await.unwrap()[&aoi].len(),
            1
        );

        // A member resolves with a note and feedback; the end is final.
        let done = store
            .set_signal_status(
                &tenant,
                &actor,
                &id,
                SignalAction::Resolve,
                Some("choveu"),
                Some(true),
            )
            .await
            .unwrap();
        assert_eq!(done.status, SignalStatus::Resolved);
        assert_eq!(done.resolved_by.as_deref(), Some("member"));
        assert_eq!(done.status_changed_by.as_deref(), Some(actor.as_str()));
        assert_eq!(
            (done.note.as_deref(), done.useful),
            (Some("choveu"), Some(true))
        );
        assert!(matches!(
            store
                .set_signal_status(&tenant, &actor, &id, SignalAction::Ack, None, None)
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(
            notify_jobs(store, &tenant)
                .await
                .iter()
                .any(|e| e["event"] == "signal.resolved" && e["data"]["resolved_by"] == "member")
        );

        // The condition persists: a new signal opens beside the resolved one.
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let reopened = detect(store, &tenant, &aoi).await;
        assert_eq!(reopened.opened.len(), 1);
        assert_ne!(reopened.opened[0], id);

        // Filters.
        let by_type = store
            .list_signals(
                &tenant,
                &SignalFilter {
                    signal_type: Some(SignalType::WaterStress),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(by_type.total, 0);
        let newest = store
            .list_signals(
                &tenant,
                &SignalFilter {
                    aoi_id: Some(aoi.clone()),
                    signal_type: Some(SignalType::NoRecentData),
                    ..Default::default()
                },
                PageRequest::default(),
            )
            .await
            .unwrap();
        assert_eq!(newest.total, 2);
        assert_eq!(newest.items[0].id, reopened.opened[0], "newest first");

        // Deleting the field removes its signals.
        store.delete_aoi(&tenant, &actor, &aoi).await.unwrap();
        assert_eq!(
            store
                .list_signals(&tenant, &SignalFilter::default(), PageRequest::default())
                .await
                .unwrap()
                .total,
            0
        );
        assert!(matches!(
            store.signal(&tenant, &id).await,
            Err(StoreError::NotFound)
        ));
        db.drop_db().await;
    }
}
