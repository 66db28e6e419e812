//! The CRSs the product meets: WGS84 / SIRGAS 2000 lon/lat, Web Mercator, and UTM on WGS84
//! (EPSG:326xx north, 327xx south) and on SIRGAS 2000 (EPSG:31965–31976 zones 11N–22N,
//! 31977–31985 zones 17S–25S).
//!
//! UTM uses Krüger's series to 6th order in n (Karney 2011, the same as PROJ's `etmerc`/`utm`),
//! accurate to nanometres within the zone and to well under a millimetre 9° from the central
//! meridian. Each CRS keeps its own ellipsoid (SIRGAS 2000 is GRS80); datum shifts between
//! WGS84 and SIRGAS 2000 are zero, as in PROJ.

use std::f64::consts::{FRAC_PI_2, FRAC_PI_4};

use crate::error::{Error, Result};

/// Semi-major axis and flattening.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Ellipsoid {
    pub a: f64,
    pub f: f64,
}

pub const WGS84: Ellipsoid = Ellipsoid {
    a: 6378137.0,
    f: 1.0 / 298.257223563,
};
pub const GRS80: Ellipsoid = Ellipsoid {
    a: 6378137.0,
    f: 1.0 / 298.257222101,
};

/// A supported coordinate reference system.
#[derive(Debug, Clone, PartialEq)]
pub enum Crs {
    /// Longitude/latitude in degrees (EPSG:4326, 4674).
    LonLat {
        epsg: u32,
    },
    /// EPSG:3857.
    WebMercator,
    Utm(TransverseMercator),
}

/// A UTM zone: transverse Mercator with its precomputed series.
#[derive(Debug, Clone, PartialEq)]
pub struct TransverseMercator {
    pub epsg: u32,
    pub zone: u8,
    pub south: bool,
    lon0: f64,
    e: f64,
    /// k0 times the rectifying radius.
    k0a: f64,
    alpha: [f64; 6],
    beta: [f64; 6],
}

const WEB_MERCATOR_R: f64 = 6378137.0;

impl Crs {
    pub fn from_epsg(epsg: u32) -> Result<Crs> {
        let utm = |zone: u32, south: bool, ell: Ellipsoid| {
            Crs::Utm(TransverseMercator::utm(epsg, zone as u8, south, ell))
        };
        Ok(match epsg {
            4326 | 4674 => Crs::LonLat { epsg },
            3857 | 900913 => Crs::WebMercator,
            32601..=32660 => utm(epsg - 32600, false, WGS84),
            32701..=32760 => utm(epsg - 32700, true, WGS84),
            31965..=31976 => utm(epsg - 31965 + 11, false, GRS80),
            31977..=31985 => utm(epsg - 31977 + 17, true, GRS80),
            _ => return Err(Error::UnsupportedCrs(epsg)),
        })
    }

    pub fn epsg(&self) -> u32 {
        match self {
            Crs::LonLat { epsg } => *epsg,
            Crs::WebMercator => 3857,
            Crs::Utm(tm) => tm.epsg,
        }
    }

    /// Projected (or degree) coordinates from lon/lat in degrees.
    pub fn from_lonlat(&self, lon: f64, lat: f64) -> (f64, f64) {
        match self {
            Crs::LonLat { .. } => (lon, lat),
            Crs::WebMercator => {
                let lat = lat.clamp(-89.999999, 89.999999);
                (
                    WEB_MERCATOR_R * lon.to_radians(),
                    WEB_MERCATOR_R * (FRAC_PI_4 + lat.to_radians() / 2.0).tan().ln(),
                )
            }
            Crs::Utm(tm) => tm.forward(lon, lat),
        }
    }

    /// Lon/lat in degrees from coordinates of this CRS.
    pub fn to_lonlat(&self, x: f64, y: f64) -> (f64, f64) {
        match self {
            Crs::LonLat { .. } => (x, y),
            Crs::WebMercator => (
                (x / WEB_MERCATOR_R).to_degrees(),
                (y / WEB_MERCATOR_R).sinh().atan().to_degrees(),
            ),
            Crs::Utm(tm) => tm.inverse(x, y),
        }
    }
}

