//! Periodic work, once a day: the refresh of every active field (the current and previous week
//! are processed again, as new scenes arrive every few days) and, when a retention age is
//! configured, the removal of older field-week COGs. However many workers run, one schedules
//! each task: they compete for a lease in the database.

use std::time::Duration;

use tokio::sync::watch;
use vivacampo_store::Store;

/// Name of the daily refresh's lease.
pub const DAILY_REFRESH: &str = "daily-refresh";

/// Name of the retention sweep's lease.
pub const RETENTION: &str = "retention";

/// How often a worker checks whether the day's tasks are due.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);

/// What the scheduler does besides the daily refresh.
#[derive(Debug, Clone, Copy, Default)]
pub struct Schedule {
    /// Field-week COGs of weeks older than this are removed (statistics stay); `None` keeps them.
    pub raster_retention: Option<Duration>,
}

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
}

/// Enqueues what is due today; exposed for tests, which cannot wait for the timer.
pub async fn tick(
    store: &Store,
    owner: &str,
    schedule: Schedule,
) -> vivacampo_store::Result<Ticked> {
    let today = time::OffsetDateTime::now_utc().date();
    let mut ticked = Ticked::default();
    if due(store, DAILY_REFRESH, owner, today).await? {
        let created = store
            .enqueue_daily_refresh(DAILY_REFRESH, owner, &today.to_string())
            .await?;
        tracing::info!(jobs = created, date = %today, "enqueued the daily refresh of every active field");
        ticked.refresh = Some(created);
    }
    if let Some(age) = schedule.raster_retention
        && due(store, RETENTION, owner, today).await?
    {
        let days = (age.as_secs() / 86_400) as i64;
        let before = today - time::Duration::days(days);
        let created = store
            .enqueue_retention(RETENTION, owner, &today.to_string(), before)
            .await?;
        tracing::info!(jobs = created, before = %before, "enqueued the retention sweep");
        ticked.retention = Some(created);
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
