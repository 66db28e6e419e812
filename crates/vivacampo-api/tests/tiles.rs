//! The tile endpoints (API.md "Tiles") over a real field-week COG in a local raster store.

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::tiles::TileConfig;
use vivacampo_api::tiles::signing::TileGrant;
use vivacampo_api::{AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::source::{HttpOptions, S3Options};
use vivacampo_imagery::store::{RasterStore, RasterVersion, field_week_key, radar_week_key};
use vivacampo_raster::cog::{self, CogOptions, Interleave, Overviews};
use vivacampo_raster::field_week::FieldGrid;
use vivacampo_raster::geo::Georef;
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::BandInfo;
use vivacampo_store::field_weeks::{WeekResult, WeekStatus};
use vivacampo_store::radar::{RadarStatus, RadarWeekResult};
use vivacampo_store::testing::TestDb;

mod support;
use support::config;

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.bytes).unwrap_or(Value::Null)
    }
    fn header(&self, name: header::HeaderName) -> &str {
        self.headers
            .get(name)
            .map_or("", |v| v.to_str().unwrap_or(""))
    }
}

struct App {
    router: axum::Router,
    state: AppState,
}

impl App {
    async fn get(&self, path: &str, token: Option<&str>, etag: Option<&str>) -> Reply {
        let mut req = Request::builder()
            .method("GET")
            .uri(path)
            .header(header::HOST, "tiles.test");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(e) = etag {
            req = req.header(header::IF_NONE_MATCH, e);
        }
        self.send(req.body(Body::empty()).unwrap()).await
    }

    async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Value {
        let mut req = Request::builder()
            .method("POST")
            .uri(path)
            .header(header::CONTENT_TYPE, "application/json");
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let r = self
            .send(req.body(Body::from(body.to_string())).unwrap())
            .await;
        assert!(r.status.is_success(), "{path}: {}", r.json());
        r.json()
    }

    async fn send(&self, req: Request<Body>) -> Reply {
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        Reply {
            status,
            headers,
            bytes,
        }
    }
}

/// A field-week COG as the worker writes it: B02…B12 as DN (scale 1e-4, offset −0.1), a `mask`
/// band (1 on the field's clear pixels) and the field outline in the metadata. NIR rises from
/// west to east, so NDVI varies across the field; the western `cloud` share of the grid has no
/// clear observation (nodata). The worker writes band-interleaved COGs; pixel-interleaved ones
/// (of earlier versions) render too.
fn field_week_cog(geometry: &Value, cloud: f64, interleave: Interleave) -> Vec<u8> {
    let polygons = vivacampo_raster::mask::polygons_from_geojson(&geometry.to_string()).unwrap();
    let field = FieldGrid::new(&polygons).unwrap();
    let (w, h) = (field.grid.width, field.grid.height);
    let dn = |reflectance: f64| ((reflectance + 0.1) / 1e-4).round() as u16;
    let mut data = Vec::with_capacity(w * h * 8);
    for band in ["B02", "B03", "B04", "B05", "B08", "B11", "B12"] {
        for _row in 0..h {
            for col in 0..w {
                let t = col as f64 / w as f64;
                if t < cloud {
                    data.push(0);
                    continue;
                }
                data.push(dn(match band {
                    "B04" => 0.05,
                    "B08" => 0.2 + 0.3 * t,
                    "B05" => 0.15,
                    _ => 0.08,
                }));
            }
        }
    }
    data.extend(
        field
            .zone
            .iter()
            .enumerate()
            .map(|(i, &z)| u16::from(z && (i % w) as f64 / w as f64 >= cloud)),
    );
    let raster = Raster {
        width: w,
        height: h,
        bands: 8,
        data: Buffer::U16(data),
    };
    let mut options = CogOptions::new(Georef {
        epsg: Some(field.grid.epsg),
        transform: field.grid.transform,
    });
    options.nodata = Some(0.0);
    options.overviews = Overviews::Average;
    options.interleave = interleave;
    options.bands = ["B02", "B03", "B04", "B05", "B08", "B11", "B12", "mask"]
        .iter()
        .map(|name| BandInfo {
            description: Some((*name).to_owned()),
            scale: (*name != "mask").then_some(1e-4),
            offset: (*name != "mask").then_some(-0.1),
        })
        .collect();
    options.metadata = vec![(
        vivacampo_raster::field_week::FIELD_ITEM.to_owned(),
        geometry.to_string(),
    )];
    cog::write(&raster, &options).unwrap()
}

async fn record_week(db: &TestDb, tenant: &str, aoi: &str, week: u8, key: Option<&str>) {
    let result = WeekResult {
        week: IsoWeek::new(2026, week).unwrap(),
        status: if key.is_some() {
            WeekStatus::Ok
        } else {
            WeekStatus::Cloudy
        },
        scene_datetime: Some(1_772_446_500_000),
        cloud_fraction: Some(0.1),
        valid_pixel_ratio: Some(0.9),
        raster_key: key.map(str::to_owned),
        raster_bytes: Some(1),
        scenes: json!([]),
        stats: vec![],
    };
    db.store
        .record_aoi_week(tenant, aoi, &result)
        .await
        .unwrap();
}

