//! A loopback Sentinel Hub stand-in for tests: the OAuth2 token endpoint, the Catalog API
//! (STAC search with `next` paging) and the Process API, over a static STAC catalog of
//! Sentinel-2 COGs (the demo's, or any) and Sentinel-1 scenes given as two-band (VV, VH) COGs.
//!
//! It speaks the real protocol — form-encoded `client_credentials`, JWT access tokens with an
//! `exp` claim, `Authorization: Bearer`, JSON error bodies, 401 for an expired token, 429 with
//! `Retry-After` / `X-ProcessingUnits-Retry-After` (ms) and `X-RateLimit-ViolatedPolicy`,
//! `x-processingunits-spent`, one TIFF for one output and a tar archive for several — but it
//! does not run JavaScript: it reads the band names of the evalscript's `input` and returns
//! those bands (DN, or VV/VH and `dataMask` for Sentinel-1), resampled onto the requested grid
//! by the raster engine with the request's `upsampling`. `harmonizeValues` (default `true`) is
//! honoured as Sentinel Hub documents it: DNs of baseline ≥ 04.00 scenes shifted by −1000 and
//! clamped at 0.
//!
//! Counters and knobs are on [`State`] so tests can count token requests, expire tokens early
//! and queue rate-limit answers.

use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::State as AxumState;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use vivacampo_raster::cog::{self, CogOptions};
use vivacampo_raster::geo::{GeoTransform, Georef, Grid};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::warp::Resampling;

use super::{CATALOG_PATH, PROCESS_PATH, S1_GRD, S2_L2A, SentinelHub, TOKEN_PATH, tar};
use crate::source::{SourceOptions, Sources};
use crate::stac::{Scene, Search, StaticCatalog};

/// A Sentinel-1 scene of the stand-in: a two-band (VV, VH, linear) georeferenced COG.
#[derive(Debug, Clone)]
pub struct S1Scene {
    pub id: String,
    pub datetime: OffsetDateTime,
    pub bbox: [f64; 4],
    pub href: String,
}

/// The stand-in's data, knobs and counters.
pub struct State {
    catalog: StaticCatalog,
    s1: Vec<S1Scene>,
    sources: Sources,
    client_id: String,
    client_secret: String,
    /// Lifetime of the tokens issued from now on.
    pub token_lifetime: Mutex<Duration>,
    tokens: Mutex<HashMap<String, Instant>>,
    serial: AtomicU64,
    pub token_requests: AtomicU64,
    pub catalog_requests: AtomicU64,
    pub process_requests: AtomicU64,
    /// Requests answered 401.
    pub unauthorized: AtomicU64,
    /// `Retry-After` values (ms) for the next Process requests: each is answered 429 once.
    pub throttle: Mutex<Vec<u64>>,
    throttled_at: Mutex<Option<(Instant, u64)>>,
    /// For each 429: (the wait it asked for, the time until the next Process request).
    pub retry_gaps: Mutex<Vec<(Duration, Duration)>>,
    /// Catalog page size cap (to exercise paging).
    pub page_limit: Mutex<usize>,
}

impl State {
    pub fn new(catalog_dir: &Path, client_id: &str, client_secret: &str) -> Arc<State> {
        Arc::new(State {
            catalog: StaticCatalog::new(catalog_dir).of_collection(S2_L2A),
            s1: Vec::new(),
            sources: Sources::new(SourceOptions::default()),
            client_id: client_id.into(),
            client_secret: client_secret.into(),
            token_lifetime: Mutex::new(Duration::from_secs(3600)),
            tokens: Mutex::new(HashMap::new()),
            serial: AtomicU64::new(0),
            token_requests: AtomicU64::new(0),
            catalog_requests: AtomicU64::new(0),
            process_requests: AtomicU64::new(0),
            unauthorized: AtomicU64::new(0),
            throttle: Mutex::new(Vec::new()),
            throttled_at: Mutex::new(None),
            retry_gaps: Mutex::new(Vec::new()),
            page_limit: Mutex::new(100),
        })
    }

