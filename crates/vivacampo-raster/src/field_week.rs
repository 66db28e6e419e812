//! Field-week products: the grid a field is processed on, the best-pixel composite of a week's
//! scenes, cloud and validity figures over the field, and the statistics of every index.
//!
//! Everything here works on bands already resampled onto the field grid (see [`crate::warp`]);
//! fetching and writing are the caller's business.

use crate::crs::Crs;
use crate::geo::{GeoTransform, Grid};
use crate::index::{self, Band};
use crate::mask::{self, Polygon, SclPolicy};
use crate::stats::{self, Stats};
use crate::tiff::Tiff;
use crate::{Error, Result};

/// Pixel size of field grids, metres: Sentinel-2's finest bands.
pub const RESOLUTION_M: f64 = 10.0;

/// Largest field grid, pixels (a 10 000 ha field is about 1 M pixels at 10 m).
pub const MAX_PIXELS: usize = 4_000_000;

/// Dataset metadata item of a field-week COG that holds the field's outline (GeoJSON, lon/lat),
/// so the tiler clips to the polygon without asking the database, and GIS users see the field.
pub const FIELD_ITEM: &str = "VIVACAMPO_FIELD";

/// The field outline a field-week COG carries ([`FIELD_ITEM`]), in `crs`; `None` for a file
/// without one.
pub fn field_outline(tiff: &Tiff, crs: &Crs) -> Result<Option<Vec<Polygon>>> {
    let Some(geojson) = tiff.metadata_item(FIELD_ITEM) else {
        return Ok(None);
    };
    let lonlat = Crs::LonLat { epsg: 4326 };
    let polygons = mask::polygons_from_geojson(geojson)?;
    Ok(Some(
        polygons.iter().map(|p| p.reproject(&lonlat, crs)).collect(),
    ))
}

/// SCL classes that hide the ground: cloud shadow, medium and high probability cloud, cirrus.
const CLOUDY_CLASSES: [u8; 4] = [3, 8, 9, 10];

/// The WGS84 UTM zone (EPSG code) containing a lon/lat point. Sentinel-2 grids are WGS84 UTM.
pub fn utm_epsg(lon: f64, lat: f64) -> u32 {
    let zone = (((lon + 180.0) / 6.0).floor() as i64).clamp(0, 59) as u32 + 1;
    if lat < 0.0 {
        32700 + zone
    } else {
        32600 + zone
    }
}

/// A field's processing grid: 10 m pixels in the UTM zone of the field, aligned to multiples of
/// 10 m (as Sentinel-2 tiles are), covering the field's bounding box plus one pixel.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldGrid {
    pub grid: Grid,
    /// Pixels whose centre is inside the field (holes excluded).
    pub zone: Vec<bool>,
    /// The field in the grid's CRS.
    pub polygons: Vec<Polygon>,
}

