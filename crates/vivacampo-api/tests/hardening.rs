//! Issue 11 (input and errors): bodies that must be refused, roles checked before bodies, errors
//! and job records without internals, private response headers, `/readyz` per role, lost
//! database connections, and the error paths of the routes. SQLite, and PostgreSQL when
//! `VIVACAMPO_TEST_POSTGRES_URL` is set.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, StorageNeed, router};
use vivacampo_core::metrics::Registry;
use vivacampo_core::tenancy::Role;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::TestDb;

mod support;
use support::config;

#[derive(Clone)]
struct App {
    router: axum::Router,
    state: AppState,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

impl App {
    fn new(db: &TestDb) -> App {
        let dir = std::env::temp_dir().join(format!("vc-hardening-{}", uuid::Uuid::new_v4()));
        App::with_rasters(db, RasterStore::local(dir).unwrap())
    }

    fn with_rasters(db: &TestDb, rasters: RasterStore) -> App {
        let state = AppState::new(
            db.store.clone(),
            rasters,
            config(),
            Arc::new(Registry::new()),
        );
        App {
            router: router(state.clone()),
            state,
        }
    }

    /// Sends `body` as it is, with `Content-Type: application/json` when `json` is set.
    async fn raw(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&str>,
        json: bool,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if json {
            req = req.header(header::CONTENT_TYPE, "application/json");
        }
        let req = req
            .body(body.map_or_else(Body::empty, |b| Body::from(b.to_owned())))
            .unwrap();
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        let body = serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into()));
        Reply {
            status,
            headers,
            body,
        }
    }

    async fn send(&self, method: &str, path: &str, token: Option<&str>, body: Value) -> Reply {
        self.raw(method, path, token, Some(&body.to_string()), true)
            .await
    }

    async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.raw("GET", path, token, None, false).await
    }

    async fn signup(&self, email: &str) -> Value {
        let r = self
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                json!({"email": email, "password": "segredo-forte", "name": "Ana"}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    /// Signs up `email` and returns its token for `tenant` with `role`.
    async fn member(&self, db: &TestDb, email: &str, tenant: &str, role: Role) -> String {
        let login = self.signup(email).await;
        db.store
            .add_membership(
                tenant,
                login["identity"]["id"].as_str().unwrap(),
                role,
                None,
            )
            .await
            .unwrap();
        let switched = self
            .send(
                "POST",
                "/v1/auth/workspaces/switch",
                Some(&token(&login)),
                json!({"tenant_id": tenant}),
            )
            .await;
        assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
        token(&switched.body)
    }

    async fn farm(&self, token: &str, name: &str) -> Value {
        let r = self
            .send("POST", "/v1/farms", Some(token), json!({"name": name}))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn field(&self, token: &str, farm_id: &str) -> Value {
        let (lon, lat, side) = (-49.3, -16.7, 0.01);
        let geometry = json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]]});
        let r = self
            .send(
                "POST",
                "/v1/aois",
                Some(token),
                json!({"farm_id": farm_id, "name": "A", "use_type": "CROP", "geometry": geometry}),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

fn token(login: &Value) -> String {
    login["token"].as_str().unwrap().to_owned()
}

fn id(v: &Value) -> &str {
    v["id"].as_str().unwrap()
}

/// The error shape, its request id, and a message that names no Rust type.
#[track_caller]
fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    let message = r.body["error"]["message"].as_str().unwrap();
    assert!(!message.is_empty());
    assert!(
        !message.contains("struct ") && !message.contains("vivacampo"),
        "no internals in {message:?}"
    );
    assert_eq!(
        r.body["error"]["request_id"].as_str().unwrap(),
        r.headers["x-request-id"].to_str().unwrap()
    );
}

