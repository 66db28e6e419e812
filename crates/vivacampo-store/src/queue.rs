//! The durable job queue, in the `jobs` table of the same database as the data it works on.
//!
//! - **Enqueue** happens inside the transaction of the change that causes it.
//! - **Idempotency**: a key is unique per tenant among jobs still in play (PENDING, RUNNING,
//!   FAILED); enqueueing it again returns the existing job.
//! - **Lease**: a worker takes one ready job, marks it RUNNING under its id until
//!   `lease_expires_at`, and renews the lease by heartbeat. PostgreSQL picks with
//!   `FOR UPDATE SKIP LOCKED`, so concurrent workers never take the same job; SQLite serialises
//!   writers (`BEGIN IMMEDIATE`), which gives the same guarantee.
//! - **Fencing**: completing, failing or renewing names the worker and the attempt; a worker
//!   that lost its lease (or whose job was cancelled) changes nothing.
//! - **Failure**: a failed attempt goes to FAILED with `run_after` pushed by exponential backoff,
//!   or to DEAD once `max_attempts` are spent. An expired lease (the worker died) counts as a
//!   failed attempt. Every attempt is a `job_runs` row.
//! - **Parents**: a job that fans out (BACKFILL) stays RUNNING, without a lease, after its own
//!   attempt succeeds, until every child it created has finished (SUCCEEDED, DEAD or
//!   CANCELLED); the last child to finish settles it: SUCCEEDED, or, when some children ended
//!   DEAD, a failed attempt naming them (FAILED with backoff, DEAD once out of attempts). Its
//!   next attempt revives those children ([`Store::revive_children`]). So a job's status and
//!   its `done/total` progress never disagree. Statements that change a parent lock its row
//!   first: on PostgreSQL (read committed) each later statement then sees every child that
//!   finished before, so two children finishing at once cannot both miss the last count.
//! - **Dead letters notify**: a job that ends DEAD becomes, in the same transaction, a `NOTIFY`
//!   job with event `job.dead` when its tenant has a webhook subscribed to it (the notification
//!   jobs themselves excepted); a `DELIVER_WEBHOOK` job that ends DEAD marks its delivery DEAD.
//! - **Bulk ends**: whatever ends children in bulk (cancelling their parent, deleting their
//!   field) settles their parents in the same transaction; cancelling a parent cancels its
//!   unfinished children, and a running child stops at its next heartbeat.

use std::time::Duration;

use vivacampo_core::jobs::{JobStatus, JobType, Progress, RetryPolicy};
use vivacampo_core::notify::WebhookEvent;

use crate::{
    Backend, Page, PageRequest, Result, Store, StoreError, col, new_id, now_ms, parse_col,
};

/// A job as users see it.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: String,
    pub tenant_id: String,
    pub aoi_id: Option<String>,
    pub job_type: JobType,
    pub status: JobStatus,
    pub payload: serde_json::Value,
    pub attempts: i64,
    pub max_attempts: i64,
    pub progress: Progress,
    pub last_error: Option<String>,
    pub run_after: i64,
    pub created_at: i64,
    pub started_at: Option<i64>,
    pub finished_at: Option<i64>,
}

/// One attempt of a job.
#[derive(Debug, Clone, PartialEq)]
pub struct JobRun {
    pub attempt: i64,
    pub status: String,
    pub worker_id: String,
    pub started_at: i64,
    pub finished_at: Option<i64>,
    pub error: Option<String>,
    pub metrics: Option<serde_json::Value>,
}

/// A job to enqueue.
#[derive(Debug, Clone)]
pub struct NewJob {
    pub tenant_id: String,
    pub aoi_id: Option<String>,
    pub job_type: JobType,
    /// Jobs with the same key in the same tenant are one job while it is in play.
    pub idempotency_key: Option<String>,
    pub payload: serde_json::Value,
    /// Earliest start; `None` means now.
    pub run_after: Option<i64>,
}

/// Whether an enqueue created a job or found the one holding its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Enqueued {
    pub job: Job,
    pub created: bool,
}

/// A job a worker holds a lease on.
#[derive(Debug, Clone, PartialEq)]
pub struct LeasedJob {
    pub job: Job,
    /// The attempt number this lease is for (1-based).
    pub attempt: i64,
    /// How long the attempt may run.
    pub timeout: Duration,
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseState {
    /// The lease is renewed; carry on.
    Held,
    /// A user cancelled the job: stop.
    Cancelled,
    /// The lease expired and was given away, or the job is gone: stop, write nothing.
    Lost,
}

/// Queue filters for listing.
#[derive(Debug, Clone, Default)]
pub struct JobFilter {
    pub aoi_id: Option<String>,
    pub status: Option<JobStatus>,
    pub job_type: Option<JobType>,
}

/// Queue figures for operators and `/metrics`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct QueueStats {
    /// (type, status, count) for every non-empty combination of PENDING, RUNNING, FAILED, DEAD.
    pub depth: Vec<(JobType, JobStatus, i64)>,
    /// Age in seconds of the oldest job ready to run (PENDING or FAILED past its backoff).
    pub oldest_ready_age_seconds: f64,
}

