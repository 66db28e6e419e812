//! A scene's bands read onto a field grid, as surface reflectance: the input of the raster
//! engine's week composite (`vivacampo_raster::field_week`).
//!
//! Reflectance bands are resampled bilinearly (20 m bands onto the 10 m grid), SCL by nearest
//! neighbour (class codes are never interpolated); every band of a scene is fetched
//! concurrently, through the shared caches of [`Sources`].

use futures_util::future::try_join_all;
use vivacampo_raster::field_week::Observation;
use vivacampo_raster::geo::Grid;
use vivacampo_raster::index::Band;
use vivacampo_raster::raster::Buffer;
use vivacampo_raster::warp::Resampling;

use crate::error::{Error, Result};
use crate::source::Sources;
use crate::stac::{Asset, Scene, band_for_asset};

/// Reads `bands` and SCL of `scene` onto `grid`. Pixels without data are NaN (reflectance) and
/// class 0 (SCL).
pub async fn read_observation(
    sources: &Sources,
    scene: &Scene,
    grid: Grid,
    bands: &[Band],
) -> Result<Observation> {
    let asset = |name: &str| {
        scene
            .assets
            .get(name)
            .ok_or_else(|| Error::Catalog(format!("scene {} has no {name} asset", scene.id)))
    };
    let mut wanted: Vec<(&Asset, Resampling)> = Vec::with_capacity(bands.len() + 1);
    for b in bands {
        let name = band_for_asset(b.name())
            .ok_or_else(|| Error::Catalog(format!("no Sentinel-2 band for {}", b.name())))?;
        wanted.push((asset(name)?, Resampling::Bilinear));
    }
    wanted.push((asset("SCL")?, Resampling::Nearest));
    let rasters = try_join_all(wanted.iter().map(|&(a, resampling)| async move {
        let cog = sources.open(&a.href).await?;
        cog.read_into_grid(grid, resampling, Some(vec![0])).await
    }))
    .await?;
    let mut planes: Vec<Vec<f64>> = rasters
        .into_iter()
        .map(|r| match r.data {
            Buffer::F64(v) => v,
            other => (0..other.len()).map(|i| other.get_f64(i)).collect(),
        })
        .collect();
    let scl = planes
        .pop()
        .expect("SCL was requested")
        .into_iter()
        .map(|c| {
            if c.is_finite() && (0.0..=255.0).contains(&c) {
                c as u8
            } else {
                0
            }
        })
        .collect();
    let reflectance = bands
        .iter()
        .zip(planes)
        .zip(&wanted)
        .map(|((&b, dn), (a, _))| {
            // The warp already turned nodata into NaN; NaN stays NaN.
            let refl = dn.into_iter().map(|v| v * a.scale + a.offset).collect();
            (b, refl)
        })
        .collect();
    Ok(Observation { reflectance, scl })
}
