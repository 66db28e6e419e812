//! The worker loop against a real database (SQLite, and PostgreSQL when configured).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vivacampo_core::jobs::{JobStatus, JobType, Progress};
use vivacampo_core::metrics::Registry;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::demo::DemoOptions;
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::{Job, NewJob};
use vivacampo_store::testing::{TestDb, child_jobs, lock_job_row, make_job_ready, set_job_timeout};
use vivacampo_worker::handlers::{HandlerResult, JobContext};
use vivacampo_worker::process_week::Imagery;
use vivacampo_worker::{JobHandler, StandardHandlers, Worker, WorkerConfig};

/// Test behaviours chosen by the job payload's "do" field.
struct Scripted;

impl JobHandler for Scripted {
    fn handle(&self, ctx: JobContext) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
        Box::pin(async move {
            match ctx.job.payload["do"].as_str() {
                Some("fail") => Err("the source answered garbage".into()),
                Some("fail-naming-a-file") => Err(
                    "raster store: file:///srv/vivacampo/rasters/tenants/t/x.tif: Permission denied"
                        .into(),
                ),
                Some("hang") => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Ok(serde_json::json!({}))
                }
                Some("hold-row") => {
                    let tx = lock_job_row(&ctx.store, &ctx.job.id)
                        .await
                        .map_err(|e| e.to_string())?;
                    tokio::time::sleep(Duration::from_millis(300)).await;
                    tx.commit().await.map_err(|e| e.to_string())?;
                    Ok(serde_json::json!({}))
                }
                _ => Ok(serde_json::json!({"ok": true})),
            }
        })
    }
}

fn fast_config(id: &str) -> WorkerConfig {
    WorkerConfig {
        worker_id: id.to_owned(),
        concurrency: 2,
        lease: Duration::from_millis(600),
        heartbeat: Duration::from_millis(100),
        poll_interval: Duration::from_millis(50),
        shutdown_grace: Duration::from_millis(300),
        job_timeout: None,
    }
}

/// For tests that run real imagery or must not lose a lease: on a loaded 2-core machine a debug
/// build can miss a heartbeat of a sub-second lease, and the retry's backoff outlasts the test.
fn steady_config(id: &str) -> WorkerConfig {
    WorkerConfig {
        lease: Duration::from_secs(10),
        heartbeat: Duration::from_millis(500),
        ..fast_config(id)
    }
}

fn start<H: JobHandler + 'static>(
    store: &Store,
    handler: H,
    config: WorkerConfig,
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let (tx, rx) = watch::channel(false);
    let worker = Worker::new(store.clone(), handler, config, Arc::new(Registry::new()));
    (tx, tokio::spawn(worker.run(rx)))
}

async fn tenant(store: &Store) -> (String, String) {
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
    (identity.id, tenant.id)
}

async fn enqueue(store: &Store, tenant: &str, action: &str) -> String {
    store
        .enqueue(NewJob {
            tenant_id: tenant.to_owned(),
            aoi_id: None,
            job_type: JobType::ProcessWeek,
            idempotency_key: None,
            payload: serde_json::json!({"do": action}),
            run_after: None,
        })
        .await
        .unwrap()
        .job
        .id
}

