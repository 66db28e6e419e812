//! Background jobs: their types, states and retry policy. The queue itself lives in the store.

use std::time::Duration;

use crate::wire_enum;

wire_enum!(
    /// What a job does.
    JobType {
        Backfill => "BACKFILL",
        ProcessWeek => "PROCESS_WEEK",
        ProcessRadarWeek => "PROCESS_RADAR_WEEK",
        ProcessWeather => "PROCESS_WEATHER",
        DeleteAoiAssets => "DELETE_AOI_ASSETS",
        Retention => "RETENTION",
        /// Judges one field at one ISO week and applies the signal lifecycle.
        DetectSignals => "DETECT_SIGNALS",
        /// Delivers a signal event (webhooks, e-mail).
        Notify => "NOTIFY",
        DeliverWebhook => "DELIVER_WEBHOOK",
        SendEmail => "SEND_EMAIL",
        EmailDigest => "EMAIL_DIGEST",
    }
);

wire_enum!(
    /// Where a job is in its life. `FAILED` will be retried; `DEAD` is the dead-letter state.
    JobStatus {
        Pending => "PENDING",
        Running => "RUNNING",
        Succeeded => "SUCCEEDED",
        Failed => "FAILED",
        Dead => "DEAD",
        Cancelled => "CANCELLED",
    }
);

impl JobStatus {
    /// States a user may retry from.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            JobStatus::Failed | JobStatus::Dead | JobStatus::Cancelled
        )
    }

    /// States a user may cancel from (FAILED is waiting for its next attempt).
    pub fn is_cancellable(self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::Running | JobStatus::Failed
        )
    }

    /// States in which a job still holds its idempotency key.
    pub fn holds_key(self) -> bool {
        matches!(
            self,
            JobStatus::Pending | JobStatus::Running | JobStatus::Failed
        )
    }
}

/// Attempts, timeout and backoff of one job type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// After this many failed attempts the job is `DEAD`.
    pub max_attempts: u32,
    /// An attempt running longer than this is stopped and counts as failed.
    pub timeout: Duration,
    /// Wait before the second attempt; doubled for each later one.
    pub base_backoff: Duration,
    /// Upper bound of the wait between attempts.
    pub max_backoff: Duration,
}

impl RetryPolicy {
    /// The policy of a job type. Every type gets 3 attempts and a 5-minute timeout by default.
    pub fn for_type(job_type: JobType) -> RetryPolicy {
        if matches!(job_type, JobType::DeliverWebhook | JobType::SendEmail) {
            // A receiver or mail server that is down for a while: 6 attempts over ~30 minutes.
            return RetryPolicy {
                max_attempts: 6,
                timeout: Duration::from_secs(60),
                base_backoff: Duration::from_secs(60),
                max_backoff: Duration::from_secs(15 * 60),
            };
        }
        let timeout = match job_type {
            JobType::Backfill | JobType::DeleteAoiAssets => Duration::from_secs(120),
            _ => Duration::from_secs(300),
        };
        RetryPolicy {
            max_attempts: 3,
            timeout,
            base_backoff: Duration::from_secs(10),
            max_backoff: Duration::from_secs(15 * 60),
        }
    }

    /// How long to wait after failed attempt number `attempt` (1-based) before the next one.
    pub fn backoff_after(&self, attempt: u32) -> Duration {
        let doublings = attempt.saturating_sub(1).min(20);
        self.base_backoff
            .saturating_mul(1 << doublings)
            .min(self.max_backoff)
    }
}

/// Progress of a job that fans out work, e.g. a backfill over weeks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Progress {
    pub done: i64,
    pub total: i64,
}

/// Longest job error tenants see; the full text is in the worker's log.
pub const MAX_PUBLIC_ERROR_CHARS: usize = 300;

/// A job error as tenants may read it (`last_error`, a run's `error`): `detail` with every
/// location (a URL such as `s3://bucket/key` or `file:///srv/…`, an absolute path)
/// replaced by "(location hidden)", cut to [`MAX_PUBLIC_ERROR_CHARS`]. The worker logs the
/// full text with the job id.
pub fn public_error(detail: &str) -> String {
    let words: Vec<String> = detail
        .split(' ')
        .map(|word| {
            let core = word.trim_matches(|c: char| {
                matches!(
                    c,
                    '"' | '\'' | '`' | '(' | ')' | '[' | ']' | '<' | '>' | ',' | ';' | ':'
                )
            });
            let is_location = core.contains("://") || (core.starts_with('/') && core.len() > 1);
            if is_location {
                word.replacen(core, "(location hidden)", 1)
            } else {
                word.to_owned()
            }
        })
        .collect();
    let text = words.join(" ");
    if text.chars().count() > MAX_PUBLIC_ERROR_CHARS {
        let cut: String = text.chars().take(MAX_PUBLIC_ERROR_CHARS - 1).collect();
        format!("{cut}…")
    } else {
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn public_errors_name_no_storage_location() {
        assert_eq!(
            public_error(
                "raster store: file:///var/lib/vivacampo/rasters/tenants/t/aois/a/2026-W03.tif: Permission denied (os error 13)"
            ),
            "raster store: (location hidden): Permission denied (os error 13)"
        );
        assert_eq!(
            public_error("raster store: s3://bucket/prefix/tenants/x.tif: connection refused"),
            "raster store: (location hidden): connection refused"
        );
        assert_eq!(
            public_error("cannot open \"/srv/data/x.tif\" (No such file)"),
            "cannot open \"(location hidden)\" (No such file)"
        );
        assert_eq!(
            public_error(
                "catalog search: https://earth-search.aws.element84.com/v1/search: HTTP 502"
            ),
            "catalog search: (location hidden): HTTP 502"
        );
        assert_eq!(
            public_error("timed out after 300 s"),
            "timed out after 300 s"
        );
        assert_eq!(public_error("I/O error, 1/2 done"), "I/O error, 1/2 done");
        let long = public_error(&"x".repeat(1000));
        assert_eq!(long.chars().count(), MAX_PUBLIC_ERROR_CHARS);
        assert!(long.ends_with('…'));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let p = RetryPolicy::for_type(JobType::ProcessWeek);
        assert_eq!(p.backoff_after(1), Duration::from_secs(10));
        assert_eq!(p.backoff_after(2), Duration::from_secs(20));
        assert_eq!(p.backoff_after(3), Duration::from_secs(40));
        assert_eq!(p.backoff_after(40), p.max_backoff);
    }

    #[test]
    fn status_rules() {
        assert!(JobStatus::Dead.is_retryable());
        assert!(!JobStatus::Running.is_retryable());
        assert!(JobStatus::Running.is_cancellable());
        assert!(!JobStatus::Succeeded.is_cancellable());
        assert!(JobStatus::Failed.holds_key());
        assert!(!JobStatus::Dead.holds_key());
    }
}
