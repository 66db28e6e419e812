//! What the API's integration test files share.

use std::time::Duration;

use vivacampo_api::ApiConfig;

/// The API settings of the tests: open sign-up, a 64 KiB body limit, no effective rate limit.
pub fn config() -> ApiConfig {
    ApiConfig {
        token_ttl: Duration::from_secs(3600),
        signup_enabled: true,
        body_limit: 64 * 1024,
        import_limit: 8 * 1024 * 1024,
        auth_attempts_per_minute: 1000,
        default_backfill_weeks: 8,
        demo_account: None,
        basemap: vivacampo_api::routes::web::DEFAULT_BASEMAP.into(),
        public_url: None,
        storage_quota: None,
        serve_metrics: true,
        webhook_allow_private: false,
    }
}
