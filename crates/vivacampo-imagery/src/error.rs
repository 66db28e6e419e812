//! The crate's one error type.

use std::path::PathBuf;

/// Everything that can go wrong while finding, fetching or storing imagery. Each variant names
/// the URL or path involved, so a failed job says what it was reading.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid location {url:?}: {reason}")]
    Location { url: String, reason: String },
    #[error(
        "{url}: the server ignores HTTP Range requests (it sent the whole file); refusing to read it"
    )]
    RangeIgnored { url: String },
    #[error("{url}: not found")]
    NotFound { url: String },
    #[error("{url}: {source}")]
    Store {
        url: String,
        #[source]
        source: object_store::Error,
    },
    #[error("{url}: {source}")]
    Raster {
        url: String,
        #[source]
        source: vivacampo_raster::Error,
    },
    #[error("HTTP {status} from {url}: {body}")]
    Http {
        url: String,
        status: u16,
        body: String,
    },
    #[error("request to {url} failed: {source}")]
    Request {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("{what}: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{url}: no answer within {} ms", after.as_millis())]
    Timeout {
        url: String,
        after: std::time::Duration,
    },
    #[error("{0}")]
    Catalog(String),
    /// Sentinel Hub refused or failed a request (one sentence, no URL).
    #[error("{0}")]
    SentinelHub(String),
    /// The weather service refused the request (HTTP 400 and its `reason`).
    #[error("the weather service refused the request: {reason}")]
    WeatherRejected { reason: String },
    /// The weather service's request limit is reached (HTTP 429 and its `reason`).
    #[error("the weather service's {period} request limit is reached: {reason}")]
    WeatherLimit {
        period: crate::weather::LimitPeriod,
        reason: String,
    },
    /// A weather response not in the expected shape.
    #[error("weather response from {url}: {reason}")]
    WeatherFormat { url: String, reason: String },
    #[error("background task failed: {0}")]
    Task(String),
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Maps an object_store error for `url`, recognising "not found" and a server that answered
    /// a range request with the whole body (object_store refuses those as non-partial). S3
    /// answers 404 for a missing bucket too (`NoSuchBucket`): that is a broken store, not an
    /// absent key.
    pub(crate) fn store(url: &str, source: object_store::Error) -> Error {
        let mut missing_bucket = false;
        let mut cause: Option<&dyn std::error::Error> = Some(&source);
        while let Some(c) = cause {
            let msg = c.to_string();
            // object_store's HTTP store says the first, its generic range check the second.
            if msg.contains("Range request not supported") || msg.contains("non-partial response") {
                return Error::RangeIgnored { url: url.into() };
            }
            missing_bucket |= msg.contains("NoSuchBucket");
            cause = c.source();
        }
        if matches!(source, object_store::Error::NotFound { .. }) && !missing_bucket {
            return Error::NotFound { url: url.into() };
        }
        Error::Store {
            url: url.into(),
            source,
        }
    }

    pub(crate) fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Error {
        Error::Io {
            path: path.into(),
            source,
        }
    }
}
