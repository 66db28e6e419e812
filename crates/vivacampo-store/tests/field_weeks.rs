//! Processed field-weeks on both engines: idempotent writes, baseline and anomaly, history.

use vivacampo_core::weeks::IsoWeek;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};
use vivacampo_store::testing::TestDb;
use vivacampo_store::{Store, StoreError};

async fn field(store: &Store) -> (String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email: "a@x.io",
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
                name: "T".into(),
                use_type: "CROP".into(),
                shape,
                backfill_weeks: 8,
            },
        )
        .await
        .unwrap();
    (tenant.id, aoi.id)
}

fn ndvi(mean: f64) -> IndexStats {
    IndexStats {
        index: "ndvi".into(),
        count: 1000,
        valid_count: 900,
        mean: Some(mean),
        std: Some(0.05),
        min: Some(mean - 0.2),
        max: Some(mean + 0.1),
        p10: Some(mean - 0.1),
        p50: Some(mean),
        p90: Some(mean + 0.05),
    }
}

fn ok_week(year: i32, week: u8, mean: f64) -> WeekResult {
    WeekResult {
        week: IsoWeek::new(year, week).unwrap(),
        status: WeekStatus::Ok,
        scene_datetime: Some(1_772_446_500_000),
        cloud_fraction: Some(0.05),
        valid_pixel_ratio: Some(0.9),
        raster_key: Some(format!("tenants/t/aois/a/{year}/W{week:02}/v1.tif")),
        raster_bytes: Some(4096),
        scenes: serde_json::json!([{"id": format!("S2B_{year}_{week}"), "datetime": "2026-03-02T13:30:00Z"}]),
        stats: vec![ndvi(mean)],
    }
}

#[tokio::test]
async fn weeks_are_recorded_once_with_baselines() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (tenant, aoi) = field(store).await;
        for (w, mean) in [(6, 0.40), (7, 0.50), (8, 0.60), (9, 0.70)] {
            store
                .record_aoi_week(&tenant, &aoi, &ok_week(2026, w, mean))
                .await
                .unwrap();
        }
        let cloudy = WeekResult {
            status: WeekStatus::Cloudy,
            valid_pixel_ratio: Some(0.08),
            stats: vec![ndvi(0.2)],
            ..ok_week(2026, 10, 0.0)
        };
        store.record_aoi_week(&tenant, &aoi, &cloudy).await.unwrap();
        // Week 11 twice: the second run replaces the first.
        store
            .record_aoi_week(&tenant, &aoi, &ok_week(2026, 11, 0.10))
            .await
            .unwrap();
        store
            .record_aoi_week(&tenant, &aoi, &ok_week(2026, 11, 0.75))
            .await
            .unwrap();

        let history = store
            .aoi_history(&tenant, &aoi, "ndvi", None, None)
            .await
            .unwrap();
        assert_eq!(history.len(), 6);
        assert_eq!(
            history[0].week,
            IsoWeek::new(2026, 6).unwrap(),
            "oldest first"
        );
        assert_eq!(history[0].baseline, None, "no earlier week");
        let w9 = &history[3];
        assert!(
            (w9.baseline.unwrap() - 0.5).abs() < 1e-12,
            "mean of weeks 6-8"
        );
        assert!((w9.anomaly.unwrap() - 0.2).abs() < 1e-12);
        let w10 = &history[4];
        assert_eq!(
            (w10.status.as_str(), w10.stats.is_none(), w10.anomaly),
            ("CLOUDY", true, None)
        );
        let w11 = &history[5];
        assert_eq!(w11.stats.as_ref().unwrap().mean, Some(0.75));
        assert!(
            (w11.baseline.unwrap() - 0.55).abs() < 1e-12,
            "the CLOUDY week does not count: weeks 6-9"
        );

        let ranged = store
            .aoi_history(
                &tenant,
                &aoi,
                "ndvi",
                IsoWeek::new(2026, 8),
                IsoWeek::new(2026, 10),
            )
            .await
            .unwrap();
        assert_eq!(ranged.len(), 3);
        assert!(
            store
                .aoi_history(&tenant, &aoi, "ndre", None, None)
                .await
                .unwrap()
                .iter()
                .all(|p| p.stats.is_none())
        );

        let weeks = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(weeks.len(), 6);
        assert_eq!(
            weeks[0].week,
            IsoWeek::new(2026, 11).unwrap(),
            "newest first"
        );
        assert_eq!(weeks[0].indices, vec!["ndvi".to_owned()]);
        assert_eq!(weeks[0].scenes[0]["id"], "S2B_2026_11");

        assert!(matches!(
            store
                .record_aoi_week("other-tenant", &aoi, &ok_week(2026, 12, 0.5))
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(
            store
                .aoi_history("other-tenant", &aoi, "ndvi", None, None)
                .await
                .unwrap()
                .is_empty()
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn same_week_last_year_is_the_baseline() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (tenant, aoi) = field(store).await;
        store
            .record_aoi_week(&tenant, &aoi, &ok_week(2025, 10, 0.30))
            .await
            .unwrap();
        store
            .record_aoi_week(&tenant, &aoi, &ok_week(2026, 9, 0.90))
            .await
            .unwrap();
        store
            .record_aoi_week(&tenant, &aoi, &ok_week(2026, 10, 0.50))
            .await
            .unwrap();
        let history = store
            .aoi_history(&tenant, &aoi, "ndvi", IsoWeek::new(2026, 10), None)
            .await
            .unwrap();
        assert!((history[0].baseline.unwrap() - 0.30).abs() < 1e-12);
        assert!((history[0].anomaly.unwrap() - 0.20).abs() < 1e-12);
        db.drop_db().await;
    }
}

/// A field whose delete commits while its week is being recorded: the record answers
/// `NotFound` (on PostgreSQL the insert breaks the foreign key), never a database error.
#[tokio::test]
async fn a_field_deleted_while_its_week_is_recorded_is_not_found() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (tenant, aoi) = field(store).await;
        let mut other = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url)
            .await
            .unwrap();
        sqlx::query("BEGIN").execute(&mut other).await.unwrap();
        sqlx::query("DELETE FROM aois WHERE id = $1")
            .bind(&aoi)
            .execute(&mut other)
            .await
            .unwrap();
        let recording = {
            let store = store.clone();
            let (tenant, aoi) = (tenant.clone(), aoi.clone());
            tokio::spawn(async move {
                store
                    .record_aoi_week(&tenant, &aoi, &ok_week(2026, 12, 0.5))
                    .await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        sqlx::query("COMMIT").execute(&mut other).await.unwrap();
        let recorded = recording.await.unwrap();
        assert!(
            matches!(recorded, Err(StoreError::NotFound)),
            "{:?}: {recorded:?}",
            db.backend()
        );
        let weeks: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM aoi_weeks WHERE aoi_id = $1")
            .bind(&aoi)
            .fetch_one(&mut other)
            .await
            .unwrap();
        assert_eq!(weeks, 0);
        drop(other);
        db.drop_db().await;
    }
}
