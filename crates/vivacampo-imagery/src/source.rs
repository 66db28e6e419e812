//! Byte sources: COGs read by range from `file://` paths (or plain paths), `http(s)://` URLs
//! and `s3://bucket/key`, all through `object_store`.
//!
//! [`Sources`] drives the raster engine's sans-IO loop: it fetches the header prefetch, lets
//! [`Tiff::parse`] ask for more with `NeedBytes`, then fetches only the tiles a window plans,
//! concurrently, as single-range GETs (what S3 allows). Parsed headers are cached per URL and
//! tile bytes in one byte-bounded LRU shared by every reader, so fields in the same scene do not
//! read the same bytes twice. HTTP retries (5xx, 429, timeouts, connection errors; never other
//! 4xx) with exponential backoff come from object_store's client, which also refuses a server
//! that answers a range request with the whole file (`Error::RangeIgnored`).

use std::collections::HashMap;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::aws::AmazonS3Builder;
use object_store::http::HttpBuilder;
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{
    BackoffConfig, ClientOptions, GetOptions, GetRange, ObjectStore, ObjectStoreExt, RetryConfig,
};
use url::Url;
use vivacampo_raster::crs::Crs;
use vivacampo_raster::geo::Grid;
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::source::{Ranges, merge_ranges};
use vivacampo_raster::tiff::{HEADER_PREFETCH, MERGE_GAP, Tiff, Window};
use vivacampo_raster::warp;

use crate::cache::{CacheStats, Lru};
use crate::calls::{self, Service};
use crate::error::{Error, Result};

/// Range GETs in flight per window.
const FETCH_CONCURRENCY: usize = 8;
/// Stores (buckets, HTTP origins) kept for reuse.
const MAX_STORES: usize = 256;
/// Parsed headers kept (weighted by their tile tables, see [`header_weight`]).
const HEADER_CACHE_BYTES: u64 = 64 << 20;
/// Header bytes fetched at most for one COG, prefetch included. A Sentinel-2 COG's IFDs and tile
/// tables take well under 1 MiB; a header that needs more is broken or hostile, and a server
/// claiming a huge file must not make us buffer it.
const MAX_HEADER_BYTES: u64 = 16 << 20;
/// Requests for one COG's header after the prefetch (a COG puts its IFDs first: 0–2 are usual).
const MAX_HEADER_ROUNDS: usize = 64;

/// S3-compatible endpoint settings. Unset fields fall back to the usual `AWS_*` variables
/// (`AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
/// `AWS_SESSION_TOKEN`, `AWS_ALLOW_HTTP`).
#[derive(Clone, Default)]
pub struct S3Options {
    pub endpoint: Option<String>,
    pub region: Option<String>,
    pub access_key_id: Option<String>,
    pub secret_access_key: Option<String>,
    pub session_token: Option<String>,
    /// Plain-HTTP endpoints (a loopback test server). `None`: `AWS_ALLOW_HTTP=true`, or an
    /// endpoint URL that is itself `http://`.
    pub allow_http: Option<bool>,
    /// Anonymous requests (public buckets such as `sentinel-cogs`).
    pub anonymous: bool,
}

/// Secrets show as `***`, so options can be logged.
impl std::fmt::Debug for S3Options {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let hidden = |s: &Option<String>| s.as_ref().map(|_| "***");
        f.debug_struct("S3Options")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &hidden(&self.secret_access_key))
            .field("session_token", &hidden(&self.session_token))
            .field("allow_http", &self.allow_http)
            .field("anonymous", &self.anonymous)
            .finish()
    }
}

/// HTTP client settings shared by the HTTP and S3 stores.
#[derive(Debug, Clone)]
pub struct HttpOptions {
    pub connect_timeout: Duration,
    /// Whole-request timeout (a tile is small; a stalled server must not hang a job).
    pub timeout: Duration,
    pub max_retries: usize,
    pub initial_backoff: Duration,
    pub max_backoff: Duration,
}