    /// The same, with Sentinel-1 scenes.
    pub fn with_s1(
        catalog_dir: &Path,
        client_id: &str,
        client_secret: &str,
        s1: Vec<S1Scene>,
    ) -> Arc<State> {
        let mut state = Arc::into_inner(State::new(catalog_dir, client_id, client_secret))
            .expect("a fresh state has one owner");
        state.s1 = s1;
        Arc::new(state)
    }

    /// Makes every token issued so far invalid (as if it had expired early on the server).
    pub fn expire_tokens(&self) {
        self.tokens.lock().unwrap().clear();
    }

    pub fn count(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

/// The stand-in's router (token, Catalog and Process endpoints at Sentinel Hub's paths).
pub fn router(state: Arc<State>) -> Router {
    Router::new()
        .route(TOKEN_PATH, post(token))
        .route(CATALOG_PATH, post(catalog))
        .route(PROCESS_PATH, post(process))
        .with_state(state)
}

/// Serves the stand-in on 127.0.0.1 (a free port); returns its base URL.
pub async fn serve(state: Arc<State>) -> std::io::Result<String> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}", listener.local_addr()?);
    let app = router(state);
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(url)
}

fn error(status: StatusCode, code: &str, message: &str) -> Response {
    let body = json!({"error": {
        "status": status.as_u16(),
        "reason": status.canonical_reason().unwrap_or(""),
        "message": message,
        "code": code,
        "errors": {},
    }});
    (status, axum::Json(body)).into_response()
}

fn b64url(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let n = chunk
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, &b)| n | u32::from(b) << (16 - 8 * i));
        for i in 0..=chunk.len() {
            out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
        }
    }
    out
}

