//! Periodic work, once a day: the refresh of every active field (the current and previous week
//! are processed again, as new scenes arrive every few days), the deletion of finished jobs
//! older than `job_history`, the members' daily e-mail digests of signals (from
//! `email_digest_at`, UTC), and the storage sweep: the removal of raster files no row names
//! (orphans, past a grace period) and, when a retention age is configured, of older field-week
//! COGs. However many workers run, one schedules
//! each task: they compete for a lease in the database.

use std::time::Duration;

use tokio::sync::watch;
use vivacampo_store::Store;

/// Name of the daily refresh's lease.
pub const DAILY_REFRESH: &str = "daily-refresh";

/// Name of the retention sweep's lease.
pub const RETENTION: &str = "retention";

/// Name of the daily e-mail digest's lease.
pub const DAILY_DIGEST: &str = "daily-digest";

/// Name of the purge of old finished jobs and process records.
pub const HISTORY: &str = "history";

/// Process records silent for this long are deleted with the job history.
const PROCESS_HISTORY: Duration = Duration::from_secs(7 * 86_400);

/// How often a worker checks whether the day's tasks are due.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);

/// What the scheduler does besides the daily refresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct Schedule {
    /// Field-week COGs of weeks older than this are removed (statistics stay); `None` keeps them.
    pub raster_retention: Option<Duration>,
    /// Raster files no row names are removed once older than this; `None`:
    /// [`DEFAULT_ORPHAN_GRACE`].
    pub orphan_grace: Option<Duration>,
    /// Finished jobs older than this are deleted (the `job_history` setting); `None` keeps them.
    pub job_history: Option<Duration>,
    /// The day's e-mail digests are enqueued from this time of day, UTC (the `email_digest_at`
    /// setting); zero: at the first check of the day.
    pub digest_at: Duration,
}

/// How old an unnamed raster file must be before the sweep removes it, unless configured: far
/// longer than any job that writes a file and then records it.
pub const DEFAULT_ORPHAN_GRACE: Duration = Duration::from_secs(24 * 3600);

/// Runs until `shutdown` turns true.
pub async fn run(
    store: Store,
    owner: String,
    schedule: Schedule,
    mut shutdown: watch::Receiver<bool>,
) {
    // The first check waits a period: at start-up the new fields' own backfills come first.
    let mut every =
        tokio::time::interval_at(tokio::time::Instant::now() + CHECK_EVERY, CHECK_EVERY);
    loop {
        tokio::select! {
            _ = every.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        if let Err(e) = tick(&store, &owner, schedule).await {
            tracing::warn!(error = %e, "scheduler check failed; will try again");
        }
    }
}

/// What one check did: for each task this worker ran, the jobs it created; `None` when the task
/// was not due or another worker holds it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Ticked {
    pub refresh: Option<usize>,
    pub retention: Option<usize>,
    /// Finished jobs deleted.
    pub purged: Option<u64>,
    /// EMAIL_DIGEST jobs (one per member with signal events waiting).
    pub digests: Option<usize>,
}

/// Enqueues what is due today; exposed for tests, which cannot wait for the timer.
pub async fn tick(
    store: &Store,
    owner: &str,
    schedule: Schedule,
) -> vivacampo_store::Result<Ticked> {
    let now = time::OffsetDateTime::now_utc();
    let today = now.date();
    let since_midnight =
        Duration::from_secs(u64::from(now.hour()) * 3600 + u64::from(now.minute()) * 60);
    let mut ticked = Ticked::default();
    if due(store, DAILY_REFRESH, owner, today).await? {
        let created = store
            .enqueue_daily_refresh(DAILY_REFRESH, owner, &today.to_string())
            .await?;
        tracing::info!(jobs = created, date = %today, "enqueued the daily refresh of every active field");
        ticked.refresh = Some(created);
    }
    if due(store, RETENTION, owner, today).await? {
        let before = schedule
            .raster_retention
            .map(|age| today - time::Duration::days((age.as_secs() / 86_400) as i64));
        let grace = schedule.orphan_grace.unwrap_or(DEFAULT_ORPHAN_GRACE);
        let created = store
            .enqueue_retention(RETENTION, owner, &today.to_string(), before, grace)
            .await?;
        tracing::info!(jobs = created, before = ?before, "enqueued the storage sweep");
        ticked.retention = Some(created);
    }
    if since_midnight >= schedule.digest_at && due(store, DAILY_DIGEST, owner, today).await? {
        let created = store
            .enqueue_daily_digests(DAILY_DIGEST, owner, &today.to_string())
            .await?;
        tracing::info!(jobs = created, "enqueued the daily e-mail digests");
        ticked.digests = Some(created);
    }
    if let Some(age) = schedule.job_history
        && due(store, HISTORY, owner, today).await?
    {
        let purged = store.purge_finished_jobs(age.as_millis() as i64).await?;
        store
            .purge_processes(PROCESS_HISTORY.as_millis() as i64)
            .await?;
        store
            .record_schedule_run(HISTORY, owner, &today.to_string())
            .await?;
        tracing::info!(
            jobs = purged,
            "deleted finished jobs past the job history period"
        );
        ticked.purged = Some(purged);
    }
    Ok(ticked)
}

/// Whether this worker holds the task's lease and the task has not run today.
async fn due(
    store: &Store,
    task: &str,
    owner: &str,
    today: time::Date,
) -> vivacampo_store::Result<bool> {
    // The lease outlives two checks, so the holder keeps it while it is alive.
    let lease_ms = (CHECK_EVERY * 3).as_millis() as i64;
    if !store.acquire_schedule_lease(task, owner, lease_ms).await? {
        return Ok(false);
    }
    let today = today.to_string();
    Ok(store.schedule_last_run(task).await?.as_deref() != Some(today.as_str()))
}
