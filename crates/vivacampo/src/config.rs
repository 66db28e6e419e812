//! Configuration layering: defaults < `vivacampo.toml` (or `--config FILE`) < `VIVACAMPO_*`
//! environment variables < command-line flags. A bad value stops start-up with one line naming
//! the setting and where it came from.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Every setting, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub bind: SocketAddr,
    pub data_dir: PathBuf,
    /// `None`: SQLite file `vivacampo.db` in the data dir.
    pub database_url: Option<String>,
    pub db_max_connections: u32,
    pub db_acquire_timeout: Duration,
    pub token_ttl: Duration,
    pub signup: bool,
    pub migrate_on_start: bool,
    pub body_limit: usize,
    pub auth_rate_limit: u32,
    pub worker_concurrency: usize,
    pub job_lease: Duration,
    pub backfill_weeks: u32,
    pub shutdown_grace: Duration,
    pub log: String,
    pub log_format: LogFormat,
    /// `earth-search`, `planetary-computer`, a STAC API URL or a static catalog directory.
    pub imagery_source: String,
    /// `None`: the local directory `rasters` in the data dir; else a path or `s3://bucket/prefix`.
    pub raster_store: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    Json,
    Text,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            bind: SocketAddr::from(([127, 0, 0, 1], 8080)),
            data_dir: PathBuf::from("./vivacampo-data"),
            database_url: None,
            db_max_connections: 10,
            db_acquire_timeout: Duration::from_secs(3),
            token_ttl: Duration::from_secs(12 * 3600),
            signup: true,
            migrate_on_start: true,
            body_limit: 2 * 1024 * 1024,
            auth_rate_limit: 30,
            worker_concurrency: 2,
            job_lease: Duration::from_secs(30),
            backfill_weeks: 8,
            shutdown_grace: Duration::from_secs(20),
            log: "info".into(),
            log_format: LogFormat::Json,
            imagery_source: "earth-search".into(),
            raster_store: None,
        }
    }
}

/// The settings' names, as used in the file; the environment variable is `VIVACAMPO_` + the
/// name in upper case, the flag is `--` + the name with dashes.
pub const KEYS: &[(&str, &str)] = &[
    ("bind", "address to listen on (default 127.0.0.1:8080)"),
    (
        "data_dir",
        "directory for the SQLite database and rasters (default ./vivacampo-data)",
    ),
    (
        "database_url",
        "sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir)",
    ),
    ("db_max_connections", "database pool size (default 10)"),
    (
        "db_acquire_timeout",
        "wait for a free connection before answering 503 (default 3s)",
    ),
    ("token_ttl", "lifetime of a login token (default 12h)"),
    ("signup", "allow POST /v1/auth/signup (default true)"),
    (
        "migrate_on_start",
        "apply migrations when serve/api start (default true)",
    ),
    (
        "body_limit",
        "largest request body in bytes, or with KiB/MiB (default 2MiB)",
    ),
    (
        "auth_rate_limit",
        "sign-in attempts per client IP per minute (default 30)",
    ),
    (
        "worker_concurrency",
        "jobs a worker runs at once (default 2)",
    ),
    (
        "job_lease",
        "job lease; a dead worker's job is retried after it (default 30s)",
    ),
    (
        "backfill_weeks",
        "weeks a new field's first backfill covers (default 8)",
    ),
    (
        "shutdown_grace",
        "time running requests and jobs get to finish on shutdown (default 20s)",
    ),
    (
        "log",
        "log filter, e.g. info or vivacampo=debug (default info)",
    ),
    ("log_format", "json or text (default json)"),
    (
        "imagery_source",
        "earth-search, planetary-computer, a STAC API URL or a catalog directory (default earth-search)",
    ),
    (
        "raster_store",
        "where field-week COGs go: a directory or s3://bucket/prefix (default DATA_DIR/rasters)",
    ),
];

/// Parses `500ms`, `5s`, `10m`, `12h`, `7d` (a bare number is seconds).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("expected a duration like 500ms, 5s, 10m or 12h, got {text:?}"))?;
    let seconds = match unit.trim() {
        "ms" => value / 1000.0,
        "" | "s" => value,
        "m" | "min" => value * 60.0,
        "h" => value * 3600.0,
        "d" => value * 86_400.0,
        other => {
            return Err(format!(
                "unknown duration unit {other:?} in {text:?}; use ms, s, m, h or d"
            ));
        }
    };
    if !seconds.is_finite() || seconds < 0.0 {
        return Err(format!("duration {text:?} is out of range"));
    }
    Ok(Duration::from_secs_f64(seconds))
}