impl Default for HttpOptions {
    fn default() -> Self {
        HttpOptions {
            connect_timeout: Duration::from_secs(5),
            timeout: Duration::from_secs(60),
            max_retries: 4,
            initial_backoff: Duration::from_millis(200),
            max_backoff: Duration::from_secs(15),
        }
    }
}

impl HttpOptions {
    pub(crate) fn client_options(&self, allow_http: bool) -> ClientOptions {
        ClientOptions::new()
            .with_allow_http(allow_http)
            .with_connect_timeout(self.connect_timeout)
            .with_timeout(self.timeout)
    }

    pub(crate) fn retry(&self) -> RetryConfig {
        RetryConfig {
            backoff: BackoffConfig {
                init_backoff: self.initial_backoff,
                max_backoff: self.max_backoff,
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: Duration::from_secs(180),
        }
    }
}

/// Settings of a [`Sources`].
#[derive(Debug, Clone)]
pub struct SourceOptions {
    pub http: HttpOptions,
    pub s3: S3Options,
    /// Capacity of the shared tile-bytes cache.
    pub block_cache_bytes: u64,
}

impl Default for SourceOptions {
    fn default() -> Self {
        SourceOptions {
            http: HttpOptions::default(),
            s3: S3Options::default(),
            block_cache_bytes: 256 << 20,
        }
    }
}

/// Counters of a [`Sources`], for `/metrics` and benchmarks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Bytes received from stores (headers and tiles).
    pub bytes_fetched: u64,
    /// Range requests issued.
    pub requests: u64,
    pub blocks: CacheStats,
    pub headers: CacheStats,
}

/// A resolved URL: the store that serves it and the object's path in it.
#[derive(Debug, Clone)]
pub struct Location {
    pub store: Arc<dyn ObjectStore>,
    pub path: Path,
    /// The URL as given, for errors and cache keys.
    pub url: Arc<str>,
}

type BlockKey = (Arc<str>, u64, u64);

#[derive(Debug)]
struct Inner {
    opts: SourceOptions,
    stores: Mutex<HashMap<String, Arc<dyn ObjectStore>>>,
    headers: Mutex<Lru<Arc<str>, Header>>,
    blocks: Mutex<Lru<BlockKey, Bytes>>,
    bytes_fetched: AtomicU64,
    requests: AtomicU64,
}

/// Opens COGs by URL. Cheap to clone; clones share stores, caches and counters, so make one
/// per process (or per worker) and hand it around.
#[derive(Debug, Clone)]
pub struct Sources {
    inner: Arc<Inner>,
}

/// A parsed header and the first bytes of its file (the prefetch): a small COG (a field-week
/// raster) is often whole in there, and then reading it costs no further request.
#[derive(Debug, Clone)]
struct Header {
    tiff: Arc<Tiff>,
    head: Bytes,
}

/// An open COG: its parsed header and where to fetch its tiles.
#[derive(Debug, Clone)]
pub struct CogHandle {
    sources: Sources,
    location: Location,
    head: Bytes,
    pub tiff: Arc<Tiff>,
}

impl Sources {
    pub fn new(opts: SourceOptions) -> Sources {
        crate::install_crypto_provider();
        let blocks = Lru::new(opts.block_cache_bytes);
        Sources {
            inner: Arc::new(Inner {
                opts,
                stores: Mutex::new(HashMap::new()),
                headers: Mutex::new(Lru::new(HEADER_CACHE_BYTES)),
                blocks: Mutex::new(blocks),
                bytes_fetched: AtomicU64::new(0),
                requests: AtomicU64::new(0),
            }),
        }
    }

    pub fn stats(&self) -> SourceStats {
        SourceStats {
            bytes_fetched: self.inner.bytes_fetched.load(Ordering::Relaxed),
            requests: self.inner.requests.load(Ordering::Relaxed),
            blocks: lock(&self.inner.blocks).stats(),
            headers: lock(&self.inner.headers).stats(),
        }
    }

