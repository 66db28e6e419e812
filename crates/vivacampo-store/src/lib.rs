//! Persistence for VivaCampo: one [`Store`] over SQLite (embedded default) or PostgreSQL,
//! chosen by the database URL, with versioned migrations and the job queue.
//!
//! Both engines run the same SQL through sqlx's `Any` driver: ids are UUID strings, times are
//! Unix epoch milliseconds, JSON is text. Where the dialects differ (transaction start, row
//! locking in the queue) the code branches on [`Backend`]. Every tenant-owned query takes the
//! tenant id, so a row of another tenant is simply not found.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyPool, Connection, Transaction};

pub mod accounts;
pub mod aois;
pub mod audit;
pub mod farms;
pub mod field_weeks;
pub mod migrate;
pub mod page;
pub mod queue;
pub mod schedule;
pub mod testing;

pub use page::{Page, PageRequest};

/// Which database engine a [`Store`] talks to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// The engine named by a database URL.
    pub fn from_url(url: &str) -> Result<Backend, StoreError> {
        if url.starts_with("sqlite:") {
            Ok(Backend::Sqlite)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            Ok(Backend::Postgres)
        } else {
            Err(StoreError::Config(format!(
                "unsupported database URL {:?}: use sqlite://PATH or postgres://…",
                redact(url)
            )))
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "postgres",
        }
    }
}

/// Errors of the persistence layer. The API maps each kind to one HTTP error.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database cannot be reached or the pool had no free connection in time.
    #[error("database unavailable: {0}")]
    Unavailable(String),
    /// No such row in the caller's tenant.
    #[error("not found")]
    NotFound,
    /// A unique rule or a state rule refuses the change.
    #[error("conflict: {0}")]
    Conflict(String),
    /// A tenant quota would be exceeded.
    #[error("{0}")]
    Quota(String),
    /// A bad database URL or option.
    #[error("{0}")]
    Config(String),
    /// Migrations are missing, modified or newer than this binary.
    #[error("migrations: {0}")]
    Migration(String),
    /// Anything else the database reported.
    #[error("database error: {0}")]
    Database(sqlx::Error),
    /// A stored value that cannot be decoded (a bug or a hand-edited row).
    #[error("corrupt row: {0}")]
    Corrupt(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(err: sqlx::Error) -> Self {
        match &err {
            sqlx::Error::PoolTimedOut => StoreError::Unavailable(
                "no database connection free within the acquire timeout".into(),
            ),
            sqlx::Error::PoolClosed => {
                StoreError::Unavailable("the connection pool is closed".into())
            }
            sqlx::Error::Io(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::Tls(e) => StoreError::Unavailable(e.to_string()),
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    StoreError::Conflict(db.message().to_owned())
                } else if is_busy(db.code().as_deref()) {
                    StoreError::Unavailable(db.message().to_owned())
                } else {
                    StoreError::Database(err)
                }
            }
            _ => StoreError::Database(err),
        }
    }
}

/// SQLite's "database is locked" codes and PostgreSQL's "too many connections" / "cannot
/// connect now" / statement or lock timeouts all mean: try again later.
fn is_busy(code: Option<&str>) -> bool {
    matches!(
        code,
        Some("5" | "6" | "517" | "53300" | "57P03" | "57014" | "55P03")
    )
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// How to open a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// `sqlite://PATH` or `postgres://…`.
    pub url: String,
    /// Upper bound of open connections.
    pub max_connections: u32,
    /// How long a request waits for a free connection before it gets `UNAVAILABLE`.
    pub acquire_timeout: Duration,
}

/// The database: a bounded connection pool plus the engine it talks to.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    waiting: Arc<AtomicUsize>,
}

/// Pool figures for `/metrics`.
#[derive(Debug, Clone, Copy)]
pub struct PoolStats {
    pub max: u32,
    pub open: u32,
    pub idle: usize,
    pub waiting: usize,
}

