//! Every index's display range against real field-weeks: the demo pivot on a clear week and a
//! rectangular field on a partly cloudy one (`fixtures/field_week*.tif`, written by the demo
//! pipeline). A range that misses what fields show paints the whole field one end colour of the
//! legend (NDWI over −0.5…0.5 made a healthy crop, at −0.7, look like no data). Each index's
//! tile of each field must use several colours, and the field's median must sit inside the
//! range, not at one end of it.

use std::collections::BTreeSet;

use serde_json::Value;
use vivacampo_raster::crs::Crs;
use vivacampo_raster::render::{BandLayout, Clip, DecodedWindow, tile_values};
use vivacampo_raster::{colormap, field_week, index, tiff, tile, warp};

fn fixture(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The z15 tile over the middle of each fixture COG (the tiles the TiTiler reference lists).
fn middle_tiles() -> Vec<(String, u8, u32, u32)> {
    let reference: Value =
        serde_json::from_slice(&std::fs::read(fixture("field_week_tiles.json")).unwrap()).unwrap();
    let mut seen = BTreeSet::new();
    reference["tiles"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["z"] == 15)
        .filter_map(|t| {
            let cog = t["cog"].as_str().unwrap().to_string();
            seen.insert(cog.clone()).then(|| {
                (
                    cog,
                    15,
                    t["x"].as_u64().unwrap() as u32,
                    t["y"].as_u64().unwrap() as u32,
                )
            })
        })
        .collect()
}

#[test]
fn every_index_shows_contrast_on_the_demo_fields() {
    let tiles = middle_tiles();
    assert_eq!(tiles.len(), 2, "{tiles:?}");
    let (mut report, mut failures) = (Vec::new(), Vec::new());
    for (name, z, x, y) in &tiles {
        let bytes = std::fs::read(fixture(name)).unwrap();
        let cog = tiff::open(&bytes).unwrap();
        let outline = field_week::field_outline(&cog, &Crs::WebMercator)
            .unwrap()
            .unwrap();
        let grid = tile::grid(*z, *x, *y, 256);
        let (plan, positions) = warp::plan_with_positions(&cog, &grid).unwrap();
        let window = plan.window.unwrap();
        let raster = cog.read_window(&bytes[..], plan.level, window).unwrap();
        let decoded = DecodedWindow {
            level: plan.level,
            window,
            raster: &raster,
            bands: None,
            mask: None,
            positions: Some(&positions),
        };
        let layout = BandLayout::of(&cog);
        for info in index::catalogue()
            .into_iter()
            .filter(|i| i.name != "true_color")
        {
            let selection = layout.selection(info.name).unwrap();
            let values =
                tile_values(&cog, &decoded, &grid, &selection, Clip::Polygons(&outline)).unwrap();
            let cmap = colormap::get(info.colormap).unwrap();
            let [lo, hi] = info.range;
            let rgba = colormap::apply(&values, lo, hi, &cmap);
            let colours: BTreeSet<&[u8]> = rgba
                .chunks_exact(4)
                .filter(|px| px[3] == 255)
                .map(|px| &px[..3])
                .collect();
            let mut shown: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
            assert!(
                shown.len() > 1000,
                "{name} {}: {} pixels",
                info.name,
                shown.len()
            );
            shown.sort_by(f64::total_cmp);
            let median = shown[shown.len() / 2];
            let place = (median - lo) / (hi - lo);
            report.push(format!(
                "{name} {}: median {median:.3} at {:.0} % of {lo}…{hi}, {} colours",
                info.name,
                place * 100.0,
                colours.len()
            ));
            if colours.len() < 8 {
                failures.push(format!(
                    "{name} {}: the field shows {} colours",
                    info.name,
                    colours.len()
                ));
            }
            if !(0.05..=0.95).contains(&place) {
                failures.push(format!(
                    "{name} {}: the field's median {median:.3} is at an end of the range {lo}…{hi}",
                    info.name
                ));
            }
        }
    }
    println!("{}", report.join("\n"));
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
