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

fn assert_close(got: &serde_json::Value, want: &[(&str, f64)]) {
    for (key, want) in want {
        let got = got[key].as_f64().unwrap();
        assert!(
            (got - want).abs() <= 1e-9 * want.abs().max(1.0),
            "{key}: {got} vs numpy {want}"
        );
    }
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
    // numpy over the same file (rasterio read, float64, population std, linear percentiles).
    let numpy_nir = [
        ("mean", 116.10198270254644),
        ("std", 37.84839528917998),
        ("min", 0.0),
        ("max", 255.0),
        ("p10", 67.0),
        ("p50", 116.0),
        ("p90", 165.0),
    ];
    assert_close(&stats, &numpy_nir);
    let ndvi = run(&[
        "raster",
        "stats",
        &file,
        "--index",
        "ndvi",
        "--bands",
        "blue=1,green=2,red=3,nir=4",
    ]);
    assert_eq!(ndvi["valid_count"], 515 * 403);
    // numpy: (nir - red) / (nir + red) over the same bands.
    let numpy_ndvi = [
        ("mean", -0.0304464731110772),
        ("std", 0.18148170414950687),
        ("min", -1.0),
        ("max", 0.6681222707423581),
        ("p10", -0.23809523809523808),
        ("p50", -0.04672897196261682),
        ("p90", 0.208955223880597),
    ];
    assert_close(&ndvi, &numpy_ndvi);

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

    // A directory: the cause once, not again through its source.
    let dir = std::env::temp_dir();
    let directory = Command::new(env!("CARGO_BIN_EXE_vivacampo"))
        .args(["raster", "info", dir.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&directory.stderr);
    assert!(!directory.status.success());
    assert_eq!(
        stderr.trim_end(),
        format!(
            "vivacampo: reading {}: Is a directory (os error 21)",
            dir.display()
        )
    );
}

/// `demo` on a taken address fails before it prepares imagery or seeds, and says how to pick
/// another.
#[test]
fn demo_on_a_busy_port_fails_first_and_names_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap();
    let data = std::env::temp_dir().join(format!("vivacampo-busy-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_vivacampo"))
        .args(["demo", "--bind", &addr.to_string(), "--data-dir"])
        .arg(&data)
        .env_remove("VIVACAMPO_BIND")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    let other = std::net::SocketAddr::new(addr.ip(), addr.port() + 1);
    assert_eq!(
        stderr.trim_end(),
        format!(
            "vivacampo: cannot listen on {addr} (the address is in use); stop what runs there, or pick another address with --bind {other}"
        )
    );
    assert!(
        !data.join("demo-catalog").exists(),
        "no imagery was prepared"
    );
    let _ = std::fs::remove_dir_all(&data);
}
