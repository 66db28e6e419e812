//! The HTTP API of API.md, in process, on SQLite and (when configured) PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{ApiConfig, AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::{TestDb, hold_connection};

mod support;
use support::config;

struct App {
    router: axum::Router,
    state: AppState,
}

struct Reply {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

fn temp_raster_dir() -> std::path::PathBuf {
    std::env::temp_dir().join(format!("vc-api-rasters-{}", uuid::Uuid::new_v4()))
}

impl App {
    fn new(db: &TestDb, config: ApiConfig) -> App {
        App::with_rasters(db, config, &temp_raster_dir())
    }

    fn with_rasters(db: &TestDb, config: ApiConfig, raster_dir: &std::path::Path) -> App {
        let rasters = RasterStore::local(raster_dir).unwrap();
        let state = AppState::new(db.store.clone(), rasters, config, Arc::new(Registry::new()));
        App {
            router: router(state.clone()),
            state,
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        let req = match body {
            Some(b) => req
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(b.to_string())),
            None => req.body(Body::empty()),
        }
        .unwrap();
        self.raw(req).await
    }

    async fn raw(&self, req: Request<Body>) -> Reply {
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

    /// Creates farm "F" and in it the CROP field "A" (about 1 km²); returns the field.
    async fn field_in_new_farm(&self, token: &str) -> Value {
        let farm = self
            .send("POST", "/v1/farms", Some(token), Some(json!({"name": "F"})))
            .await
            .body;
        let field = json!({"farm_id": farm["id"], "name": "A", "use_type": "CROP", "geometry": square(-49.3, -16.7, 0.01)});
        let r = self
            .send("POST", "/v1/aois", Some(token), Some(field))
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }

    async fn signup(&self, email: &str) -> Value {
        let r = self
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": "segredo-forte", "name": "Ana"})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.body);
        r.body
    }
}

fn token(login: &Value) -> String {
    login["token"].as_str().unwrap().to_owned()
}

fn square(lon: f64, lat: f64, side: f64) -> Value {
    json!({"type": "Polygon", "coordinates": [[[lon, lat], [lon + side, lat], [lon + side, lat + side], [lon, lat + side], [lon, lat]]]})
}

fn assert_error(r: &Reply, status: StatusCode, code: &str) {
    assert_eq!(r.status, status, "{}", r.body);
    assert_eq!(r.body["error"]["code"], code, "{}", r.body);
    assert!(
        r.body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty())
    );
    assert_eq!(
        r.body["error"]["request_id"].as_str().unwrap(),
        r.headers["x-request-id"].to_str().unwrap(),
        "the error names its request"
    );
}

#[tokio::test]
async fn auth_flow() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let login = app.signup("Ana@Fazenda.com.br").await;
        assert_eq!(login["token_type"], "Bearer");
        assert_eq!(login["identity"]["email"], "ana@fazenda.com.br");
        assert_eq!(login["tenant"]["role"], "TENANT_ADMIN");
        assert_eq!(login["memberships"].as_array().unwrap().len(), 1);
        assert!(login["expires_at"].as_str().unwrap().ends_with('Z'));

