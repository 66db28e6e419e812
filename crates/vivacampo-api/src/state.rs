//! What every handler shares.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use vivacampo_core::flags::Flag;
use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::Store;

use crate::error::ApiError;
use crate::ratelimit::RateLimiter;
use crate::tiles::{TileConfig, Tiler};

/// API settings taken from the configuration.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How long a login token is valid.
    pub token_ttl: Duration,
    /// Whether `POST /v1/auth/signup` is open.
    pub signup_enabled: bool,
    /// Largest accepted request body.
    pub body_limit: usize,
    /// Largest boundary file `POST /v1/farms/{id}/import` accepts.
    pub import_limit: usize,
    /// Sign-in and sign-up attempts allowed per client IP per minute.
    pub auth_attempts_per_minute: u32,
    /// Weeks a new field's first backfill covers.
    pub default_backfill_weeks: u32,
    /// The demo account the sign-in page offers (`vivacampo demo` only): email and password.
    pub demo_account: Option<(String, String)>,
    /// The web app's base map: a tile URL template, or `none` (the `basemap` setting; default
    /// [`crate::routes::web::DEFAULT_BASEMAP`]).
    pub basemap: String,
    /// Base of absolute URLs (TileJSON tiles), e.g. `https://tiles.example.com`; `None`: the
    /// scheme and host of the request.
    pub public_url: Option<String>,
    /// Bytes the raster store may hold (`ops status` warns at 90 %).
    pub storage_quota: Option<u64>,
    /// Whether `/metrics` is on this listener (off when `metrics_bind` gives it its own).
    pub serve_metrics: bool,
    /// Whether webhook URLs may name loopback, private or link-local addresses (the
    /// `webhook_allow_private` setting); off, `POST /v1/webhooks` refuses them.
    pub webhook_allow_private: bool,
}

/// How long a request may take unless [`AppState::set_request_timeout`] says otherwise.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// What a role needs of the raster store to be ready (API.md "Operations"): a worker writes
/// field-week COGs, a tiler reads them, an API replica serves neither.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StorageNeed {
    #[default]
    None,
    Read,
    Write,
}

/// The last raster-store check of `/readyz`: when it ran and whether it passed.
#[derive(Debug, Default)]
pub(crate) struct StorageProbe {
    pub(crate) last: Option<(Instant, bool)>,
    pub(crate) running: bool,
}

/// Shared state: the database, the raster store, the configuration, metrics, the auth rate
/// limiter.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    rasters: RasterStore,
    config: ApiConfig,
    metrics: Arc<Registry>,
    auth_limiter: RateLimiter,
    tiler: Tiler,
    shutting_down: AtomicBool,
    request_timeout_ms: AtomicU64,
    database_figures_at: Mutex<Option<Instant>>,
    storage_need: OnceLock<StorageNeed>,
    storage_probe: Arc<Mutex<StorageProbe>>,
}

impl AppState {
    /// State with default tile settings and a random tile key (signed URLs end with the
    /// process); roles use [`AppState::with_tiles`].
    pub fn new(
        store: Store,
        rasters: RasterStore,
        config: ApiConfig,
        metrics: Arc<Registry>,
    ) -> AppState {
        AppState::with_tiles(store, rasters, config, metrics, TileConfig::ephemeral())
    }

    pub fn with_tiles(
        store: Store,
        rasters: RasterStore,
        config: ApiConfig,
        metrics: Arc<Registry>,
        tiles: TileConfig,
    ) -> AppState {
        let auth_limiter = RateLimiter::per_minute(config.auth_attempts_per_minute);
        AppState {
            inner: Arc::new(Inner {
                store,
                rasters,
                config,
                metrics,
                auth_limiter,
                tiler: Tiler::new(tiles),
                shutting_down: AtomicBool::new(false),
                request_timeout_ms: AtomicU64::new(DEFAULT_REQUEST_TIMEOUT.as_millis() as u64),
                database_figures_at: Mutex::new(None),
                storage_need: OnceLock::new(),
                storage_probe: Arc::default(),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Where field-week COGs are stored.
    pub fn rasters(&self) -> &RasterStore {
        &self.inner.rasters
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Registry {
        &self.inner.metrics
    }

    /// The tile renderer, its caches and its signing key.
    pub fn tiler(&self) -> &Tiler {
        &self.inner.tiler
    }

    pub(crate) fn auth_limiter(&self) -> &RateLimiter {
        &self.inner.auth_limiter
    }

    /// Sets what `/readyz` requires of the raster store (once, when the role starts; the
    /// default is [`StorageNeed::None`]).
    pub fn require_storage(&self, need: StorageNeed) {
        let _ = self.inner.storage_need.set(need);
    }

    pub fn storage_need(&self) -> StorageNeed {
        self.inner.storage_need.get().copied().unwrap_or_default()
    }

    pub(crate) fn storage_probe(&self) -> &Arc<Mutex<StorageProbe>> {
        &self.inner.storage_probe
    }

    /// Marks the process as draining: `/readyz` turns 503 so load balancers stop sending traffic.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Relaxed);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Relaxed)
    }

    /// Sets how long a request may take before it gets 503 (the `request_timeout` setting).
    pub fn set_request_timeout(&self, timeout: Duration) {
        self.inner
            .request_timeout_ms
            .store(timeout.as_millis() as u64, Ordering::Relaxed);
    }

    /// How long a request may take before it gets 503.
    pub fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.inner.request_timeout_ms.load(Ordering::Relaxed))
    }

    /// Whether `/metrics` should read the database figures again (at most once per `every`);
    /// answering true starts the next period.
    pub(crate) fn database_figures_due(&self, every: Duration) -> bool {
        let mut at = self
            .inner
            .database_figures_at
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if at.is_some_and(|t| t.elapsed() < every) {
            return false;
        }
        *at = Some(Instant::now());
        true
    }

    /// `Err(FEATURE_DISABLED)` when `flag` is off for the tenant (`None`: globally). Handlers of
    /// a switchable feature call it first: `state.require(Flag::Weather, Some(tenant)).await?`.
    pub async fn require(&self, flag: Flag, tenant_id: Option<&str>) -> Result<(), ApiError> {
        if self.inner.store.flag_enabled(flag, tenant_id).await {
            Ok(())
        } else {
            Err(ApiError::FeatureDisabled(flag))
        }
    }
}
