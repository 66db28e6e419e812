//! The offline demo catalog: a Sentinel-2 L2A-like STAC catalog of real COGs, written on disk,
//! so a fresh machine shows realistic fields without the internet.
//!
//! An area of ~10 × 10 km around Rio Verde (Goiás) on an EPSG:32722 grid; 10 m bands B02 B03
//! B04 B08, 20 m bands B05 B06 B07 B8A B11 B12 and SCL (every band of `vivacampo_raster`'s index
//! catalogue, plus B8A); an acquisition every 5 days up to `end_date`. Parcels follow soybean,
//! maize, pasture and cerrado NDVI curves; reflectances are linear mixes of soil and canopy
//! spectra chosen so that (NIR − red)/(NIR + red) equals the curve; DN = reflectance × 10000 +
//! 1000 (processing baseline 04.00 and later, BOA_ADD_OFFSET = −1000). Some scenes have clouds
//! (SCL 8/9, bright pixels) and their shadows (SCL 3, dark pixels); the scenes of the third and
//! sixth ISO week before `end_date`'s are overcast, so the demo's weeks always include CLOUDY
//! ones, and those of `end_date`'s own week are clear. The demo farm's four fields are inside,
//! each painted with its crop's curve: a soybean centre pivot ([`DEMO_PIVOT`]), a maize field
//! ([`DEMO_RECTANGLE`]), a pasture ([`DEMO_PASTURE`]) that has been losing its cover for two
//! seasons ([`degrading_pasture_ndvi`]) and the problem field ([`DEMO_PROBLEM`]), whose NDVI
//! drops over the last weeks before `end_date`. Clouds depend on a scene's place in the series,
//! not on its date, so every `end_date` of the same weekday gets the same sky. Everything is
//! deterministic for a seed.
//!
//! A pasture's decline shows only against its earlier seasons, so the catalog also holds the
//! pasture's history: small scenes around it, on the same 5-day revisit, over the wet seasons
//! of the [`HISTORY_DAYS`] before the first week ([`history_dates`]).
//!
//! Sentinel-1 RTC scenes (collection `sentinel-1-rtc`) over the same area come from [`radar`].
//!
//! Layout, as static STAC catalogs usually are: `catalog.json`, then per scene
//! `{id}/{id}.json` with assets `./B04.tif` etc. (Earth Search asset keys: `red`, `nir`, `scl`…).

use std::path::Path;

use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime, Time};
use vivacampo_raster::cog::{self, CogOptions, Overviews};
use vivacampo_raster::crs::Crs;
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::BandInfo;

use crate::error::{Error, Result};

pub mod radar;

pub const EPSG: u32 = 32722;
/// Centre of the demo area (lon, lat).
pub const CENTER: (f64, f64) = (-50.90, -17.74);
/// The demo farm's centre pivot, soybean: centre (lon, lat) and radius in metres.
pub const DEMO_PIVOT: ((f64, f64), f64) = ((-50.905, -17.745), 560.0);
/// The demo farm's maize field: `[min lon, min lat, max lon, max lat]`.
pub const DEMO_RECTANGLE: [f64; 4] = [-50.893, -17.731, -50.878, -17.722];
/// The demo farm's pasture, north-west of the pivot, degrading ([`Cover::DegradingPasture`]):
/// `[min lon, min lat, max lon, max lat]`.
pub const DEMO_PASTURE: [f64; 4] = [-50.918, -17.735, -50.906, -17.726];
/// Days before the first week that the pasture's history covers: the season judged and the
/// two before it, whatever the date ([`history_dates`]).
pub const HISTORY_DAYS: i64 = 1100;
/// Share of the pasture's green cover lost by the catalog's end date…
const PASTURE_LOSS: f64 = 0.35;
/// …starting this many days before it.
const PASTURE_DECLINE_DAYS: f64 = 900.0;
/// The demo farm's problem field, south-east of the pivot: a crop that greened up weeks ago and
/// is now drying down under the demo's recent dry spell ([`StressedCrop`](Cover::StressedCrop)):
/// `[min lon, min lat, max lon, max lat]`.
pub const DEMO_PROBLEM: [f64; 4] = [-50.893, -17.758, -50.880, -17.750];
/// ISO weeks before the last one whose scenes are all overcast.
const OVERCAST_WEEKS: [i64; 2] = [2, 5];
/// Days between acquisitions (Sentinel-2A + 2B).
pub const REVISIT_DAYS: i64 = 5;
/// The time of day (UTC) of every demo acquisition: Sentinel-2's overpass of Goiás.
pub const ACQUISITION_TIME: Time = time::macros::time!(13:36:21);

/// The newest `end_date` whose acquisition has already happened at `now`: today once the
/// day's overpass time has passed, else yesterday, so no scene is dated in the future.
pub fn latest_end_date(now: OffsetDateTime) -> Date {
    let now = now.to_offset(time::UtcOffset::UTC);
    if now.time() >= ACQUISITION_TIME {
        now.date()
    } else {
        now.date() - Duration::days(1)
    }
}

/// What to generate.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Acquisitions cover the `weeks` × 7 days ending at `end_date`.
    pub weeks: u32,
    pub end_date: Date,
    /// Side of the square area in metres (10 000 by default; tests use less).
    pub size_m: f64,
    pub seed: u64,
    /// Also write the demo pasture's history ([`history_dates`]); `vivacampo demo` does.
    pub pasture_history: bool,
}

impl DemoOptions {
    pub fn new(weeks: u32, end_date: Date) -> DemoOptions {
        DemoOptions {
            weeks,
            end_date,
            size_m: 10_000.0,
            seed: 2024,
            pasture_history: false,
        }
    }
}

/// What was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub scene_ids: Vec<String>,
    /// Lon/lat bbox of the area.
    pub bbox: [f64; 4],
    pub files: usize,
    pub bytes: u64,
}

/// A band: ESA name, Earth Search asset key, resolution (m), soil and canopy reflectance.
struct BandSpec {
    name: &'static str,
    key: &'static str,
    res: f64,
    soil: f64,
    canopy: f64,
    wavelength: f64,
}