/// Polls the job until `what` holds; generous, as the machine may be busy with other suites.
async fn wait_for(store: &Store, tenant: &str, id: &str, what: impl Fn(&Job) -> bool) -> Job {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while tokio::time::Instant::now() < deadline {
        let job = store.job(tenant, id).await.unwrap();
        if what(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A parent stuck short of its progress is explained by its children and their attempts.
    let mut children = String::new();
    for child in child_jobs(store, tenant, id).await.unwrap() {
        let runs: Vec<String> = store
            .job_runs(tenant, &child.id)
            .await
            .unwrap()
            .into_iter()
            .map(|r| {
                format!(
                    "{} {} by {}: {:?}",
                    r.attempt, r.status, r.worker_id, r.error
                )
            })
            .collect();
        children.push_str(&format!(
            "\n  {} {} {:?}, attempts {}/{}, last_error {:?}, runs [{}]",
            child.job_type,
            child.payload,
            child.status,
            child.attempts,
            child.max_attempts,
            child.last_error,
            runs.join("; ")
        ));
    }
    panic!(
        "job {id} never reached the expected state on {}: {:?}\nchildren:{children}",
        store.backend().name(),
        store.job(tenant, id).await.unwrap()
    );
}

/// A field in the offline demo imagery (the demo farm's centre pivot).
fn pivot_field() -> Shape {
    pivot_field_shifted(0.0)
}

/// The demo pivot moved `east` degrees of longitude.
fn pivot_field_shifted(east: f64) -> Shape {
    pivot_shape(east, vivacampo_imagery::demo::DEMO_PIVOT.1)
}

/// A circle of `radius` metres at the demo pivot's centre moved `east` degrees of longitude.
fn pivot_shape(east: f64, radius: f64) -> Shape {
    let ((lon, lat), _) = vivacampo_imagery::demo::DEMO_PIVOT;
    let lon = lon + east;
    let ring: Vec<[f64; 2]> = (0..=32)
        .map(|i| {
            let a = f64::from(i % 32) / 32.0 * std::f64::consts::TAU;
            [
                lon + radius * a.cos() / (111_320.0 * lat.to_radians().cos()),
                lat + radius * a.sin() / 110_574.0,
            ]
        })
        .collect();
    let field = vivacampo_core::geometry::FieldGeometry::from_geojson(
        &serde_json::json!({"type": "Polygon", "coordinates": [ring]}),
    )
    .unwrap();
    Shape {
        geometry: field.to_geojson(),
        area_ha: field.area_ha(),
        bbox: field.bbox(),
    }
}

/// A small offline catalog of the last weeks and an empty raster store, in a temp dir.
fn demo_imagery(weeks: u32) -> (Imagery, std::path::PathBuf) {
    vivacampo_imagery::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("vc-worker-imagery-{}", uuid::Uuid::new_v4()));
    let mut options = DemoOptions::new(weeks, time::OffsetDateTime::now_utc().date());
    options.size_m = 4_000.0;
    vivacampo_imagery::demo::generate(&dir.join("catalog"), &options, |_, _| {}).unwrap();
    let imagery = imagery_from(dir.join("catalog").to_str().unwrap(), &dir.join("rasters"));
    (imagery, dir)
}

fn imagery_from(catalog: &str, rasters: &std::path::Path) -> Imagery {
    Imagery {
        catalog: Catalog::from_config(catalog, &HttpOptions::default()).unwrap(),
        sources: Sources::new(SourceOptions::default()),
        rasters: RasterStore::local(rasters).unwrap(),
        sentinel_hub: None,
        radar: None,
    }
}

/// Serves a catalog directory as a STAC API on loopback; returns its URL.
async fn serve_catalog(dir: &std::path::Path) -> String {
    let app = vivacampo_imagery::catalog_server::router(dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

/// Creates the pivot field with a backfill of `weeks` and waits for its weeks.
async fn backfilled_pivot(store: &Store, tenant: &str, actor: &str, weeks: u32) -> (String, Job) {
    let farm = store
        .create_farm(tenant, actor, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let (aoi, job_id) = store
        .create_aoi(
            tenant,
            actor,
            NewAoi {
                farm_id: farm.id,
                name: "Pivô".into(),
                use_type: "CROP".into(),
                shape: pivot_field(),
                backfill_weeks: weeks,
            },
        )
        .await
        .unwrap();
    let job = wait_for(store, tenant, &job_id, |j| {
        j.status == JobStatus::Succeeded && j.progress.done == i64::from(weeks)
    })
    .await;
    (aoi.id, job)
}

#[tokio::test]
async fn the_pipeline_over_a_loopback_stac_api_matches_the_directory_catalog() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (direct, dir) = demo_imagery(2);
        let url = serve_catalog(&dir.join("catalog")).await;
        let over_http = imagery_from(&url, &dir.join("rasters-http"));

        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery: over_http,
                weather: None,
            },
            steady_config("w1"),
        );
        let (via_http, _) = backfilled_pivot(store, &tenant, &actor, 2).await;
        stop.send(true).unwrap();
        handle.await.unwrap();
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery: direct,
                weather: None,
            },
            steady_config("w2"),
        );
        let (via_dir, _) = backfilled_pivot(store, &tenant, &actor, 2).await;
        stop.send(true).unwrap();
        handle.await.unwrap();

        let http_weeks = store
            .aoi_history(&tenant, &via_http, "ndvi", None, None)
            .await
            .unwrap();
        let dir_weeks = store
            .aoi_history(&tenant, &via_dir, "ndvi", None, None)
            .await
            .unwrap();
        assert_eq!(http_weeks.len(), 2);
        assert!(
            http_weeks.iter().any(|w| w.stats.is_some()),
            "{http_weeks:?}"
        );
        for (h, d) in http_weeks.iter().zip(&dir_weeks) {
            assert_eq!((h.week, &h.status, &h.stats), (d.week, &d.status, &d.stats));
        }
        let records = store.aoi_week_records(&tenant, &via_http).await.unwrap();
        for r in records.iter().filter(|r| r.raster_key.is_some()) {
            let key = r.raster_key.as_deref().unwrap();
            assert!(dir.join("rasters-http").join(key).is_file());
            assert!(r.scenes.as_array().is_some_and(|s| !s.is_empty()));
        }
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn backfill_processes_weeks_into_statistics_and_cogs() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(2);
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let (aoi_id, job) = backfilled_pivot(store, &tenant, &actor, 2).await;
        assert_eq!(job.progress, Progress { done: 2, total: 2 });

        let weeks = store.aoi_week_records(&tenant, &aoi_id).await.unwrap();
        assert_eq!(weeks.len(), 2);
        let processed: Vec<_> = weeks
            .iter()
            .filter(|w| w.status == "OK" || w.status == "CLOUDY")
            .collect();
        assert!(!processed.is_empty(), "{weeks:?}");
        for week in &processed {
            assert!(
                week.scenes.as_array().is_some_and(|s| !s.is_empty()),
                "every week traces to its scenes"
            );
            let key = week.raster_key.as_deref().unwrap();
            let cog = std::fs::read(dir.join("rasters").join(key)).unwrap();
            let tiff = vivacampo_raster::tiff::open(&cog).unwrap();
            assert_eq!(tiff.bands(), 8);
            assert_eq!(tiff.georef.unwrap().epsg, Some(32722));
            // Outside the pivot every band is nodata (0), as the mask band says: GIS tools
            // show a circle. The grid's corners are outside any circle.
            let (w, h) = (tiff.width(), tiff.height());
            let full = tiff
                .read_window(&cog[..], 0, vivacampo_raster::tiff::Window::new(0, 0, w, h))
                .unwrap();
            let mask = full.band_f64(7);
            for b in 0..7 {
                let band = full.band_f64(b);
                assert!(
                    band.iter()
                        .zip(&mask)
                        .all(|(v, m)| (*m == 0.0) == (*v == 0.0)),
                    "band {b} has data exactly where the mask is 1"
                );
            }
            let corners = [
                0,
                w as usize - 1,
                (h as usize - 1) * w as usize,
                mask.len() - 1,
            ];
            assert!(
                corners
                    .iter()
                    .all(|&i| mask[i] == 0.0 && full.band_f64(0)[i] == 0.0)
            );
            let valid = mask.iter().filter(|m| **m == 1.0).count() as f64 / mask.len() as f64;
            assert!(valid < 0.8, "a circle in its square grid: {valid}");
        }
        let history = store
            .aoi_history(&tenant, &aoi_id, "ndvi", None, None)
            .await
            .unwrap();
        let ok: Vec<_> = history.iter().filter(|p| p.status == "OK").collect();
        assert!(
            ok.iter()
                .all(|p| p.stats.as_ref().unwrap().mean.unwrap() > 0.2),
            "a growing crop: {ok:?}"
        );

        // Storage per tenant is the sum of the COGs' sizes.
        let cog_size = |key: &str| {
            std::fs::metadata(dir.join("rasters").join(key))
                .unwrap()
                .len()
        };
        let stored: u64 = processed
            .iter()
            .map(|w| cog_size(w.raster_key.as_deref().unwrap()))
            .sum();
        assert_eq!(
            store.raster_bytes_by_tenant().await.unwrap(),
            vec![(tenant.clone(), stored as i64)]
        );

        // RETENTION removes the COGs of weeks before the current one; statistics stay.
        let current = IsoWeek::containing(time::OffsetDateTime::now_utc().date());
        let old: Vec<_> = processed
            .iter()
            .filter(|w| w.week.start() < current.start())
            .collect();
        let retention = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: None,
                job_type: JobType::Retention,
                idempotency_key: None,
                payload: serde_json::json!({"before": current.start().to_string()}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        wait_for(store, &tenant, &retention, |j| {
            j.status == JobStatus::Succeeded
        })
        .await;
        let runs = store.job_runs(&tenant, &retention).await.unwrap();
        assert_eq!(
            runs[0].metrics.as_ref().unwrap()["rasters_removed"],
            old.len()
        );
        let after = store.aoi_week_records(&tenant, &aoi_id).await.unwrap();
        for week in &processed {
            let now = after.iter().find(|w| w.week == week.week).unwrap();
            let path = dir
                .join("rasters")
                .join(week.raster_key.as_deref().unwrap());
            if week.week.start() < current.start() {
                assert_eq!(now.raster_key, None);
                assert!(!path.exists(), "{path:?} outlived the retention");
                assert_eq!(now.indices, week.indices, "statistics stay");
            } else {
                assert_eq!(now.raster_key, week.raster_key);
                assert!(path.exists());
            }
        }
        let kept: u64 = after
            .iter()
            .filter_map(|w| w.raster_key.as_deref())
            .map(cog_size)
            .sum();
        let by_tenant = store.raster_bytes_by_tenant().await.unwrap();
        assert_eq!(by_tenant.iter().map(|(_, b)| *b).sum::<i64>(), kept as i64);

        // Deleting the field removes its rasters through a DELETE_AOI_ASSETS job.
        let delete_job = store.delete_aoi(&tenant, &actor, &aoi_id).await.unwrap();
        wait_for(store, &tenant, &delete_job, |j| {
            j.status == JobStatus::Succeeded
        })
        .await;
        let runs = store.job_runs(&tenant, &delete_job).await.unwrap();
        assert_eq!(
            runs[0].metrics.as_ref().unwrap()["files_removed"],
            processed.len() - old.len()
        );
        assert!(
            !dir.join("rasters")
                .join("tenants")
                .join(&tenant)
                .join("aois")
                .join(&aoi_id)
                .exists()
        );

        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn always_failing_job_is_dead_after_three_attempts() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let id = enqueue(store, &tenant, "fail").await;
        let (stop, handle) = start(store, Scripted, fast_config("w1"));
        for attempt in 1..=2 {
            wait_for(store, &tenant, &id, |j| {
                j.status == JobStatus::Failed && j.attempts == attempt
            })
            .await;
            make_job_ready(store, &id).await.unwrap();
        }
        let job = wait_for(store, &tenant, &id, |j| j.status == JobStatus::Dead).await;
        assert_eq!(job.attempts, 3);
        assert_eq!(
            job.last_error.as_deref(),
            Some("the source answered garbage")
        );
        stop.send(true).unwrap();
        handle.await.unwrap();
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_killed_worker_loses_its_job_to_another_after_the_lease() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let id = enqueue(store, &tenant, "hang").await;
        let (_stop_a, worker_a) = start(store, Scripted, fast_config("doomed"));
        wait_for(store, &tenant, &id, |j| j.status == JobStatus::Running).await;
        // Like SIGKILL: the worker vanishes without releasing anything.
        worker_a.abort();
        let _ = worker_a.await;
        store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: None,
                job_type: JobType::ProcessWeek,
                idempotency_key: None,
                payload: serde_json::json!({"do": "ok"}),
                run_after: None,
            })
            .await
            .unwrap();
        // The payload says hang; a healthy worker that finishes anything proves the handover.
        struct Finishes;
        impl JobHandler for Finishes {
            fn handle(
                &self,
                _: JobContext,
            ) -> Pin<Box<dyn Future<Output = HandlerResult> + Send + '_>> {
                Box::pin(async { Ok(serde_json::json!({})) })
            }
        }
        let (stop_b, worker_b) = start(store, Finishes, fast_config("healthy"));
        let job = wait_for(store, &tenant, &id, |j| j.status == JobStatus::Failed).await;
        assert!(job.last_error.unwrap().contains("lease expired"));
        make_job_ready(store, &id).await.unwrap();
        wait_for(store, &tenant, &id, |j| j.status == JobStatus::Succeeded).await;
        let runs = store.job_runs(&tenant, &id).await.unwrap();
        assert_eq!(
            runs.iter()
                .map(|r| (r.status.as_str(), r.worker_id.as_str()))
                .collect::<Vec<_>>(),
            [("LOST", "doomed"), ("SUCCEEDED", "healthy")]
        );
        stop_b.send(true).unwrap();
        worker_b.await.unwrap();
        db.drop_db().await;
    }
}

