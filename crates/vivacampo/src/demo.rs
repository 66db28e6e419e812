//! `vivacampo demo`: a ready-to-try account with a farm and four fields in Goiás (one of them in trouble), then `serve`.

use std::io::Write;

use anyhow::{Context, anyhow};
use clap::Args;
use vivacampo_core::geometry::FieldGeometry;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::demo::{self, DemoOptions};
use vivacampo_store::Store;
use vivacampo_store::accounts::NewIdentity;
use vivacampo_store::aois::{NewAoi, Shape};

use crate::config::Settings;
use crate::roles::{Roles, open_store, serve_with};

#[derive(Args)]
pub struct DemoArgs {
    /// Email of the demo login.
    #[arg(long, default_value = "demo@vivacampo.dev")]
    email: String,
    /// Password of the demo login.
    #[arg(long, default_value = "vivacampo-demo")]
    password: String,
    /// Side of the square area of the offline demo imagery, metres (it must hold the demo farm).
    #[arg(long, default_value_t = 10_000.0, value_name = "METRES")]
    area_m: f64,
}

/// A centre pivot of radius `radius_m` as a 48-gon, in lon/lat.
fn pivot(lon: f64, lat: f64, radius_m: f64) -> serde_json::Value {
    let metres_per_deg_lat = 110_574.0;
    let metres_per_deg_lon = 111_320.0 * lat.to_radians().cos();
    let mut ring: Vec<[f64; 2]> = (0..48)
        .map(|i| {
            let a = f64::from(i) / 48.0 * std::f64::consts::TAU;
            [
                lon + radius_m * a.cos() / metres_per_deg_lon,
                lat + radius_m * a.sin() / metres_per_deg_lat,
            ]
        })
        .collect();
    ring.push(ring[0]);
    serde_json::json!({"type": "Polygon", "coordinates": [ring]})
}

/// A lon/lat rectangle `[min lon, min lat, max lon, max lat]` as a GeoJSON polygon.
fn rectangle([x0, y0, x1, y1]: [f64; 4]) -> serde_json::Value {
    serde_json::json!({"type": "Polygon", "coordinates": [[[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]]})
}

/// The demo fields on a farm near Rio Verde, Goiás, where the offline imagery grows their crops:
/// a soybean pivot and a maize field, healthy on any date, a pasture that has been degrading for
/// two seasons, and the problem field: a crop whose NDVI drops over the last weeks under the
/// demo weather's recent dry spell.
fn demo_fields() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let ((lon, lat), radius) = demo::DEMO_PIVOT;
    vec![
        ("Pivô 1 — Soja", "CROP", pivot(lon, lat, radius)),
        ("Talhão 2 — Milho", "CROP", rectangle(demo::DEMO_RECTANGLE)),
        ("Pastagem Norte", "PASTURE", rectangle(demo::DEMO_PASTURE)),
        (PROBLEM_FIELD, "CROP", rectangle(demo::DEMO_PROBLEM)),
    ]
}

/// Creates the demo account, farm and fields unless the account exists. Each field backfills
/// its last `backfill_weeks`; the pasture also `history` (spans of dates, oldest first), the
/// wet seasons its decline shows against.
async fn seed(
    store: &Store,
    args: &DemoArgs,
    backfill_weeks: u32,
    history: &[(time::Date, time::Date)],
) -> anyhow::Result<bool> {
    if store.identity_by_email(&args.email).await?.is_some() {
        return Ok(false);
    }
    let password = args.password.clone();
    let hash =
        tokio::task::spawn_blocking(move || vivacampo_api::credentials::hash_password(&password))
            .await?
            .map_err(|e| anyhow!("{e}"))?;
    let (identity, tenant) = store
        .sign_up(
            NewIdentity {
                email: &args.email,
                name: "Demo",
                password_hash: &hash,
                is_system_admin: false,
            },
            "Fazenda Demo",
        )
        .await
        .context("cannot create the demo account")?;
    let farm = store
        .create_farm(&tenant.id, &identity.id, DEMO_FARM, "America/Sao_Paulo")
        .await?;
    let mut pasture = None;
    for (name, use_type, geometry) in demo_fields() {
        let field = FieldGeometry::from_geojson(&geometry)
            .map_err(|e| anyhow!("demo field {name}: {e}"))?;
        let shape = Shape {
            geometry: field.to_geojson(),
            area_ha: field.area_ha(),
            bbox: field.bbox(),
        };
        let (aoi, _) = store
            .create_aoi(
                &tenant.id,
                &identity.id,
                NewAoi {
                    farm_id: farm.id.clone(),
                    name: name.into(),
                    use_type: use_type.into(),
                    shape,
                    backfill_weeks,
                },
            )
            .await?;
        if use_type == "PASTURE" {
            pasture = Some(aoi.id);
        }
    }
    // After the fields' own backfills, so their recent weeks come first.
    let pasture = pasture.expect("the demo has a pasture");
    for (from, to) in history {
        store
            .request_backfill(
                &tenant.id,
                &identity.id,
                &pasture,
                &IsoWeek::spanning(*from, *to),
            )
            .await?;
    }
    Ok(true)
}

