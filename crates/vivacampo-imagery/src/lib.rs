//! VivaCampo imagery: where the pixels come from.
//!
//! - [`source`]: range reads of COGs from `file://`, `http(s)://` and `s3://` through
//!   `object_store`, driving the raster engine's sans-IO loop, with a header cache and a shared
//!   byte-bounded block cache.
//! - [`store`]: the raster store for field-week COGs (local directory or S3-compatible).
//! - [`stac`]: STAC API client and static catalogs, items parsed into plain [`stac::Scene`]s.
//! - [`observation`]: a scene's bands read onto a field grid as reflectance (for the week
//!   composite of PROCESS_WEEK).
//! - [`sentinel_hub`]: Sentinel Hub (OAuth2, Catalog and Process APIs) as a Sentinel-2 and
//!   Sentinel-1 source, and a loopback stand-in speaking its protocol.
//! - [`radar`]: Sentinel-1 VV/VH scenes read onto a field grid (PROCESS_RADAR_WEEK).
//! - [`demo`]: the offline demo catalog (real COGs and STAC items on disk).
//! - [`weather`]: the Open-Meteo client, a loopback server speaking its API, and the demo's
//!   Cerrado weather.
//!
//! Decisions are recorded in `docs/adr/0005-imagery-sources.md`.

pub mod cache;
pub mod calls;
pub mod catalog_server;
pub mod demo;
pub mod error;
pub mod observation;
pub mod radar;
pub mod sentinel_hub;
pub mod source;
pub mod stac;
pub mod store;
pub mod weather;

pub use error::{Error, Result};

/// Installs ring as rustls' process-wide crypto provider. We build reqwest with
/// `rustls-no-provider` (no aws-lc C build), so a client built before this panics. Idempotent:
/// a provider already installed (by us or the binary) is left alone.
pub fn install_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // A concurrent install may win the race; either way a provider is in place.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}
