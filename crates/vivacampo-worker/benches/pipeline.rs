//! PROCESS_WEEK benchmarks on the offline demo imagery (real COGs and STAC items):
//!
//! - one field-week of a 1 000 ha field from local files, and through a loopback STAC API;
//! - 100 fields of 10 ha in one scene with one shared block cache, against one such field;
//! - bytes read per field-week against the compressed size of the COG tiles covering the field.
//!
//! Run `scripts/pipeline-bench.sh` (pins the process to one core) or
//! `cargo bench -p vivacampo-worker --bench pipeline`. Prints its figures.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use vivacampo_core::geometry::FieldGeometry;
use vivacampo_core::jobs::JobType;
use vivacampo_imagery::demo::{self, CENTER, DemoOptions};
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::{Catalog, Search};
use vivacampo_imagery::store::RasterStore;
use vivacampo_raster::crs::Crs;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_store::queue::NewJob;
use vivacampo_store::{Store, StoreOptions};
use vivacampo_worker::handlers::JobContext;
use vivacampo_worker::process_week::{BANDS, Imagery, process_week};

const YEAR: i32 = 2026;
const WEEK: u8 = 10;

struct Bench {
    store: Store,
    tenant: String,
    farm: String,
    catalog_dir: PathBuf,
    rasters: PathBuf,
}

/// A square field of `hectares` centred `(dx, dy)` metres from the demo area's centre.
fn square(hectares: f64, dx: f64, dy: f64) -> Shape {
    let half = (hectares * 10_000.0).sqrt() / 2.0;
    let utm = Crs::from_epsg(demo::EPSG).unwrap();
    let (cx, cy) = utm.from_lonlat(CENTER.0, CENTER.1);
    let (cx, cy) = (cx + dx, cy + dy);
    let ring: Vec<[f64; 2]> = [
        (-1.0, -1.0),
        (1.0, -1.0),
        (1.0, 1.0),
        (-1.0, 1.0),
        (-1.0, -1.0),
    ]
    .iter()
    .map(|(sx, sy)| {
        let (lon, lat) = utm.to_lonlat(cx + sx * half, cy + sy * half);
        [lon, lat]
    })
    .collect();
    let field =
        FieldGeometry::from_geojson(&serde_json::json!({"type": "Polygon", "coordinates": [ring]}))
            .unwrap();
    Shape {
        geometry: field.to_geojson(),
        area_ha: field.area_ha(),
        bbox: field.bbox(),
    }
}

