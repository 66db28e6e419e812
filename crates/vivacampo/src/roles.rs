//! Starting the roles: logging, the store, the HTTP server, the worker, shutdown.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use tokio::sync::watch;
use vivacampo_api::heartbeat::BuildInfo;
use vivacampo_api::tiles::TileConfig;
use vivacampo_api::{ApiConfig, AppState, StorageNeed};
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::radar::StacRadar;
use vivacampo_imagery::source::{HttpOptions, S3Options, SourceOptions, Sources};
use vivacampo_imagery::stac::Catalog;
use vivacampo_imagery::store::RasterStore;
use vivacampo_imagery::weather::server::{WeatherData, WeatherServer};
use vivacampo_imagery::weather::{OpenMeteo, WeatherOptions};
use vivacampo_store::{Store, StoreOptions, redact};
use vivacampo_worker::process_radar::Radar;
use vivacampo_worker::process_week::Imagery;
use vivacampo_worker::weather::Weather;
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
    /// The command that runs these roles, as deploy records and `vivacampo_build_info` name it.
    pub fn name(self) -> &'static str {
        match (self.api, self.worker) {
            (true, true) => "serve",
            (true, false) => "api",
            (false, true) => "worker",
            (false, false) => "tiler",
        }
    }

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

/// JSON lines on stdout (or text for people at a terminal), filtered by the `log` setting; and,
/// whatever that filter says, sqlx's slow-statement events counted by [`SlowStatements`].
pub fn init_logging(settings: &Settings) {
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;

    vivacampo_store::slow::set_threshold(settings.db_slow_statement);
    let filter = tracing_subscriber::EnvFilter::try_new(&settings.log)
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let layer = tracing_subscriber::fmt::layer().with_writer(std::io::stdout);
    let lines = match settings.log_format {
        LogFormat::Json => layer
            .json()
            .flatten_event(true)
            .with_current_span(false)
            .with_filter(filter)
            .boxed(),
        LogFormat::Text => layer.with_filter(filter).boxed(),
    };
    let slow = SlowStatements.with_filter(tracing_subscriber::filter::filter_fn(|meta| {
        meta.target() == "sqlx::query" && *meta.level() <= tracing::Level::WARN
    }));
    tracing_subscriber::registry().with(lines).with(slow).init();
}

/// Hands sqlx's slow-statement events (WARN, target `sqlx::query`, with a `slow_threshold`
/// field) to [`vivacampo_store::slow::record`].
struct SlowStatements;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SlowStatements {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        #[derive(Default)]
        struct Fields {
            summary: String,
            statement: String,
            elapsed_secs: f64,
            slow: bool,
        }
        impl tracing::field::Visit for Fields {
            fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
                match field.name() {
                    "summary" => self.summary = value.to_owned(),
                    "db.statement" => self.statement = value.to_owned(),
                    _ => {}
                }
            }
            fn record_f64(&mut self, field: &tracing::field::Field, value: f64) {
                if field.name() == "elapsed_secs" {
                    self.elapsed_secs = value;
                }
            }
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                match field.name() {
                    "slow_threshold" => self.slow = true,
                    "summary" => self.summary = format!("{value:?}"),
                    "db.statement" => self.statement = format!("{value:?}"),
                    _ => {}
                }
            }
        }
        let mut fields = Fields::default();
        event.record(&mut fields);
        if !fields.slow {
            return;
        }
        let text = if fields.statement.trim().is_empty() {
            fields.summary
        } else {
            fields.statement
        };
        vivacampo_store::slow::record(&text, Duration::from_secs_f64(fields.elapsed_secs.max(0.0)));
    }
}

/// Creates the data directory, if missing, readable by its owner only (0700): it holds the
/// database, the tile key and the rasters.
pub fn ensure_data_dir(settings: &Settings) -> anyhow::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder.create(&settings.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            settings.data_dir.display()
        )
    })
}