fn query_param<'a>(url: &'a str, name: &str) -> &'a str {
    url.split(['?', '&'])
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .unwrap_or("")
}

fn with_param(url: &str, name: &str, value: &str) -> String {
    let old = format!("{name}={}", query_param(url, name));
    url.replacen(&old, &format!("{name}={value}"), 1)
}

/// The path and query of a TileJSON template for one tile.
fn tile_path(template: &str, z: u8, x: u32, y: u32) -> String {
    template
        .trim_start_matches("http://tiles.test")
        .replace("{z}", &z.to_string())
        .replace("{x}", &x.to_string())
        .replace("{y}", &y.to_string())
}

fn metric(text: &str, series: &str) -> f64 {
    text.lines()
        .find_map(|l| l.strip_prefix(series))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0.0)
}

fn decode_png(bytes: &[u8]) -> Vec<u8> {
    let mut dec = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let mut buf = vec![0; dec.output_buffer_size().unwrap()];
    let info = dec.next_frame(&mut buf).unwrap();
    assert_eq!((info.width, info.height), (256, 256));
    buf
}

/// A radar COG as PROCESS_RADAR_WEEK writes it: `VV`, `VH` (float32 linear power, NaN outside
/// the field and where invalid) and `mask`, band-interleaved, the outline in the metadata. VH
/// rises from west to east (RVI 0.4 … 1.0); the western `gap` share has no valid pixel.
fn radar_cog(geometry: &Value, gap: f64) -> Vec<u8> {
    let polygons = vivacampo_raster::mask::polygons_from_geojson(&geometry.to_string()).unwrap();
    let field = FieldGrid::new(&polygons).unwrap();
    let (w, h) = (field.grid.width, field.grid.height);
    let valid = |i: usize| field.zone[i] && (i % w) as f64 / w as f64 >= gap;
    let mut data: Vec<f32> = Vec::with_capacity(w * h * 3);
    for band in 0..3 {
        for i in 0..w * h {
            let t = (i % w) as f64 / w as f64;
            // RVI = 4·VH/(VV+VH): VH/VV from 0.11 to 0.33.
            let (vv, vh) = (0.1, 0.011 + 0.022 * t);
            data.push(match (band, valid(i)) {
                (2, ok) => f32::from(u8::from(ok)),
                (_, false) => f32::NAN,
                (0, true) => vv as f32,
                (_, true) => vh as f32,
            });
        }
    }
    let raster = Raster {
        width: w,
        height: h,
        bands: 3,
        data: Buffer::F32(data),
    };
    let mut options = CogOptions::new(Georef {
        epsg: Some(field.grid.epsg),
        transform: field.grid.transform,
    });
    options.nodata = Some(f64::NAN);
    options.overviews = Overviews::Average;
    options.interleave = Interleave::Band;
    options.bands = ["VV", "VH", "mask"]
        .iter()
        .map(|name| BandInfo {
            description: Some((*name).to_owned()),
            scale: None,
            offset: None,
        })
        .collect();
    options.metadata = vec![(
        vivacampo_raster::field_week::FIELD_ITEM.to_owned(),
        geometry.to_string(),
    )];
    cog::write(&raster, &options).unwrap()
}

async fn record_radar_week(db: &TestDb, tenant: &str, aoi: &str, week: u8, key: Option<&str>) {
    let result = RadarWeekResult {
        week: IsoWeek::new(2026, week).unwrap(),
        status: if key.is_some() {
            RadarStatus::Ok
        } else {
            RadarStatus::NoData
        },
        scene_datetime: key.map(|_| 1_772_441_712_000),
        orbit: Some("descending".into()),
        valid_pixel_ratio: key.map(|_| 0.6),
        raster_key: key.map(str::to_owned),
        raster_bytes: key.map(|_| 1),
        scenes: json!([]),
        stats: vec![],
    };
    db.store
        .record_radar_week(tenant, aoi, &result)
        .await
        .unwrap();
}

/// Longitude and latitude of a tile pixel's centre.
fn pixel_lonlat(z: u8, x: u32, y: u32, px: usize, py: usize) -> (f64, f64) {
    let n = f64::from(1u32 << z) * 256.0;
    let gx = f64::from(x) * 256.0 + px as f64 + 0.5;
    let gy = f64::from(y) * 256.0 + py as f64 + 0.5;
    let lon = gx / n * 360.0 - 180.0;
    let lat = (std::f64::consts::PI * (1.0 - 2.0 * gy / n))
        .sinh()
        .atan()
        .to_degrees();
    (lon, lat)
}

