//! Boundary import and export (API.md "Boundary import and export"), in process, on SQLite and
//! (when configured) PostgreSQL, with the GDAL-written fixtures of `vivacampo-vector`.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::accounts::TenantPatch;
use vivacampo_store::testing::TestDb;

mod support;

struct App {
    router: axum::Router,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    bytes: Vec<u8>,
    body: Value,
}

fn fixture(name: &str) -> Vec<u8> {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../vivacampo-vector/tests/fixtures"
    );
    std::fs::read(format!("{dir}/{name}")).unwrap()
}

fn expected(name: &str) -> Vec<Value> {
    let all: Value = serde_json::from_slice(&fixture("expected.json")).unwrap();
    all[name].as_array().unwrap().clone()
}

impl App {
    fn new(db: &TestDb) -> App {
        let dir = std::env::temp_dir().join(format!("vc-bnd-{}", uuid::Uuid::new_v4()));
        let rasters = RasterStore::local(&dir).unwrap();
        let state = AppState::new(
            db.store.clone(),
            rasters,
            support::config(),
            Arc::new(Registry::new()),
        );
        App {
            router: router(state),
        }
    }

    async fn request(
        &self,
        method: &str,
        path: &str,
        token: &str,
        content_type: Option<&str>,
        body: Vec<u8>,
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header(header::AUTHORIZATION, format!("Bearer {token}"));
        if let Some(t) = content_type {
            req = req.header(header::CONTENT_TYPE, t);
        }
        let res = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes().to_vec();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply {
            status,
            headers,
            bytes,
            body,
        }
    }

    async fn json(&self, method: &str, path: &str, token: &str, body: Value) -> Reply {
        self.request(
            method,
            path,
            token,
            Some("application/json"),
            body.to_string().into_bytes(),
        )
        .await
    }

    /// Signs up; returns the token and the tenant id.
    async fn signup(&self, email: &str) -> (String, String) {
        let req = Request::builder()
            .method("POST")
            .uri("/v1/auth/signup")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(
                json!({"email": email, "password": "segredo-forte", "name": "Ana"}).to_string(),
            ))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        assert_eq!(res.status(), StatusCode::CREATED);
        let body: Value =
            serde_json::from_slice(&res.into_body().collect().await.unwrap().to_bytes()).unwrap();
        (
            body["token"].as_str().unwrap().to_owned(),
            body["tenant"]["id"].as_str().unwrap().to_owned(),
        )
    }

    async fn farm(&self, token: &str, name: &str) -> String {
        let r = self
            .json("POST", "/v1/farms", token, json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED);
        r.body["id"].as_str().unwrap().to_owned()
    }

    async fn import(
        &self,
        token: &str,
        farm: &str,
        query: &str,
        ct: Option<&str>,
        file: Vec<u8>,
    ) -> Reply {
        self.request(
            "POST",
            &format!("/v1/farms/{farm}/import?{query}"),
            token,
            ct,
            file,
        )
        .await
    }

    async fn fields(&self, token: &str, farm: &str) -> Vec<Value> {
        let r = self
            .request(
                "GET",
                &format!("/v1/aois?farm_id={farm}&page_size=200"),
                token,
                None,
                vec![],
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        r.body["items"].as_array().unwrap().clone()
    }
}

fn assert_reason(r: &Reply, field: &str, reason: &str) {
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert_eq!(r.body["error"]["code"], "VALIDATION_ERROR", "{}", r.body);
    assert_eq!(r.body["error"]["details"]["field"], field, "{}", r.body);
    assert_eq!(r.body["error"]["details"]["reason"], reason, "{}", r.body);
}

