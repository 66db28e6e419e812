//! `raster info|stats|tile` on a real GDAL-written file, against rasterio/numpy.

use std::path::PathBuf;

use serde_json::Value;
use vivacampo_raster::cli;
use vivacampo_raster::index::Band;
use vivacampo_raster::render::{Selection, Style};

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

fn reference() -> Value {
    let r: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture("stats_ref.json")).unwrap()).unwrap();
    r["cli"].clone()
}

#[test]
fn info_shape_and_values() {
    let info = serde_json::to_value(cli::info(&fixture("rgbn_suba.tif")).unwrap()).unwrap();
    let r = reference();
    for key in [
        "width",
        "height",
        "bands",
        "epsg",
        "geotransform",
        "bounds_lonlat",
        "overviews",
        "compression",
        "tile",
        "layout",
    ] {
        assert!(info.get(key).is_some(), "missing {key}");
    }
    assert_eq!(
        (
            info["width"].as_u64(),
            info["height"].as_u64(),
            info["epsg"].as_u64()
        ),
        (Some(276), Some(212), Some(32618))
    );
    assert_eq!(info["geotransform"], r["geotransform"]);
    assert_eq!(info["bands"][0]["dtype"], "uint8");
    assert_eq!(info["bands"][3]["nodata"], 0.0);
    assert_eq!(info["compression"], "LZW");
    assert_eq!(info["tile"], serde_json::json!([64, 64]));
    for (got, want) in info["bounds_lonlat"]
        .as_array()
        .unwrap()
        .iter()
        .zip(r["bounds_lonlat"].as_array().unwrap())
    {
        assert!(
            (got.as_f64().unwrap() - want.as_f64().unwrap()).abs() < 1e-9,
            "{got} vs {want}"
        );
    }
}

fn assert_stats(got: &vivacampo_raster::stats::Stats, want: &Value) {
    let got = serde_json::to_value(got).unwrap();
    for key in [
        "count",
        "valid_count",
        "valid_ratio",
        "mean",
        "std",
        "min",
        "max",
        "p10",
        "p50",
        "p90",
    ] {
        let (g, w) = (got[key].as_f64().unwrap(), want[key].as_f64().unwrap());
        assert!(
            (g - w).abs() <= 1e-9 * w.abs().max(1e-12),
            "{key}: {g} vs numpy {w}"
        );
    }
}

#[test]
fn stats_of_band_and_of_index_in_a_field_with_a_hole() {
    let r = reference();
    let band = cli::stats(&fixture("rgbn_suba.tif"), &Selection::Band(1), None).unwrap();
    assert_stats(&band, &r["band1"]);
    let ndvi = Selection::Index {
        name: "ndvi".into(),
        bands: vec![(Band::Red, 3), (Band::Nir, 4)],
    };
    let s = cli::stats(
        &fixture("rgbn_suba.tif"),
        &ndvi,
        Some(&r["aoi"].to_string()),
    )
    .unwrap();
    assert_stats(&s, &r["ndvi_aoi"]);
}

#[test]
fn tile_writes_a_png() {
    let out = std::env::temp_dir().join(format!("vc-raster-tile-{}.png", std::process::id()));
    let ndvi = Selection::Index {
        name: "ndvi".into(),
        bands: vec![(Band::Red, 3), (Band::Nir, 4)],
    };
    let rep = cli::tile(
        &fixture("rgbn.tif"),
        16,
        19620,
        29336,
        &ndvi,
        &Style::default(),
        &out,
    )
    .unwrap();
    assert!(rep.has_data);
    let bytes = std::fs::read(&out).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let far = cli::tile(
        &fixture("rgbn.tif"),
        16,
        0,
        0,
        &Selection::Band(1),
        &Style::default(),
        &out,
    )
    .unwrap();
    assert!(!far.has_data);
    assert!(
        cli::tile(
            &fixture("rgbn.tif"),
            3,
            9,
            0,
            &Selection::Band(1),
            &Style::default(),
            &out
        )
        .is_err()
    );
    std::fs::remove_file(out).ok();
}
