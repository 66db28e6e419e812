//! One stuck query cannot hang the API: a statement blocked by a lock ends at the database's
//! statement timeout, and any request ends at the request timeout, each with 503 UNAVAILABLE
//! and `Retry-After`. On SQLite and (when configured) PostgreSQL.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::{TestDb, lock_table};
use vivacampo_store::{Store, StoreOptions};

mod support;
use support::config;

/// The API over its own pool on `db`, whose statements give up after `statement_timeout`.
async fn app(db: &TestDb, statement_timeout: Duration) -> (axum::Router, AppState) {
    let store = Store::open(&StoreOptions {
        url: db.url.clone(),
        max_connections: 4,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout,
    })
    .await
    .unwrap();
    let dir = std::env::temp_dir().join(format!("vc-api-timeouts-{}", uuid::Uuid::new_v4()));
    let rasters = RasterStore::local(&dir).unwrap();
    let state = AppState::new(store, rasters, config(), Arc::new(Registry::new()));
    (router(state.clone()), state)
}

async fn send(
    router: &axum::Router,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, axum::http::HeaderMap, Value) {
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
    let res = router.clone().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn sign_up(router: &axum::Router) -> String {
    let (status, _, body) = send(
        router,
        "POST",
        "/v1/auth/signup",
        None,
        Some(json!({"email": "ana@x.io", "password": "segredo-forte", "name": "Ana"})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    body["token"].as_str().unwrap().to_owned()
}

/// A write on PostgreSQL (where the lock blocks reads too) and on SQLite (where only writers
/// wait): POST a farm.
async fn create_farm(
    router: &axum::Router,
    token: &str,
) -> (StatusCode, axum::http::HeaderMap, Value) {
    send(
        router,
        "POST",
        "/v1/farms",
        Some(token),
        Some(json!({"name": "F"})),
    )
    .await
}

fn assert_unavailable(status: StatusCode, headers: &axum::http::HeaderMap, body: &Value) {
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body["error"]["code"], "UNAVAILABLE", "{body}");
    assert_eq!(headers[header::RETRY_AFTER], "1");
    assert_eq!(
        body["error"]["request_id"].as_str().unwrap(),
        headers["x-request-id"].to_str().unwrap()
    );
}

#[tokio::test]
async fn a_statement_blocked_by_a_lock_ends_at_the_statement_timeout() {
    for db in TestDb::all().await {
        let (router, _) = app(&db, Duration::from_millis(500)).await;
        let token = sign_up(&router).await;
        let lock = lock_table(&db, "farms").await.unwrap();
        let started = Instant::now();
        let (status, headers, body) = create_farm(&router, &token).await;
        let waited = started.elapsed();
        assert_unavailable(status, &headers, &body);
        assert!(
            waited >= Duration::from_millis(400) && waited < Duration::from_secs(5),
            "{:?} answered after {waited:?}",
            db.backend()
        );
        lock.release().await.unwrap();
        assert_eq!(create_farm(&router, &token).await.0, StatusCode::CREATED);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_request_ends_at_the_request_timeout() {
    for db in TestDb::all().await {
        let (router, state) = app(&db, Duration::from_secs(60)).await;
        let token = sign_up(&router).await;
        state.set_request_timeout(Duration::from_millis(300));
        let lock = lock_table(&db, "farms").await.unwrap();
        let started = Instant::now();
        let (status, headers, body) = create_farm(&router, &token).await;
        let waited = started.elapsed();
        assert_unavailable(status, &headers, &body);
        assert!(
            waited < Duration::from_secs(5),
            "{:?} answered after {waited:?}",
            db.backend()
        );
        lock.release().await.unwrap();
        // The abandoned request gave its connection back.
        for _ in 0..5 {
            assert_eq!(create_farm(&router, &token).await.0, StatusCode::CREATED);
        }
        db.drop_db().await;
    }
}