impl Bench {
    async fn new(root: &Path) -> Bench {
        let catalog_dir = root.join("catalog");
        let mut options = DemoOptions::new(1, time::macros::date!(2026 - 03 - 08));
        options.size_m = 6_000.0;
        demo::ensure(&catalog_dir, &options, |_, _| {}).unwrap();
        let store = Store::open(&StoreOptions {
            url: format!("sqlite://{}", root.join("bench.db").display()),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        let (identity, tenant) = store
            .sign_up(
                NewIdentity {
                    email: &format!("bench-{}@x.io", uuid::Uuid::new_v4()),
                    name: "Bench",
                    password_hash: "h",
                    is_system_admin: false,
                },
                "Bench",
            )
            .await
            .unwrap();
        let more = vivacampo_store::accounts::TenantPatch {
            max_fields: Some(10_000),
            max_hectares: Some(1e9),
            ..Default::default()
        };
        store.update_tenant(&tenant.id, more, None).await.unwrap();
        let farm = store
            .create_farm(&tenant.id, &identity.id, "Bench", "UTC")
            .await
            .unwrap();
        Bench {
            store,
            tenant: tenant.id,
            farm: farm.id,
            catalog_dir,
            rasters: root.join("rasters"),
        }
    }

    fn imagery(&self, catalog: &str) -> Imagery {
        Imagery {
            catalog: Catalog::from_config(catalog, &HttpOptions::default()).unwrap(),
            sources: Sources::new(SourceOptions::default()),
            rasters: RasterStore::local(&self.rasters).unwrap(),
            sentinel_hub: None,
            radar: None,
        }
    }

    async fn field(&self, shape: Shape) -> String {
        let (aoi, _) = self
            .store
            .create_aoi(
                &self.tenant,
                "bench",
                NewAoi {
                    farm_id: self.farm.clone(),
                    name: "f".into(),
                    use_type: "CROP".into(),
                    shape,
                    backfill_weeks: 1,
                },
            )
            .await
            .unwrap();
        aoi.id
    }

    /// Runs PROCESS_WEEK of the bench week for `aoi` and returns how long it took.
    async fn process(&self, aoi: &str, imagery: &Imagery) -> Duration {
        let job = self
            .store
            .enqueue(NewJob {
                tenant_id: self.tenant.clone(),
                aoi_id: Some(aoi.to_owned()),
                job_type: JobType::ProcessWeek,
                idempotency_key: None,
                payload: serde_json::json!({"aoi_id": aoi, "year": YEAR, "week": WEEK, "geometry_version": 1}),
                run_after: None,
            })
            .await
            .unwrap()
            .job;
        let ctx = JobContext {
            store: self.store.clone(),
            job,
        };
        let started = Instant::now();
        let result = process_week(&ctx, imagery).await.unwrap();
        let took = started.elapsed();
        assert_eq!(result["status"], "OK", "{result}");
        took
    }
}

/// Compressed bytes of the full-resolution COG tiles covering `bbox` (lon/lat) in the week's
/// scenes, over the bands PROCESS_WEEK reads.
async fn covering_tile_bytes(catalog: &Catalog, bbox: [f64; 4]) -> u64 {
    let scenes = catalog
        .search(&Search::iso_week(bbox, YEAR, WEEK).unwrap())
        .await
        .unwrap();
    let utm = Crs::from_epsg(demo::EPSG).unwrap();
    let (x0, y0) = utm.from_lonlat(bbox[0], bbox[1]);
    let (x1, y1) = utm.from_lonlat(bbox[2], bbox[3]);
    let bounds = [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)];
    let mut total = 0;
    for scene in &scenes {
        let names = BANDS.iter().map(|(_, n)| *n).chain(["SCL"]);
        for name in names {
            let href = &scene.assets[name].href;
            let path = url::Url::parse(href).unwrap().to_file_path().unwrap();
            let bytes = std::fs::read(path).unwrap();
            let tiff = vivacampo_raster::tiff::open(bytes.as_slice()).unwrap();
            let window = tiff.window_for_bounds(0, bounds).unwrap();
            let plan = tiff.plan(0, window, false).unwrap();
            total += plan.ranges.iter().map(|r| r.end - r.start).sum::<u64>();
        }
    }
    total
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> String {
    format!("{:.1} ms", d.as_secs_f64() * 1e3)
}

async fn run() {
    vivacampo_imagery::install_crypto_provider();
    let root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("pipeline-bench");
    let _ = std::fs::remove_file(root.join("bench.db"));
    let _ = std::fs::remove_dir_all(root.join("rasters"));
    std::fs::create_dir_all(&root).unwrap();
    let bench = Bench::new(&root).await;
    let catalog = bench.catalog_dir.display().to_string();
    let runs = 5;

    // 1. One 1 000 ha field-week from local files, cold caches each run.
    let big = square(1_000.0, 0.0, 0.0);
    let big_bbox = big.bbox;
    let big_id = bench.field(big).await;
    let mut local = Vec::new();
    let mut fetched = 0;
    for _ in 0..runs {
        let imagery = bench.imagery(&catalog);
        local.push(bench.process(&big_id, &imagery).await);
        fetched = imagery.sources.stats().bytes_fetched;
    }
    let covering = covering_tile_bytes(&bench.imagery(&catalog).catalog, big_bbox).await;
    println!(
        "1 000 ha field-week, local files:       median {} (min {}) over {runs} runs",
        ms(median(local.clone())),
        ms(*local.iter().min().unwrap())
    );
    println!(
        "  bytes read {:.2} MB; compressed tiles covering the field {:.2} MB (ratio {:.2})",
        fetched as f64 / 1e6,
        covering as f64 / 1e6,
        fetched as f64 / covering as f64
    );

    // 2. The same through a loopback STAC API with HTTP range reads.
    let app = vivacampo_imagery::catalog_server::router(&bench.catalog_dir).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let mut http = Vec::new();
    let mut requests = 0;
    for _ in 0..runs {
        let imagery = bench.imagery(&url);
        http.push(bench.process(&big_id, &imagery).await);
        requests = imagery.sources.stats().requests;
    }
    println!(
        "1 000 ha field-week, loopback STAC API: median {} (min {}), {requests} range requests",
        ms(median(http.clone())),
        ms(*http.iter().min().unwrap())
    );

    // 3. 100 fields of 10 ha in one scene, one shared cache, against one such field alone.
    let mut one = Vec::new();
    let single = bench.field(square(10.0, -2_000.0, -2_000.0)).await;
    for _ in 0..runs {
        one.push(bench.process(&single, &bench.imagery(&catalog)).await);
    }
    let one = median(one);
    let mut ids = Vec::new();
    for i in 0..100 {
        let (col, row) = (f64::from(i % 10), f64::from(i / 10));
        ids.push(
            bench
                .field(square(10.0, (col - 4.5) * 420.0, (row - 4.5) * 420.0))
                .await,
        );
    }
    let shared = bench.imagery(&catalog);
    let started = Instant::now();
    for id in &ids {
        bench.process(id, &shared).await;
    }
    let hundred = started.elapsed();
    let stats = shared.sources.stats();
    println!(
        "100 fields of 10 ha in one scene: {} = {:.1}x the 1 000 ha field-week (target < 10x)",
        ms(hundred),
        hundred.as_secs_f64() / median(local.clone()).as_secs_f64()
    );
    println!(
        "  one 10 ha field-week alone: {}; {} each in the batch of 100",
        ms(one),
        ms(hundred / 100)
    );
    println!(
        "  shared block cache: {} hits, {} misses; {:.2} MB read for 100 fields",
        stats.blocks.hits,
        stats.blocks.misses,
        stats.bytes_fetched as f64 / 1e6
    );
    bench.store.close().await;
}

fn main() {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(run());
}
