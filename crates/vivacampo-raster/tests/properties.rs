//! Properties of the raster maths that must hold for any input: statistics are ordered, a warp
//! onto the raster's own grid changes nothing, tile maths round-trips, normalised differences
//! stay in [-1, 1].

use proptest::prelude::*;
use vivacampo_raster::crs::Crs;
use vivacampo_raster::geo::{GeoTransform, Grid};
use vivacampo_raster::index::{self, Band};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::stats;
use vivacampo_raster::tile;
use vivacampo_raster::warp::{self, Resampling};

fn values() -> impl Strategy<Value = Vec<f64>> {
    prop::collection::vec(
        prop_oneof![
            9 => -1.0e3..1.0e3f64,
            1 => Just(f64::NAN),
        ],
        0..200,
    )
}

proptest! {
    #[test]
    fn statistics_are_ordered_and_count_the_zone(values in values(), seed in any::<u64>()) {
        let zone: Vec<bool> = (0..values.len()).map(|i| (seed >> (i % 64)) & 1 == 1).collect();
        let s = stats::zonal(&values, Some(&zone));
        prop_assert_eq!(s.count, zone.iter().filter(|&&z| z).count());
        let valid: Vec<f64> = values
            .iter()
            .zip(&zone)
            .filter(|(v, z)| **z && v.is_finite())
            .map(|(v, _)| *v)
            .collect();
        prop_assert_eq!(s.valid_count, valid.len());
        if valid.is_empty() {
            prop_assert!(s.mean.is_none() && s.p50.is_none());
        } else {
            let (min, max) = (s.min.unwrap(), s.max.unwrap());
            let eps = 1e-9 * (1.0 + max.abs().max(min.abs()));
            for p in [s.mean, s.p10, s.p50, s.p90] {
                let p = p.unwrap();
                prop_assert!(p >= min - eps && p <= max + eps, "{p} outside {min}..{max}");
            }
            prop_assert!(s.p10.unwrap() <= s.p50.unwrap() + eps);
            prop_assert!(s.p50.unwrap() <= s.p90.unwrap() + eps);
            prop_assert!(s.std.unwrap() >= 0.0);
            prop_assert!(s.std.unwrap() <= (max - min) + eps);
        }
    }

    #[test]
    fn normalised_differences_stay_within_one(
        pairs in prop::collection::vec((0.0001..1.5f64, 0.0001..1.5f64), 1..100)
    ) {
        let red: Vec<f64> = pairs.iter().map(|p| p.0).collect();
        let nir: Vec<f64> = pairs.iter().map(|p| p.1).collect();
        let ndvi = index::compute("ndvi", &[(Band::Red, &red), (Band::Nir, &nir)]).unwrap();
        for ((v, r), n) in ndvi.iter().zip(&red).zip(&nir) {
            prop_assert!((-1.0..=1.0).contains(v), "{v}");
            // The sign says which band is brighter.
            prop_assert!((n > r && *v > 0.0) || (n < r && *v < 0.0) || (n == r && *v == 0.0), "{v}");
        }
    }

    #[test]
    fn a_warp_onto_the_raster_s_own_grid_changes_nothing(
        width in 1usize..24,
        height in 1usize..24,
        x0 in 300_000.0..700_000.0f64,
        y0 in 7_000_000.0..9_000_000.0f64,
        seed in any::<u32>(),
        bilinear in any::<bool>(),
    ) {
        let data: Vec<u16> = (0..width * height)
            .map(|i| ((i as u32).wrapping_mul(2_654_435_761) ^ seed) as u16 % 10_000 + 1)
            .collect();
        let raster = Raster { width, height, bands: 1, data: Buffer::U16(data.clone()) };
        let transform = GeoTransform::north_up((x0 / 10.0).round() * 10.0, (y0 / 10.0).round() * 10.0, 10.0, 10.0);
        let crs = Crs::from_epsg(32722).unwrap();
        let source = warp::Source { raster: &raster, transform, crs: &crs, nodata: None, mask: None };
        let grid = Grid { width, height, transform, epsg: 32722 };
        let resampling = if bilinear { Resampling::Bilinear } else { Resampling::Nearest };
        let out = warp::warp(&source, &grid, resampling).unwrap();
        for (i, &v) in data.iter().enumerate() {
            let got = out.data.get_f64(i);
            prop_assert!((got - f64::from(v)).abs() < 1e-6, "pixel {i}: {got} vs {v}");
        }
    }

    #[test]
    fn a_point_lies_in_the_tile_that_contains_it(
        lon in -179.9..179.9f64,
        lat in -85.0..85.0f64,
        z in 0u8..=20,
    ) {
        let (x, y) = tile::tile_for_lonlat(lon, lat, z);
        prop_assert!(tile::validate(z, x, y).is_ok());
        let [w, s, e, n] = tile::bounds_lonlat(z, x, y);
        let eps = 1e-9;
        prop_assert!(lon >= w - eps && lon <= e + eps, "{lon} not in {w}..{e}");
        prop_assert!(lat >= s - eps && lat <= n + eps, "{lat} not in {s}..{n}");
    }
}
