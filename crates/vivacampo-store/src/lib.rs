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
use sqlx::{Any, AnyPool, ConnectOptions, Connection, Transaction};

pub mod accounts;
pub mod aois;
pub mod audit;
pub mod farms;
pub mod field_weeks;
pub mod flags;
pub mod migrate;
pub mod notifications;
pub mod operations;
pub mod page;
pub mod processes;
pub mod queue;
pub mod radar;
pub mod schedule;
pub mod signals;
pub mod slow;
pub mod testing;
pub mod throttle;
pub mod weather;

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
            // A connection the server closed mid-exchange (a terminated backend, a restart)
            // surfaces as a protocol error or a crashed connection worker.
            sqlx::Error::Protocol(m) => {
                StoreError::Unavailable(format!("the connection broke: {m}"))
            }
            sqlx::Error::WorkerCrashed => {
                StoreError::Unavailable("the connection's worker stopped".into())
            }
            sqlx::Error::BeginFailed => {
                StoreError::Unavailable("the transaction could not begin".into())
            }
            sqlx::Error::RowNotFound => StoreError::NotFound,
            sqlx::Error::Database(db) => {
                if db.is_unique_violation() {
                    StoreError::Conflict(db.message().to_owned())
                } else if is_busy(db.code().as_deref()) || is_connection_lost(db.code().as_deref())
                {
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

/// PostgreSQL's connection exceptions (class 08) and operator interventions that end a session
/// (57P01 admin shutdown, 57P02 crash shutdown, 57P03 cannot connect now, 57P05 idle session
/// timeout): the database will answer again, on another connection.
fn is_connection_lost(code: Option<&str>) -> bool {
    code.is_some_and(|c| c.starts_with("08") || matches!(c, "57P01" | "57P02" | "57P03" | "57P05"))
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
    /// Longest a statement may run, waiting for locks included (PostgreSQL
    /// `statement_timeout`; SQLite `busy_timeout`, its wait for the write lock); past it the
    /// caller gets `UNAVAILABLE`. Zero: no limit (PostgreSQL), 5 s (SQLite).
    pub statement_timeout: Duration,
}

/// The database: a bounded connection pool plus the engine it talks to.
#[derive(Clone)]
pub struct Store {
    pool: AnyPool,
    backend: Backend,
    waiting: Arc<AtomicUsize>,
    flags: Arc<flags::FlagCache>,
    /// One connection of its own, opened on first use (see [`Store::dedicated`]).
    side: Option<AnyPool>,
}

/// The dedicated pool's bounds: one connection, short waits.
const SIDE_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(1000);
const SIDE_STATEMENT_TIMEOUT: Duration = Duration::from_millis(1500);

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
        let connect = AnyConnectOptions::from_str(&sqlite_create_mode(&options.url))
            .map_err(|e| {
                StoreError::Config(format!("bad database URL {}: {e}", redact(&options.url)))
            })?
            // Statements past the threshold come out as WARN events (see `slow`).
            .log_slow_statements(log::LevelFilter::Warn, slow::threshold());
        let pool = pool_options(
            backend,
            options.max_connections,
            options.acquire_timeout,
            options.statement_timeout,
        )
        .connect_with(connect.clone())
        .await?;
        // Connects only when first used.
        let side = pool_options(backend, 1, SIDE_ACQUIRE_TIMEOUT, SIDE_STATEMENT_TIMEOUT)
            .connect_lazy_with(connect);
        Ok(Store {
            pool,
            backend,
            waiting: Arc::new(AtomicUsize::new(0)),
            flags: Arc::default(),
            side: Some(side),
        })
    }

    /// The same database through one connection of its own (1 s to get it, statements cut at
    /// 1.5 s), kept for the life of this store: for reads that must answer while the main pool
    /// is exhausted by a load (the admin ops status). Without one (already dedicated), itself.
    pub fn dedicated(&self) -> Store {
        match &self.side {
            Some(side) => Store {
                pool: side.clone(),
                backend: self.backend,
                waiting: Arc::new(AtomicUsize::new(0)),
                flags: self.flags.clone(),
                side: None,
            },
            None => self.clone(),
        }
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
        if let Some(side) = &self.side {
            side.close().await;
        }
    }
}

/// A pool's options: its bounds, and per connection SQLite's pragmas or PostgreSQL's
/// statement timeout.
fn pool_options(
    backend: Backend,
    max_connections: u32,
    acquire_timeout: Duration,
    statement_timeout: Duration,
) -> AnyPoolOptions {
    let statement_ms = statement_timeout.as_millis();
    AnyPoolOptions::new()
        .max_connections(max_connections.max(1))
        .acquire_timeout(acquire_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                match backend {
                    Backend::Sqlite => {
                        let busy = if statement_ms == 0 {
                            5000
                        } else {
                            statement_ms
                        };
                        for pragma in [
                            format!("PRAGMA busy_timeout = {busy}"),
                            "PRAGMA journal_mode = WAL".to_owned(),
                            "PRAGMA foreign_keys = ON".to_owned(),
                            "PRAGMA synchronous = NORMAL".to_owned(),
                        ] {
                            sqlx::query(sqlx::AssertSqlSafe(pragma))
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    Backend::Postgres => {
                        sqlx::query(sqlx::AssertSqlSafe(format!(
                            "SET statement_timeout = {statement_ms}"
                        )))
                        .execute(&mut *conn)
                        .await?;
                    }
                }
                Ok(())
            })
        })
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

/// Creates a missing database directory readable by the owner only (0700), and the database
/// file likewise (0600; SQLite gives its `-wal` and `-shm` files the mode of the database).
fn create_sqlite_parent(url: &str) -> Result<()> {
    let path = std::path::Path::new(sqlite_path(url));
    if path.as_os_str().is_empty()
        || sqlite_path(url).starts_with(':')
        || url.contains("mode=memory")
    {
        return Ok(());
    }
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        let mut builder = std::fs::DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| {
            StoreError::Config(format!(
                "cannot create database directory {}: {e}",
                dir.display()
            ))
        })?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::Config(format!(
            "cannot create database file {}: {e}",
            path.display()
        ))),
    }
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
    fn lost_connections_are_unavailable() {
        for code in ["57P01", "57P02", "57P03", "08006", "08003", "08000"] {
            assert!(is_connection_lost(Some(code)), "{code}");
        }
        for code in ["23505", "42P01", "22021", "57014"] {
            assert!(!is_connection_lost(Some(code)), "{code}");
        }
        assert!(!is_connection_lost(None));
        for err in [
            sqlx::Error::Protocol("unexpected end of stream".into()),
            sqlx::Error::WorkerCrashed,
            sqlx::Error::PoolClosed,
            sqlx::Error::PoolTimedOut,
            sqlx::Error::Io(std::io::ErrorKind::ConnectionReset.into()),
        ] {
            assert!(
                matches!(StoreError::from(err), StoreError::Unavailable(_)),
                "unavailable"
            );
        }
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
