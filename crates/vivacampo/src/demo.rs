//! `vivacampo demo`: a ready-to-try account with a farm and three fields in Goiás, then `serve`.

use std::io::Write;

use anyhow::{Context, anyhow};
use clap::Args;
use vivacampo_core::geometry::FieldGeometry;
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
/// a soybean pivot, a maize field and a pasture.
fn demo_fields() -> Vec<(&'static str, &'static str, serde_json::Value)> {
    let ((lon, lat), radius) = demo::DEMO_PIVOT;
    vec![
        ("Pivô 1 — Soja", "CROP", pivot(lon, lat, radius)),
        ("Talhão 2 — Milho", "CROP", rectangle(demo::DEMO_RECTANGLE)),
        ("Pastagem Norte", "PASTURE", rectangle(demo::DEMO_PASTURE)),
    ]
}

/// Creates the demo account, farm and fields unless the account exists.
async fn seed(store: &Store, args: &DemoArgs, backfill_weeks: u32) -> anyhow::Result<bool> {
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
        .create_farm(
            &tenant.id,
            &identity.id,
            "Fazenda Santa Rita",
            "America/Sao_Paulo",
        )
        .await?;
    for (name, use_type, geometry) in demo_fields() {
        let field = FieldGeometry::from_geojson(&geometry)
            .map_err(|e| anyhow!("demo field {name}: {e}"))?;
        let shape = Shape {
            geometry: field.to_geojson(),
            area_ha: field.area_ha(),
            bbox: field.bbox(),
        };
        store
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
    }
    Ok(true)
}

/// Writes (or reuses) the offline demo catalog in the data dir: Sentinel-2-like scenes of the
/// last `weeks` weeks over the demo farm.
async fn prepare_imagery(
    settings: &Settings,
    weeks: u32,
    area_m: f64,
) -> anyhow::Result<std::path::PathBuf> {
    let dir = settings.data_dir.join("demo-catalog");
    let mut options = DemoOptions::new(weeks, time::OffsetDateTime::now_utc().date());
    options.size_m = area_m;
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

pub async fn run(settings: &Settings, args: DemoArgs) -> anyhow::Result<()> {
    let catalog = prepare_imagery(settings, settings.backfill_weeks + 1, args.area_m).await?;
    let mut settings = settings.clone();
    settings.imagery_source = catalog.display().to_string();
    let settings = &settings;
    let store = open_store(settings).await?;
    store.migrate().await?;
    let created = seed(&store, &args, settings.backfill_weeks).await?;
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
        println!(
            "  VivaCampo demo is running ({state}: farm \"Fazenda Santa Rita\" with {} fields).",
            demo_fields().len()
        );
        println!("  Open      http://{addr}/");
        println!("  Imagery   offline demo catalog (Sentinel-2-like, Rio Verde, GO); fields fill in within a minute");
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
