//! A scene's bands read onto a field grid, as surface reflectance: the input of the raster
//! engine's week composite (`vivacampo_raster::field_week`).
//!
//! Reflectance bands are resampled bilinearly (20 m bands onto the 10 m grid), SCL by nearest
//! neighbour (class codes are never interpolated); every band of a scene is fetched
//! concurrently, through the shared caches of [`Sources`]. Scenes whose DNs turn out to be
//! shifted already, whatever their metadata says, are read without the offset.

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
    let scaling: Vec<(f64, f64)> = wanted.iter().map(|(a, _)| (a.scale, a.offset)).collect();
    let (bands, id, span) = (bands.to_vec(), scene.id.clone(), tracing::Span::current());
    // A field of a few thousand hectares is millions of values per scene: off the async threads.
    tokio::task::spawn_blocking(move || {
        let _span = span.enter();
        let mut planes: Vec<Vec<f64>> = rasters
            .into_iter()
            .map(|r| match r.data {
                Buffer::F64(v) => v,
                other => (0..other.len()).map(|i| other.get_f64(i)).collect(),
            })
            .collect();
        let scl: Vec<u8> = planes
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
        let offset_applied = offset_already_applied(&bands, &planes, &scaling, &scl);
        if offset_applied {
            tracing::warn!(
                scene = %id,
                "most clear red pixels would be negative with the -0.1 offset: the DNs are \
                 already shifted, reading them without the offset"
            );
        }
        let reflectance = bands
            .iter()
            .zip(planes)
            .zip(&scaling)
            .map(|((&b, dn), &(scale, offset))| {
                let offset = if offset_applied { 0.0 } else { offset };
                // The warp already turned nodata into NaN; NaN stays NaN.
                let refl = dn.into_iter().map(|v| v * scale + offset).collect();
                (b, refl)
            })
            .collect();
        Observation { reflectance, scl }
    })
    .await
    .map_err(|e| Error::Task(e.to_string()))
}

/// The check `external-apis.md` §1.6 asks for: some Earth Search items say the BOA offset was
/// not removed although it was. Real red reflectance of clear land is rarely below 0; if more
/// than a fifth of the clear pixels would be, the DNs were already shifted.
pub(crate) fn offset_already_applied(
    bands: &[Band],
    planes: &[Vec<f64>],
    scaling: &[(f64, f64)],
    scl: &[u8],
) -> bool {
    let Some(i) = bands.iter().position(|&b| b == Band::Red) else {
        return false;
    };
    let (scale, offset) = scaling[i];
    if offset >= 0.0 {
        return false;
    }
    let (mut clear, mut negative) = (0usize, 0usize);
    for (&dn, &class) in planes[i].iter().zip(scl) {
        if dn.is_finite() && matches!(class, 4..=6) {
            clear += 1;
            negative += usize::from(dn * scale + offset < 0.0);
        }
    }
    clear >= 16 && negative * 5 > clear
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use time::macros::datetime;
    use vivacampo_raster::cog::{CogOptions, write};
    use vivacampo_raster::geo::{GeoTransform, Georef};
    use vivacampo_raster::raster::Raster;

    use super::*;

    /// A scene whose red band holds `red_dn` everywhere, SCL vegetation, items saying baseline
    /// 05.10 with offset -0.1.
    fn scene(dir: &std::path::Path, red_dn: u16) -> (Scene, Grid) {
        let georef = Georef {
            epsg: Some(32722),
            transform: GeoTransform::north_up(500000.0, 8040000.0, 10.0, 10.0),
        };
        let cog = |name: &str, data: Buffer| {
            let r = Raster {
                width: 64,
                height: 64,
                bands: 1,
                data,
            };
            let path = dir.join(format!("{name}.tif"));
            std::fs::write(&path, write(&r, &CogOptions::new(georef)).unwrap()).unwrap();
            Asset {
                href: path.display().to_string(),
                scale: if name == "SCL" { 1.0 } else { 1e-4 },
                offset: if name == "SCL" { 0.0 } else { -0.1 },
                nodata: Some(0.0),
                transform: None,
                shape: None,
            }
        };
        let mut assets = BTreeMap::new();
        assets.insert("B04".into(), cog("B04", Buffer::U16(vec![red_dn; 4096])));
        assets.insert("SCL".into(), cog("SCL", Buffer::U8(vec![4; 4096])));
        let scene = Scene {
            id: "test".into(),
            collection: None,
            datetime: datetime!(2026-01-01 13:00 UTC),
            cloud_cover: 0.0,
            bbox: None,
            epsg: Some(32722),
            transform: None,
            shape: None,
            processing_baseline: Some("05.10".into()),
            boa_offset_applied: Some(false),
            orbit_state: None,
            relative_orbit: None,
            assets,
        };
        let grid = Grid {
            width: 16,
            height: 16,
            transform: GeoTransform::north_up(500100.0, 8039900.0, 10.0, 10.0),
            epsg: 32722,
        };
        (scene, grid)
    }

    #[tokio::test]
    async fn offset_applied_unless_the_pixels_say_otherwise() {
        let dir = std::env::temp_dir().join(format!("vc-imagery-obs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sources = Sources::new(Default::default());
        // 0.03 reflectance stored with the +1000 DN shift: offset applied.
        let (s, grid) = scene(&dir, 1300);
        let o = read_observation(&sources, &s, grid, &[Band::Red])
            .await
            .unwrap();
        assert!((o.reflectance[0].1[0] - 0.03).abs() < 1e-9);
        assert_eq!(o.scl[0], 4);
        // The same reflectance already shifted (DN 300), flag and metadata notwithstanding.
        let dir2 = dir.join("shifted");
        std::fs::create_dir_all(&dir2).unwrap();
        let (s, grid) = scene(&dir2, 300);
        let o = read_observation(&sources, &s, grid, &[Band::Red])
            .await
            .unwrap();
        assert!((o.reflectance[0].1[0] - 0.03).abs() < 1e-9);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