    /// The store and path for a URL: `s3://bucket/key`, `http(s)://…`, `file:///abs/path` or a
    /// plain filesystem path. Stores are made once per bucket / origin and reused (keep-alive).
    pub fn locate(&self, url: &str) -> Result<Location> {
        let bad = |reason: &str| Error::Location {
            url: url.into(),
            reason: reason.into(),
        };
        let parsed = Url::parse(url).ok().filter(|u| u.scheme().len() > 1);
        let (key, path) = match parsed.as_ref().map(Url::scheme) {
            None => (
                String::from("file://"),
                file_path(std::path::Path::new(url))?,
            ),
            Some("file") => {
                let p = parsed.as_ref().and_then(|u| u.to_file_path().ok());
                (
                    "file://".into(),
                    file_path(&p.ok_or_else(|| bad("not a local file path"))?)?,
                )
            }
            Some("s3") => {
                let u = parsed.as_ref().expect("scheme parsed");
                let bucket = u.host_str().ok_or_else(|| bad("no bucket"))?;
                let path = Path::from_url_path(u.path()).map_err(|e| bad(&e.to_string()))?;
                (format!("s3://{bucket}"), path)
            }
            Some("http" | "https") => {
                let u = parsed.as_ref().expect("scheme parsed");
                let mut base = u.clone();
                base.set_path("/");
                base.set_fragment(None);
                // The query (a SAS token) stays on the store's base URL: object_store keeps it
                // on every request it builds from it.
                let path = Path::from_url_path(u.path()).map_err(|e| bad(&e.to_string()))?;
                (base.to_string(), path)
            }
            Some(other) => return Err(bad(&format!("unsupported scheme {other}"))),
        };
        let store = self.store(&key).map_err(|e| match e {
            Error::Store { source, .. } => bad(&source.to_string()),
            e => e,
        })?;
        Ok(Location {
            store,
            path,
            url: url.into(),
        })
    }

