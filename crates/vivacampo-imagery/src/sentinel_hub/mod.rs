//! Sentinel Hub as an imagery source (Copernicus Data Space Ecosystem by default): OAuth2
//! client credentials, the Catalog API (STAC search) for Sentinel-2 L2A and Sentinel-1 GRD
//! scenes, and the Process API for a scene's bands on a field grid.
//!
//! - Token: fetched with `client_credentials`, cached until shortly before its expiry (the JWT
//!   `exp` claim, else `expires_in`); one refresh is shared by concurrent requests (the cache is
//!   a mutex held while refreshing). A 401 drops that token, refreshes once and retries once.
//! - Rate limits: a 429 waits `Retry-After` / `X-ProcessingUnits-Retry-After` (milliseconds, as
//!   Sentinel Hub sends them; the longer of the two) and retries; 5xx and connection errors back
//!   off exponentially. At most `max_retries` retries per call.
//! - Sentinel-2: `harmonizeValues: false` and `units: "DN"`, so the UINT16 values are the L2A
//!   product's own DNs — the numbers the STAC/COG path reads. The reflectance scale and offset
//!   then follow the same rule as the STAC path (`external-apis.md` §1.6): baseline ≥ 04.00 →
//!   DN × 1e-4 − 0.1, with the same pixel sanity check. (`harmonizeValues: true`, the default,
//!   would shift DNs by −1000 and clamp dark pixels to 0, which is nodata for us.) Reflectance
//!   bands are upsampled bilinearly and SCL by nearest neighbour: two data sources of the same
//!   collection (data fusion), two outputs, answered as a tar archive of two TIFFs.
//! - Sentinel-1: `backCoeff: GAMMA0_TERRAIN`, orthorectified, VV and VH as FLOAT32 linear
//!   power plus `dataMask`, one TIFF.
//! - Processing units: the `x-processingunits-spent` header of each Process answer, else the
//!   documented estimate (512 × 512 px × 3 input bands = 1 PU, minimum 0.005), added to a process-wide
//!   counter ([`processing_units_total`], `/metrics`) and returned per call (the job's result).

pub mod server;

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use tokio::sync::Mutex;
use vivacampo_raster::field_week::Observation;
use vivacampo_raster::geo::Grid;
use vivacampo_raster::index::Band;
use vivacampo_raster::raster::Raster;
use vivacampo_raster::warp::Resampling;

use crate::calls::{self, Service};
use crate::error::{Error, Result};
use crate::stac::{Scene, band_for_asset};

/// The Copernicus Data Space Ecosystem's Sentinel Hub.
pub const CDSE_URL: &str = "https://sh.dataspace.copernicus.eu";
/// Its token endpoint (CDSE's identity service, not under `sh.`).
pub const CDSE_TOKEN_URL: &str =
    "https://identity.dataspace.copernicus.eu/auth/realms/CDSE/protocol/openid-connect/token";
/// Token path under other deployments' base URL (services.sentinel-hub.com, the stand-in).
pub const TOKEN_PATH: &str = "/auth/realms/main/protocol/openid-connect/token";
pub const CATALOG_PATH: &str = "/api/v1/catalog/1.0.0/search";
pub const PROCESS_PATH: &str = "/api/v1/process";
pub const S2_L2A: &str = "sentinel-2-l2a";
pub const S1_GRD: &str = "sentinel-1-grd";

/// Processing units spent by this process, in thousandths.
static PU_MILLI: AtomicU64 = AtomicU64::new(0);

/// Processing units spent by this process's Process API calls (for `/metrics`).
pub fn processing_units_total() -> f64 {
    PU_MILLI.load(Ordering::Relaxed) as f64 / 1000.0
}

/// Where and as whom to call Sentinel Hub.
#[derive(Clone)]
pub struct Config {
    /// Base URL (`sentinel_hub_url`), default [`CDSE_URL`].
    pub url: String,
    pub client_id: String,
    pub client_secret: String,
    /// Retries per call (429s, 5xx, connection errors).
    pub max_retries: u32,
    /// First 5xx back-off, doubled per retry.
    pub backoff: Duration,
    /// Longest wait a 429 may ask for before we give up the call instead.
    pub max_wait: Duration,
    pub timeout: Duration,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("url", &self.url)
            .field("client_id", &self.client_id)
            .field("client_secret", &"[redacted]")
            .finish()
    }
}

