//! Feature flags: the switches an operator turns off when a feature misbehaves (the incident
//! runbook's "disable feature"). A flag is on unless a row says otherwise; a tenant's own value
//! overrides the global one. The store keeps the rows and a short-lived cache of them.

use std::collections::HashMap;

use crate::jobs::JobType;
use crate::wire_enum;

wire_enum!(
    /// A feature that can be switched off, globally or for one tenant.
    Flag {
        Tiles => "tiles",
        Backfill => "backfill",
        ImageryRefresh => "imagery_refresh",
        Weather => "weather",
        Signals => "signals",
        Webhooks => "webhooks",
        Email => "email",
        Signup => "signup",
        RasterDownload => "raster_download",
    }
);

impl Flag {
    /// What turning the flag off stops.
    pub fn description(self) -> &'static str {
        match self {
            Flag::Tiles => "Map tiles and TileJSON.",
            Flag::Backfill => "Backfill requests and BACKFILL jobs (new fields still save).",
            Flag::ImageryRefresh => "PROCESS_WEEK jobs: reading imagery and writing field-weeks.",
            Flag::Weather => "Weather routes and PROCESS_WEATHER jobs.",
            Flag::Signals => "Signal detection and the signal routes.",
            Flag::Webhooks => "Webhook deliveries.",
            Flag::Email => "E-mail deliveries.",
            Flag::Signup => "Self sign-up (POST /v1/auth/signup).",
            Flag::RasterDownload => "Downloads of field-week GeoTIFFs (raster.tif).",
        }
    }

    /// The flag that holds back jobs of a type; `None` for types no flag stops.
    pub fn for_job(job_type: JobType) -> Option<Flag> {
        match job_type {
            JobType::Backfill => Some(Flag::Backfill),
            JobType::ProcessWeek | JobType::ProcessRadarWeek => Some(Flag::ImageryRefresh),
            JobType::ProcessWeather => Some(Flag::Weather),
            JobType::DetectSignals => Some(Flag::Signals),
            JobType::DeliverWebhook => Some(Flag::Webhooks),
            JobType::SendEmail | JobType::EmailDigest => Some(Flag::Email),
            _ => None,
        }
    }
}

/// The stored flag values: global ones and per-tenant overrides. Missing means on.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FlagSet {
    global: HashMap<Flag, bool>,
    tenants: HashMap<Flag, HashMap<String, bool>>,
}

impl FlagSet {
    /// Records one stored value; `tenant` `None` is the global value.
    pub fn insert(&mut self, flag: Flag, tenant: Option<&str>, enabled: bool) {
        match tenant {
            None => {
                self.global.insert(flag, enabled);
            }
            Some(t) => {
                self.tenants
                    .entry(flag)
                    .or_default()
                    .insert(t.to_owned(), enabled);
            }
        }
    }

    /// The global value (on unless stored off).
    pub fn global(&self, flag: Flag) -> bool {
        self.global.get(&flag).copied().unwrap_or(true)
    }

    /// The value in force for a tenant: its own if set, else the global one.
    pub fn enabled(&self, flag: Flag, tenant: Option<&str>) -> bool {
        tenant
            .and_then(|t| self.tenants.get(&flag).and_then(|m| m.get(t)).copied())
            .unwrap_or_else(|| self.global(flag))
    }

    /// The per-tenant overrides of a flag.
    pub fn overrides(&self, flag: Flag) -> HashMap<String, bool> {
        self.tenants.get(&flag).cloned().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_values_override_the_global_one() {
        let mut set = FlagSet::default();
        assert!(set.enabled(Flag::Tiles, Some("a")));
        set.insert(Flag::Tiles, Some("a"), false);
        assert!(!set.enabled(Flag::Tiles, Some("a")));
        assert!(set.enabled(Flag::Tiles, Some("b")));
        assert!(set.enabled(Flag::Tiles, None));
        set.insert(Flag::Tiles, None, false);
        set.insert(Flag::Tiles, Some("b"), true);
        assert!(!set.enabled(Flag::Tiles, Some("c")));
        assert!(set.enabled(Flag::Tiles, Some("b")));
        assert!(!set.global(Flag::Tiles));
    }

    #[test]
    fn keys_and_jobs() {
        assert_eq!("raster_download".parse::<Flag>(), Ok(Flag::RasterDownload));
        assert_eq!(Flag::ALL.len(), 9);
        assert_eq!(
            Flag::for_job(JobType::ProcessWeek),
            Some(Flag::ImageryRefresh)
        );
        assert_eq!(Flag::for_job(JobType::Retention), None);
    }
}
