//! The webhook and notification-preference routes of API.md: create (secret shown once),
//! validation naming the field, the delivery log and test ping, roles, the `webhooks` and
//! `email` flags; SQLite and (when configured) PostgreSQL.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::flags::Flag;
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::TestDb;

mod support;

async fn call(
    app: &axum::Router,
    method: &str,
    path: &str,
    token: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    if body.is_some() {
        req = req.header(header::CONTENT_TYPE, "application/json");
    }
    let body = body.map(|b| Body::from(b.to_string())).unwrap_or_default();
    let res = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn signup(app: &axum::Router, email: &str) -> Value {
    let req = Request::builder()
        .method("POST")
        .uri("/v1/auth/signup")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(
            json!({"email": email, "password": "segredo-forte", "name": "Ana"}).to_string(),
        ))
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn assert_invalid(r: &(StatusCode, Value), field: &str, reason: &str) {
    assert_eq!(r.0, StatusCode::BAD_REQUEST, "{}", r.1);
    assert_eq!(r.1["error"]["details"]["field"], field, "{}", r.1);
    assert_eq!(r.1["error"]["details"]["reason"], reason, "{}", r.1);
}

#[tokio::test]
async fn webhooks_deliveries_and_preferences() {
    for db in TestDb::all().await {
        let rasters = RasterStore::local(
            std::env::temp_dir().join(format!("vc-webhooks-{}", uuid::Uuid::new_v4())),
        )
        .unwrap();
        let state = AppState::new(
            db.store.clone(),
            rasters,
            support::config(),
            Arc::new(Registry::new()),
        );
        let app = router(state);
        let login = signup(&app, "ana@x.io").await;
        let t = login["token"].as_str().unwrap().to_owned();
        let tenant = login["tenant"]["id"].as_str().unwrap().to_owned();
        let eve = signup(&app, "eve@x.io").await["token"]
            .as_str()
            .unwrap()
            .to_owned();

        // Validation names the field.
        let bad = [
            (
                json!({"url": "ftp://example.com/x", "events": ["signal.opened"]}),
                "url",
                "scheme",
            ),
            (
                json!({"url": "not a url", "events": ["signal.opened"]}),
                "url",
                "invalid",
            ),
            (
                json!({"url": "https://example.com", "events": []}),
                "events",
                "empty",
            ),
            (
                json!({"url": "https://example.com", "events": ["ping"]}),
                "events",
                "invalid",
            ),
            (
                json!({"url": "https://example.com", "events": ["signal.closed"]}),
                "events",
                "invalid",
            ),
            (
                json!({"url": "https://example.com", "events": ["job.dead"], "description": "x".repeat(501)}),
                "description",
                "too_long",
            ),
        ];
        for (body, field, reason) in bad {
            let r = call(&app, "POST", "/v1/webhooks", &t, Some(body)).await;
            assert_invalid(&r, field, reason);
        }

        let (status, created) = call(
            &app,
            "POST",
            "/v1/webhooks",
            &t,
            Some(json!({"url": "https://erp.example.com/hooks/vivacampo",
                        "events": ["signal.opened", "signal.resolved", "signal.opened"],
                        "description": "ERP"})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED, "{created}");
        assert_eq!(
            created["events"],
            json!(["signal.opened", "signal.resolved"])
        );
        assert!(created["secret"].as_str().unwrap().starts_with("whsec_"));
        let id = created["id"].as_str().unwrap().to_owned();
        let (status, list) = call(&app, "GET", "/v1/webhooks", &t, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(list.as_array().unwrap().len(), 1);
        assert_eq!(list[0]["url"], "https://erp.example.com/hooks/vivacampo");
        assert!(
            list[0].get("secret").is_none(),
            "the secret is shown once: {list}"
        );

        // Another workspace sees none of it.
        let (status, list) = call(&app, "GET", "/v1/webhooks", &eve, None).await;
        assert_eq!((status, list), (StatusCode::OK, json!([])));
        for (method, path) in [
            ("GET", format!("/v1/webhooks/{id}/deliveries")),
            ("POST", format!("/v1/webhooks/{id}/test")),
            ("DELETE", format!("/v1/webhooks/{id}")),
        ] {
            let (status, body) = call(&app, method, &path, &eve, None).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{method} {path}: {body}");
        }

        // The test ping is queued and listed.
        let (status, ping) = call(&app, "POST", &format!("/v1/webhooks/{id}/test"), &t, None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{ping}");
        assert_eq!(ping["event"], "ping");
        assert_eq!(ping["status"], "PENDING");
        let (status, deliveries) = call(
            &app,
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            &t,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        let d = &deliveries[0];
        assert_eq!(d["id"], ping["id"]);
        for key in [
            "id",
            "event",
            "status",
            "attempts",
            "response_status",
            "created_at",
            "delivered_at",
        ] {
            assert!(d.get(key).is_some(), "{key} in {d}");
        }
        assert_eq!(d["attempts"], 0);
        assert_eq!(d["response_status"], Value::Null);

        // The flag turns the routes off.
        db.store
            .set_flag(Flag::Webhooks, Some(&tenant), false, None)
            .await
            .unwrap();
        let (status, body) = call(&app, "GET", "/v1/webhooks", &t, None).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "FEATURE_DISABLED");
        assert_eq!(body["error"]["details"]["flag"], "webhooks");
        db.store
            .set_flag(Flag::Webhooks, Some(&tenant), true, None)
            .await
            .unwrap();

        let (status, _) = call(&app, "DELETE", &format!("/v1/webhooks/{id}"), &t, None).await;
        assert_eq!(status, StatusCode::NO_CONTENT);
        let (status, _) = call(
            &app,
            "GET",
            &format!("/v1/webhooks/{id}/deliveries"),
            &t,
            None,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // The caller's own notification preferences.
        let (status, prefs) = call(&app, "GET", "/v1/me/notifications", &t, None).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            prefs,
            json!({"email": {"signals": "off", "language": "pt-BR"}})
        );
        let wanted = json!({"email": {"signals": "instant", "language": "en"}});
        let (status, prefs) = call(
            &app,
            "PUT",
            "/v1/me/notifications",
            &t,
            Some(wanted.clone()),
        )
        .await;
        assert_eq!((status, &prefs), (StatusCode::OK, &wanted));
        assert_eq!(
            call(&app, "GET", "/v1/me/notifications", &t, None).await.1,
            wanted
        );
        assert_eq!(
            call(&app, "GET", "/v1/me/notifications", &eve, None)
                .await
                .1["email"]["signals"],
            "off"
        );
        let r = call(
            &app,
            "PUT",
            "/v1/me/notifications",
            &t,
            Some(json!({"email": {"signals": "weekly", "language": "en"}})),
        )
        .await;
        assert_invalid(&r, "email.signals", "invalid");
        let r = call(
            &app,
            "PUT",
            "/v1/me/notifications",
            &t,
            Some(json!({"email": {"signals": "daily", "language": "fr"}})),
        )
        .await;
        assert_invalid(&r, "email.language", "invalid");
        db.drop_db().await;
    }
}

/// Webhook URLs naming loopback, private, link-local or other non-public addresses, or
/// `localhost`, are refused unless `webhook_allow_private` is on (the worker checks what names
/// resolve to when it delivers).
#[tokio::test]
async fn webhook_urls_must_be_public_unless_allowed() {
    const NOT_PUBLIC: [&str; 12] = [
        "http://127.0.0.1/x",
        "http://127.0.0.1:5432/",
        "http://[::1]/",
        "http://169.254.169.254/latest/meta-data/",
        "http://10.0.0.7/hook",
        "http://192.168.1.1/",
        "http://100.64.0.1/",
        "http://[fd00::1]/",
        "http://[::ffff:127.0.0.1]/",
        // The URL parser reads these as 127.0.0.1 and 0.0.0.0.
        "http://2130706433/",
        "http://0/",
        "http://api.LOCALHOST./hook",
    ];
    for db in TestDb::all().await {
        for allow_private in [false, true] {
            let rasters = RasterStore::local(
                std::env::temp_dir().join(format!("vc-webhooks-{}", uuid::Uuid::new_v4())),
            )
            .unwrap();
            let state = AppState::new(
                db.store.clone(),
                rasters,
                vivacampo_api::ApiConfig {
                    webhook_allow_private: allow_private,
                    ..support::config()
                },
                Arc::new(Registry::new()),
            );
            let app = router(state);
            let email = format!("ana-{allow_private}@x.io");
            let t = signup(&app, &email).await["token"]
                .as_str()
                .unwrap()
                .to_owned();
            for url in NOT_PUBLIC
                .iter()
                .chain(["http://localhost:8080/hook"].iter())
            {
                let r = call(
                    &app,
                    "POST",
                    "/v1/webhooks",
                    &t,
                    Some(json!({"url": url, "events": ["signal.opened"]})),
                )
                .await;
                if allow_private {
                    assert_eq!(r.0, StatusCode::CREATED, "{url}: {}", r.1);
                    // The quota is 20 webhooks.
                    let id = r.1["id"].as_str().unwrap();
                    let (status, _) =
                        call(&app, "DELETE", &format!("/v1/webhooks/{id}"), &t, None).await;
                    assert_eq!(status, StatusCode::NO_CONTENT);
                } else {
                    assert_invalid(&r, "url", "not_public");
                    assert_eq!(
                        r.1["error"]["message"],
                        "url must name a public internet address, not a loopback, private or link-local one",
                        "{url}"
                    );
                }
            }
            // Public addresses and names are fine either way.
            for url in [
                "https://8.8.8.8/hook",
                "https://[2606:4700:4700::1111]/hook",
                "https://localhost.example.com/hook",
            ] {
                let r = call(
                    &app,
                    "POST",
                    "/v1/webhooks",
                    &t,
                    Some(json!({"url": url, "events": ["job.dead"]})),
                )
                .await;
                assert_eq!(r.0, StatusCode::CREATED, "{url}: {}", r.1);
            }
        }
        db.drop_db().await;
    }
}
