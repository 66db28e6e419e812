//! VivaCampo raster engine: GeoTIFF/COG reading and writing, CRS maths, warping, polygon masks,
//! spectral indices, zonal statistics, colormaps and PNG tiles. Pure Rust, no HTTP or SQL:
//! bytes come in through [`source::Ranges`] (sans-IO) or [`source::ReadAt`] (sync).

pub mod cli;
pub mod cog;
pub mod colormap;
#[rustfmt::skip]
mod colormap_tables;
pub mod crs;
pub mod error;
pub mod geo;
pub mod index;
pub mod mask;
pub mod png;
pub mod raster;
pub mod render;
pub mod source;
pub mod stats;
pub mod tiff;
pub mod tile;
pub mod warp;

pub use error::{Error, Result};