const JOB_COLUMNS: &str = "id, tenant_id, aoi_id, job_type, status, payload, attempts, max_attempts, progress_done, \
     progress_total, last_error, run_after, created_at, started_at, finished_at";

fn job_from(row: &sqlx::any::AnyRow) -> Result<Job> {
    let payload: String = col(row, "payload")?;
    Ok(Job {
        id: col(row, "id")?,
        tenant_id: col(row, "tenant_id")?,
        aoi_id: col(row, "aoi_id")?,
        job_type: parse_col(row, "job_type")?,
        status: parse_col(row, "status")?,
        payload: serde_json::from_str(&payload)
            .map_err(|e| StoreError::Corrupt(format!("job payload: {e}")))?,
        attempts: col(row, "attempts")?,
        max_attempts: col(row, "max_attempts")?,
        progress: Progress {
            done: col(row, "progress_done")?,
            total: col(row, "progress_total")?,
        },
        last_error: col(row, "last_error")?,
        run_after: col(row, "run_after")?,
        created_at: col(row, "created_at")?,
        started_at: col(row, "started_at")?,
        finished_at: col(row, "finished_at")?,
    })
}

async fn job_by_id(
    conn: &mut sqlx::AnyConnection,
    tenant_id: Option<&str>,
    id: &str,
) -> Result<Job> {
    let row = match tenant_id {
        Some(tenant) => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1 AND tenant_id = $2"
            )))
            .bind(id)
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?
        }
        None => {
            sqlx::query(sqlx::AssertSqlSafe(format!(
                "SELECT {JOB_COLUMNS} FROM jobs WHERE id = $1"
            )))
            .bind(id)
            .fetch_optional(&mut *conn)
            .await?
        }
    };
    job_from(&row.ok_or(StoreError::NotFound)?)
}

/// Enqueues a job inside the caller's transaction (see the module docs on idempotency).
pub(crate) async fn enqueue(conn: &mut sqlx::AnyConnection, new: &NewJob) -> Result<Enqueued> {
    if let Some(key) = &new.idempotency_key {
        let existing = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {JOB_COLUMNS} FROM jobs WHERE tenant_id = $1 AND idempotency_key = $2
             AND status IN ('PENDING', 'RUNNING', 'FAILED')"
        )))
        .bind(&new.tenant_id)
        .bind(key)
        .fetch_optional(&mut *conn)
        .await?;
        if let Some(row) = existing {
            return Ok(Enqueued {
                job: job_from(&row)?,
                created: false,
            });
        }
    }
    let policy = RetryPolicy::for_type(new.job_type);
    let now = now_ms();
    let id = new_id();
    sqlx::query(
        "INSERT INTO jobs (id, tenant_id, aoi_id, job_type, idempotency_key, status, payload, attempts, max_attempts,
                           timeout_ms, run_after, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, 'PENDING', $6, 0, $7, $8, $9, $10, $10)",
    )
    .bind(&id)
    .bind(&new.tenant_id)
    .bind(new.aoi_id.as_deref())
    .bind(new.job_type.as_str())
    .bind(new.idempotency_key.as_deref())
    .bind(new.payload.to_string())
    .bind(i64::from(policy.max_attempts))
    .bind(policy.timeout.as_millis() as i64)
    .bind(new.run_after.unwrap_or(now))
    .bind(now)
    .execute(&mut *conn)
    .await?;
    Ok(Enqueued {
        job: job_by_id(conn, None, &id).await?,
        created: true,
    })
}

impl Store {
    /// Enqueues one job on its own (no other change in the transaction).
    pub async fn enqueue(&self, new: NewJob) -> Result<Enqueued> {
        let mut tx = self.begin().await?;
        let enqueued = enqueue(&mut tx, &new).await?;
        tx.commit().await?;
        Ok(enqueued)
    }