    fn store(&self, key: &str) -> Result<Arc<dyn ObjectStore>> {
        let mut stores = lock(&self.inner.stores);
        if let Some(s) = stores.get(key) {
            return Ok(s.clone());
        }
        let opts = &self.inner.opts;
        let store: Arc<dyn ObjectStore> = if key == "file://" {
            Arc::new(LocalFileSystem::new())
        } else if let Some(bucket) = key.strip_prefix("s3://") {
            Arc::new(
                s3_builder(&opts.s3, &opts.http)
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| Error::store(key, e))?,
            )
        } else {
            Arc::new(
                HttpBuilder::new()
                    .with_url(key)
                    .with_client_options(opts.http.client_options(key.starts_with("http:")))
                    .with_retry(opts.http.retry())
                    .build()
                    .map_err(|e| Error::store(key, e))?,
            )
        };
        // Each new SAS token is a new store; stores are cheap to remake, so start over rather
        // than grow without bound.
        if stores.len() >= MAX_STORES {
            stores.clear();
        }
        stores.insert(key.to_string(), store.clone());
        Ok(store)
    }

    /// Opens a COG: its header from the cache, or fetched (prefetch, then whatever the parser
    /// still needs) and parsed.
    pub async fn open(&self, url: &str) -> Result<CogHandle> {
        let location = self.locate(url)?;
        let key: Arc<str> = url.into();
        let cached = lock(&self.inner.headers).get(&key);
        let header = match cached {
            Some(h) => h,
            None => {
                let h = self.parse_header(&location).await?;
                let weight = header_weight(&h.tiff) + h.head.len() as u64;
                lock(&self.inner.headers).insert(key, h.clone(), weight);
                h
            }
        };
        Ok(CogHandle {
            sources: self.clone(),
            location,
            head: header.head,
            tiff: header.tiff,
        })
    }

    async fn parse_header(&self, loc: &Location) -> Result<Header> {
        let url = &*loc.url;
        // One request gives both the size (Content-Range total) and the first bytes.
        let first = calls::record(
            Service::Imagery,
            loc.store
                .get_opts(
                    &loc.path,
                    GetOptions {
                        range: Some(GetRange::Bounded(0..HEADER_PREFETCH)),
                        ..Default::default()
                    },
                )
                .await,
        )
        .map_err(|e| Error::store(url, e))?;
        let size = first.meta.size;
        let start = first.range.start;
        let head = first.bytes().await.map_err(|e| Error::store(url, e))?;
        self.count(head.len());
        if start != 0 {
            return Err(Error::Location {
                url: url.into(),
                reason: format!("asked for bytes from 0, got them from {start}"),
            });
        }
        let mut have = Ranges::new(size);
        have.insert(0, head.to_vec());
        let mut budget = HeaderBudget::new(head.len() as u64);
        loop {
            // Parsing a large header is CPU work (tile tables): off the async threads.
            let (parsed, back) = tokio::task::spawn_blocking(move || (Tiff::parse(&have), have))
                .await
                .map_err(|e| Error::Task(e.to_string()))?;
            have = back;
            let raster_err = |source| Error::Raster {
                url: url.into(),
                source,
            };
            match parsed {
                Err(vivacampo_raster::Error::NeedBytes { start, end }) => {
                    let range = budget.next(start, end, size).map_err(raster_err)?;
                    let b = self.get_range(loc, range.clone()).await?;
                    have.insert(range.start, b.to_vec());
                }
                other => {
                    return Ok(Header {
                        tiff: Arc::new(other.map_err(raster_err)?),
                        head,
                    });
                }
            }
        }
    }

    async fn get_range(&self, loc: &Location, range: Range<u64>) -> Result<Bytes> {
        let want = range.end - range.start;
        let b = calls::record(
            Service::Imagery,
            loc.store.get_range(&loc.path, range).await,
        )
        .map_err(|e| Error::store(&loc.url, e))?;
        if b.len() as u64 != want {
            return Err(Error::Store {
                url: loc.url.to_string(),
                source: object_store::Error::Generic {
                    store: "range",
                    source: format!("asked for {want} bytes, got {}", b.len()).into(),
                },
            });
        }
        self.count(b.len());
        Ok(b)
    }

    fn count(&self, bytes: usize) {
        self.inner
            .bytes_fetched
            .fetch_add(bytes as u64, Ordering::Relaxed);
        self.inner.requests.fetch_add(1, Ordering::Relaxed);
    }

    /// The bytes of `chunks` (byte ranges of tiles) in a [`Ranges`]: from the prefetched
    /// `head`, from the block cache, or fetched as merged ranges, concurrently, then cached.
    async fn fetch_chunks(
        &self,
        loc: &Location,
        size: u64,
        head: &Bytes,
        chunks: &[Range<u64>],
    ) -> Result<Ranges> {
        let mut out = Ranges::new(size);
        let mut missing = Vec::new();
        {
            let mut cache = lock(&self.inner.blocks);
            for c in chunks {
                if c.end <= head.len() as u64 {
                    out.insert(c.start, head[c.start as usize..c.end as usize].to_vec());
                    continue;
                }
                match cache.get(&(loc.url.clone(), c.start, c.end)) {
                    Some(b) => out.insert(c.start, b.to_vec()),
                    None => missing.push(c.clone()),
                }
            }
        }
        let merged = merge_ranges(missing.clone(), MERGE_GAP);
        let fetched: Vec<(Range<u64>, Bytes)> = futures_util::stream::iter(merged)
            .map(|r| async move { self.get_range(loc, r.clone()).await.map(|b| (r, b)) })
            .buffer_unordered(FETCH_CONCURRENCY)
            .try_collect()
            .await?;
        let mut cache = lock(&self.inner.blocks);
        for (r, b) in &fetched {
            for c in missing
                .iter()
                .filter(|c| c.start >= r.start && c.end <= r.end)
            {
                let piece = b.slice((c.start - r.start) as usize..(c.end - r.start) as usize);
                cache.insert((loc.url.clone(), c.start, c.end), piece, c.end - c.start);
            }
        }
        drop(cache);
        for (r, b) in fetched {
            out.insert(r.start, b.to_vec());
        }
        Ok(out)
    }
}

