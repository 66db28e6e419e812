//! The binary against a loopback server speaking Open-Meteo's API over a fixture in its format
//! (`weather_source = http://127.0.0.1:PORT`): two fields in one grid cell cause one fetch;
//! weekly sums equal the ones `scripts/weather_weekly.py` computes independently from the same
//! fixture; a null day stays null; a daily-limit 429 is asked once and the job comes back the
//! next day.

#[allow(dead_code)] // the helpers other e2e tests use
mod support;

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Server, command, http, temp_dir};
use vivacampo_imagery::weather::server::{DAILY_LIMIT, Mode, WeatherData, WeatherServer};

fn fixtures() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Same value, or both null, or numbers within 1e-9.
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) => (x - y).abs() < 1e-9,
        _ => a == b,
    }
}

#[test]
fn two_fields_one_fetch_weekly_sums_nulls_and_the_daily_limit() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let data = WeatherData::fixture(
        &fixtures().join("../vivacampo-imagery/tests/fixtures/open-meteo/rio-verde-2025-26.json"),
    )
    .unwrap();
    let weather = WeatherServer::new(data);
    let base = runtime.block_on(weather.spawn()).unwrap();
    let dir = temp_dir("weather");
    let catalog = dir.join("empty-catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    let server = Server::start({
        let mut cmd = command(&dir, None);
        cmd.args(["serve", "--imagery-source"])
            .arg(&catalog)
            .args(["--weather-source", &base])
            .args(["--weather-history-seasons", "1", "--backfill-weeks", "1"]);
        cmd
    });
    let addr = server.addr;
    let signup = http(
        addr,
        "POST",
        "/v1/auth/signup",
        None,
        Some(&json!({"email": "ana@x.io", "password": "long-password", "name": "Ana"})),
    );
    let token = signup.json()["token"].as_str().unwrap().to_owned();
    let t = Some(token.as_str());
    let farm = http(addr, "POST", "/v1/farms", t, Some(&json!({"name": "F"}))).json();
    let mut fields = Vec::new();
    // Both centroids fall in the ERA5 cell centred on -17.75, -51.0.
    for (lon, lat) in [(-50.905, -17.745), (-50.885, -17.726)] {
        let d = 0.005;
        let body = json!({"farm_id": farm["id"], "name": format!("T {lon}"), "use_type": "CROP",
            "geometry": {"type": "Polygon", "coordinates": [[[lon, lat], [lon + d, lat], [lon + d, lat + d], [lon, lat + d], [lon, lat]]]}});
        let r = http(addr, "POST", "/v1/aois", t, Some(&body));
        assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
        fields.push(r.json()["id"].as_str().unwrap().to_owned());
    }

    // Wait until both backfills and every weather job are done.
    let deadline = Instant::now() + Duration::from_secs(90);
    loop {
        let jobs = http(addr, "GET", "/v1/jobs?page_size=100", t, None).json();
        let items = jobs["items"].as_array().cloned().unwrap_or_default();
        let weather_jobs = items
            .iter()
            .filter(|j| j["type"] == "PROCESS_WEATHER")
            .count();
        let busy = items
            .iter()
            .any(|j| ["PENDING", "RUNNING", "FAILED"].contains(&j["status"].as_str().unwrap()));
        let backfills_done = items
            .iter()
            .filter(|j| j["type"] == "BACKFILL" && j["status"] == "SUCCEEDED")
            .count();
        if backfills_done == 2 && weather_jobs >= 1 && !busy {
            break;
        }
        assert!(Instant::now() < deadline, "jobs not done: {jobs}");
        std::thread::sleep(Duration::from_millis(300));
    }
    let requests = weather.requests();
    let count = |path: &str| requests.iter().filter(|r| r.starts_with(path)).count();
    assert_eq!(
        (count("/v1/archive?"), count("/v1/forecast?")),
        (1, 1),
        "two fields in one cell: one history fetch and one forecast: {requests:?}"
    );
    assert!(
        requests[0].contains("latitude=-17.7500&longitude=-51.0000"),
        "{requests:?}"
    );
    assert!(
        requests[0].contains("start_date=2025-09-01"),
        "{requests:?}"
    );

    // Weekly sums over ISO weeks, as the Python script computed them from the same fixture.
    let expected: Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures().join("tests/fixtures/weather-weekly-expected.json"))
            .unwrap(),
    )
    .unwrap();
    let range = format!(
        "from={}&to={}",
        expected["from"].as_str().unwrap(),
        expected["to"].as_str().unwrap()
    );
    for field in &fields {
        let path = format!("/v1/aois/{field}/weather?{range}&step=week");
        let got = http(addr, "GET", &path, t, None).json();
        let weeks = got["weeks"].as_array().unwrap();
        let want = expected["weeks"].as_array().unwrap();
        assert_eq!(weeks.len(), want.len(), "{got}");
        for (g, w) in weeks.iter().zip(want) {
            for key in w.as_object().unwrap().keys() {
                assert!(same(&g[key], &w[key]), "{key} of {g} vs {w}");
            }
        }
        assert_eq!(got["latitude"], -17.75);
        assert_eq!(got["elevation"], 748.0);
        assert_eq!(got["source"], base.as_str());
        // The fixture's day without rain data stays null.
        let days = http(
            addr,
            "GET",
            &format!("/v1/aois/{field}/weather?from=2026-01-13&to=2026-01-15"),
            t,
            None,
        )
        .json();
        let precip: Vec<Value> = days["days"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["precip_mm"].clone())
            .collect();
        assert_eq!(precip[1], Value::Null, "{days}");
        assert!(precip[0].is_number() && precip[2].is_number(), "{days}");
        let forecast = http(
            addr,
            "GET",
            &format!("/v1/aois/{field}/weather/forecast"),
            t,
            None,
        )
        .json();
        assert_eq!(forecast["days"].as_array().unwrap().len(), 16, "{forecast}");
    }

    // The daily limit: one request, the job ends, and its successor waits for tomorrow.
    weather.set_mode(Mode::Limited {
        reason: DAILY_LIMIT.into(),
        count: 1000,
    });
    let before = weather.requests().len();
    let sync = http(
        addr,
        "POST",
        &format!("/v1/aois/{}/weather/sync", fields[0]),
        t,
        None,
    );
    assert_eq!(sync.status, 202);
    let job_id = sync.json()["job_id"].as_str().unwrap().to_owned();
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let job = http(addr, "GET", &format!("/v1/jobs/{job_id}"), t, None).json();
        if job["status"] == "SUCCEEDED" {
            break;
        }
        assert!(Instant::now() < deadline, "sync job not done: {job}");
        std::thread::sleep(Duration::from_millis(300));
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(weather.requests().len(), before + 1, "no retry loop");
    let pending = http(
        addr,
        "GET",
        "/v1/jobs?type=PROCESS_WEATHER&status=PENDING",
        t,
        None,
    )
    .json();
    let items = pending["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{pending}");
    let tomorrow = (time::OffsetDateTime::now_utc().date() + time::Duration::days(1)).to_string();
    assert!(
        items[0]["run_after"].as_str().unwrap() >= tomorrow.as_str(),
        "{pending}"
    );
    assert_eq!(server.stop().code(), Some(0));
    let _ = std::fs::remove_dir_all(dir);
}
