//! VivaCampo raster engine: GeoTIFF/COG reading and writing, CRS maths, warping, polygon masks,
//! spectral indices, zonal statistics, colormaps and PNG tiles. Pure Rust, no HTTP or SQL:
//! bytes come in through [`source::Ranges`] (sans-IO) or [`source::ReadAt`] (sync).
//! `docs/adr/0002-raster-engine.md` shows the async (object_store) loop.
//!
//! The whole path, from a COG in memory to a PNG tile, field statistics and a new COG:
//!
//! ```
//! use vivacampo_raster::{cog, crs::Crs, index, mask, stats, tile, tiff, warp};
//! use vivacampo_raster::index::{Band, Scaling};
//! use vivacampo_raster::source::Ranges;
//!
//! let bytes = std::fs::read(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/rgbn.tif"))?;
//!
//! // Sans-IO open: hand over what you have, fetch what it asks for.
//! let mut have = Ranges::new(bytes.len() as u64);
//! have.insert(0, bytes[..tiff::HEADER_PREFETCH as usize].to_vec());
//! let t = loop {
//!     match tiff::Tiff::parse(&have) {
//!         Err(vivacampo_raster::Error::NeedBytes { start, end }) => {
//!             have.insert(start, bytes[start as usize..end as usize].to_vec())
//!         }
//!         other => break other?,
//!     }
//! };
//!
//! // A window: plan (merged byte ranges), fetch, decode (CPU work: spawn_blocking / rayon).
//! let plan = t.plan(0, tiff::Window::new(100, 100, 64, 64), false)?;
//! let mut fetched = Ranges::new(bytes.len() as u64);
//! for r in &plan.ranges {
//!     fetched.insert(r.start, bytes[r.start as usize..r.end as usize].to_vec());
//! }
//! let window = t.decode(&plan, &fetched)?;
//! assert_eq!((window.width, window.bands), (64, 4));
//!
//! // Warp red and NIR (bands 3, 4) into an XYZ tile, NDVI, colormap, PNG.
//! let (x, y) = (19620, 29336);
//! let grid = tile::grid(16, x, y, 256);
//! let warped = warp::read_into_grid(&t, &bytes, &grid, warp::Resampling::Bilinear, Some(&[2, 3]))?;
//! let (red, nir) = (warped.band_f64(0), warped.band_f64(1));
//! let ndvi = index::compute("ndvi", &[(Band::Red, &red), (Band::Nir, &nir)])?;
//! let info = index::info("ndvi").unwrap();
//! let cmap = vivacampo_raster::colormap::get(info.colormap).unwrap();
//! let rgba = vivacampo_raster::colormap::apply(&ndvi, info.range[0], info.range[1], &cmap);
//! let png = vivacampo_raster::png::encode_rgba(256, 256, &rgba)?;
//! assert_eq!(&png[1..4], b"PNG");
//! // Or all of it at once: render::tile_png(&t, &bytes, 16, x, y, &selection, &style).
//!
//! // Statistics of a field: polygon (lon/lat) → raster CRS → pixel-centre mask.
//! let g = t.georef.unwrap();
//! let utm = Crs::from_epsg(g.epsg.unwrap())?;
//! let (lon, lat) = utm.to_lonlat(793500.0, 2049500.0);
//! let d = 0.002;
//! let field = mask::Polygon {
//!     exterior: vec![(lon, lat), (lon + d, lat), (lon + d, lat + d), (lon, lat + d)],
//!     holes: vec![],
//! };
//! let field = field.reproject(&Crs::LonLat { epsg: 4326 }, &utm);
//! let full = t.read_window(&bytes, 0, tiff::Window::new(0, 0, t.width(), t.height()))?;
//! let zone = mask::rasterize(&[field], &g.transform, full.width, full.height, false)?;
//! // No scale/offset in this file: DNs as stored. Sentinel-2 would be
//! // Scaling::sentinel2(Some("05.10"), Some(false)).apply(&dn, Some(0.0)).
//! let s = Scaling::IDENTITY;
//! let (red, nir) = (s.apply(&full.band_f64(2), None), s.apply(&full.band_f64(3), None));
//! let ndvi = index::compute("ndvi", &[(Band::Red, &red), (Band::Nir, &nir)])?;
//! let st = stats::zonal(&ndvi, Some(&zone));
//! assert!(st.valid_count > 1000 && st.mean.is_some());
//!
//! // Write it back as a COG (index as float32, NaN = nodata).
//! let ndvi32: Vec<f32> = ndvi.iter().map(|&v| v as f32).collect();
//! let raster = vivacampo_raster::raster::Raster {
//!     width: full.width, height: full.height, bands: 1,
//!     data: vivacampo_raster::raster::Buffer::F32(ndvi32),
//! };
//! let mut opts = cog::CogOptions::new(g);
//! opts.nodata = Some(f64::NAN);
//! let written = cog::write(&raster, &opts)?;
//! assert_eq!(tiff::open(&written)?.width(), t.width());
//! # Ok::<(), vivacampo_raster::Error>(())
//! ```

pub mod cli;
pub mod cog;
pub mod colormap;
#[rustfmt::skip]
mod colormap_tables;
pub mod crs;
pub mod error;
pub mod field_week;
pub mod geo;
pub mod index;
pub mod mask;
pub mod png;
pub mod radar;
pub mod raster;
pub mod render;
pub mod source;
pub mod stats;
pub mod tiff;
pub mod tile;
pub mod warp;

pub use error::{Error, Result};