impl CogHandle {
    pub fn url(&self) -> &str {
        &self.location.url
    }

    /// Decodes `window` of overview `level` (0 = full resolution). Only the tiles it touches
    /// are fetched (or taken from the block cache); decoding runs on the blocking pool.
    pub async fn read_window(&self, level: usize, window: Window) -> Result<Raster> {
        self.read(level, window, false).await
    }

    async fn read(&self, level: usize, window: Window, mask: bool) -> Result<Raster> {
        let raster_err = |source| Error::Raster {
            url: self.url().into(),
            source,
        };
        let plan = self.tiff.plan(level, window, mask).map_err(raster_err)?;
        let image = if mask {
            &self.tiff.masks[level]
        } else {
            &self.tiff.levels[level]
        };
        let chunks: Vec<Range<u64>> = plan
            .chunks
            .iter()
            .map(|&c| (image.offsets[c], image.byte_counts[c]))
            .filter(|&(o, n)| o != 0 && n != 0)
            .map(|(o, n)| o..o.saturating_add(n))
            .collect();
        let bytes = self
            .sources
            .fetch_chunks(&self.location, self.tiff.size, &self.head, &chunks)
            .await?;
        let tiff = self.tiff.clone();
        tokio::task::spawn_blocking(move || tiff.decode(&plan, &bytes))
            .await
            .map_err(|e| Error::Task(e.to_string()))?
            .map_err(raster_err)
    }

    /// Reads the COG resampled into `grid` (a field's UTM grid, a map tile): the overview that
    /// fits, the window that covers the grid, the file's nodata and internal mask honoured.
    /// `bands` (0-based) selects and orders bands. Float64, NaN where there is no data.
    pub async fn read_into_grid(
        &self,
        grid: Grid,
        resampling: warp::Resampling,
        bands: Option<Vec<usize>>,
    ) -> Result<Raster> {
        let raster_err = |source| Error::Raster {
            url: self.url().into(),
            source,
        };
        let n = self.tiff.bands() as usize;
        let bands = bands.unwrap_or_else(|| (0..n).collect());
        if bands.iter().any(|&b| b >= n) {
            return Err(raster_err(vivacampo_raster::Error::Invalid(format!(
                "band out of 0..{n}"
            ))));
        }
        let plan = warp::plan(&self.tiff, &grid).map_err(raster_err)?;
        let Some(window) = plan.window else {
            let len = grid.width * grid.height * bands.len();
            return Ok(Raster {
                width: grid.width,
                height: grid.height,
                bands: bands.len(),
                data: Buffer::F64(vec![f64::NAN; len]),
            });
        };
        let raster = self.read(plan.level, window, false).await?;
        let mask = match self.tiff.mask_for(plan.level) {
            Some(m) => match self.read(m, window, true).await?.data {
                Buffer::U8(v) => Some(v),
                _ => None,
            },
            None => None,
        };
        let tiff = self.tiff.clone();
        tokio::task::spawn_blocking(move || {
            let georef = tiff.georef.ok_or_else(|| {
                vivacampo_raster::Error::Invalid("raster has no georeferencing".into())
            })?;
            let epsg = georef.epsg.ok_or_else(|| {
                vivacampo_raster::Error::Invalid("raster has no EPSG code".into())
            })?;
            let crs = Crs::from_epsg(epsg)?;
            let transform = tiff
                .window_transform(plan.level, window)
                .ok_or_else(|| vivacampo_raster::Error::Invalid("no level transform".into()))?;
            let raster = raster.select_bands(&bands);
            let source = warp::Source {
                raster: &raster,
                transform,
                crs: &crs,
                nodata: tiff.nodata,
                mask: mask.as_deref(),
            };
            warp::warp(&source, &grid, resampling)
        })
        .await
        .map_err(|e| Error::Task(e.to_string()))?
        .map_err(raster_err)
    }
}

