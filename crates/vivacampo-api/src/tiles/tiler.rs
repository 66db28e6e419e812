//! The tile renderer behind the routes: signing, the caches, admission control, and the path
//! from a field-week COG in the raster store to a PNG.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use tokio::runtime::Handle;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use vivacampo_core::metrics::{LATENCY_BUCKETS, Registry};
use vivacampo_imagery::store::RasterStore;
use vivacampo_raster::crs::Crs;
use vivacampo_raster::field_week;
use vivacampo_raster::mask::Polygon;
use vivacampo_raster::raster::Raster;
use vivacampo_raster::render::{BandLayout, Clip, DecodedWindow, Style};
use vivacampo_raster::source::Ranges;
use vivacampo_raster::tiff::{Tiff, Window};
use vivacampo_raster::{tile, warp};

use super::cache::ByteLru;
use super::signing::TileSigner;

/// Zooms served. Below, a field is a few pixels (the UI shows outlines there); above, each
/// 10 m pixel is already 16 screen pixels wide and map clients overzoom on their own.
pub const MIN_ZOOM: u8 = 10;
pub const MAX_ZOOM: u8 = 18;
/// How long a request waits for a render slot before it is shed with 503.
const QUEUE_WAIT: Duration = Duration::from_secs(1);
/// Requests that may wait for a slot, per slot; more are shed at once. A render takes a few
/// milliseconds, so a full queue still drains well within [`QUEUE_WAIT`].
const WAITING_PER_SLOT: usize = 64;
/// How long the "latest week" of a field is remembered.
const LATEST_TTL: Duration = Duration::from_secs(10);
/// Parsed COG headers kept (they are small: IFD offsets and metadata).
const HEADER_CACHE_BYTES: usize = 16 << 20;
const HEADER_WEIGHT: usize = 16 << 10;

/// Tile settings from the configuration.
#[derive(Clone)]
pub struct TileConfig {
    /// HMAC key of tile URLs; every replica must have the same one.
    pub key: Vec<u8>,
    /// How long a signed tile URL stays valid.
    pub url_ttl: Duration,
    /// Bytes of rendered tiles kept in memory (0: off).
    pub cache_bytes: usize,
    /// Bytes of decoded COG blocks kept in memory (0: off).
    pub block_cache_bytes: usize,
    /// Tiles rendered at once (the CPU cores).
    pub concurrency: usize,
}

impl TileConfig {
    /// Defaults with a random key, so URLs do not outlive the process (tests, embedded use).
    pub fn ephemeral() -> TileConfig {
        let mut key = vec![0u8; 32];
        getrandom::fill(&mut key).expect("the OS random source works");
        TileConfig {
            key,
            url_ttl: Duration::from_secs(12 * 3600),
            cache_bytes: 256 << 20,
            block_cache_bytes: 256 << 20,
            concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
        }
    }
}

impl std::fmt::Debug for TileConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TileConfig")
            .field("url_ttl", &self.url_ttl)
            .field("cache_bytes", &self.cache_bytes)
            .field("block_cache_bytes", &self.block_cache_bytes)
            .field("concurrency", &self.concurrency)
            .finish_non_exhaustive()
    }
}

/// The week a "latest" URL shows: year, week, raster version.
pub type LatestWeek = (i32, u8, String);

/// (COG, level, band, block column, block row); `band` is `None` for the whole block of a
/// pixel-interleaved COG, which holds every band.
type BlockKey = (Arc<str>, usize, Option<usize>, u32, u32);