    /// Enqueues the jobs a parent fans out to, links the new ones to it and sets its progress
    /// to (finished children, children). A child whose key is already in play stays with the
    /// job that created it, so two overlapping backfills never steal each other's weeks.
    pub async fn enqueue_children(
        &self,
        parent_id: &str,
        children: &[NewJob],
    ) -> Result<Vec<Enqueued>> {
        let mut tx = self.begin().await?;
        // Lock the parent first: a parent cancelled (or its field deleted) meanwhile, or
        // otherwise finished, gets no children, and a cancel waiting for this lock sees the children once it runs.
        let running =
            sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = $2 AND status IN ('PENDING', 'RUNNING', 'FAILED')")
                .bind(now_ms())
                .bind(parent_id)
                .execute(&mut *tx)
                .await?;
        if running.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(Vec::new());
        }
        let mut enqueued = Vec::with_capacity(children.len());
        for child in children {
            let e = enqueue(&mut tx, child).await?;
            if e.created {
                sqlx::query("UPDATE jobs SET parent_job_id = $1 WHERE id = $2")
                    .bind(parent_id)
                    .bind(&e.job.id)
                    .execute(&mut *tx)
                    .await?;
            }
            enqueued.push(e);
        }
        sqlx::query(
            "UPDATE jobs SET progress_total = (SELECT COUNT(*) FROM jobs c WHERE c.parent_job_id = $1),
                 progress_done = (SELECT COUNT(*) FROM jobs c WHERE c.parent_job_id = $1
                                  AND c.status IN ('SUCCEEDED', 'DEAD', 'CANCELLED')),
                 updated_at = $2
             WHERE id = $1",
        )
        .bind(parent_id)
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(enqueued)
    }

    /// A tenant's job.
    pub async fn job(&self, tenant_id: &str, id: &str) -> Result<Job> {
        let mut conn = self.conn().await?;
        job_by_id(&mut conn, Some(tenant_id), id).await
    }

    /// Any tenant's job (workers and system admins).
    pub async fn job_any_tenant(&self, id: &str) -> Result<Job> {
        let mut conn = self.conn().await?;
        job_by_id(&mut conn, None, id).await
    }

    /// A tenant's jobs (all tenants' when `tenant_id` is `None`), newest first.
    pub async fn list_jobs(
        &self,
        tenant_id: Option<&str>,
        filter: &JobFilter,
        page: PageRequest,
    ) -> Result<Page<Job>> {
        let mut conn = self.conn().await?;
        let mut clauses = Vec::new();
        let mut args: Vec<String> = Vec::new();
        if let Some(t) = tenant_id {
            args.push(t.to_owned());
            clauses.push(format!("tenant_id = ${}", args.len()));
        }
        if let Some(a) = &filter.aoi_id {
            args.push(a.clone());
            clauses.push(format!("aoi_id = ${}", args.len()));
        }
        if let Some(s) = filter.status {
            args.push(s.as_str().to_owned());
            clauses.push(format!("status = ${}", args.len()));
        }
        if let Some(t) = filter.job_type {
            args.push(t.as_str().to_owned());
            clauses.push(format!("job_type = ${}", args.len()));
        }
        let filter_sql = if clauses.is_empty() {
            String::new()
        } else {
            format!("WHERE {}", clauses.join(" AND "))
        };
        let count_sql = format!("SELECT COUNT(*) FROM jobs {filter_sql}");
        let mut count = sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(count_sql));
        for a in &args {
            count = count.bind(a.clone());
        }
        let total = count.fetch_one(&mut *conn).await?;
        let list_sql = format!(
            "SELECT {JOB_COLUMNS} FROM jobs {filter_sql} ORDER BY created_at DESC, id LIMIT ${} OFFSET ${}",
            args.len() + 1,
            args.len() + 2
        );
        let mut list = sqlx::query(sqlx::AssertSqlSafe(list_sql));
        for a in &args {
            list = list.bind(a.clone());
        }
        let rows = list
            .bind(page.limit())
            .bind(page.offset())
            .fetch_all(&mut *conn)
            .await?;
        let items = rows.iter().map(job_from).collect::<Result<Vec<_>>>()?;
        Ok(Page {
            items,
            page: page.page,
            page_size: page.page_size,
            total,
        })
    }

    /// The attempts of a tenant's job, oldest first.
    pub async fn job_runs(&self, tenant_id: &str, id: &str) -> Result<Vec<JobRun>> {
        let mut conn = self.conn().await?;
        job_by_id(&mut conn, Some(tenant_id), id).await?;
        let rows = sqlx::query(
            "SELECT attempt, status, worker_id, started_at, finished_at, error, metrics FROM job_runs
             WHERE job_id = $1 ORDER BY attempt",
        )
        .bind(id)
        .fetch_all(&mut *conn)
        .await?;
        rows.iter()
            .map(|r| {
                let metrics: Option<String> = col(r, "metrics")?;
                Ok(JobRun {
                    attempt: col(r, "attempt")?,
                    status: col(r, "status")?,
                    worker_id: col(r, "worker_id")?,
                    started_at: col(r, "started_at")?,
                    finished_at: col(r, "finished_at")?,
                    error: col(r, "error")?,
                    metrics: metrics.and_then(|m| serde_json::from_str(&m).ok()),
                })
            })
            .collect()
    }

    /// Puts a FAILED, DEAD or CANCELLED job back to PENDING with a fresh set of attempts.
    /// `tenant_id` `None` is the system admin's replay of any tenant's job.
    pub async fn retry_job(&self, tenant_id: Option<&str>, id: &str) -> Result<Job> {
        let mut tx = self.begin().await?;
        let job = job_by_id(&mut tx, tenant_id, id).await?;
        if !job.status.is_retryable() {
            return Err(StoreError::Conflict(format!(
                "a {} job cannot be retried",
                job.status
            )));
        }
        let now = now_ms();
        sqlx::query(
            "UPDATE jobs SET status = 'PENDING', attempts = 0, run_after = $1, lease_owner = NULL,
             lease_expires_at = NULL, finished_at = NULL, updated_at = $1 WHERE id = $2",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await
        .map_err(|e| match StoreError::from(e) {
            StoreError::Conflict(_) => {
                StoreError::Conflict("another job with the same key is already queued".into())
            }
            other => other,
        })?;
        refresh_parent_progress(&mut tx, id).await?;
        let job = job_by_id(&mut tx, None, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Cancels a PENDING, RUNNING or FAILED job and its unfinished children. A running attempt
    /// notices at its next heartbeat.
    pub async fn cancel_job(&self, tenant_id: &str, id: &str) -> Result<Job> {
        let mut tx = self.begin().await?;
        let job = job_by_id(&mut tx, Some(tenant_id), id).await?;
        if !job.status.is_cancellable() {
            return Err(StoreError::Conflict(format!(
                "a {} job cannot be cancelled",
                job.status
            )));
        }
        // Children before the job itself, the order a finishing child locks them in. The
        // second pass sees children a fan-out committed while this waited for the job's row.
        let mut ids = Vec::new();
        for statement in [CANCEL_CHILDREN, CANCEL_ONE, CANCEL_CHILDREN] {
            ids.extend(
                sqlx::query_scalar::<_, String>(statement)
                    .bind(now_ms())
                    .bind(id)
                    .fetch_all(&mut *tx)
                    .await?,
            );
        }
        close_cancelled_runs(&mut tx, &ids).await?;
        refresh_parent_progress(&mut tx, id).await?;
        settle_parent(&mut tx, id).await?;
        let job = job_by_id(&mut tx, None, id).await?;
        tx.commit().await?;
        Ok(job)
    }

    /// Puts the children of `parent_id` that ended DEAD or CANCELLED back to PENDING with a
    /// fresh set of attempts (a parent's retry). A child whose key another job has taken
    /// meanwhile is left to that job and no longer counts for this parent. Returns `None` when
    /// the parent has no children yet (its first fan-out is still to do), else how many it
    /// revived.
    pub async fn revive_children(&self, parent_id: &str) -> Result<Option<u64>> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        sqlx::query("UPDATE jobs SET updated_at = $1 WHERE id = $2")
            .bind(now)
            .bind(parent_id)
            .execute(&mut *tx)
            .await?;
        let children: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE parent_job_id = $1")
                .bind(parent_id)
                .fetch_one(&mut *tx)
                .await?;
        if children == 0 {
            tx.commit().await?;
            return Ok(None);
        }
        let revived = sqlx::query(
            "UPDATE jobs SET status = 'PENDING', attempts = 0, run_after = $1, lease_owner = NULL,
                 lease_expires_at = NULL, finished_at = NULL, updated_at = $1
             WHERE parent_job_id = $2 AND status IN ('DEAD', 'CANCELLED')
               AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.tenant_id = jobs.tenant_id
                               AND o.idempotency_key = jobs.idempotency_key AND o.id <> jobs.id
                               AND o.status IN ('PENDING', 'RUNNING', 'FAILED'))",
        )
        .bind(now)
        .bind(parent_id)
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "UPDATE jobs SET parent_job_id = NULL WHERE parent_job_id = $1 AND status IN ('DEAD', 'CANCELLED')",
        )
        .bind(parent_id)
        .execute(&mut *tx)
        .await?;
        count_children(&mut tx, parent_id).await?;
        tx.commit().await?;
        Ok(Some(revived.rows_affected()))
    }

    /// Fails the attempts whose lease expired (their worker died or hung): FAILED with backoff,
    /// or DEAD when out of attempts. Returns how many were reclaimed.
    pub async fn reclaim_expired_leases(&self) -> Result<u64> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let rows = sqlx::query(
            "SELECT id, job_type, attempts, max_attempts FROM jobs WHERE status = 'RUNNING' AND lease_expires_at < $1",
        )
        .bind(now)
        .fetch_all(&mut *tx)
        .await?;
        for row in &rows {
            let id: String = col(row, "id")?;
            let job_type: JobType = parse_col(row, "job_type")?;
            let attempts: i64 = col(row, "attempts")?;
            let max_attempts: i64 = col(row, "max_attempts")?;
            let error = format!("attempt {attempts}: lease expired, the worker stopped responding");
            finish_attempt(
                &mut tx,
                &id,
                attempts,
                job_type,
                max_attempts,
                Some(&error),
                "LOST",
            )
            .await?;
        }
        tx.commit().await?;
        Ok(rows.len() as u64)
    }

    /// Leases the next ready job to `worker_id` for `lease`, or returns `None` if none is ready.
    pub async fn lease_job(&self, worker_id: &str, lease: Duration) -> Result<Option<LeasedJob>> {
        self.lease_job_timed(worker_id, lease, None).await
    }

    /// [`Store::lease_job`], the attempt limited to `timeout` instead of its job type's own
    /// limit when given. The limit is recorded on the job, so `ops status` judges a running
    /// job by the limit in force.
    pub async fn lease_job_timed(
        &self,
        worker_id: &str,
        lease: Duration,
        timeout: Option<Duration>,
    ) -> Result<Option<LeasedJob>> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        // Job types whose feature flag is off stay where they are (see `flags`).
        let lock = match self.backend {
            Backend::Postgres => " FOR UPDATE SKIP LOCKED",
            Backend::Sqlite => "",
        };
        let pick = format!(
            "SELECT id FROM jobs WHERE status IN ('PENDING', 'FAILED') AND run_after <= $1 AND {}
             ORDER BY run_after, created_at LIMIT 1{lock}",
            crate::flags::job_flag_gate()
        );
        let Some(id) = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(pick))
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?
        else {
            tx.commit().await?;
            return Ok(None);
        };
        let set_timeout = match timeout {
            Some(_) => ", timeout_ms = $5",
            None => "",
        };
        let mut start = sqlx::query(sqlx::AssertSqlSafe(format!(
            "UPDATE jobs SET status = 'RUNNING', attempts = attempts + 1, lease_owner = $1, lease_expires_at = $2,
             started_at = $3, finished_at = NULL, updated_at = $3{set_timeout} WHERE id = $4"
        )))
        .bind(worker_id)
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(&id);
        if let Some(limit) = timeout {
            start = start.bind(limit.as_millis() as i64);
        }
        start.execute(&mut *tx).await?;
        let job = job_by_id(&mut tx, None, &id).await?;
        let timeout_ms: i64 = sqlx::query_scalar("SELECT timeout_ms FROM jobs WHERE id = $1")
            .bind(&id)
            .fetch_one(&mut *tx)
            .await?;
        // A retried job starts its attempts again from 1: replace the old rows of those numbers.
        sqlx::query("DELETE FROM job_runs WHERE job_id = $1 AND attempt >= $2")
            .bind(&id)
            .bind(job.attempts)
            .execute(&mut *tx)
            .await?;
        sqlx::query("INSERT INTO job_runs (job_id, attempt, status, worker_id, started_at) VALUES ($1, $2, 'RUNNING', $3, $4)")
            .bind(&id)
            .bind(job.attempts)
            .bind(worker_id)
            .bind(now)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(Some(LeasedJob {
            attempt: job.attempts,
            timeout: Duration::from_millis(timeout_ms.max(0) as u64),
            job,
        }))
    }

    /// Renews a lease and tells the worker whether to carry on.
    pub async fn heartbeat(
        &self,
        job_id: &str,
        worker_id: &str,
        attempt: i64,
        lease: Duration,
    ) -> Result<LeaseState> {
        let mut conn = self.conn().await?;
        let now = now_ms();
        let renewed = sqlx::query(
            "UPDATE jobs SET lease_expires_at = $1, updated_at = $2
             WHERE id = $3 AND status = 'RUNNING' AND lease_owner = $4 AND attempts = $5",
        )
        .bind(now + lease.as_millis() as i64)
        .bind(now)
        .bind(job_id)
        .bind(worker_id)
        .bind(attempt)
        .execute(&mut *conn)
        .await?;
        if renewed.rows_affected() == 1 {
            return Ok(LeaseState::Held);
        }
        let status: Option<String> = sqlx::query_scalar("SELECT status FROM jobs WHERE id = $1")
            .bind(job_id)
            .fetch_optional(&mut *conn)
            .await?;
        Ok(match status.as_deref() {
            Some("CANCELLED") => LeaseState::Cancelled,
            _ => LeaseState::Lost,
        })
    }

    /// Records progress of a running job.
    pub async fn set_job_progress(&self, job_id: &str, progress: Progress) -> Result<()> {
        let mut conn = self.conn().await?;
        sqlx::query("UPDATE jobs SET progress_done = $1, progress_total = $2, updated_at = $3 WHERE id = $4")
            .bind(progress.done)
            .bind(progress.total)
            .bind(now_ms())
            .bind(job_id)
            .execute(&mut *conn)
            .await?;
        Ok(())
    }

    /// Marks an attempt successful. Returns false (and changes nothing) if the lease was lost.
    pub async fn complete_job(
        &self,
        job_id: &str,
        worker_id: &str,
        attempt: i64,
        metrics: serde_json::Value,
    ) -> Result<bool> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'SUCCEEDED', lease_owner = NULL, lease_expires_at = NULL, finished_at = $1,
             last_error = NULL, updated_at = $1 WHERE id = $2 AND status = 'RUNNING' AND lease_owner = $3 AND attempts = $4",
        )
        .bind(now)
        .bind(job_id)
        .bind(worker_id)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            tx.commit().await?;
            return Ok(false);
        }
        // A parent waits for its children, without a lease. The UPDATE above holds this job's
        // row, so settling it sees every child whose finish was committed; a child finishing
        // now waits for the row and then settles the parent.
        sqlx::query(
            "UPDATE jobs SET status = 'RUNNING', finished_at = NULL WHERE id = $1 AND EXISTS
             (SELECT 1 FROM jobs c WHERE c.parent_job_id = $1)",
        )
        .bind(job_id)
        .execute(&mut *tx)
        .await?;
        settle_parent(&mut tx, job_id).await?;
        refresh_parent_progress(&mut tx, job_id).await?;
        sqlx::query("UPDATE job_runs SET status = 'SUCCEEDED', finished_at = $1, metrics = $2 WHERE job_id = $3 AND attempt = $4")
            .bind(now)
            .bind(metrics.to_string())
            .bind(job_id)
            .bind(attempt)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Marks an attempt failed: FAILED with backoff, or DEAD when out of attempts. Returns the
    /// new status, or `None` (and changes nothing) if the lease was lost.
    pub async fn fail_job(
        &self,
        job_id: &str,
        worker_id: &str,
        attempt: i64,
        error: &str,
    ) -> Result<Option<JobStatus>> {
        let mut tx = self.begin().await?;
        let row = sqlx::query(
            "SELECT job_type, max_attempts FROM jobs WHERE id = $1 AND status = 'RUNNING' AND lease_owner = $2 AND attempts = $3",
        )
        .bind(job_id)
        .bind(worker_id)
        .bind(attempt)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            tx.commit().await?;
            return Ok(None);
        };
        let job_type: JobType = parse_col(&row, "job_type")?;
        let max_attempts: i64 = col(&row, "max_attempts")?;
        let status = finish_attempt(
            &mut tx,
            job_id,
            attempt,
            job_type,
            max_attempts,
            Some(error),
            "FAILED",
        )
        .await?;
        tx.commit().await?;
        Ok(Some(status))
    }

    /// Gives a running job back without counting the attempt (graceful shutdown).
    pub async fn release_job(&self, job_id: &str, worker_id: &str, attempt: i64) -> Result<bool> {
        let mut tx = self.begin().await?;
        let now = now_ms();
        let done = sqlx::query(
            "UPDATE jobs SET status = 'PENDING', attempts = attempts - 1, lease_owner = NULL, lease_expires_at = NULL,
             run_after = $1, updated_at = $1 WHERE id = $2 AND status = 'RUNNING' AND lease_owner = $3 AND attempts = $4",
        )
        .bind(now)
        .bind(job_id)
        .bind(worker_id)
        .bind(attempt)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 1 {
            sqlx::query("DELETE FROM job_runs WHERE job_id = $1 AND attempt = $2")
                .bind(job_id)
                .bind(attempt)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(done.rows_affected() == 1)
    }

    /// Depth by type and status of the jobs alerts watch (PENDING, RUNNING, FAILED, DEAD), and
    /// the age of the oldest ready job. Bounded: finished history (SUCCEEDED, CANCELLED), most of
    /// the table, is never read; the index on `(status, job_type)` (migration 0014) answers the
    /// counts from the index alone on PostgreSQL.
    pub async fn queue_stats(&self) -> Result<QueueStats> {
        let mut conn = self.conn().await?;
        let rows = sqlx::query(
            "SELECT job_type, status, COUNT(*) AS n FROM jobs
             WHERE status IN ('PENDING', 'RUNNING', 'FAILED', 'DEAD')
             GROUP BY job_type, status ORDER BY job_type, status",
        )
        .fetch_all(&mut *conn)
        .await?;
        let depth = rows
            .iter()
            .map(|r| {
                Ok((
                    parse_col(r, "job_type")?,
                    parse_col(r, "status")?,
                    col(r, "n")?,
                ))
            })
            .collect::<Result<Vec<_>>>()?;
        let now = now_ms();
        let oldest: Option<i64> =
            sqlx::query_scalar("SELECT MIN(run_after) FROM jobs WHERE status IN ('PENDING', 'FAILED') AND run_after <= $1")
                .bind(now)
                .fetch_one(&mut *conn)
                .await?;
        Ok(QueueStats {
            depth,
            oldest_ready_age_seconds: oldest
                .map(|t| (now - t).max(0) as f64 / 1000.0)
                .unwrap_or(0.0),
        })
    }
}

