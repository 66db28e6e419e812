//! Periodic work that exactly one worker does, however many run: a named lease in the database,
//! and the date the task last ran.

use sqlx::{Any, Transaction};
use vivacampo_core::jobs::JobType;

use crate::queue::{self, NewJob};
use crate::{Result, Store, col, now_ms};

impl Store {
    /// Takes or renews the lease of task `name` for `owner`; false if another worker holds it.
    pub async fn acquire_schedule_lease(
        &self,
        name: &str,
        owner: &str,
        lease_ms: i64,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query(
            "INSERT INTO scheduler_leases (name, owner, lease_expires_at) VALUES ($1, NULL, 0)
             ON CONFLICT (name) DO NOTHING",
        )
        .bind(name)
        .execute(&mut *tx)
        .await?;
        let taken = sqlx::query(
            "UPDATE scheduler_leases SET owner = $1, lease_expires_at = $2
             WHERE name = $3 AND (owner = $1 OR owner IS NULL OR lease_expires_at < $4)",
        )
        .bind(owner)
        .bind(now + lease_ms)
        .bind(name)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(taken.rows_affected() == 1)
    }

    /// The date (YYYY-MM-DD) task `name` last ran, if ever.
    pub async fn schedule_last_run(&self, name: &str) -> Result<Option<String>> {
        let mut conn = self.conn().await?;
        let row = sqlx::query("SELECT last_run_date FROM scheduler_leases WHERE name = $1")
            .bind(name)
            .fetch_optional(&mut *conn)
            .await?;
        match row {
            Some(r) => col(&r, "last_run_date"),
            None => Ok(None),
        }
    }

    /// The daily refresh: a BACKFILL of the current and previous week for every active field of
    /// every active tenant, keyed by date so a second run the same day adds nothing. Records the
    /// date and returns how many jobs it created.
    pub async fn enqueue_daily_refresh(
        &self,
        name: &str,
        owner: &str,
        date: &str,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let fields = sqlx::query(
            "SELECT a.id, a.tenant_id FROM aois a JOIN tenants t ON t.id = a.tenant_id
             WHERE a.status = 'ACTIVE' AND t.status = 'ACTIVE'",
        )
        .fetch_all(&mut *tx)
        .await?;
        let mut jobs = Vec::with_capacity(fields.len());
        for row in &fields {
            let aoi_id: String = col(row, "id")?;
            let tenant_id: String = col(row, "tenant_id")?;
            let job = NewJob {
                tenant_id,
                aoi_id: Some(aoi_id.clone()),
                job_type: JobType::Backfill,
                idempotency_key: Some(format!("DAILY:{aoi_id}:{date}")),
                payload: serde_json::json!({"aoi_id": aoi_id, "weeks": 2, "reason": "daily refresh"}),
                run_after: None,
            };
            jobs.push(job);
        }
        record_run(tx, name, owner, date, &jobs).await
    }

    /// The retention sweep: one RETENTION job per active tenant, keyed by date, removing the
    /// field-week COGs of weeks before `before` (when a retention age is set) and the objects
    /// no row names once older than `orphan_grace`. Records the date and returns how many jobs
    /// it created.
    pub async fn enqueue_retention(
        &self,
        name: &str,
        owner: &str,
        date: &str,
        before: Option<time::Date>,
        orphan_grace: std::time::Duration,
    ) -> Result<usize> {
        let mut tx = self.begin().await?;
        let tenants = sqlx::query("SELECT id FROM tenants WHERE status = 'ACTIVE'")
            .fetch_all(&mut *tx)
            .await?;
        let mut jobs = Vec::with_capacity(tenants.len());
        for row in &tenants {
            let tenant_id: String = col(row, "id")?;
            let job = NewJob {
                idempotency_key: Some(format!("RETENTION:{tenant_id}:{date}")),
                tenant_id,
                aoi_id: None,
                job_type: JobType::Retention,
                payload: match before {
                    Some(before) => serde_json::json!({"before": before.to_string(),
                                                       "orphan_grace_s": orphan_grace.as_secs()}),
                    None => serde_json::json!({"orphan_grace_s": orphan_grace.as_secs()}),
                },
                run_after: None,
            };
            jobs.push(job);
        }
        record_run(tx, name, owner, date, &jobs).await
    }
}

/// Enqueues a scheduled task's jobs (idempotency keys make a second run the same day add
/// nothing), records the date it ran, and commits. Returns how many jobs were created.
pub(crate) async fn record_run(
    mut tx: Transaction<'static, Any>,
    name: &str,
    owner: &str,
    date: &str,
    jobs: &[NewJob],
) -> Result<usize> {
    let mut created = 0;
    for job in jobs {
        created += usize::from(queue::enqueue(&mut tx, job).await?.created);
    }
    sqlx::query("UPDATE scheduler_leases SET last_run_date = $1 WHERE name = $2 AND owner = $3")
        .bind(date)
        .bind(name)
        .bind(owner)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(created)
}
