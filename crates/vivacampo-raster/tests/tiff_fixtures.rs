//! Every fixture of `scripts/raster-fixtures.py gen` read through our reader equals what GDAL
//! (rasterio) read: sizes, georeferencing, every pixel (FNV-1a checksums), windows, overviews
//! and masks.

use std::path::PathBuf;

use serde_json::Value;
use vivacampo_raster::source::{Ranges, ReadAt};
use vivacampo_raster::tiff::{self, Tiff, Window};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn fnv64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn fnvs(r: &vivacampo_raster::raster::Raster) -> Vec<String> {
    (0..r.bands).map(|b| fnv64(&r.band_le_bytes(b))).collect()
}

fn full(t: &Tiff, level: usize) -> Window {
    Window::new(0, 0, t.levels[level].width, t.levels[level].height)
}

#[test]
fn fixtures_match_gdal() {
    let expected: Vec<Value> =
        serde_json::from_str(&std::fs::read_to_string(fixtures().join("expected.json")).unwrap())
            .unwrap();
    assert!(expected.len() > 80);
    for e in &expected {
        let name = e["file"].as_str().unwrap();
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        let t = tiff::open(&bytes).unwrap_or_else(|err| panic!("{name}: {err}"));
        assert_eq!(t.width() as u64, e["width"].as_u64().unwrap(), "{name}");
        assert_eq!(t.height() as u64, e["height"].as_u64().unwrap(), "{name}");
        assert_eq!(t.bands() as u64, e["count"].as_u64().unwrap(), "{name}");
        assert_eq!(t.dtype().name(), e["dtype"].as_str().unwrap(), "{name}");
        let l0 = &t.levels[0];
        assert_eq!(
            vec![l0.block_w as u64, l0.block_h as u64],
            e["block"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap())
                .collect::<Vec<_>>(),
            "{name}"
        );
        match e["nodata"].as_f64() {
            Some(n) => assert_eq!(t.nodata, Some(n), "{name}"),
            None if e["nodata"].as_str() == Some("nan") => assert!(t.nodata.unwrap().is_nan()),
            None => assert_eq!(t.nodata, None, "{name}"),
        }
        let g = t.georef.expect(name);
        assert_eq!(g.epsg.map(u64::from), e["epsg"].as_u64(), "{name}");
        let gt: Vec<f64> = e["geotransform"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(g.transform.0.to_vec(), gt, "{name}");
        for (i, d) in e["descriptions"].as_array().unwrap().iter().enumerate() {
            assert_eq!(t.band_info[i].description.as_deref(), d.as_str(), "{name}");
        }

        let r = t.read_window(&bytes, 0, full(&t, 0)).unwrap();
        assert_eq!(fnvs(&r), json_strs(&e["band_fnv"]), "{name}: full read");
        for s in e["samples"].as_array().unwrap() {
            let s: Vec<f64> = s
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap())
                .collect();
            assert_eq!(
                r.get(s[0] as usize - 1, s[1] as usize, s[2] as usize),
                s[3],
                "{name}: {s:?}"
            );
        }
        let w: Vec<u32> = e["window"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as u32)
            .collect();
        let win = t
            .read_window(&bytes, 0, Window::new(w[0], w[1], w[2], w[3]))
            .unwrap();
        assert_eq!(fnvs(&win), json_strs(&e["window_fnv"]), "{name}: window");

        let ovs = e["overview_data"].as_array().unwrap();
        assert_eq!(t.levels.len() - 1, ovs.len(), "{name}: overview count");
        for (i, ov) in ovs.iter().enumerate() {
            let r = t.read_window(&bytes, i + 1, full(&t, i + 1)).unwrap();
            assert_eq!(r.width as u64, ov["width"].as_u64().unwrap());
            assert_eq!(fnvs(&r), json_strs(&ov["band_fnv"]), "{name}: overview {i}");
        }
        if let Some(m) = e.get("mask_fnv") {
            let plan = t.plan(0, full(&t, 0), true).unwrap();
            let mask = t
                .decode(&plan, &bytes.fetch(&plan.ranges).unwrap())
                .unwrap();
            assert_eq!(fnvs(&mask)[0], m.as_str().unwrap(), "{name}: mask");
        }
    }
}