/// Parses `2097152`, `512KiB`, `2MiB`, `2MB`.
fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let value: usize = number
        .parse()
        .map_err(|_| format!("expected a size like 2MiB, got {text:?}"))?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "KiB" | "KB" | "k" => 1024,
        "MiB" | "MB" | "M" => 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?}; use KiB or MiB")),
    };
    value
        .checked_mul(factor)
        .ok_or_else(|| format!("size {text:?} is too large"))
}

fn parse_bool(text: &str) -> Result<bool, String> {
    match text.trim().to_ascii_lowercase().as_str() {
        "true" | "1" | "yes" | "on" => Ok(true),
        "false" | "0" | "no" | "off" => Ok(false),
        _ => Err(format!("expected true or false, got {text:?}")),
    }
}

fn parse_number<T>(text: &str, min: T) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    let value: T = text
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number, got {text:?}"))?;
    if value < min {
        return Err(format!("must be at least {min}"));
    }
    Ok(value)
}

fn at_least(
    value: Result<Duration, String>,
    min: Duration,
    shown: &str,
) -> Result<Duration, String> {
    value.and_then(|v| {
        if v < min {
            Err(format!("must be at least {shown}"))
        } else {
            Ok(v)
        }
    })
}

impl Settings {
    /// Sets one value; `source` names where it came from for the error message.
    pub fn apply(&mut self, key: &str, value: &str, source: &str) -> Result<(), String> {
        let result =
            match key {
                "bind" => value.trim().parse().map(|v| self.bind = v).map_err(|_| {
                    format!("expected HOST:PORT such as 127.0.0.1:8080, got {value:?}")
                }),
                "data_dir" => {
                    self.data_dir = PathBuf::from(value);
                    Ok(())
                }
                "database_url" => {
                    let url = value.trim();
                    if url.starts_with("sqlite:")
                        || url.starts_with("postgres://")
                        || url.starts_with("postgresql://")
                    {
                        self.database_url = Some(url.to_owned());
                        Ok(())
                    } else {
                        Err("expected sqlite://PATH or postgres://USER@HOST/DB".to_owned())
                    }
                }
                "db_max_connections" => parse_number(value, 1).map(|v| self.db_max_connections = v),
                "db_acquire_timeout" => parse_duration(value).map(|v| self.db_acquire_timeout = v),
                "token_ttl" => at_least(parse_duration(value), Duration::from_secs(60), "1m")
                    .map(|v| self.token_ttl = v),
                "signup" => parse_bool(value).map(|v| self.signup = v),
                "migrate_on_start" => parse_bool(value).map(|v| self.migrate_on_start = v),
                "body_limit" => parse_bytes(value).map(|v| self.body_limit = v),
                "auth_rate_limit" => parse_number(value, 1).map(|v| self.auth_rate_limit = v),
                "worker_concurrency" => parse_number(value, 1).map(|v| self.worker_concurrency = v),
                "job_lease" => at_least(parse_duration(value), Duration::from_millis(200), "200ms")
                    .map(|v| self.job_lease = v),
                "backfill_weeks" => parse_number(value, 1u32)
                    .and_then(|v| {
                        if v > 104 {
                            Err("must be at most 104".to_owned())
                        } else {
                            Ok(v)
                        }
                    })
                    .map(|v| self.backfill_weeks = v),
                "shutdown_grace" => parse_duration(value).map(|v| self.shutdown_grace = v),
                "log" => {
                    self.log = value.to_owned();
                    Ok(())
                }
                "log_format" => match value.trim() {
                    "json" => Ok(LogFormat::Json),
                    "text" => Ok(LogFormat::Text),
                    _ => Err(format!("expected json or text, got {value:?}")),
                }
                .map(|v| self.log_format = v),
                "imagery_source" => {
                    self.imagery_source = value.trim().to_owned();
                    Ok(())
                }
                "raster_store" => {
                    self.raster_store = Some(value.trim().to_owned());
                    Ok(())
                }
                _ => Err(format!(
                    "unknown setting; known settings: {}",
                    KEYS.iter().map(|k| k.0).collect::<Vec<_>>().join(", ")
                )),
            };
        result.map_err(|e| format!("invalid {source}: {e}"))
    }