/// Every fixture through the API: a dry run lists each feature and creates nothing; the real
/// import creates every valid one with its name and area (pyproj's within 0.01 %).
#[tokio::test]
async fn gdal_fixtures_import_with_names_and_areas() {
    let files = [
        ("car_sirgas_utm22s.zip", Some("application/zip")),
        ("fields_wgs84_utm23s_cp1252.zip", None),
        (
            "fields_sirgas_4674_latin.zip",
            Some("application/x-zip-compressed"),
        ),
        ("fields_wgs84.geojson", Some("application/geo+json")),
        ("fields_sirgas_utm22s.geojson", None),
        (
            "fields_wgs84.kml",
            Some("application/vnd.google-earth.kml+xml"),
        ),
        ("fields_wgs84.kmz", Some("application/vnd.google-earth.kmz")),
    ];
    for db in TestDb::all().await {
        let app = App::new(&db);
        let (token, _) = app.signup("ana@example.com").await;
        for (name, ct) in files {
            let farm = app.farm(&token, name).await;
            let dry = app.import(&token, &farm, "", ct, fixture(name)).await;
            assert_eq!(dry.status, StatusCode::OK, "{name}: {}", dry.body);
            assert_eq!(dry.body["dry_run"], true);
            assert_eq!(dry.body["created"], json!([]));
            assert!(
                app.fields(&token, &farm).await.is_empty(),
                "a dry run creates nothing"
            );
            let rows = expected(name);
            let features = dry.body["features"].as_array().unwrap();
            assert_eq!(features.len(), rows.len(), "{name}");
            for (feature, row) in features.iter().zip(&rows) {
                assert_eq!(feature["name"], row["name"], "{name}");
                if row["area_ha"].as_f64().unwrap() < 1e-6 {
                    assert_eq!(feature["status"], "invalid", "{name}");
                    assert_eq!(feature["reason"], "self_intersection", "{name}");
                } else {
                    assert_eq!(feature["status"], "ok", "{name}: {feature}");
                    let (got, want) = (
                        feature["area_ha"].as_f64().unwrap(),
                        row["area_ha"].as_f64().unwrap(),
                    );
                    assert!((got - want).abs() / want < 1e-4, "{name}: {got} vs {want}");
                    assert_eq!(feature["geometry"]["type"], "MultiPolygon");
                }
            }

            let real = app
                .import(
                    &token,
                    &farm,
                    "dry_run=false&use_type=PASTURE",
                    ct,
                    fixture(name),
                )
                .await;
            assert_eq!(real.status, StatusCode::OK, "{name}: {}", real.body);
            let created = real.body["created"].as_array().unwrap();
            assert_eq!(created.len(), 2, "{name}: the two valid features");
            assert_eq!(real.body["backfill_job_ids"].as_array().unwrap().len(), 2);
            let fields = app.fields(&token, &farm).await;
            assert_eq!(fields.len(), 2);
            for field in &fields {
                let row = rows
                    .iter()
                    .find(|r| r["name"] == field["name"])
                    .expect("named as in the file");
                let want = row["area_ha"].as_f64().unwrap();
                assert!((field["area_ha"].as_f64().unwrap() - want).abs() / want < 1e-4);
                assert_eq!(field["use_type"], "PASTURE");
            }
            // The same file again: every feature is now a duplicate of the farm's fields.
            let again = app.import(&token, &farm, "", ct, fixture(name)).await;
            let statuses: Vec<&str> = again.body["features"]
                .as_array()
                .unwrap()
                .iter()
                .map(|f| f["status"].as_str().unwrap())
                .collect();
            assert_eq!(&statuses[..2], ["duplicate", "duplicate"], "{name}");
            let nothing = app
                .import(&token, &farm, "dry_run=false", ct, fixture(name))
                .await;
            assert_reason(&nothing, "indices", "nothing_to_import");
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn chosen_features_names_and_the_sicar_property_code() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let (token, _) = app.signup("ana@example.com").await;
        let farm = app.farm(&token, "Fazenda").await;
        let car = fixture("car_sirgas_utm22s.zip");
        let dry = app
            .import(&token, &farm, "name_field=NOM_MUNICI", None, car.clone())
            .await;
        assert_eq!(dry.status, StatusCode::OK, "{}", dry.body);
        assert_eq!(dry.body["layer"], "AREA_IMOVEL");
        assert_eq!(dry.body["source_epsg"], 31982);
        assert_eq!(dry.body["attributes"][0], "COD_IMOVEL");
        let names: Vec<&str> = dry.body["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["Rio Verde", "Santo Ant", "Jataí"]);
        let unknown = app
            .import(&token, &farm, "name_field=nome", None, car.clone())
            .await;
        assert_reason(&unknown, "name_field", "unknown_attribute");
        // Only feature 1; an invalid one cannot be chosen; an index past the end is refused.
        let bad = app
            .import(
                &token,
                &farm,
                "dry_run=false&indices=1,2",
                None,
                car.clone(),
            )
            .await;
        assert_reason(&bad, "indices", "not_importable");
        let past = app
            .import(&token, &farm, "dry_run=false&indices=7", None, car.clone())
            .await;
        assert_reason(&past, "indices", "out_of_range");
        assert!(app.fields(&token, &farm).await.is_empty());
        let one = app
            .import(
                &token,
                &farm,
                "dry_run=false&indices=1&geometry=false",
                None,
                car.clone(),
            )
            .await;
        assert_eq!(one.status, StatusCode::OK, "{}", one.body);
        assert_eq!(one.body["created"].as_array().unwrap().len(), 1);
        assert_eq!(one.body["features"][1]["aoi_id"], one.body["created"][0]);
        assert!(one.body["features"][1].get("geometry").is_none());
        let fields = app.fields(&token, &farm).await;
        assert_eq!(
            fields[0]["name"],
            "GO-5218805-1F2E3D4C5B6A4B3C2D1E0F9A8B7C6D5E"
        );
        // A duplicate may still be chosen explicitly.
        let dup = app
            .import(&token, &farm, "dry_run=false&indices=1", None, car)
            .await;
        assert_eq!(dup.body["features"][1]["status"], "duplicate");
        assert_eq!(dup.body["created"].as_array().unwrap().len(), 1);
        db.drop_db().await;
    }
}

/// Broken or hostile files get a 400 naming the reason, and nothing is created.
#[tokio::test]
async fn broken_files_are_400_and_create_nothing() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let (token, _) = app.signup("ana@example.com").await;
        let farm = app.farm(&token, "Fazenda").await;
        let car = fixture("car_sirgas_utm22s.zip");
        let cases: Vec<(Vec<u8>, Option<&str>, &str)> = vec![
            (b"hello".to_vec(), None, "unknown_format"),
            (car[..car.len() / 2].to_vec(), None, "corrupt"),
            (
                fixture("fields_wgs84.geojson"),
                Some("application/zip"),
                "format_mismatch",
            ),
            (
                b"{\"type\": \"FeatureCollection\", \"features\": [".to_vec(),
                None,
                "corrupt",
            ),
            (b"<kml><Placemark>".to_vec(), None, "corrupt"),
            (
                vivacampo_vector::write_zip(&[("a.shp", b"x"), ("a.dbf", b"y")]),
                None,
                "missing_prj",
            ),
            (
                vivacampo_vector::write_zip(&[("bomb.shp", &vec![0u8; 300 << 20])]),
                None,
                "too_large_unzipped",
            ),
        ];
        for (file, ct, reason) in cases {
            let r = app.import(&token, &farm, "dry_run=false", ct, file).await;
            assert_reason(&r, "file", reason);
        }
        // A bad value of one feature: the rest still import.
        let bad_use = app
            .import(&token, &farm, "use_type=FOREST", None, car)
            .await;
        assert_reason(&bad_use, "use_type", "invalid");
        assert!(app.fields(&token, &farm).await.is_empty());
        // The import has its own limit: a file over body_limit (64 KiB) but under import_limit is read.
        let mut padded = fixture("fields_wgs84.geojson");
        padded.extend(vec![b' '; 200 * 1024]);
        let r = app.import(&token, &farm, "", None, padded).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        // A file over import_limit (8 MiB in the tests) is 413.
        let big = app
            .import(&token, &farm, "", None, vec![b' '; 9 << 20])
            .await;
        assert_eq!(big.status, StatusCode::PAYLOAD_TOO_LARGE);
        // Another tenant's farm is not found.
        let (other, _) = app.signup("bia@example.com").await;
        let r = app
            .import(&other, &farm, "", None, fixture("fields_wgs84.kml"))
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND);
        db.drop_db().await;
    }
}

