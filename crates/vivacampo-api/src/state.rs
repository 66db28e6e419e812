//! What every handler shares.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vivacampo_core::metrics::Registry;
use vivacampo_imagery::store::RasterStore;
use vivacampo_store::Store;

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
    /// Sign-in and sign-up attempts allowed per client IP per minute.
    pub auth_attempts_per_minute: u32,
    /// Weeks a new field's first backfill covers.
    pub default_backfill_weeks: u32,
    /// The demo account the sign-in page offers (`vivacampo demo` only): email and password.
    pub demo_account: Option<(String, String)>,
    /// The web app's base map: a tile URL template, or `none` (the `basemap` setting; default
    /// [`crate::routes::web::DEFAULT_BASEMAP`]).
    pub basemap: String,
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

    /// Marks the process as draining: `/readyz` turns 503 so load balancers stop sending traffic.
    pub fn begin_shutdown(&self) {
        self.inner.shutting_down.store(true, Ordering::Relaxed);
    }

    pub fn is_shutting_down(&self) -> bool {
        self.inner.shutting_down.load(Ordering::Relaxed)
    }
}
