//! What every handler shares.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vivacampo_core::metrics::Registry;
use vivacampo_store::Store;

use crate::ratelimit::RateLimiter;

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
    /// Root of the local raster store, checked for writability by `/readyz`.
    pub raster_dir: PathBuf,
    /// Weeks a new field's first backfill covers.
    pub default_backfill_weeks: u32,
}

/// Shared state: the store, the configuration, metrics, the auth rate limiter.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    store: Store,
    config: ApiConfig,
    metrics: Arc<Registry>,
    auth_limiter: RateLimiter,
    shutting_down: AtomicBool,
}

impl AppState {
    pub fn new(store: Store, config: ApiConfig, metrics: Arc<Registry>) -> AppState {
        let auth_limiter = RateLimiter::per_minute(config.auth_attempts_per_minute);
        AppState {
            inner: Arc::new(Inner {
                store,
                config,
                metrics,
                auth_limiter,
                shutting_down: AtomicBool::new(false),
            }),
        }
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn config(&self) -> &ApiConfig {
        &self.inner.config
    }

    pub fn metrics(&self) -> &Registry {
        &self.inner.metrics
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
