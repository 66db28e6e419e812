//! PROCESS_WEATHER against the loopback Open-Meteo server and a real database: fields in one
//! grid cell share one fetch, a second run asks for nothing, and a daily-limit 429 stops the job
//! after one request and enqueues its successor for the next day.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use vivacampo_core::jobs::JobType;
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_imagery::weather::server::{DAILY_LIMIT, Mode, WeatherData, WeatherServer};
use vivacampo_imagery::weather::{OpenMeteo, WeatherOptions};
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::{Job, JobFilter};
use vivacampo_store::testing::TestDb;
use vivacampo_worker::handlers::JobContext;
use vivacampo_worker::process_week::Imagery;
use vivacampo_worker::weather::Weather;
use vivacampo_worker::{JobHandler, StandardHandlers};

async fn handlers(server: &Arc<WeatherServer>, dir: &Path) -> StandardHandlers {
    let base = server.spawn().await.unwrap();
    let mut options = WeatherOptions::base_url(&base, None);
    options.limit_backoff = Duration::from_millis(10);
    std::fs::create_dir_all(dir.join("catalog")).unwrap();
    StandardHandlers {
        imagery: Imagery {
            catalog: Catalog::from_config(
                dir.join("catalog").to_str().unwrap(),
                &HttpOptions::default(),
            )
            .unwrap(),
            sources: Sources::new(SourceOptions::default()),
            rasters: RasterStore::local(dir.join("rasters")).unwrap(),
            sentinel_hub: None,
            radar: None,
        },
        weather: Some(Weather {
            client: OpenMeteo::new(options).unwrap(),
            source: base,
            history_seasons: 2,
        }),
    }
}