const fn band(
    name: &'static str,
    key: &'static str,
    res: f64,
    soil: f64,
    canopy: f64,
    wavelength: f64,
) -> BandSpec {
    BandSpec {
        name,
        key,
        res,
        soil,
        canopy,
        wavelength,
    }
}

/// Red-soil (latossolo) and soybean-canopy-like spectra.
const BANDS: [BandSpec; 10] = [
    band("B02", "blue", 10.0, 0.07, 0.025, 0.49),
    band("B03", "green", 10.0, 0.10, 0.07, 0.56),
    band("B04", "red", 10.0, 0.14, 0.03, 0.665),
    band("B08", "nir", 10.0, 0.19, 0.46, 0.842),
    band("B05", "rededge1", 20.0, 0.16, 0.10, 0.705),
    band("B06", "rededge2", 20.0, 0.18, 0.31, 0.74),
    band("B07", "rededge3", 20.0, 0.19, 0.40, 0.783),
    band("B8A", "nir08", 20.0, 0.21, 0.47, 0.865),
    band("B11", "swir16", 20.0, 0.30, 0.19, 1.61),
    band("B12", "swir22", 20.0, 0.25, 0.09, 2.19),
];

const RED: usize = 2;
const NIR: usize = 3;

/// Land cover of a pixel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cover {
    Soybean,
    Maize,
    Pasture,
    /// The demo farm's pasture: a pasture losing its cover season after season
    /// ([`degrading_pasture_ndvi`]).
    DegradingPasture,
    Cerrado,
    Road,
    /// The problem field: its NDVI follows the days before the catalog's end date, not the
    /// calendar, so it shows the same story on any date ([`stressed_crop_ndvi`]).
    StressedCrop,
}

impl Cover {
    /// The NDVI the demo imagery gives this cover on `date`, before within-field variation
    /// (±0.04, zero on average) and clouds.
    pub fn ndvi(self, date: Date) -> f64 {
        ndvi_curve(self, f64::from(date.ordinal()))
    }

    /// The NDVI of this cover on `date` in a catalog ending on `end_date`.
    pub fn ndvi_until(self, date: Date, end_date: Date) -> f64 {
        match self {
            Cover::StressedCrop => stressed_crop_ndvi((end_date - date).whole_days() as f64),
            Cover::DegradingPasture => degrading_pasture_ndvi(date, end_date),
            other => other.ndvi(date),
        }
    }
}

/// The problem field's NDVI `days_before` the catalog's end date: bare soil until five weeks
/// before, a green-up to a 0.8 canopy four weeks before, then, over the last two weeks, a
/// fall to about 0.4 — a mid-season drop the signals see as a rapid decline and low vigor, under the
/// demo weather's recent dry spell ([`crate::weather::demo::recent_dry_spell`]).
pub fn stressed_crop_ndvi(days_before: f64) -> f64 {
    let s = |t: f64| 1.0 / (1.0 + (-t).exp());
    // The ISO weeks 2 and 5 before the end date's are overcast ([`OVERCAST_WEEKS`]): whatever
    // the end date's weekday, weeks 6 and 7 before (from 36 days) are bare, week 4 (up to 34
    // days) green, week 3 (from 15 days) before the drop and week 1 (up to 13 days) after it.
    let green = s((31.0 - days_before) / 2.5);
    let drop = s((14.0 - days_before) / 1.5);
    0.2 + 0.6 * green - 0.4 * drop
}

/// The demo pasture's NDVI on `date` in a catalog ending on `end_date`: a healthy pasture's
/// curve losing a share of its cover that grows, ever faster, from nothing
/// [`PASTURE_DECLINE_DAYS`] before the end date to [`PASTURE_LOSS`] at it — too slowly to be a
/// decline from one week to the next, enough for the wet-season peak to fall season after
/// season (about 0.67, 0.62, then 0.52) while more soil shows.
pub fn degrading_pasture_ndvi(date: Date, end_date: Date) -> f64 {
    let days_before = (end_date - date).whole_days() as f64;
    let loss = PASTURE_LOSS
        * (1.0 - days_before / PASTURE_DECLINE_DAYS)
            .clamp(0.0, 1.0)
            .powf(1.2);
    ndvi_curve(Cover::Pasture, f64::from(date.ordinal())) * (1.0 - loss)
}

/// NDVI of a cover on a day of the year (Goiás: soybean sown late October, summer maize late
/// September, pasture green in the wet season December–April). These are the healthy fields:
/// smooth curves, no dips, whatever the date. (The problem field follows
/// [`stressed_crop_ndvi`] and the demo pasture [`degrading_pasture_ndvi`]; here they get their
/// recent state.)
fn ndvi_curve(cover: Cover, doy: f64) -> f64 {
    let logistic = |sow: f64, up: f64, down: f64, base: f64, peak: f64| {
        let d = (doy - sow).rem_euclid(365.0);
        let s = |t: f64| 1.0 / (1.0 + (-t).exp());
        base + (peak - base) * (s((d - up) / 7.0) - s((d - down) / 9.0)).max(0.0)
    };
    match cover {
        Cover::Soybean => logistic(300.0, 32.0, 105.0, 0.18, 0.88),
        Cover::Maize => logistic(268.0, 38.0, 118.0, 0.2, 0.84),
        Cover::StressedCrop => 0.8,
        Cover::Pasture => 0.5 + 0.17 * ((doy - 45.0) / 365.0 * std::f64::consts::TAU).cos(),
        Cover::DegradingPasture => ndvi_curve(Cover::Pasture, doy) * (1.0 - PASTURE_LOSS),
        Cover::Cerrado => 0.6 + 0.08 * ((doy - 60.0) / 365.0 * std::f64::consts::TAU).cos(),
        Cover::Road => 0.16,
    }
}