#[tokio::test]
async fn radar_tiles_of_a_field_week() {
    for db in TestDb::all().await {
        radar_tiles(&db).await;
        db.drop_db().await;
    }
}

/// Radar indices have tiles: TileJSON (signed like the optical ones, radar legend, the latest
/// radar week) and PNG tiles drawn from the radar COG's VV/VH, transparent outside the field
/// and where the radar COG has no valid pixel.
async fn radar_tiles(db: &TestDb) {
    let raster_dir = std::env::temp_dir().join(format!("vc-radar-tiles-{}", uuid::Uuid::new_v4()));
    let state = AppState::with_tiles(
        db.store.clone(),
        RasterStore::local(&raster_dir).unwrap(),
        config(),
        Arc::new(Registry::new()),
        TileConfig {
            concurrency: 2,
            ..TileConfig::ephemeral()
        },
    );
    let app = App {
        router: router(state.clone()),
        state,
    };
    let ana = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "ana@x.io", "password": "segredo-forte", "name": "Ana"}),
        )
        .await;
    let (t, tenant) = (
        ana["token"].as_str().unwrap().to_owned(),
        ana["tenant"]["id"].as_str().unwrap().to_owned(),
    );
    let farm = app.post("/v1/farms", Some(&t), json!({"name": "F"})).await;
    let (lon, lat, side) = (-49.3, -16.7, 0.01);
    let geometry = json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]]});
    let aoi = app
        .post(
            "/v1/aois",
            Some(&t),
            json!({"farm_id": farm["id"], "name": "Talhão 1", "use_type": "CROP", "geometry": geometry}),
        )
        .await;
    let aoi_id = aoi["id"].as_str().unwrap().to_owned();
    let key = radar_week_key(
        tenant.parse().unwrap(),
        aoi_id.parse().unwrap(),
        2026,
        10,
        RasterVersion {
            geometry: 1,
            stamp: 1_795_000_000_000,
        },
    );
    std::fs::create_dir_all(raster_dir.join(&key).parent().unwrap()).unwrap();
    std::fs::write(raster_dir.join(&key), radar_cog(&geometry, 0.4)).unwrap();
    // Week 10 is cloudy for the optical sensor and OK for radar; week 11 has no radar.
    record_week(db, &tenant, &aoi_id, 10, None).await;
    record_radar_week(db, &tenant, &aoi_id, 10, Some(&key)).await;
    record_radar_week(db, &tenant, &aoi_id, 11, None).await;

    let base = format!("/v1/tiles/aois/{aoi_id}/tilejson.json");
    // The optical index has no week to show; the radar one has.
    let ndvi = app.get(&format!("{base}?index=ndvi"), Some(&t), None).await;
    assert_eq!(ndvi.status, StatusCode::NOT_FOUND);
    let missing = app
        .get(
            &format!("{base}?index=rvi&year=2026&week=11"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(missing.status, StatusCode::NOT_FOUND, "{}", missing.json());
    assert!(missing.json().to_string().contains("radar"));

    let tj = app
        .get(
            &format!("{base}?index=rvi&year=2026&week=10"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(tj.status, StatusCode::OK, "{}", tj.json());
    let tj = tj.json();
    assert_eq!(tj["index"], "rvi");
    assert_eq!(tj["sensor"], "radar");
    assert_eq!(
        (tj["year"].as_i64(), tj["week"].as_i64()),
        (Some(2026), Some(10))
    );
    let legend = tj["legend"].as_array().unwrap();
    assert_eq!(legend.len(), 5);
    assert_eq!(
        (legend[0]["value"].as_f64(), legend[4]["value"].as_f64()),
        (Some(0.0), Some(1.2)),
        "the range /v1/indices advertises"
    );
    let template = tj["tiles"][0].as_str().unwrap().to_owned();
    assert_eq!(query_param(&template, "index"), "rvi");
    assert_eq!(query_param(&template, "v"), "1-1795000000000");
    assert!(!query_param(&template, "sig").is_empty());
    assert!(!tj.to_string().contains(".tif"), "no storage path");

    // A tile over the field's east edge: the field's valid (eastern) part is coloured, outside
    // the field and its invalid western part are transparent.
    let z = 15;
    let (cx, cy) = vivacampo_raster::tile::tile_for_lonlat(lon + side, lat + side / 2.0, z);
    let tile = app.get(&tile_path(&template, z, cx, cy), None, None).await;
    assert_eq!(tile.status, StatusCode::OK, "{}", tile.json());
    assert_eq!(tile.header(header::CONTENT_TYPE), "image/png");
    assert!(tile.header(header::CACHE_CONTROL).contains("immutable"));
    let pixels = decode_png(&tile.bytes);
    let (mut shown, mut hidden_outside, mut outside) = (0, 0, 0);
    let margin = side * 0.03;
    for py in 0..256 {
        for px in 0..256 {
            let (plon, plat) = pixel_lonlat(z, cx, cy, px, py);
            let alpha = pixels[(py * 256 + px) * 4 + 3];
            let inside = plon > lon + margin
                && plon < lon + side - margin
                && plat > lat + margin
                && plat < lat + side - margin;
            let beyond = plon < lon - margin
                || plon > lon + side + margin
                || plat < lat - margin
                || plat > lat + side + margin;
            if beyond {
                outside += 1;
                hidden_outside += usize::from(alpha == 0);
            } else if inside && plon > lon + 0.45 * side {
                assert_eq!(alpha, 255, "valid radar pixel at {plon},{plat}");
                shown += 1;
            } else if inside && plon < lon + 0.35 * side {
                assert_eq!(alpha, 0, "no radar at {plon},{plat}");
            }
        }
    }
    assert!(shown > 1000, "coloured pixels: {shown}");
    assert!(outside > 1000, "the tile reaches beyond the field");
    assert_eq!(hidden_outside, outside, "transparent outside the field");
    // RVI rises west to east: the colours differ across the field.
    let colours: std::collections::HashSet<_> = pixels
        .chunks_exact(4)
        .filter(|p| p[3] == 255)
        .map(|p| (p[0], p[1], p[2]))
        .collect();
    assert!(colours.len() >= 4, "{} colours", colours.len());

    // Every radar index renders from the same COG; the signature binds the index.
    for index in ["vh_vv", "vv_db", "vh_db"] {
        let tj = app
            .get(
                &format!("{base}?index={index}&year=2026&week=10"),
                Some(&t),
                None,
            )
            .await
            .json();
        let template = tj["tiles"][0].as_str().unwrap();
        let tile = app.get(&tile_path(template, z, cx, cy), None, None).await;
        assert_eq!(tile.status, StatusCode::OK, "{index}");
        decode_png(&tile.bytes);
    }
    let swapped = with_param(&tile_path(&template, z, cx, cy), "index", "ndvi");
    assert_eq!(
        app.get(&swapped, None, None).await.status,
        StatusCode::UNAUTHORIZED
    );

    // "Latest" for a radar index is the latest OK radar week (the optical series has none).
    let latest = app
        .get(&format!("{base}?index=vh_db"), Some(&t), None)
        .await;
    assert_eq!(latest.status, StatusCode::OK, "{}", latest.json());
    let latest = latest.json();
    assert!(latest["year"].is_null());
    let latest_template = latest["tiles"][0].as_str().unwrap();
    let tile = app
        .get(&tile_path(latest_template, z, cx, cy), None, None)
        .await;
    assert_eq!(tile.status, StatusCode::OK);
    assert!(tile.header(header::CACHE_CONTROL).contains("max-age=60"));
    // The optical "latest" of the same field still has nothing (remembered apart).
    let optical = app.state.tiler().signer().sign(&TileGrant {
        tenant: &tenant,
        aoi: &aoi_id,
        index: "ndvi",
        week: None,
        version: "",
        expires: 4_102_444_800,
    });
    let ndvi_tile = app
        .get(
            &format!(
                "/v1/tiles/aois/{aoi_id}/{z}/{cx}/{cy}.png?index=ndvi&tenant={tenant}&exp=4102444800&sig={optical}"
            ),
            None,
            None,
        )
        .await;
    assert_eq!(ndvi_tile.status, StatusCode::NOT_FOUND);
    let _ = std::fs::remove_dir_all(raster_dir);
}

#[tokio::test]
async fn signed_cached_tiles_of_a_field_week() {
    for db in TestDb::all().await {
        signed_cached_tiles(&db).await;
        db.drop_db().await;
    }
}

async fn signed_cached_tiles(db: &TestDb) {
    let raster_dir = std::env::temp_dir().join(format!("vc-tiles-{}", uuid::Uuid::new_v4()));
    let state = AppState::with_tiles(
        db.store.clone(),
        RasterStore::local(&raster_dir).unwrap(),
        config(),
        Arc::new(Registry::new()),
        TileConfig {
            concurrency: 2,
            ..TileConfig::ephemeral()
        },
    );
    let app = App {
        router: router(state.clone()),
        state,
    };
    let signup =
        |email: &'static str| json!({"email": email, "password": "segredo-forte", "name": "Ana"});
    let ana = app.post("/v1/auth/signup", None, signup("ana@x.io")).await;
    let eve = app.post("/v1/auth/signup", None, signup("eve@x.io")).await;
    let (t, tenant) = (
        ana["token"].as_str().unwrap().to_owned(),
        ana["tenant"]["id"].as_str().unwrap().to_owned(),
    );
    let eve_token = eve["token"].as_str().unwrap().to_owned();
    let eve_tenant = eve["tenant"]["id"].as_str().unwrap().to_owned();
    let farm = app.post("/v1/farms", Some(&t), json!({"name": "F"})).await;
    let (lon, lat, side) = (-49.3, -16.7, 0.01);
    let geometry = json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]]});
    let aoi = app
        .post(
            "/v1/aois",
            Some(&t),
            json!({"farm_id": farm["id"], "name": "Talhão 1", "use_type": "CROP", "geometry": geometry}),
        )
        .await;
    let aoi_id = aoi["id"].as_str().unwrap().to_owned();
    let key_of = |stamp: u64| {
        field_week_key(
            tenant.parse().unwrap(),
            aoi_id.parse().unwrap(),
            2026,
            10,
            RasterVersion { geometry: 1, stamp },
        )
    };
    let key = key_of(1_795_000_000_000);
    std::fs::create_dir_all(raster_dir.join(&key).parent().unwrap()).unwrap();
    std::fs::write(
        raster_dir.join(&key),
        field_week_cog(&geometry, 0.4, Interleave::Pixel),
    )
    .unwrap();
    record_week(db, &tenant, &aoi_id, 10, Some(&key)).await;
    record_week(db, &tenant, &aoi_id, 11, None).await;

    // The index catalogue, with legends, needs no login.
    let indices = app.get("/v1/indices", None, None).await;
    assert_eq!(indices.status, StatusCode::OK);
    let items = indices.json()["items"].as_array().unwrap().clone();
    // 13 optical indices and true colour, and the 4 radar ones.
    assert_eq!(items.len(), 18);
    let radar = items.iter().filter(|i| i["sensor"] == "radar").count();
    assert_eq!(radar, 4, "radar indices: {items:?}");
    assert!(
        items
            .iter()
            .all(|i| !i["legend"].as_array().unwrap().is_empty())
    );

    let doc = app.get("/v1/openapi.json", None, None).await.json();
    for path in [
        "/v1/tiles/aois/{id}/tilejson.json",
        "/v1/tiles/aois/{id}/{z}/{x}/{y}.png",
        "/v1/indices",
    ] {
        assert!(doc["paths"].get(path).is_some(), "OpenAPI documents {path}");
    }

    // TileJSON of a fixed week.
    let base = format!("/v1/tiles/aois/{aoi_id}/tilejson.json");
    let tj = app
        .get(
            &format!("{base}?index=ndvi&year=2026&week=10"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(tj.status, StatusCode::OK, "{}", tj.json());
    let tj = tj.json();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        (tj["minzoom"].as_u64(), tj["maxzoom"].as_u64()),
        (Some(10), Some(18))
    );
    assert!(tj["attribution"].as_str().unwrap().contains("Copernicus"));
    assert_eq!(tj["bounds"].as_array().unwrap().len(), 4);
    assert_eq!(tj["center"].as_array().unwrap().len(), 3);
    let template = tj["tiles"][0].as_str().unwrap().to_owned();
    assert!(template.starts_with(&format!(
        "http://tiles.test/v1/tiles/aois/{aoi_id}/{{z}}/{{x}}/{{y}}.png?"
    )));
    assert!(!query_param(&template, "sig").is_empty());
    let text = tj.to_string();
    assert!(
        !text.contains(".tif")
            && !text.contains("tenants/")
            && !text.contains(raster_dir.to_str().unwrap()),
        "no storage path: {text}"
    );

    // Inside the field: a PNG with the index colours inside and transparency outside.
    let (cx, cy) = vivacampo_raster::tile::tile_for_lonlat(lon + side / 2.0, lat + side / 2.0, 15);
    let inside = tile_path(&template, 15, cx, cy);
    let first = app.get(&inside, None, None).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.json());
    assert_eq!(first.header(header::CONTENT_TYPE), "image/png");
    assert_eq!(
        first.header(header::CACHE_CONTROL),
        "public, max-age=31536000, immutable"
    );
    let etag = first.header(header::ETAG).to_owned();
    assert!(etag.starts_with('"') && etag.len() > 10);
    let rgba = decode_png(&first.bytes);
    let opaque = rgba.chunks_exact(4).filter(|p| p[3] == 255).count();
    let clear = rgba.chunks_exact(4).filter(|p| p[3] == 0).count();
    assert!(opaque > 1000, "field pixels are coloured: {opaque}");
    assert!(clear > 1000, "outside the field is transparent: {clear}");
    assert_eq!(opaque + clear, 256 * 256);
    // NDVI rises west to east: the colours differ across the field.
    let colours: std::collections::HashSet<[u8; 4]> = rgba
        .chunks_exact(4)
        .filter(|p| p[3] == 255)
        .map(|p| [p[0], p[1], p[2], p[3]])
        .collect();
    assert!(colours.len() > 5, "{} colours", colours.len());

    // The edge follows the field's polygon at the tile's own resolution, not 10 m pixels.
    let mercator = vivacampo_raster::crs::Crs::WebMercator;
    let lonlat = vivacampo_raster::crs::Crs::LonLat { epsg: 4326 };
    let outline: Vec<_> = vivacampo_raster::mask::polygons_from_geojson(&geometry.to_string())
        .unwrap()
        .iter()
        .map(|p| p.reproject(&lonlat, &mercator))
        .collect();
    let (ex, ey) = vivacampo_raster::tile::tile_for_lonlat(lon + side, lat + side / 2.0, 17);
    let edge = app.get(&tile_path(&template, 17, ex, ey), None, None).await;
    assert_eq!(edge.status, StatusCode::OK);
    let grid = vivacampo_raster::tile::grid(17, ex, ey, 256);
    let inside_polygon =
        vivacampo_raster::mask::rasterize(&outline, &grid.transform, 256, 256, false).unwrap();
    let shown: Vec<bool> = decode_png(&edge.bytes)
        .chunks_exact(4)
        .map(|p| p[3] > 0)
        .collect();
    assert!(shown.iter().any(|&s| s) && shown.iter().any(|&s| !s));
    assert_eq!(shown, inside_polygon, "clipped exactly to the polygon");
    // Inside the field but all cloud: a transparent PNG, not "outside the field" (204).
    let (wx, wy) = vivacampo_raster::tile::tile_for_lonlat(lon + 0.2 * side, lat + side / 2.0, 18);
    let cloudy = app.get(&tile_path(&template, 18, wx, wy), None, None).await;
    assert_eq!(cloudy.status, StatusCode::OK);
    assert!(decode_png(&cloudy.bytes).chunks_exact(4).all(|p| p[3] == 0));

    // Second request: a cache hit, same bytes; a conditional one: 304.
    let metrics_before = app.get("/metrics", None, None).await;
    let hits_before = metric(
        &String::from_utf8_lossy(&metrics_before.bytes),
        "vivacampo_tile_cache_requests_total{cache=\"tile\",result=\"hit\"}",
    );
    let second = app.get(&inside, None, None).await;
    assert_eq!(
        (second.status, &second.bytes),
        (StatusCode::OK, &first.bytes)
    );
    assert_eq!(second.header(header::ETAG), etag);
    let metrics = String::from_utf8_lossy(&app.get("/metrics", None, None).await.bytes).to_string();
    assert_eq!(
        metric(
            &metrics,
            "vivacampo_tile_cache_requests_total{cache=\"tile\",result=\"hit\"}"
        ),
        hits_before + 1.0,
        "{metrics}"
    );
    assert!(metric(&metrics, "vivacampo_tile_renders_total{outcome=\"png\"}") >= 1.0);
    let not_modified = app.get(&inside, None, Some(&etag)).await;
    assert_eq!(not_modified.status, StatusCode::NOT_MODIFIED);
    assert!(not_modified.bytes.is_empty());
    assert_eq!(not_modified.header(header::ETAG), etag);

    // Wholly outside the field: 204, and once the COG's extent is known, without rendering.
    let empty = |m: &str| metric(m, "vivacampo_tile_renders_total{outcome=\"empty\"}");
    let empty_before = empty(&String::from_utf8_lossy(
        &app.get("/metrics", None, None).await.bytes,
    ));
    for (dlon, dlat) in [(0.2, 0.2), (-0.3, 0.1), (40.0, 10.0)] {
        let (ox, oy) = vivacampo_raster::tile::tile_for_lonlat(lon + dlon, lat + dlat, 15);
        let outside = app.get(&tile_path(&template, 15, ox, oy), None, None).await;
        assert_eq!(outside.status, StatusCode::NO_CONTENT);
    }
    let metrics = String::from_utf8_lossy(&app.get("/metrics", None, None).await.bytes).to_string();
    assert_eq!(empty(&metrics), empty_before, "{metrics}");

    let renders = |m: &str| {
        metric(m, "vivacampo_tile_renders_total{outcome=\"png\"}")
            + metric(m, "vivacampo_tile_renders_total{outcome=\"empty\"}")
            + metric(
                m,
                "vivacampo_tile_cache_requests_total{cache=\"header\",result=\"miss\"}",
            )
    };
    let rendered_before = renders(&String::from_utf8_lossy(
        &app.get("/metrics", None, None).await.bytes,
    ));

    // Bad requests are 400 whatever the signature.
    for (path, reason) in [
        (tile_path(&template, 31, 0, 0), "invalid_tile"),
        (tile_path(&template, 25, 0, 0), "zoom_out_of_range"),
        (tile_path(&template, 15, 1 << 15, 0), "invalid_tile"),
        (tile_path(&template, 9, 0, 0), "zoom_out_of_range"),
        (tile_path(&template, 19, 0, 0), "zoom_out_of_range"),
        (
            tile_path(&template, 15, cx, cy).replace(".png", ".jpg"),
            "invalid_tile",
        ),
        (with_param(&inside, "index", "ndxx"), "unknown_index"),
        (
            tile_path(&template, 15, 0, 0).replace("/15/0/", "/%FF/0/"),
            "invalid_tile",
        ),
    ] {
        let r = app.get(&path, None, None).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{path}");
        assert_eq!(r.json()["error"]["details"]["reason"], reason, "{path}");
    }

    // Missing, tampered, re-targeted and expired signatures: 401, before any read.
    let sig = query_param(&inside, "sig").to_owned();
    let mut tampered = sig.clone();
    tampered.replace_range(0..1, if sig.starts_with('0') { "1" } else { "0" });
    let tiler = app.state.tiler();
    let expired = tiler.signer().sign(&TileGrant {
        tenant: &tenant,
        aoi: &aoi_id,
        index: "ndvi",
        week: Some((2026, 10)),
        version: query_param(&inside, "v"),
        expires: 1_000_000,
    });
    let expired_url = with_param(&with_param(&inside, "exp", "1000000"), "sig", &expired);
    for (path, what) in [
        (inside.split("&sig=").next().unwrap().to_owned(), "missing"),
        (with_param(&inside, "sig", &tampered), "tampered"),
        (with_param(&inside, "tenant", &eve_tenant), "other tenant"),
        (with_param(&inside, "index", "ndre"), "other index"),
        (with_param(&inside, "week", "11"), "other week"),
        (with_param(&inside, "exp", "4102444800"), "longer expiry"),
        (expired_url, "expired"),
    ] {
        let r = app.get(&path, None, None).await;
        assert_eq!(r.status, StatusCode::UNAUTHORIZED, "{what}: {}", r.json());
    }
    let r = app
        .get(&with_param(&inside, "exp", "1000000"), None, None)
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    let metrics = String::from_utf8_lossy(&app.get("/metrics", None, None).await.bytes).to_string();
    assert_eq!(
        renders(&metrics),
        rendered_before,
        "refused requests read nothing"
    );

    // Another tenant cannot get a TileJSON (or anything) of this field.
    let r = app
        .get(
            &format!("{base}?index=ndvi&year=2026&week=10"),
            Some(&eve_token),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get(&format!("{base}?index=ndvi"), None, None).await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
    // A week without a raster, or an unknown index: no TileJSON.
    let r = app
        .get(
            &format!("{base}?index=ndvi&year=2026&week=11"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = app.get(&format!("{base}?index=nope"), Some(&t), None).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);

    // "Latest": the newest OK week, short-lived caching.
    let latest = app
        .get(&format!("{base}?index=true_color"), Some(&t), None)
        .await;
    assert_eq!(latest.status, StatusCode::OK);
    let latest = latest.json();
    assert!(latest["year"].is_null());
    let latest_template = latest["tiles"][0].as_str().unwrap();
    assert!(query_param(latest_template, "week").is_empty());
    let r = app
        .get(&tile_path(latest_template, 15, cx, cy), None, None)
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.header(header::CACHE_CONTROL), "public, max-age=60");
    let rgb = decode_png(&r.bytes);
    assert!(rgb.chunks_exact(4).any(|p| p[3] == 255));

    // Reprocessing writes a new file under a new key, so the week's URL changes (and with it
    // the ETag and every cache key); the worker then deletes the old file.
    let new_key = key_of(1_795_000_100_000);
    std::fs::write(
        raster_dir.join(&new_key),
        field_week_cog(&geometry, 0.0, Interleave::Band),
    )
    .unwrap();
    record_week(db, &tenant, &aoi_id, 10, Some(&new_key)).await;
    std::fs::remove_file(raster_dir.join(&key)).unwrap();
    let again = app
        .get(
            &format!("{base}?index=ndvi&year=2026&week=10"),
            Some(&t),
            None,
        )
        .await
        .json();
    let new_template = again["tiles"][0].as_str().unwrap();
    assert_ne!(query_param(new_template, "v"), query_param(&template, "v"));
    // While the raster is missing (its field deleted, say) a tile is 404, not 500.
    let cog_bytes = std::fs::read(raster_dir.join(&new_key)).unwrap();
    std::fs::remove_file(raster_dir.join(&new_key)).unwrap();
    let r = app
        .get(&tile_path(new_template, 18, wx, wy), None, None)
        .await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    std::fs::write(raster_dir.join(&new_key), cog_bytes).unwrap();
    // An old URL never shows the new content: its cached tile is the old one…
    let old = app.get(&inside, None, None).await;
    assert_eq!((old.status, &old.bytes), (StatusCode::OK, &first.bytes));
    assert_eq!(old.header(header::ETAG), etag);
    // …while the new URL shows the reprocessed week: where the cloud was, the field shows now.
    let new = app
        .get(&tile_path(new_template, 18, wx, wy), None, None)
        .await;
    assert_eq!(new.status, StatusCode::OK);
    assert_ne!(new.header(header::ETAG), cloudy.header(header::ETAG));
    assert!(decode_png(&new.bytes).chunks_exact(4).all(|p| p[3] == 255));
    let old = app.get(&tile_path(&template, 18, wx, wy), None, None).await;
    assert_eq!((old.status, &old.bytes), (StatusCode::OK, &cloudy.bytes));
    // Every render slot busy: a request waits briefly, then gets 503 with Retry-After.
    let tiler = app.state.tiler();
    // The test's state has two slots.
    let held = (
        tiler.admit().await.expect("a free slot"),
        tiler.admit().await.expect("a free slot"),
    );
    let busy = tile_path(new_template, 16, cx * 2, cy * 2);
    let started = std::time::Instant::now();
    let r = app.get(&busy, None, None).await;
    assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.json());
    assert_eq!(r.header(header::RETRY_AFTER), "1");
    assert_eq!(r.json()["error"]["code"], "UNAVAILABLE");
    assert!(started.elapsed() >= Duration::from_millis(900));
    let metrics = String::from_utf8_lossy(&app.get("/metrics", None, None).await.bytes).to_string();
    assert_eq!(metric(&metrics, "vivacampo_tile_shed_total"), 1.0);
    drop(held);
    let r = app.get(&busy, None, None).await;
    assert!(
        matches!(r.status, StatusCode::OK | StatusCode::NO_CONTENT),
        "{}",
        r.status
    );
    let _ = std::fs::remove_dir_all(&raster_dir);
}