/// A 400 naming `field` and `reason`.
#[track_caller]
fn assert_invalid(r: &Reply, field: &str, reason: &str) {
    assert_error(r, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
    assert_eq!(
        (
            r.body["error"]["details"]["field"].as_str(),
            r.body["error"]["details"]["reason"].as_str()
        ),
        (Some(field), Some(reason)),
        "{}",
        r.body
    );
}

#[tokio::test]
async fn control_characters_are_refused_on_every_route() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let signup = |body: Value| app.send("POST", "/v1/auth/signup", None, body);
        assert_invalid(
            &signup(json!({"email": "ana\u{0}@x.io", "password": "segredo-forte", "name": "Ana"}))
                .await,
            "email",
            "control_character",
        );
        assert_invalid(
            &signup(json!({"email": "an\u{1b}a@x.io", "password": "segredo-forte", "name": "Ana"}))
                .await,
            "email",
            "invalid",
        );
        assert_invalid(
            &signup(json!({"email": "ana@x.io", "password": "segredo-forte", "name": "A\u{1}na"}))
                .await,
            "name",
            "control_character",
        );
        assert_invalid(
            &signup(json!({"email": "ana@x.io", "password": "segredo-forte", "name": "Ana", "workspace_name": "W\u{85}"}))
                .await,
            "workspace_name",
            "control_character",
        );
        let login = |body: Value| app.send("POST", "/v1/auth/login", None, body);
        assert_invalid(
            &login(json!({"email": "ana\u{0}@x.io", "password": "segredo-forte"})).await,
            "email",
            "control_character",
        );
        assert_invalid(
            &login(json!({"email": "ana@x.io", "password": "segredo\u{0}forte"})).await,
            "password",
            "control_character",
        );
        let ana = app.signup("ana@x.io").await;
        let t = token(&ana);
        let farm = app.farm(&t, "Santa Rita").await;
        let field = app.field(&t, id(&farm)).await;
        let write = |method: &'static str, path: String, body: Value| {
            let app = app.clone();
            let t = t.clone();
            async move { app.send(method, &path, Some(&t), body).await }
        };
        for (name, reason) in [
            ("F\u{0}", "control_character"),
            ("\u{1b}[31mF", "control_character"),
            ("F\u{7f}", "control_character"),
        ] {
            assert_invalid(
                &write("POST", "/v1/farms".into(), json!({"name": name})).await,
                "name",
                reason,
            );
            assert_invalid(
                &write(
                    "PATCH",
                    format!("/v1/farms/{}", id(&farm)),
                    json!({"name": name}),
                )
                .await,
                "name",
                reason,
            );
            assert_invalid(
                &write(
                    "PATCH",
                    format!("/v1/aois/{}", id(&field)),
                    json!({"name": name}),
                )
                .await,
                "name",
                reason,
            );
        }
        assert_invalid(
            &write(
                "POST",
                "/v1/farms".into(),
                json!({"name": "F", "timezone": "America/Sao_Paulo\u{0}"}),
            )
            .await,
            "timezone",
            "control_character",
        );
        assert_invalid(
            &write(
                "POST",
                "/v1/aois".into(),
                json!({"farm_id": id(&farm), "name": "B\u{0}", "use_type": "CROP", "geom": "POLYGON EMPTY"}),
            )
            .await,
            "name",
            "control_character",
        );
        assert_invalid(
            &write(
                "POST",
                format!("/v1/aois/{}/backfill", id(&field)),
                json!({"from": "2026-01-01\u{0}", "to": "2026-02-01"}),
            )
            .await,
            "from",
            "control_character",
        );
        assert_invalid(
            &write("POST", "/v1/farms".into(), json!({"na\u{0}me": "F"})).await,
            "na\\0me",
            "control_character",
        );
        assert_invalid(
            &write(
                "POST",
                "/v1/auth/workspaces/switch".into(),
                json!({"tenant_id": "\u{0}"}),
            )
            .await,
            "tenant_id",
            "control_character",
        );
        db.store
            .set_system_admin(ana["identity"]["id"].as_str().unwrap(), true)
            .await
            .unwrap();
        assert_invalid(
            &write(
                "POST",
                "/v1/admin/tenants".into(),
                json!({"name": "T\u{0}"}),
            )
            .await,
            "name",
            "control_character",
        );
        assert_invalid(
            &write(
                "PATCH",
                format!(
                    "/v1/admin/tenants/{}",
                    ana["tenant"]["id"].as_str().unwrap()
                ),
                json!({"name": "T\u{9f}"}),
            )
            .await,
            "name",
            "control_character",
        );
        // A nested object sent as an array is refused too (serde's tuple form of a struct).
        let quotas = write(
            "PATCH",
            format!(
                "/v1/admin/tenants/{}",
                ana["tenant"]["id"].as_str().unwrap()
            ),
            json!({"quotas": [1, 2]}),
        )
        .await;
        assert_eq!(quotas.status, StatusCode::BAD_REQUEST, "{}", quotas.body);
        for path in [
            "/v1/jobs?status=%00",
            "/v1/aois?farm_id=%00",
            "/v1/farms?page=1%00",
            "/v1/jobs?aoi_id=%1B",
        ] {
            assert_invalid(&app.get(path, Some(&t)).await, "query", "control_character");
        }
        // Nothing was stored by any of them.
        let farms = app.get("/v1/farms", Some(&t)).await.body;
        assert_eq!(farms["total"], 1);
        assert_eq!(farms["items"][0]["name"], "Santa Rita");
        assert_eq!(
            app.get(&format!("/v1/aois/{}", id(&field)), Some(&t))
                .await
                .body["name"],
            "A"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn bodies_must_be_json_objects_and_errors_name_no_rust_type() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let t = token(&app.signup("ana@x.io").await);
        let farm = app.farm(&t, "Santa Rita").await;
        for body in [
            json!(["Fazenda", null]),
            json!("Fazenda"),
            json!(5),
            json!(null),
        ] {
            assert_invalid(
                &app.send("POST", "/v1/farms", Some(&t), body.clone()).await,
                "body",
                "not_object",
            );
            assert_invalid(
                &app.send("PATCH", &format!("/v1/farms/{}", id(&farm)), Some(&t), body)
                    .await,
                "body",
                "not_object",
            );
        }
        assert_invalid(
            &app.send(
                "POST",
                "/v1/auth/login",
                None,
                json!(["ana@x.io", "segredo-forte"]),
            )
            .await,
            "body",
            "not_object",
        );
        assert_eq!(app.get("/v1/farms", Some(&t)).await.body["total"], 1);

        let wrong_type = app
            .send("POST", "/v1/farms", Some(&t), json!({"name": 5}))
            .await;
        assert_invalid(&wrong_type, "name", "invalid");
        assert_eq!(
            wrong_type.body["error"]["message"],
            "invalid type: integer `5`, expected a string"
        );
        let unknown = app
            .send(
                "POST",
                "/v1/farms",
                Some(&t),
                json!({"name": "F", "colour": "red"}),
            )
            .await;
        assert_error(&unknown, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert!(
            unknown.body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("unknown field `colour`"),
            "{}",
            unknown.body
        );
        let malformed = app
            .raw("POST", "/v1/farms", Some(&t), Some("{nope"), true)
            .await;
        assert_invalid(&malformed, "body", "malformed_json");
        assert_eq!(
            malformed.body["error"]["message"],
            "the body is not valid JSON (line 1, column 2)"
        );
        let no_type = app
            .raw(
                "POST",
                "/v1/farms",
                Some(&t),
                Some(r#"{"name": "F"}"#),
                false,
            )
            .await;
        assert_invalid(&no_type, "body", "content_type");

        let user = app.signup("root@x.io").await;
        db.store
            .set_system_admin(user["identity"]["id"].as_str().unwrap(), true)
            .await
            .unwrap();
        let nested = app
            .send(
                "POST",
                "/v1/admin/tenants",
                Some(&token(&user)),
                json!({"name": "Agro", "quotas": 5}),
            )
            .await;
        assert_invalid(&nested, "quotas", "invalid");
        assert_eq!(
            nested.body["error"]["message"],
            "invalid type: integer `5`, expected a JSON object"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn time_zones_come_from_the_iana_database() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let t = token(&app.signup("ana@x.io").await);
        for (tz, status) in [
            ("Mars/Olympus", StatusCode::BAD_REQUEST),
            ("America/Sao_Paulo_Norte", StatusCode::BAD_REQUEST),
            ("Europe/Lisbon", StatusCode::CREATED),
            ("Brazil/East", StatusCode::CREATED),
            ("UTC", StatusCode::CREATED),
        ] {
            let r = app
                .send(
                    "POST",
                    "/v1/farms",
                    Some(&t),
                    json!({"name": "F", "timezone": tz}),
                )
                .await;
            assert_eq!(r.status, status, "{tz}: {}", r.body);
            if status == StatusCode::BAD_REQUEST {
                assert_invalid(&r, "timezone", "invalid");
            } else {
                assert_eq!(r.body["timezone"], tz);
            }
        }
        let farm = app.farm(&t, "G").await;
        let path = format!("/v1/farms/{}", id(&farm));
        assert_invalid(
            &app.send(
                "PATCH",
                &path,
                Some(&t),
                json!({"timezone": "Mars/Olympus"}),
            )
            .await,
            "timezone",
            "invalid",
        );
        assert_eq!(
            app.get(&path, Some(&t)).await.body["timezone"],
            "America/Sao_Paulo"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn roles_are_checked_before_the_body() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let ana = app.signup("ana@x.io").await;
        let tenant = ana["tenant"]["id"].as_str().unwrap();
        let viewer = app.member(&db, "bia@x.io", tenant, Role::Viewer).await;
        let farm = app.farm(&token(&ana), "Santa Rita").await;
        for (body, json) in [
            (r#"{"name": ""}"#, true),
            (r#"{}"#, true),
            (r#"["x", null]"#, true),
            ("{nope", true),
            (r#"{"name": "F\u0000"}"#, true),
            (r#"{"name": "F"}"#, false),
        ] {
            for (method, path) in [
                ("POST", "/v1/farms".to_owned()),
                ("PATCH", format!("/v1/farms/{}", id(&farm))),
                ("POST", "/v1/aois".to_owned()),
            ] {
                let r = app
                    .raw(method, &path, Some(&viewer), Some(body), json)
                    .await;
                assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN");
            }
            let r = app
                .raw(
                    "POST",
                    "/v1/admin/tenants",
                    Some(&token(&ana)),
                    Some(body),
                    json,
                )
                .await;
            assert_error(&r, StatusCode::FORBIDDEN, "FORBIDDEN");
        }
        db.drop_db().await;
    }
}

/// Write routes a VIEWER may call (API.md: "VIEWER may ack").
const VIEWER_WRITES: [&str; 1] = ["/v1/signals/{id}/ack"];

/// A concrete path for an OpenAPI path template.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", &uuid::Uuid::new_v4().to_string())
        .replace("{year}", "2026")
        .replace("{week}", "10")
        .replace("{z}", "1")
        .replace("{x}", "1")
        .replace("{y}", "1.png")
}

/// Every admin route refuses a caller who is not a system administrator, and every write route
/// outside `/v1/auth/` refuses a VIEWER: 403 each, before any validation or lookup. The routes
/// come from the served OpenAPI document, so a new route is covered when it is documented.
#[tokio::test]
async fn every_admin_and_write_route_refuses_a_role_too_low() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let ana = app.signup("ana@x.io").await;
        let tenant = ana["tenant"]["id"].as_str().unwrap();
        let viewer = app.member(&db, "bia@x.io", tenant, Role::Viewer).await;
        let operator = app.member(&db, "caio@x.io", tenant, Role::Operator).await;
        let tenant_admin = token(&ana);
        let doc = app.get("/v1/openapi.json", None).await.body;
        let (mut admin_checked, mut write_checked) = (Vec::new(), Vec::new());
        let mut tenant_admin_checked = Vec::new();
        for (template, item) in doc["paths"].as_object().unwrap() {
            for method in ["get", "post", "put", "patch", "delete"] {
                if item.get(method).is_none() {
                    continue;
                }
                let path = concrete(template);
                let upper = method.to_uppercase();
                let callers: &[(&str, &str)] = if template.starts_with("/v1/admin/") {
                    admin_checked.push(format!("{upper} {template}"));
                    &[("TENANT_ADMIN", &tenant_admin), ("OPERATOR", &operator)]
                } else if template.starts_with("/v1/webhooks") {
                    // Webhooks are the workspace administrator's, reading them too.
                    tenant_admin_checked.push(format!("{upper} {template}"));
                    &[("VIEWER", &viewer), ("OPERATOR", &operator)]
                } else if method != "get"
                    && !template.starts_with("/v1/auth/")
                    && !template.starts_with("/v1/me/")
                    && !VIEWER_WRITES.contains(&template.as_str())
                {
                    write_checked.push(format!("{upper} {template}"));
                    &[("VIEWER", &viewer)]
                } else {
                    continue;
                };
                for (role, caller) in callers {
                    let r = app.raw(&upper, &path, Some(caller), Some("{}"), true).await;
                    assert_eq!(
                        (r.status, r.body["error"]["code"].as_str()),
                        (StatusCode::FORBIDDEN, Some("FORBIDDEN")),
                        "{upper} {template} as {role}: {}",
                        r.body
                    );
                }
            }
        }
        for route in [
            "GET /v1/admin/ops/queues",
            "GET /v1/admin/jobs",
            "POST /v1/admin/jobs/{id}/retry",
            "GET /v1/admin/tenants",
            "POST /v1/admin/tenants",
            "PATCH /v1/admin/tenants/{id}",
        ] {
            assert!(admin_checked.iter().any(|r| r == route), "{route} checked");
        }
        for route in [
            "POST /v1/farms",
            "PATCH /v1/farms/{id}",
            "DELETE /v1/farms/{id}",
            "POST /v1/aois",
            "PATCH /v1/aois/{id}",
            "DELETE /v1/aois/{id}",
            "POST /v1/aois/{id}/backfill",
            "POST /v1/jobs/{id}/retry",
            "POST /v1/jobs/{id}/cancel",
            "POST /v1/signals/{id}/resolve",
            "POST /v1/signals/{id}/dismiss",
        ] {
            assert!(write_checked.iter().any(|r| r == route), "{route} checked");
        }
        // The writes a VIEWER may make get past the role check: to the lookup (404).
        for template in VIEWER_WRITES {
            let r = app
                .raw("POST", &concrete(template), Some(&viewer), Some("{}"), true)
                .await;
            assert_eq!(r.status, StatusCode::NOT_FOUND, "{template}: {}", r.body);
        }
        for route in [
            "GET /v1/webhooks",
            "POST /v1/webhooks",
            "DELETE /v1/webhooks/{id}",
            "GET /v1/webhooks/{id}/deliveries",
            "POST /v1/webhooks/{id}/test",
        ] {
            assert!(
                tenant_admin_checked.iter().any(|r| r == route),
                "{route} checked"
            );
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn page_errors_name_the_right_parameter() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let t = token(&app.signup("ana@x.io").await);
        for (query, field) in [
            ("page=0", "page"),
            ("page_size=0", "page_size"),
            ("page_size=201", "page_size"),
            ("page=0&page_size=500", "page"),
        ] {
            for list in ["/v1/farms", "/v1/aois", "/v1/jobs"] {
                assert_invalid(
                    &app.get(&format!("{list}?{query}"), Some(&t)).await,
                    field,
                    "out_of_range",
                );
            }
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn authenticated_answers_are_neither_cached_nor_sniffed() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let t = token(&app.signup("ana@x.io").await);
        let farm = app.farm(&t, "Santa Rita").await;
        for path in [
            "/v1/me".to_owned(),
            "/v1/farms".to_owned(),
            format!("/v1/farms/{}", id(&farm)),
            "/v1/jobs".to_owned(),
        ] {
            for caller in [Some(t.as_str()), None] {
                let r = app.get(&path, caller).await;
                assert_eq!(r.headers[header::CACHE_CONTROL], "no-store", "{path}");
                assert_eq!(
                    r.headers[header::X_CONTENT_TYPE_OPTIONS],
                    "nosniff",
                    "{path}"
                );
            }
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn job_records_show_tenants_no_locations_or_worker_ids() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let t = token(&app.signup("ana@x.io").await);
        let farm = app.farm(&t, "F").await;
        let field = app.field(&t, id(&farm)).await;
        let job_id = field["backfill_job_id"].as_str().unwrap();
        let leased = db
            .store
            .lease_job("host-4242-1a2b3c4d", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        db.store
            .fail_job(
                &leased.job.id,
                "host-4242-1a2b3c4d",
                leased.attempt,
                "raster store: s3://private-bucket/prefix/tenants/x/2026-W10.tif: Access Denied",
            )
            .await
            .unwrap();
        let job = app.get(&format!("/v1/jobs/{job_id}"), Some(&t)).await.body;
        assert_eq!(
            job["last_error"],
            "raster store: (location hidden): Access Denied"
        );
        let runs = app
            .get(&format!("/v1/jobs/{job_id}/runs"), Some(&t))
            .await
            .body;
        assert_eq!(
            runs[0]["error"],
            "raster store: (location hidden): Access Denied"
        );
        assert!(runs[0].get("worker_id").is_none(), "{runs}");
        assert!(!runs.to_string().contains("host-4242"), "{runs}");
        db.drop_db().await;
    }
}

/// A raster store whose directory was replaced by a file: every write and read fails, even for
/// root.
fn broken_store() -> (RasterStore, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("vc-hardening-broken-{}", uuid::Uuid::new_v4()));
    let store = RasterStore::local(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::write(&dir, b"not a directory").unwrap();
    (store, dir)
}

#[tokio::test]
async fn readiness_follows_the_role_and_shows_no_paths() {
    for db in TestDb::all().await {
        // An API replica does not need the raster store: a broken one leaves it ready.
        let (store, dir) = broken_store();
        let api = App::with_rasters(&db, store.clone());
        let r = api.get("/readyz", None).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.body);
        assert_eq!(
            r.body,
            json!({"status": "ready", "checks": {"database": "ok", "migrations": "ok", "storage": "not_required"}})
        );
        // A worker needs to write to it.
        let worker = App::with_rasters(&db, store);
        worker.state.require_storage(StorageNeed::Write);
        let r = worker.get("/readyz", None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.body["checks"]["storage"], "not_writable");
        let text = r.body.to_string();
        assert!(
            !text.contains(dir.to_str().unwrap()) && !text.contains("file:"),
            "{text}"
        );
        // A tiler needs to read from it.
        let (store, _) = broken_store();
        let tiler = App::with_rasters(&db, store);
        tiler.state.require_storage(StorageNeed::Read);
        let r = tiler.get("/readyz", None).await;
        assert_eq!(r.status, StatusCode::SERVICE_UNAVAILABLE, "{}", r.body);
        assert_eq!(r.body["checks"]["storage"], "not_readable");

        // A worker whose store works is ready, and probing again does not write again: the
        // store breaking after the first probe does not show until the next periodic check.
        let dir = std::env::temp_dir().join(format!("vc-hardening-{}", uuid::Uuid::new_v4()));
        let worker = App::with_rasters(&db, RasterStore::local(&dir).unwrap());
        worker.state.require_storage(StorageNeed::Write);
        assert_eq!(worker.get("/readyz", None).await.status, StatusCode::OK);
        std::fs::remove_dir_all(&dir).unwrap();
        std::fs::write(&dir, b"not a directory").unwrap();
        for _ in 0..3 {
            let r = worker.get("/readyz", None).await;
            assert_eq!(r.status, StatusCode::OK, "{}", r.body);
            assert_eq!(r.body["checks"]["storage"], "ok");
        }
        assert_eq!(std::fs::read(&dir).unwrap(), b"not a directory");
        db.drop_db().await;
    }
}

/// Connections the server ends mid-request (a restart, an operator's `pg_terminate_backend`)
/// answer 503 with `Retry-After`, never 500.
#[tokio::test]
async fn terminated_database_connections_answer_503_not_500() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let db = Arc::new(db);
    let app = App::new(&db);
    let t = token(&app.signup("ana@x.io").await);
    let stop = Arc::new(AtomicBool::new(false));
    let killer = {
        let (db, stop) = (db.clone(), stop.clone());
        tokio::spawn(async move {
            let mut ended = 0;
            while !stop.load(Ordering::Relaxed) {
                ended += db.terminate_connections().await.unwrap();
                tokio::time::sleep(Duration::from_millis(3)).await;
            }
            ended
        })
    };
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..8 {
        let (app, t) = (app.clone(), t.clone());
        clients.spawn(async move {
            let mut seen = Vec::new();
            for i in 0..40 {
                let r = if i % 2 == 0 {
                    app.get("/v1/farms", Some(&t)).await
                } else {
                    app.send(
                        "POST",
                        "/v1/farms",
                        Some(&t),
                        json!({"name": format!("F{client}-{i}")}),
                    )
                    .await
                };
                if r.status == StatusCode::SERVICE_UNAVAILABLE {
                    assert_eq!(r.body["error"]["code"], "UNAVAILABLE");
                    assert!(r.headers.contains_key(header::RETRY_AFTER));
                    let message = r.body["error"]["message"].as_str().unwrap();
                    assert_eq!(
                        message,
                        "the database is unavailable; try again in a moment"
                    );
                }
                seen.push((r.status.as_u16(), r.body.to_string()));
            }
            seen
        });
    }
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    while let Some(seen) = clients.join_next().await {
        for (status, body) in seen.unwrap() {
            assert!(
                matches!(status, 200 | 201 | 503),
                "a lost connection answered {status}: {body}"
            );
            *statuses.entry(status).or_default() += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    let ended = killer.await.unwrap();
    assert!(ended > 0, "connections were terminated");
    eprintln!("{ended} sessions ended; answers by status: {statuses:?}");
    // Once the terminations stop, the pool recovers by itself.
    let r = app.get("/v1/farms", Some(&t)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    Arc::into_inner(db).unwrap().drop_db().await;
}

#[tokio::test]
async fn error_paths_of_every_route() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let ana = app.signup("ana@x.io").await;
        let t = token(&ana);
        let eve = token(&app.signup("eve@x.io").await);
        let farm = app.farm(&t, "Santa Rita").await;
        let field = app.field(&t, id(&farm)).await;
        let job_id = field["backfill_job_id"].as_str().unwrap().to_owned();
        let unknown = uuid::Uuid::new_v4().to_string();

        // PATCH farm: unknown, another tenant's, not an id, invalid body.
        let farm_path = format!("/v1/farms/{}", id(&farm));
        for (path, caller) in [
            (format!("/v1/farms/{unknown}"), &t),
            (farm_path.clone(), &eve),
            ("/v1/farms/not-an-id".to_owned(), &t),
        ] {
            assert_error(
                &app.send("PATCH", &path, Some(caller), json!({"name": "X"}))
                    .await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }
        assert_invalid(
            &app.send("PATCH", &farm_path, Some(&t), json!({"name": "  "}))
                .await,
            "name",
            "empty",
        );
        assert_eq!(
            app.get(&farm_path, Some(&t)).await.body["name"],
            "Santa Rita"
        );

        // GET weeks: unknown field, another tenant's, not an id, no token.
        let weeks = format!("/v1/aois/{}/weeks", id(&field));
        for (path, caller) in [
            (format!("/v1/aois/{unknown}/weeks"), &t),
            (weeks.clone(), &eve),
            ("/v1/aois/nope/weeks".to_owned(), &t),
        ] {
            assert_error(
                &app.get(&path, Some(caller)).await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }
        assert_error(
            &app.get(&weeks, None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );

        // Job runs: unknown job, another tenant's.
        for (path, caller) in [
            (format!("/v1/jobs/{unknown}/runs"), &t),
            (format!("/v1/jobs/{job_id}/runs"), &eve),
        ] {
            assert_error(
                &app.get(&path, Some(caller)).await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }
        assert_eq!(
            app.get(&format!("/v1/jobs/{job_id}/runs"), Some(&t))
                .await
                .body,
            json!([])
        );

        // Job cancel: unknown, another tenant's, then twice (the second is a conflict).
        let cancel = format!("/v1/jobs/{job_id}/cancel");
        for (path, caller) in [
            (format!("/v1/jobs/{unknown}/cancel"), &t),
            (cancel.clone(), &eve),
        ] {
            assert_error(
                &app.raw("POST", &path, Some(caller), None, false).await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }
        assert_eq!(
            app.raw("POST", &cancel, Some(&t), None, false).await.status,
            StatusCode::ACCEPTED
        );
        assert_error(
            &app.raw("POST", &cancel, Some(&t), None, false).await,
            StatusCode::CONFLICT,
            "CONFLICT",
        );

        // Logout without a token, with a malformed or unknown one, and with a revoked one.
        let logout = |caller: Option<String>| {
            let app = app.clone();
            async move {
                app.raw("POST", "/v1/auth/logout", caller.as_deref(), None, false)
                    .await
            }
        };
        assert_error(
            &logout(None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );
        assert_error(
            &logout(Some("not-a-token".into())).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );
        assert_eq!(
            logout(Some(eve.clone())).await.status,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &logout(Some(eve.clone())).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );

        // Admin retry: unknown job, a job that is not FAILED, DEAD or CANCELLED.
        db.store
            .set_system_admin(ana["identity"]["id"].as_str().unwrap(), true)
            .await
            .unwrap();
        assert_error(
            &app.raw(
                "POST",
                &format!("/v1/admin/jobs/{unknown}/retry"),
                Some(&t),
                None,
                false,
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        let retried = app
            .raw(
                "POST",
                &format!("/v1/admin/jobs/{job_id}/retry"),
                Some(&t),
                None,
                false,
            )
            .await;
        assert_eq!(retried.status, StatusCode::ACCEPTED, "{}", retried.body);
        assert_eq!(retried.body["status"], "PENDING");
        assert_error(
            &app.raw(
                "POST",
                &format!("/v1/admin/jobs/{job_id}/retry"),
                Some(&t),
                None,
                false,
            )
            .await,
            StatusCode::CONFLICT,
            "CONFLICT",
        );

        // Admin tenants: bad paging, bad bodies, an unknown tenant.
        assert_invalid(
            &app.get("/v1/admin/tenants?page=0", Some(&t)).await,
            "page",
            "out_of_range",
        );
        assert_invalid(
            &app.send("POST", "/v1/admin/tenants", Some(&t), json!({"name": ""}))
                .await,
            "name",
            "empty",
        );
        assert_invalid(
            &app.send(
                "POST",
                "/v1/admin/tenants",
                Some(&t),
                json!({"name": "Agro", "type": "CLUB"}),
            )
            .await,
            "type",
            "invalid",
        );
        let tenant_path = format!(
            "/v1/admin/tenants/{}",
            ana["tenant"]["id"].as_str().unwrap()
        );
        assert_invalid(
            &app.send(
                "PATCH",
                &tenant_path,
                Some(&t),
                json!({"min_valid_pixel_ratio": 2}),
            )
            .await,
            "min_valid_pixel_ratio",
            "out_of_range",
        );
        assert_invalid(
            &app.send(
                "PATCH",
                &tenant_path,
                Some(&t),
                json!({"plan": "no such plan!"}),
            )
            .await,
            "plan",
            "invalid",
        );
        assert_error(
            &app.send(
                "PATCH",
                &format!("/v1/admin/tenants/{unknown}"),
                Some(&t),
                json!({"plan": "PRO"}),
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );

        // The 405 fallback, in the error shape.
        for (method, path) in [
            ("DELETE", "/v1/me"),
            ("PUT", "/v1/farms"),
            ("POST", "/healthz"),
        ] {
            assert_error(
                &app.raw(method, path, Some(&t), None, false).await,
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
            );
        }

        // /readyz turns 503 while the process drains, so load balancers stop sending traffic.
        assert_eq!(app.get("/readyz", None).await.status, StatusCode::OK);
        app.state.begin_shutdown();
        let draining = app.get("/readyz", None).await;
        assert_eq!(draining.status, StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(draining.body["status"], "not_ready");
        db.drop_db().await;
    }
}

/// A nearly full local raster store shows in `/metrics` before writes fail.
#[tokio::test]
async fn metrics_show_the_free_space_of_a_local_store() {
    let db = TestDb::sqlite().await;
    let app = App::new(&db);
    let text = app.get("/metrics", None).await.body;
    let gauge = |name: &str| {
        text.as_str()
            .unwrap()
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name} ")))
            .unwrap_or_else(|| panic!("{name} exported: {text}"))
            .parse::<f64>()
            .unwrap()
    };
    let (free, size) = (
        gauge("vivacampo_storage_free_bytes"),
        gauge("vivacampo_storage_capacity_bytes"),
    );
    assert!(free > 0.0 && free <= size, "{free} of {size}");
    db.drop_db().await;
}