/// A handler paused inside a transaction that holds its own job's row (as a BACKFILL's fan-out
/// does) while heartbeats fall due: the heartbeat waits for the transaction, the handler is still
/// polled, and the job ends at once, on its first attempt. Before the handler ran in a task of its
/// own, the heartbeat stalled it: on PostgreSQL for ever, on SQLite for the 5 s busy timeout per
/// heartbeat.
#[tokio::test]
async fn a_heartbeat_never_stalls_a_handler_inside_a_transaction() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        // Heartbeats every 50 ms fall due while the handler holds the row for 300 ms.
        let config = WorkerConfig {
            lease: Duration::from_secs(10),
            heartbeat: Duration::from_millis(50),
            ..fast_config("w1")
        };
        let (stop, handle) = start(store, Scripted, config);
        let started = tokio::time::Instant::now();
        let id = enqueue(store, &tenant, "hold-row").await;
        let job = wait_for(store, &tenant, &id, |j| j.status == JobStatus::Succeeded).await;
        // Well under SQLite's busy timeout (5 s), the stall of the old loop.
        assert!(
            started.elapsed() < Duration::from_secs(4),
            "{:?} on {}",
            started.elapsed(),
            store.backend().name()
        );
        assert_eq!(job.attempts, 1);
        let runs = store.job_runs(&tenant, &id).await.unwrap();
        assert_eq!(
            runs.iter().map(|r| r.status.as_str()).collect::<Vec<_>>(),
            ["SUCCEEDED"]
        );
        stop.send(true).unwrap();
        handle.await.unwrap();
        db.drop_db().await;
    }
}

#[tokio::test]
async fn timeout_cancel_and_graceful_release() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let slow = enqueue(store, &tenant, "hang").await;
        set_job_timeout(store, &slow, Duration::from_millis(200))
            .await
            .unwrap();
        let (stop, handle) = start(store, Scripted, fast_config("w1"));
        let job = wait_for(store, &tenant, &slow, |j| j.status == JobStatus::Failed).await;
        assert_eq!(job.last_error.as_deref(), Some("timed out after 200 ms"));
        store.cancel_job(&tenant, &slow).await.unwrap();

        let to_cancel = enqueue(store, &tenant, "hang").await;
        wait_for(store, &tenant, &to_cancel, |j| {
            j.status == JobStatus::Running
        })
        .await;
        store.cancel_job(&tenant, &to_cancel).await.unwrap();
        // The heartbeat notices; the slot frees up for the next job.
        let quick = enqueue(store, &tenant, "ok").await;
        wait_for(store, &tenant, &quick, |j| j.status == JobStatus::Succeeded).await;
        assert_eq!(
            store.job(&tenant, &to_cancel).await.unwrap().status,
            JobStatus::Cancelled
        );

        let held = enqueue(store, &tenant, "hang").await;
        wait_for(store, &tenant, &held, |j| j.status == JobStatus::Running).await;
        stop.send(true).unwrap();
        handle.await.unwrap();
        let job = store.job(&tenant, &held).await.unwrap();
        assert_eq!(
            (job.status, job.attempts),
            (JobStatus::Pending, 0),
            "released at shutdown, attempt not counted"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn the_scheduler_enqueues_the_day_s_tasks_once() {
    use vivacampo_store::page::PageRequest;
    use vivacampo_store::queue::JobFilter;
    use vivacampo_worker::scheduler::{self, Schedule};
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let schedule = Schedule {
            raster_retention: Some(Duration::from_secs(30 * 86_400)),
            orphan_grace: None,
            ..Schedule::default()
        };
        let filter = JobFilter {
            job_type: Some(JobType::Retention),
            ..JobFilter::default()
        };
        let retention_jobs = || async {
            store
                .list_jobs(Some(&tenant), &filter, PageRequest::default())
                .await
                .unwrap()
        };
        scheduler::tick(store, "w1", schedule).await.unwrap();
        scheduler::tick(store, "w1", schedule).await.unwrap();
        scheduler::tick(store, "w2", schedule).await.unwrap();
        let jobs = retention_jobs().await;
        assert_eq!(jobs.total, 1, "one sweep a day, by one worker");
        let before = time::OffsetDateTime::now_utc().date() - time::Duration::days(30);
        assert_eq!(
            jobs.items[0].payload,
            serde_json::json!({"before": before.to_string(), "orphan_grace_s": 86_400})
        );
        db.drop_db().await;
    }
    // Without a retention age the daily sweep still removes orphans, and nothing else.
    let db = TestDb::sqlite().await;
    let (_, tenant) = tenant(&db.store).await;
    let schedule = Schedule {
        raster_retention: None,
        orphan_grace: Some(Duration::from_secs(7200)),
        ..Schedule::default()
    };
    scheduler::tick(&db.store, "w1", schedule).await.unwrap();
    let filter = JobFilter {
        job_type: Some(JobType::Retention),
        ..JobFilter::default()
    };
    let jobs = db
        .store
        .list_jobs(Some(&tenant), &filter, PageRequest::default())
        .await
        .unwrap();
    assert_eq!(jobs.items.len(), 1);
    assert_eq!(
        jobs.items[0].payload,
        serde_json::json!({"orphan_grace_s": 7200})
    );
    db.drop_db().await;
}

