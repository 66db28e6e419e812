//! `vivacampo`: one binary, four roles (see ARCHITECTURE.md) plus administration and a demo.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

mod admin;
mod config;
mod demo;
mod imagery_cmd;
mod raster_cmd;
mod roles;

/// Satellite crop monitoring for farmers and agronomists.
#[derive(Parser)]
#[command(name = "vivacampo", version, about, long_about = None, propagate_version = true)]
#[command(
    after_help = "Settings come from defaults < vivacampo.toml (or --config) < VIVACAMPO_* environment variables < flags.\n\
Example: VIVACAMPO_DATABASE_URL=postgres://postgres@127.0.0.1/vivacampo vivacampo serve"
)]
struct Cli {
    #[command(flatten)]
    global: GlobalArgs,
    #[command(subcommand)]
    command: Command,
}

/// Settings shared by every command; each also has a VIVACAMPO_* variable.
#[derive(Args)]
struct GlobalArgs {
    /// Configuration file (default: ./vivacampo.toml if it exists).
    #[arg(long, global = true, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Address to listen on [env VIVACAMPO_BIND; default 127.0.0.1:8080].
    #[arg(long, global = true, value_name = "HOST:PORT")]
    bind: Option<String>,
    /// Directory for the SQLite database and rasters [env VIVACAMPO_DATA_DIR; default ./vivacampo-data].
    #[arg(long, global = true, value_name = "DIR")]
    data_dir: Option<String>,
    /// sqlite://PATH or postgres://USER@HOST/DB [env VIVACAMPO_DATABASE_URL].
    #[arg(long, global = true, value_name = "URL")]
    database_url: Option<String>,
    /// Database pool size [env VIVACAMPO_DB_MAX_CONNECTIONS; default 10].
    #[arg(long, global = true, value_name = "N")]
    db_max_connections: Option<String>,
    /// Wait for a free database connection before answering 503 [env VIVACAMPO_DB_ACQUIRE_TIMEOUT; default 3s].
    #[arg(long, global = true, value_name = "DURATION")]
    db_acquire_timeout: Option<String>,
    /// Lifetime of login tokens [env VIVACAMPO_TOKEN_TTL; default 12h].
    #[arg(long, global = true, value_name = "DURATION")]
    token_ttl: Option<String>,
    /// Allow self sign-up [env VIVACAMPO_SIGNUP; default true].
    #[arg(long, global = true, value_name = "BOOL")]
    signup: Option<String>,
    /// Apply migrations when serve/api start [env VIVACAMPO_MIGRATE_ON_START; default true].
    #[arg(long, global = true, value_name = "BOOL")]
    migrate_on_start: Option<String>,
    /// Largest request body [env VIVACAMPO_BODY_LIMIT; default 2MiB].
    #[arg(long, global = true, value_name = "SIZE")]
    body_limit: Option<String>,
    /// Sign-in attempts per client IP per minute [env VIVACAMPO_AUTH_RATE_LIMIT; default 30].
    #[arg(long, global = true, value_name = "N")]
    auth_rate_limit: Option<String>,
    /// Jobs a worker runs at once [env VIVACAMPO_WORKER_CONCURRENCY; default 2].
    #[arg(long, global = true, value_name = "N")]
    worker_concurrency: Option<String>,
    /// Job lease; a dead worker's job is retried after it [env VIVACAMPO_JOB_LEASE; default 30s].
    #[arg(long, global = true, value_name = "DURATION")]
    job_lease: Option<String>,
    /// Weeks a new field's first backfill covers [env VIVACAMPO_BACKFILL_WEEKS; default 8].
    #[arg(long, global = true, value_name = "N")]
    backfill_weeks: Option<String>,
    /// Time requests and jobs get to finish on shutdown [env VIVACAMPO_SHUTDOWN_GRACE; default 20s].
    #[arg(long, global = true, value_name = "DURATION")]
    shutdown_grace: Option<String>,
    /// Log filter [env VIVACAMPO_LOG; default info].
    #[arg(long, global = true, value_name = "FILTER")]
    log: Option<String>,
    /// json or text [env VIVACAMPO_LOG_FORMAT; default json].
    #[arg(long, global = true, value_name = "FORMAT")]
    log_format: Option<String>,
    /// earth-search, planetary-computer, a STAC API URL or a catalog directory [env VIVACAMPO_IMAGERY_SOURCE].
    #[arg(long, global = true, value_name = "SOURCE")]
    imagery_source: Option<String>,
    /// Directory or s3://bucket/prefix for field-week COGs [env VIVACAMPO_RASTER_STORE; default DATA_DIR/rasters].
    #[arg(long, global = true, value_name = "LOCATION")]
    raster_store: Option<String>,
    /// Remove field-week COGs of weeks older than this, e.g. 730d, or off [env VIVACAMPO_RASTER_RETENTION; default off].
    #[arg(long, global = true, value_name = "DURATION")]
    raster_retention: Option<String>,
    /// Secret signing tile URLs, 16+ characters; replicas must share it [env VIVACAMPO_TILE_KEY; default: random, kept in DATA_DIR/tile.key].
    #[arg(long, global = true, value_name = "SECRET")]
    tile_key: Option<String>,
    /// How long a signed tile URL is valid [env VIVACAMPO_TILE_URL_TTL; default 12h].
    #[arg(long, global = true, value_name = "DURATION")]
    tile_url_ttl: Option<String>,
    /// Memory for rendered tiles, 0 = off [env VIVACAMPO_TILE_CACHE; default 256MiB].
    #[arg(long, global = true, value_name = "SIZE")]
    tile_cache: Option<String>,
    /// Memory for decoded COG blocks, 0 = off [env VIVACAMPO_TILE_BLOCK_CACHE; default 256MiB].
    #[arg(long, global = true, value_name = "SIZE")]
    tile_block_cache: Option<String>,
    /// Tiles rendered at once; more wait briefly, then get 503 [env VIVACAMPO_TILE_CONCURRENCY; default: CPU cores].
    #[arg(long, global = true, value_name = "N")]
    tile_concurrency: Option<String>,
    /// Web app base map: an http(s) tile URL template with {z}/{x}/{y}, or none [env VIVACAMPO_BASEMAP; default OpenStreetMap].
    #[arg(long, global = true, value_name = "URL")]
    basemap: Option<String>,
    /// S3 endpoint URL of an s3:// raster store [env VIVACAMPO_S3_ENDPOINT; default: AWS_ENDPOINT].
    #[arg(long, global = true, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// S3 region of an s3:// raster store [env VIVACAMPO_S3_REGION; default: AWS_REGION].
    #[arg(long, global = true, value_name = "REGION")]
    s3_region: Option<String>,
    /// S3 access key id [env VIVACAMPO_S3_ACCESS_KEY_ID; default: AWS_ACCESS_KEY_ID].
    #[arg(long, global = true, value_name = "ID")]
    s3_access_key_id: Option<String>,
    /// S3 secret key; prefer the file or the variable, as other users can see command lines [env VIVACAMPO_S3_SECRET_ACCESS_KEY; default: AWS_SECRET_ACCESS_KEY].
    #[arg(long, global = true, value_name = "SECRET")]
    s3_secret_access_key: Option<String>,
    /// Allow a plain-HTTP S3 endpoint [env VIVACAMPO_S3_ALLOW_HTTP; default: AWS_ALLOW_HTTP, or true for an http:// endpoint].
    #[arg(long, global = true, value_name = "BOOL")]
    s3_allow_http: Option<String>,
}

