//! COGs we write. With `VC_COG_OUT=DIR` the files and what they should contain are left in DIR
//! for `scripts/raster-cog-check.sh` (rio cogeo validate + rasterio read-back).

use serde_json::json;
use vivacampo_raster::cog::{self, CogOptions, Overviews};
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::{self, BandInfo, Window};

fn fnv64(bytes: &[u8]) -> String {
    let mut h: u64 = 0xcbf29ce484222325;
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}")
}

fn cases() -> Vec<(&'static str, Raster, CogOptions)> {
    let (w, h) = (600, 500);
    let n = w * h;
    let mut reflectance = Vec::with_capacity(4 * n);
    for b in 0..4 {
        for i in 0..n {
            let (x, y) = (i % w, i / w);
            let v = if x < 20 && y < 20 {
                0
            } else {
                1000 + (x * 13 + y * 7 + b * 500) % 4000
            };
            reflectance.push(v as u16);
        }
    }
    let mut s2 = CogOptions::new(Georef {
        epsg: Some(32722),
        transform: GeoTransform::north_up(600000.0, 7400000.0, 10.0, 10.0),
    });
    s2.nodata = Some(0.0);
    s2.bands = ["blue", "green", "red", "nir"]
        .iter()
        .map(|d| BandInfo {
            description: Some(d.to_string()),
            scale: Some(0.0001),
            offset: Some(-0.1),
        })
        .collect();
    let ndvi: Vec<f32> = (0..n)
        .map(|i| {
            if i % 97 == 0 {
                f32::NAN
            } else {
                ((i % 200) as f32 - 50.0) / 150.0
            }
        })
        .collect();
    let mut idx = CogOptions::new(Georef {
        epsg: Some(31983),
        transform: GeoTransform::north_up(300000.0, 8000000.0, 10.0, 10.0),
    });
    idx.nodata = Some(f64::NAN);
    idx.bands = vec![BandInfo {
        description: Some("ndvi".into()),
        ..Default::default()
    }];
    let scl: Vec<u8> = (0..n).map(|i| ((i / 37) % 12) as u8).collect();
    let mut classes = CogOptions::new(Georef {
        epsg: Some(4326),
        transform: GeoTransform::north_up(-48.0, -15.0, 0.0001, 0.0001),
    });
    classes.overviews = Overviews::Nearest;
    classes.tile_size = 512;
    vec![
        (
            "reflectance_u16",
            Raster {
                width: w,
                height: h,
                bands: 4,
                data: Buffer::U16(reflectance),
            },
            s2,
        ),
        (
            "ndvi_f32",
            Raster {
                width: w,
                height: h,
                bands: 1,
                data: Buffer::F32(ndvi),
            },
            idx,
        ),
        (
            "scl_u8",
            Raster {
                width: w,
                height: h,
                bands: 1,
                data: Buffer::U8(scl),
            },
            classes,
        ),
    ]
}

#[test]
fn cogs_read_back_identically() {
    let out = std::env::var_os("VC_COG_OUT").map(std::path::PathBuf::from);
    for (name, raster, opts) in cases() {
        let bytes = cog::write(&raster, &opts).unwrap();
        let t = tiff::open(&bytes).unwrap();
        let back = t
            .read_window(&bytes, 0, Window::new(0, 0, t.width(), t.height()))
            .unwrap();
        let fnvs: Vec<String> = (0..raster.bands)
            .map(|b| fnv64(&raster.band_le_bytes(b)))
            .collect();
        assert_eq!(
            (0..back.bands)
                .map(|b| fnv64(&back.band_le_bytes(b)))
                .collect::<Vec<_>>(),
            fnvs,
            "{name}"
        );
        assert_eq!(t.georef, Some(opts.georef), "{name}");
        let factors: Vec<u32> = t.levels[1..]
            .iter()
            .map(|l| t.width().div_ceil(l.width))
            .collect();
        if let Some(dir) = &out {
            std::fs::create_dir_all(dir).unwrap();
            let path = dir.join(format!("{name}.tif"));
            std::fs::write(&path, &bytes).unwrap();
            let nodata = opts
                .nodata
                .map(|v| if v.is_nan() { json!("nan") } else { json!(v) });
            let expect = json!({
                "band_fnv": fnvs,
                "descriptions": (0..raster.bands).map(|b| opts.bands.get(b).and_then(|i| i.description.clone())).collect::<Vec<_>>(),
                "scales": (0..raster.bands).map(|b| opts.bands.get(b).and_then(|i| i.scale).unwrap_or(1.0)).collect::<Vec<_>>(),
                "offsets": (0..raster.bands).map(|b| opts.bands.get(b).and_then(|i| i.offset).unwrap_or(0.0)).collect::<Vec<_>>(),
                "nodata": nodata,
                "epsg": opts.georef.epsg,
                "geotransform": opts.georef.transform.0,
                "overviews": factors,
            });
            std::fs::write(path.with_extension("tif.expect.json"), expect.to_string()).unwrap();
        }
    }
}
