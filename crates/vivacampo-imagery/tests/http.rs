//! The imagery path over real HTTP: a loopback server serves a generated demo catalog as a STAC
//! API (`POST /search`, paging in both styles) and its COGs with Range support, plus endpoints
//! that ignore Range, fail once with 500, or answer 404.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use time::macros::{date, datetime};
use vivacampo_imagery::Error;
use vivacampo_imagery::demo::{self, DemoOptions};
use vivacampo_imagery::source::{HttpOptions, SourceOptions, Sources};
use vivacampo_imagery::stac::{Catalog, Search};
use vivacampo_raster::cog::{self, CogOptions};
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::{self, Window};

struct Server {
    dir: PathBuf,
    base: String,
    items: Vec<Value>,
    /// Requests per path, for the retry assertions.
    hits: Mutex<HashMap<String, usize>>,
    flaky_searches: AtomicUsize,
}

type Shared = Arc<Server>;

/// One small demo catalog per test process, generated once (tests run in parallel).
fn catalog_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
        let name = format!("http-catalog-{}", std::process::id());
        // Catalogs of earlier runs.
        for e in std::fs::read_dir(root).into_iter().flatten().flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with("http-catalog-") && n != name {
                let _ = std::fs::remove_dir_all(e.path());
            }
        }
        let dir = root.join(name);
        let mut o = DemoOptions::new(2, date!(2026 - 01 - 20));
        o.size_m = 2400.0;
        demo::generate(&dir, &o, |_, _| {}).unwrap();
        dir
    })
    .clone()
}

async fn start() -> Shared {
    let dir = catalog_dir();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let cat: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("catalog.json")).unwrap()).unwrap();
    let mut items = Vec::new();
    for l in cat["links"].as_array().unwrap() {
        if l["rel"] == "item" {
            let rel = l["href"].as_str().unwrap().trim_start_matches("./");
            let mut item: Value =
                serde_json::from_str(&std::fs::read_to_string(dir.join(rel)).unwrap()).unwrap();
            // This API serves the demo's Sentinel-2 collection (its radar items are another one).
            if item["collection"] != "sentinel-2-l2a" {
                continue;
            }
            // An API names where each item lives; relative asset hrefs resolve against it.
            item["links"] = json!([{"rel": "self", "href": format!("{base}/files/{rel}")}]);
            items.push(item);
        }
    }
    let state = Arc::new(Server {
        dir,
        base,
        items,
        hits: Mutex::new(HashMap::new()),
        flaky_searches: AtomicUsize::new(0),
    });
    let app = Router::new()
        .route("/search", get(search_get).post(search_post))
        .route("/flaky/search", axum::routing::post(flaky_search))
        .route(
            "/getpaging/search",
            axum::routing::post(search_post_get_links),
        )
        .route("/files/{*path}", get(file_ranged))
        .route("/norange/{*path}", get(file_whole))
        .route("/flaky/files/{*path}", get(file_flaky))
        .route("/missing/{*path}", get(missing))
        .route("/sas/token/{collection}", get(sas_token))
        .with_state(state.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    state
}

/// Items in the body's datetime interval, `limit` (clamped to 2, to force paging) from the
/// offset in the `next` token.
fn page(s: &Server, body: &Value, offset: usize, get_style: bool) -> Value {
    let interval = body["datetime"].as_str().unwrap();
    let (a, b) = interval.split_once('/').unwrap();
    let matching: Vec<&Value> = s
        .items
        .iter()
        .filter(|i| {
            let d = i["properties"]["datetime"].as_str().unwrap();
            d >= a && d <= b
        })
        .collect();
    let limit = body["limit"].as_u64().unwrap_or(10).min(2) as usize;
    let features: Vec<Value> = matching
        .iter()
        .skip(offset)
        .take(limit)
        .map(|v| (*v).clone())
        .collect();
    let mut links = vec![];
    if offset + limit < matching.len() {
        let next = offset + limit;
        links.push(if get_style {
            json!({"rel": "next", "href": format!("{}/search?token=next:{next}&datetime={interval}", s.base)})
        } else {
            let mut nb = body.clone();
            nb["next"] = json!(next.to_string());
            json!({"rel": "next", "href": format!("{}/search", s.base), "method": "POST", "merge": false, "body": nb})
        });
    }
    json!({"type": "FeatureCollection", "features": features, "links": links,
           "numberMatched": matching.len()})
}

async fn search_post(State(s): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    let offset = body["next"].as_str().map_or(0, |t| t.parse().unwrap());
    Json(page(&s, &body, offset, false))
}

/// The first page by POST, the next ones by GET links with a token (pgstac's GET style).
async fn search_post_get_links(State(s): State<Shared>, Json(body): Json<Value>) -> Json<Value> {
    Json(page(&s, &body, 0, true))
}

async fn search_get(
    State(s): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let offset = q["token"].trim_start_matches("next:").parse().unwrap();
    let body = json!({"datetime": q["datetime"], "limit": 2});
    Json(page(&s, &body, offset, true))
}

