//! `cargo bench -p vivacampo-raster` — the figures of docs/performance.md.
//!
//! With `VC_BENCH_COG=FILE` it also decodes that whole band (the 10980² target; only that
//! with `VC_BENCH_DECODE_ONLY=1`); `scripts/raster-bench.sh` prints GDAL's figure for the
//! same file alongside.

use std::hint::black_box;
use std::time::{Duration, Instant};

use vivacampo_raster::cog::{self, CogOptions};
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::index::{self, Band, Scaling};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::render::{self, Selection, Style};
use vivacampo_raster::stats;
use vivacampo_raster::tiff::{self, Window};
use vivacampo_raster::tile;

/// Best of `runs` wall times.
fn best(runs: usize, mut f: impl FnMut()) -> Duration {
    (0..runs)
        .map(|_| {
            let t = Instant::now();
            f();
            t.elapsed()
        })
        .min()
        .unwrap_or_default()
}

fn on_threads<T: Send>(n: usize, f: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(n)
        .build()
        .expect("thread pool")
        .install(f)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn decode_file(path: &str) {
    let file = std::fs::File::open(path).expect("VC_BENCH_COG file");
    let t = tiff::open(&file).expect("a GeoTIFF");
    let (w, h) = (t.width(), t.height());
    // Bytes in memory first, so both runs measure decoding, not the disk.
    let bytes = std::fs::read(path).expect("read");
    let plan = t.plan(0, Window::new(0, 0, w, h), false).expect("plan");
    let ranges = vivacampo_raster::source::ReadAt::fetch(&bytes, &plan.ranges).expect("fetch");
    for threads in [1, 2] {
        let d = on_threads(threads, || {
            best(3, || {
                drop(black_box(t.decode(&plan, &ranges).expect("decode")))
            })
        });
        let mpx = f64::from(w) * f64::from(h) / d.as_secs_f64() / 1e6;
        println!(
            "decode {w}x{h} {} ({} tiles), {threads} thread(s): {:.0} ms ({mpx:.0} Mpx/s)",
            t.dtype().name(),
            plan.chunks.len(),
            ms(d)
        );
    }
}

/// A 4-band uint16 field COG (blue, green, red, nir; S2 scale/offset), 2000 x 2000 px at 10 m.
fn field_cog() -> Vec<u8> {
    let (w, h) = (2000usize, 2000usize);
    let mut px = Vec::with_capacity(4 * w * h);
    for b in 0..4 {
        for i in 0..w * h {
            let (x, y) = ((i % w) as f64, (i / w) as f64);
            let v = 1500.0
                + 800.0 * (x / 37.0 + b as f64).sin() * (y / 23.0).cos()
                + if b == 3 { 1500.0 } else { 0.0 };
            px.push(v as u16);
        }
    }
    let mut opts = CogOptions::new(Georef {
        epsg: Some(32723),
        transform: GeoTransform::north_up(300000.0, 7500000.0, 10.0, 10.0),
    });
    opts.nodata = Some(0.0);
    opts.bands = ["blue", "green", "red", "nir"]
        .iter()
        .map(|d| tiff::BandInfo {
            description: Some(d.to_string()),
            scale: Some(1e-4),
            offset: Some(-0.1),
        })
        .collect();
    cog::write(
        &Raster {
            width: w,
            height: h,
            bands: 4,
            data: Buffer::U16(px),
        },
        &opts,
    )
    .expect("cog")
}

fn main() {
    if let Ok(path) = std::env::var("VC_BENCH_COG") {
        decode_file(&path);
        if std::env::var_os("VC_BENCH_DECODE_ONLY").is_some() {
            return;
        }
    }

    let t0 = Instant::now();
    let cog = field_cog();
    println!(
        "write COG 2000x2000x4 uint16 (+ overviews), 2 threads: {:.0} ms, {:.1} MB",
        ms(t0.elapsed()),
        cog.len() as f64 / 1e6
    );

    // One z15 tile over the field (~4.8 m/px, full resolution).
    let t = tiff::open(&cog).expect("open");
    let (lon, lat) = vivacampo_raster::crs::Crs::from_epsg(32723)
        .expect("crs")
        .to_lonlat(310000.0, 7490000.0);
    let (x, y) = tile::tile_for_lonlat(lon, lat, 15);
    let ndvi = Selection::Index {
        name: "ndvi".into(),
        bands: vec![(Band::Red, 3), (Band::Nir, 4)],
    };
    let d = on_threads(1, || {
        best(20, || {
            drop(black_box(
                render::tile_png(&t, &cog, 15, x, y, &ndvi, &Style::default()).expect("tile"),
            ))
        })
    });
    println!(
        "NDVI tile 256x256 z15 from an in-memory COG (decode + warp + index + colormap + PNG), 1 thread: {:.2} ms",
        ms(d)
    );
    let grid = tile::grid(15, x, y, 256);
    let plan = vivacampo_raster::warp::plan(&t, &grid).expect("plan");
    let window = plan.window.expect("overlap");
    let d = on_threads(1, || {
        best(20, || {
            drop(black_box(
                t.read_window(&cog, plan.level, window).expect("read"),
            ))
        })
    });
    println!(
        "  of which decoding the {}x{} source window: {:.2} ms",
        window.width,
        window.height,
        ms(d)
    );
    // Warm: the source window is already decoded (the tiler's tile cache); warp the two
    // bands NDVI needs, compute it, colour it, encode the PNG.
    let raster = t
        .read_window(&cog, plan.level, window)
        .expect("read")
        .select_bands(&[2, 3]);
    let crs = vivacampo_raster::crs::Crs::from_epsg(32723).expect("crs");
    let source = vivacampo_raster::warp::Source {
        raster: &raster,
        transform: t.window_transform(plan.level, window).expect("transform"),
        crs: &crs,
        nodata: t.nodata,
        mask: None,
    };
    let two = Selection::Index {
        name: "ndvi".into(),
        bands: vec![(Band::Red, 1), (Band::Nir, 2)],
    };
    let scal = render::scalings(&t);
    let d = on_threads(1, || {
        best(50, || {
            let warped = vivacampo_raster::warp::warp(
                &source,
                &grid,
                vivacampo_raster::warp::Resampling::Bilinear,
            )
            .expect("warp");
            let rgba = render::rgba(&warped, &two, &scal[2..4], &Style::default(), t.dtype())
                .expect("rgba");
            drop(black_box(
                vivacampo_raster::png::encode_rgba(256, 256, &rgba).expect("png"),
            ));
        })
    });
    println!(
        "NDVI tile from a warm field COG (decoded window cached: warp + index + colormap + PNG), 1 thread: {:.2} ms",
        ms(d)
    );

    // NDVI + statistics of a ~1000 ha field: 100 000 pixels of decoded bands.
    let n = 100_000;
    let red: Vec<f64> = (0..n).map(|i| 300.0 + (i % 700) as f64).collect();
    let nir: Vec<f64> = (0..n).map(|i| 2500.0 + (i % 1300) as f64).collect();
    let d = on_threads(1, || {
        best(20, || {
            let s = Scaling::sentinel2(Some("05.10"), None);
            let (r, n) = (s.apply(&red, Some(0.0)), s.apply(&nir, Some(0.0)));
            let v = index::compute("ndvi", &[(Band::Red, &r), (Band::Nir, &n)]).expect("ndvi");
            black_box(stats::zonal(&v, None));
        })
    });
    println!(
        "NDVI + full statistics of 100 000 px (reflectance, index, mean/std/min/max/p10/p50/p90), 1 thread: {:.2} ms",
        ms(d)
    );
}
