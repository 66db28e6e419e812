//! From pixels to what users see: a band or an index per pixel, then RGBA and PNG tiles.

use crate::colormap;
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::geo::Grid;
use crate::index::{self, Band, Scaling};
use crate::raster::{Buffer, DType, Raster};
use crate::source::ReadAt;
use crate::tiff::{Tiff, Window};
use crate::tile;
use crate::warp::{self, Resampling};

/// What to show: one band of the file, or an index computed from named bands.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    /// 1-based band number.
    Band(usize),
    /// An index of the catalogue, with the file's (1-based) band for each band it needs.
    Index {
        name: String,
        bands: Vec<(Band, usize)>,
    },
}

impl Selection {
    /// Parses `red=3,nir=4` into band assignments.
    pub fn parse_bands(spec: &str) -> Result<Vec<(Band, usize)>> {
        spec.split(',')
            .filter(|s| !s.trim().is_empty())
            .map(|kv| {
                let (k, v) = kv.split_once('=').ok_or_else(|| {
                    Error::Invalid(format!("band assignment {kv:?} is not NAME=N"))
                })?;
                let band = Band::from_name(k.trim())
                    .ok_or_else(|| Error::Invalid(format!("unknown band name {k:?}")))?;
                let n = v
                    .trim()
                    .parse::<usize>()
                    .ok()
                    .filter(|&n| n >= 1)
                    .ok_or_else(|| Error::Invalid(format!("bad band number {v:?}")))?;
                Ok((band, n))
            })
            .collect()
    }

    /// The file bands (1-based) the selection reads, without repeats.
    pub fn file_bands(&self) -> Vec<usize> {
        let mut out = Vec::new();
        match self {
            Selection::Band(n) => out.push(*n),
            Selection::Index { name, bands } => {
                for need in index::bands(name).unwrap_or(&[]) {
                    if let Some((_, n)) = bands.iter().find(|(b, _)| b == need)
                        && !out.contains(n)
                    {
                        out.push(*n);
                    }
                }
            }
        }
        out
    }

    /// The same selection over a raster that holds only `file_bands`, in that order.
    fn remapped(&self, file_bands: &[usize]) -> Selection {
        let at = |n: usize| file_bands.iter().position(|&f| f == n).map_or(n, |p| p + 1);
        match self {
            Selection::Band(n) => Selection::Band(at(*n)),
            Selection::Index { name, bands } => Selection::Index {
                name: name.clone(),
                bands: bands
                    .iter()
                    .filter(|(_, n)| file_bands.contains(n))
                    .map(|&(b, n)| (b, at(n)))
                    .collect(),
            },
        }
    }

    fn check(&self, file_bands: usize) -> Result<()> {
        let ok = |n: usize| (1..=file_bands).contains(&n);
        match self {
            Selection::Band(n) if ok(*n) => Ok(()),
            Selection::Band(n) => Err(Error::Invalid(format!("band {n} not in 1..={file_bands}"))),
            Selection::Index { name, bands } => {
                for need in index::bands(name)? {
                    match bands.iter().find(|(b, _)| b == need) {
                        Some((_, n)) if ok(*n) => {}
                        Some((_, n)) => {
                            return Err(Error::Invalid(format!(
                                "band {n} not in 1..={file_bands}"
                            )));
                        }
                        None => {
                            return Err(Error::Invalid(format!(
                                "{name} needs --bands {}=N",
                                need.name()
                            )));
                        }
                    }
                }
                Ok(())
            }
        }
    }
}

/// Rescale range and colormap; `None` picks the catalogue's (indices) or a default (bands).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Style {
    pub rescale: Option<(f64, f64)>,
    pub colormap: Option<String>,
}

/// Scaling of each band from the file's metadata (identity where it declares none).
pub fn scalings(tiff: &Tiff) -> Vec<Scaling> {
    tiff.band_info
        .iter()
        .map(|b| Scaling {
            scale: b.scale.unwrap_or(1.0),
            offset: b.offset.unwrap_or(0.0),
        })
        .collect()
}

/// The selected value per pixel of `r` (whose no-data pixels are already NaN). A band is
/// taken as stored; an index is computed on `DN × scale + offset`.
pub fn values(r: &Raster, selection: &Selection, scalings: &[Scaling]) -> Result<Vec<f64>> {
    selection.check(r.bands)?;
    match selection {
        Selection::Band(n) => Ok(r.band_f64(n - 1)),
        Selection::Index { name, bands } => {
            // Only the bands the index reads, scaled straight from the raster's samples.
            let needed = index::bands(name)?;
            let cols: Vec<(Band, Vec<f64>)> = bands
                .iter()
                .filter(|(b, _)| needed.contains(b))
                .map(|&(b, n)| {
                    (
                        b,
                        scaled_band(
                            r,
                            n - 1,
                            scalings.get(n - 1).copied().unwrap_or(Scaling::IDENTITY),
                        ),
                    )
                })
                .collect();
            let input: Vec<(Band, &[f64])> = cols.iter().map(|(b, v)| (*b, v.as_slice())).collect();
            index::compute(name, &input)
        }
    }
}

/// One band as `DN × scale + offset`, in one pass.
fn scaled_band(r: &Raster, b: usize, s: Scaling) -> Vec<f64> {
    let n = r.width * r.height;
    match &r.data {
        Buffer::F64(v) => v[b * n..(b + 1) * n]
            .iter()
            .map(|&x| x * s.scale + s.offset)
            .collect(),
        _ => r
            .band_f64(b)
            .into_iter()
            .map(|x| x * s.scale + s.offset)
            .collect(),
    }
}