impl GlobalArgs {
    fn flags(&self) -> Vec<(&'static str, String)> {
        [
            ("bind", &self.bind),
            ("data_dir", &self.data_dir),
            ("database_url", &self.database_url),
            ("db_max_connections", &self.db_max_connections),
            ("db_acquire_timeout", &self.db_acquire_timeout),
            ("token_ttl", &self.token_ttl),
            ("signup", &self.signup),
            ("migrate_on_start", &self.migrate_on_start),
            ("body_limit", &self.body_limit),
            ("auth_rate_limit", &self.auth_rate_limit),
            ("worker_concurrency", &self.worker_concurrency),
            ("job_lease", &self.job_lease),
            ("backfill_weeks", &self.backfill_weeks),
            ("shutdown_grace", &self.shutdown_grace),
            ("log", &self.log),
            ("log_format", &self.log_format),
            ("imagery_source", &self.imagery_source),
            ("raster_store", &self.raster_store),
            ("raster_retention", &self.raster_retention),
            ("tile_key", &self.tile_key),
            ("tile_url_ttl", &self.tile_url_ttl),
            ("tile_cache", &self.tile_cache),
            ("tile_block_cache", &self.tile_block_cache),
            ("tile_concurrency", &self.tile_concurrency),
            ("basemap", &self.basemap),
            ("s3_endpoint", &self.s3_endpoint),
            ("s3_region", &self.s3_region),
            ("s3_access_key_id", &self.s3_access_key_id),
            ("s3_secret_access_key", &self.s3_secret_access_key),
            ("s3_allow_http", &self.s3_allow_http),
        ]
        .into_iter()
        .filter_map(|(key, value)| value.clone().map(|v| (key, v)))
        .collect()
    }
}