async fn token(AxumState(state): AxumState<Arc<State>>, body: Bytes) -> Response {
    state.token_requests.fetch_add(1, Ordering::Relaxed);
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
        return (
            StatusCode::BAD_REQUEST,
            axum::Json(json!({"error": "unsupported_grant_type"})),
        )
            .into_response();
    }
    if form.get("client_id") != Some(&state.client_id)
        || form.get("client_secret") != Some(&state.client_secret)
    {
        return (
            StatusCode::UNAUTHORIZED,
            axum::Json(json!({"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})),
        )
            .into_response();
    }
    let lifetime = *state.token_lifetime.lock().unwrap();
    let exp = OffsetDateTime::now_utc().unix_timestamp() + lifetime.as_secs() as i64;
    let n = state.serial.fetch_add(1, Ordering::Relaxed);
    let claims = json!({"exp": exp, "sub": state.client_id, "jti": n});
    let value = format!(
        "{}.{}.c2lnbmF0dXJl",
        b64url(br#"{"alg":"RS256","typ":"JWT"}"#),
        b64url(claims.to_string().as_bytes())
    );
    state
        .tokens
        .lock()
        .unwrap()
        .insert(value.clone(), Instant::now() + lifetime);
    axum::Json(json!({
        "access_token": value,
        "token_type": "Bearer",
        "expires_in": lifetime.as_secs(),
        "refresh_expires_in": 0,
        "not-before-policy": 0,
        "scope": "email profile",
    }))
    .into_response()
}

/// `None` when the bearer token is valid, else the 401 answer.
fn check_token(state: &State, headers: &HeaderMap) -> Option<Response> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let valid = bearer.is_some_and(|t| {
        state
            .tokens
            .lock()
            .unwrap()
            .get(t)
            .is_some_and(|&exp| Instant::now() < exp)
    });
    if valid {
        return None;
    }
    state.unauthorized.fetch_add(1, Ordering::Relaxed);
    Some(error(
        StatusCode::UNAUTHORIZED,
        "COMMON_UNAUTHORIZED",
        "You are not authorized! Please provide a valid access token within the header \
         [Authorization: Bearer <accessToken>] of your request.",
    ))
}

fn parse_range(s: &str) -> Option<(OffsetDateTime, OffsetDateTime)> {
    let (a, b) = s.split_once('/')?;
    Some((
        OffsetDateTime::parse(a, &Rfc3339).ok()?,
        OffsetDateTime::parse(b, &Rfc3339).ok()?,
    ))
}

fn bbox_of(v: &Value) -> Option<[f64; 4]> {
    let b: Vec<f64> = v.as_array()?.iter().filter_map(Value::as_f64).collect();
    (b.len() == 4).then(|| [b[0], b[1], b[2], b[3]])
}

fn polygon(b: [f64; 4]) -> Value {
    json!({"type": "Polygon", "coordinates": [[[b[0], b[1]], [b[2], b[1]], [b[2], b[3]], [b[0], b[3]], [b[0], b[1]]]]})
}

fn item(scene: &Scene) -> Value {
    let bbox = scene.bbox.unwrap_or([0.0; 4]);
    let mut properties = json!({
        "datetime": scene.datetime.format(&Rfc3339).unwrap_or_default(),
        "eo:cloud_cover": scene.cloud_cover,
        "platform": "sentinel-2a",
        "instruments": ["msi"],
        "constellation": "sentinel-2",
    });
    if let Some(epsg) = scene.epsg {
        properties["proj:epsg"] = json!(epsg);
    }
    if let Some(b) = &scene.processing_baseline {
        properties["s2:processing_baseline"] = json!(b);
    }
    json!({
        "stac_version": "1.0.0",
        "type": "Feature",
        "id": scene.id,
        "collection": S2_L2A,
        "bbox": bbox,
        "geometry": polygon(bbox),
        "properties": properties,
        "assets": {},
        "links": [],
    })
}

async fn catalog(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.catalog_requests.fetch_add(1, Ordering::Relaxed);
    if let Some(denied) = check_token(&state, &headers) {
        return denied;
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "COMMON_BAD_PAYLOAD", m);
    let Ok(q) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body is not JSON.");
    };
    let Some(bbox) = bbox_of(&q["bbox"]) else {
        return bad("bbox is required.");
    };
    let Some((start, end)) = q["datetime"].as_str().and_then(parse_range) else {
        return bad("datetime must be an interval start/end.");
    };
    let collection = q["collections"][0].as_str().unwrap_or_default();
    let features: Vec<Value> = match collection {
        S2_L2A => {
            let catalog = state.catalog.clone();
            let found = tokio::task::spawn_blocking(move || {
                catalog.search(&Search::bbox(bbox, start, end))
            })
            .await;
            match found {
                Ok(Ok(scenes)) => scenes.iter().map(item).collect(),
                _ => return error(StatusCode::INTERNAL_SERVER_ERROR, "", "catalog failed"),
            }
        }
        S1_GRD => state
            .s1
            .iter()
            .filter(|s| {
                s.datetime >= start
                    && s.datetime <= end
                    && s.bbox[0] <= bbox[2]
                    && bbox[0] <= s.bbox[2]
                    && s.bbox[1] <= bbox[3]
                    && bbox[1] <= s.bbox[3]
            })
            .map(|s| {
                json!({
                    "stac_version": "1.0.0", "type": "Feature", "id": s.id, "collection": S1_GRD,
                    "bbox": s.bbox, "geometry": polygon(s.bbox),
                    "properties": {"datetime": s.datetime.format(&Rfc3339).unwrap_or_default(),
                                   "sar:instrument_mode": "IW", "sar:polarizations": ["VV", "VH"],
                                   "sat:orbit_state": "descending", "sat:relative_orbit": 53,
                                   "s1:resolution": "HIGH"},
                    "assets": {}, "links": [],
                })
            })
            .collect(),
        _ => return bad("Unknown collection."),
    };
    let limit = (q["limit"].as_u64().unwrap_or(10) as usize).min(*state.page_limit.lock().unwrap());
    let from = q["next"].as_u64().unwrap_or(0) as usize;
    let page: Vec<Value> = features.iter().skip(from).take(limit).cloned().collect();
    let mut context = json!({"limit": limit, "returned": page.len()});
    if from + page.len() < features.len() {
        context["next"] = json!(from + page.len());
    }
    axum::Json(
        json!({"type": "FeatureCollection", "features": page, "links": [], "context": context}),
    )
    .into_response()
}

/// The band names of the evalscript's input (of `datasource`, or the first input).
fn evalscript_bands(script: &str, datasource: Option<&str>) -> Vec<String> {
    let from = datasource
        .and_then(|d| script.find(&format!("datasource: \"{d}\"")))
        .unwrap_or(0);
    let rest = &script[from..];
    let Some(start) = rest.find("bands: [") else {
        return Vec::new();
    };
    let rest = &rest[start + 8..];
    let end = rest.find(']').unwrap_or(rest.len());
    rest[..end]
        .split(',')
        .map(|b| b.trim().trim_matches('"').to_owned())
        .filter(|b| !b.is_empty())
        .collect()
}

fn resampling(processing: &Value) -> Resampling {
    match processing["upsampling"].as_str() {
        Some("BILINEAR") => Resampling::Bilinear,
        _ => Resampling::Nearest,
    }
}

fn tiff(grid: &Grid, data: Buffer, bands: usize) -> Vec<u8> {
    let raster = Raster {
        width: grid.width,
        height: grid.height,
        bands,
        data,
    };
    let options = CogOptions::new(Georef {
        epsg: Some(grid.epsg),
        transform: grid.transform,
    });
    cog::write(&raster, &options).expect("the stand-in writes its TIFFs")
}

fn response_with_units(kind: &str, body: Vec<u8>, units: f64) -> Response {
    let mut r = (StatusCode::OK, body).into_response();
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_str(kind).unwrap());
    h.insert(
        "x-processingunits-spent",
        HeaderValue::from_str(&format!("{units}")).unwrap(),
    );
    r
}

