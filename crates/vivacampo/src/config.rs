//! Configuration layering: defaults < `vivacampo.toml` (or `--config FILE`) < `VIVACAMPO_*`
//! environment variables < command-line flags. A bad value stops start-up with one line naming
//! the setting and where it came from.
//!
//! Each setting is defined once, in [`settings!`] below: its key (the file key; the variable is
//! `VIVACAMPO_` + the key in capitals, the flag `--` + the key with dashes), its [`Section`],
//! value name, help, default and parser. The `Settings` struct, its `Default`, [`SETTINGS`],
//! `apply` and the clap arguments of [`Flags`] are all derived from that one entry. A command
//! flattens `Flags<Scope>`, which offers the flags of the scope's sections only.

use std::marker::PhantomData;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The groups of settings, mirroring the configurations `roles.rs` builds (`StoreOptions`,
/// `ApiConfig`, `TileConfig`, `WorkerConfig`, `S3Options`, …). A command takes the flags of the
/// sections it uses; the file and the environment may set any setting.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Section {
    /// The HTTP listener and shutdown, of every serving role.
    Server,
    /// The database (`StoreOptions`) and the data directory.
    Database,
    Logging,
    /// The API (`ApiConfig`).
    Api,
    /// Tile rendering and signed tile URLs (`TileConfig`).
    Tiles,
    /// The raster store (`S3Options`) and its quota.
    Storage,
    /// The job runner (`WorkerConfig`) and its daily schedule.
    Worker,
    Imagery,
    Weather,
    /// `vivacampo ops`.
    Ops,
}

impl Section {
    pub const ALL: &'static [Section] = &[
        Section::Server,
        Section::Database,
        Section::Logging,
        Section::Api,
        Section::Tiles,
        Section::Storage,
        Section::Worker,
        Section::Imagery,
        Section::Weather,
        Section::Ops,
    ];

    /// The heading of the section's flags in `--help`.
    pub fn heading(self) -> &'static str {
        match self {
            Section::Server => "Server",
            Section::Database => "Database",
            Section::Logging => "Logging",
            Section::Api => "API",
            Section::Tiles => "Tiles",
            Section::Storage => "Raster storage",
            Section::Worker => "Worker",
            Section::Imagery => "Imagery",
            Section::Weather => "Weather",
            Section::Ops => "Operations",
        }
    }
}

/// One setting's definition, as [`SETTINGS`] lists them.
#[derive(Debug, Clone, Copy)]
pub struct Setting {
    /// The file key; also the flag (with dashes) and the variable (`VIVACAMPO_` + capitals).
    pub key: &'static str,
    pub section: Section,
    /// The flag's value name in `--help`, e.g. `DURATION`.
    pub value_name: &'static str,
    /// One line, naming the default.
    pub help: &'static str,
}

impl Setting {
    /// `VIVACAMPO_` + the key in capitals.
    pub fn env_name(&self) -> String {
        format!("VIVACAMPO_{}", self.key.to_ascii_uppercase())
    }

    /// The flag without its leading dashes: the key with dashes.
    pub fn flag(&self) -> String {
        self.key.replace('_', "-")
    }
}