/// A loopback TCP server that accepts every connection and never answers, as a hung S3 does.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

/// With the raster store on an S3 endpoint that accepts connections and never answers, an
/// uncached tile and the week's `raster.tif` answer 503 UNAVAILABLE within the store timeout
/// (1 s here), neither hanging nor 500.
#[tokio::test]
async fn a_hung_raster_store_answers_unavailable() {
    let db = TestDb::sqlite().await;
    let s3 = S3Options {
        endpoint: Some(silent_server().await),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: Some(true),
        ..S3Options::default()
    };
    let http = HttpOptions {
        timeout: Duration::from_secs(120),
        ..HttpOptions::default()
    };
    let rasters = RasterStore::s3("s3://bucket/prefix", &s3, &http)
        .unwrap()
        .with_timeout(Duration::from_secs(1));
    let state = AppState::with_tiles(
        db.store.clone(),
        rasters,
        config(),
        Arc::new(Registry::new()),
        TileConfig::ephemeral(),
    );
    let app = App {
        router: router(state.clone()),
        state,
    };
    let ana = app
        .post(
            "/v1/auth/signup",
            None,
            json!({"email": "ana@x.io", "password": "segredo-forte", "name": "Ana"}),
        )
        .await;
    let (t, tenant) = (
        ana["token"].as_str().unwrap().to_owned(),
        ana["tenant"]["id"].as_str().unwrap().to_owned(),
    );
    let farm = app.post("/v1/farms", Some(&t), json!({"name": "F"})).await;
    let (lon, lat, side) = (-49.3, -16.7, 0.01);
    let geometry = json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]]});
    let aoi = app
        .post(
            "/v1/aois",
            Some(&t),
            json!({"farm_id": farm["id"], "name": "T", "use_type": "CROP", "geometry": geometry}),
        )
        .await;
    let aoi_id = aoi["id"].as_str().unwrap().to_owned();
    let key = field_week_key(
        tenant.parse().unwrap(),
        aoi_id.parse().unwrap(),
        2026,
        10,
        RasterVersion {
            geometry: 1,
            stamp: 1_795_000_000_000,
        },
    );
    record_week(&db, &tenant, &aoi_id, 10, Some(&key)).await;
    let tj = app
        .get(
            &format!("/v1/tiles/aois/{aoi_id}/tilejson.json?index=ndvi&year=2026&week=10"),
            Some(&t),
            None,
        )
        .await;
    assert_eq!(tj.status, StatusCode::OK, "{}", tj.json());
    let template = tj.json()["tiles"][0].as_str().unwrap().to_owned();
    let (cx, cy) = vivacampo_raster::tile::tile_for_lonlat(lon + side / 2.0, lat + side / 2.0, 15);
    for (path, token) in [
        (tile_path(&template, 15, cx, cy), None),
        (
            format!("/v1/aois/{aoi_id}/weeks/2026/10/raster.tif"),
            Some(t.as_str()),
        ),
    ] {
        let started = std::time::Instant::now();
        let r = tokio::time::timeout(Duration::from_secs(20), app.get(&path, token, None))
            .await
            .expect("an answer, not a hang");
        assert_eq!(
            r.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{path}: {}",
            r.json()
        );
        assert_eq!(r.json()["error"]["code"], "UNAVAILABLE", "{path}");
        assert!(started.elapsed() >= Duration::from_millis(900), "{path}");
    }
    db.drop_db().await;
}