/// Converts a point between two CRSs (through lon/lat; no datum shift is needed among these).
pub fn transform(from: &Crs, to: &Crs, x: f64, y: f64) -> (f64, f64) {
    if from == to {
        return (x, y);
    }
    let (lon, lat) = from.to_lonlat(x, y);
    to.from_lonlat(lon, lat)
}

impl TransverseMercator {
    fn utm(epsg: u32, zone: u8, south: bool, ell: Ellipsoid) -> Self {
        let n = ell.f / (2.0 - ell.f);
        let (n2, n3) = (n * n, n * n * n);
        let (n4, n5, n6) = (n3 * n, n3 * n2, n3 * n3);
        let rect = ell.a / (1.0 + n) * (1.0 + n2 / 4.0 + n4 / 64.0 + n6 / 256.0);
        let alpha = [
            n / 2.0 - 2.0 * n2 / 3.0 + 5.0 * n3 / 16.0 + 41.0 * n4 / 180.0 - 127.0 * n5 / 288.0
                + 7891.0 * n6 / 37800.0,
            13.0 * n2 / 48.0 - 3.0 * n3 / 5.0 + 557.0 * n4 / 1440.0 + 281.0 * n5 / 630.0
                - 1983433.0 * n6 / 1935360.0,
            61.0 * n3 / 240.0 - 103.0 * n4 / 140.0
                + 15061.0 * n5 / 26880.0
                + 167603.0 * n6 / 181440.0,
            49561.0 * n4 / 161280.0 - 179.0 * n5 / 168.0 + 6601661.0 * n6 / 7257600.0,
            34729.0 * n5 / 80640.0 - 3418889.0 * n6 / 1995840.0,
            212378941.0 * n6 / 319334400.0,
        ];
        let beta = [
            n / 2.0 - 2.0 * n2 / 3.0 + 37.0 * n3 / 96.0 - n4 / 360.0 - 81.0 * n5 / 512.0
                + 96199.0 * n6 / 604800.0,
            n2 / 48.0 + n3 / 15.0 - 437.0 * n4 / 1440.0 + 46.0 * n5 / 105.0
                - 1118711.0 * n6 / 3870720.0,
            17.0 * n3 / 480.0 - 37.0 * n4 / 840.0 - 209.0 * n5 / 4480.0 + 5569.0 * n6 / 90720.0,
            4397.0 * n4 / 161280.0 - 11.0 * n5 / 504.0 - 830251.0 * n6 / 7257600.0,
            4583.0 * n5 / 161280.0 - 108847.0 * n6 / 3991680.0,
            20648693.0 * n6 / 638668800.0,
        ];
        TransverseMercator {
            epsg,
            zone,
            south,
            lon0: (f64::from(zone) * 6.0 - 183.0).to_radians(),
            e: (ell.f * (2.0 - ell.f)).sqrt(),
            k0a: 0.9996 * rect,
            alpha,
            beta,
        }
    }

    fn false_northing(&self) -> f64 {
        if self.south { 10_000_000.0 } else { 0.0 }
    }

    pub fn forward(&self, lon: f64, lat: f64) -> (f64, f64) {
        let (phi, lam) = (lat.to_radians(), lon.to_radians() - self.lon0);
        let lam =
            (lam + std::f64::consts::PI).rem_euclid(std::f64::consts::TAU) - std::f64::consts::PI;
        let s = phi.sin();
        // Conformal latitude as its tangent.
        let t = (s.atanh() - self.e * (self.e * s).atanh()).sinh();
        let xi_p = t.atan2(lam.cos());
        let eta_p = (lam.sin() / (t * t + lam.cos().powi(2)).sqrt()).asinh();
        let (mut xi, mut eta) = (xi_p, eta_p);
        for (j, a) in self.alpha.iter().enumerate() {
            let k = 2.0 * (j + 1) as f64;
            xi += a * (k * xi_p).sin() * (k * eta_p).cosh();
            eta += a * (k * xi_p).cos() * (k * eta_p).sinh();
        }
        (
            500_000.0 + self.k0a * eta,
            self.false_northing() + self.k0a * xi,
        )
    }