/// The daily refresh: a BACKFILL of the current and previous week for every active field of every
/// active tenant (not a deleted field, not a suspended tenant's), scheduled by exactly one of
/// several workers that check at the same moment, each with its own pool (as separate processes
/// would): the database lease decides, not the jobs' idempotency keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daily_refresh_is_scheduled_once_for_every_active_field() {
    use vivacampo_core::tenancy::TenantStatus;
    use vivacampo_store::StoreOptions;
    use vivacampo_store::accounts::TenantPatch;
    use vivacampo_store::page::PageRequest;
    use vivacampo_store::queue::JobFilter;
    use vivacampo_worker::handlers::backfill_weeks;
    use vivacampo_worker::scheduler::{self, Schedule};
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let field = |farm: String, name: &str| NewAoi {
            farm_id: farm,
            name: name.into(),
            use_type: "CROP".into(),
            shape: pivot_field(),
            backfill_weeks: 1,
        };
        let farm = store
            .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let mut active = Vec::new();
        for name in ["A", "B"] {
            let (aoi, _) = store
                .create_aoi(&tenant, &actor, field(farm.id.clone(), name))
                .await
                .unwrap();
            active.push(aoi.id);
        }
        let (deleted, _) = store
            .create_aoi(&tenant, &actor, field(farm.id.clone(), "gone"))
            .await
            .unwrap();
        store
            .delete_aoi(&tenant, &actor, &deleted.id)
            .await
            .unwrap();
        let (other_actor, suspended) = store
            .sign_up(
                NewIdentity {
                    email: "eve@x.io",
                    name: "Eve",
                    password_hash: "h",
                    is_system_admin: false,
                },
                "Suspensa",
            )
            .await
            .unwrap();
        let other_farm = store
            .create_farm(&suspended.id, &other_actor.id, "G", "America/Sao_Paulo")
            .await
            .unwrap();
        store
            .create_aoi(&suspended.id, &other_actor.id, field(other_farm.id, "C"))
            .await
            .unwrap();
        let patch = TenantPatch {
            status: Some(TenantStatus::Suspended),
            ..TenantPatch::default()
        };
        store
            .update_tenant(&suspended.id, patch, None)
            .await
            .unwrap();

        let schedule = Schedule {
            raster_retention: Some(Duration::from_secs(30 * 86_400)),
            orphan_grace: None,
            ..Schedule::default()
        };
        let mut workers = Vec::new();
        for i in 0..4 {
            let options = StoreOptions {
                url: db.url.clone(),
                max_connections: 2,
                acquire_timeout: Duration::from_secs(10),
                statement_timeout: Duration::from_secs(10),
            };
            workers.push((format!("w{i}"), Store::open(&options).await.unwrap()));
        }
        let start = Arc::new(tokio::sync::Barrier::new(workers.len()));
        let racing: Vec<_> = workers
            .iter()
            .map(|(owner, store)| {
                let (owner, store, start) = (owner.clone(), store.clone(), start.clone());
                tokio::spawn(async move {
                    start.wait().await;
                    scheduler::tick(&store, &owner, schedule).await.unwrap()
                })
            })
            .collect();
        let mut ticks = Vec::new();
        for r in racing {
            ticks.push(r.await.unwrap());
        }
        let refreshed: Vec<_> = ticks.iter().filter_map(|t| t.refresh).collect();
        let swept: Vec<_> = ticks.iter().filter_map(|t| t.retention).collect();
        assert_eq!(
            refreshed,
            [2],
            "one scheduler refreshes the 2 active fields: {ticks:?}"
        );
        assert_eq!(
            swept,
            [1],
            "one scheduler sweeps the active tenant: {ticks:?}"
        );
        // Later checks the same day, by any worker, find nothing due.
        for (owner, other) in &workers {
            let again = scheduler::tick(other, owner, schedule).await.unwrap();
            assert_eq!(again, scheduler::Ticked::default());
            other.close().await;
        }

        let filter = JobFilter {
            job_type: Some(JobType::Backfill),
            ..JobFilter::default()
        };
        let jobs = store
            .list_jobs(None, &filter, PageRequest::default())
            .await
            .unwrap();
        let mut daily: Vec<&Job> = jobs
            .items
            .iter()
            .filter(|j| j.payload["reason"] == "daily refresh")
            .collect();
        daily.sort_by_key(|j| j.aoi_id.clone());
        let mut expected = active.clone();
        expected.sort();
        assert_eq!(
            daily
                .iter()
                .map(|j| j.aoi_id.clone().unwrap())
                .collect::<Vec<_>>(),
            expected
        );
        let today = time::OffsetDateTime::now_utc().date();
        let current = IsoWeek::containing(today);
        for job in daily {
            assert_eq!(job.tenant_id, tenant);
            assert_eq!(
                backfill_weeks(&job.payload, today).unwrap(),
                [current, current.previous()],
                "the current and previous week"
            );
        }
        db.drop_db().await;
    }
}

/// The pipeline's NDVI statistics of a cloudy week (two scenes composited) equal those computed
/// independently from the same scene files and polygon with rasterio + numpy
/// (`scripts/ndvi-reference.py` wrote the reference).
#[tokio::test]
async fn ndvi_statistics_equal_an_independent_rasterio_computation() {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let reference: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures.join("ndvi-reference.json")).unwrap(),
    )
    .unwrap();
    let field = vivacampo_core::geometry::FieldGeometry::from_geojson(&reference["field"]).unwrap();
    let week = IsoWeek::new(2026, 10).unwrap();
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let farm = store
            .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, _) = store
            .create_aoi(
                &tenant,
                &actor,
                NewAoi {
                    farm_id: farm.id,
                    name: "Referência".into(),
                    use_type: "CROP".into(),
                    shape: Shape {
                        geometry: field.to_geojson(),
                        area_ha: field.area_ha(),
                        bbox: field.bbox(),
                    },
                    backfill_weeks: 1,
                },
            )
            .await
            .unwrap();
        let job = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: Some(aoi.id.clone()),
                job_type: JobType::ProcessWeek,
                idempotency_key: None,
                payload: serde_json::json!({"aoi_id": aoi.id, "year": 2026, "week": 10, "geometry_version": 1}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        let rasters = std::env::temp_dir().join(format!("vc-reference-{}", uuid::Uuid::new_v4()));
        let imagery = imagery_from(
            fixtures.join("reference-catalog").to_str().unwrap(),
            &rasters,
        );
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        wait_for(store, &tenant, &job, |j| j.status == JobStatus::Succeeded).await;
        stop.send(true).unwrap();
        handle.await.unwrap();

        let record = store
            .aoi_week_records(&tenant, &aoi.id)
            .await
            .unwrap()
            .into_iter()
            .find(|w| w.week == week)
            .unwrap();
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
        assert_eq!(used, expected, "newest first, both scenes used");
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
        let point = store
            .aoi_history(&tenant, &aoi.id, "ndvi", Some(week), Some(week))
            .await
            .unwrap()
            .pop()
            .unwrap();
        let stats = point.stats.expect("the week is OK");
        let ndvi = &reference["ndvi"];
        assert_eq!(stats.count, reference["field_pixels"].as_i64().unwrap());
        assert_eq!(stats.valid_count, ndvi["valid_count"].as_i64().unwrap());
        close(stats.mean.unwrap(), &ndvi["mean"], "mean");
        close(stats.std.unwrap(), &ndvi["std"], "std");
        close(stats.min.unwrap(), &ndvi["min"], "min");
        close(stats.max.unwrap(), &ndvi["max"], "max");
        close(stats.p10.unwrap(), &ndvi["p10"], "p10");
        close(stats.p50.unwrap(), &ndvi["p50"], "p50");
        close(stats.p90.unwrap(), &ndvi["p90"], "p90");

        // The COG is on the same grid as the reference.
        let cog = std::fs::read(rasters.join(record.raster_key.unwrap())).unwrap();
        let tiff = vivacampo_raster::tiff::open(&cog).unwrap();
        let georef = tiff.georef.unwrap();
        assert_eq!(georef.epsg, Some(32722));
        let grid = &reference["grid"];
        assert_eq!(tiff.width() as i64, grid["width"].as_i64().unwrap());
        assert_eq!(tiff.height() as i64, grid["height"].as_i64().unwrap());
        // Same size is not the same grid: the upper-left corner and the 10 m pixels must match.
        let t = georef.transform.0;
        assert_eq!(
            [t[0], t[3], t[1], t[5]],
            [
                grid["origin"][0].as_f64().unwrap(),
                grid["origin"][1].as_f64().unwrap(),
                10.0,
                -10.0
            ]
        );
        let _ = std::fs::remove_dir_all(rasters);
        db.drop_db().await;
    }
}