/// Defines every setting once; see the module documentation.
macro_rules! settings {
    ($(
        $(#[$meta:meta])*
        $key:ident: $ty:ty {
            section: $section:ident,
            value: $value:literal,
            help: $help:literal,
            default: $default:expr,
            parse: $parse:expr,
        }
    )*) => {
        /// Every setting, resolved.
        #[derive(Debug, Clone, PartialEq)]
        pub struct Settings {
            $( $(#[$meta])* pub $key: $ty, )*
        }

        impl Default for Settings {
            fn default() -> Self {
                Settings { $( $key: $default, )* }
            }
        }

        /// Every setting, in the order `--help` and the README list them.
        pub const SETTINGS: &[Setting] = &[
            $( Setting {
                key: stringify!($key),
                section: Section::$section,
                value_name: $value,
                help: $help,
            }, )*
        ];

        impl Settings {
            /// Parses `value` into the setting `key`; `None` for an unknown key.
            fn apply_known(&mut self, key: &str, value: &str) -> Option<Result<(), String>> {
                $(
                    if key == stringify!($key) {
                        let parse: fn(&str) -> Result<$ty, String> = $parse;
                        return Some(parse(value).map(|v| self.$key = v));
                    }
                )*
                None
            }
        }
    };
}

settings! {
    bind: SocketAddr {
        section: Server,
        value: "HOST:PORT",
        help: "address to listen on (default 127.0.0.1:8080)",
        default: SocketAddr::from(([127, 0, 0, 1], 8080)),
        parse: |v| v.trim().parse().map_err(|_| {
            format!("expected HOST:PORT such as 127.0.0.1:8080, got {v:?}")
        }),
    }
    /// Longest the API takes to answer a request before it gives 503 instead.
    request_timeout: Duration {
        section: Server,
        value: "DURATION",
        help: "longest the API takes to answer before it gives 503 instead (default 30s)",
        default: Duration::from_secs(30),
        parse: |v| at_least(parse_duration(v), Duration::from_secs(1), "1s"),
    }
    shutdown_grace: Duration {
        section: Server,
        value: "DURATION",
        help: "time running requests and jobs get to finish on shutdown (default 20s)",
        default: Duration::from_secs(20),
        parse: parse_duration,
    }
    /// After SIGTERM, how long `/readyz` says 503 while requests are still served.
    shutdown_drain: Duration {
        section: Server,
        value: "DURATION",
        help: "after SIGTERM, /readyz answers 503 this long while requests are still served (default 5s)",
        default: Duration::from_secs(5),
        parse: parse_duration,
    }
    /// A separate address serving `/metrics` (then not served on `bind`); `None`: on `bind`.
    metrics_bind: Option<SocketAddr> {
        section: Server,
        value: "HOST:PORT",
        help: "separate HOST:PORT for /metrics, which then leaves the public listener, or off (default off)",
        default: None,
        parse: |v| match v.trim() {
            "off" | "none" | "" => Ok(None),
            other => other.parse().map(Some).map_err(|_| {
                format!("expected HOST:PORT such as 127.0.0.1:9090, or off, got {v:?}")
            }),
        },
    }
    data_dir: PathBuf {
        section: Database,
        value: "DIR",
        help: "directory for the SQLite database, the tile key and rasters (default ./vivacampo-data)",
        default: PathBuf::from("./vivacampo-data"),
        parse: |v| Ok(PathBuf::from(v)),
    }
    /// `None`: SQLite file `vivacampo.db` in the data dir.
    database_url: Option<String> {
        section: Database,
        value: "URL",
        help: "database URL: sqlite://PATH or postgres://USER@HOST/DB (default: SQLite in the data dir)",
        default: None,
        parse: |v| {
            let url = v.trim();
            if url.starts_with("sqlite:")
                || url.starts_with("postgres://")
                || url.starts_with("postgresql://")
            {
                Ok(Some(url.to_owned()))
            } else {
                Err("expected sqlite://PATH or postgres://USER@HOST/DB".to_owned())
            }
        },
    }
    db_max_connections: u32 {
        section: Database,
        value: "N",
        help: "database pool size (default 10)",
        default: 10,
        parse: |v| parse_number(v, 1),
    }
    db_acquire_timeout: Duration {
        section: Database,
        value: "DURATION",
        help: "wait for a free connection before answering 503 (default 3s)",
        default: Duration::from_secs(3),
        parse: parse_duration,
    }
    /// Longest a database statement may run (lock waits included) before the caller gets 503.
    db_statement_timeout: Duration {
        section: Database,
        value: "DURATION",
        help: "longest a database statement may run, lock waits included, before 503 (default 10s)",
        default: Duration::from_secs(10),
        parse: |v| at_least(parse_duration(v), Duration::from_millis(100), "100ms"),
    }
    /// Statements this long or longer are logged (WARN), counted and listed by `ops status`.
    db_slow_statement: Duration {
        section: Database,
        value: "DURATION",
        help: "statements this long or longer are logged, counted and shown by ops status; 0s: every statement (default 500ms)",
        default: Duration::from_millis(500),
        parse: parse_duration,
    }
    log: String {
        section: Logging,
        value: "FILTER",
        help: "log filter, e.g. info or vivacampo=debug (default info)",
        default: "info".into(),
        parse: |v| Ok(v.to_owned()),
    }
    log_format: LogFormat {
        section: Logging,
        value: "FORMAT",
        help: "log format: json or text (default json)",
        default: LogFormat::Json,
        parse: |v| match v.trim() {
            "json" => Ok(LogFormat::Json),
            "text" => Ok(LogFormat::Text),
            _ => Err(format!("expected json or text, got {v:?}")),
        },
    }
    migrate_on_start: bool {
        section: Api,
        value: "BOOL",
        help: "apply migrations when serve/api start (default true)",
        default: true,
        parse: parse_bool,
    }
    token_ttl: Duration {
        section: Api,
        value: "DURATION",
        help: "lifetime of a login token (default 12h)",
        default: Duration::from_secs(12 * 3600),
        parse: |v| at_least(parse_duration(v), Duration::from_secs(60), "1m"),
    }
    signup: bool {
        section: Api,
        value: "BOOL",
        help: "allow POST /v1/auth/signup (default true)",
        default: true,
        parse: parse_bool,
    }
    body_limit: usize {
        section: Api,
        value: "SIZE",
        help: "largest request body in bytes, or with KiB/MiB (default 2MiB)",
        default: 2 * 1024 * 1024,
        parse: parse_bytes,
    }
    /// Largest boundary file `POST /v1/farms/{id}/import` accepts.
    import_limit: usize {
        section: Api,
        value: "SIZE",
        help: "largest boundary file a field import accepts (default 50MiB)",
        default: 50 * 1024 * 1024,
        parse: parse_bytes,
    }
    auth_rate_limit: u32 {
        section: Api,
        value: "N",
        help: "sign-in attempts per client IP per minute (default 30)",
        default: 30,
        parse: |v| parse_number(v, 1),
    }
    backfill_weeks: u32 {
        section: Api,
        value: "N",
        help: "weeks a new field's first backfill covers, 1-104 (default 8)",
        default: 8,
        parse: |v| match parse_number(v, 1u32) {
            Ok(v) if v > 104 => Err("must be at most 104".to_owned()),
            other => other,
        },
    }
    /// The web app's base map: an http(s) tile URL template, or `none`.
    basemap: String {
        section: Api,
        value: "URL",
        help: "web app base map: an http(s) tile URL template with {z}, {x} and {y}, or none (default: OpenStreetMap)",
        default: vivacampo_api::routes::web::DEFAULT_BASEMAP.into(),
        parse: parse_basemap,
    }
    /// Secret that signs tile URLs; `None`: a random key kept in `DATA_DIR/tile.key`.
    tile_key: Option<String> {
        section: Tiles,
        value: "SECRET",
        help: "secret (16+ characters) signing tile URLs; replicas must share it (default: random, kept in DATA_DIR/tile.key)",
        default: None,
        parse: |v| {
            let key = v.trim();
            if key.len() < 16 {
                Err("must be at least 16 characters".to_owned())
            } else {
                Ok(Some(key.to_owned()))
            }
        },
    }
    /// How long a signed tile URL stays valid.
    tile_url_ttl: Duration {
        section: Tiles,
        value: "DURATION",
        help: "how long a signed tile URL is valid (default 12h)",
        default: Duration::from_secs(12 * 3600),
        parse: |v| at_least(parse_duration(v), Duration::from_secs(60), "1m"),
    }
    /// Bytes of rendered tiles kept in memory (0: off).
    tile_cache: usize {
        section: Tiles,
        value: "SIZE",
        help: "memory for rendered tiles, e.g. 256MiB; 0 turns it off (default 256MiB)",
        default: 256 * 1024 * 1024,
        parse: parse_bytes,
    }
    /// Bytes of decoded COG blocks kept in memory (0: off).
    tile_block_cache: usize {
        section: Tiles,
        value: "SIZE",
        help: "memory for decoded COG blocks, e.g. 256MiB; 0 turns it off (default 256MiB)",
        default: 256 * 1024 * 1024,
        parse: parse_bytes,
    }
    /// Tiles rendered at once; `None`: the number of CPU cores.
    tile_concurrency: Option<usize> {
        section: Tiles,
        value: "N",
        help: "tiles rendered at once; more wait briefly, then get 503 (default: CPU cores)",
        default: None,
        parse: |v| parse_number(v, 1usize).map(Some),
    }
    /// The public base URL of absolute links (TileJSON tile URLs); `None`: from the request.
    public_url: Option<String> {
        section: Tiles,
        value: "URL",
        help: "public base URL of absolute links such as TileJSON tile URLs, e.g. https://tiles.example.com (default: from the request)",
        default: None,
        parse: parse_public_url,
    }
    /// `None`: the local directory `rasters` in the data dir; else a path or `s3://bucket/prefix`.
    raster_store: Option<String> {
        section: Storage,
        value: "LOCATION",
        help: "where field-week COGs go: a directory or s3://bucket/prefix (default DATA_DIR/rasters)",
        default: None,
        parse: |v| Ok(Some(v.trim().to_owned())),
    }
    /// Longest one raster store call (connect, read or write) may take.
    store_timeout: Duration {
        section: Storage,
        value: "DURATION",
        help: "longest one raster store call may take before it fails (default 10s)",
        default: Duration::from_secs(10),
        parse: |v| at_least(parse_duration(v), Duration::from_millis(100), "100ms"),
    }
    /// Bytes the raster store may hold before `ops status` warns (at 90 %); `None`: no quota.
    storage_quota: Option<usize> {
        section: Storage,
        value: "SIZE",
        help: "bytes of field-week COGs before ops status warns (at 90 %), e.g. 500GiB, or off (default off)",
        default: None,
        parse: |v| match v.trim() {
            "off" | "none" => Ok(None),
            other => parse_bytes(other).map(Some),
        },
    }
    /// S3 settings of an `s3://` raster store; each `None` falls back to its `AWS_*` variable.
    s3_endpoint: Option<String> {
        section: Storage,
        value: "URL",
        help: "S3 endpoint URL of an s3:// raster store, e.g. http://127.0.0.1:9000 (default: AWS_ENDPOINT)",
        default: None,
        parse: |v| {
            let url = v.trim();
            if url.starts_with("http://") || url.starts_with("https://") {
                Ok(Some(url.to_owned()))
            } else {
                Err("expected an http:// or https:// URL".to_owned())
            }
        },
    }
    s3_region: Option<String> {
        section: Storage,
        value: "REGION",
        help: "S3 region of an s3:// raster store (default: AWS_REGION)",
        default: None,
        parse: |v| Ok(Some(v.trim().to_owned())),
    }
    s3_access_key_id: Option<String> {
        section: Storage,
        value: "ID",
        help: "S3 access key id of an s3:// raster store (default: AWS_ACCESS_KEY_ID)",
        default: None,
        parse: |v| Ok(Some(v.trim().to_owned())),
    }
    s3_secret_access_key: Option<Secret> {
        section: Storage,
        value: "SECRET",
        help: "S3 secret key of an s3:// raster store; never logged; prefer the file or the variable, as other users can see command lines (default: AWS_SECRET_ACCESS_KEY)",
        default: None,
        parse: |v| Ok(Some(Secret(v.trim().to_owned()))),
    }
    /// `None`: `AWS_ALLOW_HTTP`, or an `http://` endpoint.
    s3_allow_http: Option<bool> {
        section: Storage,
        value: "BOOL",
        help: "allow a plain-HTTP S3 endpoint (default: AWS_ALLOW_HTTP, or true for an http:// endpoint)",
        default: None,
        parse: |v| parse_bool(v).map(Some),
    }
    worker_concurrency: usize {
        section: Worker,
        value: "N",
        help: "jobs a worker runs at once (default 2)",
        default: 2,
        parse: |v| parse_number(v, 1),
    }
    job_lease: Duration {
        section: Worker,
        value: "DURATION",
        help: "job lease; a dead worker's job is retried after it (default 30s)",
        default: Duration::from_secs(30),
        parse: |v| at_least(parse_duration(v), Duration::from_millis(200), "200ms"),
    }
    /// Longest one job attempt may run before it is stopped and retried, for every job type;
    /// `None`: each type's own limit.
    job_timeout: Option<Duration> {
        section: Worker,
        value: "DURATION",
        help: "longest one job attempt may run before it is stopped and retried, e.g. 15m (default: each type's own: 5m imagery and weather, 2m backfills, 1m deliveries)",
        default: None,
        parse: |v| at_least(parse_duration(v), Duration::from_secs(1), "1s").map(Some),
    }
    /// Field-week COGs of weeks older than this are removed daily (statistics stay); `None`
    /// keeps them for ever.
    raster_retention: Option<Duration> {
        section: Worker,
        value: "DURATION",
        help: "remove field-week COGs of weeks older than this, e.g. 730d; statistics stay (default off)",
        default: None,
        parse: |v| match v.trim() {
            "off" | "none" => Ok(None),
            other => at_least(parse_duration(other), Duration::from_secs(86_400), "1d").map(Some),
        },
    }
    /// Age after which a raster store object no database row names is deleted.
    orphan_grace: Duration {
        section: Worker,
        value: "DURATION",
        help: "age after which a raster file no database row names is deleted (default 24h)",
        default: Duration::from_secs(24 * 3600),
        parse: |v| at_least(parse_duration(v), Duration::from_secs(3600), "1h"),
    }
    /// Finished jobs older than this are deleted by the daily scheduler.
    job_history: Duration {
        section: Worker,
        value: "DURATION",
        help: "finished jobs older than this are deleted daily (default 30d)",
        default: Duration::from_secs(30 * 86_400),
        parse: |v| at_least(parse_duration(v), Duration::from_secs(3600), "1h"),
    }
    /// `earth-search`, `planetary-computer`, a STAC API URL or a static catalog directory.
    imagery_source: String {
        section: Imagery,
        value: "SOURCE",
        help: "imagery source: earth-search, planetary-computer, sentinel-hub, a STAC API URL or a catalog directory (default earth-search)",
        default: "earth-search".into(),
        parse: |v| Ok(v.trim().to_owned()),
    }
    /// Sentinel-1 radar: `planetary-computer`, a STAC API URL, a catalog directory,
    /// `sentinel-hub` or `off`; `None`: see [`Settings::radar_source`].
    radar_source: Option<String> {
        section: Imagery,
        value: "SOURCE",
        help: "Sentinel-1 radar: planetary-computer, a STAC API URL, a catalog directory, sentinel-hub or off (default planetary-computer; the imagery_source itself when that is a STAC API URL or a catalog directory)",
        default: None,
        parse: |v| match v.trim() {
            "" => Err("expected planetary-computer, a STAC API URL, a catalog directory, sentinel-hub or off".to_owned()),
            v => Ok(Some(v.to_owned())),
        },
    }
    /// Sentinel Hub base URL (`imagery_source = sentinel-hub`); default the Copernicus Data
    /// Space Ecosystem's.
    sentinel_hub_url: String {
        section: Imagery,
        value: "URL",
        help: "Sentinel Hub base URL for imagery_source sentinel-hub (default https://sh.dataspace.copernicus.eu, the Copernicus Data Space Ecosystem)",
        default: vivacampo_imagery::sentinel_hub::CDSE_URL.into(),
        parse: |v| {
            let v = v.trim().trim_end_matches('/');
            if v.starts_with("http://") || v.starts_with("https://") {
                Ok(v.to_owned())
            } else {
                Err("expected an http:// or https:// URL".to_owned())
            }
        },
    }
    /// Sentinel Hub OAuth2 client id.
    sentinel_hub_client_id: Option<String> {
        section: Imagery,
        value: "ID",
        help: "Sentinel Hub OAuth2 client id (default: none)",
        default: None,
        parse: |v| Ok(Some(v.trim().to_owned())),
    }
    /// Sentinel Hub OAuth2 client secret.
    sentinel_hub_client_secret: Option<Secret> {
        section: Imagery,
        value: "SECRET",
        help: "Sentinel Hub OAuth2 client secret; never logged; prefer the file or the variable (default: none)",
        default: None,
        parse: |v| Ok(Some(Secret(v.trim().to_owned()))),
    }
    /// `open-meteo`, the base URL of a server speaking its API, `demo`, or `off`.
    weather_source: String {
        section: Weather,
        value: "SOURCE",
        help: "weather source: open-meteo, the base URL of a server speaking its API, demo, or off (default open-meteo)",
        default: "open-meteo".into(),
        parse: parse_weather_source,
    }
    /// Open-Meteo commercial API key: with `open-meteo`, the customer hosts are used.
    weather_apikey: Option<Secret> {
        section: Weather,
        value: "SECRET",
        help: "Open-Meteo commercial API key; with open-meteo the customer hosts are used; never logged; prefer the file or the variable (default: none, the free non-commercial hosts)",
        default: None,
        parse: |v| Ok(Some(Secret(v.trim().to_owned()))),
    }
    /// Crop seasons of weather history a new weather cell gets.
    weather_history_seasons: u32 {
        section: Weather,
        value: "N",
        help: "crop seasons of weather history a new weather grid cell gets, 1-40 (default 10)",
        default: 10,
        parse: |v| match parse_number(v, 1u32) {
            Ok(v) if v > 40 => Err("must be between 1 and 40".to_owned()),
            other => other,
        },
    }
    /// The mail server of signal e-mails (`smtp://`, `smtps://`, may hold a password);
    /// `None`: no e-mails.
    smtp_url: Option<Secret> {
        section: Worker,
        value: "URL",
        help: "mail server of signal e-mails: smtps://user:pass@host[:465] (TLS), smtp://user:pass@host:587?tls=required (STARTTLS), smtp://host[:25] (STARTTLS when offered), ?tls=none; never logged; prefer the file or the variable (default: none, no e-mails)",
        default: None,
        parse: |v| match v.trim() {
            "" | "off" | "none" => Ok(None),
            url => vivacampo_notify::smtp::SmtpConfig::from_url(url, "vivacampo@localhost")
                .map(|_| Some(Secret(url.to_owned())))
                .map_err(|e| e.to_string().trim_start_matches("smtp_url: ").to_owned()),
        },
    }
    /// The sender address of signal e-mails.
    smtp_from: String {
        section: Worker,
        value: "ADDRESS",
        help: "sender address of signal e-mails (default vivacampo@localhost)",
        default: "vivacampo@localhost".into(),
        parse: |v| vivacampo_notify::smtp::check_address(v.trim()).map(|()| v.trim().to_owned()),
    }
    /// A PEM file of CA certificates trusted, besides the public roots, for the mail server's
    /// certificate (a relay with a private CA); read and checked at start-up.
    smtp_ca_file: Option<PathBuf> {
        section: Worker,
        value: "FILE",
        help: "PEM file of extra CA certificates trusted for the mail server's TLS certificate, for a relay with a private CA (default: none, the public roots only)",
        default: None,
        parse: |v| match v.trim() {
            "" | "off" | "none" => Ok(None),
            path => vivacampo_notify::smtp::load_ca_file(Path::new(path))
                .map(|_| Some(PathBuf::from(path))),
        },
    }
    /// When the daily e-mail digest goes out: a time of day, UTC. The default is the morning in
    /// Brazil, the first market (07:00 in Brasília).
    email_digest_at: Duration {
        section: Worker,
        value: "HH:MM",
        help: "time of day (UTC) the daily e-mail digest goes out (default 10:00, 07:00 in Brasília)",
        default: Duration::from_secs(10 * 3600),
        parse: parse_time_of_day,
    }
    /// Whether webhooks may reach loopback, private, link-local and other non-public addresses
    /// (a closed network, tests). The API checks it when a webhook is created, the worker when
    /// it delivers: set it for both, in the file or the environment.
    webhook_allow_private: bool {
        section: Worker,
        value: "BOOL",
        help: "let webhooks reach loopback, private and link-local addresses, for a closed network; read by the API and the worker (default false: public addresses only)",
        default: false,
        parse: parse_bool,
    }
    /// Where `vivacampo ops incident new` writes incident logs.
    incident_dir: PathBuf {
        section: Ops,
        value: "DIR",
        help: "where vivacampo ops incident new writes incident logs (default ./incidents)",
        default: PathBuf::from("./incidents"),
        parse: |v| Ok(PathBuf::from(v.trim())),
    }
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

/// Parses a time of day `HH:MM` (24 h) as the time since midnight.
fn parse_time_of_day(text: &str) -> Result<Duration, String> {
    let invalid = || format!("expected a time of day like 10:00 or 07:30 (24 h), got {text:?}");
    let (hours, minutes) = text.trim().split_once(':').ok_or_else(invalid)?;
    let (hours, minutes): (u64, u64) = (
        hours.parse().map_err(|_| invalid())?,
        minutes.parse().map_err(|_| invalid())?,
    );
    if hours > 23 || minutes > 59 || text.trim().len() > 5 {
        return Err(invalid());
    }
    Ok(Duration::from_secs(hours * 3600 + minutes * 60))
}

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
/// `open-meteo`, `demo`, `off`, or an `http(s)://` base URL (without a trailing `/`).
fn parse_weather_source(text: &str) -> Result<String, String> {
    let text = text.trim();
    match text {
        "open-meteo" | "demo" | "off" => Ok(text.to_owned()),
        url if (url.starts_with("http://") || url.starts_with("https://"))
            && url.len() > "https://".len() =>
        {
            Ok(url.trim_end_matches('/').to_owned())
        }
        _ => Err("expected open-meteo, demo, off, or an http(s):// base URL".to_owned()),
    }
}

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

fn parse_public_url(text: &str) -> Result<Option<String>, String> {
    let url = text.trim().trim_end_matches('/');
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .unwrap_or_default();
    if rest.is_empty()
        || rest.contains(['?', '#'])
        || url.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        Err(format!(
            "expected an http(s) base URL such as https://tiles.example.com, got {text:?}"
        ))
    } else {
        Ok(Some(url.to_owned()))
    }
}

impl Settings {
    /// Sets one value; `source` names where it came from for the error message.
    pub fn apply(&mut self, key: &str, value: &str, source: &str) -> Result<(), String> {
        let result = self.apply_known(key, value).unwrap_or_else(|| {
            Err(format!(
                "unknown setting; known settings: {}",
                SETTINGS
                    .iter()
                    .map(|s| s.key)
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        });
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
        for setting in SETTINGS {
            let name = setting.env_name();
            if let Some(value) = vars(&name) {
                self.apply(setting.key, &value, &format!("{name}={value:?}"))?;
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

    /// The radar source in effect: the setting, else `planetary-computer` — unless
    /// `imagery_source` is a STAC API URL or a catalog directory (a self-hosted catalog, the
    /// offline demo's), whose `sentinel-1-rtc` items are then used too.
    pub fn radar_source(&self) -> String {
        if let Some(s) = &self.radar_source {
            return s.clone();
        }
        match self.imagery_source.as_str() {
            "earth-search" | "planetary-computer" | "sentinel-hub" => "planetary-computer".into(),
            other => other.to_owned(),
        }
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

/// Which sections' flags a command takes.
pub trait Scope {
    const SECTIONS: &'static [Section];
}

/// The scopes of the commands (see `main.rs`).
pub mod scope {
    use super::{Scope, Section};

    /// `serve` and `demo`: every setting.
    pub struct All;
    impl Scope for All {
        const SECTIONS: &'static [Section] = Section::ALL;
    }

    /// `api`: the HTTP API with its tile routes.
    pub struct Api;
    impl Scope for Api {
        const SECTIONS: &'static [Section] = &[
            Section::Server,
            Section::Api,
            Section::Tiles,
            Section::Storage,
            Section::Database,
            Section::Logging,
        ];
    }

    /// `tiler`: the tile routes alone.
    pub struct Tiler;
    impl Scope for Tiler {
        const SECTIONS: &'static [Section] = &[
            Section::Server,
            Section::Tiles,
            Section::Storage,
            Section::Database,
            Section::Logging,
        ];
    }

    /// `worker`: the job runner (and its ops endpoints on `bind`).
    pub struct Worker;
    impl Scope for Worker {
        const SECTIONS: &'static [Section] = &[
            Section::Server,
            Section::Worker,
            Section::Imagery,
            Section::Weather,
            Section::Storage,
            Section::Database,
            Section::Logging,
        ];
    }

    /// `migrate` and `admin`: the database only.
    pub struct Database;
    impl Scope for Database {
        const SECTIONS: &'static [Section] = &[Section::Database, Section::Logging];
    }

    /// `ops`: the database, the raster store and incident logs.
    pub struct Ops;
    impl Scope for Ops {
        const SECTIONS: &'static [Section] = &[
            Section::Ops,
            Section::Storage,
            Section::Database,
            Section::Logging,
        ];
    }
}

/// The `--config` flag and the setting flags of the scope `S`'s sections, for
/// `#[command(flatten)]`. The flags are global to the command, so `vivacampo admin
/// create-user … --database-url URL` works as well as `vivacampo admin --database-url URL …`.
pub struct Flags<S> {
    /// `--config FILE`.
    pub config: Option<PathBuf>,
    /// The setting flags given, as (key, value).
    pub values: Vec<(&'static str, String)>,
    scope: PhantomData<S>,
}

impl<S: Scope> Flags<S> {
    /// The settings: defaults < file < `env` < these flags.
    pub fn resolve(&self, env: impl Fn(&str) -> Option<String>) -> Result<Settings, String> {
        resolve(self.config.as_deref(), env, &self.values)
    }

    /// The settings whose flags the scope takes.
    pub fn settings() -> impl Iterator<Item = &'static Setting> {
        S::SECTIONS
            .iter()
            .flat_map(|section| SETTINGS.iter().filter(move |s| s.section == *section))
    }
}

impl<S: Scope> clap::FromArgMatches for Flags<S> {
    fn from_arg_matches(matches: &clap::ArgMatches) -> Result<Self, clap::Error> {
        let values = Self::settings()
            .filter_map(|s| {
                matches
                    .get_one::<String>(s.key)
                    .map(|value| (s.key, value.clone()))
            })
            .collect();
        Ok(Flags {
            config: matches.get_one::<PathBuf>("config").cloned(),
            values,
            scope: PhantomData,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &clap::ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars
        .next()
        .map(|first| first.to_uppercase().chain(chars).collect())
        .unwrap_or_default()
}

impl<S: Scope> clap::Args for Flags<S> {
    fn augment_args(cmd: clap::Command) -> clap::Command {
        // Restored at the end, for arguments declared after the flatten.
        let heading: Option<&'static str> = cmd
            .get_next_help_heading()
            .map(|h| &*Box::leak(h.to_owned().into_boxed_str()));
        let mut cmd = cmd.next_help_heading("Configuration").arg(
            clap::Arg::new("config")
                .long("config")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .global(true)
                .help("Configuration file (default: ./vivacampo.toml if it exists)"),
        );
        for section in S::SECTIONS {
            cmd = cmd.next_help_heading(section.heading());
            for s in SETTINGS.iter().filter(|s| s.section == *section) {
                // Built once per run; the strings live as long as the command.
                let long: &'static str = Box::leak(s.flag().into_boxed_str());
                cmd = cmd.arg(
                    clap::Arg::new(s.key)
                        .long(long)
                        .value_name(s.value_name)
                        .global(true)
                        .help(format!("{} [env {}]", capitalised(s.help), s.env_name())),
                );
            }
        }
        cmd.next_help_heading(heading)
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
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
    fn sentinel_hub_settings_parse_and_hide_the_secret() {
        let env = |name: &str| match name {
            "VIVACAMPO_IMAGERY_SOURCE" => Some("sentinel-hub".to_owned()),
            "VIVACAMPO_SENTINEL_HUB_CLIENT_ID" => Some("sh-client".to_owned()),
            "VIVACAMPO_SENTINEL_HUB_CLIENT_SECRET" => Some("sh-very-secret".to_owned()),
            "VIVACAMPO_SENTINEL_HUB_URL" => Some("https://services.sentinel-hub.com/".to_owned()),
            _ => None,
        };
        let s = resolve(None, env, &[]).unwrap();
        assert_eq!(s.imagery_source, "sentinel-hub");
        assert_eq!(s.sentinel_hub_url, "https://services.sentinel-hub.com");
        assert_eq!(s.sentinel_hub_client_id.as_deref(), Some("sh-client"));
        assert_eq!(
            s.sentinel_hub_client_secret.as_ref().map(Secret::expose),
            Some("sh-very-secret")
        );
        let shown = format!("{s:?}");
        assert!(!shown.contains("sh-very-secret"), "{shown}");
        assert_eq!(
            Settings::default().sentinel_hub_url,
            "https://sh.dataspace.copernicus.eu"
        );
        let bad = |name: &str| (name == "VIVACAMPO_SENTINEL_HUB_URL").then(|| "ftp://x".to_owned());
        let err = resolve(None, bad, &[]).unwrap_err().to_string();
        assert!(err.to_lowercase().contains("sentinel_hub_url"), "{err}");
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
    fn weather_settings() {
        let d = Settings::default();
        assert_eq!(
            (d.weather_source.as_str(), d.weather_history_seasons),
            ("open-meteo", 10)
        );
        let env = |n: &str| match n {
            "VIVACAMPO_WEATHER_SOURCE" => Some("http://127.0.0.1:9/".to_owned()),
            "VIVACAMPO_WEATHER_APIKEY" => Some("s3cr3t-key".to_owned()),
            _ => None,
        };
        let s = resolve(None, env, &[("weather_history_seasons", "3".to_owned())]).unwrap();
        assert_eq!(s.weather_source, "http://127.0.0.1:9");
        assert_eq!(s.weather_history_seasons, 3);
        assert!(!format!("{s:?}").contains("s3cr3t-key"));
        let err = resolve(None, |_| None, &[("weather_source", "meteo".to_owned())]).unwrap_err();
        assert_eq!(
            err,
            "invalid --weather-source \"meteo\": expected open-meteo, demo, off, or an http(s):// base URL"
        );
        let err = resolve(
            None,
            |_| None,
            &[("weather_history_seasons", "41".to_owned())],
        )
        .unwrap_err();
        assert!(err.contains("between 1 and 40"), "{err}");
    }

    #[test]
    fn smtp_ca_file_is_read_at_start_up() {
        assert_eq!(Settings::default().smtp_ca_file, None);
        let ca = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../vivacampo-notify/tests/fixtures/tls/ca.pem");
        let ca_text = ca.to_str().unwrap().to_owned();
        let s = resolve(
            None,
            |n| (n == "VIVACAMPO_SMTP_CA_FILE").then(|| ca_text.clone()),
            &[],
        )
        .unwrap();
        assert_eq!(s.smtp_ca_file.as_deref(), Some(ca.as_path()));
        let err = resolve(
            None,
            |n| (n == "VIVACAMPO_SMTP_CA_FILE").then(|| "/nonexistent/ca.pem".to_owned()),
            &[],
        )
        .unwrap_err();
        assert_eq!(
            err,
            "invalid VIVACAMPO_SMTP_CA_FILE=\"/nonexistent/ca.pem\": cannot read the file (No such file or directory)"
        );
        let key = ca.with_file_name("server.key");
        let err = resolve(
            None,
            |_| None,
            &[("smtp_ca_file", key.to_str().unwrap().to_owned())],
        )
        .unwrap_err();
        assert!(
            err.ends_with(": the file holds no PEM certificate"),
            "{err}"
        );
    }

    #[test]
    fn the_digest_time_is_a_time_of_day() {
        assert_eq!(
            Settings::default().email_digest_at,
            Duration::from_secs(36_000)
        );
        assert_eq!(parse_time_of_day("07:30"), Ok(Duration::from_secs(27_000)));
        assert_eq!(parse_time_of_day(" 0:05 "), Ok(Duration::from_secs(300)));
        for bad in ["24:00", "7", "07:60", "-1:00", "07:00:00", "sete"] {
            let error = parse_time_of_day(bad).unwrap_err();
            assert!(error.contains("time of day like 10:00"), "{bad}: {error}");
        }
    }

    #[test]
    fn webhook_allow_private_is_off_unless_set() {
        assert!(!Settings::default().webhook_allow_private);
        let s = resolve(
            None,
            |n| (n == "VIVACAMPO_WEBHOOK_ALLOW_PRIVATE").then(|| "true".to_owned()),
            &[],
        )
        .unwrap();
        assert!(s.webhook_allow_private);
        let err = resolve(
            None,
            |_| None,
            &[("webhook_allow_private", "maybe".to_owned())],
        )
        .unwrap_err();
        assert_eq!(
            err,
            "invalid --webhook-allow-private \"maybe\": expected true or false, got \"maybe\""
        );
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
