//! The demo catalog's Sentinel-1 RTC scenes (`sentinel-1-rtc` items with `vv`/`vh` assets,
//! float32 gamma0 linear power): one descending pass every [`RADAR_REVISIT_DAYS`] days (two
//! satellites, one orbit direction, as a real field sees), so every ISO week has radar, the
//! overcast ones included.
//!
//! Backscatter follows each cover's NDVI curve through the canopy fraction `f` (0 bare soil,
//! 1 full canopy): VH = −24 + 11·f dB (volume scattering grows with the canopy), VV = −13 + 4·f
//! dB; so a harvest drops VH by several dB. Speckle is multiplicative, gamma distributed with
//! 4 looks. 20 m pixels keep the demo's start fast (the pipeline reads them onto the 10 m field
//! grid with nearest neighbour). No clouds: radar sees through them.

use std::path::Path;

use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime, Time};
use vivacampo_raster::cog::CogOptions;
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::BandInfo;

use super::{DemoOptions, EPSG, Landscape, canopy_fraction, ndvi_curve, unit, value_noise};
use crate::error::{Error, Result};

/// Days between the demo's radar passes of one orbit direction (Sentinel-1A + 1C).
pub const RADAR_REVISIT_DAYS: i64 = 6;
/// The descending overpass of Goiás (UTC).
pub const RADAR_TIME: Time = time::macros::time!(08:55:12);
/// Pixel size of the demo's radar COGs.
const RES: f64 = 20.0;
/// The demo's relative orbit.
const RELATIVE_ORBIT: i64 = 53;

/// VH and VV (dB) of a canopy fraction.
pub fn backscatter_db(f: f64) -> (f64, f64) {
    (-24.0 + 11.0 * f, -13.0 + 4.0 * f)
}

/// Pass dates, oldest first, the newest two days before `end_date`, within the last `weeks`.
fn pass_dates(opts: &DemoOptions) -> Vec<Date> {
    let first = opts.end_date - Duration::days(i64::from(opts.weeks) * 7 - 1);
    let mut dates = Vec::new();
    let mut d = opts.end_date - Duration::days(2);
    while d >= first {
        dates.push(d);
        d -= Duration::days(RADAR_REVISIT_DAYS);
    }
    dates.reverse();
    dates
}

/// Gamma(4 looks, mean 1) speckle from hashed uniforms.
fn speckle(seed: u64, col: i64, row: i64, salt: u64) -> f64 {
    (0..4)
        .map(|k| -(1.0 - unit(seed, col, row, salt * 8 + k)).max(1e-12).ln())
        .sum::<f64>()
        / 4.0
}

