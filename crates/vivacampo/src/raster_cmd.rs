//! `vivacampo raster …`: inspect GeoTIFFs, compute statistics, render tiles. JSON on stdout.
//! The work is in `vivacampo_raster::cli`; this is the clap wrapper.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, bail};
use vivacampo_raster::cli;
use vivacampo_raster::render::{Selection, Style};

#[derive(Debug, clap::Subcommand)]
pub enum RasterCommand {
    /// Size, bands, CRS, geotransform, lon/lat bounds, overviews and layout of a GeoTIFF.
    Info {
        /// The GeoTIFF.
        file: PathBuf,
    },
    /// Statistics of a band or an index (nodata, masked and non-finite values excluded).
    Stats {
        /// The GeoTIFF.
        file: PathBuf,
        #[command(flatten)]
        what: What,
        /// GeoJSON file (lon/lat Polygon, MultiPolygon or Feature): only pixel centres inside.
        #[arg(long)]
        aoi: Option<PathBuf>,
    },
    /// Render XYZ tile Z/X/Y as a 256x256 RGBA PNG.
    Tile {
        /// The GeoTIFF.
        file: PathBuf,
        /// Zoom level.
        z: u8,
        /// Tile column.
        x: u32,
        /// Tile row (XYZ: 0 at the top).
        y: u32,
        #[command(flatten)]
        what: What,
        /// Linear rescale `MIN,MAX` (default: the index's range; 0,255 for 8-bit bands, else the
        /// tile's own min,max). For true_color only MAX is used (reflectance, default 0.3).
        #[arg(long, value_parser = parse_range, allow_hyphen_values = true)]
        rescale: Option<(f64, f64)>,
        /// rdylgn, viridis, blues, ylgn, spectral, greys (append `_r` to reverse).
        #[arg(long)]
        colormap: Option<String>,
        /// Where to write the PNG.
        #[arg(short, long)]
        output: PathBuf,
    },
}

/// `--band N` or `--index NAME --bands red=3,nir=4,…`.
#[derive(Debug, clap::Args)]
#[group(required = true, multiple = true)]
pub struct What {
    /// 1-based band number.
    #[arg(long, conflicts_with = "index")]
    band: Option<usize>,
    /// Index name (ndvi, ndre, ndwi, ndmi, evi, savi, gndvi, reci, msi, nbr, bsi, ari, cri, true_color).
    #[arg(long, requires = "bands")]
    index: Option<String>,
    /// Which file band holds each input band: `blue=1,green=2,red=3,nir=4,…`.
    #[arg(long)]
    bands: Option<String>,
}

impl What {
    fn selection(&self) -> anyhow::Result<Selection> {
        match (&self.band, &self.index, &self.bands) {
            (Some(n), None, _) => Ok(Selection::Band(*n)),
            (None, Some(name), Some(spec)) => Ok(Selection::Index {
                name: name.clone(),
                bands: Selection::parse_bands(spec)?,
            }),
            _ => bail!("give --band N, or --index NAME with --bands NAME=N,…"),
        }
    }
}

fn parse_range(s: &str) -> Result<(f64, f64), String> {
    let (a, b) = s.split_once(',').ok_or("expected MIN,MAX")?;
    let (a, b) = (
        a.trim().parse::<f64>().map_err(|e| e.to_string())?,
        b.trim().parse::<f64>().map_err(|e| e.to_string())?,
    );
    if a < b {
        Ok((a, b))
    } else {
        Err("MIN must be below MAX".into())
    }
}

pub fn run(cmd: RasterCommand) -> anyhow::Result<()> {
    // Serialised straight from the structs so keys keep their documented order.
    let json = match cmd {
        RasterCommand::Info { file } => serde_json::to_string_pretty(
            &cli::info(&file).with_context(|| format!("reading {}", file.display()))?,
        )?,
        RasterCommand::Stats { file, what, aoi } => {
            let aoi = aoi
                .map(|p| {
                    std::fs::read_to_string(&p).with_context(|| format!("reading {}", p.display()))
                })
                .transpose()?;
            let stats = cli::stats(&file, &what.selection()?, aoi.as_deref())
                .with_context(|| format!("statistics of {}", file.display()))?;
            serde_json::to_string_pretty(&stats)?
        }
        RasterCommand::Tile {
            file,
            z,
            x,
            y,
            what,
            rescale,
            colormap,
            output,
        } => {
            let style = Style { rescale, colormap };
            let report = cli::tile(&file, z, x, y, &what.selection()?, &style, &output)
                .with_context(|| format!("tile {z}/{x}/{y} of {}", file.display()))?;
            serde_json::to_string_pretty(&report)?
        }
    };
    // A closed pipe (`| head`) is an error to report, not a panic.
    writeln!(std::io::stdout(), "{json}")?;
    Ok(())
}
