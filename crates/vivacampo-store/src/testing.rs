//! Fresh databases for tests, on SQLite always and on PostgreSQL when
//! `VIVACAMPO_TEST_POSTGRES_URL` is set (each test gets its own database, dropped afterwards).

use std::path::PathBuf;
use std::time::Duration;

use crate::{Backend, Store, StoreOptions};

/// The environment variable naming the PostgreSQL server for tests.
pub const POSTGRES_URL_VAR: &str = "VIVACAMPO_TEST_POSTGRES_URL";

/// Set (to anything but empty or `0`), a test that would skip for want of its server fails
/// instead: CI sets it where it provides the servers, so a renamed variable cannot silently
/// turn those tests into passes.
pub const REQUIRE_ALL_VAR: &str = "VIVACAMPO_TEST_REQUIRE_ALL";

/// Called where a test skips because `missing` (an environment variable naming a test server)
/// is unset: says so, or panics when [`REQUIRE_ALL_VAR`] is set.
pub fn skip_for_want_of(missing: &str) {
    skip_or_fail(missing, std::env::var(REQUIRE_ALL_VAR).ok().as_deref());
}

fn skip_or_fail(missing: &str, require_all: Option<&str>) {
    if require_all.is_some_and(|v| !v.is_empty() && v != "0") {
        panic!("{missing} is not set, but {REQUIRE_ALL_VAR} requires every test to run");
    }
    eprintln!("skipped: {missing} is not set");
}

/// A migrated database that exists for one test.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    /// A fresh SQLite database in a new temporary directory.
    pub async fn sqlite() -> TestDb {
        TestDb::sqlite_with(10, Duration::from_secs(5)).await
    }

    /// A fresh SQLite database with the given pool bounds.
    pub async fn sqlite_with(max_connections: u32, acquire_timeout: Duration) -> TestDb {
        let db = TestDb::sqlite_empty(max_connections, acquire_timeout).await;
        db.store.migrate().await.expect("migrate sqlite");
        db
    }

    /// A new SQLite database without any migration applied.
    pub async fn sqlite_empty(max_connections: u32, acquire_timeout: Duration) -> TestDb {
        let dir = std::env::temp_dir().join(format!("vivacampo-test-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).expect("create temp dir");
        let url = format!("sqlite://{}/test.db", dir.display());
        let store = Store::open(&StoreOptions {
            url: url.clone(),
            max_connections,
            acquire_timeout,
            statement_timeout: Duration::from_secs(10),
        })
        .await
        .expect("open sqlite");
        TestDb {
            store,
            url,
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh PostgreSQL database, or `None` when no test server is configured.
    pub async fn postgres() -> Option<TestDb> {
        TestDb::postgres_with(10, Duration::from_secs(5)).await
    }

    /// A fresh PostgreSQL database with the given pool bounds.
    pub async fn postgres_with(max_connections: u32, acquire_timeout: Duration) -> Option<TestDb> {
        let db = TestDb::postgres_empty(max_connections, acquire_timeout).await?;
        db.store.migrate().await.expect("migrate postgres");
        Some(db)
    }

    /// A new PostgreSQL database without any migration applied, or `None` when no test server
    /// is configured.
    pub async fn postgres_empty(max_connections: u32, acquire_timeout: Duration) -> Option<TestDb> {
        let Some(admin_url) = std::env::var(POSTGRES_URL_VAR)
            .ok()
            .filter(|u| !u.is_empty())
        else {
            skip_for_want_of(POSTGRES_URL_VAR);
            return None;
        };
        let name = format!("vivacampo_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::any::install_default_drivers();
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url)
            .await
            .expect("connect to the PostgreSQL test server");
        sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .expect("create test database");
        let url = with_database(&admin_url, &name);
        let store = Store::open(&StoreOptions {
            url: url.clone(),
            max_connections,
            acquire_timeout,
            statement_timeout: Duration::from_secs(10),
        })
        .await
        .expect("open postgres");
        Some(TestDb {
            store,
            url,
            cleanup: Cleanup::Database { admin_url, name },
        })
    }

    /// Every configured engine: SQLite, then PostgreSQL if available.
    pub async fn all() -> Vec<TestDb> {
        let mut dbs = vec![TestDb::sqlite().await];
        dbs.extend(TestDb::postgres().await);
        dbs
    }

    /// Ends every server session of this database but the caller's (`pg_terminate_backend`),
    /// as a database restart or an operator would; returns how many. SQLite has no sessions: 0.
    pub async fn terminate_connections(&self) -> crate::Result<u64> {
        let Cleanup::Database { admin_url, name } = &self.cleanup else {
            return Ok(0);
        };
        let mut admin = <sqlx::AnyConnection as sqlx::Connection>::connect(admin_url).await?;
        let ended: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        )
        .bind(name)
        .fetch_all(&mut admin)
        .await?;
        Ok(ended.into_iter().filter(|e| *e).count() as u64)
    }

    pub fn backend(&self) -> Backend {
        self.store.backend()
    }

    /// Removes the database. Call at the end of a test; a failed test leaves it for inspection.
    pub async fn drop_db(self) {
        self.store.close().await;
        match self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => {
                if let Ok(mut admin) =
                    <sqlx::AnyConnection as sqlx::Connection>::connect(&admin_url).await
                {
                    let _ = sqlx::query(sqlx::AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut admin)
                    .await;
                }
            }
        }
    }
}

/// Replaces the database name (the path) of a PostgreSQL URL.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// Makes a job ready to lease now, as if its backoff had passed.
pub async fn make_job_ready(store: &Store, job_id: &str) -> crate::Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query("UPDATE jobs SET run_after = $1 WHERE id = $2")
        .bind(crate::now_ms() - 1)
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// The jobs a tenant's job `parent_id` fanned out to, oldest first (for tests that explain a
/// stuck parent).
pub async fn child_jobs(
    store: &Store,
    tenant_id: &str,
    parent_id: &str,
) -> crate::Result<Vec<crate::queue::Job>> {
    let ids: Vec<String> = {
        let mut conn = store.conn().await?;
        sqlx::query_scalar(
            "SELECT id FROM jobs WHERE parent_job_id = $1 AND tenant_id = $2 ORDER BY created_at, id",
        )
        .bind(parent_id)
        .bind(tenant_id)
        .fetch_all(&mut *conn)
        .await?
    };
    let mut jobs = Vec::with_capacity(ids.len());
    for id in ids {
        jobs.push(store.job(tenant_id, &id).await?);
    }
    Ok(jobs)
}

/// An open write transaction that has touched job `job_id`'s row, as a BACKFILL's fan-out does:
/// until it ends, nothing else can write that row (PostgreSQL) or the database (SQLite).
pub async fn lock_job_row(
    store: &Store,
    job_id: &str,
) -> crate::Result<sqlx::Transaction<'static, sqlx::Any>> {
    let mut tx = store.begin().await?;
    sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = $2")
        .bind(crate::now_ms())
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
    Ok(tx)
}