impl Store {
    /// How many jobs are in `status` (tests and benches wait on SUCCEEDED with it).
    pub async fn count_jobs_with_status(&self, status: JobStatus) -> Result<i64> {
        let mut conn = self.conn().await?;
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM jobs WHERE status = $1")
            .bind(status.as_str())
            .fetch_one(&mut *conn)
            .await?;
        Ok(n)
    }
}

const CANCEL_ONE: &str = "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, updated_at = $1
     WHERE id = $2 AND status IN ('PENDING', 'RUNNING', 'FAILED') RETURNING id";
const CANCEL_CHILDREN: &str =
    "UPDATE jobs SET status = 'CANCELLED', finished_at = $1, updated_at = $1
     WHERE parent_job_id = $2 AND status IN ('PENDING', 'RUNNING', 'FAILED') RETURNING id";

/// Closes the open runs of jobs just cancelled.
pub(crate) async fn close_cancelled_runs(
    conn: &mut sqlx::AnyConnection,
    job_ids: &[String],
) -> Result<()> {
    let now = now_ms();
    for id in job_ids {
        sqlx::query("UPDATE job_runs SET status = 'CANCELLED', finished_at = $1 WHERE job_id = $2 AND finished_at IS NULL")
            .bind(now)
            .bind(id)
            .execute(&mut *conn)
            .await?;
    }
    Ok(())
}