/// A worker whose every slot is taken by a long job still reclaims a dead worker's expired lease.
#[tokio::test]
async fn a_busy_worker_still_reclaims_expired_leases() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let long = enqueue(store, &tenant, "hang").await;
        let config = WorkerConfig {
            concurrency: 1,
            ..fast_config("busy")
        };
        let (stop, handle) = start(store, Scripted, config);
        wait_for(store, &tenant, &long, |j| j.status == JobStatus::Running).await;
        // A worker that leases a job and dies at once.
        let orphan = enqueue(store, &tenant, "ok").await;
        let leased = store
            .lease_job("ghost", Duration::from_millis(300))
            .await
            .unwrap()
            .expect("the orphan is ready");
        assert_eq!(leased.job.id, orphan);
        let job = wait_for(store, &tenant, &orphan, |j| j.status == JobStatus::Failed).await;
        assert!(job.last_error.unwrap().contains("lease expired"));
        assert_eq!(
            store.job(&tenant, &long).await.unwrap().status,
            JobStatus::Running
        );
        stop.send(true).unwrap();
        handle.await.unwrap();
        db.drop_db().await;
    }
}

/// A new shape reprocesses the field's weeks into new COGs, and the old shape's COGs go.
#[tokio::test]
async fn reshaping_a_field_replaces_its_week_rasters() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(2);
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let (aoi, _) = backfilled_pivot(store, &tenant, &actor, 2).await;
        // Files of one geometry version (`v{n}-{stamp}.tif`).
        let files = |version: &str| -> usize {
            let mut n = 0;
            let root = dir
                .join("rasters")
                .join("tenants")
                .join(&tenant)
                .join("aois")
                .join(&aoi);
            for year in std::fs::read_dir(&root).unwrap().flatten() {
                for week in std::fs::read_dir(year.path()).unwrap().flatten() {
                    n += std::fs::read_dir(week.path())
                        .unwrap()
                        .flatten()
                        .filter(|f| f.file_name().to_string_lossy().starts_with(version))
                        .count();
                }
            }
            n
        };
        let before = files("v1-");
        assert!(before > 0);

        // The same pivot, 50 m to the east.
        let shape = pivot_field_shifted(0.0005);
        let patch = vivacampo_store::aois::AoiPatch {
            shape: Some(shape),
            ..Default::default()
        };
        let (_, backfill) = store
            .update_aoi(&tenant, &actor, &aoi, patch, 2)
            .await
            .unwrap();
        let backfill = backfill.expect("a new shape is reprocessed");
        wait_for(store, &tenant, &backfill, |j| {
            j.status == JobStatus::Succeeded && j.progress.done == 2
        })
        .await;
        assert_eq!(files("v2-"), before);
        assert_eq!(files("v1-"), 0, "the old shape's rasters are gone");
        for week in store.aoi_week_records(&tenant, &aoi).await.unwrap() {
            if let Some(key) = week.raster_key {
                assert!(key.contains("/v2-"), "{key}");
            }
        }
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// A new shape reprocesses every week the field has records of, not only the newest few: the
/// reprocessing BACKFILL spans the oldest recorded week to the current one, and no week keeps the
/// old shape's statistics or raster.
#[tokio::test]
async fn a_new_shape_reprocesses_every_recorded_week() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(3);
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let (aoi, _) = backfilled_pivot(store, &tenant, &actor, 3).await;
        let before = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(before.len(), 3);

        // Half the radius: a quarter of the pixels. One week is the fallback for a field without
        // records; this one has three.
        let shape = pivot_shape(0.0, vivacampo_imagery::demo::DEMO_PIVOT.1 / 2.0);
        let patch = vivacampo_store::aois::AoiPatch {
            shape: Some(shape),
            ..Default::default()
        };
        let (_, backfill) = store
            .update_aoi(&tenant, &actor, &aoi, patch, 1)
            .await
            .unwrap();
        let backfill = backfill.expect("a new shape is reprocessed");
        let job = wait_for(store, &tenant, &backfill, |j| {
            j.status == JobStatus::Succeeded && j.progress.done == 3
        })
        .await;
        let oldest = before.iter().map(|w| w.week).min().unwrap();
        let current = IsoWeek::containing(time::OffsetDateTime::now_utc().date());
        assert_eq!(
            (&job.payload["from_week"], &job.payload["to_week"]),
            (
                &serde_json::json!({"year": oldest.year, "week": oldest.week}),
                &serde_json::json!({"year": current.year, "week": current.week})
            )
        );

        let after = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(after.len(), 3);
        for old in &before {
            let new = after.iter().find(|w| w.week == old.week).unwrap();
            assert!(
                new.processed_at > old.processed_at,
                "{} reprocessed",
                old.week
            );
            if old.raster_key.is_some() {
                assert_ne!(
                    new.raster_key, old.raster_key,
                    "{} has a new raster",
                    old.week
                );
                let key = old.raster_key.as_deref().unwrap();
                assert!(!dir.join("rasters").join(key).exists(), "{key} is gone");
            }
        }
        let history = store
            .aoi_history(&tenant, &aoi, "ndvi", None, None)
            .await
            .unwrap();
        assert!(history.iter().any(|p| p.stats.is_some()), "{history:?}");
        for point in history.iter().filter_map(|p| p.stats.as_ref()) {
            // A circle of 280 m at 10 m: about 2 460 pixels (the 560 m pivot has about 9 850).
            assert!(
                (2_000..3_000).contains(&point.count),
                "statistics of the new shape: {point:?}"
            );
        }
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// Re-running a week writes a new file under a new key, the row names it, and the old one goes:
/// one file per week, never a rewrite in place.
#[tokio::test]
async fn rerunning_a_week_replaces_its_raster_with_a_new_key() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(1);
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let (aoi, _) = backfilled_pivot(store, &tenant, &actor, 1).await;
        let before = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        let record = before.iter().find(|w| w.raster_key.is_some()).unwrap();
        let old_key = record.raster_key.clone().unwrap();
        let week = record.week;
        let rerun = store
            .enqueue(NewJob {
                tenant_id: tenant.clone(),
                aoi_id: Some(aoi.clone()),
                job_type: JobType::ProcessWeek,
                idempotency_key: None,
                payload: serde_json::json!({"aoi_id": aoi, "year": week.year, "week": week.week, "geometry_version": 1}),
                run_after: None,
            })
            .await
            .unwrap()
            .job
            .id;
        wait_for(store, &tenant, &rerun, |j| j.status == JobStatus::Succeeded).await;
        let after = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        let new_key = after
            .iter()
            .find(|w| w.week == week)
            .and_then(|w| w.raster_key.clone())
            .unwrap();
        assert_ne!(new_key, old_key, "a new key per run");
        let rasters = dir.join("rasters");
        assert!(rasters.join(&new_key).is_file());
        assert!(
            !rasters.join(&old_key).exists(),
            "the replaced file is gone"
        );
        let week_dir = rasters.join(&new_key).parent().unwrap().to_owned();
        assert_eq!(std::fs::read_dir(week_dir).unwrap().count(), 1);
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// Makes a directory of the local raster store refuse every change, even root's (`chattr +i`,
/// a real file-system fault like a read-only volume), until dropped.
struct Frozen(std::path::PathBuf);

