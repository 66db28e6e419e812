//! The worker loop against a real database (SQLite, and PostgreSQL when configured).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use vivacampo_core::jobs::{JobStatus, JobType, Progress};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::demo::DemoOptions;
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::{Job, NewJob};
use vivacampo_store::testing::{TestDb, make_job_ready, set_job_timeout};
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
                Some("hang") => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
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

async fn wait_for(store: &Store, tenant: &str, id: &str, what: impl Fn(&Job) -> bool) -> Job {
    for _ in 0..200 {
        let job = store.job(tenant, id).await.unwrap();
        if what(&job) {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "job {id} never reached the expected state: {:?}",
        store.job(tenant, id).await.unwrap()
    );
}

/// A field in the offline demo imagery (the demo farm's centre pivot).
fn pivot_field() -> Shape {
    let ((lon, lat), radius) = vivacampo_imagery::demo::DEMO_PIVOT;
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
    let http = HttpOptions::default();
    let imagery = Imagery {
        catalog: Catalog::from_config(dir.join("catalog").to_str().unwrap(), &http).unwrap(),
        sources: Sources::new(SourceOptions::default()),
        rasters: RasterStore::local(dir.join("rasters")).unwrap(),
    };
    (imagery, dir)
}

#[tokio::test]
async fn backfill_processes_weeks_into_statistics_and_cogs() {
    for db in TestDb::all().await {
        let store = &db.store;
        let (actor, tenant) = tenant(store).await;
        let farm = store
            .create_farm(&tenant, &actor, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let (aoi, job_id) = store
            .create_aoi(
                &tenant,
                &actor,
                NewAoi {
                    farm_id: farm.id,
                    name: "Pivô".into(),
                    use_type: "CROP".into(),
                    shape: pivot_field(),
                    backfill_weeks: 2,
                },
            )
            .await
            .unwrap();
        let (imagery, dir) = demo_imagery(2);
        let (stop, handle) = start(store, StandardHandlers { imagery }, fast_config("w1"));
        let job = wait_for(store, &tenant, &job_id, |j| {
            j.status == JobStatus::Succeeded && j.progress.done == 2
        })
        .await;
        assert_eq!(job.progress, Progress { done: 2, total: 2 });

        let weeks = store.aoi_week_records(&tenant, &aoi.id).await.unwrap();
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
        }
        let history = store
            .aoi_history(&tenant, &aoi.id, "ndvi", None, None)
            .await
            .unwrap();
        let ok: Vec<_> = history.iter().filter(|p| p.status == "OK").collect();
        assert!(
            ok.iter()
                .all(|p| p.stats.as_ref().unwrap().mean.unwrap() > 0.2),
            "a growing crop: {ok:?}"
        );

        // Deleting the field removes its rasters through a DELETE_AOI_ASSETS job.
        let delete_job = store.delete_aoi(&tenant, &actor, &aoi.id).await.unwrap();
        wait_for(store, &tenant, &delete_job, |j| {
            j.status == JobStatus::Succeeded
        })
        .await;
        let runs = store.job_runs(&tenant, &delete_job).await.unwrap();
        assert_eq!(
            runs[0].metrics.as_ref().unwrap()["files_removed"],
            processed.len()
        );
        assert!(
            !dir.join("rasters")
                .join("tenants")
                .join(&tenant)
                .join("aois")
                .join(&aoi.id)
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