/// Takes one pooled connection and holds it until dropped, as a slow request would.
pub async fn hold_connection(
    store: &Store,
) -> crate::Result<sqlx::pool::PoolConnection<sqlx::Any>> {
    store.conn().await
}

/// Another client's lock on `table`, held until [`HeldLock::release`]: on PostgreSQL an
/// ACCESS EXCLUSIVE table lock (reads and writes of the table wait), on SQLite the database's
/// write lock (writers wait).
pub struct HeldLock(sqlx::AnyConnection);

impl HeldLock {
    pub async fn release(self) -> crate::Result<()> {
        sqlx::Connection::close(self.0).await?;
        Ok(())
    }
}

/// Takes a [`HeldLock`] on `table` over a connection of its own, as a stuck migration or a
/// long transaction in another program would.
pub async fn lock_table(db: &TestDb, table: &str) -> crate::Result<HeldLock> {
    let mut conn = <sqlx::AnyConnection as sqlx::Connection>::connect(&db.url).await?;
    let statements = match db.backend() {
        Backend::Postgres => vec![
            "BEGIN".to_owned(),
            format!("LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"),
        ],
        Backend::Sqlite => vec!["BEGIN IMMEDIATE".to_owned()],
    };
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .execute(&mut conn)
            .await?;
    }
    Ok(HeldLock(conn))
}

/// Sets a job's per-attempt timeout, so timeout handling can be tested in milliseconds.
pub async fn set_job_timeout(store: &Store, job_id: &str, timeout: Duration) -> crate::Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query("UPDATE jobs SET timeout_ms = $1 WHERE id = $2")
        .bind(timeout.as_millis() as i64)
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Pushes a job's `run_after` into the future, so other jobs are leased first.
pub async fn delay_job(store: &Store, job_id: &str, by: Duration) -> crate::Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query("UPDATE jobs SET run_after = $1 WHERE id = $2")
        .bind(crate::now_ms() + by.as_millis() as i64)
        .bind(job_id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Makes every weather cell look as it did a day later: its forecast from yesterday, its
/// archive ending `archive_until` (for the daily-refresh simulation).
pub async fn age_weather_cells(
    store: &Store,
    yesterday: time::Date,
    archive_until: time::Date,
) -> crate::Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query("UPDATE weather_cells SET forecast_date = $1, archive_until = $2")
        .bind(yesterday.to_string())
        .bind(archive_until.to_string())
        .execute(&mut *conn)
        .await?;
    Ok(())
}

/// Inserts a copy of signal `signal_id` as a second OPEN signal of the same field and type:
/// the one-open rule of the schema refuses it (`Conflict`).
pub async fn duplicate_open_signal(store: &Store, signal_id: &str) -> crate::Result<()> {
    let mut conn = store.conn().await?;
    sqlx::query(
        "INSERT INTO signals (id, tenant_id, aoi_id, signal_type, severity, confidence, status, year, week,
             first_seen_year, first_seen_week, evidence, texts, created_at, updated_at)
         SELECT $1, tenant_id, aoi_id, signal_type, severity, confidence, 'OPEN', year, week,
             first_seen_year, first_seen_week, evidence, texts, created_at, updated_at
         FROM signals WHERE id = $2",
    )
    .bind(crate::new_id())
    .bind(signal_id)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{skip_or_fail, with_database};

    #[test]
    fn a_skip_is_a_skip_unless_every_test_is_required() {
        skip_or_fail("VIVACAMPO_TEST_X", None);
        skip_or_fail("VIVACAMPO_TEST_X", Some(""));
        skip_or_fail("VIVACAMPO_TEST_X", Some("0"));
    }

    #[test]
    #[should_panic(
        expected = "VIVACAMPO_TEST_X is not set, but VIVACAMPO_TEST_REQUIRE_ALL requires every test to run"
    )]
    fn a_skip_fails_when_every_test_is_required() {
        skip_or_fail("VIVACAMPO_TEST_X", Some("1"));
    }

    #[test]
    fn database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "t1"),
            "postgres://u@h:5432/t1"
        );
        assert_eq!(with_database("postgres://u@h", "t1"), "postgres://u@h/t1");
        assert_eq!(
            with_database("postgres://u@h/db?sslmode=disable", "t1"),
            "postgres://u@h/t1?sslmode=disable"
        );
    }
}
