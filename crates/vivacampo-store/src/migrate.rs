//! Versioned schema migrations, one SQL file per version and engine, embedded in the binary.
//!
//! Applied versions are recorded in `schema_migrations` with a checksum of their SQL, so an
//! edited migration is detected instead of silently skipped.
//!
//! Replicas starting at once may all migrate: one runs at a time (a PostgreSQL advisory lock
//! held by a dedicated connection; SQLite's write lock), and the others, once they get their
//! turn, find nothing left to do.
//!
//! Rollbacks: a migration listed in [`COMPATIBLE_WITH_PREVIOUS`] is expand-only (new tables,
//! nullable columns, indexes), so the release before the one that adds it runs correctly on it.
//! It is recorded as such, and a binary that does not know it still starts and migrates; any
//! other unknown migration stops it (docs/runbooks/rollback.md).

use crate::{Backend, Result, Store, StoreError, col, now_ms};

/// One schema version.
pub struct Migration {
    pub version: i64,
    pub name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

impl Migration {
    fn sql(&self, backend: Backend) -> &'static str {
        match backend {
            Backend::Sqlite => self.sqlite,
            Backend::Postgres => self.postgres,
        }
    }
}

/// Every migration this binary knows, oldest first.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "field_weeks",
        sqlite: include_str!("../migrations/sqlite/0002_field_weeks.sql"),
        postgres: include_str!("../migrations/postgres/0002_field_weeks.sql"),
    },
    Migration {
        version: 3,
        name: "job_parents",
        sqlite: include_str!("../migrations/sqlite/0003_job_parents.sql"),
        postgres: include_str!("../migrations/postgres/0003_job_parents.sql"),
    },
    Migration {
        version: 4,
        name: "scheduler",
        sqlite: include_str!("../migrations/sqlite/0004_scheduler.sql"),
        postgres: include_str!("../migrations/postgres/0004_scheduler.sql"),
    },
    Migration {
        version: 5,
        name: "raster_bytes",
        sqlite: include_str!("../migrations/sqlite/0005_raster_bytes.sql"),
        postgres: include_str!("../migrations/postgres/0005_raster_bytes.sql"),
    },
    Migration {
        version: 7,
        name: "login_throttle",
        sqlite: include_str!("../migrations/sqlite/0007_login_throttle.sql"),
        postgres: include_str!("../migrations/postgres/0007_login_throttle.sql"),
    },
    Migration {
        version: 8,
        name: "weather",
        sqlite: include_str!("../migrations/sqlite/0008_weather.sql"),
        postgres: include_str!("../migrations/postgres/0008_weather.sql"),
    },
    Migration {
        version: 9,
        name: "operations",
        sqlite: include_str!("../migrations/sqlite/0009_operations.sql"),
        postgres: include_str!("../migrations/postgres/0009_operations.sql"),
    },
    Migration {
        version: 10,
        name: "signals",
        sqlite: include_str!("../migrations/sqlite/0010_signals.sql"),
        postgres: include_str!("../migrations/postgres/0010_signals.sql"),
    },
    Migration {
        version: 11,
        name: "notifications",
        sqlite: include_str!("../migrations/sqlite/0011_notifications.sql"),
        postgres: include_str!("../migrations/postgres/0011_notifications.sql"),
    },
    Migration {
        version: 12,
        name: "radar",
        sqlite: include_str!("../migrations/sqlite/0012_radar.sql"),
        postgres: include_str!("../migrations/postgres/0012_radar.sql"),
    },
    Migration {
        version: 14,
        name: "queue_stats",
        sqlite: include_str!("../migrations/sqlite/0014_queue_stats.sql"),
        postgres: include_str!("../migrations/postgres/0014_queue_stats.sql"),
    },
];

/// Versions the previous release can run on (expand-only). Append a version here only when
/// the release before it ignores what the migration adds.
/// 7 (`login_throttle`) and 8 (`weather`) only add tables and indexes; the release before 8
/// already knew the PROCESS_WEATHER job type and fails it ("no handler in this version"), so
/// after a rollback over 8 weather jobs end DEAD until `retry-dead` on the newer release.
pub const COMPATIBLE_WITH_PREVIOUS: &[i64] = &[7, 8, 9, 10, 11, 12, 14];

/// The state of one migration in a database.
#[derive(Debug, Clone, PartialEq)]
pub struct MigrationStatus {
    pub version: i64,
    pub name: String,
    /// When it was applied (epoch ms), `None` while pending.
    pub applied_at: Option<i64>,
    /// The SQL of an applied migration differs from this binary's.
    pub modified: bool,
    /// Applied in the database but unknown to this binary (a newer binary ran).
    pub unknown: bool,
    /// The binary that applied it marked it safe for the previous release.
    pub compatible_with_previous: bool,
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.applied_at.is_some()
            && !self.modified
            && (!self.unknown || self.compatible_with_previous)
    }
}

/// FNV-1a, enough to notice an edited migration file.
fn checksum(sql: &str) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in sql.as_bytes() {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    format!("{hash:016x}")
}

const CREATE_TABLE: &str = "CREATE TABLE IF NOT EXISTS schema_migrations (
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL,
    compatible_with_previous BIGINT NOT NULL DEFAULT 0)";

/// The advisory lock key that serialises migrations on PostgreSQL ("vivacamp" in ASCII).
const MIGRATION_LOCK: i64 = 0x7669_7661_6361_6d70;

