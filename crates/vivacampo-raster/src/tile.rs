//! XYZ (WebMercatorQuad) tile maths.

use crate::error::{Error, Result};
use crate::geo::{GeoTransform, Grid};

/// Half the Web Mercator world width, π·R.
pub const HALF_WORLD: f64 = 20037508.342789244;
pub const MAX_ZOOM: u8 = 30;

/// Checks that z/x/y names a tile.
pub fn validate(z: u8, x: u32, y: u32) -> Result<()> {
    let n = 1u64 << z.min(MAX_ZOOM);
    if z > MAX_ZOOM || u64::from(x) >= n || u64::from(y) >= n {
        return Err(Error::Invalid(format!("no tile {z}/{x}/{y}")));
    }
    Ok(())
}

/// EPSG:3857 bounds `[minx, miny, maxx, maxy]`.
pub fn bounds_3857(z: u8, x: u32, y: u32) -> [f64; 4] {
    let size = 2.0 * HALF_WORLD / (1u64 << z) as f64;
    let minx = -HALF_WORLD + f64::from(x) * size;
    let maxy = HALF_WORLD - f64::from(y) * size;
    [minx, maxy - size, minx + size, maxy]
}

/// Lon/lat bounds `[west, south, east, north]`.
pub fn bounds_lonlat(z: u8, x: u32, y: u32) -> [f64; 4] {
    let n = (1u64 << z) as f64;
    let lon = |x: f64| x / n * 360.0 - 180.0;
    let lat = |y: f64| {
        (std::f64::consts::PI * (1.0 - 2.0 * y / n))
            .sinh()
            .atan()
            .to_degrees()
    };
    let (x, y) = (f64::from(x), f64::from(y));
    [lon(x), lat(y + 1.0), lon(x + 1.0), lat(y)]
}

/// The tile containing a lon/lat point at zoom `z`.
pub fn tile_for_lonlat(lon: f64, lat: f64, z: u8) -> (u32, u32) {
    let n = (1u64 << z) as f64;
    let phi = lat.clamp(-85.0511287798066, 85.0511287798066).to_radians();
    let x = ((lon + 180.0) / 360.0 * n).floor().clamp(0.0, n - 1.0);
    let y = ((1.0 - (phi.tan() + 1.0 / phi.cos()).ln() / std::f64::consts::PI) / 2.0 * n)
        .floor()
        .clamp(0.0, n - 1.0);
    (x as u32, y as u32)
}

/// The pixel grid of a tile, `size` x `size` pixels in EPSG:3857.
pub fn grid(z: u8, x: u32, y: u32, size: usize) -> Grid {
    let [minx, _, maxx, maxy] = bounds_3857(z, x, y);
    let res = (maxx - minx) / size as f64;
    Grid {
        width: size,
        height: size,
        transform: GeoTransform::north_up(minx, maxy, res, res),
        epsg: 3857,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_tile() {
        // external-apis.md §6.1: z14, lon 5.15, lat 52.04 → 8426/5408, NW corner (572360.47, 6809621.98).
        assert_eq!(tile_for_lonlat(5.15, 52.04, 14), (8426, 5408));
        let b = bounds_3857(14, 8426, 5408);
        assert!((b[0] - 572360.47).abs() < 0.01 && (b[3] - 6809621.98).abs() < 0.01);
        assert!((b[2] - b[0] - 2445.98).abs() < 0.01);
        let ll = bounds_lonlat(0, 0, 0);
        assert!((ll[3] - 85.0511287798066).abs() < 1e-9 && ll[0] == -180.0);
        assert!(validate(3, 8, 0).is_err() && validate(3, 7, 7).is_ok());
    }
}
