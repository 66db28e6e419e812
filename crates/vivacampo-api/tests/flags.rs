//! Feature flags over HTTP (API.md "Feature flags and operations"), in process, on SQLite and
//! (when configured) PostgreSQL: the admin API, the caller's map, and the gated routes.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::TestDb;

mod support;

struct App {
    router: axum::Router,
}

impl App {
    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
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
        let res = self.router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = res.into_body().collect().await.unwrap().to_bytes();
        (
            status,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    async fn signup(&self, email: &str) -> Value {
        let (status, body) = self
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": email, "password": "segredo-forte", "name": "Ana"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }
}

fn disabled(reply: &(StatusCode, Value), flag: &str) {
    assert_eq!(reply.0, StatusCode::SERVICE_UNAVAILABLE, "{}", reply.1);
    assert_eq!(reply.1["error"]["code"], "FEATURE_DISABLED");
    assert_eq!(reply.1["error"]["details"], json!({"flag": flag}));
}

#[tokio::test]
async fn flags_switch_routes_per_tenant_and_globally() {
    for db in TestDb::all().await {
        let dir = std::env::temp_dir().join(format!("vc-flags-{}", uuid::Uuid::new_v4()));
        let state = AppState::new(
            db.store.clone(),
            RasterStore::local(&dir).unwrap(),
            support::config(),
            Arc::new(Registry::new()),
        );
        let app = App {
            router: router(state),
        };
        let admin = app.signup("root@x.io").await;
        db.store
            .set_system_admin(admin["identity"]["id"].as_str().unwrap(), true)
            .await
            .unwrap();
        let root = admin["token"].as_str().unwrap().to_owned();
        let ana = app.signup("ana@x.io").await;
        let (ana_token, ana_tenant) = (
            ana["token"].as_str().unwrap().to_owned(),
            ana["tenant"]["id"].as_str().unwrap().to_owned(),
        );
        let bia = app.signup("bia@x.io").await;
        let bia_token = bia["token"].as_str().unwrap().to_owned();

        let (status, list) = app.send("GET", "/v1/admin/flags", Some(&root), None).await;
        assert_eq!(status, StatusCode::OK);
        let keys: Vec<&str> = list
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["key"].as_str().unwrap())
            .collect();
        assert_eq!(
            keys,
            [
                "tiles",
                "backfill",
                "imagery_refresh",
                "weather",
                "signals",
                "webhooks",
                "email",
                "signup",
                "raster_download"
            ]
        );
        assert_eq!(
            app.send("GET", "/v1/admin/flags", Some(&ana_token), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );

        // Tiles off for Ana's tenant only.
        let (status, flag) = app
            .send(
                "PUT",
                "/v1/admin/flags/tiles",
                Some(&root),
                Some(json!({"enabled": false, "tenant_id": ana_tenant})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{flag}");
        assert_eq!(flag["enabled"], true);
        assert_eq!(flag["tenants"], json!({ana_tenant.clone(): false}));
        let (_, mine) = app.send("GET", "/v1/flags", Some(&ana_token), None).await;
        assert_eq!(mine["tiles"], false);
        assert_eq!(mine["backfill"], true);
        assert_eq!(
            app.send("GET", "/v1/flags", Some(&bia_token), None).await.1["tiles"],
            true
        );
        let any_field = uuid::Uuid::new_v4();
        let tilejson = format!("/v1/tiles/aois/{any_field}/tilejson.json");
        disabled(
            &app.send("GET", &tilejson, Some(&ana_token), None).await,
            "tiles",
        );
        assert_eq!(
            app.send("GET", &tilejson, Some(&bia_token), None).await.0,
            StatusCode::NOT_FOUND,
            "other tenants are not affected"
        );
        let tile = format!("/v1/tiles/aois/{any_field}/12/1/1.png?tenant={ana_tenant}&exp=1&sig=x");
        assert_eq!(
            app.send("GET", &tile, None, None).await.0,
            StatusCode::UNAUTHORIZED,
            "a bad signature is refused before the flag is read"
        );

        // Backfill and raster downloads for everyone; sign-up globally.
        for key in ["backfill", "raster_download", "signup"] {
            let (status, _) = app
                .send(
                    "PUT",
                    &format!("/v1/admin/flags/{key}"),
                    Some(&root),
                    Some(json!({"enabled": false})),
                )
                .await;
            assert_eq!(status, StatusCode::OK);
        }
        disabled(
            &app.send(
                "POST",
                &format!("/v1/aois/{any_field}/backfill"),
                Some(&bia_token),
                Some(json!({"weeks": 4})),
            )
            .await,
            "backfill",
        );
        disabled(
            &app.send(
                "GET",
                &format!("/v1/aois/{any_field}/weeks/2026/10/raster.tif"),
                Some(&bia_token),
                None,
            )
            .await,
            "raster_download",
        );
        disabled(
            &app.send(
                "POST",
                "/v1/auth/signup",
                None,
                Some(json!({"email": "c@x.io", "password": "segredo-forte", "name": "C"})),
            )
            .await,
            "signup",
        );
        let (status, _) = app
            .send(
                "PUT",
                "/v1/admin/flags/signup",
                Some(&root),
                Some(json!({"enabled": true})),
            )
            .await;
        assert_eq!(status, StatusCode::OK);
        app.signup("c@x.io").await;

        // Unknown keys and tenants.
        assert_eq!(
            app.send(
                "PUT",
                "/v1/admin/flags/nope",
                Some(&root),
                Some(json!({"enabled": true}))
            )
            .await
            .0,
            StatusCode::NOT_FOUND
        );
        let (status, body) = app
            .send(
                "PUT",
                "/v1/admin/flags/tiles",
                Some(&root),
                Some(json!({"enabled": true, "tenant_id": uuid::Uuid::new_v4()})),
            )
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::NOT_FOUND, Some("NOT_FOUND"))
        );

        // On again: restored.
        app.send(
            "PUT",
            "/v1/admin/flags/tiles",
            Some(&root),
            Some(json!({"enabled": true, "tenant_id": ana_tenant})),
        )
        .await;
        assert_eq!(
            app.send("GET", &tilejson, Some(&ana_token), None).await.0,
            StatusCode::NOT_FOUND
        );
        // The status document, for system admins only.
        let (status, doc) = app
            .send("GET", "/v1/admin/ops/status", Some(&root), None)
            .await;
        assert_eq!(status, StatusCode::OK, "{doc}");
        assert_eq!(doc["status"], "healthy", "{doc}");
        assert_eq!(doc["database"]["status"], "ok");
        assert_eq!(doc["storage"]["status"], "ok");
        assert_eq!(doc["queue"]["pending"], 0);
        assert_eq!(
            app.send("GET", "/v1/admin/ops/status", Some(&ana_token), None)
                .await
                .0,
            StatusCode::FORBIDDEN
        );
        let doc = app.send("GET", "/v1/openapi.json", None, None).await.1;
        for path in [
            "/v1/admin/flags",
            "/v1/admin/flags/{key}",
            "/v1/flags",
            "/v1/admin/ops/status",
        ] {
            assert!(doc["paths"].get(path).is_some(), "OpenAPI documents {path}");
        }
        let _ = std::fs::remove_dir_all(&dir);
        db.drop_db().await;
    }
}