impl Store {
    /// Opens the pool. For SQLite the file (and its directory) is created if missing, in WAL mode.
    pub async fn open(options: &StoreOptions) -> Result<Store> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(&options.url)?;
        if backend == Backend::Sqlite {
            create_sqlite_parent(&options.url)?;
        }
        let connect =
            AnyConnectOptions::from_str(&sqlite_create_mode(&options.url)).map_err(|e| {
                StoreError::Config(format!("bad database URL {}: {e}", redact(&options.url)))
            })?;
        let pool = AnyPoolOptions::new()
            .max_connections(options.max_connections.max(1))
            .acquire_timeout(options.acquire_timeout)
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        for pragma in [
                            "PRAGMA journal_mode = WAL",
                            "PRAGMA busy_timeout = 5000",
                            "PRAGMA foreign_keys = ON",
                            "PRAGMA synchronous = NORMAL",
                        ] {
                            sqlx::query(pragma).execute(&mut *conn).await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect_with(connect)
            .await?;
        Ok(Store {
            pool,
            backend,
            waiting: Arc::new(AtomicUsize::new(0)),
        })
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// One pooled connection; counts callers waiting for it.
    pub(crate) async fn conn(&self) -> Result<PoolConnection<Any>> {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let conn = self.pool.acquire().await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Ok(conn?)
    }

    /// A write transaction. On SQLite it takes the write lock up front (`BEGIN IMMEDIATE`), so a
    /// read-then-write transaction cannot fail on a stale snapshot.
    pub(crate) async fn begin(&self) -> Result<Transaction<'static, Any>> {
        let begin = match self.backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let tx = self.pool.begin_with(begin).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        Ok(tx?)
    }

    /// Answers when the database does.
    pub async fn ping(&self) -> Result<()> {
        let mut conn = self.conn().await?;
        conn.ping().await?;
        Ok(())
    }

    pub fn pool_stats(&self) -> PoolStats {
        PoolStats {
            max: self.pool.options().get_max_connections(),
            open: self.pool.size(),
            idle: self.pool.num_idle(),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }

    /// Closes every connection (graceful shutdown).
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

/// The current time as Unix epoch milliseconds.
pub fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A new random id.
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Hides the password of a database URL for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            match userinfo.find(':') {
                Some(colon) => format!(
                    "{}{}:***{}",
                    &url[..scheme_end + 3],
                    &userinfo[..colon],
                    &url[at..]
                ),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

fn sqlite_path(url: &str) -> &str {
    let rest = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:");
    rest.split('?').next().unwrap_or(rest)
}

fn create_sqlite_parent(url: &str) -> Result<()> {
    let path = std::path::Path::new(sqlite_path(url));
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(|e| {
            StoreError::Config(format!(
                "cannot create database directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    Ok(())
}

/// SQLite opens read-write-create unless the URL says otherwise.
fn sqlite_create_mode(url: &str) -> String {
    if url.starts_with("sqlite:") && !url.contains("mode=") {
        let sep = if url.contains('?') { '&' } else { '?' };
        format!("{url}{sep}mode=rwc")
    } else {
        url.to_owned()
    }
}

/// Reads a required column, mapping a decode failure to [`StoreError::Corrupt`].
pub(crate) fn col<T>(row: &sqlx::any::AnyRow, name: &str) -> Result<T>
where
    T: for<'r> sqlx::Decode<'r, Any> + sqlx::Type<Any>,
{
    use sqlx::Row;
    row.try_get(name)
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

/// Parses a stored enum value.
pub(crate) fn parse_col<T: FromStr>(row: &sqlx::any::AnyRow, name: &str) -> Result<T>
where
    T::Err: std::fmt::Display,
{
    let text: String = col(row, name)?;
    text.parse()
        .map_err(|e| StoreError::Corrupt(format!("column {name}: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_choose_the_engine() {
        assert_eq!(
            Backend::from_url("sqlite://data/x.db").unwrap(),
            Backend::Sqlite
        );
        assert_eq!(
            Backend::from_url("postgres://u@h/db").unwrap(),
            Backend::Postgres
        );
        assert!(Backend::from_url("mysql://h/db").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(
            redact("postgres://me:secret@db:5432/x"),
            "postgres://me:***@db:5432/x"
        );
        assert_eq!(redact("postgres://me@db/x"), "postgres://me@db/x");
        assert_eq!(redact("sqlite://a.db"), "sqlite://a.db");
    }

    #[test]
    fn sqlite_urls_get_create_mode() {
        assert_eq!(
            sqlite_create_mode("sqlite://a.db"),
            "sqlite://a.db?mode=rwc"
        );
        assert_eq!(
            sqlite_create_mode("sqlite://a.db?mode=ro"),
            "sqlite://a.db?mode=ro"
        );
        assert_eq!(sqlite_path("sqlite://dir/a.db?x=1"), "dir/a.db");
    }
}