/// (tenant, field, sensor) → when it was looked up and its latest week.
type LatestWeeks = HashMap<(String, String, &'static str), (Instant, Option<LatestWeek>)>;

/// A window read from cached blocks: where it is, its pixels, and which file bands (0-based)
/// they are when not every band.
type WindowRead = (Window, Arc<Raster>, Option<Vec<usize>>);

/// What a render can fail with.
#[derive(Debug)]
pub enum RenderError {
    /// The raster is not in the store (deleted with its field, or removed by retention).
    Missing,
    /// The store did not answer.
    Storage(String),
    /// The file cannot show this index (a band is missing).
    Unsupported(String),
    Raster(vivacampo_raster::Error),
}

impl From<vivacampo_raster::Error> for RenderError {
    fn from(e: vivacampo_raster::Error) -> Self {
        RenderError::Raster(e)
    }
}

fn storage(e: vivacampo_imagery::Error) -> RenderError {
    match e {
        vivacampo_imagery::Error::NotFound { .. } => RenderError::Missing,
        other => RenderError::Storage(other.to_string()),
    }
}

/// A parsed field-week COG header and the field outline it carries, in Web Mercator.
pub struct Cog {
    tiff: Tiff,
    /// The field's polygons and their `[minx, miny, maxx, maxy]`; `None` for a COG written
    /// before outlines were embedded (its `mask` band clips instead).
    field: Option<(Vec<Polygon>, [f64; 4])>,
}

impl Cog {
    fn new(tiff: Tiff) -> Result<Cog, RenderError> {
        let field = field_week::field_outline(&tiff, &Crs::WebMercator)?.map(|polygons| {
            let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
            for &(x, y) in polygons.iter().flat_map(|p| p.exterior.iter()) {
                b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            (polygons, b)
        });
        Ok(Cog { tiff, field })
    }

    /// Whether tile `z/x/y` certainly holds nothing of the field: outside the outline's
    /// bounds, or (without an outline) well outside the image.
    fn misses(&self, (z, x, y): (u8, u32, u32)) -> bool {
        let (b, extent) = match &self.field {
            Some((_, bounds)) => (tile::bounds_3857(z, x, y), *bounds),
            None => match lonlat_extent(&self.tiff) {
                Some(extent) => (tile::bounds_lonlat(z, x, y), extent),
                None => return false,
            },
        };
        b[0] >= extent[2] || b[2] <= extent[0] || b[1] >= extent[3] || b[3] <= extent[1]
    }
}

/// Shared by every tile request of a process.
pub struct Tiler {
    config: TileConfig,
    signer: TileSigner,
    /// Rendered tiles by URL identity; `None` is an empty (204) tile.
    tiles: ByteLru<String, Option<Bytes>>,
    headers: ByteLru<Arc<str>, Arc<Cog>>,
    blocks: ByteLru<BlockKey, Arc<Raster>>,
    permits: Arc<Semaphore>,
    waiting: AtomicUsize,
    latest: Mutex<LatestWeeks>,
}

impl Tiler {
    pub fn new(config: TileConfig) -> Tiler {
        let slots = config.concurrency.max(1);
        Tiler {
            signer: TileSigner::new(&config.key),
            tiles: ByteLru::new(config.cache_bytes),
            headers: ByteLru::new(HEADER_CACHE_BYTES),
            blocks: ByteLru::new(config.block_cache_bytes),
            permits: Arc::new(Semaphore::new(slots)),
            waiting: AtomicUsize::new(0),
            latest: Mutex::new(HashMap::new()),
            config,
        }
    }

    pub fn config(&self) -> &TileConfig {
        &self.config
    }

    pub fn signer(&self) -> &TileSigner {
        &self.signer
    }

    /// A rendered tile from the cache (`Some(None)` is a cached empty tile).
    pub fn cached(&self, key: &String, metrics: &Registry) -> Option<Option<Bytes>> {
        let hit = self.tiles.get(key);
        count_cache(metrics, "tile", hit.is_some());
        hit
    }

    pub fn remember(&self, key: String, tile: Option<Bytes>) {
        let bytes = tile.as_ref().map_or(0, Bytes::len) + key.len() + 64;
        self.tiles.insert(key, tile, bytes);
    }

    /// A render slot: at once if one is free, else after a brief wait; `None` means shed.
    pub async fn admit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = self.permits.clone().try_acquire_owned() {
            return Some(permit);
        }
        let limit = WAITING_PER_SLOT * self.config.concurrency.max(1);
        if self.waiting.fetch_add(1, Ordering::AcqRel) >= limit {
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            return None;
        }
        let permit = tokio::time::timeout(QUEUE_WAIT, self.permits.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::AcqRel);
        permit.ok().and_then(Result::ok)
    }

    /// The remembered latest week of a field for a sensor (`optical`, `radar`), if still fresh.
    pub fn latest(
        &self,
        tenant: &str,
        aoi: &str,
        sensor: &'static str,
    ) -> Option<Option<LatestWeek>> {
        let map = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(tenant.to_owned(), aoi.to_owned(), sensor))
            .filter(|(at, _)| at.elapsed() < LATEST_TTL)
            .map(|(_, w)| w.clone())
    }

    pub fn remember_latest(
        &self,
        tenant: &str,
        aoi: &str,
        sensor: &'static str,
        week: Option<LatestWeek>,
    ) {
        let mut map = self.latest.lock().unwrap_or_else(|e| e.into_inner());
        if map.len() > 10_000 {
            map.retain(|_, (at, _)| at.elapsed() < LATEST_TTL);
        }
        map.insert(
            (tenant.to_owned(), aoi.to_owned(), sensor),
            (Instant::now(), week),
        );
    }

    /// Renders one tile of the COG at `key` (blocking: call from `spawn_blocking`). `cog_id`
    /// names this version of the file in the caches.
    #[allow(clippy::too_many_arguments)] // each is a distinct input of the render
    pub fn render(
        &self,
        handle: &Handle,
        rasters: &RasterStore,
        key: &str,
        cog_id: &Arc<str>,
        (z, x, y): (u8, u32, u32),
        index: &str,
        metrics: &Registry,
    ) -> Result<Option<Vec<u8>>, RenderError> {
        let started = Instant::now();
        let (cog, mut fetched) = self.header(handle, rasters, key, cog_id, metrics)?;
        let tiff = &cog.tiff;
        let layout = BandLayout::of(tiff);
        let selection = layout
            .selection(index)
            .map_err(|e| RenderError::Unsupported(e.to_string()))?;
        let clip = match (&cog.field, layout.mask) {
            (Some((polygons, _)), _) => Clip::Polygons(polygons),
            (None, Some(band)) => Clip::Band(band),
            (None, None) => Clip::None,
        };
        // The file bands (0-based) this tile reads: the index's, and the mask when it clips.
        let mut bands: Vec<usize> = selection.file_bands().iter().map(|b| b - 1).collect();
        if let Clip::Band(mask) = clip {
            bands.push(mask - 1);
        }
        let grid = tile::grid(z, x, y, 256);
        let (plan, positions) = warp::plan_with_positions(tiff, &grid)?;
        let png = match plan.window {
            None => None,
            Some(_) if cog.misses((z, x, y)) => None,
            Some(window) => {
                let (window, raster, held) = self.window(
                    handle,
                    rasters,
                    key,
                    cog_id,
                    tiff,
                    plan.level,
                    window,
                    &bands,
                    &mut fetched,
                    metrics,
                )?;
                let decoded = DecodedWindow {
                    level: plan.level,
                    window,
                    raster: &raster,
                    bands: held.as_deref(),
                    mask: None,
                    positions: Some(&positions),
                };
                vivacampo_raster::render::tile_png_from_window(
                    tiff,
                    &decoded,
                    &grid,
                    &selection,
                    &Style::default(),
                    clip,
                )?
            }
        };
        let outcome = if png.is_some() { "png" } else { "empty" };
        metrics.inc(
            "vivacampo_tile_renders_total",
            "Tiles rendered (cache misses), by outcome: png or empty (204).",
            &[("outcome", outcome)],
            1.0,
        );
        metrics.observe(
            "vivacampo_tile_render_seconds",
            "Time to render one tile, storage reads included.",
            &[],
            LATENCY_BUCKETS,
            started.elapsed().as_secs_f64(),
        );
        for (cache, lru_usage) in [("tile", self.tiles.usage()), ("block", self.blocks.usage())] {
            metrics.set(
                "vivacampo_tile_cache_bytes",
                "Bytes held by the tile caches: rendered tiles and decoded COG blocks.",
                &[("cache", cache)],
                lru_usage.0 as f64,
            );
        }
        Ok(png)
    }

    /// Whether tile `z/x/y` certainly misses the field, judged from its cached header alone:
    /// such a request is answered 204 without a render slot, so requests all over the world
    /// cannot crowd out real tiles. `false` when the header is not cached yet.
    pub fn misses_cached_cog(&self, cog_id: &Arc<str>, tile: (u8, u32, u32)) -> bool {
        self.headers.get(cog_id).is_some_and(|cog| cog.misses(tile))
    }

    /// The parsed header, from the cache or the store; a fresh read also returns the bytes it
    /// fetched, which the first render reuses.
    fn header(
        &self,
        handle: &Handle,
        rasters: &RasterStore,
        key: &str,
        cog_id: &Arc<str>,
        metrics: &Registry,
    ) -> Result<(Arc<Cog>, Option<Ranges>), RenderError> {
        if let Some(cog) = self.headers.get(cog_id) {
            count_cache(metrics, "header", true);
            return Ok((cog, None));
        }
        count_cache(metrics, "header", false);
        // Field-week COGs are small: one read of the whole object is cheaper than a header read
        // and then block reads (the store has no cheap "size" call either).
        let bytes = handle.block_on(rasters.get(key)).map_err(storage)?;
        let have = Ranges::whole(bytes.to_vec());
        let cog = Arc::new(Cog::new(Tiff::parse(&have)?)?);
        let weight = HEADER_WEIGHT
            + cog.field.as_ref().map_or(0, |(polygons, _)| {
                polygons
                    .iter()
                    .map(|p| p.exterior.len() + p.holes.iter().map(Vec::len).sum::<usize>())
                    .sum::<usize>()
                    * 16
            });
        self.headers.insert(cog_id.clone(), cog.clone(), weight);
        Ok((cog, Some(have)))
    }

    /// The window covering `want` with the file `bands` (0-based, in that order), made of
    /// whole cached blocks of `level`. Of a band-interleaved COG each band's block is read and
    /// cached alone, so a tile inflates only the bands its index uses.
    #[allow(clippy::too_many_arguments)]
    fn window(
        &self,
        handle: &Handle,
        rasters: &RasterStore,
        key: &str,
        cog_id: &Arc<str>,
        tiff: &Tiff,
        level: usize,
        want: Window,
        bands: &[usize],
        fetched: &mut Option<Ranges>,
        metrics: &Registry,
    ) -> Result<WindowRead, RenderError> {
        let img = &tiff.levels[level];
        let (bw, bh) = (img.block_w, img.block_h);
        let (bx0, by0) = (want.col / bw, want.row / bh);
        let (bx1, by1) = (
            (want.col + want.width - 1) / bw,
            (want.row + want.height - 1) / bh,
        );
        let block_window = |bx: u32, by: u32| {
            let (c, r) = (bx * bw, by * bh);
            Window::new(c, r, bw.min(img.width - c), bh.min(img.height - r))
        };
        // Each entry: which cached block to take (its band, or None for all bands) and which
        // of its bands to copy out.
        let parts: Vec<(Option<usize>, Vec<usize>)> = if img.planar {
            bands.iter().map(|&b| (Some(b), vec![0])).collect()
        } else {
            vec![(None, bands.to_vec())]
        };
        let mut block =
            |band: Option<usize>, bx: u32, by: u32| -> Result<Arc<Raster>, RenderError> {
                let k: BlockKey = (cog_id.clone(), level, band, bx, by);
                if let Some(b) = self.blocks.get(&k) {
                    count_cache(metrics, "block", true);
                    return Ok(b);
                }
                count_cache(metrics, "block", false);
                let plan = match band {
                    Some(b) => tiff.plan_bands(level, block_window(bx, by), &[b])?,
                    None => tiff.plan(level, block_window(bx, by), false)?,
                };
                let have = fetched.get_or_insert_with(|| Ranges::new(tiff.size));
                for r in &plan.ranges {
                    if have.get(r.start, r.end - r.start).is_err() {
                        let bytes = handle
                            .block_on(rasters.get_range(key, r.clone()))
                            .map_err(storage)?;
                        have.insert(r.start, bytes.to_vec());
                    }
                }
                let raster = Arc::new(tiff.decode(&plan, have)?);
                let weight = raster.data.len() * raster.dtype().size() + 128;
                self.blocks.insert(k, raster.clone(), weight);
                Ok(raster)
            };
        let first = block_window(bx0, by0);
        let last = block_window(bx1, by1);
        let union = Window::new(
            first.col,
            first.row,
            last.col + last.width - first.col,
            last.row + last.height - first.row,
        );
        if (bx0, by0) == (bx1, by1) && !img.planar {
            // One block of every band holds everything: no copy.
            return Ok((union, block(None, bx0, by0)?, None));
        }
        let mut out = Raster {
            width: union.width as usize,
            height: union.height as usize,
            bands: bands.len(),
            data: vivacampo_raster::raster::Buffer::zeros(
                tiff.dtype(),
                union.width as usize * union.height as usize * bands.len(),
            ),
        };
        let mut first = 0;
        for (band, picks) in &parts {
            for by in by0..=by1 {
                for bx in bx0..=bx1 {
                    let b = block(*band, bx, by)?.select_bands(picks);
                    out.paste(
                        &b,
                        (bx * bw - union.col) as usize,
                        (by * bh - union.row) as usize,
                        first,
                    )?;
                }
            }
            first += picks.len();
        }
        Ok((union, Arc::new(out), Some(bands.to_vec())))
    }
}