impl Frozen {
    fn new(dir: &std::path::Path) -> Frozen {
        std::fs::create_dir_all(dir).unwrap();
        let ok = std::process::Command::new("chattr")
            .arg("+i")
            .arg(dir)
            .status()
            .expect("chattr (e2fsprogs) freezes a directory for the storage-fault tests");
        assert!(ok.success(), "chattr +i {dir:?}");
        Frozen(dir.to_owned())
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        let _ = std::process::Command::new("chattr")
            .arg("-i")
            .arg(&self.0)
            .status();
    }
}

/// A field whose first backfill is cancelled (these tests write its weeks themselves), and a
/// local raster store for it: (actor, tenant, field id, imagery, its directory).
async fn quiet_field(store: &Store) -> (String, String, String, Imagery, std::path::PathBuf) {
    let (actor, tenant) = tenant(store).await;
    let farm = store
        .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let (aoi, backfill) = store
        .create_aoi(
            &tenant,
            &actor,
            NewAoi {
                farm_id: farm.id,
                name: "Pivô".into(),
                use_type: "CROP".into(),
                shape: pivot_field(),
                backfill_weeks: 1,
            },
        )
        .await
        .unwrap();
    store.cancel_job(&tenant, &backfill).await.unwrap();
    let dir = std::env::temp_dir().join(format!("vc-worker-faults-{}", uuid::Uuid::new_v4()));
    let imagery = imagery_from(dir.join("catalog").to_str().unwrap(), &dir.join("rasters"));
    (actor, tenant, aoi.id, imagery, dir)
}

/// Stores a COG for `week` of the field and records the week naming it; returns its key.
async fn stored_week(
    store: &Store,
    rasters: &RasterStore,
    tenant: &str,
    aoi: &str,
    week: IsoWeek,
) -> String {
    use vivacampo_imagery::store::{RasterVersion, field_week_key};
    use vivacampo_store::field_weeks::{WeekResult, WeekStatus};
    let version = RasterVersion {
        geometry: 1,
        stamp: 1_795_000_000_000,
    };
    let key = field_week_key(
        tenant.parse().unwrap(),
        aoi.parse().unwrap(),
        week.year,
        week.week,
        version,
    );
    rasters
        .put(&key, b"a field-week COG".to_vec().into())
        .await
        .unwrap();
    let result = WeekResult {
        week,
        status: WeekStatus::Ok,
        scene_datetime: None,
        cloud_fraction: Some(0.0),
        valid_pixel_ratio: Some(1.0),
        raster_key: Some(key.clone()),
        raster_bytes: Some(16),
        scenes: serde_json::json!([]),
        stats: Vec::new(),
    };
    store.record_aoi_week(tenant, aoi, &result).await.unwrap();
    key
}

/// Every object stored for the tenant that no row names.
async fn unnamed_objects(store: &Store, rasters: &RasterStore, tenant: &str) -> Vec<String> {
    let named = store.raster_keys(tenant).await.unwrap();
    rasters
        .list(&format!("tenants/{tenant}/"))
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.key)
        .filter(|k| !named.contains(k))
        .collect()
}

fn backdate(path: &std::path::Path, by: Duration) {
    let file = std::fs::File::options().write(true).open(path).unwrap();
    file.set_modified(std::time::SystemTime::now() - by)
        .unwrap();
}

async fn enqueue_retention(store: &Store, tenant: &str, payload: serde_json::Value) -> String {
    store
        .enqueue(NewJob {
            tenant_id: tenant.to_owned(),
            aoi_id: None,
            job_type: JobType::Retention,
            idempotency_key: None,
            payload,
            run_after: None,
        })
        .await
        .unwrap()
        .job
        .id
}

