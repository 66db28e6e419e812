//! The job runner: leases jobs from the store's queue, runs their handlers with a heartbeat and
//! a per-job timeout, and records the outcome (success, retry with backoff, dead letter).
//!
//! A worker holds at most `concurrency` jobs at once. On shutdown it stops leasing, lets running
//! jobs finish for a grace period, then gives the rest back to the queue so another worker can
//! run them at once.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;
use tracing::Instrument;
use vivacampo_core::jobs::JobType;
use vivacampo_core::metrics::{JOB_BUCKETS, Registry};
use vivacampo_store::Store;
use vivacampo_store::queue::{LeaseState, LeasedJob};

/// Job attempts finished, by type and outcome.
const JOBS_FINISHED: &str = "vivacampo_jobs_finished_total";
const JOBS_FINISHED_HELP: &str = "Job attempts finished, by type and outcome.";

mod field_week_job;
pub mod handlers;
pub mod notify;
pub mod process_radar;
pub mod process_week;
pub mod scheduler;
pub mod signals;
pub mod weather;

pub use handlers::{JobHandler, StandardHandlers};
pub use notify::{Notifier, Notifying};

/// How a worker behaves.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Names this worker in leases and job runs.
    pub worker_id: String,
    /// Jobs run at once.
    pub concurrency: usize,
    /// How long a lease lasts without a heartbeat; a dead worker's job is retried after this.
    pub lease: Duration,
    /// How often a running job's lease is renewed.
    pub heartbeat: Duration,
    /// Wait between polls when the queue is empty.
    pub poll_interval: Duration,
    /// How long running jobs may finish after shutdown starts before they are released.
    pub shutdown_grace: Duration,
    /// Longest one attempt may run before it is stopped and retried; `None`: each job type's
    /// own limit.
    pub job_timeout: Option<Duration>,
}

impl WorkerConfig {
    /// Defaults with a fresh worker id of the form `host-pid-random`.
    pub fn new(concurrency: usize) -> WorkerConfig {
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "worker".into());
        let suffix = uuid::Uuid::new_v4().simple().to_string();
        WorkerConfig {
            worker_id: format!("{host}-{}-{}", std::process::id(), &suffix[..8]),
            concurrency: concurrency.max(1),
            lease: Duration::from_secs(30),
            heartbeat: Duration::from_secs(10),
            poll_interval: Duration::from_millis(500),
            shutdown_grace: Duration::from_secs(20),
            job_timeout: None,
        }
    }
}

/// Runs jobs until `shutdown` turns true.
pub struct Worker<H> {
    store: Store,
    handler: Arc<H>,
    config: WorkerConfig,
    metrics: Arc<Registry>,
}

/// How one attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Succeeded,
    Failed,
    Dead,
    TimedOut,
    Cancelled,
    LeaseLost,
    Released,
}

impl Outcome {
    fn as_str(self) -> &'static str {
        match self {
            Outcome::Succeeded => "succeeded",
            Outcome::Failed => "failed",
            Outcome::Dead => "dead",
            Outcome::TimedOut => "timed_out",
            Outcome::Cancelled => "cancelled",
            Outcome::LeaseLost => "lease_lost",
            Outcome::Released => "released",
        }
    }
}