impl FieldGrid {
    /// The grid of a field given as lon/lat polygons.
    pub fn new(polygons_lonlat: &[Polygon]) -> Result<FieldGrid> {
        let vertices = || polygons_lonlat.iter().flat_map(|p| p.exterior.iter());
        let (mut min_lon, mut min_lat, mut max_lon, mut max_lat) =
            (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(lon, lat) in vertices() {
            min_lon = min_lon.min(lon);
            max_lon = max_lon.max(lon);
            min_lat = min_lat.min(lat);
            max_lat = max_lat.max(lat);
        }
        if min_lon > max_lon {
            return Err(Error::Invalid("a field needs at least one polygon".into()));
        }
        let epsg = utm_epsg((min_lon + max_lon) / 2.0, (min_lat + max_lat) / 2.0);
        let utm = Crs::from_epsg(epsg)?;
        let lonlat = Crs::LonLat { epsg: 4326 };
        let polygons: Vec<Polygon> = polygons_lonlat
            .iter()
            .map(|p| p.reproject(&lonlat, &utm))
            .collect();
        let (mut min_x, mut min_y, mut max_x, mut max_y) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
        for &(x, y) in polygons.iter().flat_map(|p| p.exterior.iter()) {
            min_x = min_x.min(x);
            max_x = max_x.max(x);
            min_y = min_y.min(y);
            max_y = max_y.max(y);
        }
        let snap_down = |v: f64| (v / RESOLUTION_M).floor() * RESOLUTION_M - RESOLUTION_M;
        let snap_up = |v: f64| (v / RESOLUTION_M).ceil() * RESOLUTION_M + RESOLUTION_M;
        let (x0, y0, x1, y1) = (
            snap_down(min_x),
            snap_down(min_y),
            snap_up(max_x),
            snap_up(max_y),
        );
        let width = ((x1 - x0) / RESOLUTION_M).round() as usize;
        let height = ((y1 - y0) / RESOLUTION_M).round() as usize;
        if width.saturating_mul(height) > MAX_PIXELS {
            return Err(Error::Limit(format!(
                "field grid of {width} x {height} pixels is too large"
            )));
        }
        let transform = GeoTransform::north_up(x0, y1, RESOLUTION_M, RESOLUTION_M);
        let zone = mask::rasterize(&polygons, &transform, width, height, false)?;
        Ok(FieldGrid {
            grid: Grid {
                width,
                height,
                transform,
                epsg,
            },
            zone,
            polygons,
        })
    }

    /// Pixels inside the field.
    pub fn field_pixels(&self) -> usize {
        self.zone.iter().filter(|&&z| z).count()
    }
}

/// One scene resampled onto a field grid: surface reflectance per band (NaN where the scene has
/// no data) and the scene classification (SCL) classes.
#[derive(Debug, Clone, PartialEq)]
pub struct Observation {
    pub reflectance: Vec<(Band, Vec<f64>)>,
    /// SCL class per pixel (0, no data, where the scene does not reach).
    pub scl: Vec<u8>,
}

impl Observation {
    /// Share of the field's covered pixels hidden by cloud, cloud shadow or cirrus, or `None`
    /// when the scene does not cover the field at all.
    pub fn cloud_fraction(&self, zone: &[bool]) -> Option<f64> {
        let (mut covered, mut cloudy) = (0usize, 0usize);
        for (&class, _) in self.scl.iter().zip(zone).filter(|(_, z)| **z) {
            if class != 0 {
                covered += 1;
                cloudy += usize::from(CLOUDY_CLASSES.contains(&class));
            }
        }
        (covered > 0).then(|| cloudy as f64 / covered as f64)
    }
}

/// The week's best-pixel composite: per pixel, the newest clear observation.
#[derive(Debug, Clone, PartialEq)]
pub struct Composite {
    pub bands: Vec<(Band, Vec<f64>)>,
    /// Which observation (index into the input) each pixel came from, if any was clear.
    pub source: Vec<Option<usize>>,
}

impl Composite {
    /// Builds the composite of `observations`, given newest first, with `policy` deciding which
    /// SCL classes are clear. Every observation must cover `len` pixels and carry the same bands.
    pub fn newest_clear(
        observations: &[Observation],
        policy: SclPolicy,
        len: usize,
    ) -> Result<Composite> {
        let bands: Vec<Band> = observations
            .first()
            .map(|o| o.reflectance.iter().map(|(b, _)| *b).collect())
            .unwrap_or_default();
        for o in observations {
            let same_bands = o
                .reflectance
                .iter()
                .map(|(b, _)| *b)
                .eq(bands.iter().copied());
            if !same_bands
                || o.scl.len() != len
                || o.reflectance.iter().any(|(_, v)| v.len() != len)
            {
                return Err(Error::Invalid(
                    "observations must share bands and grid size".into(),
                ));
            }
        }
        let mut source = vec![None; len];
        for (i, slot) in source.iter_mut().enumerate() {
            *slot = observations.iter().position(|o| {
                policy.is_clear(o.scl[i]) && o.reflectance.iter().all(|(_, v)| v[i].is_finite())
            });
        }
        let composite = bands
            .iter()
            .enumerate()
            .map(|(b, band)| {
                let values = source
                    .iter()
                    .enumerate()
                    .map(|(i, s)| s.map_or(f64::NAN, |o| observations[o].reflectance[b].1[i]))
                    .collect();
                (*band, values)
            })
            .collect();
        Ok(Composite {
            bands: composite,
            source,
        })
    }

    /// Share of the field's pixels that have a clear value.
    pub fn valid_ratio(&self, zone: &[bool]) -> f64 {
        let inside = zone.iter().filter(|&&z| z).count();
        let valid = self
            .source
            .iter()
            .zip(zone)
            .filter(|(s, z)| **z && s.is_some())
            .count();
        if inside == 0 {
            0.0
        } else {
            valid as f64 / inside as f64
        }
    }

    /// The reflectance of one band, if the composite has it.
    pub fn band(&self, band: Band) -> Option<&[f64]> {
        self.bands
            .iter()
            .find(|(b, _)| *b == band)
            .map(|(_, v)| v.as_slice())
    }

