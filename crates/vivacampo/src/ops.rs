//! `vivacampo ops …`: the on-call engineer's commands (see docs/runbooks/): feature flags,
//! the status screen, incident logs.

use std::fmt::Write as _;
use std::time::Duration;

use anyhow::{Context, anyhow, bail};
use clap::Subcommand;
use vivacampo_api::status::{self, Health, OpsStatus, StatusInputs};
use vivacampo_core::flags::Flag;
use vivacampo_store::{Store, StoreOptions};

use crate::admin::find_tenant;
use crate::config::Settings;
use crate::roles::open_store;

/// The incident log template (docs/runbooks/incidents/TEMPLATE.md).
const INCIDENT_TEMPLATE: &str = include_str!("../../../docs/runbooks/incidents/TEMPLATE.md");

#[derive(Subcommand)]
pub enum OpsCommand {
    /// Feature flags: switch a misbehaving feature off, globally or for one tenant.
    #[command(subcommand)]
    Flag(FlagCommand),
    /// One screen for triage: replicas, deploys, SLO, database, queue, storage, outside
    /// services. Exit code 0 healthy, 1 degraded, 2 down.
    Status {
        /// The document as JSON (the same as GET /v1/admin/ops/status).
        #[arg(long)]
        json: bool,
    },
    /// Incident logs.
    #[command(subcommand)]
    Incident(IncidentCommand),
}

#[derive(Subcommand)]
pub enum IncidentCommand {
    /// Start an incident log in `incident_dir`, pre-filled with the status now.
    New {
        /// What is broken, e.g. "api 500 on aois".
        title: String,
        /// P0, P1, P2 or P3.
        #[arg(long, value_parser = ["P0", "P1", "P2", "P3"])]
        severity: String,
    },
}

#[derive(Subcommand)]
pub enum FlagCommand {
    /// Every flag, its global value and the tenants with their own.
    List,
    /// Turn a flag on or off; every replica follows within 10 s.
    Set {
        /// tiles, backfill, imagery_refresh, weather, signals, webhooks, email, signup or raster_download.
        key: String,
        /// on or off.
        #[arg(value_parser = ["on", "off"])]
        value: String,
        /// Only for this tenant (id or exact name); without it, the global value.
        #[arg(long, value_name = "TENANT")]
        tenant: Option<String>,
    },
}

/// Runs an `ops` command; returns the exit code (`status` says 0, 1 or 2).
pub async fn run(settings: &Settings, command: OpsCommand) -> anyhow::Result<u8> {
    // What these commands print is for people and scripts (`--json`): their own statements are
    // not reported as slow on stdout.
    vivacampo_store::slow::set_threshold(Duration::from_secs(24 * 3600));
    match command {
        OpsCommand::Flag(cmd) => flag(settings, cmd).await.map(|()| 0),
        OpsCommand::Status { json } => {
            let doc = gather(settings).await;
            if json {
                println!("{}", serde_json::to_string_pretty(&doc)?);
            } else {
                print!("{}", render(&doc));
            }
            Ok(doc.status.exit_code())
        }
        OpsCommand::Incident(IncidentCommand::New { title, severity }) => {
            let path = new_incident(settings, &title, &severity).await?;
            println!("{}", path.display());
            Ok(0)
        }
    }
}

/// The status, read through a connection of its own with short timeouts, so it answers in
/// under 2 s even when the application's pools are exhausted or the database is gone.
async fn gather(settings: &Settings) -> OpsStatus {
    let started = std::time::Instant::now();
    let options = StoreOptions {
        url: settings.database_url(),
        max_connections: 2,
        acquire_timeout: Duration::from_millis(1000),
        statement_timeout: Duration::from_millis(1500),
    };
    let store = match tokio::time::timeout(Duration::from_millis(1200), Store::open(&options)).await
    {
        Ok(Ok(store)) => store,
        Ok(Err(e)) => return status::unreachable(&format!("{e}"), started),
        Err(_) => return status::unreachable("no connection within 1.2 s", started),
    };
    let (rasters, unopened) = match crate::roles::raster_store(settings) {
        Ok(rasters) => (Some(rasters), None),
        Err(e) => (None, Some(format!("cannot open: {e:#}"))),
    };
    let mut doc = status::gather(
        &store,
        StatusInputs {
            rasters: rasters.as_ref(),
            storage_quota: settings.storage_quota.map(|q| q as u64),
        },
    )
    .await;
    store.close().await;
    if let Some(problem) = unopened {
        doc.problems.push(format!("storage: {problem}"));
        doc.storage.status = problem;
        doc.status = doc.status.max(Health::Degraded);
    }
    doc
}

