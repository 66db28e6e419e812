//! Versioned schema migrations, one SQL file per version and engine, embedded in the binary.
//!
//! Applied versions are recorded in `schema_migrations` with a checksum of their SQL, so an
//! edited migration is detected instead of silently skipped.

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
];

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
}

impl MigrationStatus {
    pub fn is_current(&self) -> bool {
        self.applied_at.is_some() && !self.modified && !self.unknown
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
    version BIGINT PRIMARY KEY, name TEXT NOT NULL, checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)";

impl Store {
    /// The status of every known and every applied migration, by version.
    pub async fn migration_status(&self) -> Result<Vec<MigrationStatus>> {
        let mut conn = self.conn().await?;
        sqlx::query(CREATE_TABLE).execute(&mut *conn).await?;
        let rows = sqlx::query(
            "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version",
        )
        .fetch_all(&mut *conn)
        .await?;
        let mut applied = Vec::new();
        for row in &rows {
            let version: i64 = col(row, "version")?;
            let name: String = col(row, "name")?;
            let sum: String = col(row, "checksum")?;
            let at: i64 = col(row, "applied_at")?;
            applied.push((version, name, sum, at));
        }
        let mut status: Vec<MigrationStatus> = MIGRATIONS
            .iter()
            .map(|m| {
                let found = applied.iter().find(|a| a.0 == m.version);
                MigrationStatus {
                    version: m.version,
                    name: m.name.to_owned(),
                    applied_at: found.map(|a| a.3),
                    modified: found.is_some_and(|a| a.2 != checksum(m.sql(self.backend))),
                    unknown: false,
                }
            })
            .collect();
        for (version, name, _, at) in applied {
            if !MIGRATIONS.iter().any(|m| m.version == version) {
                status.push(MigrationStatus {
                    version,
                    name,
                    applied_at: Some(at),
                    modified: false,
                    unknown: true,
                });
            }
        }
        status.sort_by_key(|s| s.version);
        Ok(status)
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
    /// versions applied. Refuses to run over a modified or unknown migration.
    pub async fn migrate(&self) -> Result<Vec<i64>> {
        let status = self.migration_status().await?;
        if let Some(bad) = status.iter().find(|s| s.modified) {
            return Err(StoreError::Migration(format!(
                "migration {} ({}) was changed after it was applied",
                bad.version, bad.name
            )));
        }
        if let Some(bad) = status.iter().find(|s| s.unknown) {
            return Err(StoreError::Migration(format!(
                "the database has migration {} ({}), which this binary does not know: it is older than the database",
                bad.version, bad.name
            )));
        }
        let mut applied = Vec::new();
        for migration in MIGRATIONS {
            if status
                .iter()
                .any(|s| s.version == migration.version && s.applied_at.is_some())
            {
                continue;
            }
            let mut tx = self.begin().await?;
            // Another process may have applied it since we looked.
            let done: i64 =
                sqlx::query_scalar("SELECT COUNT(*) FROM schema_migrations WHERE version = $1")
                    .bind(migration.version)
                    .fetch_one(&mut *tx)
                    .await?;
            if done > 0 {
                continue;
            }
            let sql = migration.sql(self.backend);
            sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(|e| {
                StoreError::Migration(format!(
                    "migration {} ({}) failed: {e}",
                    migration.version, migration.name
                ))
            })?;
            sqlx::query("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)")
                .bind(migration.version)
                .bind(migration.name)
                .bind(checksum(sql))
                .bind(now_ms())
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            applied.push(migration.version);
        }
        Ok(applied)
    }
}