/// Canopy fraction giving `ndvi` for the red and NIR end members (linear mixing), in 0..=1.
fn canopy_fraction(ndvi: f64) -> f64 {
    let (rs, rc, ns, nc) = (
        BANDS[RED].soil,
        BANDS[RED].canopy,
        BANDS[NIR].soil,
        BANDS[NIR].canopy,
    );
    // ndvi = (a + b f) / (c + d f)
    let (a, b, c, d) = (
        ns - rs,
        (nc - ns) - (rc - rs),
        ns + rs,
        (nc - ns) + (rc - rs),
    );
    ((a - ndvi * c) / (ndvi * d - b)).clamp(0.0, 1.0)
}

/// splitmix64: a deterministic hash of a few integers.
fn hash(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    let mut z = x;
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

fn unit(seed: u64, a: i64, b: i64, c: u64) -> f64 {
    let h = hash(seed ^ hash((a as u64) ^ hash((b as u64) ^ hash(c))));
    (h >> 11) as f64 / (1u64 << 53) as f64
}

/// Smooth noise in 0..1: bilinear interpolation of hashed values on a `cell`-metre lattice.
fn value_noise(seed: u64, x: f64, y: f64, cell: f64, salt: u64) -> f64 {
    let (gx, gy) = (x / cell, y / cell);
    let (ix, iy) = (gx.floor() as i64, gy.floor() as i64);
    let (fx, fy) = (gx - ix as f64, gy - iy as f64);
    let (sx, sy) = (fx * fx * (3.0 - 2.0 * fx), fy * fy * (3.0 - 2.0 * fy));
    let v = |i, j| unit(seed, i, j, salt);
    let top = v(ix, iy) * (1.0 - sx) + v(ix + 1, iy) * sx;
    let bottom = v(ix, iy + 1) * (1.0 - sx) + v(ix + 1, iy + 1) * sx;
    top * (1.0 - sy) + bottom * sy
}

/// The static landscape: covers on the area, with the demo fields in UTM.
struct Landscape {
    seed: u64,
    pivot: ((f64, f64), f64),
    rectangle: [(f64, f64); 4],
    pasture: [(f64, f64); 4],
    problem: [(f64, f64); 4],
}

const PARCEL_W: f64 = 760.0;
const PARCEL_H: f64 = 540.0;
const ROAD: f64 = 20.0;

impl Landscape {
    fn new(seed: u64, utm: &Crs) -> Landscape {
        let ((lon, lat), r) = DEMO_PIVOT;
        let corners = |[x0, y0, x1, y1]: [f64; 4]| {
            [
                utm.from_lonlat(x0, y0),
                utm.from_lonlat(x1, y0),
                utm.from_lonlat(x1, y1),
                utm.from_lonlat(x0, y1),
            ]
        };
        Landscape {
            seed,
            pivot: (utm.from_lonlat(lon, lat), r),
            rectangle: corners(DEMO_RECTANGLE),
            pasture: corners(DEMO_PASTURE),
            problem: corners(DEMO_PROBLEM),
        }
    }

    fn cover(&self, x: f64, y: f64) -> Cover {
        let ((px, py), r) = self.pivot;
        if (x - px).hypot(y - py) <= r {
            return Cover::Soybean;
        }
        if in_convex(&self.rectangle, x, y) {
            return Cover::Maize;
        }
        if in_convex(&self.pasture, x, y) {
            return Cover::DegradingPasture;
        }
        if in_convex(&self.problem, x, y) {
            return Cover::StressedCrop;
        }
        let (cx, cy) = ((x / PARCEL_W).floor(), (y / PARCEL_H).floor());
        let (ox, oy) = (x - cx * PARCEL_W, y - cy * PARCEL_H);
        if ox < ROAD || oy < ROAD {
            return Cover::Road;
        }
        match unit(self.seed, cx as i64, cy as i64, 1) {
            u if u < 0.4 => Cover::Soybean,
            u if u < 0.6 => Cover::Maize,
            u if u < 0.88 => Cover::Pasture,
            _ => Cover::Cerrado,
        }
    }
}

fn in_convex(q: &[(f64, f64); 4], x: f64, y: f64) -> bool {
    let side = |a: (f64, f64), b: (f64, f64)| (b.0 - a.0) * (y - a.1) - (b.1 - a.1) * (x - a.0);
    let s: Vec<f64> = (0..4).map(|i| side(q[i], q[(i + 1) % 4])).collect();
    s.iter().all(|&v| v >= 0.0) || s.iter().all(|&v| v <= 0.0)
}

/// Clouds of one scene: blobs with a soft edge, and their shadows displaced away from the sun.
struct Sky {
    blobs: Vec<(f64, f64, f64)>,
    shadow_shift: (f64, f64),
    overcast: bool,
}

impl Sky {
    /// `kind`: 0 clear, 1 a few clouds, 2 many clouds, 3 overcast.
    fn new(seed: u64, scene: u64, kind: u32, extent: [f64; 4]) -> Sky {
        let n = match kind {
            0 | 3 => 0,
            1 => 3,
            _ => 9,
        };
        let [x0, y0, x1, y1] = extent;
        let blobs = (0..n)
            .map(|i| {
                let u = |s| unit(seed, scene as i64, i, s);
                (
                    x0 + u(10) * (x1 - x0),
                    y0 + u(11) * (y1 - y0),
                    (x1 - x0) * (0.06 + 0.1 * u(12)),
                )
            })
            .collect();
        Sky {
            blobs,
            // Morning sun from the north-east: shadows fall south-west.
            // (clouds ~1.5 km up, sun ~55° high: about 1 km away).
            shadow_shift: (-800.0, -600.0),
            overcast: kind == 3,
        }
    }

    /// Cloud opacity at a point, 0..1.
    fn cloud(&self, x: f64, y: f64) -> f64 {
        if self.overcast {
            return 1.0;
        }
        let mut v: f64 = 0.0;
        for &(cx, cy, r) in &self.blobs {
            let d = (x - cx).hypot(y - cy) / r;
            v = v.max((1.5 - d).clamp(0.0, 1.0));
        }
        v
    }

    fn shadow(&self, x: f64, y: f64) -> bool {
        self.cloud(x - self.shadow_shift.0, y - self.shadow_shift.1) > 0.5
    }
}

/// The area's grid: upper-left corner and size in metres (a multiple of 60 m, as on the
/// Sentinel-2 tiling, so 10 m and 20 m pixels nest).
fn area(size_m: f64, utm: &Crs) -> (f64, f64, f64) {
    let (cx, cy) = utm.from_lonlat(CENTER.0, CENTER.1);
    let size = (size_m / 60.0).round().max(1.0) * 60.0;
    let ulx = ((cx - size / 2.0) / 60.0).floor() * 60.0;
    let uly = ((cy + size / 2.0) / 60.0).ceil() * 60.0;
    (ulx, uly, size)
}

/// Writes the catalog into `out_dir`; `progress(done, total)` is called after each scene.
pub fn generate(
    out_dir: &Path,
    opts: &DemoOptions,
    mut progress: impl FnMut(usize, usize),
) -> Result<Summary> {
    let utm = Crs::from_epsg(EPSG).map_err(|e| Error::Catalog(e.to_string()))?;
    let (ulx, uly, size) = area(opts.size_m, &utm);
    let whole = Extent::new(ulx, uly, size, &utm);
    let land = Landscape::new(opts.seed, &utm);
    let pasture = Extent::around(&land.pasture, &utm);
    std::fs::create_dir_all(out_dir).map_err(|e| Error::io(out_dir, e))?;
    // Until the new one is complete there is no catalog (see `ensure`).
    let catalog_path = out_dir.join("catalog.json");
    match std::fs::remove_file(&catalog_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(Error::io(&catalog_path, e));
        }
        _ => {}
    }
    let history = if opts.pasture_history {
        history_dates(opts)
    } else {
        Vec::new()
    };
    // History first, so the scenes are listed oldest first; its scenes are numbered apart, so
    // the live scenes keep their noise, platforms and skies.
    let scenes: Vec<SceneSpec> = history
        .iter()
        .enumerate()
        .map(|(k, date)| (HISTORY_INDEX + k, *date, pasture))
        .chain(
            acquisition_dates(opts)
                .into_iter()
                .enumerate()
                .map(|(i, date)| (i, date, whole)),
        )
        .map(|(index, date, extent)| SceneSpec {
            index: index as u64,
            date,
            kind: sky_kind(opts.seed, index, date, opts.end_date),
            extent,
        })
        .collect();
    // Scenes are independent: one worker thread per core, progress reported from here.
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
    let next = std::sync::atomic::AtomicUsize::new(0);
    let (tx, rx) = std::sync::mpsc::channel();
    let mut written: Vec<Option<Result<(String, usize, u64)>>> =
        (0..scenes.len()).map(|_| None).collect();
    std::thread::scope(|scope| {
        for _ in 0..workers.min(scenes.len()) {
            let (tx, next, scenes, land) = (tx.clone(), &next, &scenes, &land);
            scope.spawn(move || {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    let Some(scene) = scenes.get(i) else { break };
                    let r = write_scene(out_dir, opts, land, scene);
                    if tx.send((i, r)).is_err() {
                        break;
                    }
                }
            });
        }
        drop(tx);
        for (done, (i, r)) in rx.iter().enumerate() {
            written[i] = Some(r);
            progress(done + 1, scenes.len());
        }
    });
    let (radar_ids, mut files, mut bytes) =
        radar::write_scenes(out_dir, opts, &land, (ulx, uly, size), whole.bbox)?;
    let mut ids = Vec::new();
    for r in written {
        let (id, n, b) = r.expect("every scene reported")?;
        files += n;
        bytes += b;
        ids.push(id);
    }
    let catalog = json!({
        "type": "Catalog", "stac_version": "1.0.0", "id": "vivacampo-demo",
        "vivacampo:options": options_json(opts),
        "description": "VivaCampo offline demo: synthetic Sentinel-2 L2A scenes over Rio Verde, Goiás",
        "links": ids.iter().map(|id| json!({"rel": "item", "href": format!("./{id}/{id}.json"),
                                            "type": "application/geo+json"}))
            .chain(radar_ids.iter().map(|id| json!({"rel": "item", "href": format!("./{id}/{id}.json"),
                                                    "type": "application/geo+json"})))
            .chain([json!({"rel": "root", "href": "./catalog.json", "type": "application/json"})])
            .collect::<Vec<_>>(),
    });
    files += 1;
    bytes += write_json(&catalog_path, &catalog)?;
    Ok(Summary {
        scene_ids: ids,
        bbox: whole.bbox,
        files,
        bytes,
    })
}