fn bytes(n: i64) -> String {
    let mib = n as f64 / (1024.0 * 1024.0);
    if mib >= 1024.0 {
        format!("{:.1} GiB", mib / 1024.0)
    } else {
        format!("{mib:.1} MiB")
    }
}

/// The status for people.
fn render(doc: &OpsStatus) -> String {
    let mut out = String::new();
    let verdict = match doc.status {
        Health::Healthy => "HEALTHY",
        Health::Degraded => "DEGRADED",
        Health::Down => "DOWN",
    };
    let _ = writeln!(
        out,
        "VivaCampo: {verdict} (checked {} in {} ms)",
        doc.checked_at, doc.took_ms
    );
    for p in &doc.problems {
        let _ = writeln!(out, "  ! {p}");
    }
    let _ = writeln!(out, "\nroles");
    if doc.roles.is_empty() {
        let _ = writeln!(out, "  no process has reported in the last 24 h");
    }
    for r in &doc.roles {
        let _ = writeln!(
            out,
            "  {:<7} {} live, {} stale   {}",
            r.role,
            r.live,
            r.stale,
            r.versions.join(", ")
        );
    }
    let _ = writeln!(out, "\ndeploys in the last 24 h");
    for d in &doc.deploys_24h {
        let _ = writeln!(
            out,
            "  {}  {:<7} {} ({}) on {} pid {} [{}]",
            d.started_at, d.role, d.version, d.commit, d.host, d.pid, d.state
        );
    }
    let _ = writeln!(out, "\nSLO (errors < 1 %, p95 < 500 ms)");
    for w in &doc.slo {
        let _ = writeln!(
            out,
            "  {:>2} min: {} requests, {:.2} % errors, p95 {}  {}",
            w.minutes,
            w.requests,
            w.error_rate * 100.0,
            w.p95_ms.map_or("-".to_owned(), |p| format!("{p:.0} ms")),
            if w.ok { "ok" } else { "MISSED" }
        );
    }
    let db = &doc.database;
    let _ = writeln!(out, "\ndatabase ({}): {}", db.engine, db.status);
    let _ = writeln!(
        out,
        "  pools: {} of {} connections in use, {} waiting",
        db.pool_in_use, db.pool_max, db.pool_waiting
    );
    if let (Some(used), Some(limit)) = (db.server_connections, db.server_limit) {
        let _ = writeln!(out, "  server: {used} of {limit} connections");
    }
    for s in &db.slowest_statements {
        let _ = writeln!(
            out,
            "  slow: {:.1} ms × {}  {} ({})",
            s["mean_ms"].as_f64().unwrap_or(0.0),
            s["calls"],
            s["query"].as_str().unwrap_or(""),
            s["source"].as_str().unwrap_or("")
        );
    }
    let q = &doc.queue;
    let _ = writeln!(
        out,
        "\nqueue: {} pending, {} running, {} failed (retrying); oldest ready {:.0} s",
        q.pending, q.running, q.failed, q.oldest_pending_age_seconds
    );
    let list = |m: &std::collections::BTreeMap<String, i64>| {
        if m.is_empty() {
            "none".to_owned()
        } else {
            m.iter()
                .map(|(k, v)| format!("{k} {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let _ = writeln!(
        out,
        "  running past timeout: {}",
        list(&q.running_past_timeout)
    );
    let _ = writeln!(out, "  dead: {}", list(&q.dead));
    let st = &doc.storage;
    let quota = st.quota_bytes.map_or("no quota".to_owned(), |q| {
        format!("quota {}", bytes(q as i64))
    });
    let _ = writeln!(
        out,
        "\nstorage: {} ({} used, {quota})",
        st.status,
        bytes(st.used_bytes)
    );
    let _ = writeln!(out, "\noutside services (5 min)");
    if doc.external.is_empty() {
        let _ = writeln!(out, "  no calls reported");
    }
    for e in &doc.external {
        let _ = writeln!(
            out,
            "  {:<13} {} calls, {} errors ({:.0} %), last success {}",
            e.service,
            e.calls_5m,
            e.errors_5m,
            e.error_rate_5m * 100.0,
            e.last_success.as_deref().unwrap_or("-")
        );
    }
    out
}

/// `2026-03-02-14-30-api-500-on-aois.md`: the UTC minute, then the title in lower case with
/// anything but letters and digits as single dashes.
fn incident_file_name(title: &str, now: time::OffsetDateTime) -> String {
    let mut slug = String::new();
    for c in title.chars().flat_map(char::to_lowercase) {
        if c.is_alphanumeric() {
            slug.push(c);
        } else if !slug.is_empty() && !slug.ends_with('-') {
            slug.push('-');
        }
    }
    let slug = slug.trim_end_matches('-');
    format!(
        "{:04}-{:02}-{:02}-{:02}-{:02}-{}.md",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute(),
        if slug.is_empty() { "incident" } else { slug }
    )
}

async fn new_incident(
    settings: &Settings,
    title: &str,
    severity: &str,
) -> anyhow::Result<std::path::PathBuf> {
    let now = time::OffsetDateTime::now_utc();
    let doc = gather(settings).await;
    let started = format!(
        "{:04}-{:02}-{:02} {:02}:{:02}",
        now.year(),
        u8::from(now.month()),
        now.day(),
        now.hour(),
        now.minute()
    );
    let text = INCIDENT_TEMPLATE
        .replace("{{title}}", title)
        .replace("{{severity}}", severity)
        .replace("{{started}}", &started)
        .replace("{{status}}", render(&doc).trim_end());
    std::fs::create_dir_all(&settings.incident_dir)
        .with_context(|| format!("cannot create {}", settings.incident_dir.display()))?;
    let path = settings.incident_dir.join(incident_file_name(title, now));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut file = options
        .open(&path)
        .with_context(|| format!("cannot create {} (does it exist already?)", path.display()))?;
    std::io::Write::write_all(&mut file, text.as_bytes())
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(path)
}

async fn flag(settings: &Settings, command: FlagCommand) -> anyhow::Result<()> {
    let store = open_store(settings).await?;
    match command {
        FlagCommand::List => {
            let set = store.flag_values().await?;
            println!("{:<16}  {:<5}  tenants", "flag", "value");
            for flag in Flag::ALL {
                let mut tenants: Vec<String> = set
                    .overrides(*flag)
                    .into_iter()
                    .map(|(t, on)| format!("{t}={}", on_off(on)))
                    .collect();
                tenants.sort();
                let line = format!(
                    "{:<16}  {:<5}  {}",
                    flag.as_str(),
                    on_off(set.global(*flag)),
                    tenants.join(" ")
                );
                println!("{}", line.trim_end());
            }
        }
        FlagCommand::Set { key, value, tenant } => {
            let flag: Flag = key.parse().map_err(|e| anyhow!("{e}"))?;
            let tenant_id = match tenant {
                Some(reference) => match find_tenant(&store, &reference).await? {
                    Some(t) => Some(t.id),
                    None => bail!("no tenant {reference:?}"),
                },
                None => None,
            };
            let enabled = value == "on";
            store
                .set_flag(flag, tenant_id.as_deref(), enabled, None)
                .await?;
            match &tenant_id {
                Some(t) => println!("{} is {} for tenant {t}", flag.as_str(), on_off(enabled)),
                None => println!("{} is {} globally", flag.as_str(), on_off(enabled)),
            }
        }
    }
    store.close().await;
    Ok(())
}

fn on_off(enabled: bool) -> &'static str {
    if enabled { "on" } else { "off" }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incident_names() {
        let at = time::macros::datetime!(2026-03-02 14:05 UTC);
        assert_eq!(
            incident_file_name("api 500 on aois", at),
            "2026-03-02-14-05-api-500-on-aois.md"
        );
        assert_eq!(
            incident_file_name("  Tiles: SLOW!! ", at),
            "2026-03-02-14-05-tiles-slow.md"
        );
        assert_eq!(incident_file_name("!!", at), "2026-03-02-14-05-incident.md");
    }
}