/// A tenant with one farm in São Paulo time and a field of side 0.005° at each corner.
async fn fields(store: &Store, corners: &[(f64, f64)]) -> (String, Vec<String>) {
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email: "ana@x.org",
                name: "Ana",
                password_hash: "hash",
                is_system_admin: false,
            },
            "Fazenda",
        )
        .await
        .unwrap();
    let farm = store
        .create_farm(&tenant.id, &identity.id, "F", "America/Sao_Paulo")
        .await
        .unwrap();
    let mut ids = Vec::new();
    for &(lon, lat) in corners {
        let d = 0.005;
        let (aoi, _) = store
            .create_aoi(
                &tenant.id,
                &identity.id,
                NewAoi {
                    farm_id: farm.id.clone(),
                    name: format!("T {lon}"),
                    use_type: "CROP".into(),
                    shape: Shape {
                        geometry: serde_json::json!({"type": "MultiPolygon", "coordinates": [[[
                            [lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]]}),
                        area_ha: 28.0,
                        bbox: [lon, lat, lon + d, lat + d],
                    },
                    backfill_weeks: 1,
                },
            )
            .await
            .unwrap();
        ids.push(aoi.id);
    }
    (tenant.id, ids)
}

async fn jobs_of(store: &Store, tenant: &str, job_type: JobType) -> Vec<Job> {
    let filter = JobFilter {
        job_type: Some(job_type),
        ..JobFilter::default()
    };
    let page = store
        .list_jobs(
            Some(tenant),
            &filter,
            vivacampo_store::PageRequest::default(),
        )
        .await
        .unwrap();
    page.items
}

async fn run(h: &StandardHandlers, store: &Store, job: Job) -> serde_json::Value {
    h.handle(JobContext {
        store: store.clone(),
        job,
    })
    .await
    .unwrap()
}

#[tokio::test]
async fn one_cell_one_fetch_and_the_daily_limit_waits_a_day() {
    for db in TestDb::all().await {
        let store = &db.store;
        let dir = std::env::temp_dir().join(format!("vc-weather-worker-{}", uuid::Uuid::new_v4()));
        let server = WeatherServer::new(WeatherData::Demo);
        let h = handlers(&server, &dir).await;
        // Two fields in the ERA5 cell -17.75/-51.0, one in the next cell east.
        let (tenant, ids) = fields(
            store,
            &[(-50.905, -17.745), (-50.885, -17.726), (-50.70, -17.745)],
        )
        .await;

        // The backfills of the three fields enqueue two weather jobs: one per cell.
        for id in &ids {
            let backfill = jobs_of(store, &tenant, JobType::Backfill)
                .await
                .into_iter()
                .find(|j| j.aoi_id.as_deref() == Some(id))
                .unwrap();
            let result = run(&h, store, backfill).await;
            assert!(result["weather"]["cell"].as_str().is_some(), "{result}");
        }
        let weather_jobs = jobs_of(store, &tenant, JobType::ProcessWeather).await;
        assert_eq!(weather_jobs.len(), 2, "fields in one cell share one job");
        assert!(server.requests().is_empty());

        // The first job fetches its cell's history and forecast: two requests.
        let mut weather_jobs = weather_jobs;
        weather_jobs.sort_by_key(|j| j.payload["cell_id"].as_str().unwrap().to_owned());
        let west = weather_jobs
            .iter()
            .find(|j| j.payload["cell_id"] == "era5:-71:-204@America/Sao_Paulo")
            .unwrap();
        let result = run(&h, store, west.clone()).await;
        assert_eq!(result["archive_requests"], 1, "{result}");
        assert_eq!(result["forecast_requests"], 1, "{result}");
        let requests = server.requests();
        assert_eq!(requests.len(), 2, "{requests:?}");
        assert!(
            requests[0].starts_with("/v1/archive?latitude=-17.7500&longitude=-51.0000"),
            "{}",
            requests[0]
        );
        let today = time::OffsetDateTime::now_utc().date();
        let from = vivacampo_core::weather::history_start(today, 2);
        assert!(
            requests[0].contains(&format!("start_date={from}")),
            "{}",
            requests[0]
        );
        assert!(
            requests[0].contains("timezone=America/Sao_Paulo"),
            "{}",
            requests[0]
        );

        // Both fields of the cell see the same series.
        let a = store
            .aoi_weather_cell(&tenant, &ids[0])
            .await
            .unwrap()
            .unwrap();
        let b = store
            .aoi_weather_cell(&tenant, &ids[1])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(a, b);
        assert_eq!(a.forecast_date, Some(today));
        assert_eq!(
            a.source.as_deref(),
            h.weather.as_ref().map(|w| w.source.as_str())
        );
        let days = store
            .weather_days(&a.id, from, today + time::Duration::days(15))
            .await
            .unwrap();
        assert_eq!(days.first().map(|d| d.date), Some(from));
        assert_eq!(
            days.last().map(|d| d.date),
            Some(today + time::Duration::days(15))
        );
        assert_eq!(
            days.len() as i64,
            (today - from).whole_days() + 16,
            "every day, once"
        );

        // Run again: nothing to ask.
        let again = run(&h, store, west.clone()).await;
        assert_eq!(
            (
                again["archive_requests"].as_i64(),
                again["forecast_requests"].as_i64()
            ),
            (Some(0), Some(0))
        );
        assert_eq!(server.requests().len(), 2);

        // The other cell hits the daily limit: one request, then the job waits for tomorrow.
        server.set_mode(Mode::Limited {
            reason: DAILY_LIMIT.into(),
            count: 1000,
        });
        let east = weather_jobs.iter().find(|j| j.id != west.id).unwrap();
        let result = run(&h, store, east.clone()).await;
        assert_eq!(server.requests().len(), 3, "no retry loop");
        assert_eq!(
            result["deferred"],
            "the weather service's daily request limit is reached"
        );
        let next = store
            .job(&tenant, result["next_job_id"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(next.job_type, JobType::ProcessWeather);
        assert_eq!(next.payload["cell_id"], east.payload["cell_id"]);
        let tomorrow = (today + time::Duration::days(1)).midnight().assume_utc();
        assert!(
            next.run_after >= (tomorrow.unix_timestamp() * 1000),
            "{}",
            next.run_after
        );
        assert_eq!(next.status.as_str(), "PENDING");

        // Tomorrow the service answers again and the successor fetches.
        server.set_mode(Mode::Normal);
        let result = run(&h, store, next).await;
        assert_eq!(result["archive_requests"], 1, "{result}");
        let _ = std::fs::remove_dir_all(&dir);
        db.drop_db().await;
    }
}

/// Runs every ready job: PROCESS_WEATHER through the handlers, anything else (the fields'
/// backfills) is marked done without running. Returns how many weather jobs ran.
async fn drain_weather_jobs(h: &StandardHandlers, store: &Store) -> usize {
    let mut ran = 0;
    while let Some(leased) = store
        .lease_job("sim", Duration::from_secs(600))
        .await
        .unwrap()
    {
        let metrics = if leased.job.job_type == JobType::ProcessWeather {
            ran += 1;
            run(h, store, leased.job.clone()).await
        } else {
            serde_json::json!({})
        };
        store
            .complete_job(&leased.job.id, "sim", leased.attempt, metrics)
            .await
            .unwrap();
    }
    ran
}

/// A number in 0..1 from a seed (splitmix64), for reproducible field positions.
fn unit(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    ((z ^ (z >> 31)) >> 11) as f64 / (1u64 << 53) as f64
}

/// The weather budget: `n` fields at reproducible random places over Goiás (its bounding box,
/// lon −53.25…−45.9, lat −19.5…−12.4), the loopback Open-Meteo counting requests. Fields in one
/// cell share its job and series (the test above proves it), so one field per distinct cell is
/// stored. Day 0: every cell is new (history + forecast); day 1: the daily refresh.
/// `cargo test -p vivacampo-worker --test weather budget -- --ignored --nocapture`
#[tokio::test]
#[ignore = "a measurement for docs/performance.md"]
async fn budget_simulation_over_goias() {
    for n in [100u64, 1_000, 10_000] {
        let mut cells = std::collections::BTreeSet::new();
        let mut points = Vec::new();
        for i in 0..n {
            let lon = -53.25 + 7.35 * unit(2 * i);
            let lat = -19.5 + 7.1 * unit(2 * i + 1);
            if cells.insert(vivacampo_core::weather::GridCell::containing(lon, lat)) {
                points.push((lon, lat));
            }
        }
        let db = TestDb::sqlite().await;
        let store = &db.store;
        let (identity, tenant) = store
            .sign_up(
                NewIdentity {
                    email: "sim@x.org",
                    name: "Sim",
                    password_hash: "hash",
                    is_system_admin: false,
                },
                "Sim",
            )
            .await
            .unwrap();
        let more = vivacampo_store::accounts::TenantPatch {
            max_fields: Some(100_000),
            max_hectares: Some(1e12),
            ..Default::default()
        };
        store.update_tenant(&tenant.id, more, None).await.unwrap();
        let farm = store
            .create_farm(&tenant.id, &identity.id, "F", "America/Sao_Paulo")
            .await
            .unwrap();
        let mut ids = Vec::new();
        for &(lon, lat) in &points {
            let d = 0.005;
            let (aoi, _) = store
                .create_aoi(
                    &tenant.id,
                    &identity.id,
                    NewAoi {
                        farm_id: farm.id.clone(),
                        name: format!("{lon:.4} {lat:.4}"),
                        use_type: "CROP".into(),
                        shape: Shape {
                            geometry: serde_json::json!({"type": "MultiPolygon", "coordinates": [[[
                                [lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]]}),
                            area_ha: 28.0,
                            bbox: [lon, lat, lon + d, lat + d],
                        },
                        backfill_weeks: 1,
                    },
                )
                .await
                .unwrap();
            ids.push(aoi.id);
        }
        let dir = std::env::temp_dir().join(format!("vc-weather-sim-{}", uuid::Uuid::new_v4()));
        let server = WeatherServer::new(WeatherData::Demo);
        let h = handlers(&server, &dir).await;
        let today = time::OffsetDateTime::now_utc().date();
        for day in 0..2 {
            if day == 1 {
                vivacampo_store::testing::age_weather_cells(
                    store,
                    today - time::Duration::days(1),
                    today - time::Duration::days(6),
                )
                .await
                .unwrap();
            }
            let before = server.requests().len();
            for id in &ids {
                store
                    .enqueue_field_weather(&tenant.id, id, false)
                    .await
                    .unwrap();
            }
            let jobs = drain_weather_jobs(&h, store).await;
            let requests = &server.requests()[before..];
            let per = vivacampo_imagery::weather::server::places_per_path(requests);
            let places: usize = per.values().map(|(_, p)| p).sum();
            println!(
                "fields {n:>6} cells {:>4} day {day}: jobs {jobs:>4} requests {:>4} (archive {:?}, forecast {:?}) places {places}",
                points.len(),
                requests.len(),
                per.get("/v1/archive"),
                per.get("/v1/forecast"),
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
        db.drop_db().await;
    }
}
