//! Feature flags and process records, on SQLite and (when `VIVACAMPO_TEST_POSTGRES_URL` is set)
//! PostgreSQL.

use std::time::Duration;

use vivacampo_core::flags::Flag;
use vivacampo_core::jobs::{JobStatus, JobType};
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::queue::NewJob;
use vivacampo_store::testing::TestDb;

async fn tenant(store: &Store, email: &str) -> String {
    let (_, tenant) = store
        .sign_up(
            NewIdentity {
                email,
                name: "Ana",
                password_hash: "hash",
                is_system_admin: false,
            },
            "Fazenda",
        )
        .await
        .unwrap();
    tenant.id
}

fn job(tenant: &str, job_type: JobType) -> NewJob {
    NewJob {
        tenant_id: tenant.to_owned(),
        aoi_id: None,
        job_type,
        idempotency_key: None,
        payload: serde_json::json!({}),
        run_after: None,
    }
}

const LEASE: Duration = Duration::from_secs(30);

#[tokio::test]
async fn flags_are_global_or_per_tenant_and_audited() {
    for db in TestDb::all().await {
        let store = &db.store;
        let a = tenant(store, "a@x.io").await;
        let b = tenant(store, "b@x.io").await;
        assert!(store.flag_enabled(Flag::Tiles, Some(&a)).await);
        store
            .set_flag(Flag::Tiles, Some(&a), false, None)
            .await
            .unwrap();
        assert!(!store.flag_enabled(Flag::Tiles, Some(&a)).await);
        assert!(store.flag_enabled(Flag::Tiles, Some(&b)).await);
        store
            .set_flag(Flag::Tiles, None, false, None)
            .await
            .unwrap();
        store
            .set_flag(Flag::Tiles, Some(&b), true, None)
            .await
            .unwrap();
        let set = store.flag_values().await.unwrap();
        assert!(!set.global(Flag::Tiles));
        assert!(set.enabled(Flag::Tiles, Some(&b)));
        assert!(!set.enabled(Flag::Tiles, Some(&a)));
        assert!(!set.enabled(Flag::Tiles, Some("another")));
        assert!(matches!(
            store
                .set_flag(Flag::Tiles, Some("no-such-tenant"), false, None)
                .await,
            Err(vivacampo_store::StoreError::NotFound)
        ));
        let log = store
            .audit_log(&a, vivacampo_store::PageRequest::default())
            .await
            .unwrap();
        assert_eq!(log.items[0].action, "SET_FLAG");
        assert_eq!(log.items[0].resource_id, "tiles");
        assert_eq!(
            log.items[0].details,
            serde_json::json!({"enabled": false, "tenant_id": a})
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn a_job_type_switched_off_stays_pending_then_runs() {
    for db in TestDb::all().await {
        let store = &db.store;
        let a = tenant(store, "a@x.io").await;
        let b = tenant(store, "b@x.io").await;
        store
            .set_flag(Flag::ImageryRefresh, Some(&a), false, None)
            .await
            .unwrap();
        let held = store.enqueue(job(&a, JobType::ProcessWeek)).await.unwrap();
        let other = store.enqueue(job(&b, JobType::ProcessWeek)).await.unwrap();
        let leased = store.lease_job("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(leased.job.id, other.job.id, "the other tenant's job runs");
        assert!(store.lease_job("w1", LEASE).await.unwrap().is_none());
        // Turned off globally, a type stops for everyone without its own value.
        store
            .set_flag(Flag::Backfill, None, false, None)
            .await
            .unwrap();
        store.enqueue(job(&b, JobType::Backfill)).await.unwrap();
        assert!(store.lease_job("w1", LEASE).await.unwrap().is_none());
        assert_eq!(
            store.job(&a, &held.job.id).await.unwrap().status,
            JobStatus::Pending
        );
        store
            .set_flag(Flag::ImageryRefresh, Some(&a), true, None)
            .await
            .unwrap();
        let leased = store.lease_job("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(leased.job.id, held.job.id);
        assert_eq!(leased.attempt, 1);
        db.drop_db().await;
    }
}

#[tokio::test]
async fn finished_jobs_are_purged_with_their_runs_after_the_history_period() {
    for db in TestDb::all().await {
        let store = &db.store;
        let a = tenant(store, "a@x.io").await;
        let done = store.enqueue(job(&a, JobType::ProcessWeek)).await.unwrap();
        let leased = store.lease_job("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(leased.job.id, done.job.id);
        store
            .complete_job(&done.job.id, "w1", 1, serde_json::json!({}))
            .await
            .unwrap();
        let waiting = store.enqueue(job(&a, JobType::ProcessWeek)).await.unwrap();
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert_eq!(
            store.purge_finished_jobs(3_600_000).await.unwrap(),
            0,
            "too young"
        );
        assert_eq!(store.purge_finished_jobs(0).await.unwrap(), 1);
        assert!(matches!(
            store.job(&a, &done.job.id).await,
            Err(vivacampo_store::StoreError::NotFound)
        ));
        assert_eq!(
            store.job(&a, &waiting.job.id).await.unwrap().status,
            JobStatus::Pending
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn processes_record_deploys_and_heartbeats() {
    for db in TestDb::all().await {
        let store = &db.store;
        let id = store
            .register_process(vivacampo_store::processes::NewProcess {
                role: "api",
                version: "1.2.3",
                git_commit: "abc1234",
                host: "h1",
                pid: 42,
            })
            .await
            .unwrap();
        store
            .process_heartbeat(&id, &serde_json::json!({"5m": {"requests": 7}}))
            .await
            .unwrap();
        let seen = store.processes_since(0).await.unwrap();
        assert_eq!(seen.len(), 1);
        let p = &seen[0];
        assert_eq!(
            (
                p.role.as_str(),
                p.version.as_str(),
                p.git_commit.as_str(),
                p.host.as_str(),
                p.pid
            ),
            ("api", "1.2.3", "abc1234", "h1", 42)
        );
        assert_eq!(p.summary["5m"]["requests"], 7);
        assert_eq!(p.stopped_at, None);
        store.process_stopped(&id).await.unwrap();
        assert!(
            store.processes_since(0).await.unwrap()[0]
                .stopped_at
                .is_some()
        );
        assert_eq!(store.purge_processes(3_600_000).await.unwrap(), 0);
        assert!(store.running_past_timeout().await.unwrap().is_empty());
        db.drop_db().await;
    }
}

/// A worker's `job_timeout` replaces the job type's limit for the attempt it leases, and is
/// recorded on the job: `ops status` counts the attempt as past its timeout by that limit.
#[tokio::test]
async fn a_lease_with_a_timeout_records_the_limit_in_force() {
    for db in TestDb::all().await {
        let store = &db.store;
        let a = tenant(store, "a@x.io").await;
        let timed = store.enqueue(job(&a, JobType::ProcessWeek)).await.unwrap();
        let leased = store
            .lease_job_timed("w1", LEASE, Some(Duration::from_millis(50)))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(leased.job.id, timed.job.id);
        assert_eq!(leased.timeout, Duration::from_millis(50));
        tokio::time::sleep(Duration::from_millis(120)).await;
        assert_eq!(
            store.running_past_timeout().await.unwrap(),
            vec![(JobType::ProcessWeek, 1)]
        );
        // Without one, the type's own limit (5 minutes for imagery).
        store
            .enqueue(job(&a, JobType::ProcessWeather))
            .await
            .unwrap();
        let own = store.lease_job("w1", LEASE).await.unwrap().unwrap();
        assert_eq!(own.timeout, Duration::from_secs(300));
        assert_eq!(
            store.running_past_timeout().await.unwrap(),
            vec![(JobType::ProcessWeek, 1)]
        );
        db.drop_db().await;
    }
}

#[tokio::test]
async fn flags_outlive_a_saturated_database_without_each_read_waiting() {
    let db = TestDb::sqlite_with(1, Duration::from_millis(300)).await;
    let store = &db.store;
    let a = tenant(store, "a@x.io").await;
    store
        .set_flag(Flag::Tiles, Some(&a), false, None)
        .await
        .unwrap();
    assert!(!store.flag_enabled(Flag::Tiles, Some(&a)).await);
    let held = vivacampo_store::testing::hold_connection(store)
        .await
        .unwrap();
    tokio::time::sleep(vivacampo_store::flags::FLAG_TTL).await;
    // The first read after the period waits for the pool and keeps the last values…
    let started = std::time::Instant::now();
    assert!(!store.flag_enabled(Flag::Tiles, Some(&a)).await);
    assert!(started.elapsed() >= Duration::from_millis(300));
    // …for another period, so the next reads do not wait.
    let started = std::time::Instant::now();
    for _ in 0..10 {
        assert!(!store.flag_enabled(Flag::Tiles, Some(&a)).await);
    }
    assert!(
        started.elapsed() < Duration::from_millis(100),
        "{:?}",
        started.elapsed()
    );
    drop(held);
    db.drop_db().await;
}

#[tokio::test]
async fn an_older_binary_runs_on_newer_expand_only_migrations_only() {
    for db in TestDb::all().await {
        let store = &db.store;
        // A database that an earlier binary made has no marker column: it is added.
        {
            let mut conn = vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap();
            sqlx::query("ALTER TABLE schema_migrations DROP COLUMN compatible_with_previous")
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        let ours = store.migration_status().await.unwrap();
        assert!(
            ours.iter()
                .any(|m| m.version == 9 && m.compatible_with_previous && m.is_current())
        );
        let newer = |version: i64, compatible: i64| {
            format!(
                "INSERT INTO schema_migrations (version, name, checksum, applied_at, compatible_with_previous)
                 VALUES ({version}, 'newer', 'x', 1, {compatible})"
            )
        };
        {
            let mut conn = vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(newer(99, 1)))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        assert!(store.migrations_current().await.unwrap(), "marked: runs");
        assert_eq!(store.migrate().await.unwrap(), Vec::<i64>::new());
        {
            let mut conn = vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap();
            let marked: Vec<i64> = sqlx::query_scalar(
                "SELECT version FROM schema_migrations WHERE compatible_with_previous = 1 AND version < 99 ORDER BY version",
            )
            .fetch_all(&mut *conn)
            .await
            .unwrap();
            assert_eq!(
                marked,
                vec![7, 8, 9, 10, 11, 12, 14],
                "the marker is written back for migrations 7, 8, 9, 10, 11, 12 and 14"
            );
        }
        {
            let mut conn = vivacampo_store::testing::hold_connection(store)
                .await
                .unwrap();
            sqlx::query(sqlx::AssertSqlSafe(newer(100, 0)))
                .execute(&mut *conn)
                .await
                .unwrap();
        }
        assert!(
            !store.migrations_current().await.unwrap(),
            "unmarked: refuses"
        );
        assert!(matches!(
            store.migrate().await,
            Err(vivacampo_store::StoreError::Migration(m)) if m.contains("migration 100 (newer)")
        ));
        db.drop_db().await;
    }
}