/// Acquisitions every [`REVISIT_DAYS`], oldest first, the newest at `end_date`, within the last
/// `weeks` weeks.
fn acquisition_dates(opts: &DemoOptions) -> Vec<Date> {
    let first = opts.end_date - Duration::days(i64::from(opts.weeks) * 7 - 1);
    let mut dates = Vec::new();
    let mut d = opts.end_date;
    while d >= first {
        dates.push(d);
        d -= Duration::days(REVISIT_DAYS);
    }
    dates.reverse();
    dates
}

/// The demo pasture's history: the dates, oldest first, of the 5-day revisit before the first
/// week's that fall in a wet season (ISO weeks 49 to 17, when a pasture's peak shows) over the
/// [`HISTORY_DAYS`] before it. That is the season the signals judge and at least the two before
/// it, whatever `end_date`.
pub fn history_dates(opts: &DemoOptions) -> Vec<Date> {
    let Some(&first) = acquisition_dates(opts).first() else {
        return Vec::new();
    };
    let oldest = first - Duration::days(HISTORY_DAYS);
    let mut dates = Vec::new();
    let mut d = first - Duration::days(REVISIT_DAYS);
    while d >= oldest {
        let week = d.iso_week();
        if week >= WET_FIRST_WEEK || week <= WET_LAST_WEEK {
            dates.push(d);
        }
        d -= Duration::days(REVISIT_DAYS);
    }
    dates.reverse();
    dates
}

