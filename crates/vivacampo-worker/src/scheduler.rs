//! The daily refresh: once a day, the current and previous week of every active field are
//! processed again (new scenes arrive every few days). However many workers run, one schedules:
//! they compete for a lease in the database.

use std::time::Duration;

use tokio::sync::watch;
use vivacampo_store::Store;

/// Name of the task's lease.
pub const DAILY_REFRESH: &str = "daily-refresh";

/// How often a worker checks whether the day's refresh is due.
pub const CHECK_EVERY: Duration = Duration::from_secs(300);

/// Runs until `shutdown` turns true.
pub async fn run(store: Store, owner: String, mut shutdown: watch::Receiver<bool>) {
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
        if let Err(e) = tick(&store, &owner).await {
            tracing::warn!(error = %e, "daily refresh check failed; will try again");
        }
    }
}

async fn tick(store: &Store, owner: &str) -> vivacampo_store::Result<()> {
    // The lease outlives two checks, so the holder keeps it while it is alive.
    let lease_ms = (CHECK_EVERY * 3).as_millis() as i64;
    if !store
        .acquire_schedule_lease(DAILY_REFRESH, owner, lease_ms)
        .await?
    {
        return Ok(());
    }
    let today = time::OffsetDateTime::now_utc().date().to_string();
    if store.schedule_last_run(DAILY_REFRESH).await?.as_deref() == Some(today.as_str()) {
        return Ok(());
    }
    let created = store
        .enqueue_daily_refresh(DAILY_REFRESH, owner, &today)
        .await?;
    tracing::info!(jobs = created, date = %today, "enqueued the daily refresh of every active field");
    Ok(())
}
