//! Starting the roles: logging, the store, the HTTP server, the worker, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use vivacampo_api::tiles::TileConfig;
use vivacampo_api::{ApiConfig, AppState};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::source::{HttpOptions, S3Options, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::{Store, StoreOptions, redact};
use vivacampo_worker::process_week::Imagery;
use vivacampo_worker::{StandardHandlers, Worker, WorkerConfig};

use crate::config::{LogFormat, Settings};

/// Which roles a process runs.
#[derive(Debug, Clone, Copy)]
pub struct Roles {
    /// The whole HTTP API (tiles included).
    pub api: bool,
    /// The tile routes alone (when `api` is off).
    pub tiler: bool,
    pub worker: bool,
}

impl Roles {
    pub const ALL: Roles = Roles {
        api: true,
        tiler: true,
        worker: true,
    };
    pub const API: Roles = Roles {
        api: true,
        tiler: true,
        worker: false,
    };
    pub const TILER: Roles = Roles {
        api: false,
        tiler: true,
        worker: false,
    };
    pub const WORKER: Roles = Roles {
        api: false,
        tiler: false,
        worker: true,
    };
}

/// JSON lines on stdout (or text for people at a terminal), filtered by the `log` setting.
pub fn init_logging(settings: &Settings) {
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stdout);
    match settings.log_format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .init(),
        LogFormat::Text => builder.init(),
    }
}

/// Opens the configured database.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    let url = settings.database_url();
    let options = StoreOptions {
        url: url.clone(),
        max_connections: settings.db_max_connections,
        acquire_timeout: settings.db_acquire_timeout,
    };
    Store::open(&options)
        .await
        .with_context(|| format!("cannot open the database {}", redact(&url)))
}

/// Applies pending migrations, or refuses to start on a schema that does not match.
async fn prepare_schema(store: &Store, apply: bool) -> anyhow::Result<()> {
    if apply {
        let applied = store.migrate().await?;
        if !applied.is_empty() {
            tracing::info!(versions = ?applied, "applied database migrations");
        }
    } else if !store.migrations_current().await? {
        bail!("the database schema is not current: run `vivacampo migrate` first");
    }
    Ok(())
}

/// `vivacampo migrate [--status]`.
pub async fn migrate(settings: &Settings, status_only: bool) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    if !status_only {
        let applied = store.migrate().await?;
        if applied.is_empty() {
            println!(
                "database {} is up to date",
                redact(&settings.database_url())
            );
        } else {
            println!(
                "applied {} migration(s) to {}",
                applied.len(),
                redact(&settings.database_url())
            );
        }
    }
    println!(
        "{:>7}  {:<24}  {:<9}  applied at",
        "version", "name", "state"
    );
    for m in store.migration_status().await? {
        let state = if m.unknown {
            "UNKNOWN"
        } else if m.modified {
            "MODIFIED"
        } else if m.applied_at.is_some() {
            "applied"
        } else {
            "pending"
        };
        let at = m
            .applied_at
            .map(vivacampo_api::views::rfc3339)
            .unwrap_or_default();
        println!("{:>7}  {:<24}  {:<9}  {at}", m.version, m.name, state);
    }
    store.close().await;
    Ok(())
}

/// Turns true on SIGINT or SIGTERM.
fn shutdown_signal() -> watch::Receiver<bool> {
    let (tx, rx) = watch::channel(false);
    tokio::spawn(async move {
        let ctrl_c = tokio::signal::ctrl_c();
        #[cfg(unix)]
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut s) => {
                    s.recv().await;
                }
                Err(_) => std::future::pending().await,
            }
        };
        #[cfg(not(unix))]
        let terminate = std::future::pending::<()>();
        tokio::select! {
            _ = ctrl_c => {}
            _ = terminate => {}
        }
        tracing::info!("shutdown requested");
        let _ = tx.send(true);
    });
    rx
}

async fn wait_for(mut rx: watch::Receiver<bool>) {
    while !*rx.borrow() {
        if rx.changed().await.is_err() {
            return;
        }
    }
}

/// The API configuration from the settings.
pub fn api_config(settings: &Settings) -> ApiConfig {
    ApiConfig {
        token_ttl: settings.token_ttl,
        signup_enabled: settings.signup,
        body_limit: settings.body_limit,
        auth_attempts_per_minute: settings.auth_rate_limit,
        default_backfill_weeks: settings.backfill_weeks,
        demo_account: None,
        basemap: settings.basemap.clone(),
    }
}

/// The tile settings; without `tile_key`, a random key made once and kept in the data
/// directory, so signed URLs survive restarts (replicas must be given one shared key).
pub fn tile_config(settings: &Settings) -> anyhow::Result<TileConfig> {
    let key = match &settings.tile_key {
        Some(key) => key.as_bytes().to_vec(),
        None => stored_tile_key(&settings.data_dir.join("tile.key"))?,
    };
    Ok(TileConfig {
        key,
        url_ttl: settings.tile_url_ttl,
        cache_bytes: settings.tile_cache,
        block_cache_bytes: settings.tile_block_cache,
        concurrency: settings
            .tile_concurrency
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get())),
    })
}

/// Reads the key file, or writes a new random key there (readable by the owner only).
fn stored_tile_key(path: &std::path::Path) -> anyhow::Result<Vec<u8>> {
    match std::fs::read(path) {
        Ok(key) if key.len() >= 16 => return Ok(key),
        Ok(_) => bail!(
            "the tile key file {} is too short; delete it to make a new one",
            path.display()
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(e).with_context(|| format!("cannot read the tile key {}", path.display()));
        }
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    // Two v4 UUIDs: 244 random bits from the OS source.
    let key = format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    );
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(path) {
        Ok(mut file) => {
            use std::io::Write as _;
            file.write_all(key.as_bytes())
                .with_context(|| format!("cannot write the tile key {}", path.display()))?;
            tracing::info!(path = %path.display(), "made a new tile signing key");
            Ok(key.into_bytes())
        }
        // Another process made it first: use theirs.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(std::fs::read(path)?),
        Err(e) => Err(e).with_context(|| format!("cannot write the tile key {}", path.display())),
    }
}