/// Settles the parent of `child_id`, if it has one (see [`settle_parent`]).
pub(crate) async fn refresh_parent_progress(
    conn: &mut sqlx::AnyConnection,
    child_id: &str,
) -> Result<()> {
    let Some(parent_id) =
        sqlx::query_scalar::<_, Option<String>>("SELECT parent_job_id FROM jobs WHERE id = $1")
            .bind(child_id)
            .fetch_optional(&mut *conn)
            .await?
            .flatten()
    else {
        return Ok(());
    };
    settle_parent(conn, &parent_id).await
}

/// Counts (children, finished children, dead children) of `parent_id` into its progress.
async fn count_children(
    conn: &mut sqlx::AnyConnection,
    parent_id: &str,
) -> Result<(i64, i64, i64)> {
    let counts = sqlx::query(
        "SELECT COUNT(*) AS total,
                COALESCE(SUM(CASE WHEN status IN ('SUCCEEDED', 'DEAD', 'CANCELLED') THEN 1 ELSE 0 END), 0) AS finished,
                COALESCE(SUM(CASE WHEN status = 'DEAD' THEN 1 ELSE 0 END), 0) AS dead
         FROM jobs WHERE parent_job_id = $1",
    )
    .bind(parent_id)
    .fetch_one(&mut *conn)
    .await?;
    let total: i64 = col(&counts, "total")?;
    let finished: i64 = col(&counts, "finished")?;
    let dead: i64 = col(&counts, "dead")?;
    if total > 0 {
        sqlx::query("UPDATE jobs SET progress_done = $1, progress_total = $2 WHERE id = $3")
            .bind(finished)
            .bind(total)
            .bind(parent_id)
            .execute(&mut *conn)
            .await?;
    }
    Ok((total, finished, dead))
}