#[tokio::test]
async fn the_storage_sweep_deletes_old_files_no_row_names() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, aoi, imagery, dir) = quiet_field(store).await;
        let rasters = imagery.rasters.clone();
        let root = dir.join("rasters");
        let named = stored_week(
            store,
            &rasters,
            &tenant,
            &aoi,
            IsoWeek::new(2026, 1).unwrap(),
        )
        .await;
        let orphan = |week: u8| format!("tenants/{tenant}/aois/{aoi}/2026/W{week:02}/v1-5.tif");
        let (old, young) = (orphan(2), orphan(3));
        for key in [&old, &young] {
            rasters
                .put(key, b"left by a lost lease".to_vec().into())
                .await
                .unwrap();
        }
        for key in [&named, &old] {
            backdate(&root.join(key), Duration::from_secs(7200));
        }
        let (_, deleted_before) = vivacampo_imagery::store::orphan_totals();
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let job =
            enqueue_retention(store, &tenant, serde_json::json!({"orphan_grace_s": 3600})).await;
        wait_for(store, &tenant, &job, |j| j.status == JobStatus::Succeeded).await;
        let runs = store.job_runs(&tenant, &job).await.unwrap();
        assert_eq!(
            runs[0].metrics.as_ref().unwrap(),
            &serde_json::json!({"rasters_removed": 0, "bytes_removed": 0, "radar_rasters_removed": 0,
                                "radar_bytes_removed": 0, "orphans_found": 1, "orphans_removed": 1})
        );
        assert!(root.join(&named).is_file(), "a named file stays");
        assert!(!root.join(&old).exists(), "an old orphan goes");
        assert!(
            root.join(&young).is_file(),
            "a young orphan may still be recorded: it stays"
        );
        assert!(vivacampo_imagery::store::orphan_totals().1 > deleted_before);
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// RETENTION removes radar COGs of weeks before `before` like optical ones: the files go, the
/// radar weeks and their statistics stay, newer radar COGs stay.
#[tokio::test]
async fn retention_removes_old_radar_cogs_and_keeps_their_statistics() {
    use vivacampo_imagery::store::{RasterVersion, radar_week_key};
    use vivacampo_store::field_weeks::IndexStats;
    use vivacampo_store::radar::{RadarStatus, RadarWeekResult};
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, aoi, imagery, dir) = quiet_field(store).await;
        let rasters = imagery.rasters.clone();
        let root = dir.join("rasters");
        let optical = stored_week(
            store,
            &rasters,
            &tenant,
            &aoi,
            IsoWeek::new(2025, 1).unwrap(),
        )
        .await;
        let this_week = IsoWeek::containing(time::OffsetDateTime::now_utc().date());
        let mut keys = Vec::new();
        for week in [
            IsoWeek::new(2025, 1).unwrap(),
            IsoWeek::new(2025, 2).unwrap(),
            this_week,
        ] {
            let key = radar_week_key(
                tenant.parse().unwrap(),
                aoi.parse().unwrap(),
                week.year,
                week.week,
                RasterVersion {
                    geometry: 1,
                    stamp: 1_795_000_000_000,
                },
            );
            rasters
                .put(&key, b"a radar COG".to_vec().into())
                .await
                .unwrap();
            let result = RadarWeekResult {
                week,
                status: RadarStatus::Ok,
                scene_datetime: Some(1_772_441_712_000),
                orbit: Some("descending".into()),
                valid_pixel_ratio: Some(1.0),
                raster_key: Some(key.clone()),
                raster_bytes: Some(11),
                scenes: serde_json::json!([]),
                stats: vec![IndexStats {
                    index: "rvi".into(),
                    count: 10,
                    valid_count: 10,
                    mean: Some(0.6),
                    std: Some(0.1),
                    min: Some(0.4),
                    max: Some(0.8),
                    p10: Some(0.5),
                    p50: Some(0.6),
                    p90: Some(0.7),
                }],
            };
            store
                .record_radar_week(&tenant, &aoi, &result)
                .await
                .unwrap();
            keys.push(key);
        }
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let before = this_week.start().to_string();
        let job = enqueue_retention(store, &tenant, serde_json::json!({"before": before})).await;
        wait_for(store, &tenant, &job, |j| j.status == JobStatus::Succeeded).await;
        let runs = store.job_runs(&tenant, &job).await.unwrap();
        let metrics = runs[0].metrics.as_ref().unwrap();
        assert_eq!(metrics["rasters_removed"], 1, "{metrics}");
        assert_eq!(metrics["radar_rasters_removed"], 2, "{metrics}");
        assert_eq!(metrics["radar_bytes_removed"], 22, "{metrics}");
        assert!(!root.join(&optical).exists());
        assert!(!root.join(&keys[0]).exists() && !root.join(&keys[1]).exists());
        assert!(root.join(&keys[2]).is_file(), "this week's radar COG stays");
        let records = store.radar_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(records.len(), 3, "radar weeks stay");
        for r in &records {
            assert_eq!(r.raster_key.is_some(), r.week == this_week, "{r:?}");
            assert_eq!(r.status, "OK");
        }
        let history = store
            .radar_history(
                &tenant,
                &aoi,
                "rvi",
                Some(IsoWeek::new(2025, 1).unwrap()),
                Some(this_week),
            )
            .await
            .unwrap();
        assert_eq!(
            history
                .iter()
                .filter(|p| p.stats.as_ref().and_then(|s| s.mean) == Some(0.6))
                .count(),
            3,
            "statistics stay"
        );
        assert!(unnamed_objects(store, &rasters, &tenant).await.is_empty());
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// RETENTION on a store that refuses deletes fails, keeps the row naming the file, and once the
/// store works again its retry removes both: at no point is a file left that no row names.
#[tokio::test]
async fn retention_on_a_failing_store_retries_without_orphans() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant, aoi, imagery, dir) = quiet_field(store).await;
        let rasters = imagery.rasters.clone();
        let week = IsoWeek::new(2025, 1).unwrap();
        let key = stored_week(store, &rasters, &tenant, &aoi, week).await;
        let file = dir.join("rasters").join(&key);
        let frozen = Frozen::new(file.parent().unwrap());
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let today = time::OffsetDateTime::now_utc().date().to_string();
        let job = enqueue_retention(store, &tenant, serde_json::json!({"before": today})).await;
        let failed = wait_for(store, &tenant, &job, |j| j.status == JobStatus::Failed).await;
        assert!(
            failed
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("raster store: "),
            "{failed:?}"
        );
        let records = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(records[0].raster_key.as_deref(), Some(key.as_str()));
        assert!(file.is_file());
        assert!(unnamed_objects(store, &rasters, &tenant).await.is_empty());

        drop(frozen);
        make_job_ready(store, &job).await.unwrap();
        wait_for(store, &tenant, &job, |j| j.status == JobStatus::Succeeded).await;
        let records = store.aoi_week_records(&tenant, &aoi).await.unwrap();
        assert_eq!(records[0].raster_key, None);
        assert!(!file.exists());
        assert!(unnamed_objects(store, &rasters, &tenant).await.is_empty());
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// DELETE_AOI_ASSETS on a store that refuses deletes fails, and its retry removes every file.
#[tokio::test]
async fn deleting_a_field_s_files_on_a_failing_store_is_retried() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant, aoi, imagery, dir) = quiet_field(store).await;
        let rasters = imagery.rasters.clone();
        let key = stored_week(
            store,
            &rasters,
            &tenant,
            &aoi,
            IsoWeek::new(2026, 1).unwrap(),
        )
        .await;
        let file = dir.join("rasters").join(&key);
        let frozen = Frozen::new(file.parent().unwrap());
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let job = store.delete_aoi(&tenant, &actor, &aoi).await.unwrap();
        let failed = wait_for(store, &tenant, &job, |j| j.status == JobStatus::Failed).await;
        assert!(
            failed
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("raster store: "),
            "{failed:?}"
        );
        assert!(file.is_file());
        drop(frozen);
        make_job_ready(store, &job).await.unwrap();
        wait_for(store, &tenant, &job, |j| j.status == JobStatus::Succeeded).await;
        assert!(
            !dir.join("rasters")
                .join(format!("tenants/{tenant}/aois/{aoi}"))
                .exists()
        );
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// PROCESS_WEEK whose COG cannot be written fails and leaves nothing behind; its retry writes the
/// week, and every stored file is named by a row.
#[tokio::test]
async fn a_week_whose_cog_cannot_be_written_is_retried_without_orphans() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(1);
        let rasters = imagery.rasters.clone();
        let farm = store
            .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, backfill) = store
            .create_aoi(
                &tenant,
                &actor,
                NewAoi {
                    farm_id: farm.id,
                    name: "Pivô".into(),
                    use_type: "CROP".into(),
                    shape: pivot_field(),
                    backfill_weeks: 1,
                },
            )
            .await
            .unwrap();
        let frozen = Frozen::new(
            &dir.join("rasters")
                .join(format!("tenants/{tenant}/aois/{}", aoi.id)),
        );
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        wait_for(store, &tenant, &backfill, |j| j.progress.total == 1).await;
        let week = child_jobs(store, &tenant, &backfill).await.unwrap()[0]
            .id
            .clone();
        let failed = wait_for(store, &tenant, &week, |j| j.status == JobStatus::Failed).await;
        assert!(
            failed
                .last_error
                .as_deref()
                .unwrap()
                .starts_with("raster store: "),
            "{failed:?}"
        );
        assert!(unnamed_objects(store, &rasters, &tenant).await.is_empty());
        drop(frozen);
        make_job_ready(store, &week).await.unwrap();
        wait_for(store, &tenant, &backfill, |j| {
            j.status == JobStatus::Succeeded
        })
        .await;
        let records = store.aoi_week_records(&tenant, &aoi.id).await.unwrap();
        assert_eq!(records.len(), 1);
        assert!(records[0].raster_key.is_some(), "{records:?}");
        assert!(unnamed_objects(store, &rasters, &tenant).await.is_empty());
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// Tenants read a job's error: the worker stores it without the store's paths and URLs (the log
/// line keeps them).
#[tokio::test]
async fn a_failed_attempt_stores_its_error_without_locations() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (_, tenant) = tenant(store).await;
        let id = enqueue(store, &tenant, "fail-naming-a-file").await;
        let (stop, handle) = start(store, Scripted, fast_config("w1"));
        let job = wait_for(store, &tenant, &id, |j| j.status == JobStatus::Failed).await;
        let public = "raster store: (location hidden): Permission denied";
        assert_eq!(job.last_error.as_deref(), Some(public));
        let runs = store.job_runs(&tenant, &id).await.unwrap();
        assert_eq!(runs[0].error.as_deref(), Some(public));
        stop.send(true).unwrap();
        handle.await.unwrap();
        db.drop_db().await;
    }
}