async fn process(
    AxumState(state): AxumState<Arc<State>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    state.process_requests.fetch_add(1, Ordering::Relaxed);
    if let Some((at, asked)) = state.throttled_at.lock().unwrap().take() {
        state
            .retry_gaps
            .lock()
            .unwrap()
            .push((Duration::from_millis(asked), at.elapsed()));
    }
    if let Some(denied) = check_token(&state, &headers) {
        return denied;
    }
    let wait = {
        let mut queue = state.throttle.lock().unwrap();
        (!queue.is_empty()).then(|| queue.remove(0))
    };
    if let Some(ms) = wait {
        *state.throttled_at.lock().unwrap() = Some((Instant::now(), ms));
        let mut r = error(
            StatusCode::TOO_MANY_REQUESTS,
            "RATE_LIMIT_EXCEEDED",
            "You have exceeded the rate limit.",
        );
        let h = r.headers_mut();
        h.insert("retry-after", HeaderValue::from(ms));
        h.insert("x-processingunits-retry-after", HeaderValue::from(ms / 2));
        h.insert("x-ratelimit-remaining", HeaderValue::from(0));
        h.insert("x-processingunits-remaining", HeaderValue::from(0));
        h.insert(
            "x-ratelimit-violatedpolicy",
            HeaderValue::from_static("REQUESTS_PER_MINUTE"),
        );
        return r;
    }
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, "COMMON_BAD_PAYLOAD", m);
    let Ok(q) = serde_json::from_slice::<Value>(&body) else {
        return bad("The request body is not JSON.");
    };
    let Some(b) = bbox_of(&q["input"]["bounds"]["bbox"]) else {
        return bad("input.bounds.bbox is required.");
    };
    let Some(epsg) = q["input"]["bounds"]["properties"]["crs"]
        .as_str()
        .and_then(|c| c.rsplit('/').next()?.parse::<u32>().ok())
    else {
        return bad("input.bounds.properties.crs must be an OGC EPSG URI.");
    };
    let (Some(width), Some(height)) = (
        q["output"]["width"]
            .as_u64()
            .filter(|w| (1..=2500).contains(w)),
        q["output"]["height"]
            .as_u64()
            .filter(|h| (1..=2500).contains(h)),
    ) else {
        return bad("output.width and output.height must be 1 to 2500.");
    };
    let grid = Grid {
        width: width as usize,
        height: height as usize,
        transform: GeoTransform::north_up(
            b[0],
            b[3],
            (b[2] - b[0]) / width as f64,
            (b[3] - b[1]) / height as f64,
        ),
        epsg,
    };
    let responses = q["output"]["responses"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    if responses.len() > 1 && !accept.contains("application/tar") {
        return bad("Several responses need Accept: application/tar or multipart/mixed.");
    }
    let data = q["input"]["data"].as_array().cloned().unwrap_or_default();
    let script = q["evalscript"].as_str().unwrap_or_default().to_owned();
    let Some(first) = data.first() else {
        return bad("input.data is required.");
    };
    let Some((from, to)) = first["dataFilter"]["timeRange"]["from"]
        .as_str()
        .zip(first["dataFilter"]["timeRange"]["to"].as_str())
        .and_then(|(a, b)| parse_range(&format!("{a}/{b}")))
    else {
        return bad("dataFilter.timeRange is required.");
    };
    match first["type"].as_str() {
        Some(S2_L2A) => process_s2(&state, &grid, &data, &script, from, to, responses.len()).await,
        Some(S1_GRD) => {
            if first["processing"]["backCoeff"] != "GAMMA0_TERRAIN" {
                return bad("The stand-in serves gamma0 terrain-corrected backscatter only.");
            }
            process_s1(&state, &grid, from, to).await
        }
        _ => bad("Unknown data type."),
    }
}