/// What a header may still fetch: [`MAX_HEADER_BYTES`] in [`MAX_HEADER_ROUNDS`] requests.
#[derive(Debug)]
struct HeaderBudget {
    fetched: u64,
    rounds: usize,
}

impl HeaderBudget {
    fn new(prefetched: u64) -> HeaderBudget {
        HeaderBudget {
            fetched: prefetched,
            rounds: 0,
        }
    }

    /// The range to fetch for the parser's need `start..end` in a file of `size` bytes: the need
    /// padded to a prefetch's length where the budget allows, or a `Limit` error.
    fn next(&mut self, start: u64, end: u64, size: u64) -> vivacampo_raster::Result<Range<u64>> {
        let limit = |what: String| vivacampo_raster::Error::Limit(what);
        if start >= end || end > size {
            return Err(limit(format!(
                "the header asks for bytes {start}..{end} of a {size}-byte file"
            )));
        }
        self.rounds += 1;
        if self.rounds > MAX_HEADER_ROUNDS {
            return Err(limit(format!(
                "the header needs more than {MAX_HEADER_ROUNDS} reads"
            )));
        }
        let left = MAX_HEADER_BYTES.saturating_sub(self.fetched);
        if end - start > left {
            return Err(limit(format!(
                "the header needs more than {} MiB",
                MAX_HEADER_BYTES >> 20
            )));
        }
        let end = end.max(start + HEADER_PREFETCH).min(size).min(start + left);
        self.fetched += end - start;
        Ok(start..end)
    }
}

/// An absolute object_store path for a local file (relative paths are taken from the current
/// directory).
fn file_path(p: &std::path::Path) -> Result<Path> {
    let abs = std::path::absolute(p).map_err(|e| Error::io(p, e))?;
    Path::from_absolute_path(&abs).map_err(|e| Error::Location {
        url: p.display().to_string(),
        reason: e.to_string(),
    })
}

/// An S3 builder from the `AWS_*` environment, overridden by explicit options.
pub(crate) fn s3_builder(s3: &S3Options, http: &HttpOptions) -> AmazonS3Builder {
    crate::install_crypto_provider();
    let mut b = AmazonS3Builder::from_env();
    let endpoint_http = s3
        .endpoint
        .as_deref()
        .is_some_and(|e| e.starts_with("http://"));
    let allow_http = s3.allow_http.unwrap_or_else(|| {
        endpoint_http || std::env::var("AWS_ALLOW_HTTP").is_ok_and(|v| v == "true")
    });
    if let Some(e) = &s3.endpoint {
        b = b.with_endpoint(e);
    }
    if let Some(r) = &s3.region {
        b = b.with_region(r);
    }
    if let Some(k) = &s3.access_key_id {
        b = b.with_access_key_id(k);
    }
    if let Some(k) = &s3.secret_access_key {
        b = b.with_secret_access_key(k);
    }
    if let Some(t) = &s3.session_token {
        b = b.with_token(t);
    }
    b.with_skip_signature(s3.anonymous)
        .with_allow_http(allow_http)
        .with_client_options(http.client_options(allow_http))
        .with_retry(http.retry())
}

