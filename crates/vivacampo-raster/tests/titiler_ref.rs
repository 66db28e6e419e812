//! Our tiles against rio-tiler's (TiTiler's engine) for the same field-week COGs, expressions,
//! resampling and clipping: `scripts/tiler-reference.py` wrote the reference values of every
//! index into `fixtures/field_week_tiles.json` from `fixtures/field_week*.tif` (COGs written by
//! the demo pipeline, with the field outline in their metadata). Acceptance of issue 5: mean
//! absolute difference of the index values under 1 % of the display range, and the same
//! colormap. The render path is the tiler's: outline from the COG, clip to the polygon.

use std::collections::HashMap;

use serde_json::Value;
use vivacampo_raster::crs::Crs;
use vivacampo_raster::render::{self, BandLayout, Clip, DecodedWindow};
use vivacampo_raster::{colormap, field_week, index, mask, tiff, tile, warp};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Pixels of a tile listed as `[row, start, end)` runs.
fn from_runs(runs: &Value) -> Vec<bool> {
    let mut out = vec![false; 256 * 256];
    for run in runs.as_array().unwrap() {
        let r: Vec<usize> = run
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap() as usize)
            .collect();
        out[r[0] * 256 + r[1]..r[0] * 256 + r[2]].fill(true);
    }
    out
}

#[test]
fn tiles_agree_with_rio_tiler() {
    let reference: Value =
        serde_json::from_slice(&std::fs::read(fixture("field_week_tiles.json")).unwrap()).unwrap();
    let mut cogs = HashMap::new();
    let (mut compared, mut worst_mad, mut worst_share) = (0, 0.0f64, 1.0f64);
    let mut indices_seen = std::collections::BTreeSet::new();
    for t in reference["tiles"].as_array().unwrap() {
        let name = t["cog"].as_str().unwrap();
        let (bytes, cog, outline) = cogs.entry(name).or_insert_with(|| {
            let bytes = std::fs::read(fixture(name)).unwrap();
            let cog = tiff::open(&bytes).unwrap();
            let outline = field_week::field_outline(&cog, &Crs::WebMercator)
                .unwrap()
                .expect("a field-week COG carries its outline");
            (bytes, cog, outline)
        });
        let layout = BandLayout::of(cog);
        let (z, x, y) = (
            t["z"].as_u64().unwrap() as u8,
            t["x"].as_u64().unwrap() as u32,
            t["y"].as_u64().unwrap() as u32,
        );
        let grid = tile::grid(z, x, y, 256);
        // The polygon covers the same pixel centres as rasterio's geometry_mask.
        let inside = mask::rasterize(outline, &grid.transform, 256, 256, false).unwrap();
        let differ = inside
            .iter()
            .zip(from_runs(&t["inside"]))
            .filter(|(a, b)| **a != *b)
            .count();
        assert!(
            differ <= 2,
            "{name} {z}/{x}/{y}: {differ} pixels differ in the outline"
        );
        let (plan, positions) = warp::plan_with_positions(cog, &grid).unwrap();
        let window = plan.window.expect("the tile overlaps the field");
        let raster = cog.read_window(&bytes[..], plan.level, window).unwrap();
        let decoded = DecodedWindow {
            level: plan.level,
            window,
            raster: &raster,
            bands: None,
            mask: None,
            positions: Some(&positions),
        };
        // Which pixels show: the same as rio-tiler's, but for a few edge pixels of nodata.
        let theirs = from_runs(&t["valid"]);
        for (name, samples) in t["indices"].as_object().unwrap() {
            indices_seen.insert(name.clone());
            let selection = layout.selection(name).unwrap();
            let ours =
                render::tile_values(cog, &decoded, &grid, &selection, Clip::Polygons(outline))
                    .unwrap();
            let both = ours
                .iter()
                .zip(&theirs)
                .filter(|(v, t)| v.is_finite() && **t)
                .count();
            let either = ours
                .iter()
                .zip(&theirs)
                .filter(|(v, t)| v.is_finite() || **t)
                .count();
            if either > 0 {
                worst_share = worst_share.min(both as f64 / either as f64);
            }
            assert!(
                both as f64 >= 0.97 * either as f64,
                "{name} {z}/{x}/{y}: outlines differ ({both} of {either} pixels shared)"
            );
            let info = index::info(name).unwrap();
            let span = info.range[1] - info.range[0];
            let (mut sum, mut n) = (0.0, 0usize);
            for s in samples.as_array().unwrap() {
                let (i, want) = (s[0].as_u64().unwrap() as usize, s[1].as_f64().unwrap());
                if ours[i].is_finite() {
                    sum += (ours[i] - want).abs();
                    n += 1;
                }
            }
            assert!(n > 0 || samples.as_array().unwrap().is_empty());
            if n > 0 {
                let mad = sum / n as f64 / span;
                worst_mad = worst_mad.max(mad);
                assert!(
                    mad < 0.01,
                    "{name} {z}/{x}/{y}: mean absolute difference {:.3} % of the range",
                    mad * 100.0
                );
                compared += n;
            }
        }
    }
    let scalar: Vec<String> = index::catalogue()
        .into_iter()
        .map(|i| i.name.to_owned())
        .filter(|n| n != "true_color")
        .collect();
    assert_eq!(
        indices_seen.into_iter().collect::<Vec<_>>(),
        {
            let mut all = scalar;
            all.sort();
            all
        },
        "every index is compared"
    );
    assert!(compared > 10_000, "only {compared} values compared");
    println!(
        "{compared} values: worst tile mean absolute difference {:.4} % of the range; \
         outlines share at least {:.2} % of pixels",
        worst_mad * 100.0,
        worst_share * 100.0
    );
    // The same colormap as TiTiler's.
    let ours = colormap::get("rdylgn").unwrap();
    for (i, c) in reference["colormaps"]["rdylgn"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
    {
        for k in 0..3 {
            let want = c[k].as_i64().unwrap();
            assert!(
                (i64::from(ours[i][k]) - want).abs() <= 1,
                "rdylgn[{i}] = {:?}, TiTiler {c}",
                ours[i]
            );
        }
    }
}