        let dup = app
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": "ana@fazenda.com.br", "password": "outra-senha-longa", "name": "X"})),
            )
            .await;
        assert_error(&dup, StatusCode::CONFLICT, "CONFLICT");
        let weak = app
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": "b@x.io", "password": "123", "name": "X"})),
            )
            .await;
        assert_error(&weak, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert_eq!(weak.body["error"]["details"]["field"], "password");
        assert_eq!(weak.body["error"]["details"]["reason"], "too_short");
        for (password, reason) in [
            ("123456789", "too_short"),
            ("1234567890", "too_common"),
            ("Password2024!", "too_common"),
            ("B.Souza@X.io", "same_as_email"),
        ] {
            let r = app
                .send(
                    "POST",
                    "/v1/auth/signup",
                    None,
                    Some(json!({"email": "b.souza@x.io", "password": password, "name": "B"})),
                )
                .await;
            assert_error(&r, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            assert_eq!(r.body["error"]["details"]["reason"], reason, "{password}");
        }

        let ok = app
            .send(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": "ana@fazenda.com.br", "password": "segredo-forte"})),
            )
            .await;
        assert_eq!(ok.status, StatusCode::OK);
        let wrong = app
            .send(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": "ana@fazenda.com.br", "password": "nope-nope"})),
            )
            .await;
        let unknown = app
            .send(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": "who@x.io", "password": "nope-nope"})),
            )
            .await;
        assert_error(&wrong, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        assert_error(&unknown, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        assert_eq!(
            wrong.body["error"]["message"],
            unknown.body["error"]["message"]
        );

        let t = token(&ok.body);
        let me = app.send("GET", "/v1/me", Some(&t), None).await;
        assert_eq!(me.status, StatusCode::OK);
        assert_eq!(me.body["role"], "TENANT_ADMIN");
        assert_eq!(me.body["is_system_admin"], false);
        assert_eq!(me.body["identity"]["email"], "ana@fazenda.com.br");

        assert_eq!(
            app.send("POST", "/v1/auth/logout", Some(&t), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &app.send("GET", "/v1/me", Some(&t), None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );
        assert_error(
            &app.send("GET", "/v1/me", None, None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );
        assert_error(
            &app.send("GET", "/v1/me", Some("vc_forged"), None).await,
            StatusCode::UNAUTHORIZED,
            "UNAUTHENTICATED",
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn workspaces_roles_and_suspension() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let ana = app.signup("ana@x.io").await;
        let bia = app.signup("bia@x.io").await;
        let (ana_t, bia_t) = (token(&ana), token(&bia));
        // Bia joins Ana's workspace as a VIEWER.
        let ana_tenant = ana["tenant"]["id"].as_str().unwrap();
        db.store
            .add_membership(
                ana_tenant,
                bia["identity"]["id"].as_str().unwrap(),
                vivacampo_core::tenancy::Role::Viewer,
                None,
            )
            .await
            .unwrap();
        let switched = app
            .send(
                "POST",
                "/v1/auth/workspaces/switch",
                Some(&bia_t),
                Some(json!({"tenant_id": ana_tenant})),
            )
            .await;
        assert_eq!(switched.status, StatusCode::OK, "{}", switched.body);
        assert_eq!(switched.body["tenant"]["role"], "VIEWER");
        assert_eq!(switched.body["memberships"].as_array().unwrap().len(), 2);
        let viewer = token(&switched.body);

        let farm = app
            .send(
                "POST",
                "/v1/farms",
                Some(&ana_t),
                Some(json!({"name": "Santa Rita"})),
            )
            .await;
        assert_eq!(farm.status, StatusCode::CREATED);
        assert_eq!(farm.body["timezone"], "America/Sao_Paulo");
        let denied = app
            .send(
                "POST",
                "/v1/farms",
                Some(&viewer),
                Some(json!({"name": "Nope"})),
            )
            .await;
        assert_error(&denied, StatusCode::FORBIDDEN, "FORBIDDEN");
        assert_eq!(
            app.send("GET", "/v1/farms", Some(&viewer), None).await.body["total"],
            1
        );

        let not_member = app
            .send(
                "POST",
                "/v1/auth/workspaces/switch",
                Some(&ana_t),
                Some(json!({"tenant_id": bia["tenant"]["id"]})),
            )
            .await;
        assert_error(&not_member, StatusCode::NOT_FOUND, "NOT_FOUND");

        db.store
            .update_tenant(
                ana_tenant,
                vivacampo_store::accounts::TenantPatch {
                    status: Some(vivacampo_core::tenancy::TenantStatus::Suspended),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        assert_error(
            &app.send("GET", "/v1/farms", Some(&ana_t), None).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
        assert_eq!(
            app.send("GET", "/v1/me", Some(&ana_t), None).await.body["tenant"]["status"],
            "SUSPENDED"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn farms_and_fields() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let t = token(&app.signup("ana@x.io").await);
        let other = token(&app.signup("eve@x.io").await);

        let farm = app
            .send(
                "POST",
                "/v1/farms",
                Some(&t),
                Some(json!({"name": "Santa Rita", "timezone": "America/Cuiaba"})),
            )
            .await
            .body;
        let farm_id = farm["id"].as_str().unwrap().to_owned();
        for key in [
            "id",
            "name",
            "timezone",
            "aoi_count",
            "created_at",
            "updated_at",
        ] {
            assert!(farm.get(key).is_some(), "farm has {key}");
        }
        let bad_tz = app
            .send(
                "POST",
                "/v1/farms",
                Some(&t),
                Some(json!({"name": "X", "timezone": "sao paulo"})),
            )
            .await;
        assert_error(&bad_tz, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

        let created = app
            .send("POST", "/v1/aois", Some(&t), Some(json!({"farm_id": farm_id, "name": "Pivô 1", "use_type": "CROP",
                                                            "geometry": square(-49.30, -16.70, 0.01)})))
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        let aoi = created.body;
        let aoi_id = aoi["id"].as_str().unwrap().to_owned();
        assert!(aoi["backfill_job_id"].is_string());
        assert_eq!(aoi["geometry"]["type"], "MultiPolygon");
        assert_eq!(aoi["status"], "ACTIVE");
        assert_eq!(aoi["processing"]["pending_jobs"], 1);
        let area = aoi["area_ha"].as_f64().unwrap();
        let expected =
            vivacampo_core::geometry::FieldGeometry::from_geojson(&square(-49.30, -16.70, 0.01))
                .unwrap()
                .area_ha();
        assert_eq!(area, expected);
        let bbox: Vec<f64> = serde_json::from_value(aoi["bbox"].clone()).unwrap();
        for (got, want) in bbox.iter().zip([-49.30, -16.70, -49.29, -16.69]) {
            assert!((got - want).abs() < 1e-9, "bbox {bbox:?}");
        }

        let wkt = app
            .send("POST", "/v1/aois", Some(&t), Some(json!({"farm_id": farm_id, "name": "WKT", "use_type": "PASTURE",
                "geom": "POLYGON((-49.2 -16.7, -49.19 -16.7, -49.19 -16.69, -49.2 -16.69, -49.2 -16.7))"})))
            .await;
        assert_eq!(wkt.status, StatusCode::CREATED, "{}", wkt.body);

        // Every geometry rule answers 400 with its reason.
        let many: Vec<Value> = (0..=10_001)
            .map(|i| {
                let a = f64::from(i) / 10_001.0 * std::f64::consts::TAU;
                json!([-49.3 + 0.01 * a.cos(), -16.7 + 0.01 * a.sin()])
            })
            .collect();
        let mut many = many;
        many.push(many[0].clone());
        let cases = [
            (
                json!({"type": "Polygon", "coordinates": [[[-49.3, -16.7], [-49.29, -16.69], [-49.29, -16.7], [-49.3, -16.69], [-49.3, -16.7]]]}),
                "self_intersection",
            ),
            (square(-49.3, -16.7, 0.0002), "too_small"),
            (
                json!({"type": "Polygon", "coordinates": [[[-49.3, -16.7], [-49.29, -16.7], [-49.29, -16.69], [-49.3, -16.69]]]}),
                "unclosed_ring",
            ),
            (
                json!({"type": "Polygon", "coordinates": [[[-49.3, -16.7], [-49.29, -16.7], [-49.3, -16.7]]]}),
                "too_few_points",
            ),
            (square(-190.0, -16.7, 0.01), "out_of_range"),
            (
                json!({"type": "Point", "coordinates": [-49.3, -16.7]}),
                "not_polygonal",
            ),
            (json!({"type": "Polygon", "coordinates": []}), "empty"),
            (square(-49.3, -16.7, 1.0), "too_large"),
            (
                json!({"type": "Polygon", "coordinates": [many]}),
                "too_many_vertices",
            ),
        ];
        let big = App::new(
            &db,
            ApiConfig {
                body_limit: 2 * 1024 * 1024,
                ..config()
            },
        );
        for (geometry, reason) in cases {
            let r = big
                .send("POST", "/v1/aois", Some(&t), Some(json!({"farm_id": farm_id, "name": "bad", "use_type": "CROP", "geometry": geometry})))
                .await;
            assert_error(&r, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            assert_eq!(r.body["error"]["details"]["reason"], reason, "{}", r.body);
            assert_eq!(r.body["error"]["details"]["field"], "geometry");
        }

        // Another tenant sees nothing and changes nothing.
        for (method, path) in [
            ("GET", format!("/v1/aois/{aoi_id}")),
            ("DELETE", format!("/v1/aois/{aoi_id}")),
            ("GET", format!("/v1/farms/{farm_id}")),
            ("DELETE", format!("/v1/farms/{farm_id}")),
        ] {
            assert_error(
                &app.send(method, &path, Some(&other), None).await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }
        let patch_other = app
            .send(
                "PATCH",
                &format!("/v1/aois/{aoi_id}"),
                Some(&other),
                Some(json!({"name": "mine"})),
            )
            .await;
        assert_error(&patch_other, StatusCode::NOT_FOUND, "NOT_FOUND");
        let into_other_farm = app
            .send("POST", "/v1/aois", Some(&other), Some(json!({"farm_id": farm_id, "name": "x", "use_type": "CROP", "geometry": square(-49.3, -16.7, 0.01)})))
            .await;
        assert_error(&into_other_farm, StatusCode::NOT_FOUND, "NOT_FOUND");
        assert_eq!(
            app.send("GET", "/v1/aois", Some(&other), None).await.body["total"],
            0
        );
        assert_error(
            &app.send("GET", "/v1/aois/not-a-uuid", Some(&t), None).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );

        let listed = app
            .send(
                "GET",
                &format!("/v1/aois?farm_id={farm_id}&status=ACTIVE&page_size=1"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(
            (
                listed.body["total"].clone(),
                listed.body["page_size"].clone()
            ),
            (json!(2), json!(1))
        );
        assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
        let bad_page = app
            .send("GET", "/v1/aois?page_size=500", Some(&t), None)
            .await;
        assert_error(&bad_page, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

        let patched = app
            .send(
                "PATCH",
                &format!("/v1/aois/{aoi_id}"),
                Some(&t),
                Some(json!({"name": "Pivô 1A", "geometry": square(-49.30, -16.70, 0.012)})),
            )
            .await;
        assert_eq!(patched.status, StatusCode::OK, "{}", patched.body);
        assert_eq!(patched.body["geometry_version"], 2);
        assert_eq!(patched.body["name"], "Pivô 1A");
        assert!(
            patched.body["backfill_job_id"].is_string(),
            "a new shape is reprocessed"
        );
        let bad_patch = app
            .send(
                "PATCH",
                &format!("/v1/aois/{aoi_id}"),
                Some(&t),
                Some(json!({"geometry": square(-49.3, -16.7, 0.0002)})),
            )
            .await;
        assert_eq!(bad_patch.body["error"]["details"]["reason"], "too_small");

        let backfill = app
            .send(
                "POST",
                &format!("/v1/aois/{aoi_id}/backfill"),
                Some(&t),
                Some(json!({"weeks": 12})),
            )
            .await;
        assert_eq!(backfill.status, StatusCode::ACCEPTED);
        assert!(backfill.body["job_id"].is_string());
        let ranged = app
            .send(
                "POST",
                &format!("/v1/aois/{aoi_id}/backfill"),
                Some(&t),
                Some(json!({"from": "2026-01-01", "to": "2026-02-01"})),
            )
            .await;
        assert_eq!(ranged.status, StatusCode::ACCEPTED, "{}", ranged.body);
        let too_many = app
            .send(
                "POST",
                &format!("/v1/aois/{aoi_id}/backfill"),
                Some(&t),
                Some(json!({"weeks": 105})),
            )
            .await;
        assert_error(&too_many, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");

        let farm_now = app
            .send("GET", &format!("/v1/farms/{farm_id}"), Some(&t), None)
            .await
            .body;
        assert_eq!(farm_now["aoi_count"], 2);
        let renamed = app
            .send(
                "PATCH",
                &format!("/v1/farms/{farm_id}"),
                Some(&t),
                Some(json!({"name": "Santa Rita II"})),
            )
            .await;
        assert_eq!(renamed.body["name"], "Santa Rita II");

        assert_eq!(
            app.send("DELETE", &format!("/v1/aois/{aoi_id}"), Some(&t), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_error(
            &app.send("GET", &format!("/v1/aois/{aoi_id}"), Some(&t), None)
                .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        let deletes = app
            .send(
                "GET",
                &format!("/v1/jobs?aoi_id={aoi_id}&type=DELETE_AOI_ASSETS"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(deletes.body["total"], 1);
        assert_eq!(
            app.send("DELETE", &format!("/v1/farms/{farm_id}"), Some(&t), None)
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            app.send("GET", "/v1/aois", Some(&t), None).await.body["total"],
            0,
            "a farm's fields go with it"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn quotas_are_enforced() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let login = app.signup("ana@x.io").await;
        let t = token(&login);
        db.store
            .update_tenant(
                login["tenant"]["id"].as_str().unwrap(),
                vivacampo_store::accounts::TenantPatch {
                    max_fields: Some(1),
                    ..Default::default()
                },
                None,
            )
            .await
            .unwrap();
        let farm = app
            .send("POST", "/v1/farms", Some(&t), Some(json!({"name": "F"})))
            .await
            .body;
        let field = json!({"farm_id": farm["id"], "name": "A", "use_type": "CROP", "geometry": square(-49.3, -16.7, 0.01)});
        assert_eq!(
            app.send("POST", "/v1/aois", Some(&t), Some(field.clone()))
                .await
                .status,
            StatusCode::CREATED
        );
        assert_error(
            &app.send("POST", "/v1/aois", Some(&t), Some(field)).await,
            StatusCode::FORBIDDEN,
            "QUOTA_EXCEEDED",
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn jobs_endpoints() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let t = token(&app.signup("ana@x.io").await);
        let other = token(&app.signup("eve@x.io").await);
        let aoi = app.field_in_new_farm(&t).await;
        let job_id = aoi["backfill_job_id"].as_str().unwrap();
        let job = app
            .send("GET", &format!("/v1/jobs/{job_id}"), Some(&t), None)
            .await
            .body;
        for key in [
            "id",
            "type",
            "aoi_id",
            "status",
            "attempts",
            "max_attempts",
            "progress",
            "last_error",
            "run_after",
            "created_at",
            "started_at",
            "finished_at",
        ] {
            assert!(job.get(key).is_some(), "job has {key}: {job}");
        }
        assert_eq!(
            (
                job["type"].as_str(),
                job["status"].as_str(),
                job["max_attempts"].as_i64()
            ),
            (Some("BACKFILL"), Some("PENDING"), Some(3))
        );
        assert_error(
            &app.send("GET", &format!("/v1/jobs/{job_id}"), Some(&other), None)
                .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        assert_eq!(
            app.send(
                "GET",
                &format!(
                    "/v1/jobs?status=PENDING&type=BACKFILL&aoi_id={}",
                    aoi["id"].as_str().unwrap()
                ),
                Some(&t),
                None
            )
            .await
            .body["total"],
            1
        );
        assert_error(
            &app.send("GET", "/v1/jobs?status=DONE", Some(&t), None)
                .await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        );
        assert_error(
            &app.send("POST", &format!("/v1/jobs/{job_id}/retry"), Some(&t), None)
                .await,
            StatusCode::CONFLICT,
            "CONFLICT",
        );

        let cancelled = app
            .send("POST", &format!("/v1/jobs/{job_id}/cancel"), Some(&t), None)
            .await;
        assert_eq!(cancelled.status, StatusCode::ACCEPTED);
        assert_eq!(cancelled.body["status"], "CANCELLED");
        let retried = app
            .send("POST", &format!("/v1/jobs/{job_id}/retry"), Some(&t), None)
            .await;
        assert_eq!(
            (retried.status, retried.body["status"].as_str()),
            (StatusCode::ACCEPTED, Some("PENDING"))
        );

        // Run it once through the queue so it has a run to show.
        let leased = db
            .store
            .lease_job("w", Duration::from_secs(30))
            .await
            .unwrap()
            .unwrap();
        db.store
            .fail_job(&leased.job.id, "w", leased.attempt, "catalog down")
            .await
            .unwrap();
        let runs = app
            .send("GET", &format!("/v1/jobs/{job_id}/runs"), Some(&t), None)
            .await
            .body;
        assert_eq!(runs[0]["attempt"], 1);
        assert_eq!(runs[0]["status"], "FAILED");
        assert_eq!(runs[0]["error"], "catalog down");
        assert_eq!(
            app.send("GET", &format!("/v1/jobs/{job_id}"), Some(&t), None)
                .await
                .body["last_error"],
            "catalog down"
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn admin_endpoints() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let user = app.signup("ana@x.io").await;
        let t = token(&user);
        assert_error(
            &app.send("GET", "/v1/admin/tenants", Some(&t), None).await,
            StatusCode::FORBIDDEN,
            "FORBIDDEN",
        );
        db.store
            .set_system_admin(user["identity"]["id"].as_str().unwrap(), true)
            .await
            .unwrap();
        assert_eq!(
            app.send("GET", "/v1/me", Some(&t), None).await.body["is_system_admin"],
            true
        );

        let created = app
            .send(
                "POST",
                "/v1/admin/tenants",
                Some(&t),
                Some(json!({"name": "Agro SA", "plan": "pro", "quotas": {"max_fields": 50}})),
            )
            .await;
        assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
        assert_eq!(
            (created.body["type"].as_str(), created.body["plan"].as_str()),
            (Some("COMPANY"), Some("PRO"))
        );
        assert_eq!(created.body["quotas"]["max_fields"], 50);
        let id = created.body["id"].as_str().unwrap();
        let patched = app
            .send(
                "PATCH",
                &format!("/v1/admin/tenants/{id}"),
                Some(&t),
                Some(json!({"status": "SUSPENDED", "quotas": {"max_hectares": 900.5}})),
            )
            .await;
        assert_eq!(
            (
                patched.body["status"].as_str(),
                patched.body["quotas"]["max_hectares"].as_f64()
            ),
            (Some("SUSPENDED"), Some(900.5))
        );
        let bad = app
            .send(
                "PATCH",
                &format!("/v1/admin/tenants/{id}"),
                Some(&t),
                Some(json!({"status": "ASLEEP"})),
            )
            .await;
        assert_error(&bad, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
        assert_eq!(
            app.send("GET", "/v1/admin/tenants", Some(&t), None)
                .await
                .body["total"],
            2
        );

        // A dead job, replayed from the dead-letter queue.
        let job = db
            .store
            .enqueue(vivacampo_store::queue::NewJob {
                tenant_id: user["tenant"]["id"].as_str().unwrap().to_owned(),
                aoi_id: None,
                job_type: vivacampo_core::jobs::JobType::Retention,
                idempotency_key: None,
                payload: json!({}),
                run_after: None,
            })
            .await
            .unwrap()
            .job;
        for _ in 0..3 {
            vivacampo_store::testing::make_job_ready(&db.store, &job.id)
                .await
                .unwrap();
            let leased = db
                .store
                .lease_job("w", Duration::from_secs(30))
                .await
                .unwrap()
                .unwrap();
            db.store
                .fail_job(&job.id, "w", leased.attempt, "always fails")
                .await
                .unwrap();
        }
        let queues = app
            .send("GET", "/v1/admin/ops/queues", Some(&t), None)
            .await
            .body;
        assert_eq!(queues["dead"], 1);
        assert!(
            queues["depth"]
                .as_array()
                .unwrap()
                .iter()
                .any(|d| d["type"] == "RETENTION" && d["status"] == "DEAD")
        );
        let dead = app
            .send("GET", "/v1/admin/jobs?status=DEAD", Some(&t), None)
            .await
            .body;
        assert_eq!(dead["total"], 1);
        assert_eq!(dead["items"][0]["last_error"], "always fails");
        assert!(dead["items"][0]["tenant_id"].is_string());
        let replay = app
            .send(
                "POST",
                &format!("/v1/admin/jobs/{}/retry", job.id),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(
            (replay.status, replay.body["status"].as_str()),
            (StatusCode::ACCEPTED, Some("PENDING"))
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn operations_and_protocol() {
    for db in TestDb::all().await {
        let app = App::new(
            &db,
            ApiConfig {
                auth_attempts_per_minute: 3,
                ..config()
            },
        );
        assert_eq!(
            app.send("GET", "/healthz", None, None).await.status,
            StatusCode::OK
        );
        let ready = app.send("GET", "/readyz", None, None).await;
        assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
        assert_eq!(
            ready.body["checks"],
            json!({"database": "ok", "migrations": "ok", "storage": "not_required"})
        );

        let req = Request::get("/healthz")
            .header("x-request-id", "trace-me-123")
            .body(Body::empty())
            .unwrap();
        assert_eq!(app.raw(req).await.headers["x-request-id"], "trace-me-123");
        assert!(
            app.send("GET", "/healthz", None, None)
                .await
                .headers
                .contains_key("x-request-id")
        );

        let malformed = Request::post("/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from("{nope"))
            .unwrap();
        assert_error(
            &app.raw(malformed).await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        );
        let huge = Request::post("/v1/auth/login")
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(format!(
                "{{\"email\": \"{}\"}}",
                "a".repeat(70 * 1024)
            )))
            .unwrap();
        assert_error(
            &app.raw(huge).await,
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
        );
        assert_error(
            &app.send("GET", "/v1/nothing-here", None, None).await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );

        // The fourth sign-in attempt within a minute from one address is refused.
        for _ in 0..3 {
            let r = app
                .send(
                    "POST",
                    "/v1/auth/login",
                    None,
                    Some(json!({"email": "a@b.co", "password": "12345678"})),
                )
                .await;
            assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        }
        let limited = app
            .send(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": "a@b.co", "password": "12345678"})),
            )
            .await;
        assert_error(&limited, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
        assert!(limited.headers.contains_key(header::RETRY_AFTER));

        let metrics = app.send("GET", "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap();
        for family in [
            "vivacampo_http_requests_total",
            "vivacampo_http_request_duration_seconds_bucket",
            "vivacampo_db_pool_in_use",
            "vivacampo_db_pool_waiting",
            "vivacampo_queue_oldest_pending_age_seconds",
        ] {
            assert!(text.contains(family), "metrics has {family}");
        }
        assert!(text.contains("route=\"/healthz\""));

        // Only `vivacampo demo` offers a demo account on the sign-in page.
        let page = app.send("GET", "/", None, None).await;
        assert_eq!(page.status, StatusCode::OK);
        let html = page.body.as_str().unwrap();
        assert!(html.contains("<title>VivaCampo</title>") && !html.contains("vivacampo-demo"));

        let doc = app.send("GET", "/v1/openapi.json", None, None).await.body;
        for path in [
            "/v1/auth/signup",
            "/v1/auth/login",
            "/v1/auth/logout",
            "/v1/auth/workspaces/switch",
            "/v1/me",
            "/v1/farms",
            "/v1/farms/{id}",
            "/v1/aois",
            "/v1/aois/{id}",
            "/v1/aois/{id}/backfill",
            "/v1/jobs",
            "/v1/jobs/{id}",
            "/v1/jobs/{id}/runs",
            "/v1/jobs/{id}/retry",
            "/v1/jobs/{id}/cancel",
            "/v1/admin/ops/queues",
            "/v1/admin/jobs",
            "/v1/admin/jobs/{id}/retry",
            "/v1/admin/tenants",
            "/v1/admin/tenants/{id}",
            "/healthz",
            "/readyz",
            "/metrics",
        ] {
            assert!(doc["paths"].get(path).is_some(), "OpenAPI documents {path}");
        }
        assert!(app.state.store().ping().await.is_ok());
        db.drop_db().await;
    }
}

/// The page itself, as the browser gets it from a server configured otherwise.
async fn page(app: &App) -> (axum::http::HeaderMap, String) {
    let page = app.send("GET", "/", None, None).await;
    assert_eq!(page.status, StatusCode::OK);
    (page.headers, page.body.as_str().unwrap().to_owned())
}

#[tokio::test]
async fn the_page_says_when_sign_up_is_closed() {
    let db = TestDb::sqlite().await;
    let (_, open) = page(&App::new(&db, config())).await;
    assert!(!open.contains("vivacampo-signup"), "{open}");
    let closed = App::new(
        &db,
        ApiConfig {
            signup_enabled: false,
            ..config()
        },
    );
    let (headers, html) = page(&closed).await;
    assert!(
        html.contains("<meta name=\"vivacampo-signup\" content=\"closed\">"),
        "{html}"
    );
    assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    let signup = closed
        .send(
            "POST",
            "/v1/auth/signup",
            None,
            Some(json!({"email": "a@b.co", "password": "segredo-forte", "name": "A"})),
        )
        .await;
    assert_error(&signup, StatusCode::FORBIDDEN, "FORBIDDEN");
    db.drop_db().await;
}

#[tokio::test]
async fn the_page_carries_the_base_map_setting() {
    let db = TestDb::sqlite().await;
    let (headers, osm) = page(&App::new(&db, config())).await;
    assert!(
        !osm.contains("vivacampo-basemap"),
        "the default needs no word"
    );
    let default_policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(!default_policy.contains("http:"), "{default_policy}");

    let local = "http://10.0.0.5:8081/osm/{z}/{x}/{y}.png";
    let app = App::new(
        &db,
        ApiConfig {
            basemap: local.into(),
            ..config()
        },
    );
    let (headers, html) = page(&app).await;
    assert!(
        html.contains(&format!(
            "<meta name=\"vivacampo-basemap\" content=\"{local}\">"
        )),
        "{html}"
    );
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    assert!(
        policy.contains("img-src 'self' data: blob: https: http://10.0.0.5:8081;"),
        "{policy}"
    );
    assert!(policy.contains("script-src 'self';"), "{policy}");

    let none = App::new(
        &db,
        ApiConfig {
            basemap: "none".into(),
            ..config()
        },
    );
    let (_, html) = page(&none).await;
    assert!(
        html.contains("<meta name=\"vivacampo-basemap\" content=\"none\">"),
        "{html}"
    );
    db.drop_db().await;
}

#[tokio::test]
async fn exhausted_pool_answers_503_quickly_and_recovers() {
    let mut dbs = vec![TestDb::sqlite_with(2, Duration::from_millis(300)).await];
    dbs.extend(TestDb::postgres_with(2, Duration::from_millis(300)).await);
    for db in dbs {
        let app = App::new(&db, config());
        let t = token(&app.signup("ana@x.io").await);
        let held = (
            hold_connection(&db.store).await.unwrap(),
            hold_connection(&db.store).await.unwrap(),
        );
        let started = Instant::now();
        let r = app.send("GET", "/v1/farms", Some(&t), None).await;
        assert_error(&r, StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE");
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "{:?}",
            started.elapsed()
        );
        assert!(r.headers.contains_key(header::RETRY_AFTER));
        drop(held);
        assert_eq!(
            app.send("GET", "/v1/farms", Some(&t), None).await.status,
            StatusCode::OK
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn field_weeks_history_and_raster_download() {
    use vivacampo_core::weeks::IsoWeek;
    use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};
    for db in TestDb::all().await {
        let raster_dir = temp_raster_dir();
        let app = App::with_rasters(&db, config(), &raster_dir);
        let login = app.signup("ana@x.io").await;
        let t = token(&login);
        let tenant = login["tenant"]["id"].as_str().unwrap().to_owned();
        let other = token(&app.signup("eve@x.io").await);
        let aoi = app.field_in_new_farm(&t).await;
        let aoi_id = aoi["id"].as_str().unwrap();
        let key = format!("tenants/{tenant}/aois/{aoi_id}/2026/W10/v1.tif");
        let cog = include_bytes!("../../vivacampo-raster/tests/fixtures/rgbn.tif");
        std::fs::create_dir_all(raster_dir.join(&key).parent().unwrap()).unwrap();
        std::fs::write(raster_dir.join(&key), cog).unwrap();
        let stats = |mean: f64| IndexStats {
            index: "ndvi".into(),
            count: 100,
            valid_count: 90,
            mean: Some(mean),
            std: Some(0.1),
            min: Some(0.1),
            max: Some(0.9),
            p10: Some(0.2),
            p50: Some(mean),
            p90: Some(0.8),
        };
        for (week, status, mean) in [
            (9, WeekStatus::Ok, 0.5),
            (10, WeekStatus::Ok, 0.6),
            (11, WeekStatus::Cloudy, 0.1),
        ] {
            let result = WeekResult {
                week: IsoWeek::new(2026, week).unwrap(),
                status,
                scene_datetime: Some(1_772_446_500_000),
                cloud_fraction: Some(0.1),
                valid_pixel_ratio: Some(0.9),
                raster_key: (week == 10).then(|| key.clone()),
                raster_bytes: (week == 10).then_some(cog.len() as i64),
                scenes: json!([{"id": "S2A_MSIL2A_20260302", "datetime": "2026-03-02T10:15:00Z"}]),
                stats: vec![stats(mean)],
            };
            db.store
                .record_aoi_week(&tenant, aoi_id, &result)
                .await
                .unwrap();
        }

        let history = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history?index=ndvi"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.body);
        let points = history.body["points"].as_array().unwrap();
        assert_eq!(points.len(), 3);
        assert_eq!(
            (points[0]["week"].as_i64(), points[0]["week_start"].as_str()),
            (Some(9), Some("2026-02-23"))
        );
        for key in [
            "year",
            "week",
            "week_start",
            "status",
            "scene_datetime",
            "valid_pixel_ratio",
            "mean",
            "std",
            "min",
            "max",
            "p10",
            "p50",
            "p90",
            "baseline",
            "anomaly",
        ] {
            assert!(points[1].get(key).is_some(), "WeekPoint has {key}");
        }
        assert!((points[1]["anomaly"].as_f64().unwrap() - 0.1).abs() < 1e-9);
        assert_eq!(
            (points[2]["status"].as_str(), points[2]["mean"].is_null()),
            (Some("CLOUDY"), true)
        );
        let ranged = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history?from=2026-03-02&to=2026-03-08"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(ranged.body["points"].as_array().unwrap().len(), 1);
        assert_error(
            &app.send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history?index=nope"),
                Some(&t),
                None,
            )
            .await,
            StatusCode::BAD_REQUEST,
            "VALIDATION_ERROR",
        );
        assert_error(
            &app.send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history"),
                Some(&other),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );

        let weeks = app
            .send("GET", &format!("/v1/aois/{aoi_id}/weeks"), Some(&t), None)
            .await
            .body;
        let items = weeks["items"].as_array().unwrap();
        assert_eq!(items.len(), 3);
        assert_eq!(items[0]["week"], 11);
        assert_eq!(items[1]["indices"], json!(["ndvi"]));
        assert_eq!(items[1]["has_raster"], true);
        assert_eq!(items[1]["scenes"][0]["id"], "S2A_MSIL2A_20260302");

        let tif = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/weeks/2026/10/raster.tif"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(tif.status, StatusCode::OK);
        assert!(
            tif.headers[header::CONTENT_TYPE]
                .to_str()
                .unwrap()
                .starts_with("image/tiff")
        );
        // A tenant's raster is neither cached nor sniffed (issue 11.16).
        assert_eq!(tif.headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(tif.headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        match &tif.body {
            Value::String(text) => assert!(text.starts_with("II*") || text.starts_with("MM")),
            other => panic!("expected TIFF bytes, got {other}"),
        }
        // The read went through the raster store, and /metrics counts it and the week's size.
        let metrics = app.send("GET", "/metrics", None, None).await;
        let text = metrics.body.as_str().unwrap();
        let reads = text
            .lines()
            .find_map(|l| {
                l.strip_prefix(
                    "vivacampo_external_calls_total{service=\"raster_store\",outcome=\"ok\"} ",
                )
            })
            .unwrap_or_else(|| panic!("raster store calls exported: {text}"));
        assert!(reads.trim().parse::<f64>().unwrap() >= 1.0, "{text}");
        assert!(
            text.contains(&format!(
                "vivacampo_storage_bytes{{tenant=\"{tenant}\"}} {}",
                cog.len()
            )),
            "{text}"
        );
        assert_error(
            &app.send(
                "GET",
                &format!("/v1/aois/{aoi_id}/weeks/2026/11/raster.tif"),
                Some(&t),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        assert_error(
            &app.send(
                "GET",
                &format!("/v1/aois/{aoi_id}/weeks/2026/10/raster.tif"),
                Some(&other),
                None,
            )
            .await,
            StatusCode::NOT_FOUND,
            "NOT_FOUND",
        );
        let _ = std::fs::remove_dir_all(raster_dir);
        db.drop_db().await;
    }
}

/// Malformed path segments get the error shape of API.md, never axum's plain-text rejection: a
/// year or week that is not a number, a week out of 1–53, week 53 of a 52-week year.
#[tokio::test]
async fn bad_path_segments_answer_the_error_shape() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        let t = token(&app.signup("ana@x.io").await);
        let aoi = app.field_in_new_farm(&t).await;
        let aoi_id = aoi["id"].as_str().unwrap();
        let raster =
            |year: &str, week: &str| format!("/v1/aois/{aoi_id}/weeks/{year}/{week}/raster.tif");
        for (year, week, field, reason) in [
            ("2026", "abc", "week", "invalid"),
            ("2026", "300", "week", "out_of_range"),
            ("2026", "0", "week", "out_of_range"),
            ("2026", "-1", "week", "out_of_range"),
            ("2026", "1.5", "week", "invalid"),
            ("2025", "53", "week", "out_of_range"),
            ("twenty", "10", "year", "invalid"),
            ("99999", "10", "year", "out_of_range"),
        ] {
            let r = app.send("GET", &raster(year, week), Some(&t), None).await;
            assert_error(&r, StatusCode::BAD_REQUEST, "VALIDATION_ERROR");
            assert_eq!(
                (
                    &r.body["error"]["details"]["field"],
                    &r.body["error"]["details"]["reason"]
                ),
                (&json!(field), &json!(reason)),
                "{year}/{week}: {}",
                r.body
            );
        }
        // A week that exists but was never processed, and ids that name nothing: 404.
        let r = app.send("GET", &raster("2026", "53"), Some(&t), None).await;
        assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
        let r = app
            .send(
                "GET",
                "/v1/aois/not-a-uuid/weeks/2026/10/raster.tif",
                Some(&t),
                None,
            )
            .await;
        assert_error(&r, StatusCode::NOT_FOUND, "NOT_FOUND");
        // Path segments that do not decode to UTF-8.
        for path in [
            format!("/v1/aois/{aoi_id}/weeks/%FF/10/raster.tif"),
            "/v1/aois/%FF".to_owned(),
            "/assets/%FF.js".to_owned(),
        ] {
            let r = app.send("GET", &path, Some(&t), None).await;
            assert!(
                r.body["error"]["code"].is_string(),
                "{path}: {} {}",
                r.status,
                r.body
            );
        }
        db.drop_db().await;
    }
}

#[tokio::test]
async fn wrong_passwords_slow_down_that_account_only() {
    for db in TestDb::all().await {
        let app = App::new(&db, config());
        app.signup("ana@x.io").await;
        app.signup("bia@x.io").await;
        let attempt = |email: &'static str, password: &'static str| {
            app.send(
                "POST",
                "/v1/auth/login",
                None,
                Some(json!({"email": email, "password": password})),
            )
        };
        for _ in 0..5 {
            let r = attempt("ana@x.io", "wrong-guess").await;
            assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        }
        // The sixth attempt waits the first backoff (1 s), the right password too.
        for password in ["wrong-guess", "segredo-forte"] {
            let r = attempt("ana@x.io", password).await;
            assert_error(&r, StatusCode::TOO_MANY_REQUESTS, "RATE_LIMITED");
            assert_eq!(r.headers[header::RETRY_AFTER], "1", "{password}");
        }
        let other = attempt("bia@x.io", "segredo-forte").await;
        assert_eq!(
            other.status,
            StatusCode::OK,
            "another account is not slowed"
        );

        tokio::time::sleep(Duration::from_millis(1100)).await;
        let ok = attempt("ana@x.io", "segredo-forte").await;
        assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
        // Success reset the count: five more wrong passwords before any wait.
        for _ in 0..5 {
            let r = attempt("ana@x.io", "wrong-guess").await;
            assert_error(&r, StatusCode::UNAUTHORIZED, "UNAUTHENTICATED");
        }
        db.drop_db().await;
    }
}

/// Radar weeks: `history?index=rvi` has points where optical is CLOUDY, `/weeks` items carry
/// their `radar` part, `radar.tif` downloads, `/v1/indices` names each index's sensor, and radar
/// indices have a TileJSON.
#[tokio::test]
async fn radar_weeks_history_indices_and_download() {
    use vivacampo_core::weeks::IsoWeek;
    use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};
    use vivacampo_store::radar::{RadarStatus, RadarWeekResult};
    for db in TestDb::all().await {
        let raster_dir = temp_raster_dir();
        let app = App::with_rasters(&db, config(), &raster_dir);
        let login = app.signup("ana@x.io").await;
        let t = token(&login);
        let tenant = login["tenant"]["id"].as_str().unwrap().to_owned();
        let other = token(&app.signup("eve@x.io").await);
        let aoi = app.field_in_new_farm(&t).await;
        let aoi_id = aoi["id"].as_str().unwrap();
        for week in [10, 11] {
            let result = WeekResult {
                week: IsoWeek::new(2026, week).unwrap(),
                status: WeekStatus::Cloudy,
                scene_datetime: Some(1_772_446_500_000),
                cloud_fraction: Some(0.95),
                valid_pixel_ratio: Some(0.05),
                raster_key: None,
                raster_bytes: None,
                scenes: json!([]),
                stats: vec![],
            };
            db.store
                .record_aoi_week(&tenant, aoi_id, &result)
                .await
                .unwrap();
        }
        let key = format!("tenants/{tenant}/aois/{aoi_id}/2026/W10/radar/v1-1.tif");
        let cog = include_bytes!("../../vivacampo-raster/tests/fixtures/rgbn.tif");
        std::fs::create_dir_all(raster_dir.join(&key).parent().unwrap()).unwrap();
        std::fs::write(raster_dir.join(&key), cog).unwrap();
        let stats = |index: &str, mean: f64| IndexStats {
            index: index.into(),
            count: 100,
            valid_count: 100,
            mean: Some(mean),
            std: Some(0.05),
            min: Some(mean - 0.1),
            max: Some(mean + 0.1),
            p10: Some(mean - 0.05),
            p50: Some(mean),
            p90: Some(mean + 0.05),
        };
        let ok = RadarWeekResult {
            week: IsoWeek::new(2026, 10).unwrap(),
            status: RadarStatus::Ok,
            scene_datetime: Some(1_772_441_712_000),
            orbit: Some("descending".into()),
            valid_pixel_ratio: Some(1.0),
            raster_key: Some(key.clone()),
            raster_bytes: Some(cog.len() as i64),
            scenes: json!([{"id": "S1A_IW_GRDH_1SDV_20260303T085512_R053_RTC", "orbit": "descending"}]),
            stats: vec![stats("rvi", 0.62), stats("vh_db", -15.5)],
        };
        db.store
            .record_radar_week(&tenant, aoi_id, &ok)
            .await
            .unwrap();
        let none = RadarWeekResult {
            week: IsoWeek::new(2026, 11).unwrap(),
            status: RadarStatus::NoData,
            scene_datetime: None,
            orbit: Some("descending".into()),
            valid_pixel_ratio: None,
            raster_key: None,
            raster_bytes: None,
            scenes: json!([]),
            stats: vec![],
        };
        db.store
            .record_radar_week(&tenant, aoi_id, &none)
            .await
            .unwrap();

        let history = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history?index=RVI"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(history.status, StatusCode::OK, "{}", history.body);
        assert_eq!(history.body["index"], "rvi");
        let points = history.body["points"].as_array().unwrap();
        assert_eq!(points.len(), 2);
        assert_eq!(
            (points[0]["status"].as_str(), points[0]["mean"].as_f64()),
            (Some("OK"), Some(0.62))
        );
        assert_eq!(points[1]["status"], "NO_DATA");
        assert!(points[1]["mean"].is_null());
        // The optical series of the same weeks is cloudy.
        let ndvi = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/history?index=ndvi"),
                Some(&t),
                None,
            )
            .await;
        assert!(
            ndvi.body["points"]
                .as_array()
                .unwrap()
                .iter()
                .all(|p| p["status"] == "CLOUDY")
        );

        let weeks = app
            .send("GET", &format!("/v1/aois/{aoi_id}/weeks"), Some(&t), None)
            .await
            .body;
        let items = weeks["items"].as_array().unwrap();
        let item = |week: i64| items.iter().find(|i| i["week"] == week).unwrap();
        assert_eq!(item(10)["status"], "CLOUDY");
        assert_eq!(item(10)["radar"]["status"], "OK");
        assert_eq!(item(10)["radar"]["orbit"], "descending");
        assert_eq!(item(10)["radar"]["has_raster"], true);
        assert!(item(10)["radar"]["scene_datetime"].is_string());
        assert_eq!(item(11)["radar"]["status"], "NO_DATA");

        let tif = app
            .send(
                "GET",
                &format!("/v1/aois/{aoi_id}/weeks/2026/10/radar.tif"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(tif.status, StatusCode::OK);
        assert!(
            tif.headers[header::CONTENT_DISPOSITION]
                .to_str()
                .unwrap()
                .contains("-radar.tif")
        );
        for (path, who) in [
            (format!("/v1/aois/{aoi_id}/weeks/2026/11/radar.tif"), &t),
            (format!("/v1/aois/{aoi_id}/weeks/2026/9/radar.tif"), &t),
            (format!("/v1/aois/{aoi_id}/weeks/2026/10/radar.tif"), &other),
        ] {
            assert_error(
                &app.send("GET", &path, Some(who), None).await,
                StatusCode::NOT_FOUND,
                "NOT_FOUND",
            );
        }

        let indices = app.send("GET", "/v1/indices", None, None).await.body;
        let entry = |name: &str| {
            indices["items"]
                .as_array()
                .unwrap()
                .iter()
                .find(|i| i["name"] == name)
                .unwrap()
                .clone()
        };
        assert_eq!(entry("ndvi")["sensor"], "optical");
        for name in ["rvi", "vh_vv", "vv_db", "vh_db"] {
            assert_eq!(entry(name)["sensor"], "radar", "{name}");
            assert_eq!(entry(name)["bands"], json!(["VV", "VH"]));
        }
        // Radar tiles come from the latest radar week (tests/tiles.rs renders them).
        let tilejson = app
            .send(
                "GET",
                &format!("/v1/tiles/aois/{aoi_id}/tilejson.json?index=rvi"),
                Some(&t),
                None,
            )
            .await;
        assert_eq!(tilejson.status, StatusCode::OK, "{}", tilejson.body);
        assert_eq!(tilejson.body["sensor"], "radar");
        let _ = std::fs::remove_dir_all(raster_dir);
        db.drop_db().await;
    }
}
