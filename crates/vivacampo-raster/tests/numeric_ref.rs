//! Statistics equal numpy's within 1e-9 relative, polygon masks equal rasterio's rasterize,
//! and indices equal spyndex's within 1e-6 (`scripts/raster-fixtures.py numeric`).

use serde_json::Value;
use vivacampo_raster::geo::GeoTransform;
use vivacampo_raster::index::{self, Band};
use vivacampo_raster::mask::{self, polygons_from_geojson};
use vivacampo_raster::stats;

fn load(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn close(a: f64, b: f64, rel: f64) -> bool {
    (a - b).abs() <= rel * b.abs().max(1e-300)
}

#[test]
fn statistics_match_numpy() {
    let r = load("stats_ref.json");
    let values: Vec<f64> = r["values"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap_or(f64::NAN))
        .collect();
    let s = stats::zonal(&values, None);
    assert_eq!(s.count as u64, r["count"].as_u64().unwrap());
    assert_eq!(s.valid_count as u64, r["valid_count"].as_u64().unwrap());
    for (got, key) in [
        (s.mean, "mean"),
        (s.std, "std"),
        (s.min, "min"),
        (s.max, "max"),
        (s.p10, "p10"),
        (s.p50, "p50"),
        (s.p90, "p90"),
    ] {
        let want = r[key].as_f64().unwrap();
        assert!(
            close(got.unwrap(), want, 1e-9),
            "{key}: {got:?} vs numpy {want}"
        );
    }
    let h = &r["histogram"];
    let range: Vec<f64> = h["range"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let hist = stats::histogram(
        &values,
        None,
        h["bins"].as_u64().unwrap() as usize,
        range[0],
        range[1],
    );
    let counts: Vec<u64> = h["counts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap())
        .collect();
    assert_eq!(hist.counts, counts);
}

#[test]
fn polygon_masks_match_rasterio() {
    let r = load("stats_ref.json");
    let polys = polygons_from_geojson(&r["polygon"].to_string()).unwrap();
    let gt = GeoTransform::north_up(500000.0, 7500000.0, 10.0, 10.0);
    for (key, touched) in [("centre", false), ("all_touched", true)] {
        let m = mask::rasterize(&polys, &gt, 70, 50, touched).unwrap();
        let got: String = m.iter().map(|&b| if b { '1' } else { '0' }).collect();
        let want = r["masks"][key].as_str().unwrap();
        let diff = got
            .chars()
            .zip(want.chars())
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(
            diff,
            0,
            "{key}: {diff} pixels differ from rasterio ({} inside)",
            want.matches('1').count()
        );
    }
}

#[test]
fn indices_match_spyndex() {
    let r = load("index_ref.json");
    let col = |k: &str| -> Vec<f64> {
        r["bands"][k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect()
    };
    let names = [
        ("B", Band::Blue),
        ("G", Band::Green),
        ("R", Band::Red),
        ("RE1", Band::Rededge1),
        ("N", Band::Nir),
        ("S1", Band::Swir16),
        ("S2", Band::Swir22),
    ];
    let data: Vec<(Band, Vec<f64>)> = names.iter().map(|(k, b)| (*b, col(k))).collect();
    let input: Vec<(Band, &[f64])> = data.iter().map(|(b, v)| (*b, v.as_slice())).collect();
    for (name, want) in r["indices"].as_object().unwrap() {
        let got = index::compute(name, &input).unwrap();
        let mut compared = 0;
        for (g, w) in got.iter().zip(want.as_array().unwrap()) {
            let w = w.as_f64().unwrap();
            if g.is_nan() {
                // Masked only when spyndex's value is out of the valid range.
                assert!(
                    !(-1.0..=1.0).contains(&w) || !w.is_finite(),
                    "{name}: masked {w}"
                );
            } else {
                assert!(
                    (g - w).abs() <= 1e-6 * w.abs().max(1.0),
                    "{name}: {g} vs spyndex {w}"
                );
                compared += 1;
            }
        }
        assert!(compared > 40, "{name}: only {compared} of 64 compared");
    }
}