/// The status of every known and every applied migration, read over `conn`.
async fn status_on(
    conn: &mut sqlx::AnyConnection,
    backend: Backend,
) -> Result<Vec<MigrationStatus>> {
    sqlx::query(CREATE_TABLE).execute(&mut *conn).await?;
    // Databases made before the marker existed get its column.
    if sqlx::query("SELECT compatible_with_previous FROM schema_migrations LIMIT 1")
        .fetch_optional(&mut *conn)
        .await
        .is_err()
    {
        sqlx::query(
            "ALTER TABLE schema_migrations ADD COLUMN compatible_with_previous BIGINT NOT NULL DEFAULT 0",
        )
        .execute(&mut *conn)
        .await?;
    }
    let rows = sqlx::query(
        "SELECT version, name, checksum, applied_at, compatible_with_previous FROM schema_migrations ORDER BY version",
    )
    .fetch_all(&mut *conn)
    .await?;
    let mut applied = Vec::new();
    for row in &rows {
        let version: i64 = col(row, "version")?;
        let name: String = col(row, "name")?;
        let sum: String = col(row, "checksum")?;
        let at: i64 = col(row, "applied_at")?;
        let compatible: i64 = col(row, "compatible_with_previous")?;
        applied.push((version, name, sum, at, compatible != 0));
    }
    let mut status: Vec<MigrationStatus> = MIGRATIONS
        .iter()
        .map(|m| {
            let found = applied.iter().find(|a| a.0 == m.version);
            MigrationStatus {
                version: m.version,
                name: m.name.to_owned(),
                applied_at: found.map(|a| a.3),
                modified: found.is_some_and(|a| a.2 != checksum(m.sql(backend))),
                unknown: false,
                compatible_with_previous: COMPATIBLE_WITH_PREVIOUS.contains(&m.version),
            }
        })
        .collect();
    for (version, name, _, at, compatible) in applied {
        if !MIGRATIONS.iter().any(|m| m.version == version) {
            status.push(MigrationStatus {
                version,
                name,
                applied_at: Some(at),
                modified: false,
                unknown: true,
                compatible_with_previous: compatible,
            });
        }
    }
    status.sort_by_key(|s| s.version);
    Ok(status)
}

/// Applies the pending migrations over `conn`, each in its own transaction.
async fn migrate_on(conn: &mut sqlx::AnyConnection, backend: Backend) -> Result<Vec<i64>> {
    let status = status_on(conn, backend).await?;
    if let Some(bad) = status.iter().find(|s| s.modified) {
        return Err(StoreError::Migration(format!(
            "migration {} ({}) was changed after it was applied",
            bad.version, bad.name
        )));
    }
    if let Some(bad) = status
        .iter()
        .find(|s| s.unknown && !s.compatible_with_previous)
    {
        return Err(StoreError::Migration(format!(
            "the database has migration {} ({}), which this binary does not know: it is older than the database",
            bad.version, bad.name
        )));
    }
    let begin = match backend {
        Backend::Sqlite => "BEGIN IMMEDIATE",
        Backend::Postgres => "BEGIN",
    };
    let mut applied = Vec::new();
    for migration in MIGRATIONS {
        if status
            .iter()
            .any(|s| s.version == migration.version && s.applied_at.is_some())
        {
            continue;
        }
        let mut tx = sqlx::Connection::begin_with(&mut *conn, begin).await?;
        // Another process may have applied it since we looked (SQLite).
        let done: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
                .bind(migration.version)
                .fetch_one(&mut *tx)
                .await?;
        if done > 0 {
            continue;
        }
        let sql = migration.sql(backend);
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
            StoreError::Migration(format!(
                "migration {} ({}) failed: {e}",
                migration.version, migration.name
            ))
        })?;
        sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at, compatible_with_previous) VALUES ($1, $2, $3, $4, $5)")
            .bind(migration.version)
            .bind(migration.name)
            .bind(checksum(sql))
            .bind(now_ms())
            .bind(i64::from(COMPATIBLE_WITH_PREVIOUS.contains(&migration.version)))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        applied.push(migration.version);
    }
    // Rows written before the marker existed get it too.
    for version in COMPATIBLE_WITH_PREVIOUS {
        sqlx::query("UPDATE schema_migrations SET compatible_with_previous = 1 WHERE version = $1")
            .bind(version)
            .execute(&mut *conn)
            .await?;
    }
    Ok(applied)
}

impl Store {
    /// The status of every known and every applied migration, by version.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let mut conn = self.conn().await?;
        status_on(&mut conn, self.backend).await
    }

    /// Whether every known migration is applied unmodified and none is unknown.
    pub async fn migrations_current(&self) -> Result<bool> {
        Ok(self
            .migration_status()
            .await?
            .iter()
            .all(MigrationStatus::is_current))
    }

    /// Applies the pending migrations in order, each in its own transaction. Returns the
    /// versions applied. Refuses to run over a modified or unknown migration. Concurrent calls,
    /// from this process or others, run one after the other.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let mut conn = self.conn().await?;
        match self.backend {
            Backend::Postgres => {
                // The lock belongs to this connection's session: closing the connection
                // afterwards (or dropping it half-way) releases it, and it never goes back to
                // the pool still holding it.
                conn.close_on_drop();
                // Waiting for another replica's migrations, and a long migration, are not
                // stuck statements.
                sqlx::query("SET statement_timeout = 0")
                    .execute(&mut *conn)
                    .await?;
                sqlx::query("SELECT pg_advisory_lock($1)")
                    .bind(MIGRATION_LOCK)
                    .execute(&mut *conn)
                    .await?;
                migrate_on(&mut conn, self.backend).await
            }
            // Each migration takes the write lock (`BEGIN IMMEDIATE`) and looks again whether
            // another process applied it meanwhile.
            Backend::Sqlite => migrate_on(&mut conn, self.backend).await,
        }
    }
}
