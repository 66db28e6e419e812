//! The weather routes of API.md: daily and weekly days of the field's grid cell, the forecast,
//! and the sync job, on SQLite and (when configured) PostgreSQL.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use time::{Duration, OffsetDateTime};
use tower::ServiceExt;
use vivacampo_api::{AppState, router};
use vivacampo_core::metrics::Registry;
use vivacampo_core::weather::{DailyWeather, WeatherDay};
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::testing::TestDb;
use vivacampo_store::weather::{DayKind, WeatherFetch};

mod support;

async fn send(app: &axum::Router, method: &str, path: &str, token: &str) -> (StatusCode, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    let res = app.clone().oneshot(req).await.unwrap();
    let status = res.status();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn post_json(app: &axum::Router, path: &str, token: Option<&str>, body: Value) -> Value {
    let mut req = Request::builder()
        .method("POST")
        .uri(path)
        .header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let res = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    serde_json::from_slice(&bytes).unwrap()
}

fn day(date: time::Date, precip: Option<f64>, t_min: f64, t_max: f64, et0: f64) -> WeatherDay {
    WeatherDay {
        date,
        weather: DailyWeather {
            t_min: Some(t_min),
            t_max: Some(t_max),
            t_mean: Some((t_min + t_max) / 2.0),
            precip_mm: precip,
            et0_mm: Some(et0),
            rh_mean: Some(70.0),
            wind_max_kmh: Some(14.0),
        },
    }
}

#[tokio::test]
async fn daily_weekly_forecast_and_sync() {
    use time::macros::date;
    for db in TestDb::all().await {
        let rasters = RasterStore::local(
            std::env::temp_dir().join(format!("vc-weather-{}", uuid::Uuid::new_v4())),
        )
        .unwrap();
        let state = AppState::new(
            db.store.clone(),
            rasters,
            support::config(),
            Arc::new(Registry::new()),
        );
        let app = router(state);
        let signup = |email: &'static str| {
            post_json(
                &app,
                "/v1/auth/signup",
                None,
                json!({"email": email, "password": "segredo-forte", "name": "Ana"}),
            )
        };
        let login = signup("ana@x.io").await;
        let t = login["token"].as_str().unwrap().to_owned();
        let tenant = login["tenant"]["id"].as_str().unwrap().to_owned();
        let other = signup("eve@x.io").await["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let farm = post_json(&app, "/v1/farms", Some(&t), json!({"name": "F"})).await;
        let (lon, lat, d) = (-50.905, -17.745, 0.01);
        let field = post_json(&app, "/v1/aois", Some(&t), json!({"farm_id": farm["id"], "name": "A", "use_type": "CROP",
            "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}})).await;
        let id = field["id"].as_str().unwrap().to_owned();

        // Before any fetch: the cell's centre, no days, no source.
        let (status, body) = send(&app, "GET", &format!("/v1/aois/{id}/weather"), &t).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["days"], json!([]));
        assert_eq!(body["source"], Value::Null);
        assert_eq!(
            (body["latitude"].as_f64(), body["longitude"].as_f64()),
            (Some(-17.75), Some(-51.0))
        );
        assert_eq!(
            body["attribution"],
            "Weather data by Open-Meteo.com (CC BY 4.0)"
        );

        let (status, body) = send(&app, "POST", &format!("/v1/aois/{id}/weather/sync"), &t).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        let job_id = body["job_id"].as_str().unwrap();
        let job = db.store.job(&tenant, job_id).await.unwrap();
        assert_eq!(job.job_type.as_str(), "PROCESS_WEATHER");
        assert_eq!(job.payload["cell_id"], "era5:-71:-204@America/Sao_Paulo");
        assert_eq!(job.payload["force"], true);
        let (status, _) = send(&app, "POST", &format!("/v1/aois/{id}/weather/sync"), &other).await;
        assert_eq!(status, StatusCode::NOT_FOUND);

        // Days as a PROCESS_WEATHER job would store them: a week across New Year, a null day.
        let cell = db
            .store
            .aoi_weather_cell(&tenant, &id)
            .await
            .unwrap()
            .unwrap();
        let days = [
            day(date!(2025 - 12 - 28), Some(3.0), 19.0, 29.0, 5.0),
            day(date!(2025 - 12 - 29), Some(12.5), 20.0, 30.0, 4.0),
            day(date!(2025 - 12 - 30), Some(0.0), 21.0, 33.0, 6.5),
            day(date!(2026 - 01 - 05), None, 18.0, 28.0, 3.5),
        ];
        let fetch = WeatherFetch {
            kind: DayKind::Archive,
            source: "open-meteo",
            latitude: -17.75,
            longitude: -51.0,
            elevation: Some(748.0),
            days: &days,
            history_from: Some(date!(2016 - 09 - 01)),
        };
        let today = OffsetDateTime::now_utc().date();
        db.store
            .store_weather(&cell.id, &fetch, today)
            .await
            .unwrap();
        let forecast = [
            day(today, Some(7.0), 20.0, 31.0, 4.0),
            day(today + Duration::days(15), Some(1.0), 20.0, 30.0, 4.0),
        ];
        let fetch = WeatherFetch {
            kind: DayKind::Forecast,
            days: &forecast,
            history_from: None,
            ..fetch
        };
        db.store
            .store_weather(&cell.id, &fetch, today)
            .await
            .unwrap();

        let path = format!("/v1/aois/{id}/weather?from=2025-12-28&to=2026-01-11");
        let (status, body) = send(&app, "GET", &path, &t).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["source"], "open-meteo");
        assert_eq!(body["elevation"], 748.0);
        assert_eq!(body["days"].as_array().unwrap().len(), 4);
        assert_eq!(
            body["days"][0],
            json!({"date": "2025-12-28", "t_min": 19.0, "t_max": 29.0, "t_mean": 24.0,
            "precip_mm": 3.0, "et0_mm": 5.0, "rh_mean": 70.0, "wind_max_kmh": 14.0, "gdd": 14.0})
        );
        assert_eq!(
            body["days"][3]["precip_mm"],
            Value::Null,
            "a missing day is null, not 0"
        );
        assert_eq!(body["season"]["start"], "2025-09-01");
        assert_eq!(body["season"]["precip_mm"], 15.5);
        assert_eq!(body["season"]["days_without_precip"], 1);

        let (status, body) = send(&app, "GET", &format!("{path}&step=week"), &t).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(body.get("days").is_none());
        let weeks = body["weeks"].as_array().unwrap();
        assert_eq!(weeks.len(), 3);
        assert_eq!(
            (weeks[0]["year"].as_i64(), weeks[0]["week"].as_i64()),
            (Some(2025), Some(52))
        );
        assert_eq!(
            weeks[1],
            json!({"year": 2026, "week": 1, "week_start": "2025-12-29", "precip_mm": 12.5,
            "et0_mm": 10.5, "water_balance_mm": 2.0, "gdd": 32.0, "t_min": 20.0, "t_max": 33.0, "t_mean": 26.0, "days": 2})
        );
        assert_eq!(weeks[2]["precip_mm"], Value::Null);
        assert_eq!(weeks[2]["water_balance_mm"], Value::Null);

        let (status, body) =
            send(&app, "GET", &format!("/v1/aois/{id}/weather/forecast"), &t).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let days = body["days"].as_array().unwrap();
        assert_eq!(days.len(), 2);
        assert_eq!(days[0]["date"], today.to_string());
        assert!(body["issued_at"].as_str().is_some());

        for (query, reason) in [
            ("step=month", "invalid"),
            ("from=2026-02-01&to=2026-01-01", "after_to"),
            ("to=soon", "invalid"),
        ] {
            let (status, body) =
                send(&app, "GET", &format!("/v1/aois/{id}/weather?{query}"), &t).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}: {body}");
            assert_eq!(body["error"]["details"]["reason"], reason, "{query}");
        }
        let (status, _) = send(&app, "GET", &format!("/v1/aois/{id}/weather"), &other).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        let (status, _) = send(
            &app,
            "GET",
            &format!("/v1/aois/{id}/weather/forecast"),
            &other,
        )
        .await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        db.drop_db().await;
    }
}
