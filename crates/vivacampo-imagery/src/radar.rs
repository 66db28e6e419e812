//! Sentinel-1 radar scenes for PROCESS_RADAR_WEEK: a [`RadarSource`] finds the scenes over a
//! field in a week and reads their VV and VH backscatter (gamma0, linear power) onto the
//! field's grid.
//!
//! [`StacRadar`] is the STAC implementation (Planetary Computer `sentinel-1-rtc`, SAS-signed like
//! the optical assets; any STAC API; a static catalog directory). Another source (Sentinel Hub's
//! Process API) plugs in by implementing the trait: it returns the same [`RadarScene`]s and
//! [`RadarObservation`]s, already on the field grid.

use std::future::Future;
use std::pin::Pin;

use futures_util::future::try_join;
use time::OffsetDateTime;
use vivacampo_raster::geo::Grid;
use vivacampo_raster::raster::Buffer;
use vivacampo_raster::warp::Resampling;

use crate::error::{Error, Result};
use crate::source::Sources;
use crate::stac::{Catalog, Scene, Search};

/// A boxed future, so the trait stays object safe.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// One Sentinel-1 acquisition over a field.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarScene {
    pub id: String,
    pub datetime: OffsetDateTime,
    /// `ascending` or `descending` (lower case); `None` when the source does not say.
    pub orbit: Option<String>,
    pub relative_orbit: Option<i64>,
    /// The source's own handle of the scene (a STAC scene with its `VV`/`VH` assets).
    pub scene: Option<Scene>,
}

/// VV and VH of one scene on a field grid: linear power, NaN where the scene has no data.
#[derive(Debug, Clone, PartialEq)]
pub struct RadarObservation {
    pub vv: Vec<f64>,
    pub vh: Vec<f64>,
}

/// Where radar scenes come from.
pub trait RadarSource: Send + Sync {
    /// Scenes whose footprint meets `search`'s area and interval, oldest first.
    fn scenes<'a>(&'a self, search: &'a Search) -> BoxFuture<'a, Result<Vec<RadarScene>>>;
    /// The scene's VV and VH on `grid`.
    fn read<'a>(
        &'a self,
        scene: &'a RadarScene,
        grid: Grid,
    ) -> BoxFuture<'a, Result<RadarObservation>>;
}

/// Radar from Sentinel Hub: its Catalog API finds Sentinel-1 GRD scenes, its Process API returns
/// terrain-corrected gamma0 (linear) already on the field grid.
impl RadarSource for crate::sentinel_hub::SentinelHub {
    fn scenes<'a>(&'a self, search: &'a Search) -> BoxFuture<'a, Result<Vec<RadarScene>>> {
        Box::pin(async move {
            let bbox = search
                .bbox
                .ok_or_else(|| Error::Catalog("a radar search needs a bounding box".into()))?;
            let items = self.search_s1(bbox, search.start, search.end).await?;
            Ok(items
                .into_iter()
                .map(|item| RadarScene {
                    id: item.scene.id.clone(),
                    datetime: item.scene.datetime,
                    orbit: item.orbit,
                    relative_orbit: item.relative_orbit,
                    scene: Some(item.scene),
                })
                .collect())
        })
    }

    fn read<'a>(
        &'a self,
        scene: &'a RadarScene,
        grid: Grid,
    ) -> BoxFuture<'a, Result<RadarObservation>> {
        Box::pin(async move {
            let item = scene.scene.as_ref().ok_or_else(|| {
                Error::Catalog(format!("radar scene {} has no catalog item", scene.id))
            })?;
            let read = self.read_s1(item, grid).await?;
            Ok(RadarObservation {
                vv: read.vv,
                vh: read.vh,
            })
        })
    }
}

/// Radar from a STAC catalog of `sentinel-1-rtc` items (assets `vv` and `vh`).
#[derive(Debug, Clone)]
pub struct StacRadar {
    pub catalog: Catalog,
    pub sources: Sources,
}

impl RadarSource for StacRadar {
    fn scenes<'a>(&'a self, search: &'a Search) -> BoxFuture<'a, Result<Vec<RadarScene>>> {
        Box::pin(async move {
            let scenes = self.catalog.search(search).await?;
            Ok(scenes
                .into_iter()
                .filter(|s| s.assets.contains_key("VV") && s.assets.contains_key("VH"))
                .map(|s| RadarScene {
                    id: s.id.clone(),
                    datetime: s.datetime,
                    orbit: s.orbit_state.clone(),
                    relative_orbit: s.relative_orbit,
                    scene: Some(s),
                })
                .collect())
        })
    }

    fn read<'a>(
        &'a self,
        scene: &'a RadarScene,
        grid: Grid,
    ) -> BoxFuture<'a, Result<RadarObservation>> {
        Box::pin(async move {
            let stac = scene
                .scene
                .as_ref()
                .ok_or_else(|| Error::Catalog(format!("scene {} has no assets", scene.id)))?;
            let band = |name: &'static str| async move {
                let asset = stac.assets.get(name).ok_or_else(|| {
                    Error::Catalog(format!("scene {} has no {name} asset", scene.id))
                })?;
                let cog = self.sources.open(&asset.href).await?;
                // RTC grids are 10 m UTM like the field grid: nearest keeps each pixel's
                // backscatter unmixed before the speckle filter.
                let raster = cog
                    .read_into_grid(grid, Resampling::Nearest, Some(vec![0]))
                    .await?;
                Ok::<_, Error>(match raster.data {
                    Buffer::F64(v) => v,
                    other => (0..other.len()).map(|i| other.get_f64(i)).collect(),
                })
            };
            let (vv, vh) = try_join(band("VV"), band("VH")).await?;
            Ok(RadarObservation { vv, vh })
        })
    }
}