    /// Statistics over the field of every scalar index whose bands the composite has, in
    /// catalogue order.
    pub fn index_stats(&self, zone: &[bool]) -> Result<Vec<(&'static str, Stats)>> {
        let mut out = Vec::new();
        for info in index::catalogue() {
            if info.name == "true_color" {
                continue;
            }
            let needed = index::bands(info.name)?;
            let inputs: Option<Vec<(Band, &[f64])>> = needed
                .iter()
                .map(|b| self.band(*b).map(|v| (*b, v)))
                .collect();
            if let Some(inputs) = inputs {
                let values = index::compute(info.name, &inputs)?;
                out.push((info.name, stats::zonal(&values, Some(zone))));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lon: f64, lat: f64, side: f64) -> Polygon {
        Polygon {
            exterior: vec![
                (lon, lat),
                (lon + side, lat),
                (lon + side, lat + side),
                (lon, lat + side),
            ],
            holes: vec![],
        }
    }

    #[test]
    fn utm_zones() {
        assert_eq!(utm_epsg(-50.9, -17.7), 32722);
        assert_eq!(utm_epsg(-72.2, 18.5), 32618);
        assert_eq!(utm_epsg(179.99, 1.0), 32660);
        assert_eq!(utm_epsg(-180.0, -1.0), 32701);
    }

    #[test]
    fn field_grid_is_aligned_and_covers_the_field() {
        let field = FieldGrid::new(&[square(-50.91, -17.75, 0.01)]).unwrap();
        assert_eq!(field.grid.epsg, 32722);
        let t = field.grid.transform.0;
        assert_eq!((t[1], t[5]), (10.0, -10.0));
        assert_eq!(t[0] % 10.0, 0.0);
        assert_eq!(t[3] % 10.0, 0.0);
        // ~1.06 km x 1.11 km: ~117 ha, ~11 700 pixels of 100 m².
        let ha = field.field_pixels() as f64 * 100.0 / 10_000.0;
        assert!((ha - 117.5).abs() < 3.0, "{ha} ha");
        // One pixel of margin: the border rows and columns are outside.
        assert!(!field.zone[..field.grid.width].iter().any(|&z| z));
        assert!(FieldGrid::new(&[]).is_err());
        assert!(
            FieldGrid::new(&[square(-50.0, -17.0, 1.0)]).is_err(),
            "too large"
        );
    }

    fn obs(red: f64, nir: f64, scl: u8, len: usize) -> Observation {
        Observation {
            reflectance: vec![(Band::Red, vec![red; len]), (Band::Nir, vec![nir; len])],
            scl: vec![scl; len],
        }
    }

    #[test]
    fn composite_takes_the_newest_clear_pixel() {
        let mut newest = obs(0.05, 0.45, 4, 4);
        newest.scl[1] = 9; // cloud
        newest.reflectance[0].1[2] = f64::NAN; // no data
        let older = obs(0.10, 0.30, 4, 4);
        let mut oldest = obs(0.2, 0.2, 8, 4);
        oldest.scl[3] = 5;
        let c = Composite::newest_clear(&[newest, older, oldest], SclPolicy::Default, 4).unwrap();
        assert_eq!(c.source, vec![Some(0), Some(1), Some(1), Some(0)]);
        assert_eq!(c.band(Band::Red).unwrap(), &[0.05, 0.10, 0.10, 0.05]);
        let zone = [true, true, true, false];
        assert_eq!(c.valid_ratio(&zone), 1.0);

        let all_cloud =
            Composite::newest_clear(&[obs(0.1, 0.3, 9, 4)], SclPolicy::Default, 4).unwrap();
        assert_eq!(all_cloud.valid_ratio(&zone), 0.0);
        assert!(
            all_cloud
                .band(Band::Red)
                .unwrap()
                .iter()
                .all(|v| v.is_nan())
        );
        assert!(Composite::newest_clear(&[obs(0.1, 0.3, 4, 3)], SclPolicy::Default, 4).is_err());
    }

    #[test]
    fn cloud_fraction_counts_only_covered_field_pixels() {
        let mut o = obs(0.1, 0.3, 4, 5);
        o.scl = vec![8, 3, 4, 0, 9];
        let zone = [true, true, true, true, false];
        assert_eq!(o.cloud_fraction(&zone), Some(2.0 / 3.0));
        o.scl = vec![0; 5];
        assert_eq!(o.cloud_fraction(&zone), None);
    }

    #[test]
    fn index_stats_cover_the_indices_the_bands_allow() {
        let c = Composite::newest_clear(&[obs(0.05, 0.45, 4, 4)], SclPolicy::Default, 4).unwrap();
        let stats = c.index_stats(&[true, true, false, false]).unwrap();
        let names: Vec<_> = stats.iter().map(|(n, _)| *n).collect();
        assert!(names.contains(&"ndvi"));
        assert!(!names.contains(&"ndre"), "needs the red edge band");
        let ndvi = &stats.iter().find(|(n, _)| *n == "ndvi").unwrap().1;
        assert_eq!((ndvi.count, ndvi.valid_count), (2, 2));
        assert!((ndvi.mean.unwrap() - 0.8).abs() < 1e-12);
    }
}