/// A batch over the field quota is refused whole.
#[tokio::test]
async fn a_batch_over_the_quota_creates_nothing() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let (token, tenant) = app.signup("ana@example.com").await;
        db.store
            .update_tenant(
                &tenant,
                TenantPatch {
                    max_fields: Some(1),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let farm = app.farm(&token, "Fazenda").await;
        let r = app
            .import(
                &token,
                &farm,
                "dry_run=false",
                None,
                fixture("fields_wgs84.kml"),
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);
        assert_eq!(r.body["error"]["code"], "QUOTA_EXCEEDED");
        assert!(app.fields(&token, &farm).await.is_empty());
        db.drop_db().await;
    }
}

fn coordinates(geometry: &Value) -> Vec<f64> {
    fn walk(v: &Value, out: &mut Vec<f64>) {
        match v {
            Value::Number(n) => out.push(n.as_f64().unwrap()),
            Value::Array(items) => items.iter().for_each(|i| walk(i, out)),
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(&geometry["coordinates"], &mut out);
    out
}

/// Export → import into another farm gives the same fields (names, areas, vertices to 1e-7°).
#[tokio::test]
async fn export_then_import_is_lossless() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let (token, _) = app.signup("ana@example.com").await;
        let source = app.farm(&token, "Fazenda São José").await;
        let r = app
            .import(
                &token,
                &source,
                "dry_run=false",
                None,
                fixture("car_sirgas_utm22s.zip"),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK);
        let mut original = app.fields(&token, &source).await;
        original.sort_by_key(|f| f["name"].as_str().unwrap().to_owned());
        for (ext, ct) in [
            ("geojson", "application/geo+json"),
            ("kml", "application/vnd.google-earth.kml+xml"),
            ("zip", "application/zip"),
        ] {
            let export = app
                .request(
                    "GET",
                    &format!("/v1/farms/{source}/fields.{ext}"),
                    &token,
                    None,
                    vec![],
                )
                .await;
            assert_eq!(export.status, StatusCode::OK, "{ext}");
            assert_eq!(export.headers[header::CONTENT_TYPE], ct);
            assert_eq!(
                export.headers[header::CONTENT_DISPOSITION],
                format!("attachment; filename=\"fazenda-sao-jose-fields.{ext}\"").as_str()
            );
            let target = app.farm(&token, &format!("copy {ext}")).await;
            let r = app
                .import(
                    &token,
                    &target,
                    "dry_run=false&name_field=name",
                    Some(ct),
                    export.bytes.clone(),
                )
                .await;
            assert_eq!(r.status, StatusCode::OK, "{ext}: {}", r.body);
            let mut copy = app.fields(&token, &target).await;
            copy.sort_by_key(|f| f["name"].as_str().unwrap().to_owned());
            assert_eq!(copy.len(), original.len());
            for (a, b) in original.iter().zip(&copy) {
                assert_eq!(a["name"], b["name"], "{ext}");
                assert_eq!(a["area_ha"], b["area_ha"], "{ext}");
                let (ca, cb) = (coordinates(&a["geometry"]), coordinates(&b["geometry"]));
                assert_eq!(ca.len(), cb.len(), "{ext}");
                let worst = ca
                    .iter()
                    .zip(&cb)
                    .map(|(x, y)| (x - y).abs())
                    .fold(0.0, f64::max);
                assert!(worst < 1e-7, "{ext}: {worst}");
            }
        }
        let missing = app
            .request(
                "GET",
                &format!("/v1/farms/{}/fields.kml", uuid::Uuid::new_v4()),
                &token,
                None,
                vec![],
            )
            .await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn openapi_lists_the_boundary_routes() {
    let db = TestDb::sqlite().await;
    let app = App::new(&db);
    let doc = app
        .request("GET", "/v1/openapi.json", "", None, vec![])
        .await
        .body;
    let import = &doc["paths"]["/v1/farms/{id}/import"]["post"];
    let params: Vec<(&str, &str)> = import["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
        .collect();
    for (name, place) in [
        ("id", "path"),
        ("dry_run", "query"),
        ("name_field", "query"),
        ("use_type", "query"),
        ("indices", "query"),
        ("layer", "query"),
    ] {
        assert!(
            params.contains(&(name, place)),
            "{name} in {place}: {params:?}"
        );
    }
    for code in ["200", "400", "403", "404", "413"] {
        assert!(import["responses"].get(code).is_some(), "{code}");
    }
    for ext in ["geojson", "kml", "zip"] {
        assert!(
            doc["paths"][format!("/v1/farms/{{id}}/fields.{ext}")]["get"].is_object(),
            "{ext}"
        );
    }
    db.drop_db().await;
}