impl Config {
    pub fn new(url: &str, client_id: &str, client_secret: &str) -> Config {
        Config {
            url: url.trim_end_matches('/').to_owned(),
            client_id: client_id.to_owned(),
            client_secret: client_secret.to_owned(),
            max_retries: 5,
            backoff: Duration::from_millis(500),
            max_wait: Duration::from_secs(120),
            timeout: Duration::from_secs(120),
        }
    }

    /// The token endpoint: CDSE's identity service for the CDSE URL, else
    /// `{url}/auth/realms/main/protocol/openid-connect/token` (services.sentinel-hub.com).
    pub fn token_url(&self) -> String {
        if self.url == CDSE_URL {
            CDSE_TOKEN_URL.to_owned()
        } else {
            format!("{}{TOKEN_PATH}", self.url)
        }
    }
}

struct Token {
    value: String,
    refresh_at: Instant,
}

/// A Sentinel Hub client; clone-free, share it behind an `Arc`.
pub struct SentinelHub {
    config: Config,
    client: reqwest::Client,
    token: Mutex<Option<Token>>,
    token_requests: AtomicU64,
}

impl std::fmt::Debug for SentinelHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SentinelHub")
            .field("config", &self.config)
            .finish()
    }
}

/// A Sentinel-1 scene on a field grid: gamma0 terrain-corrected backscatter, linear power; NaN
/// where the scene has no data.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarObservation {
    pub vv: Vec<f64>,
    pub vh: Vec<f64>,
    pub processing_units: f64,
}

fn sh_error(message: impl Into<String>) -> Error {
    Error::SentinelHub(message.into())
}

/// The `error.message` of a Sentinel Hub error body, else the start of the body.
fn error_message(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| {
            v["error"]["message"]
                .as_str()
                .or(v["error_description"].as_str())
                .map(str::to_owned)
        })
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// Milliseconds to wait after a 429: the longer of `Retry-After` and
/// `X-ProcessingUnits-Retry-After` (both milliseconds), 1 s when neither is given.
pub fn retry_after(headers: &reqwest::header::HeaderMap) -> Duration {
    let ms = ["retry-after", "x-processingunits-retry-after"]
        .iter()
        .filter_map(|h| headers.get(*h)?.to_str().ok()?.trim().parse::<f64>().ok())
        .filter(|v| v.is_finite() && *v >= 0.0)
        .fold(None, |acc: Option<f64>, v| {
            Some(acc.map_or(v, |a| a.max(v)))
        });
    Duration::from_millis(ms.unwrap_or(1000.0).ceil() as u64)
}

/// The `exp` claim (seconds since the epoch) of a JWT, if the token is one.
fn jwt_exp(token: &str) -> Option<i64> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64url(payload)?;
    serde_json::from_slice::<Value>(&bytes).ok()?["exp"].as_i64()
}