/// [`history_dates`] as the spans of consecutive dates (one per wet season), oldest first:
/// what `vivacampo demo` backfills for the pasture.
pub fn history_spans(opts: &DemoOptions) -> Vec<(Date, Date)> {
    let mut spans: Vec<(Date, Date)> = Vec::new();
    for date in history_dates(opts) {
        match spans.last_mut() {
            Some((_, last)) if date - *last <= Duration::days(REVISIT_DAYS) => *last = date,
            _ => spans.push((date, date)),
        }
    }
    spans
}

/// ISO weeks of the wet season (as `vivacampo_core::signals` has them for pastures).
const WET_FIRST_WEEK: u8 = 49;
const WET_LAST_WEEK: u8 = 17;
/// Index of the first history scene (live scenes count from 0).
const HISTORY_INDEX: usize = 1 << 20;

/// The sky of scene `index` (0 the oldest) on `date`: overcast in the [`OVERCAST_WEEKS`] before
/// `end`'s ISO week, clear in `end`'s own week, else mostly clear, now and then cloudy.
fn sky_kind(seed: u64, index: usize, date: Date, end: Date) -> u32 {
    let monday = |d: Date| d - Duration::days(i64::from(d.weekday().number_days_from_monday()));
    let weeks_before = (monday(end) - monday(date)).whole_days() / 7;
    if OVERCAST_WEEKS.contains(&weeks_before) {
        return 3;
    }
    // The newest week is clear: signals judge a field at its newest week, and only a clear
    // one shows the problem field's state (a cloudy newest week assesses nothing).
    if weeks_before == 0 {
        return 0;
    }
    match unit(seed, index as i64, 0, 7) {
        u if u < 0.55 => 0,
        u if u < 0.85 => 1,
        _ => 2,
    }
}

/// What [`ensure`] compares: a catalog made with other options is made again. `version`
/// changes when the generator does.
fn options_json(opts: &DemoOptions) -> Value {
    json!({"version": 5, "weeks": opts.weeks, "end_date": opts.end_date.to_string(),
           "size_m": opts.size_m, "seed": opts.seed, "pasture_history": opts.pasture_history})
}

