//! Pixel masks: polygons rasterised onto a grid, and Sentinel-2 scene-classification (SCL)
//! validity.

use serde::Deserialize;

use crate::crs::{Crs, transform};
use crate::error::{Error, Result};
use crate::geo::GeoTransform;

/// A polygon ring as (x, y) vertices; closing the ring is optional.
pub type Ring = Vec<(f64, f64)>;

/// A polygon with holes, in one CRS.
#[derive(Debug, Clone, PartialEq)]
pub struct Polygon {
    pub exterior: Ring,
    pub holes: Vec<Ring>,
}

impl Polygon {
    /// The same polygon in another CRS (vertices reprojected; edges stay straight).
    pub fn reproject(&self, from: &Crs, to: &Crs) -> Polygon {
        let ring = |r: &Ring| r.iter().map(|&(x, y)| transform(from, to, x, y)).collect();
        Polygon {
            exterior: ring(&self.exterior),
            holes: self.holes.iter().map(ring).collect(),
        }
    }

    fn rings(&self) -> impl Iterator<Item = &Ring> {
        std::iter::once(&self.exterior).chain(&self.holes)
    }
}

/// GeoJSON geometry of the kinds a field may have.
#[derive(Debug, Deserialize)]
#[serde(tag = "type")]
enum GeoJson {
    Polygon {
        coordinates: Vec<Vec<[f64; 2]>>,
    },
    MultiPolygon {
        coordinates: Vec<Vec<Vec<[f64; 2]>>>,
    },
    Feature {
        geometry: Box<GeoJson>,
    },
    FeatureCollection {
        features: Vec<GeoJson>,
    },
}

/// Parses a GeoJSON Polygon, MultiPolygon, Feature or FeatureCollection into polygons.
pub fn polygons_from_geojson(text: &str) -> Result<Vec<Polygon>> {
    let g: GeoJson =
        serde_json::from_str(text).map_err(|e| Error::Invalid(format!("GeoJSON: {e}")))?;
    let mut out = Vec::new();
    collect(g, &mut out);
    if out.is_empty() || out.iter().any(|p| p.exterior.len() < 3) {
        return Err(Error::Invalid(
            "GeoJSON has no polygon with at least 3 vertices".into(),
        ));
    }
    Ok(out)
}

fn collect(g: GeoJson, out: &mut Vec<Polygon>) {
    let poly = |rings: Vec<Vec<[f64; 2]>>| {
        let mut rings = rings
            .into_iter()
            .map(|r| r.into_iter().map(|[x, y]| (x, y)).collect::<Ring>());
        let exterior = rings.next().unwrap_or_default();
        Polygon {
            exterior,
            holes: rings.collect(),
        }
    };
    match g {
        GeoJson::Polygon { coordinates } => out.push(poly(coordinates)),
        GeoJson::MultiPolygon { coordinates } => out.extend(coordinates.into_iter().map(poly)),
        GeoJson::Feature { geometry } => collect(*geometry, out),
        GeoJson::FeatureCollection { features } => {
            features.into_iter().for_each(|f| collect(f, out))
        }
    }
}

/// Rasterises polygons (in the grid's CRS) onto a `width` x `height` grid. A pixel is inside
/// when its centre is inside (even-odd within each polygon, so holes are honoured); with
/// `all_touched`, also every pixel an edge passes through.
pub fn rasterize(
    polygons: &[Polygon],
    gt: &GeoTransform,
    width: usize,
    height: usize,
    all_touched: bool,
) -> Result<Vec<bool>> {
    let inv = gt
        .invert()
        .ok_or_else(|| Error::Invalid("singular geotransform".into()))?;
    let mut mask = vec![false; width * height];
    for p in polygons {
        // Work in pixel space, so rotated grids need nothing special.
        let rings: Vec<Vec<(f64, f64)>> = p
            .rings()
            .map(|r| r.iter().map(|&(x, y)| inv.apply(x, y)).collect())
            .collect();
        let edges: Vec<((f64, f64), (f64, f64))> = rings
            .iter()
            .filter(|r| r.len() >= 2)
            .flat_map(|r| {
                r.iter()
                    .zip(r.iter().cycle().skip(1))
                    .map(|(&a, &b)| (a, b))
            })
            .filter(|(a, b)| a != b)
            .collect();
        let ymin = edges
            .iter()
            .map(|e| e.0.1.min(e.1.1))
            .fold(f64::INFINITY, f64::min);
        let ymax = edges
            .iter()
            .map(|e| e.0.1.max(e.1.1))
            .fold(f64::NEG_INFINITY, f64::max);
        let r0 = (ymin - 0.5).ceil().max(0.0) as usize;
        let r1 = ((ymax - 0.5).floor() + 1.0).clamp(0.0, height as f64) as usize;
        let mut xs = Vec::new();
        for row in r0..r1 {
            let yc = row as f64 + 0.5;
            xs.clear();
            for &((x0, y0), (x1, y1)) in &edges {
                // An edge spans [min y, max y), and a span fills centres in (x_a, x_b], the
                // tie rules of GDAL's rasteriser.
                if (y0 > yc) != (y1 > yc) {
                    xs.push(x0 + (yc - y0) / (y1 - y0) * (x1 - x0));
                }
            }
            xs.sort_by(f64::total_cmp);
            for pair in xs.chunks_exact(2) {
                let c0 = (pair[0] + 0.5).floor().max(0.0);
                let c1 = (pair[1] + 0.5).floor().min(width as f64);
                for c in c0 as usize..c1.max(c0) as usize {
                    mask[row * width + c] = true;
                }
            }
        }
        if all_touched {
            for &(a, b) in &edges {
                touch_segment(&mut mask, width, height, a, b);
            }
        }
    }
    Ok(mask)
}

