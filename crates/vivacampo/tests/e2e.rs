//! End-to-end: the real binary, as an operator and a user would run it.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Server, command, http, login, temp_dir, wait_for_weeks, wait_with_timeout};
use vivacampo_store::testing::TestDb;

#[test]
fn demo_serves_logs_in_and_survives_a_restart() {
    let dir = temp_dir("demo");
    let demo = |dir: &std::path::Path| {
        let mut cmd = command(dir, None);
        // A smaller imagery area than the default keeps the debug-build test quick.
        cmd.args(["demo", "--area-m", "5000"]);
        cmd
    };
    let server = Server::start(demo(&dir));
    assert_eq!(http(server.addr, "GET", "/readyz", None, None).status, 200);
    let token = login(server.addr, "demo@vivacampo.dev", "vivacampo-demo");
    let fields = http(server.addr, "GET", "/v1/aois", Some(&token), None).json();
    assert_eq!(fields["total"], 4);
    let farms = http(server.addr, "GET", "/v1/farms", Some(&token), None).json();
    assert_eq!(farms["items"][0]["name"], "Fazenda Santa Rita");
    let landing = http(server.addr, "GET", "/", None, None);
    assert_eq!(landing.status, 200);
    let page = String::from_utf8_lossy(&landing.body);
    assert!(page.contains("VivaCampo"));
    assert!(
        page.contains(r#"<meta name="vivacampo-demo-email" content="demo@vivacampo.dev">"#),
        "the demo names its account on the sign-in page"
    );
    // The web app's scripts are embedded in the binary.
    let app_script = http(server.addr, "GET", "/assets/app/main.js", None, None);
    assert_eq!(app_script.status, 200);
    assert_eq!(
        http(server.addr, "GET", "/assets/app/missing.js", None, None).status,
        404
    );

    // The demo fields are processed from the offline imagery in the same process: 8 weeks each
    // (and the pasture's earlier wet seasons), whose NDVI follows the field's crop, with CLOUDY
    // weeks among them.
    for field in fields["items"].as_array().unwrap() {
        let id = field["id"].as_str().unwrap();
        let weeks = wait_for_weeks(
            server.addr,
            &token,
            id,
            Duration::from_secs(240),
            processed(&dir, field),
        );
        let name = field["name"].as_str().unwrap();
        let history = http(
            server.addr,
            "GET",
            &format!("/v1/aois/{id}/history?index=ndvi"),
            Some(&token),
            None,
        )
        .json();
        assert_looks_like_its_crop(name, &history, &weeks);
    }
    let field = fields["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["use_type"] == "CROP")
        .expect("a crop field")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let history = http(
        server.addr,
        "GET",
        &format!("/v1/aois/{field}/history?index=ndvi"),
        Some(&token),
        None,
    )
    .json();
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), 8, "{history}");
    let ok: Vec<_> = points.iter().filter(|p| p["status"] == "OK").collect();
    assert!(ok.len() >= 4, "mostly clear weeks: {history}");
    assert!(
        ok.iter()
            .all(|p| p["mean"].as_f64().unwrap() > 0.1 && p["mean"].as_f64().unwrap() < 1.0)
    );
    let week = ok[0];
    let tif = http(
        server.addr,
        "GET",
        &format!(
            "/v1/aois/{field}/weeks/{}/{}/raster.tif",
            week["year"], week["week"]
        ),
        Some(&token),
        None,
    );
    assert_eq!(tif.status, 200);
    assert!(tif.header("content-type").starts_with("image/tiff"));
    assert_eq!(&tif.body[..4], b"II*\0", "a little-endian GeoTIFF");
    let created = http(
        server.addr,
        "POST",
        "/v1/farms",
        Some(&token),
        Some(&json!({"name": "Retiro"})),
    );
    assert_eq!(created.status, 201);
    assert!(server.stop().success(), "SIGTERM ends the server cleanly");

    // Everything is still there after a restart, and the demo is not seeded twice.
    let server = Server::start(demo(&dir));
    let token = login(server.addr, "demo@vivacampo.dev", "vivacampo-demo");
    assert_eq!(
        http(server.addr, "GET", "/v1/farms", Some(&token), None).json()["total"],
        2
    );
    assert_eq!(
        http(server.addr, "GET", "/v1/aois", Some(&token), None).json()["total"],
        4
    );
    assert!(server.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// A demo field's NDVI history looks like the crop the offline imagery grows there: every OK
/// week's mean lies on the crop's curve between the dates of the week's scenes (±0.05 for the
/// field's own variation and its edge), at least 4 weeks are OK and at least one is CLOUDY.
fn assert_looks_like_its_crop(
    name: &str,
    history: &serde_json::Value,
    weeks: &[serde_json::Value],
) {
    use vivacampo_imagery::demo::Cover;
    let crop = match name {
        "Pivô 1 — Soja" => Cover::Soybean,
        "Talhão 2 — Milho" => Cover::Maize,
        "Pastagem Norte" => Cover::DegradingPasture,
        "Talhão 3 — Sorgo" => Cover::StressedCrop,
        other => panic!("unknown demo field {other}"),
    };
    let end = points_end_date(weeks);
    let date = |datetime: &serde_json::Value| {
        let text = datetime.as_str().unwrap();
        time::Date::parse(
            &text[..10],
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .unwrap()
    };
    let points = history["points"].as_array().unwrap();
    assert_eq!(points.len(), weeks.len(), "{name}: {history}");
    let status = |s: &str| points.iter().filter(|p| p["status"] == s).count();
    assert!(status("OK") >= 4, "{name}: mostly clear weeks: {history}");
    assert!(
        status("CLOUDY") >= 1,
        "{name}: some CLOUDY weeks: {history}"
    );
    for point in points.iter().filter(|p| p["status"] == "OK") {
        let week = weeks
            .iter()
            .find(|w| w["year"] == point["year"] && w["week"] == point["week"])
            .unwrap();
        let expected: Vec<f64> = week["scenes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|scene| crop.ndvi_until(date(&scene["datetime"]), end))
            .collect();
        let low = expected.iter().copied().fold(f64::INFINITY, f64::min) - 0.05;
        let high = expected.iter().copied().fold(f64::NEG_INFINITY, f64::max) + 0.05;
        let mean = point["mean"].as_f64().unwrap();
        assert!(
            (low..=high).contains(&mean),
            "{name} ({crop:?}) in {}-W{}: NDVI {mean:.3}, its curve {low:.3}..{high:.3}",
            point["year"],
            point["week"]
        );
    }
}

/// Whether a demo field's weeks are all processed: its last 8, and for the pasture also its
/// history, the wet seasons the demo catalog in `data_dir` holds for it (about 66 weeks).
fn processed(
    data_dir: &std::path::Path,
    field: &serde_json::Value,
) -> impl Fn(&[serde_json::Value]) -> bool {
    let mut planned = 8;
    if field["use_type"] == "PASTURE" {
        let catalog = std::fs::read_to_string(data_dir.join("demo-catalog/catalog.json")).unwrap();
        let options =
            &serde_json::from_str::<serde_json::Value>(&catalog).unwrap()["vivacampo:options"];
        let mut demo = vivacampo_imagery::demo::DemoOptions::new(
            options["weeks"].as_u64().unwrap() as u32,
            time::Date::parse(
                options["end_date"].as_str().unwrap(),
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .unwrap(),
        );
        demo.pasture_history = true;
        planned += vivacampo_imagery::demo::history_spans(&demo)
            .iter()
            .map(|(from, to)| vivacampo_core::weeks::IsoWeek::spanning(*from, *to).len())
            .sum::<usize>();
    }
    move |weeks| weeks.len() == planned && weeks.iter().all(|week| week["status"] != "PLANNED")
}

/// The newest scene date among a field's weeks: the demo catalog's end date.
fn points_end_date(weeks: &[serde_json::Value]) -> time::Date {
    weeks
        .iter()
        .flat_map(|w| w["scenes"].as_array().cloned().unwrap_or_default())
        .map(|scene| {
            let text = scene["datetime"].as_str().unwrap().to_owned();
            time::Date::parse(
                &text[..10],
                time::macros::format_description!("[year]-[month]-[day]"),
            )
            .unwrap()
        })
        .max()
        .expect("scenes")
}

/// Issue 14's first acceptance bullet: `vivacampo demo` shows OPEN signals on its problem field
/// and its degrading pasture, with evidence naming weeks, values and scenes; the healthy fields
/// have none and their health is OK. Whatever today's date: the problem field's story, the dry
/// spell and the pasture's decline are laid out backwards from the catalog's end date.
#[test]
fn demo_shows_signals_on_its_problem_field_and_pasture_and_none_on_the_healthy_ones() {
    let dir = temp_dir("demo-signals");
    let mut cmd = command(&dir, None);
    cmd.args(["demo", "--area-m", "5000"]);
    let server = Server::start(cmd);
    let token = login(server.addr, "demo@vivacampo.dev", "vivacampo-demo");
    let fields = http(server.addr, "GET", "/v1/aois", Some(&token), None).json();
    let fields = fields["items"].as_array().unwrap().clone();
    assert_eq!(fields.len(), 4);
    for field in &fields {
        let id = field["id"].as_str().unwrap();
        wait_for_weeks(
            server.addr,
            &token,
            id,
            Duration::from_secs(300),
            processed(&dir, field),
        );
    }
    let id_of = |name: &str| {
        fields
            .iter()
            .find(|f| f["name"] == name)
            .unwrap_or_else(|| panic!("no demo field {name}"))["id"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let problem = id_of("Talhão 3 — Sorgo");
    let pasture = id_of("Pastagem Norte");
    // Detection runs after each processed week and after the weather: wait until the
    // problem field and the pasture have signals and the list has not changed for a few seconds.
    let deadline = Instant::now() + Duration::from_secs(180);
    let (mut last, mut stable_since) = (serde_json::Value::Null, Instant::now());
    let signals = loop {
        let now = http(
            server.addr,
            "GET",
            "/v1/signals?status=OPEN&limit=100",
            Some(&token),
            None,
        )
        .json();
        let items = now["items"].clone();
        if items != last {
            last = items;
            stable_since = Instant::now();
        }
        let has = |field: &str| {
            last.as_array()
                .is_some_and(|a| a.iter().any(|s| s["aoi_id"] == field))
        };
        if has(&problem) && has(&pasture) && stable_since.elapsed() > Duration::from_secs(8) {
            break last.as_array().unwrap().clone();
        }
        assert!(
            Instant::now() < deadline,
            "no settled signals on the problem field and the pasture: {last}"
        );
        std::thread::sleep(Duration::from_millis(500));
    };
    for signal in &signals {
        assert!(
            signal["aoi_id"] == problem.as_str() || signal["aoi_id"] == pasture.as_str(),
            "a healthy field has an open signal: {signal}"
        );
    }
    let types_of = |field: &str| -> Vec<&str> {
        signals
            .iter()
            .filter(|s| s["aoi_id"] == field)
            .map(|s| s["type"].as_str().unwrap())
            .collect()
    };
    let types = types_of(&problem);
    assert!(
        types
            .iter()
            .any(|t| ["RAPID_DECLINE", "LOW_VIGOR", "WATER_STRESS"].contains(t)),
        "{types:?}"
    );
    let pasture_types = types_of(&pasture);
    assert!(
        pasture_types.contains(&"PASTURE_DEGRADATION"),
        "{pasture_types:?}"
    );
    let degradation = signals
        .iter()
        .find(|s| s["type"] == "PASTURE_DEGRADATION")
        .unwrap();
    let figures = &degradation["evidence"]["figures"];
    assert!(
        figures["peak_decline"].as_f64().unwrap() >= 0.07
            && figures["peak_now"].as_f64() < figures["peak_before"].as_f64(),
        "{degradation}"
    );
    assert!(
        degradation["evidence"]["baseline"]["seasons"].as_u64() >= Some(2),
        "{degradation}"
    );
    for signal in &signals {
        let evidence = &signal["evidence"];
        let weeks = evidence["weeks"].as_array().unwrap();
        assert!(!weeks.is_empty(), "{signal}");
        assert!(
            weeks
                .iter()
                .any(|w| w["week"].as_u64().is_some() && w["ndvi"].as_f64().is_some()),
            "evidence names weeks and values: {signal}"
        );
        let scenes = evidence["scene_ids"].as_array().unwrap();
        assert!(
            !scenes.is_empty() && scenes.iter().all(|s| s.as_str().unwrap().starts_with("S2")),
            "evidence names scenes: {signal}"
        );
        assert!(
            signal["explanation"]
                .as_str()
                .is_some_and(|e| !e.is_empty()),
            "{signal}"
        );
    }
    eprintln!("demo signals: problem field {types:?}, pasture {pasture_types:?}");
    // The badges: the problem field and the pasture need attention, the others are OK.
    let fields = http(server.addr, "GET", "/v1/aois", Some(&token), None).json();
    for field in fields["items"].as_array().unwrap() {
        let health = &field["health"];
        if field["id"] == problem.as_str() {
            assert_eq!(health["status"], "ALERT", "{field}");
            assert_eq!(health["open_signals"].as_u64(), Some(types.len() as u64));
        } else if field["id"] == pasture.as_str() {
            assert!(
                ["WATCH", "ALERT"].contains(&health["status"].as_str().unwrap()),
                "{field}"
            );
            assert_eq!(
                health["open_signals"].as_u64(),
                Some(pasture_types.len() as u64)
            );
        } else {
            assert_eq!(health["status"], "OK", "{field}");
            assert_eq!(health["open_signals"], 0, "{field}");
        }
    }
    assert!(server.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_admin_and_configuration_errors() {
    let dir = temp_dir("admin");
    let status = command(&dir, None)
        .args(["migrate", "--status"])
        .output()
        .unwrap();
    assert!(status.status.success());
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(
        text.contains("foundation") && text.contains("pending"),
        "{text}"
    );
    let applied = command(&dir, None).arg("migrate").output().unwrap();
    let expected = format!(
        "applied {} migration",
        vivacampo_store::migrate::MIGRATIONS.len()
    );
    assert!(String::from_utf8_lossy(&applied.stdout).contains(&expected));
    let again = command(&dir, None).arg("migrate").output().unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("up to date"));

    let created = command(&dir, None)
        .args([
            "admin",
            "create-user",
            "--email",
            "ops@agro.com",
            "--password",
            "long-password",
            "--name",
            "Ops",
            "--tenant",
            "Agro SA",
            "--role",
            "OPERATOR",
            "--system-admin",
        ])
        .output()
        .unwrap();
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let out: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(
        (out["role"].as_str(), out["tenant_name"].as_str()),
        (Some("OPERATOR"), Some("Agro SA"))
    );

    let server = Server::start({
        let mut cmd = command(&dir, None);
        cmd.arg("api");
        cmd
    });
    let token = login(server.addr, "ops@agro.com", "long-password");
    let me = http(server.addr, "GET", "/v1/me", Some(&token), None).json();
    assert_eq!(
        (me["role"].as_str(), me["is_system_admin"].as_bool()),
        (Some("OPERATOR"), Some(true))
    );
    assert_eq!(
        http(server.addr, "GET", "/v1/admin/tenants", Some(&token), None).json()["total"],
        1
    );
    drop(server);

    let bad = command(&dir, None)
        .env("VIVACAMPO_DB_ACQUIRE_TIMEOUT", "soon")
        .arg("migrate")
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert_eq!(err.lines().count(), 1, "one clear line: {err}");
    assert!(err.contains("VIVACAMPO_DB_ACQUIRE_TIMEOUT"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A 1 ha square field in Goiás.
fn small_field() -> vivacampo_store::aois::Shape {
    let square = json!({"type": "Polygon", "coordinates": [[
        [-50.9, -17.74], [-50.899, -17.74], [-50.899, -17.739], [-50.9, -17.739], [-50.9, -17.74]
    ]]});
    let field = vivacampo_core::geometry::FieldGeometry::from_geojson(&square).unwrap();
    vivacampo_store::aois::Shape {
        geometry: field.to_geojson(),
        area_ha: field.area_ha(),
        bbox: field.bbox(),
    }
}

/// A tenant with `count` small fields, each with a backfill of `weeks` weeks queued. Returns
/// the tenant id.
async fn seed_fields(store: &vivacampo_store::Store, count: usize, weeks: u32) -> String {
    let identity = vivacampo_store::accounts::NewIdentity {
        email: "a@x.io",
        name: "A",
        password_hash: "h",
        is_system_admin: false,
    };
    let (_, tenant) = store.sign_up(identity, "W").await.unwrap();
    let more = vivacampo_store::accounts::TenantPatch {
        max_fields: Some(count as i64),
        ..Default::default()
    };
    store.update_tenant(&tenant.id, more, None).await.unwrap();
    let farm = store
        .create_farm(&tenant.id, "actor", "F", "UTC")
        .await
        .unwrap();
    for i in 0..count {
        let field = vivacampo_store::aois::NewAoi {
            farm_id: farm.id.clone(),
            name: format!("f{i}"),
            use_type: "CROP".into(),
            shape: small_field(),
            backfill_weeks: weeks,
        };
        store.create_aoi(&tenant.id, "actor", field).await.unwrap();
    }
    tenant.id
}

/// An imagery catalog without scenes: every week is NO_DATA, quickly.
fn empty_catalog(dir: &std::path::Path) -> String {
    let catalog = dir.join("empty-catalog");
    std::fs::create_dir_all(&catalog).unwrap();
    catalog.display().to_string()
}

/// Two worker processes on PostgreSQL share 500 jobs: each runs exactly once.
#[test]
fn two_workers_run_500_jobs_exactly_once() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDb::postgres()) else {
        return;
    };
    let store = db.store.clone();
    // 250 backfills of one week each fan out 250 PROCESS_WEEK jobs: 500 jobs.
    let tenant = rt.block_on(seed_fields(&store, 250, 1));
    let dir = temp_dir("workers");
    let catalog = empty_catalog(&dir);
    let mut workers: Vec<_> = (0..2)
        .map(|_| {
            command(&dir, Some(&db.url))
                .args([
                    "worker",
                    "--worker-concurrency",
                    "4",
                    "--bind",
                    "127.0.0.1:0",
                ])
                .args(["--imagery-source", &catalog, "--radar-source", "off"])
                .stdout(Stdio::null())
                .spawn()
                .map(support::Guard)
                .unwrap()
        })
        .collect();
    // Each processed week also asks for a signal detection (and a detection may announce a
    // signal): the queue holds 500 imagery jobs and what follows them; all must run once.
    let deadline = Instant::now() + Duration::from_secs(240);
    rt.block_on(async {
        loop {
            let succeeded = store
                .count_jobs_with_status(vivacampo_core::jobs::JobStatus::Succeeded)
                .await
                .unwrap();
            if succeeded >= 500 && store.queue_stats().await.unwrap().depth.is_empty() {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "not all jobs finished: {succeeded} of 500 succeeded, {:?}",
                store.queue_stats().await.unwrap()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    });
    for w in &workers {
        support::terminate(&w.0);
    }
    for w in &mut workers {
        assert!(wait_with_timeout(&mut w.0, Duration::from_secs(30)).success());
    }
    rt.block_on(async {
        let page = vivacampo_store::PageRequest::new(Some(1), Some(200)).unwrap();
        let jobs = store
            .list_jobs(Some(&tenant), &Default::default(), page)
            .await
            .unwrap();
        assert!(jobs.total >= 500, "{} jobs", jobs.total);
        let mut workers_seen = std::collections::HashSet::new();
        let mut imagery_jobs = 0;
        let pages = u32::try_from((jobs.total + 199) / 200).unwrap();
        for p in 1..=pages {
            let page = vivacampo_store::PageRequest::new(Some(p), Some(200)).unwrap();
            for job in store
                .list_jobs(Some(&tenant), &Default::default(), page)
                .await
                .unwrap()
                .items
            {
                if matches!(
                    job.job_type,
                    vivacampo_core::jobs::JobType::Backfill
                        | vivacampo_core::jobs::JobType::ProcessWeek
                ) {
                    imagery_jobs += 1;
                }
                assert_eq!(job.attempts, 1, "job {} ran more than once", job.id);
                let runs = store.job_runs(&tenant, &job.id).await.unwrap();
                assert_eq!(runs.len(), 1);
                assert_eq!(runs[0].status, "SUCCEEDED");
                workers_seen.insert(runs[0].worker_id.clone());
            }
        }
        assert_eq!(imagery_jobs, 500);
        assert_eq!(workers_seen.len(), 2, "both workers took jobs");
    });
    rt.block_on(db.drop_db());
    let _ = std::fs::remove_dir_all(dir);
}

/// Runbook scenario 1: with the pool at 2 and slow requests holding both connections, more
/// requests get 503 within the acquire timeout, and the server recovers by itself.
#[test]
fn exhausted_pool_sheds_load_and_recovers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let Some(db) = rt.block_on(TestDb::postgres()) else {
        return;
    };
    let dir = temp_dir("pool");
    let server = Server::start({
        let mut cmd = command(&dir, Some(&db.url));
        cmd.args([
            "api",
            "--db-max-connections",
            "2",
            "--db-acquire-timeout",
            "500ms",
        ]);
        cmd
    });
    let signup = http(
        server.addr,
        "POST",
        "/v1/auth/signup",
        None,
        Some(&json!({"email": "ana@x.io", "password": "long-password", "name": "Ana"})),
    );
    assert_eq!(signup.status, 201);
    let token = signup.json()["token"].as_str().unwrap().to_owned();

    // A long transaction locks the farms table, so requests that read it hang, holding connections.
    let mut locker = rt.block_on(async {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut conn = sqlx::AnyConnection::connect(&db.url).await.unwrap();
        sqlx::query("BEGIN").execute(&mut conn).await.unwrap();
        sqlx::query("LOCK TABLE farms IN ACCESS EXCLUSIVE MODE")
            .execute(&mut conn)
            .await
            .unwrap();
        conn
    });
    let addr = server.addr;
    let slow: Vec<_> = (0..2)
        .map(|_| {
            let token = token.clone();
            std::thread::spawn(move || http(addr, "GET", "/v1/farms", Some(&token), None).status)
        })
        .collect();
    // Wait until the pool says both connections are taken, rather than hoping they are.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let metrics = http(server.addr, "GET", "/metrics", None, None);
        let text = String::from_utf8_lossy(&metrics.body).into_owned();
        let in_use = text
            .lines()
            .find_map(|l| l.strip_prefix("vivacampo_db_pool_in_use "))
            .and_then(|v| v.trim().parse::<f64>().ok());
        if in_use == Some(2.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the pool never filled: {in_use:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let started = Instant::now();
    let shed = http(server.addr, "GET", "/v1/farms", Some(&token), None);
    let waited = started.elapsed();
    assert_eq!(shed.status, 503, "{}", String::from_utf8_lossy(&shed.body));
    assert_eq!(shed.json()["error"]["code"], "UNAVAILABLE");
    assert!(waited < Duration::from_secs(2), "answered in {waited:?}");
    rt.block_on(async {
        sqlx::query("ROLLBACK").execute(&mut locker).await.unwrap();
    });
    for s in slow {
        assert_eq!(
            s.join().unwrap(),
            200,
            "the slow requests complete once the lock is gone"
        );
    }
    assert_eq!(
        http(server.addr, "GET", "/v1/farms", Some(&token), None).status,
        200
    );
    assert!(server.stop().success());
    rt.block_on(db.drop_db());
    let _ = std::fs::remove_dir_all(dir);
}

/// A worker killed with SIGKILL mid-job loses the job to another worker once its lease expires.
#[test]
fn a_sigkilled_worker_loses_its_job_after_the_lease() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let dir = temp_dir("sigkill");
    let url = format!("sqlite://{}/vivacampo.db", dir.display());
    let store = rt.block_on(async {
        let store = vivacampo_store::Store::open(&vivacampo_store::StoreOptions {
            url: url.clone(),
            max_connections: 4,
            acquire_timeout: Duration::from_secs(10),
            statement_timeout: Duration::from_secs(10),
        })
        .await
        .unwrap();
        store.migrate().await.unwrap();
        // 104-week backfills take long enough to be caught mid-way.
        seed_fields(&store, 10, 104).await;
        store
    });
    let catalog = empty_catalog(&dir);
    let worker = || {
        command(&dir, Some(&url))
            .args([
                "worker",
                "--job-lease",
                "1s",
                "--worker-concurrency",
                "2",
                "--bind",
                "127.0.0.1:0",
            ])
            .args(["--imagery-source", &catalog])
            .stdout(Stdio::null())
            .spawn()
            .map(support::Guard)
            .unwrap()
    };
    let running_job = || {
        rt.block_on(async {
            let filter = vivacampo_store::queue::JobFilter {
                status: Some(vivacampo_core::jobs::JobStatus::Running),
                ..Default::default()
            };
            let page = vivacampo_store::PageRequest::default();
            store
                .list_jobs(None, &filter, page)
                .await
                .unwrap()
                .items
                .into_iter()
                .next()
        })
    };
    // Kill a worker while a job is RUNNING under it; retry if the job finished in between.
    let mut victim = None;
    for _ in 0..5 {
        let mut doomed = worker();
        let deadline = Instant::now() + Duration::from_secs(30);
        let seen = loop {
            if let Some(job) = running_job() {
                break job;
            }
            assert!(Instant::now() < deadline, "no job started");
            std::thread::sleep(Duration::from_millis(5));
        };
        doomed.0.kill().unwrap();
        doomed.0.wait().unwrap();
        let after = rt.block_on(store.job_any_tenant(&seen.id)).unwrap();
        if after.status == vivacampo_core::jobs::JobStatus::Running {
            victim = Some(after);
            break;
        }
    }
    let victim = victim.expect("caught a job mid-way");
    let mut healthy = worker();
    let deadline = Instant::now() + Duration::from_secs(180);
    let finished = loop {
        let job = rt.block_on(store.job_any_tenant(&victim.id)).unwrap();
        if job.status == vivacampo_core::jobs::JobStatus::Succeeded {
            break job;
        }
        assert!(
            Instant::now() < deadline,
            "the killed worker's job never ran again: {job:?}"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    let runs = rt
        .block_on(store.job_runs(&finished.tenant_id, &finished.id))
        .unwrap();
    let statuses: Vec<_> = runs.iter().map(|r| r.status.as_str()).collect();
    assert_eq!(statuses, ["LOST", "SUCCEEDED"]);
    assert_ne!(runs[0].worker_id, runs[1].worker_id);
    assert!(runs[0].error.as_deref().unwrap().contains("lease expired"));
    support::terminate(&healthy.0);
    assert!(wait_with_timeout(&mut healthy.0, Duration::from_secs(30)).success());
    rt.block_on(store.close());
    let _ = std::fs::remove_dir_all(dir);
}

/// Starts `vivacampo imagery serve-catalog` on `bind` and returns it with its address.
fn serve_catalog(
    dir: &std::path::Path,
    catalog: &std::path::Path,
    bind: &str,
) -> (support::Guard, String) {
    use std::io::BufRead;
    let mut child = command(dir, None)
        .args(["imagery", "serve-catalog"])
        .arg(catalog)
        .args(["--listen", bind])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .unwrap_or_else(|| panic!("catalog server said {line:?}"))
        .trim()
        .to_owned();
    (support::Guard(child), addr)
}

/// Runbook: the imagery catalog goes down mid-backfill. The weeks still to do fail, retry with
/// backoff and end DEAD with the error; nothing half-written shows. With the catalog back, a
/// retry of the dead jobs completes every week.
#[test]
fn a_catalog_outage_mid_backfill_ends_dead_and_a_retry_completes() {
    let dir = temp_dir("outage");
    let catalog = dir.join("catalog");
    let made = command(&dir, None)
        .args([
            "imagery",
            "demo-catalog",
            "--weeks",
            "12",
            "--size-m",
            "2000",
            "--out",
        ])
        .arg(&catalog)
        .output()
        .unwrap();
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (catalog_server, catalog_addr) = serve_catalog(&dir, &catalog, "127.0.0.1:0");
    let server = Server::start({
        let mut cmd = command(&dir, None);
        cmd.args(["serve", "--imagery-source"])
            .arg(format!("http://{catalog_addr}"))
            .args(["--backfill-weeks", "12", "--worker-concurrency", "2"]);
        cmd
    });
    let signup = http(
        server.addr,
        "POST",
        "/v1/auth/signup",
        None,
        Some(&json!({"email": "ana@x.io", "password": "long-password", "name": "Ana"})),
    );
    let token = signup.json()["token"].as_str().unwrap().to_owned();
    let farm = http(
        server.addr,
        "POST",
        "/v1/farms",
        Some(&token),
        Some(&json!({"name": "F"})),
    )
    .json();
    let ((lon, lat), _) = vivacampo_imagery::demo::DEMO_PIVOT;
    let (dx, dy) = (0.002, 0.002);
    let square = json!({"type": "Polygon", "coordinates": [[
        [lon - dx, lat - dy], [lon + dx, lat - dy], [lon + dx, lat + dy], [lon - dx, lat + dy], [lon - dx, lat - dy]
    ]]});
    let field = http(
        server.addr,
        "POST",
        "/v1/aois",
        Some(&token),
        Some(
            &json!({"farm_id": farm["id"], "name": "Talhão", "use_type": "CROP", "geometry": square}),
        ),
    );
    assert_eq!(
        field.status,
        201,
        "{}",
        String::from_utf8_lossy(&field.body)
    );
    let id = field.json()["id"].as_str().unwrap().to_owned();
    let weeks = || {
        http(
            server.addr,
            "GET",
            &format!("/v1/aois/{id}/weeks"),
            Some(&token),
            None,
        )
        .json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let deadline = Instant::now() + Duration::from_secs(120);
    while weeks().is_empty() {
        assert!(Instant::now() < deadline, "no week processed");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(catalog_server);
    let processed_before = weeks().len();
    assert!(processed_before < 12, "the outage came too late to matter");

    // The rest fail against the dead catalog and go DEAD after their attempts, with the error.
    let jobs = |status: &str| {
        http(
            server.addr,
            "GET",
            &format!("/v1/jobs?type=PROCESS_WEEK&status={status}&page_size=100"),
            Some(&token),
            None,
        )
        .json()["items"]
            .as_array()
            .unwrap()
            .clone()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let waiting = ["PENDING", "RUNNING", "FAILED"]
            .iter()
            .map(|s| jobs(s).len())
            .sum::<usize>();
        if waiting == 0 {
            break;
        }
        assert!(Instant::now() < deadline, "{waiting} jobs never settled");
        std::thread::sleep(Duration::from_millis(500));
    }
    let dead = jobs("DEAD");
    assert!(!dead.is_empty());
    for job in &dead {
        assert_eq!(job["attempts"], 3);
        // The search fails, or (for a job caught mid-way) the scene reads.
        let error = job["last_error"].as_str().unwrap();
        assert!(
            error.contains("catalog search") || error.contains("scene"),
            "{error}"
        );
    }
    // Every week shown is whole: processed with its raster, or not shown at all.
    let shown = weeks();
    assert_eq!(shown.len() + dead.len(), 12, "{shown:?}");
    for week in &shown {
        if week["status"] != "NO_DATA" {
            assert_eq!(week["has_raster"], true);
        }
    }

    // The catalog comes back on the same address; retrying the dead jobs completes the field.
    let (_catalog_server, _) = serve_catalog(&dir, &catalog, &catalog_addr);
    for job in &dead {
        let retried = http(
            server.addr,
            "POST",
            &format!("/v1/jobs/{}/retry", job["id"].as_str().unwrap()),
            Some(&token),
            None,
        );
        assert_eq!(
            retried.status,
            202,
            "{}",
            String::from_utf8_lossy(&retried.body)
        );
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while weeks().len() < 12 {
        assert!(
            Instant::now() < deadline,
            "retried weeks did not complete: {:?}",
            weeks()
        );
        std::thread::sleep(Duration::from_millis(250));
    }
    assert!(jobs("DEAD").is_empty());
    assert!(server.stop().success());
    let _ = std::fs::remove_dir_all(dir);
}

/// The demo with its rasters on S3 (moto on loopback, started by `.ci/run`): readiness probes the
/// bucket, the weeks' COGs are written there and downloaded through the API, and storage bytes
/// show in `/metrics`. Endpoint and keys come from `VIVACAMPO_S3_*`, which win over the `AWS_*`
/// variables (`AWS_ENDPOINT` names a closed port); the region, unset there, falls back to
/// `AWS_REGION`. The secret never reaches the log. Skipped unless `VIVACAMPO_TEST_S3_ENDPOINT`
/// is set.
#[test]
fn demo_with_rasters_on_s3() {
    let Ok(endpoint) = std::env::var("VIVACAMPO_TEST_S3_ENDPOINT") else {
        vivacampo_store::testing::skip_for_want_of("VIVACAMPO_TEST_S3_ENDPOINT");
        return;
    };
    let bucket = std::env::var("VIVACAMPO_TEST_S3_BUCKET").unwrap_or("vivacampo-test".into());
    let dir = temp_dir("s3");
    let secret = format!("e2e-secret-{}", uuid::Uuid::new_v4().simple());
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let closed_endpoint = format!("http://{}", closed.local_addr().unwrap());
    drop(closed);
    let server = Server::start({
        let mut cmd = command(&dir, None);
        cmd.args(["demo", "--area-m", "5000", "--raster-store"])
            .arg(format!("s3://{bucket}/e2e-{}", uuid::Uuid::new_v4()))
            .env("VIVACAMPO_S3_ENDPOINT", &endpoint)
            .env("VIVACAMPO_S3_ACCESS_KEY_ID", "vivacampo")
            .env("VIVACAMPO_S3_SECRET_ACCESS_KEY", &secret)
            .env("VIVACAMPO_S3_ALLOW_HTTP", "true")
            .env("VIVACAMPO_LOG", "debug")
            .env("AWS_ENDPOINT", &closed_endpoint)
            .env("AWS_ACCESS_KEY_ID", "not-these")
            .env("AWS_SECRET_ACCESS_KEY", "not-these")
            .env("AWS_REGION", "us-east-1")
            .env_remove("AWS_ALLOW_HTTP");
        cmd
    });
    let ready = http(server.addr, "GET", "/readyz", None, None);
    assert_eq!(
        ready.status,
        200,
        "{}",
        String::from_utf8_lossy(&ready.body)
    );
    let token = login(server.addr, "demo@vivacampo.dev", "vivacampo-demo");
    let fields = http(server.addr, "GET", "/v1/aois", Some(&token), None).json();
    // The pasture also backfills its past seasons; a crop field has just the demo's 8 weeks.
    let crop = fields["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["use_type"] != "PASTURE")
        .expect("a crop field");
    let field = crop["id"].as_str().unwrap().to_owned();
    let weeks = wait_for_weeks(
        server.addr,
        &token,
        &field,
        Duration::from_secs(180),
        processed(&dir, crop),
    );
    let week = weeks.iter().find(|w| w["has_raster"] == true).unwrap();
    let tif = http(
        server.addr,
        "GET",
        &format!(
            "/v1/aois/{field}/weeks/{}/{}/raster.tif",
            week["year"], week["week"]
        ),
        Some(&token),
        None,
    );
    assert_eq!(tif.status, 200);
    let cog = vivacampo_raster::tiff::open(tif.body.as_slice()).unwrap();
    assert_eq!(cog.bands(), 8);
    let metrics = String::from_utf8(http(server.addr, "GET", "/metrics", None, None).body).unwrap();
    let total: f64 = metrics
        .lines()
        .find_map(|l| l.strip_prefix("vivacampo_storage_bytes_total "))
        .expect("storage bytes exported")
        .trim()
        .parse()
        .unwrap();
    assert!(total > 0.0, "{total}");
    let log = server.log.clone();
    assert!(server.stop().success());
    let log = log.lock().unwrap();
    assert!(!log.is_empty());
    assert!(
        log.iter().all(|line| !line.contains(&secret)),
        "the S3 secret is in the log"
    );
    let _ = std::fs::remove_dir_all(dir);
}