/// Rough memory of a parsed header: its tile tables dominate.
fn header_weight(t: &Tiff) -> u64 {
    let tiles: usize = t
        .levels
        .iter()
        .chain(&t.masks)
        .map(|l| l.offsets.len() * 2)
        .sum();
    1024 + tiles as u64 * 8
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A panic while holding a cache lock leaves the cache usable (it has no invariant that a
    // half-finished operation breaks beyond a stale counter).
    m.lock().unwrap_or_else(|e| e.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use vivacampo_raster::cog::{CogOptions, write};
    use vivacampo_raster::geo::{GeoTransform, Georef};

    fn test_cog(dir: &std::path::Path) -> (std::path::PathBuf, Vec<u16>) {
        let (w, h) = (600usize, 500usize);
        // Noisy, so the file is far larger than the header prefetch.
        let data: Vec<u16> = (0..(w * h) as u64)
            .map(|i| {
                let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
                ((x ^ (x >> 29)) % 60_000) as u16 + 1
            })
            .collect();
        let raster = Raster {
            width: w,
            height: h,
            bands: 1,
            data: Buffer::U16(data.clone()),
        };
        let mut opts = CogOptions::new(Georef {
            epsg: Some(32722),
            transform: GeoTransform::north_up(400000.0, 8040000.0, 10.0, 10.0),
        });
        opts.nodata = Some(0.0);
        let bytes = write(&raster, &opts).unwrap();
        let path = dir.join("t.tif");
        std::fs::write(&path, bytes).unwrap();
        (path, data)
    }

    #[tokio::test]
    async fn local_window_and_block_cache() {
        let dir = std::env::temp_dir().join(format!("vc-imagery-src-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (path, data) = test_cog(&dir);
        let sources = Sources::new(SourceOptions::default());
        let url = format!("file://{}", path.display());
        let cog = sources.open(&url).await.unwrap();
        assert_eq!((cog.tiff.width(), cog.tiff.height()), (600, 500));
        let win = Window::new(250, 240, 40, 30);
        let r = cog.read_window(0, win).await.unwrap();
        for row in 0..30 {
            for col in 0..40 {
                let want = data[(240 + row) * 600 + 250 + col];
                assert_eq!(r.get(0, row, col), f64::from(want));
            }
        }
        let after_first = sources.stats();
        // Same tiles again, from another handle of the same URL: no new bytes.
        let cog2 = sources.open(&url).await.unwrap();
        assert_eq!(cog2.read_window(0, win).await.unwrap().data, r.data);
        let s = sources.stats();
        assert_eq!(s.headers.hits, 1, "the header is cached");
        assert_eq!(s.bytes_fetched, after_first.bytes_fetched);
        assert!(
            s.blocks.hits >= 1 && s.blocks.hits == after_first.blocks.misses,
            "{s:?}"
        );
        // A plain path reads the same file.
        let plain = sources.open(path.to_str().unwrap()).await.unwrap();
        assert_eq!(plain.read_window(0, win).await.unwrap().data, r.data);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[tokio::test]
    async fn small_cog_is_read_from_the_prefetch() {
        let dir = std::env::temp_dir().join(format!("vc-imagery-small-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let raster = Raster {
            width: 100,
            height: 80,
            bands: 1,
            data: Buffer::U16((0..8000).map(|i| i as u16 % 300 + 1).collect()),
        };
        let opts = CogOptions::new(Georef {
            epsg: Some(32722),
            transform: GeoTransform::north_up(400000.0, 8040000.0, 10.0, 10.0),
        });
        let path = dir.join("small.tif");
        std::fs::write(&path, write(&raster, &opts).unwrap()).unwrap();
        let sources = Sources::new(SourceOptions::default());
        let cog = sources.open(path.to_str().unwrap()).await.unwrap();
        let r = cog
            .read_window(0, Window::new(0, 0, 100, 80))
            .await
            .unwrap();
        assert_eq!(r.data, raster.data);
        assert_eq!(sources.stats().requests, 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn header_budget_bounds_bytes_and_reads() {
        let size = 1 << 30;
        let mut b = HeaderBudget::new(HEADER_PREFETCH);
        // A small need is padded to a prefetch's length.
        assert_eq!(
            b.next(100_000, 100_010, size).unwrap(),
            100_000..100_000 + HEADER_PREFETCH
        );
        // Near the end of the file the padding stops there.
        assert_eq!(b.next(size - 10, size, size).unwrap(), size - 10..size);
        assert!(b.next(size, size + 1, size).is_err(), "past the end");
        let err = b.next(0, MAX_HEADER_BYTES, size).unwrap_err().to_string();
        assert!(err.contains("16 MiB"), "{err}");
        let mut b = HeaderBudget::new(0);
        for i in 0..MAX_HEADER_ROUNDS as u64 {
            b.next(i * 10, i * 10 + 1, size).unwrap();
        }
        let err = b.next(0, 1, size).unwrap_err().to_string();
        assert!(err.contains("64 reads"), "{err}");
    }

    /// A TIFF whose tile tables would take 32 MiB (2048 × 2048 tiles of 256²) in a sparse 40 MiB
    /// file: refused before those bytes are read.
    #[tokio::test]
    async fn a_huge_header_is_refused() {
        let dir = std::env::temp_dir().join(format!("vc-imagery-huge-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let tiles: u32 = 2048 * 2048;
        let entry = |tag: u16, kind: u16, count: u32, value: u32| {
            let mut e = Vec::with_capacity(12);
            e.extend_from_slice(&tag.to_le_bytes());
            e.extend_from_slice(&kind.to_le_bytes());
            e.extend_from_slice(&count.to_le_bytes());
            e.extend_from_slice(&value.to_le_bytes());
            e
        };
        let (short, long) = (3, 4);
        let entries = [
            entry(256, long, 1, 2048 * 256),
            entry(257, long, 1, 2048 * 256),
            entry(258, short, 1, 8),
            entry(259, short, 1, 1),
            entry(262, short, 1, 1),
            entry(277, short, 1, 1),
            entry(284, short, 1, 1),
            entry(322, short, 1, 256),
            entry(323, short, 1, 256),
            entry(324, long, tiles, 1 << 20),
            entry(325, long, tiles, 20 << 20),
        ];
        let mut tiff = b"II*\0".to_vec();
        tiff.extend_from_slice(&8u32.to_le_bytes());
        tiff.extend_from_slice(&(entries.len() as u16).to_le_bytes());
        for e in &entries {
            tiff.extend_from_slice(e);
        }
        tiff.extend_from_slice(&0u32.to_le_bytes());
        let path = dir.join("huge.tif");
        std::fs::write(&path, &tiff).unwrap();
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(40 << 20)
            .unwrap();
        let sources = Sources::new(SourceOptions::default());
        let err = sources
            .open(path.to_str().unwrap())
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("more than 16 MiB"), "{err}");
        assert!(
            sources.stats().bytes_fetched <= MAX_HEADER_BYTES,
            "{:?}",
            sources.stats()
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn s3_options_hide_their_secrets() {
        let o = S3Options {
            access_key_id: Some("AKIDEXAMPLE".into()),
            secret_access_key: Some("wJalrXUtnFEMI".into()),
            session_token: Some("FwoGZXIvYXdz".into()),
            ..S3Options::default()
        };
        let shown = format!("{o:?}");
        assert!(shown.contains("AKIDEXAMPLE"), "{shown}");
        assert!(
            !shown.contains("wJalrXUtnFEMI") && !shown.contains("FwoGZXIvYXdz"),
            "{shown}"
        );
    }

    #[test]
    fn locate_parses_schemes() {
        let s = Sources::new(SourceOptions::default());
        assert_eq!(
            s.locate("s3://bucket/a/b.tif").unwrap().path.as_ref(),
            "a/b.tif"
        );
        let h = s
            .locate("https://example.invalid/c/d%20e.tif?sig=x")
            .unwrap();
        assert_eq!(h.path.as_ref(), "c/d e.tif");
        assert!(s.locate("ftp://x/y").is_err());
        assert_eq!(s.locate("/tmp/x.tif").unwrap().path.as_ref(), "tmp/x.tif");
    }
}
