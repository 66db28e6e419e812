//! Signals over HTTP (API.md "Signals and notifications"), in process, on SQLite and (when
//! configured) PostgreSQL: list and filters, language, transitions and roles, other tenants,
//! the fields' health badge, the `signals` flag, and the history's previous season.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::flags::Flag;
use vivacampo_core::metrics::Registry;
use vivacampo_core::signals::evaluate;
use vivacampo_core::tenancy::Role;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::field_weeks::{IndexStats, WeekResult, WeekStatus};
use vivacampo_store::testing::TestDb;

mod support;

struct App {
    router: axum::Router,
}

impl App {
    fn new(db: &TestDb) -> App {
        let dir = std::env::temp_dir().join(format!("vc-signals-{}", uuid::Uuid::new_v4()));
        let state = AppState::new(
            db.store.clone(),
            RasterStore::local(&dir).unwrap(),
            support::config(),
            Arc::new(Registry::new()),
        );
        App {
            router: router(state),
        }
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        language: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(t) = token {
            req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if let Some(l) = language {
            req = req.header(header::ACCEPT_LANGUAGE, l);
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

    async fn get(&self, path: &str, token: &str) -> (StatusCode, Value) {
        self.send("GET", path, Some(token), None, None).await
    }

    async fn signup(&self, email: &str) -> Value {
        let (status, body) = self
            .send(
                "POST",
                "/v1/auth/signup",
                None,
                None,
                Some(json!({"email": email, "password": "segredo-forte", "name": "Ana"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body
    }

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
        let (status, switched) = self
            .send(
                "POST",
                "/v1/auth/workspaces/switch",
                Some(login["token"].as_str().unwrap()),
                None,
                Some(json!({"tenant_id": tenant})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{switched}");
        switched["token"].as_str().unwrap().to_owned()
    }

    /// A farm and a field; returns (farm id, field id).
    async fn field(&self, token: &str) -> (String, String) {
        let (status, farm) = self
            .send(
                "POST",
                "/v1/farms",
                Some(token),
                None,
                Some(json!({"name": "Santa Rita"})),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{farm}");
        let farm_id = farm["id"].as_str().unwrap().to_owned();
        let ring = json!([[
            [-50.91, -17.75],
            [-50.90, -17.75],
            [-50.90, -17.74],
            [-50.91, -17.74],
            [-50.91, -17.75]
        ]]);
        let (status, field) = self
            .send(
                "POST",
                "/v1/aois",
                Some(token),
                None,
                Some(
                    json!({"farm_id": farm_id, "name": "Talhão 3", "use_type": "CROP",
                            "geometry": {"type": "Polygon", "coordinates": ring}}),
                ),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED, "{field}");
        (farm_id, field["id"].as_str().unwrap().to_owned())
    }
}

fn week_result(year: i32, week: u8, ndvi: Option<f64>) -> WeekResult {
    let iso = IsoWeek::new(year, week).unwrap();
    WeekResult {
        week: iso,
        status: if ndvi.is_some() {
            WeekStatus::Ok
        } else {
            WeekStatus::Cloudy
        },
        scene_datetime: Some(iso.start().midnight().assume_utc().unix_timestamp() * 1000),
        cloud_fraction: Some(if ndvi.is_some() { 0.02 } else { 0.9 }),
        valid_pixel_ratio: Some(if ndvi.is_some() { 0.95 } else { 0.05 }),
        raster_key: None,
        raster_bytes: None,
        scenes: json!([{"id": format!("S2A_{year}W{week:02}"), "datetime": "2026-03-02T13:30:00Z"}]),
        stats: ndvi
            .map(|mean| IndexStats {
                index: "ndvi".into(),
                count: 100,
                valid_count: 95,
                mean: Some(mean),
                std: Some(0.05),
                min: Some(mean - 0.2),
                max: Some(mean + 0.1),
                p10: Some(mean - 0.08),
                p50: Some(mean),
                p90: Some(mean + 0.05),
            })
            .into_iter()
            .collect(),
    }
}

/// Four cloudy weeks, judged: a NO_RECENT_DATA signal. Returns its id.
async fn no_recent_data(db: &TestDb, tenant: &str, aoi: &str) -> String {
    for w in 10..=13 {
        db.store
            .record_aoi_week(tenant, aoi, &week_result(2026, w, None))
            .await
            .unwrap();
    }
    let series = db.store.field_series(tenant, aoi).await.unwrap();
    let applied = db
        .store
        .apply_evaluation(
            tenant,
            aoi,
            &evaluate(&series, IsoWeek::new(2026, 13).unwrap()),
        )
        .await
        .unwrap();
    applied.opened[0].clone()
}

fn invalid(reply: &(StatusCode, Value), field: &str) {
    assert_eq!(reply.0, StatusCode::BAD_REQUEST, "{}", reply.1);
    assert_eq!(reply.1["error"]["details"]["field"], field, "{}", reply.1);
}

#[tokio::test]
async fn signals_are_listed_explained_and_changed_by_role() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let ana = app.signup("ana@x.io").await;
        let admin = ana["token"].as_str().unwrap().to_owned();
        let tenant = ana["tenant"]["id"].as_str().unwrap().to_owned();
        let viewer = app.member(&db, "bia@x.io", &tenant, Role::Viewer).await;
        let operator = app.member(&db, "caio@x.io", &tenant, Role::Operator).await;
        let other = app.signup("zeca@x.io").await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let (farm, aoi) = app.field(&admin).await;
        let (_, field) = app.get(&format!("/v1/aois/{aoi}"), &admin).await;
        assert_eq!(field["health"], json!({"status": "OK", "open_signals": 0}));
        let id = no_recent_data(&db, &tenant, &aoi).await;

        // The list, newest first, in pt-BR unless the request asks for English.
        let (status, page) = app.get("/v1/signals", &viewer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 1);
        let item = &page["items"][0];
        assert_eq!(item["id"], id.as_str());
        assert_eq!(
            (&item["type"], &item["status"], &item["severity"]),
            (&json!("NO_RECENT_DATA"), &json!("OPEN"), &json!("LOW"))
        );
        assert_eq!(
            (&item["aoi_name"], &item["farm_id"]),
            (&json!("Talhão 3"), &json!(farm))
        );
        assert_eq!(item["language"], "pt-BR");
        assert_eq!(item["first_seen_week"], json!({"year": 2026, "week": 10}));
        assert!(item["evidence"]["scene_ids"].as_array().unwrap().len() >= 3);
        let (_, en) = app
            .send(
                "GET",
                &format!("/v1/signals/{id}"),
                Some(&viewer),
                Some("en-US,en;q=0.9"),
                None,
            )
            .await;
        assert_eq!(en["language"], "en");
        assert_ne!(en["title"], item["title"]);
        assert!(en["actions"].as_array().is_some_and(|a| !a.is_empty()));

        for (query, total) in [
            ("status=OPEN", 1),
            ("status=RESOLVED", 0),
            ("type=NO_RECENT_DATA", 1),
            ("type=WATER_STRESS", 0),
            ("severity=LOW", 1),
            ("severity=HIGH", 0),
        ] {
            let (status, page) = app.get(&format!("/v1/signals?{query}"), &viewer).await;
            assert_eq!(
                (status, page["total"].as_i64()),
                (StatusCode::OK, Some(total)),
                "{query}"
            );
        }
        let (_, page) = app
            .get(&format!("/v1/signals?aoi_id={aoi}&farm_id={farm}"), &viewer)
            .await;
        assert_eq!(page["total"], 1);
        let (_, page) = app
            .get(
                &format!("/v1/signals?farm_id={}", uuid::Uuid::new_v4()),
                &viewer,
            )
            .await;
        assert_eq!(page["total"], 0);
        invalid(&app.get("/v1/signals?status=NEW", &viewer).await, "status");
        invalid(&app.get("/v1/signals?type=FROST", &viewer).await, "type");
        invalid(
            &app.get("/v1/signals?severity=3", &viewer).await,
            "severity",
        );
        invalid(&app.get("/v1/signals?aoi_id=x", &viewer).await, "aoi_id");
        invalid(
            &app.get("/v1/signals?page_size=500", &viewer).await,
            "page_size",
        );

        // The field's badge: missing data is worth watching.
        let (_, field) = app.get(&format!("/v1/aois/{aoi}"), &viewer).await;
        assert_eq!(
            field["health"],
            json!({"status": "WATCH", "open_signals": 1})
        );
        let (_, fields) = app.get("/v1/aois", &viewer).await;
        assert_eq!(fields["items"][0]["health"]["status"], "WATCH");

        // Other tenants see nothing.
        assert_eq!(
            app.get(&format!("/v1/signals/{id}"), &other).await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(app.get("/v1/signals", &other).await.1["total"], 0);
        let (status, _) = app
            .send(
                "POST",
                &format!("/v1/signals/{id}/ack"),
                Some(&other),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // A viewer acks (no body needed) but does not resolve or dismiss.
        let (status, acked) = app
            .send(
                "POST",
                &format!("/v1/signals/{id}/ack"),
                Some(&viewer),
                None,
                None,
            )
            .await;
        assert_eq!(
            (status, &acked["status"]),
            (StatusCode::OK, &json!("ACK")),
            "{acked}"
        );
        for action in ["resolve", "dismiss"] {
            let (status, body) = app
                .send(
                    "POST",
                    &format!("/v1/signals/{id}/{action}"),
                    Some(&viewer),
                    None,
                    Some(json!({})),
                )
                .await;
            assert_eq!(status, StatusCode::FORBIDDEN, "{action}: {body}");
        }
        let long = "x".repeat(2001);
        invalid(
            &app.send(
                "POST",
                &format!("/v1/signals/{id}/dismiss"),
                Some(&operator),
                None,
                Some(json!({"note": long})),
            )
            .await,
            "note",
        );
        invalid(
            &app.send(
                "POST",
                &format!("/v1/signals/{id}/dismiss"),
                Some(&operator),
                None,
                Some(json!({"useful": "yes"})),
            )
            .await,
            "useful",
        );
        let (status, dismissed) = app
            .send(
                "POST",
                &format!("/v1/signals/{id}/dismiss"),
                Some(&operator),
                Some("en"),
                Some(json!({"note": "nuvens, já sabíamos", "useful": false})),
            )
            .await;
        assert_eq!(status, StatusCode::OK, "{dismissed}");
        assert_eq!(
            (
                &dismissed["status"],
                &dismissed["note"],
                &dismissed["useful"],
                &dismissed["language"]
            ),
            (
                &json!("DISMISSED"),
                &json!("nuvens, já sabíamos"),
                &json!(false),
                &json!("en")
            )
        );
        let (status, _) = app
            .send(
                "POST",
                &format!("/v1/signals/{id}/resolve"),
                Some(&operator),
                None,
                None,
            )
            .await;
        assert_eq!(status, StatusCode::CONFLICT);
        let (_, field) = app.get(&format!("/v1/aois/{aoi}"), &viewer).await;
        assert_eq!(field["health"], json!({"status": "OK", "open_signals": 0}));

        // The tenant's signals flag turns the routes off.
        db.store
            .set_flag(Flag::Signals, Some(&tenant), false, None)
            .await
            .unwrap();
        let (status, body) = app.get("/v1/signals", &viewer).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"]["code"], "FEATURE_DISABLED");
        assert_eq!(body["error"]["details"]["flag"], "signals");
        db.drop_db().await;
    }
}

#[tokio::test]
async fn the_history_compares_with_the_previous_season() {
    for db in TestDb::all().await {
        let app = App::new(&db);
        let ana = app.signup("ana@x.io").await;
        let token = ana["token"].as_str().unwrap().to_owned();
        let tenant = ana["tenant"]["id"].as_str().unwrap().to_owned();
        let (_, aoi) = app.field(&token).await;
        for (year, week, ndvi) in [
            (2025, 9, Some(0.80)),
            (2025, 10, Some(0.82)),
            (2025, 11, None),
            (2026, 9, Some(0.60)),
            (2026, 10, Some(0.62)),
            (2026, 11, Some(0.64)),
            (2026, 12, Some(0.66)),
        ] {
            db.store
                .record_aoi_week(&tenant, &aoi, &week_result(year, week, ndvi))
                .await
                .unwrap();
        }
        let path =
            format!("/v1/aois/{aoi}/history?index=ndvi&from=2026-02-23&compare=previous_season");
        let (status, history) = app.get(&path, &token).await;
        assert_eq!(status, StatusCode::OK, "{history}");
        assert_eq!(history["points"].as_array().unwrap().len(), 4);
        let previous = history["previous_season"].as_array().unwrap();
        assert_eq!(previous.len(), 4, "one per point");
        assert_eq!(
            (&previous[0]["year"], &previous[0]["week"]),
            (&json!(2026), &json!(9))
        );
        assert_eq!(
            (
                &previous[0]["previous_year"],
                &previous[0]["previous_week"],
                &previous[0]["previous_week_start"]
            ),
            (&json!(2025), &json!(9), &json!("2025-02-24"))
        );
        assert_eq!(
            (&previous[0]["status"], &previous[0]["mean"]),
            (&json!("OK"), &json!(0.80))
        );
        assert_eq!(previous[1]["mean"], json!(0.82));
        assert_eq!(
            (&previous[2]["status"], &previous[2]["mean"]),
            (&json!("CLOUDY"), &Value::Null)
        );
        assert_eq!(
            (&previous[3]["status"], &previous[3]["mean"]),
            (&Value::Null, &Value::Null)
        );
        let (_, plain) = app
            .get(&format!("/v1/aois/{aoi}/history?from=2026-02-23"), &token)
            .await;
        assert!(plain.get("previous_season").is_none(), "{plain}");
        invalid(
            &app.get(&format!("/v1/aois/{aoi}/history?compare=last_year"), &token)
                .await,
            "compare",
        );
        db.drop_db().await;
    }
}