impl<H: JobHandler + 'static> Worker<H> {
    pub fn new(
        store: Store,
        handler: H,
        config: WorkerConfig,
        metrics: Arc<Registry>,
    ) -> Worker<H> {
        Worker {
            store,
            handler: Arc::new(handler),
            config,
            metrics,
        }
    }

    /// The main loop. Returns after shutdown once every job it held is finished or released.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        let slots = Arc::new(Semaphore::new(self.config.concurrency));
        let mut running = JoinSet::new();
        let (force_tx, force_rx) = watch::channel(false);
        tracing::info!(worker_id = %self.config.worker_id, concurrency = self.config.concurrency, "worker started");
        // `VivaCampoJobsTimingOut` takes the increase of these series: each must exist at 0
        // before its first timeout, or that first one would not count.
        for job_type in JobType::ALL {
            self.metrics.inc(
                JOBS_FINISHED,
                JOBS_FINISHED_HELP,
                &[
                    ("type", job_type.as_str()),
                    ("outcome", Outcome::TimedOut.as_str()),
                ],
                0.0,
            );
        }
        // Reclaiming runs beside the loop: a worker whose slots are all busy with long jobs
        // must still hand a dead worker's jobs back to the queue.
        let reclaimer = tokio::spawn(reclaim_expired_leases(
            self.store.clone(),
            self.config.poll_interval.max(Duration::from_secs(1)),
            shutdown.clone(),
        ));
        while !*shutdown.borrow() {
            while running.try_join_next().is_some() {}
            let permit = tokio::select! {
                permit = slots.clone().acquire_owned() => permit.expect("semaphore is never closed"),
                _ = shutdown.changed() => break,
            };
            match self
                .store
                .lease_job_timed(
                    &self.config.worker_id,
                    self.config.lease,
                    self.config.job_timeout,
                )
                .await
            {
                Ok(Some(leased)) => {
                    let attempt = Attempt {
                        store: self.store.clone(),
                        handler: self.handler.clone(),
                        config: self.config.clone(),
                        metrics: self.metrics.clone(),
                        force: force_rx.clone(),
                    };
                    running.spawn(async move {
                        attempt.run(leased).await;
                        drop(permit);
                    });
                }
                Ok(None) => {
                    drop(permit);
                    tokio::select! {
                        _ = tokio::time::sleep(self.config.poll_interval) => {}
                        _ = shutdown.changed() => {}
                    }
                }
                Err(e) => {
                    drop(permit);
                    tracing::warn!(error = %e, "cannot lease a job; retrying");
                    tokio::time::sleep(self.config.poll_interval * 2).await;
                }
            }
        }
        if !running.is_empty() {
            tracing::info!(
                jobs = running.len(),
                grace_s = self.config.shutdown_grace.as_secs(),
                "worker stopping: waiting for running jobs"
            );
        }
        let drained = tokio::time::timeout(self.config.shutdown_grace, async {
            while running.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            let _ = force_tx.send(true);
            while running.join_next().await.is_some() {}
        }
        reclaimer.abort();
        tracing::info!(worker_id = %self.config.worker_id, "worker stopped");
    }
}

/// Every `every`, fails the attempts whose lease expired, until shutdown.
async fn reclaim_expired_leases(
    store: Store,
    every: Duration,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = shutdown.changed() => return,
        }
        if *shutdown.borrow() {
            return;
        }
        match store.reclaim_expired_leases().await {
            Ok(0) => {}
            Ok(n) => tracing::warn!(count = n, "reclaimed jobs whose worker stopped responding"),
            Err(e) => tracing::warn!(error = %e, "cannot reclaim expired leases"),
        }
    }
}

/// Everything one attempt needs.
struct Attempt<H> {
    store: Store,
    handler: Arc<H>,
    config: WorkerConfig,
    metrics: Arc<Registry>,
    force: watch::Receiver<bool>,
}