/// Writes the radar scenes into `out_dir`; returns the item ids, files and bytes written.
pub(super) fn write_scenes(
    out_dir: &Path,
    opts: &DemoOptions,
    land: &Landscape,
    (ulx, uly, size): (f64, f64, f64),
    bbox: [f64; 4],
) -> Result<(Vec<String>, usize, u64)> {
    let (mut ids, mut files, mut bytes) = (Vec::new(), 0usize, 0u64);
    let n = (size / RES).round() as usize;
    let georef = Georef {
        epsg: Some(EPSG),
        transform: GeoTransform::north_up(ulx, uly, RES, RES),
    };
    for (i, date) in pass_dates(opts).into_iter().enumerate() {
        let id = format!(
            "S1A_IW_GRDH_1SDV_{:04}{:02}{:02}T085512_R{RELATIVE_ORBIT:03}_RTC",
            date.year(),
            u8::from(date.month()),
            date.day()
        );
        let dir = out_dir.join(&id);
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let doy = f64::from(date.ordinal());
        let mut vh = vec![0f32; n * n];
        let mut vv = vec![0f32; n * n];
        for row in 0..n {
            for col in 0..n {
                let x = ulx + (col as f64 + 0.5) * RES;
                let y = uly - (row as f64 + 0.5) * RES;
                let cover = land.cover(x, y);
                let patch = value_noise(opts.seed, x, y, 180.0, 2) - 0.5;
                let ndvi = (ndvi_curve(cover, doy) + 0.08 * patch).clamp(0.05, 0.92);
                let (vh_db, vv_db) = backscatter_db(canopy_fraction(ndvi));
                let salt = 1000 + i as u64;
                let k = row * n + col;
                let (c, r) = (col as i64, row as i64);
                vh[k] = (10f64.powf(vh_db / 10.0) * speckle(opts.seed, c, r, salt)) as f32;
                vv[k] = (10f64.powf(vv_db / 10.0) * speckle(opts.seed, c, r, salt + 500)) as f32;
            }
        }
        let mut assets = serde_json::Map::new();
        for (key, plane) in [("vv", vv), ("vh", vh)] {
            let mut o = CogOptions::new(georef);
            o.nodata = Some(-32768.0);
            o.bands = vec![BandInfo {
                description: Some(key.to_uppercase()),
                ..Default::default()
            }];
            let raster = Raster {
                width: n,
                height: n,
                bands: 1,
                data: Buffer::F32(plane),
            };
            bytes += super::write_cog(&dir.join(format!("{key}.tif")), &raster, &o)?;
            files += 1;
            assets.insert(
                key.into(),
                json!({
                    "href": format!("./{key}.tif"),
                    "type": "image/tiff; application=geotiff; profile=cloud-optimized",
                    "title": format!("{}: gamma0 terrain-corrected, linear power", key.to_uppercase()),
                    "proj:shape": [n, n],
                    "proj:transform": [RES, 0.0, ulx, 0.0, -RES, uly],
                    "raster:bands": [{"nodata": -32768, "data_type": "float32", "spatial_resolution": RES}],
                    "roles": ["data"],
                }),
            );
        }
        let datetime = OffsetDateTime::new_utc(date, RADAR_TIME)
            .format(&time::format_description::well_known::Rfc3339)
            .map_err(|e| Error::Catalog(e.to_string()))?;
        let item: Value = json!({
            "type": "Feature",
            "stac_version": "1.0.0",
            "stac_extensions": [
                "https://stac-extensions.github.io/sar/v1.0.0/schema.json",
                "https://stac-extensions.github.io/sat/v1.0.0/schema.json",
                "https://stac-extensions.github.io/projection/v1.1.0/schema.json"
            ],
            "id": id,
            "collection": "sentinel-1-rtc",
            "geometry": {"type": "Polygon", "coordinates": [[
                [bbox[0], bbox[1]], [bbox[2], bbox[1]], [bbox[2], bbox[3]], [bbox[0], bbox[3]], [bbox[0], bbox[1]]
            ]]},
            "bbox": bbox,
            "properties": {
                "datetime": datetime,
                "platform": "SENTINEL-1A",
                "constellation": "Sentinel-1",
                "sar:instrument_mode": "IW",
                "sar:polarizations": ["VV", "VH"],
                "sar:product_type": "GRD",
                "sat:orbit_state": "descending",
                "sat:relative_orbit": RELATIVE_ORBIT,
                "proj:epsg": EPSG,
                "proj:shape": [n, n],
                "proj:transform": [RES, 0.0, ulx, 0.0, -RES, uly],
            },
            "assets": assets,
            "links": [],
        });
        bytes += super::write_json(&dir.join(format!("{id}.json")), &item)?;
        files += 1;
        ids.push(id);
    }
    Ok((ids, files, bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_week_has_a_pass_and_harvest_drops_vh() {
        let opts = DemoOptions::new(8, time::macros::date!(2026 - 03 - 20));
        let dates = pass_dates(&opts);
        let weeks: std::collections::BTreeSet<_> = dates
            .iter()
            .map(|d| {
                let (y, w, _) = d.to_iso_week_date();
                (y, w)
            })
            .collect();
        assert!(weeks.len() >= 8, "{dates:?}");
        let (bare, _) = backscatter_db(0.0);
        let (canopy, _) = backscatter_db(1.0);
        assert!(canopy - bare > 8.0);
    }
}
