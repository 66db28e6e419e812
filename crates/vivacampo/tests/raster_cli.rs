//! `vivacampo raster …` on a real GeoTIFF written by GDAL, through the binary.

use std::process::Command;

fn fixture() -> String {
    format!(
        "{}/../vivacampo-raster/tests/fixtures/rgbn.tif",
        env!("CARGO_MANIFEST_DIR")
    )
}

fn run(args: &[&str]) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_vivacampo"))
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn info_stats_and_tile() {
    let file = fixture();
    let info = run(&["raster", "info", &file]);
    assert_eq!(
        (
            info["width"].as_u64(),
            info["height"].as_u64(),
            info["epsg"].as_u64()
        ),
        (Some(515), Some(403), Some(32618))
    );
    assert_eq!(
        info["geotransform"],
        serde_json::json!([792988.0, 5.0, 0.0, 2050382.0, 0.0, -5.0])
    );
    assert_eq!(info["bands"].as_array().unwrap().len(), 4);
    assert_eq!(info["tile"], serde_json::json!([64, 64]));
    let b = info["bounds_lonlat"].as_array().unwrap();
    assert!(
        (b[0].as_f64().unwrap() + 72.2252).abs() < 1e-3
            && (b[3].as_f64().unwrap() - 18.5237).abs() < 1e-3
    );

    let stats = run(&["raster", "stats", &file, "--band", "4"]);
    assert_eq!(stats["count"], 515 * 403);
    assert_eq!(stats["valid_ratio"], 1.0);
    for key in ["mean", "std", "min", "max", "p10", "p50", "p90"] {
        assert!(stats[key].is_number(), "{key}");
    }
    let ndvi = run(&[
        "raster",
        "stats",
        &file,
        "--index",
        "ndvi",
        "--bands",
        "blue=1,green=2,red=3,nir=4",
    ]);
    assert!(ndvi["mean"].as_f64().unwrap() > -1.0 && ndvi["max"].as_f64().unwrap() <= 1.0);

    let out = std::env::temp_dir().join(format!("vivacampo-tile-{}.png", std::process::id()));
    let tile = run(&[
        "raster",
        "tile",
        &file,
        "15",
        "9811",
        "14668",
        "--index",
        "ndvi",
        "--bands",
        "blue=1,green=2,red=3,nir=4",
        "--colormap",
        "rdylgn",
        "-o",
        out.to_str().unwrap(),
    ]);
    assert_eq!(tile["has_data"], true);
    let png = std::fs::read(&out).unwrap();
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    assert_eq!(&png[16..24], &[0, 0, 1, 0, 0, 0, 1, 0], "256 x 256");
    let _ = std::fs::remove_file(out);

    let missing = Command::new(env!("CARGO_BIN_EXE_vivacampo"))
        .args(["raster", "info", "/nonexistent.tif"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).starts_with("vivacampo: "));
}
