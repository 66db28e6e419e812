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
    /// Field-week COGs of weeks older than this are removed daily (statistics stay); `None`
    /// keeps them for ever.
    pub raster_retention: Option<Duration>,
    /// Secret that signs tile URLs; `None`: a random key kept in `DATA_DIR/tile.key`.
    pub tile_key: Option<String>,
    /// How long a signed tile URL stays valid.
    pub tile_url_ttl: Duration,
    /// Bytes of rendered tiles kept in memory (0: off).
    pub tile_cache: usize,
    /// Bytes of decoded COG blocks kept in memory (0: off).
    pub tile_block_cache: usize,
    /// Tiles rendered at once; `None`: the number of CPU cores.
    pub tile_concurrency: Option<usize>,
    /// The web app's base map: an http(s) tile URL template, or `none`.
    pub basemap: String,
    /// S3 settings of an `s3://` raster store; each `None` falls back to its `AWS_*` variable.
    pub s3_endpoint: Option<String>,
    pub s3_region: Option<String>,
    pub s3_access_key_id: Option<String>,
    pub s3_secret_access_key: Option<Secret>,
    /// `None`: `AWS_ALLOW_HTTP`, or an `http://` endpoint.
    pub s3_allow_http: Option<bool>,
}

/// A secret setting: `Debug` never shows it, so settings can be logged whole.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(***)")
    }
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
            raster_retention: None,
            tile_key: None,
            tile_url_ttl: Duration::from_secs(12 * 3600),
            tile_cache: 256 * 1024 * 1024,
            tile_block_cache: 256 * 1024 * 1024,
            tile_concurrency: None,
            basemap: vivacampo_api::routes::web::DEFAULT_BASEMAP.into(),
            s3_endpoint: None,
            s3_region: None,
            s3_access_key_id: None,
            s3_secret_access_key: None,
            s3_allow_http: None,
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
    (
        "raster_retention",
        "remove field-week COGs of weeks older than this, e.g. 730d; statistics stay (default off)",
    ),
    (
        "tile_key",
        "secret (16+ characters) signing tile URLs; replicas must share it (default: random, kept in DATA_DIR/tile.key)",
    ),
    (
        "tile_url_ttl",
        "how long a signed tile URL is valid (default 12h)",
    ),
    (
        "tile_cache",
        "memory for rendered tiles, e.g. 256MiB; 0 turns it off (default 256MiB)",
    ),
    (
        "tile_block_cache",
        "memory for decoded COG blocks, e.g. 256MiB; 0 turns it off (default 256MiB)",
    ),
    (
        "tile_concurrency",
        "tiles rendered at once; more wait briefly, then get 503 (default: CPU cores)",
    ),
    (
        "basemap",
        "web app base map: an http(s) tile URL template with {z}, {x} and {y}, or none (default: OpenStreetMap)",
    ),
    (
        "s3_endpoint",
        "S3 endpoint URL of an s3:// raster store, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT)",
    ),
    (
        "s3_region",
        "S3 region of an s3:// raster store (default: AWS_REGION)",
    ),
    (
        "s3_access_key_id",
        "S3 access key id of an s3:// raster store (default: AWS_ACCESS_KEY_ID)",
    ),
    (
        "s3_secret_access_key",
        "S3 secret key of an s3:// raster store; never logged (default: AWS_SECRET_ACCESS_KEY)",
    ),
    (
        "s3_allow_http",
        "allow a plain-HTTP S3 endpoint (default: AWS_ALLOW_HTTP, or true for an http:// endpoint)",
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
        "GiB" | "GB" | "G" => 1024 * 1024 * 1024,
        other => return Err(format!("unknown size unit {other:?}; use KiB, MiB or GiB")),
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

/// `none`, or an `http(s)://` tile URL template with `{z}`, `{x}` and `{y}` (and `{s}` for a
/// subdomain); the page names it and lets its origin through the Content-Security-Policy.
fn parse_basemap(text: &str) -> Result<String, String> {
    let url = text.trim();
    if url == "none" {
        return Ok(url.to_owned());
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("expected none or an http(s) URL template such as https://tile.openstreetmap.org/{{z}}/{{x}}/{{y}}.png, got {url:?}"))?;
    let host = rest.split('/').next().unwrap_or_default();
    let name = host.strip_prefix("{s}.").unwrap_or(host);
    let valid_host = !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    if !valid_host {
        return Err(format!("{url:?} has no valid host name"));
    }
    if ["{z}", "{x}", "{y}"].iter().any(|p| !url.contains(p)) {
        return Err(format!("{url:?} must contain {{z}}, {{x}} and {{y}}"));
    }
    if url
        .chars()
        .any(|c| c.is_whitespace() || c.is_control() || "\"<>\\".contains(c))
    {
        return Err(format!("{url:?} has characters a URL cannot have"));
    }
    Ok(url.to_owned())
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
                "raster_retention" => match value.trim() {
                    "off" | "none" => {
                        self.raster_retention = None;
                        Ok(())
                    }
                    other => at_least(parse_duration(other), Duration::from_secs(86_400), "1d")
                        .map(|v| self.raster_retention = Some(v)),
                },
                "tile_key" => {
                    let key = value.trim();
                    if key.len() < 16 {
                        Err("must be at least 16 characters".to_owned())
                    } else {
                        self.tile_key = Some(key.to_owned());
                        Ok(())
                    }
                }
                "tile_url_ttl" => at_least(parse_duration(value), Duration::from_secs(60), "1m")
                    .map(|v| self.tile_url_ttl = v),
                "tile_cache" => parse_bytes(value).map(|v| self.tile_cache = v),
                "tile_block_cache" => parse_bytes(value).map(|v| self.tile_block_cache = v),
                "tile_concurrency" => {
                    parse_number(value, 1usize).map(|v| self.tile_concurrency = Some(v))
                }
                "basemap" => parse_basemap(value).map(|v| self.basemap = v),
                "s3_endpoint" => {
                    let url = value.trim();
                    if url.starts_with("http://") || url.starts_with("https://") {
                        self.s3_endpoint = Some(url.to_owned());
                        Ok(())
                    } else {
                        Err("expected an http:// or https:// URL".to_owned())
                    }
                }
                "s3_region" => {
                    self.s3_region = Some(value.trim().to_owned());
                    Ok(())
                }
                "s3_access_key_id" => {
                    self.s3_access_key_id = Some(value.trim().to_owned());
                    Ok(())
                }
                "s3_secret_access_key" => {
                    self.s3_secret_access_key = Some(Secret(value.trim().to_owned()));
                    Ok(())
                }
                "s3_allow_http" => parse_bool(value).map(|v| self.s3_allow_http = Some(v)),
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
        assert_eq!(parse_bytes("1GiB").unwrap(), 1 << 30);
        assert!(parse_bytes("2TiB").is_err());
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
    fn s3_settings_layer_and_hide_the_secret() {
        let dir = std::env::temp_dir().join(format!("vc-config-s3-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vivacampo.toml");
        std::fs::write(
            &file,
            "s3_endpoint = \"http://minio.lan:9000\"\ns3_region = \"sa-east-1\"\ns3_allow_http = true\n",
        )
        .unwrap();
        let env = |name: &str| match name {
            "VIVACAMPO_S3_REGION" => Some("us-east-1".to_owned()),
            "VIVACAMPO_S3_ACCESS_KEY_ID" => Some("vivacampo".to_owned()),
            "VIVACAMPO_S3_SECRET_ACCESS_KEY" => Some("from-the-environment".to_owned()),
            // The AWS_* fallbacks are read by the S3 client, not by these layers.
            "AWS_REGION" => Some("eu-west-1".to_owned()),
            _ => None,
        };
        let flags = [("s3_allow_http", "false".to_owned())];
        let s = resolve(Some(&file), env, &flags).unwrap();
        assert_eq!(s.s3_endpoint.as_deref(), Some("http://minio.lan:9000"));
        assert_eq!(s.s3_region.as_deref(), Some("us-east-1"), "env beats file");
        assert_eq!(s.s3_access_key_id.as_deref(), Some("vivacampo"));
        assert_eq!(
            s.s3_secret_access_key.as_ref().map(Secret::expose),
            Some("from-the-environment")
        );
        assert_eq!(s.s3_allow_http, Some(false), "flag beats file");
        let shown = format!("{s:?}");
        assert!(!shown.contains("from-the-environment"), "{shown}");
        // Unset, each falls back to its AWS_* variable.
        let d = Settings::default();
        assert_eq!(
            (
                d.s3_endpoint,
                d.s3_region,
                d.s3_secret_access_key,
                d.s3_allow_http
            ),
            (None, None, None, None)
        );
        let err = resolve(
            None,
            |n| (n == "VIVACAMPO_S3_ENDPOINT").then(|| "minio:9000".into()),
            &[],
        )
        .unwrap_err();
        assert!(
            err.contains("VIVACAMPO_S3_ENDPOINT") && err.contains("http://"),
            "{err}"
        );
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

    #[test]
    fn basemap_layers_and_checks() {
        let osm = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
        assert_eq!(resolve(None, |_| None, &[]).unwrap().basemap, osm);
        let dir = std::env::temp_dir().join(format!("vc-config-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("vivacampo.toml");
        std::fs::write(&file, "basemap = \"none\"\n").unwrap();
        assert_eq!(resolve(Some(&file), |_| None, &[]).unwrap().basemap, "none");
        let local = "http://10.0.0.5:8081/tiles/{z}/{x}/{y}.png";
        let env = |name: &str| (name == "VIVACAMPO_BASEMAP").then(|| local.to_owned());
        assert_eq!(resolve(Some(&file), env, &[]).unwrap().basemap, local);
        let flag = "https://{s}.tiles.example.com/{z}/{x}/{y}@2x.png";
        let flags = [("basemap", flag.to_owned())];
        assert_eq!(resolve(Some(&file), env, &flags).unwrap().basemap, flag);
        std::fs::remove_dir_all(dir).unwrap();

        for (bad, says) in [
            (
                "ftp://tiles.example.com/{z}/{x}/{y}.png",
                "expected none or an http(s) URL",
            ),
            (
                "https://tiles.example.com/{z}/{x}.png",
                "must contain {z}, {x} and {y}",
            ),
            ("https:///{z}/{x}/{y}.png", "no valid host"),
            ("https://user@evil/{z}/{x}/{y}.png", "no valid host"),
            (
                "https://a.io/{z}/{x}/{y}.png\"><script>",
                "characters a URL cannot have",
            ),
        ] {
            let err = resolve(None, |_| None, &[("basemap", bad.to_owned())]).unwrap_err();
            assert!(
                err.starts_with(&format!("invalid --basemap {bad:?}: ")) && err.contains(says),
                "{err}"
            );
            assert!(!err.contains('\n'), "one line: {err}");
        }
    }
}