/// Marks every pixel the segment a–b passes through.
fn touch_segment(mask: &mut [bool], width: usize, height: usize, a: (f64, f64), b: (f64, f64)) {
    let cmin = a.0.min(b.0).floor().max(0.0) as usize;
    let cmax = (a.0.max(b.0).floor() as i64).min(width as i64 - 1);
    let rmin = a.1.min(b.1).floor().max(0.0) as usize;
    let rmax = (a.1.max(b.1).floor() as i64).min(height as i64 - 1);
    if cmax < 0 || rmax < 0 {
        return;
    }
    for r in rmin..=rmax as usize {
        for c in cmin..=cmax as usize {
            if segment_hits_box(a, b, c as f64, r as f64) {
                mask[r * width + c] = true;
            }
        }
    }
}

/// Liang–Barsky: does the segment enter the open unit box at (x0, y0)? Running along a
/// pixel's border or through its corner does not count (GDAL's all-touched agrees).
fn segment_hits_box(a: (f64, f64), b: (f64, f64), x0: f64, y0: f64) -> bool {
    let (dx, dy) = (b.0 - a.0, b.1 - a.1);
    let (mut t0, mut t1) = (0.0f64, 1.0f64);
    for (p, q) in [
        (-dx, a.0 - x0),
        (dx, x0 + 1.0 - a.0),
        (-dy, a.1 - y0),
        (dy, y0 + 1.0 - a.1),
    ] {
        if p == 0.0 {
            if q <= 0.0 {
                return false;
            }
        } else {
            let t = q / p;
            if p < 0.0 {
                t0 = t0.max(t);
            } else {
                t1 = t1.min(t);
            }
        }
    }
    t0 < t1
}

/// Which Sentinel-2 SCL classes count as clear ground.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SclPolicy {
    /// Keeps vegetation (4), bare soil (5), water (6), unclassified (7) and topographic
    /// shadow (2); masks no data (0), saturated (1), cloud shadow (3), clouds (8, 9), cirrus
    /// (10) and snow (11).
    #[default]
    Default,
    /// Keeps only vegetation, bare soil and water (4, 5, 6).
    Strict,
}

impl SclPolicy {
    pub fn is_clear(self, class: u8) -> bool {
        match self {
            SclPolicy::Default => matches!(class, 2 | 4..=7),
            SclPolicy::Strict => matches!(class, 4..=6),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(x0: f64, y0: f64, x1: f64, y1: f64) -> Ring {
        vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]
    }

    #[test]
    fn centre_rule_and_holes() {
        // 10 x 10 grid of unit pixels, y up.
        let gt = GeoTransform::north_up(0.0, 10.0, 1.0, 1.0);
        let p = Polygon {
            exterior: square(1.0, 1.0, 9.0, 9.0),
            holes: vec![square(4.0, 4.0, 6.0, 6.0)],
        };
        let m = rasterize(std::slice::from_ref(&p), &gt, 10, 10, false).unwrap();
        assert_eq!(m.iter().filter(|&&v| v).count(), 64 - 4);
        assert!(!m[5 * 10 + 5] && m[2 * 10 + 2] && !m[0]);
        // A sliver that covers no pixel centre is empty, unless all-touched.
        let sliver = Polygon {
            exterior: square(2.1, 2.1, 2.4, 7.9),
            holes: vec![],
        };
        assert_eq!(
            rasterize(std::slice::from_ref(&sliver), &gt, 10, 10, false)
                .unwrap()
                .iter()
                .filter(|&&v| v)
                .count(),
            0
        );
        assert_eq!(
            rasterize(&[sliver], &gt, 10, 10, true)
                .unwrap()
                .iter()
                .filter(|&&v| v)
                .count(),
            6
        );
        let touched = rasterize(&[p], &gt, 10, 10, true).unwrap();
        assert_eq!(
            touched.iter().filter(|&&v| v).count(),
            60,
            "edges on pixel borders touch nothing more (as GDAL)"
        );
    }

    #[test]
    fn geojson_kinds() {
        let mp = r#"{"type":"MultiPolygon","coordinates":[[[[0,0],[1,0],[1,1],[0,0]]],[[[2,2],[3,2],[3,3],[2,2]],[[2.1,2.1],[2.2,2.1],[2.2,2.2],[2.1,2.1]]]]}"#;
        let p = polygons_from_geojson(mp).unwrap();
        assert_eq!((p.len(), p[1].holes.len()), (2, 1));
        let f = r#"{"type":"Feature","properties":{},"geometry":{"type":"Polygon","coordinates":[[[0,0],[1,0],[1,1],[0,0]]]}}"#;
        assert_eq!(polygons_from_geojson(f).unwrap().len(), 1);
        assert!(polygons_from_geojson(r#"{"type":"Point","coordinates":[0,0]}"#).is_err());
    }

    #[test]
    fn scl_policies() {
        let keep = |p: SclPolicy| (0..=11).filter(|&c| p.is_clear(c)).collect::<Vec<u8>>();
        assert_eq!(keep(SclPolicy::Default), vec![2, 4, 5, 6, 7]);
        assert_eq!(keep(SclPolicy::Strict), vec![4, 5, 6]);
    }
}