/// RGBA pixels of the selection with its style; no data is transparent.
pub fn rgba(
    r: &Raster,
    selection: &Selection,
    scalings: &[Scaling],
    style: &Style,
    dtype: DType,
) -> Result<Vec<u8>> {
    if let Selection::Index { name, bands } = selection
        && name == "true_color"
    {
        selection.check(r.bands)?;
        let band = |want: Band| -> Vec<f64> {
            let n = bands
                .iter()
                .find(|(b, _)| *b == want)
                .map_or(1, |(_, n)| *n);
            scalings
                .get(n - 1)
                .copied()
                .unwrap_or(Scaling::IDENTITY)
                .apply(&r.band_f64(n - 1), None)
        };
        let max = style.rescale.map_or(index::TRUE_COLOR_MAX, |(_, hi)| hi);
        return Ok(colormap::true_color(
            &band(Band::Red),
            &band(Band::Green),
            &band(Band::Blue),
            max,
        ));
    }
    let v = values(r, selection, scalings)?;
    let (range, cmap_name) = match selection {
        Selection::Index { name, .. } => {
            let info =
                index::info(name).ok_or_else(|| Error::Invalid(format!("unknown index {name}")))?;
            ((info.range[0], info.range[1]), info.colormap.to_string())
        }
        Selection::Band(_) => (default_band_range(&v, dtype), "greys_r".to_string()),
    };
    let (lo, hi) = style.rescale.unwrap_or(range);
    let name = style.colormap.clone().unwrap_or(cmap_name);
    let cmap = colormap::get(&name).ok_or_else(|| {
        Error::Invalid(format!(
            "unknown colormap {name:?} (known: {})",
            colormap::NAMES.join(", ")
        ))
    })?;
    Ok(colormap::apply(&v, lo, hi, &cmap))
}

/// 0–255 for bytes; otherwise the min and max of the valid values shown.
fn default_band_range(v: &[f64], dtype: DType) -> (f64, f64) {
    if dtype == DType::U8 {
        return (0.0, 255.0);
    }
    let (lo, hi) = v
        .iter()
        .filter(|x| x.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), &x| {
            (a.min(x), b.max(x))
        });
    if lo < hi { (lo, hi) } else { (lo, lo + 1.0) }
}

/// Renders XYZ tile z/x/y (256 px, bilinear) from a sync source. `None` when the tile holds no
/// data at all (the API answers 204).
pub fn tile_png<R: ReadAt + ?Sized>(
    tiff: &Tiff,
    src: &R,
    z: u8,
    x: u32,
    y: u32,
    selection: &Selection,
    style: &Style,
) -> Result<Option<Vec<u8>>> {
    tile::validate(z, x, y)?;
    selection.check(tiff.bands() as usize)?;
    let grid = tile::grid(z, x, y, 256);
    let plan = warp::plan(tiff, &grid)?;
    let Some(window) = plan.window else {
        return Ok(None);
    };
    let raster = tiff.read_window(src, plan.level, window)?;
    let mask = warp::read_mask(tiff, src, plan.level, window)?;
    tile_png_from_window(
        tiff,
        plan.level,
        window,
        &raster,
        mask.as_deref(),
        &grid,
        selection,
        style,
    )
}

/// Renders a tile grid from a window already decoded (the sans-IO/async path:
/// [`warp::plan`] → [`Tiff::plan`] → fetch → [`Tiff::decode`], or a cache of decoded
/// windows). `None` when the tile holds no data.
#[allow(clippy::too_many_arguments)] // each is a distinct input of the render
pub fn tile_png_from_window(
    tiff: &Tiff,
    level: usize,
    window: Window,
    raster: &Raster,
    mask: Option<&[u8]>,
    grid: &Grid,
    selection: &Selection,
    style: &Style,
) -> Result<Option<Vec<u8>>> {
    selection.check(tiff.bands() as usize)?;
    // Warp only the bands the selection reads.
    let used = selection.file_bands();
    let zero_based: Vec<usize> = used.iter().map(|n| n - 1).collect();
    let sub = raster.select_bands(&zero_based);
    let georef = tiff
        .georef
        .ok_or_else(|| Error::Invalid("raster has no georeferencing".into()))?;
    let crs = Crs::from_epsg(
        georef
            .epsg
            .ok_or_else(|| Error::Invalid("raster has no EPSG code".into()))?,
    )?;
    let source = warp::Source {
        raster: &sub,
        transform: tiff
            .window_transform(level, window)
            .ok_or_else(|| Error::Invalid("no such level".into()))?,
        crs: &crs,
        nodata: tiff.nodata,
        mask,
    };
    let warped = warp::warp(&source, grid, Resampling::Bilinear)?;
    let all = scalings(tiff);
    let used_scalings: Vec<Scaling> = used.iter().map(|&n| all[n - 1]).collect();
    let pixels = rgba(
        &warped,
        &selection.remapped(&used),
        &used_scalings,
        style,
        tiff.dtype(),
    )?;
    if pixels.chunks_exact(4).all(|p| p[3] == 0) {
        return Ok(None);
    }
    crate::png::encode_rgba(grid.width as u32, grid.height as u32, &pixels).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_specs() {
        assert_eq!(
            Selection::parse_bands("red=3, nir=4").unwrap(),
            vec![(Band::Red, 3), (Band::Nir, 4)]
        );
        assert!(Selection::parse_bands("red=0").is_err());
        assert!(Selection::parse_bands("purple=1").is_err());
        let s = Selection::Index {
            name: "ndvi".into(),
            bands: vec![(Band::Red, 3)],
        };
        assert!(s.check(4).is_err());
    }
}