fn json_strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn cog_window_reads_only_the_tiles_it_needs_in_few_requests() {
    let bytes = std::fs::read(fixtures().join("rgbn.tif")).unwrap();
    // Sans-IO: start from the first 64 KiB only.
    let mut have = Ranges::new(bytes.len() as u64);
    have.insert(
        0,
        bytes[..tiff::HEADER_PREFETCH.min(bytes.len() as u64) as usize].to_vec(),
    );
    let t = loop {
        match Tiff::parse(&have) {
            Ok(t) => break t,
            Err(vivacampo_raster::Error::NeedBytes { start, end }) => {
                have.insert(start, bytes[start as usize..end as usize].to_vec())
            }
            Err(e) => panic!("{e}"),
        }
    };
    let plan = t.plan(0, Window::new(100, 100, 60, 60), false).unwrap();
    assert_eq!(
        plan.chunks.len(),
        4,
        "a 60 px window across a 64 px tile corner touches 4 tiles"
    );
    assert!(
        plan.ranges.len() <= 2,
        "merged into few requests: {:?}",
        plan.ranges
    );
    let fetched = bytes.fetch(&plan.ranges).unwrap();
    let r = t.decode(&plan, &fetched).unwrap();
    let whole = t
        .read_window(&bytes, 0, Window::new(0, 0, t.width(), t.height()))
        .unwrap();
    for b in 0..4 {
        for y in 0..60 {
            for x in 0..60 {
                assert_eq!(r.get(b, y, x), whole.get(b, 100 + y, 100 + x));
            }
        }
    }
}

#[test]
fn damaged_files_give_errors_not_panics() {
    let bytes = std::fs::read(fixtures().join("gen/overviews_uint16.tif")).unwrap();
    let mut state = 0x2545f4914f6cdd1du64;
    for i in 0..400 {
        let mut b = bytes.clone();
        if i % 2 == 0 {
            b.truncate(i * 37 % bytes.len());
        } else {
            for _ in 0..8 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = (state % 2048.min(b.len() as u64)) as usize;
                b[at] = (state >> 32) as u8;
            }
        }
        if let Ok(t) = tiff::open(&b) {
            for level in 0..t.levels.len() {
                let _ = t.read_window(&b, level, full(&t, level));
            }
        }
    }
}

#[test]
fn georeferenced_windows() {
    let bytes = std::fs::read(fixtures().join("rgbn.tif")).unwrap();
    let t = tiff::open(&bytes).unwrap();
    // 5 m pixels from (792988, 2050382): 100 m x 50 m starting 10 px right, 4 px down.
    let w = t
        .window_for_bounds(0, [793038.0, 2050112.0, 793138.0, 2050362.0])
        .unwrap();
    assert_eq!(w, Window::new(10, 4, 20, 50));
    assert_eq!(t.window_for_bounds(0, [0.0, 0.0, 10.0, 10.0]), None);
    let clipped = t
        .window_for_bounds(0, [792000.0, 2050000.0, 793000.0, 2060000.0])
        .unwrap();
    assert_eq!((clipped.col, clipped.row, clipped.width), (0, 0, 3));
}

#[test]
fn sans_io_parse_asks_only_for_what_it_lacks() {
    // Start from 16 bytes and fetch exactly what each NeedBytes names: the parse converges and
    // every requested range lies inside the file.
    for name in [
        "rgbn.tif",
        "gen/strip_planar_bigtiff_be_deflate_p2_uint16.tif",
        "gen/overviews_uint16.tif",
    ] {
        let bytes = std::fs::read(fixtures().join(name)).unwrap();
        let mut have = Ranges::new(bytes.len() as u64);
        have.insert(0, bytes[..16].to_vec());
        let mut rounds = 0;
        let t = loop {
            match Tiff::parse(&have) {
                Ok(t) => break t,
                Err(vivacampo_raster::Error::NeedBytes { start, end }) => {
                    assert!(
                        start < end && end <= bytes.len() as u64,
                        "{name}: {start}..{end}"
                    );
                    have.insert(start, bytes[start as usize..end as usize].to_vec());
                    rounds += 1;
                    assert!(rounds < 200, "{name}: parse does not converge");
                }
                Err(e) => panic!("{name}: {e}"),
            }
        };
        assert_eq!(t.width(), tiff::open(&bytes).unwrap().width(), "{name}");
    }
}
