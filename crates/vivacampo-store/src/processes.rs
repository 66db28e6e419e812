//! The `processes` table: every running process's deploy record (role, version, commit, host,
//! start time) and heartbeat, with a small rolling summary of its own counters, so
//! `vivacampo ops status` sees every replica and every recent deploy without scraping them.

use crate::{Result, Store, col, new_id, now_ms};

/// What a process says about itself when it starts.
#[derive(Debug, Clone)]
pub struct NewProcess<'a> {
    pub role: &'a str,
    pub version: &'a str,
    pub git_commit: &'a str,
    pub host: &'a str,
    pub pid: u32,
}

/// A process as recorded.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessRecord {
    pub id: String,
    pub role: String,
    pub version: String,
    pub git_commit: String,
    pub host: String,
    pub pid: i64,
    pub started_at: i64,
    pub heartbeat_at: i64,
    /// Set when it stopped cleanly.
    pub stopped_at: Option<i64>,
    /// Its last summary of its counters (JSON).
    pub summary: serde_json::Value,
}

/// Most process rows a status read returns.
const MAX_PROCESSES: i64 = 500;

impl Store {
    /// Records a starting process; returns its id.
    pub async fn register_process(&self, new: NewProcess<'_>) -> Result<String> {
        let mut conn = self.conn().await?;
        let id = new_id();
        let now = now_ms();
        sqlx::query(
            "INSERT INTO processes (id, role, version, git_commit, host, pid, started_at, heartbeat_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $7)",
        )
        .bind(&id)
        .bind(new.role)
        .bind(new.version)
        .bind(new.git_commit)
        .bind(new.host)
        .bind(i64::from(new.pid))
        .bind(now)
        .execute(&mut *conn)
        .await?;
        Ok(id)
    }

    /// A process is alive; `summary` replaces its last one.
    pub async fn process_heartbeat(&self, id: &str, summary: &serde_json::Value) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("UPDATE processes SET heartbeat_at = $1, summary = $2 WHERE id = $3")
            .bind(now_ms())
            .bind(summary.to_string())
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// A process stopped cleanly.
    pub async fn process_stopped(&self, id: &str) -> Result<()> {
        let mut conn = self.conn().await?;
        let now = now_ms();
        sqlx::query("UPDATE processes SET heartbeat_at = $1, stopped_at = $1 WHERE id = $2")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Processes seen since `since` (epoch ms), newest start first, at most 500.
    pub async fn processes_since(&self, since: i64) -> Result<Vec<ProcessRecord>> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT id, role, version, git_commit, host, pid, started_at, heartbeat_at, stopped_at, summary
             FROM processes WHERE heartbeat_at >= $1 ORDER BY started_at DESC LIMIT $2",
        )
        .bind(since)
        .bind(MAX_PROCESSES)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let summary: String = col(r, "summary")?;
                Ok(ProcessRecord {
                    id: col(r, "id")?,
                    role: col(r, "role")?,
                    version: col(r, "version")?,
                    git_commit: col(r, "git_commit")?,
                    host: col(r, "host")?,
                    pid: col(r, "pid")?,
                    started_at: col(r, "started_at")?,
                    heartbeat_at: col(r, "heartbeat_at")?,
                    stopped_at: col(r, "stopped_at")?,
                    summary: serde_json::from_str(&summary).unwrap_or_default(),
                })
            })
            .collect()
    }

    /// Deletes the records of processes silent for longer than `older_than_ms`.
    pub async fn purge_processes(&self, older_than_ms: i64) -> Result<u64> {
        let mut conn = self.conn().await?;
        let done = sqlx::query("DELETE FROM processes WHERE heartbeat_at < $1")
            .bind(now_ms() - older_than_ms)
            .execute(&mut *conn)
            .await?;
        Ok(done.rows_affected())
    }
}
