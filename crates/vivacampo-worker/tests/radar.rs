//! PROCESS_RADAR_WEEK end to end: a backfill fans out radar weeks, the worker reads Sentinel-1
//! RTC COGs from a loopback STAC API and writes the radar COG and statistics, which equal an
//! independent rasterio + numpy computation (`scripts/radar-fixtures.py`). SQLite, and
//! PostgreSQL when configured.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vivacampo_core::jobs::{JobStatus, JobType};
use vivacampo_core::metrics::Registry;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::radar::StacRadar;
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::NewJob;
use vivacampo_store::radar::RadarWeekRecord;
use vivacampo_store::testing::TestDb;
use vivacampo_worker::process_radar::Radar;
use vivacampo_worker::process_week::Imagery;
use vivacampo_worker::{StandardHandlers, Worker, WorkerConfig};

fn fixtures() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

async fn serve_catalog(dir: &std::path::Path) -> String {
    let app = vivacampo_imagery::catalog_server::router(dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn imagery(radar_source: &str, rasters: &std::path::Path) -> Imagery {
    vivacampo_imagery::install_crypto_provider();
    let http = HttpOptions::default();
    let sources = Sources::new(SourceOptions::default());
    let store = RasterStore::local(rasters).unwrap();
    Imagery {
        catalog: Catalog::from_config(
            fixtures().join("reference-catalog").to_str().unwrap(),
            &http,
        )
        .unwrap(),
        sources: sources.clone(),
        rasters: store.clone(),
        sentinel_hub: None,
        radar: Some(Radar {
            source: Arc::new(StacRadar {
                catalog: Catalog::radar_from_config(radar_source, &http).unwrap(),
                sources,
            }),
            rasters: store,
        }),
    }
}

async fn field(store: &Store, reference: &serde_json::Value) -> (String, String) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email: "ana@x.io",
                name: "Ana",
                password_hash: "h",
                is_system_admin: false,
            },
            "W",
        )
        .await
        .unwrap();
    let farm = store
        .create_farm(&tenant.id, &identity.id, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let geometry =
        vivacampo_core::geometry::FieldGeometry::from_geojson(&reference["field"]).unwrap();
    let (aoi, _) = store
        .create_aoi(
            &tenant.id,
            &identity.id,
            NewAoi {
                farm_id: farm.id,
                name: "Radar".into(),
                use_type: "CROP".into(),
                shape: Shape {
                    geometry: geometry.to_geojson(),
                    area_ha: geometry.area_ha(),
                    bbox: geometry.bbox(),
                },
                backfill_weeks: 1,
            },
        )
        .await
        .unwrap();
    (tenant.id, aoi.id)
}