async fn flaky_search(State(s): State<Shared>, Json(body): Json<Value>) -> Response {
    if s.flaky_searches.fetch_add(1, Ordering::SeqCst) == 0 {
        return (StatusCode::SERVICE_UNAVAILABLE, "try later").into_response();
    }
    Json(page(&s, &body, 0, false)).into_response()
}

async fn sas_token(State(s): State<Shared>, UrlPath(collection): UrlPath<String>) -> Json<Value> {
    hit(&s, &format!("sas/{collection}"));
    Json(json!({"msft:expiry": "2099-01-01T00:00:00Z", "token": "st=x&se=y&sig=abc%2B"}))
}

fn hit(s: &Server, key: &str) -> usize {
    let mut h = s.hits.lock().unwrap();
    let n = h.entry(key.to_string()).or_default();
    *n += 1;
    *n
}

fn read(s: &Server, path: &str) -> Option<Vec<u8>> {
    let p = s.dir.join(path);
    p.starts_with(&s.dir)
        .then(|| std::fs::read(p).ok())
        .flatten()
}

async fn file_ranged(
    State(s): State<Shared>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    hit(&s, &format!("files/{path}"));
    let Some(bytes) = read(&s, &path) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    let total = bytes.len();
    let Some(range) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return (StatusCode::OK, [(header::ACCEPT_RANGES, "bytes")], bytes).into_response();
    };
    let spec = range.trim_start_matches("bytes=");
    let (a, b) = spec.split_once('-').unwrap();
    let (start, end) = if a.is_empty() {
        (total.saturating_sub(b.parse().unwrap()), total - 1)
    } else {
        let start: usize = a.parse().unwrap();
        let end = if b.is_empty() {
            total - 1
        } else {
            b.parse::<usize>().unwrap().min(total - 1)
        };
        (start, end)
    };
    if start >= total {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response();
    }
    (
        StatusCode::PARTIAL_CONTENT,
        [
            (
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            ),
            (header::ACCEPT_RANGES, "bytes".into()),
        ],
        Body::from(bytes[start..=end].to_vec()),
    )
        .into_response()
}

async fn file_whole(State(s): State<Shared>, UrlPath(path): UrlPath<String>) -> Response {
    match read(&s, &path) {
        Some(b) => (StatusCode::OK, b).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

async fn file_flaky(
    State(s): State<Shared>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    if hit(&s, &format!("flaky/{path}")) == 1 {
        return (StatusCode::INTERNAL_SERVER_ERROR, "boom").into_response();
    }
    file_ranged(State(s), UrlPath(path), headers).await
}

async fn missing(State(s): State<Shared>, UrlPath(path): UrlPath<String>) -> Response {
    hit(&s, &format!("missing/{path}"));
    StatusCode::NOT_FOUND.into_response()
}

fn fast_retries() -> SourceOptions {
    SourceOptions {
        http: HttpOptions {
            initial_backoff: std::time::Duration::from_millis(10),
            ..HttpOptions::default()
        },
        ..SourceOptions::default()
    }
}

fn whole_interval() -> Search {
    Search::bbox(
        [-50.95, -17.80, -50.85, -17.70],
        datetime!(2026-01-01 0:00 UTC),
        datetime!(2026-01-31 23:59:59 UTC),
    )
}

fn first_b04(dir: &Path) -> (String, Vec<u8>) {
    let cat: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("catalog.json")).unwrap()).unwrap();
    let href = cat["links"][0]["href"]
        .as_str()
        .unwrap()
        .trim_start_matches("./");
    let id = href.split('/').next().unwrap();
    let rel = format!("{id}/B04.tif");
    let bytes = std::fs::read(dir.join(&rel)).unwrap();
    (rel, bytes)
}

#[tokio::test]
async fn stac_api_search_pages_and_cogs_read_by_range() {
    let s = start().await;
    let catalog = Catalog::from_config(&s.base, &HttpOptions::default()).unwrap();
    let scenes = catalog.search(&whole_interval()).await.unwrap();
    // 2 weeks at a 5-day revisit: 3 scenes, over two pages of 2.
    assert_eq!(scenes.len(), s.items.len());
    assert!(scenes.len() >= 3);
    assert!(scenes.windows(2).all(|w| w[0].datetime < w[1].datetime));
    let scene = &scenes[0];
    assert_eq!(scene.epsg, Some(32722));
    assert_eq!(
        (scene.assets["B04"].scale, scene.assets["B04"].offset),
        (1e-4, -0.1)
    );
    let href = &scene.assets["B04"].href;
    assert!(href.starts_with(&format!("{}/files/", s.base)), "{href}");

    let sources = Sources::new(SourceOptions::default());
    let cog = sources.open(href).await.unwrap();
    let win = Window::new(30, 40, 50, 60);
    let got = cog.read_window(0, win).await.unwrap();
    let (rel, bytes) = first_b04(&s.dir);
    assert!(href.ends_with(&rel));
    let want = tiff::open(&bytes)
        .unwrap()
        .read_window(&bytes, 0, win)
        .unwrap();
    assert_eq!(got.data, want.data);
    let stats = sources.stats();
    // The same window again costs no request.
    cog.read_window(0, win).await.unwrap();
    assert_eq!(sources.stats().requests, stats.requests);
}