/// Names of dead children shown in their parent's error, at most.
const DEAD_NAMED: usize = 10;

/// The sentence a parent's error gives for its dead children: "2 of 8 weeks ended DEAD:
/// 2026-W10, 2026-W11". A child is named by its ISO week, or by its job id, in order.
async fn dead_children_error(
    conn: &mut sqlx::AnyConnection,
    parent_id: &str,
    dead: i64,
    total: i64,
) -> Result<String> {
    let rows = sqlx::query(
        "SELECT id, job_type, payload FROM jobs WHERE parent_job_id = $1 AND status = 'DEAD'
         ORDER BY created_at, id",
    )
    .bind(parent_id)
    .fetch_all(&mut *conn)
    .await?;
    let mut weeks = true;
    let mut names = Vec::new();
    for row in &rows {
        let payload: String = col(row, "payload")?;
        let payload: serde_json::Value = serde_json::from_str(&payload).unwrap_or_default();
        match (payload["year"].as_i64(), payload["week"].as_i64()) {
            (Some(year), Some(week)) => names.push(format!("{year}-W{week:02}")),
            _ => {
                weeks = false;
                names.push(col::<String>(row, "id")?);
            }
        }
    }
    names.sort();
    let noun = if weeks { "weeks" } else { "child jobs" };
    let more = names.len().saturating_sub(DEAD_NAMED);
    names.truncate(DEAD_NAMED);
    let mut text = format!("{dead} of {total} {noun} ended DEAD: {}", names.join(", "));
    if more > 0 {
        text.push_str(&format!(" and {more} more"));
    }
    Ok(text)
}