/// Generates the catalog unless `out_dir` already holds one made with the same options (the
/// `vivacampo demo` cache). `catalog.json` is written last, so a run that was interrupted
/// leaves no catalog that looks complete. Returns whether it generated.
pub fn ensure(
    out_dir: &Path,
    opts: &DemoOptions,
    progress: impl FnMut(usize, usize),
) -> Result<bool> {
    let existing = std::fs::read_to_string(out_dir.join("catalog.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<Value>(&t).ok());
    if existing.is_some_and(|c| c["vivacampo:options"] == options_json(opts)) {
        return Ok(false);
    }
    generate(out_dir, opts, progress)?;
    Ok(true)
}

struct SceneSpec {
    index: u64,
    date: Date,
    kind: u32,
    extent: Extent,
}

/// A square of the UTM grid (upper-left corner and side in metres) and its lon/lat bbox.
#[derive(Debug, Clone, Copy)]
struct Extent {
    ulx: f64,
    uly: f64,
    size: f64,
    bbox: [f64; 4],
}

impl Extent {
    fn new(ulx: f64, uly: f64, size: f64, utm: &Crs) -> Extent {
        let corners = [
            utm.to_lonlat(ulx, uly),
            utm.to_lonlat(ulx + size, uly),
            utm.to_lonlat(ulx + size, uly - size),
            utm.to_lonlat(ulx, uly - size),
        ];
        let (lons, lats) = (corners.map(|c| c.0), corners.map(|c| c.1));
        Extent {
            ulx,
            uly,
            size,
            bbox: [
                lons.into_iter().fold(f64::INFINITY, f64::min),
                lats.into_iter().fold(f64::INFINITY, f64::min),
                lons.into_iter().fold(f64::NEG_INFINITY, f64::max),
                lats.into_iter().fold(f64::NEG_INFINITY, f64::max),
            ],
        }
    }

    /// The square on the 60 m grid around a field with 240 m to spare.
    fn around(corners: &[(f64, f64); 4], utm: &Crs) -> Extent {
        let margin = 240.0;
        let fold = |f: fn(&(f64, f64)) -> f64, init: f64, pick: fn(f64, f64) -> f64| {
            corners.iter().map(f).fold(init, pick)
        };
        let (x0, x1) = (
            fold(|c| c.0, f64::INFINITY, f64::min) - margin,
            fold(|c| c.0, f64::NEG_INFINITY, f64::max) + margin,
        );
        let (y0, y1) = (
            fold(|c| c.1, f64::INFINITY, f64::min) - margin,
            fold(|c| c.1, f64::NEG_INFINITY, f64::max) + margin,
        );
        let ulx = (x0 / 60.0).floor() * 60.0;
        let uly = (y1 / 60.0).ceil() * 60.0;
        let size = (((x1 - ulx).max(uly - y0)) / 60.0).ceil() * 60.0;
        Extent::new(ulx, uly, size, utm)
    }
}

fn write_json(path: &Path, v: &Value) -> Result<u64> {
    let text = serde_json::to_vec_pretty(v).map_err(|source| Error::Json {
        what: path.display().to_string(),
        source,
    })?;
    std::fs::write(path, &text).map_err(|e| Error::io(path, e))?;
    Ok(text.len() as u64)
}

fn write_scene(
    out_dir: &Path,
    opts: &DemoOptions,
    land: &Landscape,
    scene: &SceneSpec,
) -> Result<(String, usize, u64)> {
    let Extent {
        ulx,
        uly,
        size,
        bbox,
    } = scene.extent;
    let (platform, letter) = if scene.index.is_multiple_of(2) {
        ("sentinel-2a", 'A')
    } else {
        ("sentinel-2b", 'B')
    };
    let id = format!(
        "S2{letter}_22KEV_{:04}{:02}{:02}_0_L2A",
        scene.date.year(),
        u8::from(scene.date.month()),
        scene.date.day()
    );
    let dir = out_dir.join(&id);
    std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
    let sky = Sky::new(
        opts.seed,
        scene.index,
        scene.kind,
        [ulx, uly - size, ulx + size, uly],
    );
    let (mut files, mut bytes) = (0usize, 0u64);
    let mut assets = serde_json::Map::new();
    let mut cloudy = 0u64;
    let mut shadowed = 0u64;
    let mut vegetated = 0u64;
    let mut total20 = 0u64;
    for res in [10.0, 20.0] {
        let n = (size / res).round() as usize;
        let specs: Vec<&BandSpec> = BANDS.iter().filter(|b| b.res == res).collect();
        let mut planes = vec![vec![0u16; n * n]; specs.len()];
        let mut scl = vec![0u8; if res == 20.0 { n * n } else { 0 }];
        for row in 0..n {
            for col in 0..n {
                let x = ulx + (col as f64 + 0.5) * res;
                let y = uly - (row as f64 + 0.5) * res;
                let cover = land.cover(x, y);
                // Within-field variability (soil, stand) and a little per-scene noise.
                let patch = value_noise(opts.seed, x, y, 180.0, 2) - 0.5;
                let jitter = unit(
                    opts.seed,
                    (x / res) as i64,
                    (y / res) as i64,
                    100 + scene.index,
                ) - 0.5;
                let curve = cover.ndvi_until(scene.date, opts.end_date);
                let ndvi = (curve + 0.08 * patch + 0.02 * jitter).clamp(0.05, 0.92);
                let f = canopy_fraction(ndvi);
                let cloud = sky.cloud(x, y);
                let shadow = cloud < 0.05 && sky.shadow(x, y);
                let k = row * n + col;
                for (p, b) in planes.iter_mut().zip(&specs) {
                    let mut refl = b.soil + (b.canopy - b.soil) * f;
                    if shadow {
                        refl *= 0.35;
                    }
                    // Clouds are bright and flat across the spectrum.
                    let bright = 0.55 - 0.05 * b.wavelength.min(2.0);
                    refl = refl * (1.0 - cloud) + bright * cloud;
                    p[k] = (refl * 10_000.0 + 1000.0).round().clamp(1.0, 65_535.0) as u16;
                }
                if res == 20.0 {
                    total20 += 1;
                    scl[k] = if cloud > 0.6 {
                        9
                    } else if cloud > 0.05 {
                        8
                    } else if shadow {
                        3
                    } else if ndvi >= 0.4 {
                        4
                    } else {
                        5
                    };
                    match scl[k] {
                        8 | 9 => cloudy += 1,
                        3 => shadowed += 1,
                        4 => vegetated += 1,
                        _ => {}
                    }
                }
            }
        }
        let georef = Georef {
            epsg: Some(EPSG),
            transform: GeoTransform::north_up(ulx, uly, res, res),
        };
        let stac_transform = json!([res, 0.0, ulx, 0.0, -res, uly]);
        for (plane, b) in planes.into_iter().zip(&specs) {
            let mut o = CogOptions::new(georef);
            o.nodata = Some(0.0);
            o.bands = vec![BandInfo {
                description: Some(b.name.into()),
                scale: Some(1e-4),
                offset: Some(-0.1),
            }];
            let raster = Raster {
                width: n,
                height: n,
                bands: 1,
                data: Buffer::U16(plane),
            };
            bytes += write_cog(&dir.join(format!("{}.tif", b.name)), &raster, &o)?;
            files += 1;
            assets.insert(
                b.key.into(),
                json!({
                    "href": format!("./{}.tif", b.name),
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "title": format!("{} - {}m", b.name, res),
                    "eo:bands": [{"name": b.name, "center_wavelength": b.wavelength}],
                    "gsd": res,
                    "proj:shape": [n, n],
                    "proj:transform": stac_transform,
                    "raster:bands": [{"nodata": 0, "data_type": "uint16", "spatial_resolution": res,
                                      "scale": 0.0001, "offset": -0.1}],
                    "roles": ["data", "reflectance"],
                }),
            );
        }
        if res == 20.0 {
            let mut o = CogOptions::new(georef);
            o.nodata = Some(0.0);
            o.overviews = Overviews::Nearest;
            o.bands = vec![BandInfo {
                description: Some("SCL".into()),
                ..Default::default()
            }];
            let raster = Raster {
                width: n,
                height: n,
                bands: 1,
                data: Buffer::U8(scl),
            };
            bytes += write_cog(&dir.join("SCL.tif"), &raster, &o)?;
            files += 1;
            assets.insert(
                "scl".into(),
                json!({
                    "href": "./SCL.tif",
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "title": "Scene classification map (SCL)",
                    "gsd": 20.0, "proj:shape": [n, n], "proj:transform": stac_transform,
                    "raster:bands": [{"nodata": 0, "data_type": "uint8", "spatial_resolution": 20}],
                    "roles": ["data"],
                }),
            );
        }
    }
    let n10 = (size / 10.0).round() as usize;
    let pct = |c: u64| (c as f64 * 100.0 / total20.max(1) as f64 * 1000.0).round() / 1000.0;
    let datetime = OffsetDateTime::new_utc(scene.date, ACQUISITION_TIME);
    let item = json!({
        "type": "Feature",
        "stac_version": "1.0.0",
        "stac_extensions": [
            "https://stac-extensions.github.io/eo/v1.1.0/schema.json",
            "https://stac-extensions.github.io/projection/v1.1.0/schema.json",
            "https://stac-extensions.github.io/raster/v1.1.0/schema.json"
        ],
        "id": id,
        "collection": "sentinel-2-l2a",
        "geometry": {"type": "Polygon", "coordinates": [[
            [bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]], [bbox[0], bbox[1]]
        ]]},
        "bbox": bbox,
        "properties": {
            "datetime": datetime.format(&time::format_description::well_known::Rfc3339)
                .map_err(|e| Error::Catalog(e.to_string()))?,
            "platform": platform,
            "constellation": "sentinel-2",
            "instruments": ["msi"],
            "eo:cloud_cover": pct(cloudy),
            "s2:cloud_shadow_percentage": pct(shadowed),
            "s2:vegetation_percentage": pct(vegetated),
            "s2:processing_baseline": "05.10",
            "proj:epsg": EPSG,
            "proj:code": format!("EPSG:{EPSG}"),
            "proj:shape": [n10, n10],
            "proj:transform": [10.0, 0.0, ulx, 0.0, -10.0, uly],
            "vivacampo:demo": true,
        },
        "assets": assets,
        "links": [
            {"rel": "root", "href": "../catalog.json", "type": "application/json"},
            {"rel": "parent", "href": "../catalog.json", "type": "application/json"}
        ],
    });
    bytes += write_json(&dir.join(format!("{id}.json")), &item)?;
    Ok((id, files + 1, bytes))
}

fn write_cog(path: &Path, raster: &Raster, opts: &CogOptions) -> Result<u64> {
    let bytes = cog::write(raster, opts).map_err(|source| Error::Raster {
        url: path.display().to_string(),
        source,
    })?;
    std::fs::write(path, &bytes).map_err(|e| Error::io(path, e))?;
    Ok(bytes.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::{date, datetime};

    #[test]
    fn the_newest_scene_is_never_after_now() {
        // Before the day's overpass the newest scene is yesterday's; from it on, today's.
        assert_eq!(
            latest_end_date(datetime!(2026-04-02 09:00 UTC)),
            date!(2026 - 04 - 01)
        );
        assert_eq!(
            latest_end_date(datetime!(2026-04-02 13:36:21 UTC)),
            date!(2026 - 04 - 02)
        );
        assert_eq!(
            latest_end_date(datetime!(2026-04-02 11:00 -3)),
            date!(2026 - 04 - 02)
        );
        for hour in 0..24 {
            let now = OffsetDateTime::new_utc(
                date!(2026 - 04 - 02),
                Time::from_hms(hour, 59, 0).unwrap(),
            );
            assert!(OffsetDateTime::new_utc(latest_end_date(now), ACQUISITION_TIME) <= now);
        }
    }

    #[test]
    fn canopy_fraction_reproduces_ndvi() {
        for target in [0.2, 0.35, 0.5, 0.7, 0.85] {
            let f = canopy_fraction(target);
            let red = BANDS[RED].soil + (BANDS[RED].canopy - BANDS[RED].soil) * f;
            let nir = BANDS[NIR].soil + (BANDS[NIR].canopy - BANDS[NIR].soil) * f;
            assert!(
                ((nir - red) / (nir + red) - target).abs() < 1e-9,
                "{target}"
            );
        }
    }

    #[test]
    fn curves_look_like_the_crops() {
        // Soybean green in January, bare in July; pasture greener in the wet season.
        assert!(ndvi_curve(Cover::Soybean, 15.0) > 0.8);
        assert!(ndvi_curve(Cover::Soybean, 200.0) < 0.25);
        assert!(ndvi_curve(Cover::Maize, 340.0) > 0.75);
        // The healthy maize grows through the November dry spell without a dip.
        assert!(ndvi_curve(Cover::Maize, 324.0) > ndvi_curve(Cover::Maize, 310.0));
        // The problem field: bare, green, then a drop over its last two weeks.
        assert!(stressed_crop_ndvi(56.0) < 0.3);
        assert!(stressed_crop_ndvi(22.0) > 0.75);
        assert!(stressed_crop_ndvi(0.0) < 0.5);
        assert!(ndvi_curve(Cover::Pasture, 45.0) > ndvi_curve(Cover::Pasture, 230.0) + 0.3);
    }

    #[test]
    fn the_demo_pasture_peaks_lower_season_after_season_without_a_weekly_drop() {
        let end = date!(2026 - 12 - 05);
        let peak = |year: i32| {
            degrading_pasture_ndvi(
                Date::from_calendar_date(year, time::Month::February, 14).unwrap(),
                end,
            )
        };
        let healthy = ndvi_curve(Cover::Pasture, 45.0);
        assert!(
            (peak(2024) - healthy).abs() < 1e-9,
            "three seasons ago it was healthy"
        );
        assert!(
            peak(2025) < healthy - 0.03 && peak(2025) > healthy - 0.08,
            "{}",
            peak(2025)
        );
        // The signals' threshold on its own: 0.1 below the earlier seasons' median peak.
        assert!(
            (healthy + peak(2025)) / 2.0 - peak(2026) > 0.11,
            "{}",
            peak(2026)
        );
        let mut day = end - Duration::days(HISTORY_DAYS);
        while day < end {
            let next = day + Duration::days(7);
            let change = degrading_pasture_ndvi(next, end) - degrading_pasture_ndvi(day, end);
            let seasonal = ndvi_curve(Cover::Pasture, f64::from(next.ordinal()))
                - ndvi_curve(Cover::Pasture, f64::from(day.ordinal()));
            assert!(change - seasonal > -0.02, "a weekly drop on {day}");
            day = next;
        }
    }

    #[test]
    fn the_pasture_history_covers_three_wet_seasons_before_the_first_week_whatever_the_date() {
        for end in [
            date!(2026 - 12 - 05),
            date!(2027 - 02 - 10),
            date!(2027 - 07 - 01),
        ] {
            let mut opts = DemoOptions::new(9, end);
            opts.pasture_history = true;
            let live = acquisition_dates(&opts);
            let dates = history_dates(&opts);
            assert!(dates.is_sorted() && dates.last() < live.first());
            assert!(
                dates
                    .windows(2)
                    .all(|w| (w[1] - w[0]).whole_days() % REVISIT_DAYS == 0)
            );
            assert!(dates.iter().all(|d| !(18..=48).contains(&d.iso_week())));
            let spans = history_spans(&opts);
            assert!((3..=4).contains(&spans.len()), "{end}: {spans:?}");
            // Every span but the oldest (cut by HISTORY_DAYS) and the newest (cut by the live
            // weeks) is a whole wet season: from week 49 (early December) to week 17 (late April).
            for (from, to) in &spans[1..spans.len() - 1] {
                assert_eq!((from.iso_week(), to.iso_week()), (49, 17), "{from}..{to}");
            }
            let weeks: usize = spans
                .iter()
                .map(|(from, to)| vivacampo_core::weeks::IsoWeek::spanning(*from, *to).len())
                .sum();
            assert!((50..=80).contains(&weeks), "{end}: {weeks} weeks");
        }
    }

    #[test]
    fn demo_fields_are_inside_the_area_and_painted_with_their_crop() {
        let utm = Crs::from_epsg(EPSG).unwrap();
        let land = Landscape::new(1, &utm);
        // `vivacampo demo --area-m 5000` (the end-to-end tests) holds them too.
        for side in [10_000.0, 5_000.0] {
            let (ulx, uly, size) = area(side, &utm);
            let inside = |x: f64, y: f64| x > ulx && x < ulx + size && y > uly - size && y < uly;
            let ((px, py), r) = land.pivot;
            assert!(inside(px - r, py - r) && inside(px + r, py + r), "{side}");
            for (x, y) in land
                .rectangle
                .iter()
                .chain(&land.pasture)
                .chain(&land.problem)
            {
                assert!(inside(*x, *y), "{side}");
            }
        }
        for (field, crop) in demo_field_points(&land) {
            assert!(field.len() > 1_000);
            assert!(
                field.iter().all(|&(x, y)| land.cover(x, y) == crop),
                "{crop:?}"
            );
        }
    }

    /// Points on a 20 m lattice inside each demo field, with the field's crop.
    fn demo_field_points(land: &Landscape) -> Vec<(Vec<(f64, f64)>, Cover)> {
        let ((px, py), r) = land.pivot;
        let lattice = |x0: f64, y0: f64, x1: f64, y1: f64| {
            let mut points = Vec::new();
            let mut y = y0 + 10.0;
            while y < y1 {
                let mut x = x0 + 10.0;
                while x < x1 {
                    points.push((x, y));
                    x += 20.0;
                }
                y += 20.0;
            }
            points
        };
        let within = |q: &[(f64, f64); 4]| {
            let xs = q.iter().map(|p| p.0);
            let ys = q.iter().map(|p| p.1);
            let (x0, x1) = (
                xs.clone().fold(f64::MAX, f64::min),
                xs.fold(f64::MIN, f64::max),
            );
            let (y0, y1) = (
                ys.clone().fold(f64::MAX, f64::min),
                ys.fold(f64::MIN, f64::max),
            );
            lattice(x0, y0, x1, y1)
                .into_iter()
                .filter(|&(x, y)| in_convex(q, x, y))
                .collect::<Vec<_>>()
        };
        let pivot = lattice(px - r, py - r, px + r, py + r)
            .into_iter()
            .filter(|&(x, y)| (x - px).hypot(y - py) < r)
            .collect();
        vec![
            (pivot, Cover::Soybean),
            (within(&land.rectangle), Cover::Maize),
            (within(&land.pasture), Cover::DegradingPasture),
            (within(&land.problem), Cover::StressedCrop),
        ]
    }

    /// The sky decides each field-week's status, and it depends only on the weekday of the end
    /// date: for every weekday, each demo field has CLOUDY weeks among the 8 the demo processes
    /// (the overcast ones, at least) and at least 4 clear enough to draw its curve. A week is
    /// CLOUDY when fewer than 15 % of its pixels are clear in all of its scenes, as PROCESS_WEEK
    /// decides with the default `min_valid_pixel_ratio`.
    #[test]
    fn every_demo_field_has_cloudy_and_clear_weeks_whatever_the_date() {
        let utm = Crs::from_epsg(EPSG).unwrap();
        let land = Landscape::new(DemoOptions::new(9, date!(2026 - 01 - 01)).seed, &utm);
        let fields = demo_field_points(&land);
        for side in [10_000.0, 5_000.0] {
            let (ulx, uly, size) = area(side, &utm);
            for weekday in 0..7 {
                // `vivacampo demo`: 8 weeks processed, a catalog of 9.
                let opts = DemoOptions::new(9, date!(2026 - 11 - 30) + Duration::days(weekday));
                let monday =
                    |d: Date| d - Duration::days(i64::from(d.weekday().number_days_from_monday()));
                let skies: Vec<(i64, Sky)> = acquisition_dates(&opts)
                    .into_iter()
                    .enumerate()
                    .map(|(i, d)| {
                        let kind = sky_kind(opts.seed, i, d, opts.end_date);
                        let before = (monday(opts.end_date) - monday(d)).whole_days() / 7;
                        let extent = [ulx, uly - size, ulx + size, uly];
                        (before, Sky::new(opts.seed, i as u64, kind, extent))
                    })
                    .collect();
                for (points, crop) in &fields {
                    let clear_share = |week: i64| {
                        let clear = points
                            .iter()
                            .filter(|&&(x, y)| {
                                skies
                                    .iter()
                                    .filter(|(w, _)| *w == week)
                                    .any(|(_, sky)| sky.cloud(x, y) <= 0.05 && !sky.shadow(x, y))
                            })
                            .count();
                        clear as f64 / points.len() as f64
                    };
                    let shares: Vec<f64> = (0..8).map(clear_share).collect();
                    let cloudy = shares.iter().filter(|&&s| s < 0.15).count();
                    let clear = shares.iter().filter(|&&s| s >= 0.5).count();
                    let what = format!("{crop:?}, area {side}, end {}: {shares:?}", opts.end_date);
                    assert!(cloudy >= OVERCAST_WEEKS.len(), "{what}");
                    assert!(clear >= 4, "{what}");
                }
            }
        }
    }
}
