//! End-to-end tiles: the real binary on the demo data, tiles fetched through the TileJSON's
//! signed URL template, with no login header; the same URLs served by a `tiler` process.

#[allow(dead_code)] // the helpers other e2e tests use
mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::Value;
use support::{Reply, Server, command, http, login, request, temp_dir, wait_for_weeks};

/// GET with optional `If-None-Match`.
fn get(addr: SocketAddr, path: &str, etag: Option<&str>) -> Reply {
    let conditional: Vec<(&str, &str)> = etag.map(|e| ("If-None-Match", e)).into_iter().collect();
    request(addr, "GET", path, &conditional, None)
}

/// Tiles z/x/y covering lon/lat bounds.
fn covering(bounds: &[f64], z: u8) -> Vec<(u8, u32, u32)> {
    let (x0, y0) = vivacampo_raster::tile::tile_for_lonlat(bounds[0], bounds[3], z);
    let (x1, y1) = vivacampo_raster::tile::tile_for_lonlat(bounds[2], bounds[1], z);
    (x0..=x1)
        .flat_map(|x| (y0..=y1).map(move |y| (z, x, y)))
        .collect()
}

#[test]
fn demo_tiles_through_the_tilejson_and_a_tiler_process() {
    let dir = temp_dir("tiles");
    let mut demo = command(&dir, None);
    demo.args(["demo", "--area-m", "5000"]);
    let server = Server::start(demo);
    let token = login(server.addr, "demo@vivacampo.dev", "vivacampo-demo");
    let fields = http(server.addr, "GET", "/v1/aois", Some(&token), None).json();
    let field = fields["items"][0]["id"].as_str().unwrap().to_owned();
    let processed = |w: &Value| w["status"] == "OK" && w["has_raster"] == true;
    let weeks = wait_for_weeks(server.addr, &token, &field, Duration::from_secs(180), |w| {
        w.iter().any(processed)
    });
    let week = weeks.into_iter().find(processed).unwrap();

    let tj = http(
        server.addr,
        "GET",
        &format!(
            "/v1/tiles/aois/{field}/tilejson.json?index=ndvi&year={}&week={}",
            week["year"], week["week"]
        ),
        Some(&token),
        None,
    )
    .json();
    assert_eq!(tj["tilejson"], "3.0.0");
    let template = tj["tiles"][0].as_str().unwrap().to_owned();
    let prefix = format!("http://{}", server.addr);
    assert!(template.starts_with(&prefix), "{template}");
    let bounds: Vec<f64> = tj["bounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();

    // Zooms 12–17 over the field: colour inside, 204 beside it, nothing else.
    let mut pngs = Vec::new();
    for z in 12..=17 {
        for (z, x, y) in covering(&bounds, z) {
            let path = template
                .trim_start_matches(&prefix)
                .replace("{z}", &z.to_string())
                .replace("{x}", &x.to_string())
                .replace("{y}", &y.to_string());
            let tile = get(server.addr, &path, None);
            assert!(
                tile.status == 200 || tile.status == 204,
                "{path}: {}",
                tile.status
            );
            if tile.status == 200 {
                assert_eq!(tile.header("content-type"), "image/png");
                assert_eq!(&tile.body[1..4], b"PNG");
                pngs.push((path, tile.header("etag").to_owned()));
            }
        }
    }
    assert!(pngs.len() >= 6, "{} PNG tiles", pngs.len());
    let (path, etag) = &pngs[pngs.len() / 2];
    let again = get(server.addr, path, Some(etag));
    assert_eq!((again.status, again.body.len()), (304, 0));
    let tampered = path.replace("sig=", "sig=0");
    assert_eq!(get(server.addr, &tampered, None).status, 401);
    let metrics =
        String::from_utf8_lossy(&http(server.addr, "GET", "/metrics", None, None).body).to_string();
    assert!(
        metrics.contains("vivacampo_tile_renders_total"),
        "{metrics}"
    );

    // A tiler process on the same data serves the same signed URLs (the key is kept in the data
    // directory) and nothing of the API.
    let mut tiler = command(&dir, None);
    tiler.arg("tiler");
    let tiler = Server::start(tiler);
    let from_tiler = get(tiler.addr, path, None);
    assert_eq!(from_tiler.status, 200);
    assert_eq!(from_tiler.header("etag"), etag);
    assert_eq!(get(tiler.addr, "/v1/indices", None).status, 200);
    assert_eq!(get(tiler.addr, "/v1/aois", None).status, 404);
    assert_eq!(get(tiler.addr, "/readyz", None).status, 200);
    tiler.stop();
    server.stop();
    let _ = std::fs::remove_dir_all(&dir);
}