async fn process_s2(
    state: &State,
    grid: &Grid,
    data: &[Value],
    script: &str,
    from: OffsetDateTime,
    to: OffsetDateTime,
    outputs: usize,
) -> Response {
    let catalog = state.catalog.clone();
    let Ok(Ok(mut scenes)) = tokio::task::spawn_blocking(move || {
        catalog.search(&Search::bbox([-180.0, -90.0, 180.0, 90.0], from, to))
    })
    .await
    else {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "", "catalog failed");
    };
    scenes.sort_by_key(|s| std::cmp::Reverse(s.datetime));
    let n = grid.width * grid.height;
    // Per data source: its bands, mosaicked newest first.
    let mut planes: Vec<(String, Vec<u16>)> = Vec::new();
    let mut input_bands = 0;
    for source in data {
        let id = source["id"].as_str();
        let bands: Vec<String> = evalscript_bands(script, id)
            .into_iter()
            .filter(|b| b != "dataMask")
            .collect();
        input_bands += bands.len();
        let harmonize = source["processing"]["harmonizeValues"]
            .as_bool()
            .unwrap_or(true);
        let resampling = resampling(&source["processing"]);
        for band in bands {
            let mut out = vec![f64::NAN; n];
            for scene in &scenes {
                let Some(asset) = scene.assets.get(&band) else {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "COMMON_BAD_PAYLOAD",
                        "Unknown band.",
                    );
                };
                let Ok(cog) = state.sources.open(&asset.href).await else {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "", "cannot read a tile");
                };
                let Ok(r) = cog.read_into_grid(*grid, resampling, Some(vec![0])).await else {
                    return error(StatusCode::INTERNAL_SERVER_ERROR, "", "cannot read a tile");
                };
                let shift = if harmonize
                    && band != "SCL"
                    && scene
                        .processing_baseline
                        .as_deref()
                        .is_some_and(|b| b >= "04.00")
                {
                    -1000.0
                } else {
                    0.0
                };
                for (o, i) in out.iter_mut().zip(0..n) {
                    let v = r.data.get_f64(i);
                    if o.is_nan() && v.is_finite() && v != 0.0 {
                        *o = (v + shift).max(0.0);
                    }
                }
            }
            let dn = out
                .into_iter()
                .map(|v| {
                    if v.is_finite() {
                        v.round().clamp(0.0, 65535.0) as u16
                    } else {
                        0
                    }
                })
                .collect();
            planes.push((band, dn));
        }
    }
    let units = SentinelHub::estimate_units(grid, input_bands, false);
    let (scl, refl): (Vec<_>, Vec<_>) = planes.into_iter().partition(|(b, _)| b == "SCL");
    let mut bands_data = Vec::with_capacity(n * refl.len());
    for (_, p) in &refl {
        bands_data.extend_from_slice(p);
    }
    let bands_tif = tiff(grid, Buffer::U16(bands_data), refl.len());
    if outputs <= 1 {
        return response_with_units("image/tiff", bands_tif, units);
    }
    let scl_data: Vec<u8> = scl
        .first()
        .map(|(_, p)| p.iter().map(|&v| v as u8).collect())
        .unwrap_or_else(|| vec![0; n]);
    let scl_tif = tiff(grid, Buffer::U8(scl_data), 1);
    let archive = tar(&[("bands.tif", &bands_tif), ("scl.tif", &scl_tif)]);
    response_with_units("application/tar", archive, units)
}