/// Recounts the children of `parent_id` into its progress and, when it was only waiting for
/// them (RUNNING without a lease) and the last one has finished, settles it: SUCCEEDED, or, if
/// some ended DEAD, a failed attempt that names them (FAILED with backoff, its retry revives
/// them; DEAD once the parent is out of attempts).
pub(crate) async fn settle_parent(conn: &mut sqlx::AnyConnection, parent_id: &str) -> Result<()> {
    let now = now_ms();
    // Lock the parent's row before counting (see the module docs).
    let parent = sqlx::query(
        "UPDATE jobs SET updated_at = $1 WHERE id = $2
         RETURNING status, lease_owner, attempts, max_attempts, job_type",
    )
    .bind(now)
    .bind(parent_id)
    .fetch_optional(&mut *conn)
    .await?;
    let Some(parent) = parent else {
        return Ok(());
    };
    let (total, finished, dead) = count_children(conn, parent_id).await?;
    let waiting = col::<String>(&parent, "status")? == "RUNNING"
        && col::<Option<String>>(&parent, "lease_owner")?.is_none();
    if total == 0 || finished < total || !waiting {
        return Ok(());
    }
    if dead == 0 {
        sqlx::query(
            "UPDATE jobs SET status = 'SUCCEEDED', finished_at = $1, last_error = NULL WHERE id = $2",
        )
        .bind(now)
        .bind(parent_id)
        .execute(&mut *conn)
        .await?;
        return Ok(());
    }
    let error = dead_children_error(conn, parent_id, dead, total).await?;
    let attempts: i64 = col(&parent, "attempts")?;
    let max_attempts: i64 = col(&parent, "max_attempts")?;
    let job_type: JobType = parse_col(&parent, "job_type")?;
    let status = if attempts >= max_attempts {
        JobStatus::Dead
    } else {
        JobStatus::Failed
    };
    let policy = RetryPolicy::for_type(job_type);
    let run_after = now + policy.backoff_after(attempts.max(1) as u32).as_millis() as i64;
    sqlx::query(
        "UPDATE jobs SET status = $1, last_error = $2, run_after = $3, finished_at = $4 WHERE id = $5",
    )
    .bind(status.as_str())
    .bind(&error)
    .bind(run_after)
    .bind((status == JobStatus::Dead).then_some(now))
    .bind(parent_id)
    .execute(&mut *conn)
    .await?;
    if status == JobStatus::Dead {
        job_ended_dead(conn, parent_id).await?;
    }
    Ok(())
}