/// Lon/lat bounds of a COG's image, widened by 10 % each side: a projected rectangle's edges
/// bow slightly in lon/lat, and this only decides which requests skip rendering.
fn lonlat_extent(tiff: &Tiff) -> Option<[f64; 4]> {
    let georef = tiff.georef.as_ref()?;
    let crs = vivacampo_raster::crs::Crs::from_epsg(georef.epsg?).ok()?;
    let (w, h) = (f64::from(tiff.width()), f64::from(tiff.height()));
    let mut b = [f64::MAX, f64::MAX, f64::MIN, f64::MIN];
    for (col, row) in [(0.0, 0.0), (w, 0.0), (0.0, h), (w, h)] {
        let (x, y) = georef.transform.apply(col, row);
        let (lon, lat) = crs.to_lonlat(x, y);
        b = [b[0].min(lon), b[1].min(lat), b[2].max(lon), b[3].max(lat)];
    }
    let (dx, dy) = ((b[2] - b[0]) * 0.1, (b[3] - b[1]) * 0.1);
    Some([b[0] - dx, b[1] - dy, b[2] + dx, b[3] + dy])
}

fn count_cache(metrics: &Registry, cache: &str, hit: bool) {
    metrics.inc(
        "vivacampo_tile_cache_requests_total",
        "Tile cache look-ups, by cache (tile, block, header) and result (hit, miss).",
        &[
            ("cache", cache),
            ("result", if hit { "hit" } else { "miss" }),
        ],
        1.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn overload_waits_briefly_then_sheds() {
        let tiler = Arc::new(Tiler::new(TileConfig {
            concurrency: 1,
            ..TileConfig::ephemeral()
        }));
        let held = tiler.admit().await.expect("a free slot");
        // WAITING_PER_SLOT requests queue; the next one is shed at once.
        let waiting: Vec<_> = (0..WAITING_PER_SLOT)
            .map(|_| {
                let tiler = tiler.clone();
                tokio::spawn(async move { tiler.admit().await.is_some() })
            })
            .collect();
        tokio::task::yield_now().await;
        while tiler.waiting.load(Ordering::Acquire) < WAITING_PER_SLOT {
            tokio::task::yield_now().await;
        }
        assert!(tiler.admit().await.is_none(), "queue full: shed");
        // Freed in time, the first waiter gets the slot; the others time out after QUEUE_WAIT.
        drop(held);
        let mut admitted = 0;
        for w in waiting {
            admitted += usize::from(w.await.unwrap());
        }
        assert!(admitted >= 1);
        assert_eq!(tiler.waiting.load(Ordering::Acquire), 0);
    }
}