impl<H: JobHandler + 'static> Attempt<H> {
    async fn run(self, leased: LeasedJob) {
        let job = &leased.job;
        let span = tracing::info_span!("job", job_id = %job.id, job_type = %job.job_type, attempt = leased.attempt, tenant_id = %job.tenant_id);
        self.attempt(&leased).instrument(span).await;
    }

    async fn attempt(mut self, leased: &LeasedJob) {
        let job = &leased.job;
        let started = Instant::now();
        tracing::info!("job started");
        let ctx = handlers::JobContext {
            store: self.store.clone(),
            job: job.clone(),
        };
        // The handler runs in a task of its own: awaiting a heartbeat must never stop it from
        // being polled. A handler paused inside a transaction would hold the write lock (SQLite)
        // or its job's row (PostgreSQL) that the heartbeat waits for. Dropping the set (a worker
        // that is killed) aborts the handler too.
        let mut work = JoinSet::new();
        let handler = self.handler.clone();
        work.spawn(async move { handler.handle(ctx).await }.in_current_span());
        let deadline = tokio::time::sleep(leased.timeout);
        tokio::pin!(deadline);
        let mut beat = tokio::time::interval(self.config.heartbeat);
        // After a slow heartbeat, one more soon is enough, not a burst of the missed ones.
        beat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        beat.tick().await;
        let outcome = loop {
            tokio::select! {
                Some(result) = work.join_next() => {
                    break match result {
                        Ok(Ok(metrics)) => match self.store.complete_job(&job.id, &self.config.worker_id, leased.attempt, metrics).await {
                            Ok(true) => Outcome::Succeeded,
                            Ok(false) => Outcome::LeaseLost,
                            Err(e) => {
                                tracing::error!(error = %e, "cannot record success; the lease will expire and the job run again");
                                Outcome::LeaseLost
                            }
                        },
                        Ok(Err(error)) => self.fail(leased, &error).await,
                        Err(e) => self.fail(leased, &format!("the handler panicked: {}", panic_message(e))).await,
                    };
                }
                _ = &mut deadline => {
                    work.shutdown().await;
                    let limit = leased.timeout;
                    let message = if limit >= Duration::from_secs(1) {
                        format!("timed out after {} s", limit.as_secs())
                    } else {
                        format!("timed out after {} ms", limit.as_millis())
                    };
                    break match self.fail(leased, &message).await {
                        Outcome::Failed | Outcome::Dead => Outcome::TimedOut,
                        other => other,
                    };
                }
                _ = beat.tick() => {
                    match self.store.heartbeat(&job.id, &self.config.worker_id, leased.attempt, self.config.lease).await {
                        Ok(LeaseState::Held) => {}
                        Ok(LeaseState::Cancelled) => {
                            work.shutdown().await;
                            break Outcome::Cancelled;
                        }
                        Ok(LeaseState::Lost) => {
                            work.shutdown().await;
                            break Outcome::LeaseLost;
                        }
                        Err(e) => tracing::warn!(error = %e, "heartbeat failed; will try again"),
                    }
                }
                _ = self.force.changed() => {
                    work.shutdown().await;
                    break match self.store.release_job(&job.id, &self.config.worker_id, leased.attempt).await {
                        Ok(_) => Outcome::Released,
                        Err(e) => {
                            tracing::warn!(error = %e, "cannot release the job; its lease will expire");
                            Outcome::Released
                        }
                    };
                }
            }
        };
        let seconds = started.elapsed().as_secs_f64();
        let job_type = job.job_type.as_str();
        self.metrics.inc(
            JOBS_FINISHED,
            JOBS_FINISHED_HELP,
            &[("type", job_type), ("outcome", outcome.as_str())],
            1.0,
        );
        self.metrics.observe(
            "vivacampo_job_duration_seconds",
            "Duration of job attempts, by type.",
            &[("type", job_type)],
            JOB_BUCKETS,
            seconds,
        );
        match outcome {
            Outcome::Succeeded => tracing::info!(seconds, "job succeeded"),
            Outcome::Failed | Outcome::Dead | Outcome::TimedOut => {
                tracing::warn!(seconds, outcome = outcome.as_str(), "job attempt failed")
            }
            Outcome::Cancelled | Outcome::LeaseLost | Outcome::Released => {
                tracing::info!(seconds, outcome = outcome.as_str(), "job stopped")
            }
        }
    }

    /// Records a failed attempt. Tenants read the job's error, so it is stored without storage
    /// locations; the log line keeps the full text.
    async fn fail(&self, leased: &LeasedJob, error: &str) -> Outcome {
        match self
            .store
            .fail_job(
                &leased.job.id,
                &self.config.worker_id,
                leased.attempt,
                &vivacampo_core::jobs::public_error(error),
            )
            .await
        {
            Ok(Some(vivacampo_core::jobs::JobStatus::Dead)) => {
                tracing::error!(error, "job is DEAD: attempts exhausted");
                Outcome::Dead
            }
            Ok(Some(_)) => {
                tracing::warn!(error, "job attempt failed; will retry");
                Outcome::Failed
            }
            Ok(None) => Outcome::LeaseLost,
            Err(e) => {
                tracing::error!(error = %e, "cannot record the failure; the lease will expire and the job run again");
                Outcome::LeaseLost
            }
        }
    }
}

/// What a panicking handler said, for the job's error.
fn panic_message(error: tokio::task::JoinError) -> String {
    match error.try_into_panic() {
        Ok(payload) => payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "no message".to_owned()),
        Err(error) => error.to_string(),
    }
}