/// Runs the given roles until SIGINT/SIGTERM. A worker-only process serves just the operations
/// endpoints on `bind`.
pub async fn serve(settings: &Settings, roles: Roles) -> anyhow::Result<()> {
    serve_with(settings, roles, None, |_| {}).await
}

/// [`serve`], offering `demo_account` (email, password) on the sign-in page, and calling
/// `on_listening` with the bound address.
pub async fn serve_with(
    settings: &Settings,
    roles: Roles,
    demo_account: Option<(String, String)>,
    on_listening: impl FnOnce(SocketAddr),
) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    prepare_schema(&store, roles.api && settings.migrate_on_start).await?;
    let metrics = Arc::new(Registry::new());
    let shutdown = shutdown_signal();

    let imagery = imagery(settings)?;
    let rasters = imagery.rasters.clone();
    let imagery = roles.worker.then_some(imagery);
    let worker = imagery.map(|imagery| {
        let config = WorkerConfig {
            lease: settings.job_lease,
            heartbeat: settings.job_lease / 3,
            shutdown_grace: settings.shutdown_grace,
            ..WorkerConfig::new(settings.worker_concurrency)
        };
        let schedule = vivacampo_worker::scheduler::Schedule {
            raster_retention: settings.raster_retention,
        };
        tokio::spawn(vivacampo_worker::scheduler::run(
            store.clone(),
            config.worker_id.clone(),
            schedule,
            shutdown.clone(),
        ));
        let handlers = StandardHandlers { imagery };
        tokio::spawn(
            Worker::new(store.clone(), handlers, config, metrics.clone()).run(shutdown.clone()),
        )
    });

    let listener = tokio::net::TcpListener::bind(settings.bind)
        .await
        .with_context(|| {
            format!(
                "cannot listen on {} (is another server running there?)",
                settings.bind
            )
        })?;
    let addr = listener.local_addr()?;
    let state = AppState::with_tiles(
        store.clone(),
        rasters,
        ApiConfig {
            demo_account,
            ..api_config(settings)
        },
        metrics.clone(),
        tile_config(settings)?,
    );
    let app = if roles.api {
        tokio::spawn(purge_sessions(store.clone()));
        vivacampo_api::router(state.clone())
    } else if roles.tiler {
        vivacampo_api::tiler_router(state.clone())
    } else {
        vivacampo_api::ops_router(state.clone())
    };
    tracing::info!(address = %addr, database = store.backend().name(), "listening on http://{addr}");
    on_listening(addr);
    let draining = {
        let shutdown = shutdown.clone();
        let state = state.clone();
        async move {
            wait_for(shutdown).await;
            state.begin_shutdown();
        }
    };
    let server = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(draining);
    let grace = settings.shutdown_grace;
    let deadline = {
        let shutdown = shutdown.clone();
        async move {
            wait_for(shutdown).await;
            tokio::time::sleep(grace).await;
        }
    };
    tokio::select! {
        result = server => result.context("HTTP server failed")?,
        _ = deadline => tracing::warn!("requests still open after the shutdown grace period; closing them"),
    }
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    store.close().await;
    tracing::info!("stopped");
    Ok(())
}

/// The S3 settings of the raster store; what is not configured comes from the `AWS_*` variables.
fn raster_store_s3(settings: &Settings) -> S3Options {
    S3Options {
        endpoint: settings.s3_endpoint.clone(),
        region: settings.s3_region.clone(),
        access_key_id: settings.s3_access_key_id.clone(),
        secret_access_key: settings
            .s3_secret_access_key
            .as_ref()
            .map(|s| s.expose().to_owned()),
        allow_http: settings.s3_allow_http,
        ..S3Options::default()
    }
}

/// The imagery catalog, COG sources and raster store the worker uses.
pub fn imagery(settings: &Settings) -> anyhow::Result<Imagery> {
    let http = HttpOptions::default();
    let source = absolute_if_path(&settings.imagery_source)?;
    let catalog = Catalog::from_config(&source, &http)
        .with_context(|| format!("invalid imagery_source {source:?}"))?;
    let location = absolute_if_path(&settings.raster_store())?;
    let rasters = RasterStore::open(&location, &raster_store_s3(settings), &http)
        .with_context(|| format!("cannot open the raster store {location:?}"))?;
    Ok(Imagery {
        catalog,
        sources: Sources::new(SourceOptions::default()),
        rasters,
    })
}

/// A relative directory becomes absolute (object stores need absolute paths); names and URLs
/// stay as they are.
fn absolute_if_path(location: &str) -> anyhow::Result<String> {
    let is_name_or_url =
        matches!(location, "earth-search" | "planetary-computer") || location.contains("://");
    if is_name_or_url {
        return Ok(location.to_owned());
    }
    let path =
        std::path::absolute(location).with_context(|| format!("invalid path {location:?}"))?;
    Ok(path.display().to_string())
}

/// Deletes long-expired sessions once an hour.
async fn purge_sessions(store: Store) {
    let mut every = tokio::time::interval(Duration::from_secs(3600));
    loop {
        every.tick().await;
        match store.purge_expired_sessions().await {
            Ok(0) => {}
            Ok(n) => tracing::info!(count = n, "purged expired sessions"),
            Err(e) => tracing::warn!(error = %e, "cannot purge expired sessions"),
        }
    }
}
