//! Forward and inverse projections equal pyproj's (PROJ) within 1 mm
//! (`scripts/raster-fixtures.py crs`): far from the central meridian, southern points in
//! northern zones, SIRGAS 2000 zones, Web Mercator.

use serde_json::Value;
use vivacampo_raster::crs::Crs;

#[test]
fn matches_pyproj_within_a_millimetre() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/crs_points.json");
    let points: Vec<Value> = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let mut worst = 0.0f64;
    for p in &points {
        let f = |k: &str| p[k].as_f64().unwrap();
        let crs = Crs::from_epsg(p["epsg"].as_u64().unwrap() as u32).unwrap();
        let (x, y) = crs.from_lonlat(f("lon"), f("lat"));
        let err = (x - f("x")).hypot(y - f("y"));
        worst = worst.max(err);
        assert!(err < 1e-3, "{p}: forward off by {err} m ({x}, {y})");
        // Inverse, measured back in metres through the forward.
        let (lon, lat) = crs.to_lonlat(f("x"), f("y"));
        let (x2, y2) = crs.from_lonlat(lon, lat);
        let back = (x2 - f("x")).hypot(y2 - f("y"));
        assert!(back < 1e-3, "{p}: inverse off by {back} m");
        assert!((lat - f("lat")).abs() < 1e-8, "{p}: latitude {lat}");
    }
    assert!(points.len() > 200);
    eprintln!("worst forward error {worst:e} m");
}