/// Opens the configured database.
pub async fn open_store(settings: &Settings) -> anyhow::Result<Store> {
    ensure_data_dir(settings)?;
    let url = settings.database_url();
    let options = StoreOptions {
        url: url.clone(),
        max_connections: settings.db_max_connections,
        acquire_timeout: settings.db_acquire_timeout,
        statement_timeout: settings.db_statement_timeout,
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
        let state = if m.unknown && m.compatible_with_previous {
            "newer-ok"
        } else if m.unknown {
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
        import_limit: settings.import_limit,
        auth_attempts_per_minute: settings.auth_rate_limit,
        default_backfill_weeks: settings.backfill_weeks,
        demo_account: None,
        basemap: settings.basemap.clone(),
        public_url: settings.public_url.clone(),
        storage_quota: settings.storage_quota.map(|q| q as u64),
        serve_metrics: settings.metrics_bind.is_none(),
        webhook_allow_private: settings.webhook_allow_private,
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
    vivacampo_api::process_stats::mark_start();
    let build = BuildInfo {
        role: roles.name().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        commit: env!("VIVACAMPO_GIT_COMMIT").to_owned(),
    };
    build.record(&metrics);
    // Process records go through a connection of their own, so they still arrive when the
    // working pool is exhausted (and say so).
    let records = Store::open(&StoreOptions {
        url: settings.database_url(),
        max_connections: 1,
        acquire_timeout: Duration::from_secs(5),
        statement_timeout: settings.db_statement_timeout,
    })
    .await
    .with_context(|| {
        format!(
            "cannot open the database {}",
            redact(&settings.database_url())
        )
    })?;
    let heartbeat = tokio::spawn(vivacampo_api::heartbeat::run(
        records.clone(),
        store.clone(),
        metrics.clone(),
        build,
        shutdown.clone(),
    ));

    let imagery = imagery(settings)?;
    let rasters = imagery.rasters.clone();
    let weather = match roles.worker {
        true => weather(settings).await?,
        false => None,
    };
    let imagery = roles.worker.then_some(imagery);
    let notifier = notifier(settings)?;
    let worker = imagery.map(|imagery| {
        let config = WorkerConfig {
            lease: settings.job_lease,
            heartbeat: settings.job_lease / 3,
            shutdown_grace: settings.shutdown_grace,
            job_timeout: settings.job_timeout,
            ..WorkerConfig::new(settings.worker_concurrency)
        };
        let schedule = vivacampo_worker::scheduler::Schedule {
            raster_retention: settings.raster_retention,
            orphan_grace: Some(settings.orphan_grace),
            job_history: Some(settings.job_history),
            digest_at: settings.email_digest_at,
        };
        tokio::spawn(vivacampo_worker::scheduler::run(
            store.clone(),
            config.worker_id.clone(),
            schedule,
            shutdown.clone(),
        ));
        let handlers = vivacampo_worker::Notifying {
            inner: StandardHandlers { imagery, weather },
            notifier: notifier.clone(),
        };
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
    state.set_request_timeout(settings.request_timeout);
    state.require_storage(if roles.worker {
        StorageNeed::Write
    } else if roles.tiler {
        StorageNeed::Read
    } else {
        StorageNeed::None
    });
    let app = if roles.api {
        tokio::spawn(purge_sessions(store.clone()));
        vivacampo_api::router(state.clone())
    } else if roles.tiler {
        vivacampo_api::tiler_router(state.clone())
    } else {
        vivacampo_api::ops_router(state.clone())
    };
    if let Some(metrics_addr) = settings.metrics_bind {
        let metrics_listener = tokio::net::TcpListener::bind(metrics_addr)
            .await
            .with_context(|| format!("cannot listen on metrics_bind {metrics_addr}"))?;
        let metrics_app = vivacampo_api::metrics_router(state.clone());
        tracing::info!(address = %metrics_listener.local_addr()?, "metrics on http://{}/metrics", metrics_listener.local_addr()?);
        let shutdown = shutdown.clone();
        tokio::spawn(async move {
            let served = axum::serve(metrics_listener, metrics_app)
                .with_graceful_shutdown(wait_for(shutdown))
                .await;
            if let Err(e) = served {
                tracing::warn!(error = %e, "the metrics listener failed");
            }
        });
    }
    tracing::info!(address = %addr, database = store.backend().name(), "listening on http://{addr}");
    on_listening(addr);
    // On SIGTERM: not ready at once, so load balancers move away, but still serving for the
    // drain period; then no new connections, and in-flight requests get the grace period.
    let drain = settings.shutdown_drain;
    let draining = {
        let shutdown = shutdown.clone();
        let state = state.clone();
        async move {
            wait_for(shutdown).await;
            state.begin_shutdown();
            tracing::info!(
                drain_s = drain.as_secs_f64(),
                "not ready; draining before closing the listener"
            );
            tokio::time::sleep(drain).await;
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
            tokio::time::sleep(drain + grace).await;
        }
    };
    tokio::select! {
        result = server => result.context("HTTP server failed")?,
        _ = deadline => tracing::warn!("requests still open after the shutdown grace period; closing them"),
    }
    if let Some(worker) = worker {
        let _ = worker.await;
    }
    let _ = heartbeat.await;
    records.close().await;
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

/// The configured raster store.
pub fn raster_store(settings: &Settings) -> anyhow::Result<RasterStore> {
    let location = absolute_if_path(&settings.raster_store())?;
    RasterStore::open(
        &location,
        &raster_store_s3(settings),
        &HttpOptions::default(),
    )
    .with_context(|| format!("cannot open the raster store {location:?}"))
}

/// The imagery catalog, COG sources and raster store the worker uses.
pub fn imagery(settings: &Settings) -> anyhow::Result<Imagery> {
    let http = HttpOptions::default();
    let sentinel_hub = sentinel_hub(settings)?;
    // With Sentinel Hub the STAC catalog is unused; Earth Search keeps the type filled.
    let source = if sentinel_hub.is_some() {
        "earth-search".to_owned()
    } else {
        absolute_if_path(&settings.imagery_source)?
    };
    let catalog = Catalog::from_config(&source, &http)
        .with_context(|| format!("invalid imagery_source {source:?}"))?;
    let location = absolute_if_path(&settings.raster_store())?;
    // One store call, its retries included, ends within `store_timeout`.
    let store_http = HttpOptions {
        connect_timeout: settings.store_timeout.min(http.connect_timeout),
        timeout: settings.store_timeout,
        ..http.clone()
    };
    let rasters = RasterStore::open(&location, &raster_store_s3(settings), &store_http)
        .with_context(|| format!("cannot open the raster store {location:?}"))?
        .with_timeout(settings.store_timeout);
    let sources = Sources::new(SourceOptions::default());
    let radar = match settings.radar_source().as_str() {
        "off" => None,
        // One client (and one token) when optical imagery comes from Sentinel Hub too.
        "sentinel-hub" => Some(Radar {
            source: match &sentinel_hub {
                Some(hub) => hub.clone(),
                None => sentinel_hub_client(settings, "radar_source")?,
            },
            rasters: rasters.clone(),
        }),
        other => {
            let radar_source = absolute_if_path(other)?;
            let catalog = Catalog::radar_from_config(&radar_source, &http)
                .with_context(|| format!("invalid radar_source {radar_source:?}"))?;
            Some(Radar {
                source: std::sync::Arc::new(StacRadar {
                    catalog,
                    sources: sources.clone(),
                }),
                rasters: rasters.clone(),
            })
        }
    };
    Ok(Imagery {
        catalog,
        sources,
        rasters,
        sentinel_hub,
        radar,
    })
}

/// The Sentinel Hub client when `imagery_source = sentinel-hub` (its credentials required).
pub fn sentinel_hub(
    settings: &Settings,
) -> anyhow::Result<Option<std::sync::Arc<vivacampo_imagery::sentinel_hub::SentinelHub>>> {
    if settings.imagery_source != "sentinel-hub" {
        return Ok(None);
    }
    sentinel_hub_client(settings, "imagery_source").map(Some)
}

/// A Sentinel Hub client from `sentinel_hub_url` and the client credentials, which `setting`
/// (`imagery_source` or `radar_source` set to `sentinel-hub`) needs. Share one client between
/// both so they share one token.
pub fn sentinel_hub_client(
    settings: &Settings,
    setting: &str,
) -> anyhow::Result<std::sync::Arc<vivacampo_imagery::sentinel_hub::SentinelHub>> {
    use vivacampo_imagery::sentinel_hub::{Config, SentinelHub};
    let (Some(id), Some(secret)) = (
        settings.sentinel_hub_client_id.as_deref(),
        settings.sentinel_hub_client_secret.as_ref(),
    ) else {
        anyhow::bail!(
            "{setting} sentinel-hub needs sentinel_hub_client_id and sentinel_hub_client_secret"
        );
    };
    let config = Config::new(&settings.sentinel_hub_url, id, secret.expose());
    Ok(std::sync::Arc::new(
        SentinelHub::new(config).context("cannot set up the Sentinel Hub client")?,
    ))
}

/// What the worker's notification jobs need: the webhook client and, with `smtp_url`, the mail
/// server.
pub fn notifier(settings: &Settings) -> anyhow::Result<vivacampo_worker::Notifier> {
    let webhooks = vivacampo_notify::webhook::WebhookSender::new(
        vivacampo_notify::webhook::DEFAULT_TIMEOUT,
        settings.webhook_allow_private,
    )
    .context("cannot set up the webhook client")?;
    let smtp = match &settings.smtp_url {
        Some(url) => {
            let mut config =
                vivacampo_notify::smtp::SmtpConfig::from_url(url.expose(), &settings.smtp_from)?;
            if let Some(path) = &settings.smtp_ca_file {
                config = config.with_ca_file(path)?;
            }
            Some(vivacampo_notify::smtp::SmtpClient::new(config))
        }
        None => None,
    };
    Ok(vivacampo_worker::Notifier {
        webhooks,
        smtp,
        public_url: settings.public_url.clone(),
    })
}

/// The weather source the worker uses (`None` with `weather_source = off`). `demo` starts the
/// loopback Open-Meteo server over the demo's Cerrado series in this process.
pub async fn weather(settings: &Settings) -> anyhow::Result<Option<Weather>> {
    let apikey = settings
        .weather_apikey
        .as_ref()
        .map(|k| k.expose().to_owned());
    let source = settings.weather_source.as_str();
    let options = match source {
        "off" => return Ok(None),
        "open-meteo" => WeatherOptions::open_meteo(apikey),
        "demo" => {
            // The demo catalog ends on the same date (`demo::latest_end_date`).
            let end = vivacampo_imagery::demo::latest_end_date(time::OffsetDateTime::now_utc());
            let server = WeatherServer::new(WeatherData::DemoDrySpellUntil(end));
            let base = server
                .spawn()
                .await
                .context("cannot start the demo weather server")?;
            WeatherOptions::base_url(&base, None)
        }
        url => WeatherOptions::base_url(url, apikey),
    };
    let client = OpenMeteo::new(options).context("cannot set up the weather client")?;
    Ok(Some(Weather {
        client,
        source: source.to_owned(),
        history_seasons: settings.weather_history_seasons,
    }))
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