/// The offline demo catalog: Sentinel-2-like scenes of the last `weeks` weeks over the demo
/// farm, and the pasture's history.
fn demo_options(weeks: u32, area_m: f64) -> DemoOptions {
    let mut options = DemoOptions::new(
        weeks,
        demo::latest_end_date(time::OffsetDateTime::now_utc()),
    );
    options.size_m = area_m;
    options.pasture_history = true;
    options
}

/// Writes (or reuses) the offline demo catalog in the data dir.
async fn prepare_imagery(
    settings: &Settings,
    options: DemoOptions,
) -> anyhow::Result<std::path::PathBuf> {
    let dir = settings.data_dir.join("demo-catalog");
    eprintln!(
        "  Preparing the offline demo imagery in {} …",
        dir.display()
    );
    let target = dir.clone();
    let generated = tokio::task::spawn_blocking(move || {
        demo::ensure(&target, &options, |done, total| {
            eprint!("\r  {done}/{total} scenes");
            let _ = std::io::stderr().flush();
        })
    })
    .await?
    .context("cannot write the demo imagery")?;
    eprintln!(
        "{}",
        if generated {
            "\r  demo imagery ready."
        } else {
            "  demo imagery already present."
        }
    );
    Ok(dir)
}

/// The problem field's name.
pub const PROBLEM_FIELD: &str = "Talhão 3 — Sorgo";

/// The farm's name, as the demo creates it.
const DEMO_FARM: &str = "Fazenda Santa Rita";

/// Fails at once, before minutes of imagery and seeding, when `bind` is taken, saying how to
/// pick another address.
fn check_port(bind: std::net::SocketAddr) -> anyhow::Result<()> {
    std::net::TcpListener::bind(bind).map(drop).map_err(|e| {
        let other = std::net::SocketAddr::new(bind.ip(), bind.port().wrapping_add(1).max(1));
        anyhow!(
            "cannot listen on {bind} ({}); stop what runs there, or pick another address with --bind {other}",
            match e.kind() {
                std::io::ErrorKind::AddrInUse => "the address is in use".to_string(),
                _ => e.to_string(),
            }
        )
    })
}

/// What the demo account holds now: the demo farm's name and its fields (it may have more or
/// fewer than were seeded), or, when it was renamed or deleted, every farm's.
async fn holdings(store: &Store, email: &str) -> anyhow::Result<String> {
    let Some(identity) = store.identity_by_email(email).await? else {
        return Ok("no farm".into());
    };
    let mut farms = Vec::new();
    for membership in store.memberships(&identity.id).await? {
        farms.extend(
            store
                .list_farms(&membership.tenant_id, Default::default())
                .await?
                .items,
        );
    }
    let fields = |n: i64| {
        if n == 1 {
            "1 field".to_string()
        } else {
            format!("{n} fields")
        }
    };
    Ok(match farms.iter().find(|f| f.name == DEMO_FARM) {
        Some(farm) => format!("farm \"{DEMO_FARM}\" with {}", fields(farm.aoi_count)),
        None => format!(
            "{} farms with {}",
            farms.len(),
            fields(farms.iter().map(|f| f.aoi_count).sum())
        ),
    })
}

pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    check_port(settings.bind)?;
    crate::roles::ensure_data_dir(settings)?;
    let options = demo_options(settings.backfill_weeks + 1, args.area_m);
    let history = demo::history_spans(&options);
    let catalog = prepare_imagery(settings, options).await?;
    let mut settings = settings.clone();
    settings.imagery_source = catalog.display().to_string();
    settings.weather_source = "demo".into();
    let settings = &settings;
    let store = open_store(settings).await?;
    store.migrate().await?;
    let created = seed(&store, &args, settings.backfill_weeks, &history).await?;
    let holdings = holdings(&store, &args.email).await?;
    store.close().await;
    let email = args.email.clone();
    let password = args.password.clone();
    let account = Some((email.clone(), password.clone()));
    serve_with(settings, Roles::ALL, account, move |addr| {
        let state = if created {
            "created"
        } else {
            "already present"
        };
        println!();
        println!("  VivaCampo demo is running ({state}: {holdings}).");
        println!("  Open      http://{addr}/");
        println!("  Imagery   offline demo catalog (Sentinel-2-like, Rio Verde, GO); fields fill in within a minute");
        println!("  Weather   offline Cerrado series, served in Open-Meteo's format on loopback");
        println!("  Sign in   {email} / {password}");
        println!(
            "  API       POST http://{addr}/v1/auth/login   ·   docs: http://{addr}/v1/openapi.json"
        );
        println!("  Stop      Ctrl-C");
        println!();
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_fields_are_valid() {
        for (name, _, geometry) in demo_fields() {
            let field =
                FieldGeometry::from_geojson(&geometry).unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(
                field.area_ha() > 50.0 && field.area_ha() < 200.0,
                "{name}: {}",
                field.area_ha()
            );
        }
    }
}