    /// Applies a TOML file. A missing default file is fine; a missing `--config` file is not.
    pub fn apply_file(&mut self, path: &Path, required: bool) -> Result<(), String> {
        let text = match std::fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
            Err(e) => return Err(format!("cannot read config file {}: {e}", path.display())),
        };
        let table: toml::Table = text
            .parse()
            .map_err(|e| format!("config file {} is not valid TOML: {e}", path.display()))?;
        for (key, value) in &table {
            let text = match value {
                toml::Value::String(s) => s.clone(),
                toml::Value::Integer(i) => i.to_string(),
                toml::Value::Float(f) => f.to_string(),
                toml::Value::Boolean(b) => b.to_string(),
                _ => {
                    return Err(format!(
                        "invalid {key} in {}: expected a string, number or boolean",
                        path.display()
                    ));
                }
            };
            self.apply(key, &text, &format!("{key} in {}", path.display()))?;
        }
        Ok(())
    }

    /// Applies `VIVACAMPO_*` variables from `vars`.
    pub fn apply_env(&mut self, vars: impl Fn(&str) -> Option<String>) -> Result<(), String> {
        for (key, _) in KEYS {
            let name = format!("VIVACAMPO_{}", key.to_ascii_uppercase());
            if let Some(value) = vars(&name) {
                self.apply(key, &value, &format!("{name}={value:?}"))?;
            }
        }
        Ok(())
    }

    /// The database URL in force.
    pub fn database_url(&self) -> String {
        self.database_url
            .clone()
            .unwrap_or_else(|| format!("sqlite://{}", self.data_dir.join("vivacampo.db").display()))
    }

    /// Root of the local raster store.
    pub fn raster_dir(&self) -> PathBuf {
        self.data_dir.join("rasters")
    }

    /// Where field-week COGs go.
    pub fn raster_store(&self) -> String {
        self.raster_store
            .clone()
            .unwrap_or_else(|| self.raster_dir().display().to_string())
    }
}

/// Resolves the layers: defaults, then the file, then `env`, then `flags` (key, value) pairs.
pub fn resolve(
    config_file: Option<&Path>,
    env: impl Fn(&str) -> Option<String>,
    flags: &[(&str, String)],
) -> Result<Settings, String> {
    let mut settings = Settings::default();
    match config_file {
        Some(path) => settings.apply_file(path, true)?,
        None => settings.apply_file(Path::new("vivacampo.toml"), false)?,
    }
    settings.apply_env(env)?;
    for (key, value) in flags {
        settings.apply(
            key,
            value,
            &format!("--{} {value:?}", key.replace('_', "-")),
        )?;
    }
    Ok(settings)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_and_sizes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("5").unwrap(), Duration::from_secs(5));
        assert_eq!(parse_duration("12h").unwrap(), Duration::from_secs(43_200));
        assert!(parse_duration("5 parsecs").is_err());
        assert_eq!(parse_bytes("2MiB").unwrap(), 2 * 1024 * 1024);
        assert_eq!(parse_bytes("4096").unwrap(), 4096);
        assert!(parse_bytes("2GiB").is_err());
    }

    #[test]
    fn layers_override_in_order() {
        let dir = std::env::temp_dir().join(format!("vc-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vivacampo.toml");
        std::fs::write(&file, "bind = \"127.0.0.1:9000\"\ndb_max_connections = 4\nsignup = false\ntoken_ttl = \"1h\"\n").unwrap();
        let env = |name: &str| match name {
            "VIVACAMPO_DB_MAX_CONNECTIONS" => Some("6".to_owned()),
            "VIVACAMPO_TOKEN_TTL" => Some("2h".to_owned()),
            _ => None,
        };
        let flags = [("token_ttl", "3h".to_owned())];
        let s = resolve(Some(&file), env, &flags).unwrap();
        assert_eq!(s.bind.port(), 9000, "file beats default");
        assert_eq!(s.db_max_connections, 6, "env beats file");
        assert_eq!(s.token_ttl, Duration::from_secs(3 * 3600), "flag beats env");
        assert!(!s.signup);
        assert_eq!(s.database_url(), "sqlite://./vivacampo-data/vivacampo.db");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn errors_name_the_setting_and_source() {
        let err = resolve(
            None,
            |n| (n == "VIVACAMPO_DB_ACQUIRE_TIMEOUT").then(|| "soon".to_owned()),
            &[],
        )
        .unwrap_err();
        assert!(
            err.starts_with("invalid VIVACAMPO_DB_ACQUIRE_TIMEOUT=\"soon\""),
            "{err}"
        );
        let err = resolve(None, |_| None, &[("bind", "nowhere".to_owned())]).unwrap_err();
        assert!(err.contains("--bind \"nowhere\""), "{err}");
        let missing = resolve(
            Some(Path::new("/nonexistent/vivacampo.toml")),
            |_| None,
            &[],
        )
        .unwrap_err();
        assert!(missing.contains("cannot read config file"));
        let mut s = Settings::default();
        assert!(
            s.apply("colour", "blue", "x")
                .unwrap_err()
                .contains("unknown setting")
        );
    }
}