async fn process_s1(
    state: &State,
    grid: &Grid,
    from: OffsetDateTime,
    to: OffsetDateTime,
) -> Response {
    let n = grid.width * grid.height;
    let (mut vv, mut vh) = (vec![f32::NAN; n], vec![f32::NAN; n]);
    let mut scenes: Vec<&S1Scene> = state
        .s1
        .iter()
        .filter(|s| s.datetime >= from && s.datetime <= to)
        .collect();
    scenes.sort_by_key(|s| std::cmp::Reverse(s.datetime));
    for scene in scenes {
        let Ok(cog) = state.sources.open(&scene.href).await else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "", "cannot read a tile");
        };
        let Ok(r) = cog
            .read_into_grid(*grid, Resampling::Bilinear, Some(vec![0, 1]))
            .await
        else {
            return error(StatusCode::INTERNAL_SERVER_ERROR, "", "cannot read a tile");
        };
        for i in 0..n {
            let (a, b) = (r.data.get_f64(i), r.data.get_f64(n + i));
            if vv[i].is_nan() && a.is_finite() && b.is_finite() {
                vv[i] = a as f32;
                vh[i] = b as f32;
            }
        }
    }
    let mask: Vec<f32> = vv
        .iter()
        .map(|v| f32::from(u8::from(!v.is_nan())))
        .collect();
    let zero = |v: Vec<f32>| v.into_iter().map(|x| if x.is_nan() { 0.0 } else { x });
    let mut all: Vec<f32> = zero(vv).collect();
    all.extend(zero(vh));
    all.extend(mask);
    let units = SentinelHub::estimate_units(grid, 2, true);
    response_with_units("image/tiff", tiff(grid, Buffer::F32(all), 3), units)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evalscript_band_lists() {
        let script = "input: [{datasource: \"l2a\", bands: [\"B02\", \"B04\", \"dataMask\"]}, \
                      {datasource: \"scl\", bands: [\"SCL\", \"dataMask\"]}]";
        assert_eq!(
            evalscript_bands(script, Some("l2a")),
            ["B02", "B04", "dataMask"]
        );
        assert_eq!(evalscript_bands(script, Some("scl")), ["SCL", "dataMask"]);
        assert_eq!(b64url(b"{\"exp\":1}"), "eyJleHAiOjF9");
    }
}
