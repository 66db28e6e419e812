//! `vivacampo imagery …`: the offline demo catalog and catalog searches. The work is in
//! `vivacampo_imagery`; this is the clap wrapper. Progress goes to stderr, results to stdout.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use time::{Date, OffsetDateTime};
use vivacampo_imagery::demo::{self, DemoOptions};
use vivacampo_imagery::source::HttpOptions;
use vivacampo_imagery::stac::{Catalog, Search};

#[derive(Debug, clap::Subcommand)]
pub enum ImageryCommand {
    /// Write the offline demo catalog: Sentinel-2 L2A-like COGs and STAC items over Rio Verde (GO).
    DemoCatalog {
        /// Directory to write the catalog to.
        #[arg(long)]
        out: PathBuf,
        /// Weeks of acquisitions (one every 5 days) ending at --end-date.
        #[arg(long, default_value_t = 8)]
        weeks: u32,
        /// Last acquisition date, YYYY-MM-DD [default: today, UTC].
        #[arg(long, value_parser = parse_date)]
        end_date: Option<Date>,
        /// Side of the square area in metres.
        #[arg(long, default_value_t = 10_000.0)]
        size_m: f64,
        /// Seed of the synthetic fields and clouds (the same seed writes the same catalog).
        #[arg(long, default_value_t = 2024)]
        seed: u64,
        /// Also write the demo pasture's history: small scenes around it over the wet seasons
        /// of the three years before, as `vivacampo demo` does (its pasture degrades).
        #[arg(long)]
        pasture_history: bool,
    },
    /// Search a catalog (earth-search, planetary-computer, a STAC API URL or a directory) and
    /// print the scenes as JSON.
    Search {
        /// The catalog to search.
        #[arg(long, default_value = "earth-search")]
        catalog: String,
        /// min_lon,min_lat,max_lon,max_lat
        #[arg(long, value_parser = parse_bbox, allow_hyphen_values = true)]
        bbox: [f64; 4],
        /// Start of the interval, YYYY-MM-DD (inclusive).
        #[arg(long, value_parser = parse_date)]
        start: Date,
        /// End of the interval, YYYY-MM-DD (inclusive).
        #[arg(long, value_parser = parse_date)]
        end: Date,
        /// Maximum scene cloud cover, percent.
        #[arg(long)]
        max_cloud: Option<f64>,
    },
    /// Serve a catalog directory as a STAC API (POST/GET /search, files with HTTP range
    /// requests), e.g. to share one offline catalog with workers on a closed network. Workers
    /// then use `--imagery-source http://ADDR`.
    ServeCatalog {
        /// The catalog directory (with catalog.json, or item JSON files).
        dir: PathBuf,
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8081")]
        listen: std::net::SocketAddr,
    },
}

pub fn run(cmd: ImageryCommand) -> anyhow::Result<()> {
    vivacampo_imagery::install_crypto_provider();
    match cmd {
        ImageryCommand::DemoCatalog {
            out,
            weeks,
            end_date,
            size_m,
            seed,
            pasture_history,
        } => {
            if !(1..=104).contains(&weeks) {
                bail!("--weeks must be 1..=104, not {weeks}");
            }
            let end = end_date.unwrap_or_else(|| demo::latest_end_date(OffsetDateTime::now_utc()));
            let mut opts = DemoOptions::new(weeks, end);
            opts.size_m = size_m;
            opts.seed = seed;
            opts.pasture_history = pasture_history;
            let started = std::time::Instant::now();
            let summary = demo::generate(&out, &opts, |done, total| {
                eprint!("\rdemo catalog: scene {done}/{total}");
                let _ = std::io::stderr().flush();
            })
            .with_context(|| format!("writing the demo catalog to {}", out.display()))?;
            eprintln!(
                "\ndemo catalog: {} scenes, {} files, {:.1} MB in {:.1} s → {}",
                summary.scene_ids.len(),
                summary.files,
                summary.bytes as f64 / 1e6,
                started.elapsed().as_secs_f64(),
                out.join("catalog.json").display()
            );
            Ok(())
        }
        ImageryCommand::Search {
            catalog,
            bbox,
            start,
            end,
            max_cloud,
        } => {
            let catalog = Catalog::from_config(&catalog, &HttpOptions::default())?;
            let mut q = Search::bbox(
                bbox,
                start.midnight().assume_utc(),
                end.with_hms(23, 59, 59)?.assume_utc(),
            );
            q.max_cloud_cover = max_cloud;
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()?;
            let scenes = rt.block_on(catalog.search(&q))?;
            eprintln!("{} scenes", scenes.len());
            let mut out = std::io::stdout().lock();
            serde_json::to_writer_pretty(&mut out, &scenes)?;
            writeln!(out)?;
            Ok(())
        }
        ImageryCommand::ServeCatalog { dir, listen } => serve_catalog(&dir, listen),
    }
}

fn serve_catalog(dir: &std::path::Path, bind: std::net::SocketAddr) -> anyhow::Result<()> {
    let app = vivacampo_imagery::catalog_server::router(dir)
        .with_context(|| format!("cannot read the catalog in {}", dir.display()))?;
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(bind)
            .await
            .with_context(|| format!("cannot listen on {bind}"))?;
        let addr = listener.local_addr()?;
        println!("serving the catalog {} on http://{addr}", dir.display());
        std::io::stdout().flush()?;
        axum::serve(listener, app)
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .context("catalog server failed")
    })
}

fn parse_date(s: &str) -> Result<Date, String> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(s, &format).map_err(|e| format!("expected YYYY-MM-DD: {e}"))
}

fn parse_bbox(s: &str) -> Result<[f64; 4], String> {
    let v: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|e| format!("bbox: {e}"))?;
    let b: [f64; 4] = v
        .try_into()
        .map_err(|_| "bbox needs 4 numbers: min_lon,min_lat,max_lon,max_lat".to_string())?;
    if b[0] >= b[2] || b[1] >= b[3] {
        return Err("bbox needs min < max".into());
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dates_and_bboxes() {
        assert_eq!(
            parse_date("2026-01-05").unwrap(),
            time::macros::date!(2026 - 01 - 05)
        );
        assert!(parse_date("05/01/2026").is_err());
        assert_eq!(
            parse_bbox("-50.95,-17.8,-50.85,-17.7").unwrap(),
            [-50.95, -17.8, -50.85, -17.7]
        );
        assert!(parse_bbox("1,2,3").is_err());
        assert!(parse_bbox("3,2,1,4").is_err());
    }
}
