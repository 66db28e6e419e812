//! Demo catalog end to end, offline: generate → search the directory → open COGs through the
//! byte sources → read windows and a field grid; the pixels say what the catalog says.

use time::macros::{date, datetime};
use vivacampo_imagery::demo::{self, DEMO_PIVOT, DemoOptions};
use vivacampo_imagery::observation::read_observation;
use vivacampo_imagery::source::HttpOptions;
use vivacampo_imagery::source::{SourceOptions, Sources};
use vivacampo_imagery::stac::{Catalog, Search, StaticCatalog};
use vivacampo_raster::crs::Crs;
use vivacampo_raster::field_week::{Composite, FieldGrid};
use vivacampo_raster::geo::{GeoTransform, Grid};
use vivacampo_raster::index::Band;
use vivacampo_raster::mask::{self, SclPolicy};
use vivacampo_raster::tiff::Window;
use vivacampo_raster::warp::Resampling;

#[tokio::test]
async fn generate_search_open_read() {
    let dir = std::env::temp_dir().join(format!("vc-imagery-demo-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let mut opts = DemoOptions::new(2, date!(2026 - 01 - 10));
    opts.size_m = 2400.0;
    let mut calls = 0;
    let summary = demo::generate(&dir, &opts, |_, _| calls += 1).unwrap();
    assert_eq!(summary.scene_ids.len(), 3, "2 weeks every 5 days");
    assert_eq!(calls, 3);
    // Deterministic: the same seed writes the same bytes.
    let again = dir.join("again");
    demo::generate(&again, &opts, |_, _| {}).unwrap();
    let id = &summary.scene_ids[0];
    assert_eq!(
        std::fs::read(dir.join(id).join("B08.tif")).unwrap(),
        std::fs::read(again.join(id).join("B08.tif")).unwrap()
    );
    // The demo cache: same options, nothing to do; other options, made again.
    assert!(!demo::ensure(&again, &opts, |_, _| {}).unwrap());
    let other = DemoOptions {
        seed: opts.seed + 1,
        ..opts.clone()
    };
    assert!(demo::ensure(&again, &other, |_, _| {}).unwrap());
    // Without catalog.json, a directory of items is a catalog too.
    std::fs::remove_file(again.join("catalog.json")).unwrap();
    let items = StaticCatalog::new(&again).items().unwrap();
    let of = |c: &str| {
        items
            .iter()
            .filter(|s| s.collection.as_deref() == Some(c))
            .count()
    };
    assert_eq!(of("sentinel-2-l2a"), 3);
    // Sentinel-1 RTC passes every 6 days, the newest two days before the end date.
    assert_eq!(of("sentinel-1-rtc"), 2);
    std::fs::remove_dir_all(&again).unwrap();

    let catalog = Catalog::from_config(dir.to_str().unwrap(), &HttpOptions::default()).unwrap();
    let ((lon, lat), _) = DEMO_PIVOT;
    let week = Search::bbox(
        [lon - 0.001, lat - 0.001, lon + 0.001, lat + 0.001],
        datetime!(2026-01-04 0:00 UTC),
        datetime!(2026-01-10 23:59:59 UTC),
    );
    let scenes = catalog.search(&week).await.unwrap();
    assert_eq!(scenes.len(), 2, "Jan 5 and Jan 10");
    let far = Search::bbox([10.0, 10.0, 11.0, 11.0], week.start, week.end);
    assert!(catalog.search(&far).await.unwrap().is_empty());
    let scene = &scenes[1];
    assert_eq!(scene.epsg, Some(32722));
    assert_eq!(scene.assets.len(), 11);
    assert_eq!(scene.processing_baseline.as_deref(), Some("05.10"));

    let sources = Sources::new(SourceOptions::default());
    let red = sources.open(&scene.assets["B04"].href).await.unwrap();
    let scl = sources.open(&scene.assets["SCL"].href).await.unwrap();
    assert_eq!(red.tiff.width(), 240);
    assert_eq!(scl.tiff.width(), 120);
    assert!(red.tiff.levels.len() == 1 || red.tiff.is_cog());
    let w = red
        .read_window(0, Window::new(0, 0, 240, 240))
        .await
        .unwrap();
    assert!(
        (0..w.width * w.height).all(|i| w.data.get_f64(i) >= 1000.0),
        "DN carries +1000"
    );
    let classes = scl
        .read_window(0, Window::new(0, 0, 120, 120))
        .await
        .unwrap();
    assert!((0..120 * 120).all(|i| matches!(classes.data.get_f64(i) as u8, 3 | 4 | 5 | 8 | 9)));

    // The pivot in mid-season, read into a 10 m grid around its centre: soybean NDVI is high
    // wherever SCL says the ground is clear.
    let utm = Crs::from_epsg(32722).unwrap();
    let (x, y) = utm.from_lonlat(lon, lat);
    let grid = Grid {
        width: 40,
        height: 40,
        transform: GeoTransform::north_up(x - 200.0, y + 200.0, 10.0, 10.0),
        epsg: 32722,
    };
    let nir = sources.open(&scene.assets["B08"].href).await.unwrap();
    let r = red
        .read_into_grid(grid, Resampling::Nearest, None)
        .await
        .unwrap();
    let n = nir
        .read_into_grid(grid, Resampling::Nearest, None)
        .await
        .unwrap();
    let c = scl
        .read_into_grid(grid, Resampling::Nearest, None)
        .await
        .unwrap();
    let a = &scene.assets["B04"];
    let mut clear = 0;
    for i in 0..40 * 40 {
        let class = c.data.get_f64(i);
        if class == 4.0 || class == 5.0 {
            let red = r.data.get_f64(i) * a.scale + a.offset;
            let nir = n.data.get_f64(i) * a.scale + a.offset;
            let ndvi = (nir - red) / (nir + red);
            assert!(ndvi > 0.6, "soybean in January: {ndvi}");
            clear += 1;
        }
    }
    assert!(clear > 0, "no clear pixel ({} % cloud)", scene.cloud_cover);

    // The same through the field-grid path PROCESS_WEEK uses: every index band and SCL as
    // reflectance on the pivot's grid, then the week composite of the raster engine.
    let field = mask::Polygon {
        exterior: (0..=32)
            .map(|k| {
                let t = f64::from(k) / 32.0 * std::f64::consts::TAU;
                (lon + 0.004 * t.cos(), lat + 0.004 * t.sin())
            })
            .collect(),
        holes: vec![],
    };
    let fg = FieldGrid::new(&[field]).unwrap();
    let mut observations = Vec::new();
    for s in scenes.iter().rev() {
        observations.push(
            read_observation(&sources, s, fg.grid, &Band::ALL)
                .await
                .unwrap(),
        );
    }
    let o = &observations[0];
    assert_eq!(o.scl.len(), fg.grid.width * fg.grid.height);
    assert!(o.cloud_fraction(&fg.zone).is_some());
    let composite =
        Composite::newest_clear(&observations, SclPolicy::Default, o.scl.len()).unwrap();
    let ndvi = composite.index_stats(&fg.zone).unwrap();
    let (_, st) = ndvi.iter().find(|(name, _)| *name == "ndvi").unwrap();
    assert!(st.mean.unwrap() > 0.6, "{st:?}");
    std::fs::remove_dir_all(&dir).unwrap();
}