fn base64url(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in s.bytes().take_while(|&c| c != b'=') {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    Some(out)
}

/// The files of a tar archive (ustar, as the Process API answers several outputs):
/// `(name, bytes)`.
pub fn untar(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>> {
    let mut files = Vec::new();
    let mut at = 0;
    while at + 512 <= bytes.len() {
        let header = &bytes[at..at + 512];
        if header.iter().all(|&b| b == 0) {
            break;
        }
        let field = |r: std::ops::Range<usize>| {
            let f = &header[r];
            let end = f.iter().position(|&b| b == 0).unwrap_or(f.len());
            String::from_utf8_lossy(&f[..end]).trim().to_owned()
        };
        let mut name = field(0..100);
        let prefix = field(345..500);
        if !prefix.is_empty() {
            name = format!("{prefix}/{name}");
        }
        let size = usize::from_str_radix(&field(124..136), 8)
            .map_err(|_| sh_error("Sentinel Hub answered a malformed tar archive"))?;
        let start = at + 512;
        let end = start
            .checked_add(size)
            .filter(|&e| e <= bytes.len())
            .ok_or_else(|| sh_error("Sentinel Hub answered a truncated tar archive"))?;
        if matches!(header[156], b'0' | 0) {
            files.push((name, bytes[start..end].to_vec()));
        }
        at = start + size.div_ceil(512) * 512;
    }
    Ok(files)
}

/// A tar archive of `files` (ustar), for the stand-in.
pub fn tar(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in files {
        let mut h = [0u8; 512];
        h[..name.len().min(100)].copy_from_slice(&name.as_bytes()[..name.len().min(100)]);
        h[100..107].copy_from_slice(b"0000644");
        h[108..115].copy_from_slice(b"0000000");
        h[116..123].copy_from_slice(b"0000000");
        h[124..135].copy_from_slice(format!("{:011o}", data.len()).as_bytes());
        h[136..147].copy_from_slice(b"00000000000");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

/// Reads a Process API TIFF onto `grid` (the grid it was requested on, so this is an identity
/// warp that also checks the georeferencing). Values as stored, nodata (0) as NaN.
fn tiff_on_grid(bytes: &[u8], grid: &Grid, nodata_zero: bool) -> Result<Raster> {
    let raster_err = |source| Error::Raster {
        url: "Sentinel Hub Process API answer".into(),
        source,
    };
    let tiff = vivacampo_raster::tiff::open(bytes).map_err(raster_err)?;
    if tiff.width() as usize != grid.width || tiff.height() as usize != grid.height {
        return Err(sh_error(format!(
            "Sentinel Hub answered a {}×{} image for a {}×{} request",
            tiff.width(),
            tiff.height(),
            grid.width,
            grid.height
        )));
    }
    if tiff.georef.is_some_and(|g| g.epsg.is_some()) {
        let mut tiff = tiff;
        if !nodata_zero {
            tiff.nodata = None;
        }
        vivacampo_raster::warp::read_into_grid(&tiff, bytes, grid, Resampling::Nearest, None)
            .map_err(raster_err)
    } else {
        // No georeferencing: the image is the requested grid.
        let window = vivacampo_raster::tiff::Window::new(0, 0, tiff.width(), tiff.height());
        let raw = tiff.read_window(bytes, 0, window).map_err(raster_err)?;
        Ok(raw.to_f64_masked(nodata_zero.then_some(0.0), None))
    }
}

/// The processing baseline rule of `external-apis.md` §1.6 for DNs as the product holds them:
/// baseline ≥ 04.00 (or, without a baseline, sensed from 2022-01-25, when 04.00 started) →
/// offset −0.1.
pub fn s2_offset(scene: &Scene) -> f64 {
    let shifted = match scene.processing_baseline.as_deref() {
        Some(b) => b >= "04.00",
        None => scene.datetime.date() >= time::macros::date!(2022 - 01 - 25),
    };
    if shifted { -0.1 } else { 0.0 }
}

impl SentinelHub {
    pub fn new(config: Config) -> Result<SentinelHub> {
        crate::install_crypto_provider();
        let client = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(10))
            .timeout(config.timeout)
            .user_agent(concat!("vivacampo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Request {
                url: config.url.clone(),
                source,
            })?;
        Ok(SentinelHub {
            config,
            client,
            token: Mutex::new(None),
            token_requests: AtomicU64::new(0),
        })
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Token requests made so far.
    pub fn token_requests(&self) -> u64 {
        self.token_requests.load(Ordering::Relaxed)
    }

    /// A valid access token: the cached one, or a new one (callers arriving during a refresh
    /// wait for it rather than starting their own).
    async fn token(&self) -> Result<String> {
        let mut cached = self.token.lock().await;
        if let Some(t) = cached.as_ref()
            && Instant::now() < t.refresh_at
        {
            return Ok(t.value.clone());
        }
        let token = self.fetch_token().await?;
        let value = token.value.clone();
        *cached = Some(token);
        Ok(value)
    }

    /// Drops `stale` from the cache (unless another caller already replaced it).
    async fn forget(&self, stale: &str) {
        let mut cached = self.token.lock().await;
        if cached.as_ref().is_some_and(|t| t.value == stale) {
            *cached = None;
        }
    }

    async fn fetch_token(&self) -> Result<Token> {
        let url = self.config.token_url();
        let body = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "client_credentials")
            .append_pair("client_id", &self.config.client_id)
            .append_pair("client_secret", &self.config.client_secret)
            .finish();
        let mut attempt = 0;
        loop {
            self.token_requests.fetch_add(1, Ordering::Relaxed);
            let sent = self
                .client
                .post(&url)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(body.clone())
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if attempt < self.config.max_retries => {
                    tracing::warn!(error = %e, "Sentinel Hub token request failed; retrying");
                    tokio::time::sleep(self.config.backoff * 2u32.pow(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(_) => {
                    return calls::record(
                        Service::SentinelHub,
                        Err(sh_error("Sentinel Hub's login service cannot be reached")),
                    );
                }
            };
            let status = response.status();
            if status.as_u16() == 429 && attempt < self.config.max_retries {
                let wait = retry_after(response.headers());
                if wait <= self.config.max_wait {
                    tokio::time::sleep(wait).await;
                    attempt += 1;
                    continue;
                }
            }
            if status.is_server_error() && attempt < self.config.max_retries {
                tokio::time::sleep(self.config.backoff * 2u32.pow(attempt)).await;
                attempt += 1;
                continue;
            }
            let text = response.text().await.unwrap_or_default();
            if !status.is_success() {
                return calls::record(
                    Service::SentinelHub,
                    Err(sh_error(format!(
                        "Sentinel Hub refused the client credentials ({}): {}",
                        status.as_u16(),
                        error_message(&text)
                    ))),
                );
            }
            let v: Value = serde_json::from_str(&text).map_err(|_| {
                sh_error("Sentinel Hub's login service answered something other than a token")
            })?;
            let value = v["access_token"]
                .as_str()
                .ok_or_else(|| sh_error("Sentinel Hub's login service answered no access token"))?
                .to_owned();
            let now = OffsetDateTime::now_utc().unix_timestamp();
            let lifetime = jwt_exp(&value)
                .map(|exp| exp - now)
                .or_else(|| v["expires_in"].as_i64())
                .unwrap_or(300)
                .max(0) as u64;
            let lifetime = Duration::from_secs(lifetime);
            // Refresh a minute early, or a quarter of the lifetime for short-lived tokens.
            let margin = (lifetime / 4).min(Duration::from_secs(60));
            calls::record::<_, Error>(Service::SentinelHub, Ok(()))?;
            return Ok(Token {
                value,
                refresh_at: Instant::now() + lifetime - margin,
            });
        }
    }

    /// POSTs `body` to `path` with the bearer token; handles 401 (refresh once, retry once),
    /// 429 (wait as the headers say) and 5xx (back-off). Returns the successful answer.
    async fn post(&self, path: &str, body: &Value, accept: &str) -> Result<reqwest::Response> {
        let url = format!("{}{path}", self.config.url);
        let (mut refreshed, mut attempt) = (false, 0u32);
        loop {
            let token = self.token().await?;
            let sent = self
                .client
                .post(&url)
                .bearer_auth(&token)
                .header("accept", accept)
                .json(body)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if attempt < self.config.max_retries => {
                    calls::record::<(), _>(Service::SentinelHub, Err(())).unwrap_or_default();
                    tracing::warn!(error = %e, "Sentinel Hub request failed; retrying");
                    tokio::time::sleep(self.config.backoff * 2u32.pow(attempt)).await;
                    attempt += 1;
                    continue;
                }
                Err(e) if e.is_timeout() => {
                    calls::record_timeout(Service::SentinelHub);
                    return Err(sh_error("Sentinel Hub did not answer in time"));
                }
                Err(_) => {
                    return calls::record(
                        Service::SentinelHub,
                        Err(sh_error("Sentinel Hub cannot be reached")),
                    );
                }
            };
            let status = response.status().as_u16();
            if (200..300).contains(&status) {
                return calls::record(Service::SentinelHub, Ok(response));
            }
            let _ = calls::record::<(), _>(Service::SentinelHub, Err(()));
            match status {
                401 if !refreshed => {
                    tracing::info!("Sentinel Hub refused the access token; refreshing it once");
                    self.forget(&token).await;
                    refreshed = true;
                    continue;
                }
                429 if attempt < self.config.max_retries => {
                    let wait = retry_after(response.headers());
                    if wait <= self.config.max_wait {
                        tracing::info!(
                            wait_ms = wait.as_millis() as u64,
                            "Sentinel Hub rate limit reached; waiting as it asks"
                        );
                        tokio::time::sleep(wait).await;
                        attempt += 1;
                        continue;
                    }
                }
                500..=599 if attempt < self.config.max_retries => {
                    tokio::time::sleep(self.config.backoff * 2u32.pow(attempt)).await;
                    attempt += 1;
                    continue;
                }
                _ => {}
            }
            let text = response.text().await.unwrap_or_default();
            let message = error_message(&text);
            return Err(sh_error(match status {
                401 => format!("Sentinel Hub refused the access token twice: {message}"),
                403 => {
                    format!("Sentinel Hub refused the request (quota or permissions): {message}")
                }
                429 => "Sentinel Hub's rate limit is still reached after retrying".to_owned(),
                _ => format!("Sentinel Hub answered {status}: {message}"),
            }));
        }
    }

    /// Catalog API search: the scenes of `collection` over `bbox` (lon/lat) between `start` and
    /// `end`, every page, oldest first. Sentinel-2 items from one pass (several MGRS tiles, one
    /// sensing time) are one scene for the Process API, which mosaics them: only the first is
    /// kept.
    pub async fn search(
        &self,
        collection: &str,
        bbox: [f64; 4],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Vec<Scene>> {
        let items = self.search_items(collection, bbox, start, end).await?;
        Ok(items.into_iter().map(|(scene, _)| scene).collect())
    }

    /// [`SentinelHub::search`] with each scene's catalog item.
    async fn search_items(
        &self,
        collection: &str,
        bbox: [f64; 4],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Vec<(Scene, Value)>> {
        let datetime = format!(
            "{}/{}",
            start
                .format(&Rfc3339)
                .map_err(|e| sh_error(e.to_string()))?,
            end.format(&Rfc3339).map_err(|e| sh_error(e.to_string()))?
        );
        let mut body = json!({
            "collections": [collection],
            "bbox": bbox,
            "datetime": datetime,
            "limit": 100,
        });
        let mut scenes: Vec<(Scene, Value)> = Vec::new();
        for _ in 0..100 {
            let mut page: Value = self
                .post(CATALOG_PATH, &body, "application/json")
                .await?
                .json()
                .await
                .map_err(|_| {
                    sh_error("Sentinel Hub's catalog answered something other than JSON")
                })?;
            let features = match page["features"].take() {
                Value::Array(f) => f,
                _ => Vec::new(),
            };
            for item in features {
                let scene = catalog_scene(&item, collection)?;
                if !scenes.iter().any(|(s, _)| same_pass(s, &scene)) {
                    scenes.push((scene, item));
                }
            }
            match page["context"]["next"].as_u64() {
                Some(next) => body["next"] = json!(next),
                None => break,
            }
        }
        scenes.sort_by_key(|(s, _)| s.datetime);
        Ok(scenes)
    }

    /// The scene's time range for the Process API: its sensing time ± 10 minutes (one pass;
    /// passes over a place are days apart).
    fn time_range(scene: &Scene) -> Result<Value> {
        let pad = Duration::from_secs(600);
        let f = |t: OffsetDateTime| t.format(&Rfc3339).map_err(|e| sh_error(e.to_string()));
        Ok(json!({"from": f(scene.datetime - pad)?, "to": f(scene.datetime + pad)?}))
    }

    fn bounds(grid: &Grid) -> Value {
        let t = grid.transform;
        let (x0, y0) = t.apply(0.0, 0.0);
        let (x1, y1) = t.apply(grid.width as f64, grid.height as f64);
        json!({
            "bbox": [x0.min(x1), y0.min(y1), x0.max(x1), y0.max(y1)],
            "properties": {"crs": format!("http://www.opengis.net/def/crs/EPSG/0/{}", grid.epsg)},
        })
    }

    /// The Process API request for a Sentinel-2 scene's `bands` (ESA names) and SCL on `grid`.
    pub fn s2_request(scene: &Scene, grid: &Grid, bands: &[&str]) -> Result<Value> {
        let range = Self::time_range(scene)?;
        let names: Vec<String> = bands.iter().map(|b| format!("\"{b}\"")).collect();
        let values: Vec<String> = bands.iter().map(|b| format!("s.{b}")).collect();
        let zeros = vec!["0"; bands.len()].join(",");
        let evalscript = format!(
            "//VERSION=3\n\
             function setup() {{\n  return {{\n    input: [\
             {{datasource: \"l2a\", bands: [{names}, \"dataMask\"], units: \"DN\"}}, \
             {{datasource: \"scl\", bands: [\"SCL\", \"dataMask\"], units: \"DN\"}}],\n    \
             output: [{{id: \"bands\", bands: {n}, sampleType: \"UINT16\"}}, \
             {{id: \"scl\", bands: 1, sampleType: \"UINT8\"}}]\n  }};\n}}\n\
             function evaluatePixel(samples) {{\n  var s = samples.l2a[0], c = samples.scl[0];\n  \
             var scl = c && c.dataMask ? c.SCL : 0;\n  \
             if (!s || !s.dataMask) return {{bands: [{zeros}], scl: [scl]}};\n  \
             return {{bands: [{values}], scl: [scl]}};\n}}\n",
            names = names.join(", "),
            n = bands.len(),
            values = values.join(", "),
        );
        let filter = json!({"timeRange": range, "mosaickingOrder": "mostRecent"});
        Ok(json!({
            "input": {
                "bounds": Self::bounds(grid),
                "data": [
                    {"id": "l2a", "type": S2_L2A, "dataFilter": filter,
                     "processing": {"upsampling": "BILINEAR", "downsampling": "BILINEAR", "harmonizeValues": false}},
                    {"id": "scl", "type": S2_L2A, "dataFilter": filter,
                     "processing": {"upsampling": "NEAREST", "downsampling": "NEAREST", "harmonizeValues": false}},
                ],
            },
            "output": {
                "width": grid.width,
                "height": grid.height,
                "responses": [
                    {"identifier": "bands", "format": {"type": "image/tiff"}},
                    {"identifier": "scl", "format": {"type": "image/tiff"}},
                ],
            },
            "evalscript": evalscript,
        }))
    }

    /// Processing units of an answer: its `x-processingunits-spent` header, else the estimate.
    fn spent(headers: &reqwest::header::HeaderMap, estimate: f64) -> f64 {
        let pu = headers
            .get("x-processingunits-spent")
            .and_then(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .unwrap_or(estimate);
        PU_MILLI.fetch_add((pu * 1000.0).round() as u64, Ordering::Relaxed);
        pu
    }

    /// Sentinel Hub's documented cost: 512 × 512 px × 3 input bands (`dataMask` not counted,
    /// every data source's bands counted) = 1 PU, FLOAT32 output × 2, at least 0.005.
    pub fn estimate_units(grid: &Grid, input_bands: usize, float: bool) -> f64 {
        let px = (grid.width * grid.height) as f64 / (512.0 * 512.0);
        let pu = px * (input_bands as f64 / 3.0).max(1.0);
        (pu * if float { 2.0 } else { 1.0 }).max(0.005)
    }

    /// A Sentinel-2 scene's `bands` and SCL on `grid`, as reflectance: what
    /// [`crate::observation::read_observation`] gives for the same scene from its COGs. Also
    /// returns the processing units spent.
    pub async fn read_s2(
        &self,
        scene: &Scene,
        grid: Grid,
        bands: &[Band],
    ) -> Result<(Observation, f64)> {
        let names = bands
            .iter()
            .map(|b| {
                band_for_asset(b.name())
                    .ok_or_else(|| sh_error(format!("no Sentinel-2 band for {}", b.name())))
            })
            .collect::<Result<Vec<_>>>()?;
        let body = Self::s2_request(scene, &grid, &names)?;
        let response = self.post(PROCESS_PATH, &body, "application/tar").await?;
        let estimate = Self::estimate_units(&grid, names.len() + 1, false);
        let pu = Self::spent(response.headers(), estimate);
        let kind = response
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned();
        let bytes = response
            .bytes()
            .await
            .map_err(|_| sh_error("Sentinel Hub's answer was cut off"))?;
        if !kind.contains("tar") && !kind.is_empty() && !kind.contains("octet-stream") {
            return Err(sh_error(format!(
                "Sentinel Hub answered {kind} where a tar archive of two images was asked for"
            )));
        }
        let (bands, offset, id) = (bands.to_vec(), s2_offset(scene), scene.id.clone());
        let span = tracing::Span::current();
        let observation = tokio::task::spawn_blocking(move || {
            let _span = span.enter();
            let files = untar(&bytes)?;
            let file = |id: &str| {
                files
                    .iter()
                    .find(|(n, _)| n.trim_start_matches("./").trim_end_matches(".tif") == id)
                    .map(|(_, b)| b.as_slice())
                    .ok_or_else(|| sh_error(format!("Sentinel Hub's answer lacks the {id} image")))
            };
            let dn = tiff_on_grid(file("bands")?, &grid, true)?;
            let scl = tiff_on_grid(file("scl")?, &grid, false)?;
            if dn.bands != bands.len() {
                return Err(sh_error("Sentinel Hub answered the wrong number of bands"));
            }
            let scl: Vec<u8> = scl
                .band_f64(0)
                .into_iter()
                .map(|c| if c.is_finite() { c as u8 } else { 0 })
                .collect();
            let planes: Vec<Vec<f64>> = (0..bands.len()).map(|b| dn.band_f64(b)).collect();
            let scaling = vec![(1e-4, offset); bands.len()];
            let applied =
                crate::observation::offset_already_applied(&bands, &planes, &scaling, &scl);
            if applied {
                tracing::warn!(scene = %id, "most clear red pixels would be negative with the -0.1 offset: reading without it");
            }
            let offset = if applied { 0.0 } else { offset };
            let reflectance = bands
                .iter()
                .zip(planes)
                .map(|(&b, dn)| (b, dn.into_iter().map(|v| v * 1e-4 + offset).collect()))
                .collect();
            Ok(Observation { reflectance, scl })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))??;
        Ok((observation, pu))
    }

    /// The Process API request for a Sentinel-1 GRD scene's VV and VH on `grid`.
    pub fn s1_request(scene: &Scene, grid: &Grid) -> Result<Value> {
        let evalscript = "//VERSION=3\n\
            function setup() {\n  return {input: [{bands: [\"VV\", \"VH\", \"dataMask\"]}], \
            output: {bands: 3, sampleType: \"FLOAT32\"}};\n}\n\
            function evaluatePixel(s) {\n  return [s.VV, s.VH, s.dataMask];\n}\n";
        Ok(json!({
            "input": {
                "bounds": Self::bounds(grid),
                "data": [{
                    "type": S1_GRD,
                    "dataFilter": {
                        "timeRange": Self::time_range(scene)?,
                        "acquisitionMode": "IW",
                        "polarization": "DV",
                        "resolution": "HIGH",
                        "mosaickingOrder": "mostRecent",
                    },
                    "processing": {
                        "backCoeff": "GAMMA0_TERRAIN",
                        "orthorectify": true,
                        "demInstance": "COPERNICUS",
                        "upsampling": "BILINEAR",
                        "downsampling": "BILINEAR",
                    },
                }],
            },
            "output": {
                "width": grid.width,
                "height": grid.height,
                "responses": [{"identifier": "default", "format": {"type": "image/tiff"}}],
            },
            "evalscript": evalscript,
        }))
    }

    /// A Sentinel-1 scene (from [`SentinelHub::search`] with [`S1_GRD`]) on `grid`: gamma0
    /// terrain-corrected VV and VH, linear power, NaN without data.
    pub async fn read_s1(&self, scene: &Scene, grid: Grid) -> Result<RadarObservation> {
        let body = Self::s1_request(scene, &grid)?;
        let response = self.post(PROCESS_PATH, &body, "image/tiff").await?;
        let pu = Self::spent(response.headers(), Self::estimate_units(&grid, 2, true));
        let bytes = response
            .bytes()
            .await
            .map_err(|_| sh_error("Sentinel Hub's answer was cut off"))?;
        tokio::task::spawn_blocking(move || {
            let r = tiff_on_grid(&bytes, &grid, false)?;
            if r.bands != 3 {
                return Err(sh_error("Sentinel Hub answered the wrong number of bands"));
            }
            let mask = r.band_f64(2);
            let masked = |b: usize| -> Vec<f64> {
                r.band_f64(b)
                    .into_iter()
                    .zip(&mask)
                    .map(|(v, &m)| {
                        if m > 0.0 && v.is_finite() {
                            v
                        } else {
                            f64::NAN
                        }
                    })
                    .collect()
            };
            Ok(RadarObservation {
                vv: masked(0),
                vh: masked(1),
                processing_units: pu,
            })
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
    }
}

/// Two catalog items of one pass (same collection, sensing times within a minute).
fn same_pass(a: &Scene, b: &Scene) -> bool {
    (a.datetime - b.datetime).abs() < time::Duration::minutes(1)
}

/// A Catalog API item as a [`Scene`] without assets (the Process API reads it). Built through
/// `Scene`'s serde form so fields other sources add to it (with serde defaults) stay filled;
/// Sentinel-1 items carry `sat:orbit_state` / `sat:relative_orbit` as `orbit_state` /
/// `relative_orbit` where `Scene` has them.
pub fn catalog_scene(item: &Value, collection: &str) -> Result<Scene> {
    let p = &item["properties"];
    let datetime = p["datetime"]
        .as_str()
        .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
        .ok_or_else(|| sh_error("a Sentinel Hub catalog item has no valid datetime"))?;
    let bbox = item["bbox"].as_array().and_then(|b| {
        let v: Vec<f64> = b.iter().filter_map(Value::as_f64).collect();
        (v.len() == 4).then(|| [v[0], v[1], v[2], v[3]])
    });
    let scene = json!({
        "id": item["id"].as_str().unwrap_or_default(),
        "collection": collection,
        "datetime": datetime.format(&Rfc3339).map_err(|e| sh_error(e.to_string()))?,
        "cloud_cover": p["eo:cloud_cover"].as_f64().unwrap_or(0.0),
        "bbox": bbox,
        "epsg": p["proj:epsg"].as_u64(),
        "transform": null,
        "shape": null,
        "processing_baseline": p["s2:processing_baseline"]
            .as_str()
            .or(p["processing:version"].as_str()),
        "boa_offset_applied": null,
        "orbit_state": p["sat:orbit_state"].as_str().map(str::to_lowercase),
        "relative_orbit": p["sat:relative_orbit"].as_i64(),
        "assets": {},
    });
    serde_json::from_value(scene)
        .map_err(|_| sh_error("a Sentinel Hub catalog item could not be read"))
}

/// A Sentinel-1 GRD scene from the Catalog API, with what the radar pipeline pins a field's
/// orbit by.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarItem {
    pub scene: Scene,
    /// `ascending` or `descending` (`sat:orbit_state`), when the catalog says.
    pub orbit: Option<String>,
    /// `sat:relative_orbit`, when the catalog says.
    pub relative_orbit: Option<i64>,
}

impl SentinelHub {
    /// Sentinel-1 GRD scenes (IW) over `bbox` between `start` and `end`, oldest first; read each
    /// with [`SentinelHub::read_s1`].
    pub async fn search_s1(
        &self,
        bbox: [f64; 4],
        start: OffsetDateTime,
        end: OffsetDateTime,
    ) -> Result<Vec<RadarItem>> {
        let items = self.search_items(S1_GRD, bbox, start, end).await?;
        Ok(items
            .into_iter()
            .map(|(scene, item)| {
                let p = &item["properties"];
                RadarItem {
                    scene,
                    orbit: p["sat:orbit_state"].as_str().map(str::to_lowercase),
                    relative_orbit: p["sat:relative_orbit"].as_i64(),
                }
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tar_round_trip() {
        let a = vec![7u8; 1000];
        let files = untar(&tar(&[("bands.tif", &a), ("scl.tif", b"xyz")])).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(files[0], ("bands.tif".to_owned(), a));
        assert_eq!(files[1].1, b"xyz");
        assert!(untar(&[1u8; 512]).is_err());
    }

    #[test]
    fn retry_after_takes_the_longer_header_in_ms() {
        let mut h = reqwest::header::HeaderMap::new();
        assert_eq!(retry_after(&h), Duration::from_secs(1));
        h.insert("retry-after", "250".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_millis(250));
        h.insert("x-processingunits-retry-after", "900.5".parse().unwrap());
        assert_eq!(retry_after(&h), Duration::from_millis(901));
    }

    #[test]
    fn jwt_expiry_and_token_url() {
        // {"exp":1700000000}
        let token = format!("x.{}.y", "eyJleHAiOjE3MDAwMDAwMDB9");
        assert_eq!(jwt_exp(&token), Some(1_700_000_000));
        assert_eq!(jwt_exp("opaque"), None);
        assert_eq!(Config::new(CDSE_URL, "a", "b").token_url(), CDSE_TOKEN_URL);
        assert_eq!(
            Config::new("http://127.0.0.1:9/", "a", "b").token_url(),
            "http://127.0.0.1:9/auth/realms/main/protocol/openid-connect/token"
        );
        assert!(!format!("{:?}", Config::new(CDSE_URL, "id", "s3cret")).contains("s3cret"));
    }
}