/// A COG of 1024 x 1024 noisy pixels in 16 tiles of 256 (about 2 MB, overviews besides): one
/// field's window in its first tile costs the header prefetch and that tile, a small part of it.
#[tokio::test]
async fn a_window_of_a_large_cog_fetches_a_fraction_of_it() {
    let s = start().await;
    let side = 1024;
    let mut state = 0x2545_f491_4f6c_dd1d_u64;
    let data: Vec<u16> = (0..side * side)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 48) as u16
        })
        .collect();
    let raster = Raster {
        width: side,
        height: side,
        bands: 1,
        data: Buffer::U16(data),
    };
    let o = CogOptions::new(Georef {
        epsg: Some(32722),
        transform: GeoTransform::north_up(500000.0, 8040000.0, 10.0, 10.0),
    });
    let bytes = cog::write(&raster, &o).unwrap();
    assert!(bytes.len() > 1_500_000, "{}", bytes.len());
    let rel = format!("large-{}.tif", std::process::id());
    std::fs::write(s.dir.join(&rel), &bytes).unwrap();

    let sources = Sources::new(SourceOptions::default());
    let cog = sources
        .open(&format!("{}/files/{rel}", s.base))
        .await
        .unwrap();
    let win = Window::new(30, 40, 50, 60);
    let got = cog.read_window(0, win).await.unwrap();
    let want = tiff::open(&bytes)
        .unwrap()
        .read_window(&bytes, 0, win)
        .unwrap();
    assert_eq!(got.data, want.data);
    let fetched = sources.stats().bytes_fetched;
    std::fs::remove_file(s.dir.join(&rel)).unwrap();
    // The prefetch (64 KiB) and one tile of 128 KiB, against 2 MiB.
    assert!(
        fetched * 4 < bytes.len() as u64,
        "{fetched} of {}",
        bytes.len()
    );
}

#[tokio::test]
async fn get_style_paging_is_followed() {
    let s = start().await;
    let base = format!("{}/getpaging", s.base);
    let catalog = Catalog::from_config(&base, &HttpOptions::default()).unwrap();
    let scenes = catalog.search(&whole_interval()).await.unwrap();
    assert_eq!(scenes.len(), s.items.len());
    let mut q = whole_interval();
    q.max_items = 1;
    assert_eq!(catalog.search(&q).await.unwrap().len(), 1);
}

#[tokio::test]
async fn server_ignoring_range_is_refused() {
    let s = start().await;
    let (rel, _) = first_b04(&s.dir);
    let sources = Sources::new(fast_retries());
    let err = sources
        .open(&format!("{}/norange/{rel}", s.base))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::RangeIgnored { .. }), "{err}");
    assert!(err.to_string().contains("ignores HTTP Range"));
}

#[tokio::test]
async fn server_error_is_retried_not_found_is_not() {
    let s = start().await;
    let (rel, bytes) = first_b04(&s.dir);
    let sources = Sources::new(fast_retries());
    let cog = sources
        .open(&format!("{}/flaky/files/{rel}", s.base))
        .await
        .unwrap();
    assert_eq!(cog.tiff.size, bytes.len() as u64);
    assert!(s.hits.lock().unwrap()[&format!("flaky/{rel}")] >= 2);

    let err = sources
        .open(&format!("{}/missing/{rel}", s.base))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err}");
    assert_eq!(
        s.hits.lock().unwrap()[&format!("missing/{rel}")],
        1,
        "a 404 is not retried"
    );
}

#[tokio::test]
async fn stac_search_retries_a_503() {
    let s = start().await;
    let http = HttpOptions {
        initial_backoff: std::time::Duration::from_millis(10),
        ..HttpOptions::default()
    };
    let api = vivacampo_imagery::stac::StacApi::new(
        &format!("{}/flaky", s.base),
        "sentinel-2-l2a",
        &http,
    )
    .unwrap();
    let mut q = whole_interval();
    q.max_items = 2;
    assert_eq!(api.search(&q).await.unwrap().len(), 2);
    assert_eq!(s.flaky_searches.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn planetary_computer_style_sas_signing() {
    let s = start().await;
    let api =
        vivacampo_imagery::stac::StacApi::new(&s.base, "sentinel-2-l2a", &HttpOptions::default())
            .unwrap()
            .with_sas_signing(&format!("{}/sas/token", s.base));
    let scenes = api.search(&whole_interval()).await.unwrap();
    let href = &scenes[0].assets["B04"].href;
    assert!(href.ends_with(".tif?st=x&se=y&sig=abc%2B"), "{href}");
    // One token for the collection, cached across scenes and pages.
    assert_eq!(s.hits.lock().unwrap()["sas/sentinel-2-l2a"], 1);
    // The signed URL reads like any other (the query rides on every range request).
    let sources = Sources::new(SourceOptions::default());
    let cog = sources.open(href).await.unwrap();
    cog.read_window(0, Window::new(0, 0, 16, 16)).await.unwrap();
}
