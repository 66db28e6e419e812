//! The Sentinel Hub client against the loopback stand-in (`sentinel_hub::server`) over the demo
//! catalog's real COGs: token caching and refresh, 401 and 429 handling, tar answers, and
//! Sentinel-2 values equal to the STAC/COG path for the same scene.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use time::OffsetDateTime;
use vivacampo_imagery::demo::{self, DemoOptions};
use vivacampo_imagery::observation::read_observation;
use vivacampo_imagery::sentinel_hub::server::{self, S1Scene, State};
use vivacampo_imagery::sentinel_hub::{
    Config, S1_GRD, S2_L2A, SentinelHub, processing_units_total,
};
use vivacampo_imagery::source::{SourceOptions, Sources};
use vivacampo_imagery::stac::{Catalog, Search};
use vivacampo_raster::cog::{self, CogOptions};
use vivacampo_raster::field_week::FieldGrid;
use vivacampo_raster::geo::{GeoTransform, Georef, Grid};
use vivacampo_raster::index::Band;
use vivacampo_raster::mask;
use vivacampo_raster::raster::{Buffer, Raster};

const ID: &str = "vivacampo-test";
const SECRET: &str = "s3cr3t/with+chars&=";

struct Fixture {
    dir: PathBuf,
    state: Arc<State>,
    hub: SentinelHub,
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A one-week demo catalog and the stand-in over it (plus `s1` scenes).
async fn fixture(s1: impl FnOnce(&std::path::Path) -> Vec<S1Scene>) -> Fixture {
    vivacampo_imagery::install_crypto_provider();
    let dir = std::env::temp_dir().join(format!("vc-sh-{}", uuid::Uuid::new_v4()));
    let mut options = DemoOptions::new(1, OffsetDateTime::now_utc().date());
    options.size_m = 3_000.0;
    demo::generate(&dir.join("catalog"), &options, |_, _| {}).unwrap();
    let s1 = s1(&dir);
    let state = State::with_s1(&dir.join("catalog"), ID, SECRET, s1);
    let url = server::serve(state.clone()).await.unwrap();
    let mut config = Config::new(&url, ID, SECRET);
    config.backoff = Duration::from_millis(20);
    let hub = SentinelHub::new(config).unwrap();
    Fixture { dir, state, hub }
}

fn week() -> (OffsetDateTime, OffsetDateTime) {
    let end = OffsetDateTime::now_utc();
    (end - Duration::from_secs(8 * 86_400), end)
}

fn pivot_bbox() -> [f64; 4] {
    let ((lon, lat), _) = demo::DEMO_PIVOT;
    [lon - 0.006, lat - 0.006, lon + 0.006, lat + 0.006]
}

/// The demo pivot's square on its 10 m UTM field grid.
fn field() -> FieldGrid {
    let b = pivot_bbox();
    let geojson = serde_json::json!({"type": "Polygon", "coordinates": [[
        [b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]});
    FieldGrid::new(&mask::polygons_from_geojson(&geojson.to_string()).unwrap()).unwrap()
}

fn count(c: &std::sync::atomic::AtomicU64) -> u64 {
    State::count(c)
}

async fn search(hub: &SentinelHub) -> usize {
    let (start, end) = week();
    hub.search(S2_L2A, pivot_bbox(), start, end)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn the_token_is_cached_and_an_expired_one_is_refreshed_once() {
    let f = fixture(|_| Vec::new()).await;
    *f.state.token_lifetime.lock().unwrap() = Duration::from_secs(2);
    assert!(search(&f.hub).await > 0);
    let many = join_all((0..8).map(|_| search(&f.hub))).await;
    assert!(many.iter().all(|&n| n > 0));
    assert_eq!(
        count(&f.state.token_requests),
        1,
        "one token for nine searches"
    );
    // Past the refresh point (a quarter of the 2 s lifetime before expiry): concurrent calls
    // share one refresh.
    tokio::time::sleep(Duration::from_millis(2_100)).await;
    join_all((0..8).map(|_| search(&f.hub))).await;
    assert_eq!(count(&f.state.token_requests), 2);
    assert_eq!(f.hub.token_requests(), 2);
    assert_eq!(count(&f.state.unauthorized), 0);
}

#[tokio::test]
async fn a_401_refreshes_the_token_once_and_retries_once() {
    let f = fixture(|_| Vec::new()).await;
    assert!(search(&f.hub).await > 0);
    // The server drops every token it issued: each of the concurrent calls gets one 401, they
    // share one new token and all succeed.
    f.state.expire_tokens();
    let many = join_all((0..6).map(|_| search(&f.hub))).await;
    assert!(many.iter().all(|&n| n > 0));
    assert_eq!(count(&f.state.token_requests), 2);
    assert_eq!(count(&f.state.unauthorized), 6);

    // Tokens dead on arrival: one refresh, one retry, then a one-sentence error.
    *f.state.token_lifetime.lock().unwrap() = Duration::ZERO;
    f.state.expire_tokens();
    let (start, end) = week();
    let before = count(&f.state.unauthorized);
    let err = f
        .hub
        .search(S2_L2A, pivot_bbox(), start, end)
        .await
        .unwrap_err()
        .to_string();
    assert_eq!(count(&f.state.unauthorized), before + 2, "{err}");
    assert!(err.contains("refused the access token twice"), "{err}");
    assert!(!err.contains("http"), "{err}");
}

#[tokio::test]
async fn wrong_credentials_are_one_sentence() {
    let f = fixture(|_| Vec::new()).await;
    let url = f.hub.config().url.clone();
    let wrong = SentinelHub::new(Config::new(&url, ID, "nope")).unwrap();
    let (start, end) = week();
    let err = wrong
        .search(S2_L2A, pivot_bbox(), start, end)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("refused the client credentials (401)"),
        "{err}"
    );
    assert!(!err.contains(&url), "{err}");
}

#[tokio::test]
async fn a_429_is_retried_after_the_time_its_headers_say() {
    let f = fixture(|_| Vec::new()).await;
    let (start, end) = week();
    let scenes = f
        .hub
        .search(S2_L2A, pivot_bbox(), start, end)
        .await
        .unwrap();
    let field = field();
    f.state.throttle.lock().unwrap().push(700);
    let began = Instant::now();
    f.hub
        .read_s2(&scenes[0], field.grid, &[Band::Red, Band::Nir])
        .await
        .unwrap();
    assert!(began.elapsed() >= Duration::from_millis(700));
    let gaps = f.state.retry_gaps.lock().unwrap().clone();
    assert_eq!(gaps.len(), 1);
    let (asked, waited) = gaps[0];
    assert_eq!(asked, Duration::from_millis(700));
    assert!(waited >= asked, "retried after {waited:?}, asked {asked:?}");
    assert!(waited < asked + Duration::from_millis(1_500), "{waited:?}");
    assert_eq!(count(&f.state.process_requests), 2);

    // A limit that outlasts the retries is an error, not a hang.
    f.state.throttle.lock().unwrap().extend([10; 7]);
    let err = f
        .hub
        .read_s2(&scenes[0], field.grid, &[Band::Red])
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("rate limit is still reached"), "{err}");
}

#[tokio::test]
async fn sentinel_2_reflectance_equals_the_stac_path_for_the_same_scene() {
    let f = fixture(|_| Vec::new()).await;
    let (start, end) = week();
    // One item a page: the client follows `context.next` to the end.
    *f.state.page_limit.lock().unwrap() = 1;
    let via_hub = f
        .hub
        .search(S2_L2A, pivot_bbox(), start, end)
        .await
        .unwrap();
    assert_eq!(count(&f.state.catalog_requests) as usize, via_hub.len());
    let catalog =
        Catalog::from_config(f.dir.join("catalog").to_str().unwrap(), &Default::default()).unwrap();
    let via_stac = catalog
        .search(&Search::bbox(pivot_bbox(), start, end))
        .await
        .unwrap();
    assert_eq!(via_hub.len(), via_stac.len());
    assert!(!via_hub.is_empty());
    let field = field();
    let bands = [
        Band::Blue,
        Band::Green,
        Band::Red,
        Band::Rededge1,
        Band::Nir,
        Band::Swir16,
        Band::Swir22,
    ];
    let sources = Sources::new(SourceOptions::default());
    let units_before = processing_units_total();
    for (h, s) in via_hub.iter().zip(&via_stac) {
        assert_eq!((&h.id, h.datetime), (&s.id, s.datetime));
        let body = SentinelHub::s2_request(h, &field.grid, &["B04"]).unwrap();
        for source in body["input"]["data"].as_array().unwrap() {
            assert_eq!(source["processing"]["harmonizeValues"], false);
        }
        let (hub, units) = f.hub.read_s2(h, field.grid, &bands).await.unwrap();
        assert!(units > 0.0);
        let stac = read_observation(&sources, s, field.grid, &bands)
            .await
            .unwrap();
        assert_eq!(hub.scl, stac.scl);
        let mut compared = 0;
        for ((b1, v1), (b2, v2)) in hub.reflectance.iter().zip(&stac.reflectance) {
            assert_eq!(b1, b2);
            for (a, b) in v1.iter().zip(v2) {
                assert_eq!(a.is_nan(), b.is_nan());
                if a.is_finite() {
                    // The Process API rounds bilinear DNs to UINT16: half a DN at most.
                    assert!((a - b).abs() <= 0.5e-4 + 1e-12, "{b1:?}: {a} vs {b}");
                    compared += 1;
                }
            }
        }
        assert!(compared > 1000, "{compared}");
    }
    assert!(processing_units_total() > units_before);
    assert_eq!(count(&f.state.token_requests), 1);
}

#[tokio::test]
async fn sentinel_1_gamma0_comes_back_linear_on_the_field_grid() {
    let field = field();
    let g = field.grid;
    let when = OffsetDateTime::now_utc() - Duration::from_secs(3 * 86_400);
    let f = fixture(|dir| {
        // A VV/VH COG on the field grid itself: every grid pixel is a source pixel.
        let n = g.width * g.height;
        let mut data: Vec<f32> = (0..n).map(|i| 0.05 + (i % 97) as f32 * 1e-3).collect();
        data.extend((0..n).map(|i| 0.01 + (i % 89) as f32 * 2e-4));
        let raster = Raster {
            width: g.width,
            height: g.height,
            bands: 2,
            data: Buffer::F32(data),
        };
        let mut options = CogOptions::new(Georef {
            epsg: Some(g.epsg),
            transform: g.transform,
        });
        options.nodata = Some(0.0);
        let path = dir.join("s1.tif");
        std::fs::write(&path, cog::write(&raster, &options).unwrap()).unwrap();
        vec![S1Scene {
            id: "S1A_IW_GRDH_1SDV_TEST".into(),
            datetime: when,
            bbox: pivot_bbox(),
            href: path.display().to_string(),
        }]
    })
    .await;
    let (start, end) = week();
    let scenes = f
        .hub
        .search(S1_GRD, pivot_bbox(), start, end)
        .await
        .unwrap();
    assert_eq!(scenes.len(), 1);
    let items = f.hub.search_s1(pivot_bbox(), start, end).await.unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].scene, scenes[0]);
    assert_eq!(items[0].orbit.as_deref(), Some("descending"));
    assert_eq!(items[0].relative_orbit, Some(53));
    let radar = f.hub.read_s1(&items[0].scene, g).await.unwrap();
    assert!(radar.processing_units > 0.0);
    let n = g.width * g.height;
    assert_eq!((radar.vv.len(), radar.vh.len()), (n, n));
    for i in [0, n / 2, n - 1] {
        assert!((radar.vv[i] - (0.05 + (i % 97) as f64 * 1e-3)).abs() < 1e-6);
        assert!((radar.vh[i] - (0.01 + (i % 89) as f64 * 2e-4)).abs() < 1e-6);
    }
    // Outside the scene: no data.
    let away = Grid {
        transform: GeoTransform::north_up(
            g.transform.0[0] + 50_000.0,
            g.transform.0[3],
            10.0,
            10.0,
        ),
        ..g
    };
    let none = f.hub.read_s1(&scenes[0], away).await.unwrap();
    assert!(none.vv.iter().all(|v| v.is_nan()));
}
