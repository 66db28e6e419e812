//! Figures for `vivacampo ops status`: the database server's connections and slowest
//! statements, jobs running past their timeout, and purging old history. Each is one bounded
//! query.

use vivacampo_core::jobs::JobType;

use crate::{Backend, Result, Store, col, now_ms, parse_col};

/// A statement from `pg_stat_statements`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowStatement {
    pub query: String,
    pub calls: i64,
    pub mean_ms: f64,
}

impl Store {
    /// Connections open on the database server and its limit (PostgreSQL; `None` on SQLite).
    pub async fn server_connections(&self) -> Result<Option<(i64, i64)>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        let used: i64 = sqlx::query_scalar("SELECT CAST(COUNT(*) AS BIGINT) FROM pg_stat_activity")
            .fetch_one(&mut *conn)
            .await?;
        let limit: String =
            sqlx::query_scalar("SELECT setting FROM pg_settings WHERE name = 'max_connections'")
                .fetch_one(&mut *conn)
                .await?;
        Ok(Some((used, limit.parse().unwrap_or(0))))
    }

    /// The `limit` statements with the highest mean time, when `pg_stat_statements` is
    /// installed in this database (`None` otherwise, and on SQLite).
    pub async fn slowest_statements(&self, limit: i64) -> Result<Option<Vec<SlowStatement>>> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut conn = self.conn().await?;
        let installed: i64 = sqlx::query_scalar(
            "SELECT CAST(COUNT(*) AS BIGINT) FROM pg_extension WHERE extname = 'pg_stat_statements'",
        )
        .fetch_one(&mut *conn)
        .await?;
        if installed == 0 {
            return Ok(None);
        }
        let rows = sqlx::query(
            "SELECT LEFT(query, 200) AS query, CAST(calls AS BIGINT) AS calls, CAST(mean_exec_time AS DOUBLE PRECISION) AS mean_ms
             FROM pg_stat_statements ORDER BY mean_exec_time DESC LIMIT $1",
        )
        .bind(limit)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(SlowStatement {
                    query: col(r, "query")?,
                    calls: col(r, "calls")?,
                    mean_ms: col(r, "mean_ms")?,
                })
            })
            .collect::<Result<Vec<_>>>()
            .map(Some)
    }

    /// RUNNING jobs whose attempt has run longer than their timeout, by type.
    pub async fn running_past_timeout(&self) -> Result<Vec<(JobType, i64)>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT job_type, COUNT(*) AS n FROM jobs
             WHERE status = 'RUNNING' AND lease_owner IS NOT NULL AND started_at + timeout_ms < $1
             GROUP BY job_type ORDER BY job_type",
        )
        .bind(now_ms())
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| Ok((parse_col(r, "job_type")?, col(r, "n")?)))
            .collect()
    }

    /// Deletes jobs (and their runs) that finished more than `older_than_ms` ago and that no
    /// unfinished parent still counts. Returns how many jobs went.
    pub async fn purge_finished_jobs(&self, older_than_ms: i64) -> Result<u64> {
        let mut tx = self.begin().await?;
        let cutoff = now_ms() - older_than_ms;
        let finished = "SELECT id FROM jobs j WHERE j.status IN ('SUCCEEDED', 'DEAD', 'CANCELLED')
             AND j.finished_at < $1
             AND NOT EXISTS (SELECT 1 FROM jobs c WHERE c.parent_job_id = j.id)
             AND (j.parent_job_id IS NULL OR NOT EXISTS
                  (SELECT 1 FROM jobs p WHERE p.id = j.parent_job_id AND p.status IN ('PENDING', 'RUNNING', 'FAILED')))";
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM job_runs WHERE job_id IN ({finished})"
        )))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        let done = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM jobs WHERE id IN ({finished})"
        )))
        .bind(cutoff)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(done.rows_affected())
    }

    /// Records that task `name` ran on `date` (YYYY-MM-DD), for tasks that enqueue nothing.
    pub async fn record_schedule_run(&self, name: &str, owner: &str, date: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query(
            "UPDATE scheduler_leases SET last_run_date = $1 WHERE name = $2 AND owner = $3",
        )
        .bind(date)
        .bind(name)
        .bind(owner)
        .execute(&mut *conn)
        .await?;
        Ok(())
    }
}