/// Waits for the field's radar week.
async fn radar_week(store: &Store, tenant: &str, aoi: &str, week: IsoWeek) -> RadarWeekRecord {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    while tokio::time::Instant::now() < deadline {
        if let Some(r) = store
            .radar_week_records(tenant, aoi)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.week == week)
        {
            return r;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no radar week {week} on {}", store.backend().name());
}

#[tokio::test]
async fn radar_statistics_equal_an_independent_rasterio_computation() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("radar-reference.json")).unwrap(),
    )
    .unwrap();
    let week = IsoWeek::new(2026, 10).unwrap();
    let stac = serve_catalog(&fixtures().join("radar-catalog")).await;
    for db in TestDb::all().await {
        let store = &db.store;
        let (tenant, aoi) = field(store, &reference).await;
        // A backfill of week 10 fans out PROCESS_WEEK and PROCESS_RADAR_WEEK.
        let backfill = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: Some(aoi.clone()),
                job_type: JobType::Backfill,
                idempotency_key: None,
                payload: serde_json::json!({"from_week": {"year": 2026, "week": 10}, "to_week": {"year": 2026, "week": 10}}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        let rasters = std::env::temp_dir().join(format!("vc-radar-{}", uuid::Uuid::new_v4()));
        let (stop, rx) = watch::channel(false);
        let worker = Worker::new(
            store.clone(),
            StandardHandlers {
                imagery: imagery(&stac, &rasters),
                weather: None,
            },
            WorkerConfig {
                worker_id: "radar".into(),
                concurrency: 2,
                lease: Duration::from_secs(10),
                heartbeat: Duration::from_millis(500),
                poll_interval: Duration::from_millis(50),
                shutdown_grace: Duration::from_millis(300),
                job_timeout: None,
            },
            Arc::new(Registry::new()),
        );
        let handle = tokio::spawn(worker.run(rx));
        let record = radar_week(store, &tenant, &aoi, week).await;
        let job = store.job(&tenant, &backfill).await.unwrap();
        assert_ne!(job.status, JobStatus::Dead);
        stop.send(true).unwrap();
        handle.await.unwrap();

        assert_eq!(record.status, "OK");
        assert_eq!(record.orbit.as_deref(), Some("descending"));
        assert_eq!(
            store.radar_orbit(&tenant, &aoi).await.unwrap().as_deref(),
            Some("descending"),
            "the field's orbit direction is pinned"
        );
        let used: Vec<&str> = record
            .scenes
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["id"].as_str().unwrap())
            .collect();
        let expected: Vec<&str> = reference["scenes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s.as_str().unwrap())
            .collect();
        assert_eq!(used, expected, "descending scenes only, newest first");
        let close = |ours: f64, theirs: &serde_json::Value, what: &str| {
            let theirs = theirs.as_f64().unwrap();
            assert!(
                (ours - theirs).abs() < 1e-6,
                "{what}: ours {ours}, rasterio {theirs}"
            );
        };
        close(
            record.valid_pixel_ratio.unwrap(),
            &reference["valid_pixel_ratio"],
            "valid ratio",
        );
        for index in ["rvi", "vh_vv", "vv_db", "vh_db"] {
            let point = store
                .radar_history(&tenant, &aoi, index, Some(week), Some(week))
                .await
                .unwrap()
                .pop()
                .unwrap();
            let stats = point.stats.expect("the radar week is OK");
            let r = &reference[index];
            assert_eq!(stats.count, reference["field_pixels"].as_i64().unwrap());
            assert_eq!(stats.valid_count, r["valid_count"].as_i64().unwrap());
            close(stats.mean.unwrap(), &r["mean"], &format!("{index} mean"));
            close(stats.std.unwrap(), &r["std"], &format!("{index} std"));
            close(stats.min.unwrap(), &r["min"], &format!("{index} min"));
            close(stats.max.unwrap(), &r["max"], &format!("{index} max"));
            close(stats.p10.unwrap(), &r["p10"], &format!("{index} p10"));
            close(stats.p50.unwrap(), &r["p50"], &format!("{index} p50"));
            close(stats.p90.unwrap(), &r["p90"], &format!("{index} p90"));
        }

        // The radar COG: VV, VH, mask on the field grid; the orphan sweep keeps it.
        let key = record.raster_key.unwrap();
        assert!(key.contains("/radar/"), "{key}");
        let cog = std::fs::read(rasters.join(&key)).unwrap();
        let tiff = vivacampo_raster::tiff::open(&cog).unwrap();
        assert_eq!(tiff.bands(), 3);
        assert_eq!(tiff.georef.unwrap().epsg, Some(32722));
        assert!(store.raster_keys(&tenant).await.unwrap().contains(&key));
        let _ = std::fs::remove_dir_all(rasters);
        db.drop_db().await;
    }
}

/// Without a scene of the field's direction in the week, the radar week is NO_DATA; a radar
/// catalog that fails makes the job fail, not the optical week.
#[tokio::test]
async fn a_week_without_radar_is_no_data() {
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("radar-reference.json")).unwrap(),
    )
    .unwrap();
    let week = IsoWeek::new(2026, 2).unwrap();
    for db in TestDb::all().await {
        let store = &db.store;
        let (tenant, aoi) = field(store, &reference).await;
        let job = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: Some(aoi.clone()),
                job_type: JobType::ProcessRadarWeek,
                idempotency_key: None,
                payload: serde_json::json!({"aoi_id": aoi, "year": 2026, "week": 2, "geometry_version": 1}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        let rasters = std::env::temp_dir().join(format!("vc-radar-{}", uuid::Uuid::new_v4()));
        let (stop, rx) = watch::channel(false);
        let worker = Worker::new(
            store.clone(),
            StandardHandlers {
                imagery: imagery(fixtures().join("radar-catalog").to_str().unwrap(), &rasters),
                weather: None,
            },
            WorkerConfig {
                worker_id: "radar".into(),
                concurrency: 1,
                lease: Duration::from_secs(10),
                heartbeat: Duration::from_millis(500),
                poll_interval: Duration::from_millis(50),
                shutdown_grace: Duration::from_millis(300),
                job_timeout: None,
            },
            Arc::new(Registry::new()),
        );
        let handle = tokio::spawn(worker.run(rx));
        let record = radar_week(store, &tenant, &aoi, week).await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
        while store.job(&tenant, &job).await.unwrap().status != JobStatus::Succeeded {
            assert!(
                tokio::time::Instant::now() < deadline,
                "the job never succeeded"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        handle.await.unwrap();
        assert_eq!(record.status, "NO_DATA");
        assert_eq!(record.raster_key, None);
        let _ = std::fs::remove_dir_all(rasters);
        db.drop_db().await;
    }
}