#[derive(Subcommand)]
enum Command {
    /// API, tiles, worker and web UI in one process (one machine).
    Serve,
    /// HTTP API and web UI only (scale out behind a load balancer).
    Api,
    /// Map tile endpoints only (scale out behind a CDN; replicas share `tile_key`).
    Tiler,
    /// Job runner only (scale out: jobs are leased, never run twice at once).
    Worker,
    /// Apply database migrations, or show their status.
    Migrate {
        /// Only show which migrations are applied and which are pending.
        #[arg(long)]
        status: bool,
    },
    /// Users, tenants, memberships, dead jobs.
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Seed a demo account, farm and fields, then serve.
    Demo(demo::DemoArgs),
    /// Inspect GeoTIFFs, compute statistics, render tiles (JSON on stdout).
    #[command(subcommand)]
    Raster(raster_cmd::RasterCommand),
    /// The offline demo catalog and catalog searches.
    #[command(subcommand)]
    Imagery(imagery_cmd::ImageryCommand),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    vivacampo_imagery::install_crypto_provider();
    // Raster tools are plain CPU work on local files: no configuration, runtime or logging.
    let command = match cli.command {
        Command::Raster(cmd) => {
            return match raster_cmd::run(cmd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vivacampo: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        Command::Imagery(cmd) => {
            return match imagery_cmd::run(cmd) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("vivacampo: {e:#}");
                    ExitCode::FAILURE
                }
            };
        }
        other => other,
    };
    let settings = match config::resolve(
        cli.global.config.as_deref(),
        |name| std::env::var(name).ok(),
        &cli.global.flags(),
    ) {
        Ok(settings) => settings,
        Err(message) => {
            eprintln!("vivacampo: {message}");
            return ExitCode::from(2);
        }
    };
    roles::init_logging(&settings);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("vivacampo: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match command {
            Command::Raster(_) | Command::Imagery(_) => {
                unreachable!("handled before the runtime starts")
            }
            Command::Serve => roles::serve(&settings, roles::Roles::ALL).await,
            Command::Api => roles::serve(&settings, roles::Roles::API).await,
            Command::Tiler => roles::serve(&settings, roles::Roles::TILER).await,
            Command::Worker => roles::serve(&settings, roles::Roles::WORKER).await,
            Command::Migrate { status } => roles::migrate(&settings, status).await,
            Command::Admin(cmd) => admin::run(&settings, cmd).await,
            Command::Demo(args) => demo::run(&settings, args).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vivacampo: {e:#}");
            ExitCode::FAILURE
        }
    }
}