/// A processed week asks for a detection; the field is judged once its weeks are in, the signal
/// opens and its `signal.opened` event waits as a NOTIFY job. A field outside the imagery has
/// only NO_DATA weeks: NO_RECENT_DATA.
#[tokio::test]
async fn a_processed_week_is_judged_and_its_signal_announced() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (imagery, dir) = demo_imagery(1);
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery,
                weather: None,
            },
            steady_config("w1"),
        );
        let farm = store
            .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, backfill) = store
            .create_aoi(
                &tenant,
                &actor,
                NewAoi {
                    farm_id: farm.id,
                    name: "Longe".into(),
                    use_type: "CROP".into(),
                    shape: pivot_field_shifted(1.0),
                    backfill_weeks: 4,
                },
            )
            .await
            .unwrap();
        wait_for(store, &tenant, &backfill, |j| {
            j.status == JobStatus::Succeeded
        })
        .await;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let signal = loop {
            let page = store
                .list_signals(&tenant, &Default::default(), Default::default())
                .await
                .unwrap();
            if let Some(s) = page.items.into_iter().next() {
                break s;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "no signal on {}",
                store.backend().name()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        assert_eq!(signal.aoi_id, aoi.id);
        assert_eq!(signal.signal_type.as_str(), "NO_RECENT_DATA");
        // Its first judgement is already at the newest week (image time): no detection judges
        // the field while a newer week is still running (seen on PostgreSQL before).
        let newest = IsoWeek::containing(time::OffsetDateTime::now_utc().date());
        assert_eq!(
            signal.week, newest,
            "judged at the newest week (image time)"
        );
        let detections = store
            .list_jobs(
                Some(&tenant),
                &vivacampo_store::queue::JobFilter {
                    job_type: Some(JobType::DetectSignals),
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        assert!(
            detections.total >= 1 && detections.total <= 4,
            "one per field-week at most"
        );
        let notify = store
            .list_jobs(
                Some(&tenant),
                &vivacampo_store::queue::JobFilter {
                    job_type: Some(JobType::Notify),
                    ..Default::default()
                },
                Default::default(),
            )
            .await
            .unwrap();
        assert_eq!(notify.total, 1);
        let event = &notify.items[0].payload;
        assert_eq!(event["event"], "signal.opened");
        assert_eq!(event["data"]["id"], signal.id.as_str());
        assert_eq!(event["data"]["aoi_name"], "Longe");
        assert!(event["texts"]["pt-BR"]["explanation"].is_string());
        stop.send(true).unwrap();
        handle.await.unwrap();
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}

/// `imagery_source = sentinel-hub` against the loopback stand-in over the demo catalog: a new
/// field backfills to completion through the real job pipeline, with one token, the processing
/// units in each week's job result, and the same statuses and statistics as the STAC path over
/// the same scenes (within the Process API's UINT16 rounding of resampled DNs).
#[tokio::test]
async fn a_new_field_backfills_through_sentinel_hub_like_the_stac_path() {
    use vivacampo_imagery::sentinel_hub::server::{self, State};
    use vivacampo_imagery::sentinel_hub::{Config, SentinelHub};

    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let (direct, dir) = demo_imagery(2);
        let state = State::new(&dir.join("catalog"), "id", "secret");
        let url = server::serve(state.clone()).await.unwrap();
        let hub = SentinelHub::new(Config::new(&url, "id", "secret")).unwrap();
        let mut via_hub = imagery_from(
            dir.join("catalog").to_str().unwrap(),
            &dir.join("rasters-sh"),
        );
        // An unreachable catalog proves the STAC path is not what answers.
        via_hub.catalog =
            Catalog::from_config("http://127.0.0.1:9", &HttpOptions::default()).unwrap();
        via_hub.sentinel_hub = Some(Arc::new(hub));

        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery: via_hub,
                weather: None,
            },
            steady_config("w1"),
        );
        let (sh_aoi, backfill) = backfilled_pivot(store, &tenant, &actor, 2).await;
        stop.send(true).unwrap();
        handle.await.unwrap();
        let (stop, handle) = start(
            store,
            StandardHandlers {
                imagery: direct,
                weather: None,
            },
            steady_config("w2"),
        );
        let (dir_aoi, _) = backfilled_pivot(store, &tenant, &actor, 2).await;
        stop.send(true).unwrap();
        handle.await.unwrap();

        assert_eq!(State::count(&state.token_requests), 1);
        let weeks = child_jobs(store, &tenant, &backfill.id).await.unwrap();
        assert_eq!(weeks.len(), 2);
        let mut units = 0.0;
        for job in &weeks {
            assert_eq!(job.status, JobStatus::Succeeded, "{job:?}");
            let runs = store.job_runs(&tenant, &job.id).await.unwrap();
            let result = runs.last().and_then(|r| r.metrics.clone()).unwrap();
            units += result["processing_units"]
                .as_f64()
                .expect("processing units");
        }
        assert!(units > 0.0);

        let sh = store
            .aoi_history(&tenant, &sh_aoi, "ndvi", None, None)
            .await
            .unwrap();
        let stac = store
            .aoi_history(&tenant, &dir_aoi, "ndvi", None, None)
            .await
            .unwrap();
        assert_eq!(sh.len(), 2);
        assert!(sh.iter().any(|w| w.stats.is_some()), "{sh:?}");
        for (h, d) in sh.iter().zip(&stac) {
            assert_eq!((h.week, &h.status), (d.week, &d.status));
            assert_eq!(h.scene_datetime, d.scene_datetime);
            assert_eq!(h.valid_pixel_ratio, d.valid_pixel_ratio);
            match (&h.stats, &d.stats) {
                (Some(a), Some(b)) => {
                    assert_eq!(a.valid_count, b.valid_count);
                    for (x, y) in [(a.mean, b.mean), (a.p50, b.p50), (a.min, b.min)] {
                        let (x, y) = (x.unwrap(), y.unwrap());
                        assert!((x - y).abs() < 1e-3, "{x} vs {y}");
                    }
                }
                (a, b) => assert_eq!(a.is_none(), b.is_none()),
            }
        }
        let _ = std::fs::remove_dir_all(dir);
        db.drop_db().await;
    }
}