    pub fn inverse(&self, x: f64, y: f64) -> (f64, f64) {
        let xi = (y - self.false_northing()) / self.k0a;
        let eta = (x - 500_000.0) / self.k0a;
        let (mut xi_p, mut eta_p) = (xi, eta);
        for (j, b) in self.beta.iter().enumerate() {
            let k = 2.0 * (j + 1) as f64;
            xi_p -= b * (k * xi).sin() * (k * eta).cosh();
            eta_p -= b * (k * xi).cos() * (k * eta).sinh();
        }
        let chi = (xi_p.sin() / eta_p.cosh()).clamp(-1.0, 1.0).asin();
        let lam = eta_p.sinh().atan2(xi_p.cos());
        // Geodetic from conformal latitude by fixed-point iteration (converges in a few steps).
        let mut phi = chi;
        for _ in 0..20 {
            let es = self.e * phi.sin();
            let next = 2.0
                * ((FRAC_PI_4 + chi / 2.0).tan() * ((1.0 + es) / (1.0 - es)).powf(self.e / 2.0))
                    .atan()
                - FRAC_PI_2;
            let done = (next - phi).abs() < 1e-15;
            phi = next;
            if done {
                break;
            }
        }
        ((lam + self.lon0).to_degrees(), phi.to_degrees())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_map_to_zones() {
        let Crs::Utm(tm) = Crs::from_epsg(31983).unwrap() else {
            panic!()
        };
        assert_eq!((tm.zone, tm.south), (23, true));
        let Crs::Utm(tm) = Crs::from_epsg(31965).unwrap() else {
            panic!()
        };
        assert_eq!((tm.zone, tm.south), (11, false));
        assert!(Crs::from_epsg(2154).is_err());
    }

    proptest! {
        #[test]
        fn utm_round_trips(zone in 1u32..=60, south in any::<bool>(), dlon in -8.0f64..8.0, lat in -80.0f64..84.0) {
            let crs = Crs::from_epsg(if south { 32700 } else { 32600 } + zone).unwrap();
            let lon = f64::from(zone) * 6.0 - 183.0 + dlon;
            let (x, y) = crs.from_lonlat(lon, lat);
            let (lon2, lat2) = crs.to_lonlat(x, y);
            let (x2, y2) = crs.from_lonlat(lon2, lat2);
            prop_assert!((x - x2).abs() < 1e-6 && (y - y2).abs() < 1e-6);
            prop_assert!((lat - lat2).abs() < 1e-10);
        }

        #[test]
        fn web_mercator_round_trips(lon in -180.0f64..180.0, lat in -85.0f64..85.0) {
            let (x, y) = Crs::WebMercator.from_lonlat(lon, lat);
            let (lon2, lat2) = Crs::WebMercator.to_lonlat(x, y);
            prop_assert!((lon - lon2).abs() < 1e-9 && (lat - lat2).abs() < 1e-9);
        }
    }
}

#[cfg(test)]
mod ellipsoid_tests {
    use super::*;

    /// GRS80 and WGS84 differ only in the 9th digit of the flattening: across a UTM zone (and
    /// 9° beyond) the projected coordinates differ by at most 0.12 mm, so either would do; we
    /// still use GRS80 for SIRGAS 2000 as PROJ does.
    #[test]
    fn grs80_and_wgs84_agree_below_a_millimetre() {
        let a = TransverseMercator::utm(31983, 23, true, GRS80);
        let b = TransverseMercator::utm(32723, 23, true, WGS84);
        let mut worst = 0.0f64;
        for i in -18..=18 {
            for j in -16..=16 {
                let (lon, lat) = (-45.0 + f64::from(i) / 2.0, f64::from(j) * 5.0);
                let (x1, y1) = a.forward(lon, lat);
                let (x2, y2) = b.forward(lon, lat);
                worst = worst.max((x1 - x2).hypot(y1 - y2));
            }
        }
        assert!(worst < 1e-3, "{worst}");
    }
}
