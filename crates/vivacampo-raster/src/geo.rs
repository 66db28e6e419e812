//! Georeferencing: affine geotransforms (GDAL order) and grids.

use serde::Serialize;

/// `x = g0 + col*g1 + row*g2`, `y = g3 + col*g4 + row*g5` (GDAL's order).
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct GeoTransform(pub [f64; 6]);

impl GeoTransform {
    /// North-up transform from the upper-left corner and pixel size.
    pub fn north_up(ulx: f64, uly: f64, res_x: f64, res_y: f64) -> Self {
        GeoTransform([ulx, res_x, 0.0, uly, 0.0, -res_y])
    }

    /// Map coordinates of a (fractional) pixel position.
    pub fn apply(&self, col: f64, row: f64) -> (f64, f64) {
        let g = &self.0;
        (
            g[0] + col * g[1] + row * g[2],
            g[3] + col * g[4] + row * g[5],
        )
    }

    /// The transform from map coordinates back to pixel positions.
    pub fn invert(&self) -> Option<GeoTransform> {
        let g = &self.0;
        let det = g[1] * g[5] - g[2] * g[4];
        if det == 0.0 || !det.is_finite() {
            return None;
        }
        let (a, b, d, e) = (g[5] / det, -g[2] / det, -g[4] / det, g[1] / det);
        Some(GeoTransform([
            -(a * g[0] + b * g[3]),
            a,
            b,
            -(d * g[0] + e * g[3]),
            d,
            e,
        ]))
    }

    /// Same extent with pixels `sx` x `sy` times larger (an overview).
    pub fn scaled(&self, sx: f64, sy: f64) -> Self {
        let g = &self.0;
        GeoTransform([g[0], g[1] * sx, g[2] * sy, g[3], g[4] * sx, g[5] * sy])
    }

    /// Pixel size along x and y (positive), for choosing overviews.
    pub fn resolution(&self) -> (f64, f64) {
        let g = &self.0;
        (g[1].hypot(g[4]), g[2].hypot(g[5]))
    }
}

/// Where a raster is: its CRS (an EPSG code when it has one) and geotransform.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Georef {
    pub epsg: Option<u32>,
    pub transform: GeoTransform,
}

/// A target grid: size, transform and CRS (a Web Mercator tile, a field's UTM grid).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Grid {
    pub width: usize,
    pub height: usize,
    pub transform: GeoTransform,
    pub epsg: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invert_round_trips() {
        let g = GeoTransform([300000.0, 7.0, 2.0, 8000000.0, 1.5, -7.0]);
        let inv = g.invert().unwrap();
        let (x, y) = g.apply(12.5, 30.25);
        let (c, r) = inv.apply(x, y);
        assert!((c - 12.5).abs() < 1e-9 && (r - 30.25).abs() < 1e-9);
    }
}