/// Ends an attempt as failed (`run_status` FAILED or LOST): the job goes to FAILED with backoff,
/// or DEAD when `attempt` was the last one.
async fn finish_attempt(
    conn: &mut sqlx::AnyConnection,
    job_id: &str,
    attempt: i64,
    job_type: JobType,
    max_attempts: i64,
    error: Option<&str>,
    run_status: &str,
) -> Result<JobStatus> {
    let now = now_ms();
    let policy = RetryPolicy::for_type(job_type);
    let status = if attempt >= max_attempts {
        JobStatus::Dead
    } else {
        JobStatus::Failed
    };
    let run_after = now + policy.backoff_after(attempt.max(1) as u32).as_millis() as i64;
    let finished_at = (status == JobStatus::Dead).then_some(now);
    sqlx::query(
        "UPDATE jobs SET status = $1, last_error = $2, run_after = $3, lease_owner = NULL, lease_expires_at = NULL,
         finished_at = $4, updated_at = $5 WHERE id = $6",
    )
    .bind(status.as_str())
    .bind(error)
    .bind(run_after)
    .bind(finished_at)
    .bind(now)
    .bind(job_id)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE job_runs SET status = $1, finished_at = $2, error = $3 WHERE job_id = $4 AND attempt = $5")
        .bind(run_status)
        .bind(now)
        .bind(error)
        .bind(job_id)
        .bind(attempt)
        .execute(&mut *conn)
        .await?;
    if status == JobStatus::Dead {
        refresh_parent_progress(conn, job_id).await?;
        job_ended_dead(conn, job_id).await?;
    }
    Ok(status)
}

/// What a job's end as DEAD sets off, in the transaction that ends it: a webhook delivery's
/// row turns DEAD; any other job but the notification ones (no loops) becomes a `job.dead`
/// event for the tenant's webhooks subscribed to it.
pub(crate) async fn job_ended_dead(conn: &mut sqlx::AnyConnection, job_id: &str) -> Result<()> {
    let job = job_by_id(conn, None, job_id).await?;
    match job.job_type {
        JobType::DeliverWebhook => {
            crate::notifications::delivery_job_dead(conn, &job.tenant_id, &job.payload).await
        }
        JobType::Notify | JobType::SendEmail | JobType::EmailDigest => Ok(()),
        _ => {
            if !crate::notifications::has_subscriber(conn, &job.tenant_id, WebhookEvent::JobDead)
                .await?
            {
                return Ok(());
            }
            let data = serde_json::json!({
                "job_id": job.id,
                "type": job.job_type,
                "aoi_id": job.aoi_id,
                "attempts": job.attempts,
                "last_error": job.last_error,
            });
            let payload = serde_json::json!({
                "tenant_id": job.tenant_id, "event": WebhookEvent::JobDead, "data": data,
            });
            enqueue(
                conn,
                &NewJob {
                    tenant_id: job.tenant_id.clone(),
                    aoi_id: None,
                    job_type: JobType::Notify,
                    idempotency_key: Some(format!("JOB_DEAD:{}:{}", job.id, job.attempts)),
                    payload,
                    run_after: None,
                },
            )
            .await?;
            Ok(())
        }
    }
}
