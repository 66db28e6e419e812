//! From pixels to what users see: a band or an index per pixel, then RGBA and PNG tiles.

use crate::colormap;
use crate::crs::Crs;
use crate::error::{Error, Result};
use crate::geo::Grid;
use crate::index::{self, Band, Scaling};
use crate::mask::{self, Polygon};
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
    /// A radar index (`crate::radar`) from the file's (1-based) linear-power VV and VH bands.
    Radar { name: String, vv: usize, vh: usize },
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
            Selection::Radar { vv, vh, .. } => {
                out.push(*vv);
                if vh != vv {
                    out.push(*vh);
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
            Selection::Radar { name, vv, vh } => Selection::Radar {
                name: name.clone(),
                vv: at(*vv),
                vh: at(*vh),
            },
        }
    }

    fn check(&self, file_bands: usize) -> Result<()> {
        let ok = |n: usize| (1..=file_bands).contains(&n);
        match self {
            Selection::Band(n) if ok(*n) => Ok(()),
            Selection::Band(n) => Err(Error::Invalid(format!("band {n} not in 1..={file_bands}"))),
            Selection::Radar { name, vv, vh } => {
                if !crate::radar::is_radar_index(name) {
                    return Err(Error::Invalid(format!("unknown radar index {name}")));
                }
                match [*vv, *vh].into_iter().find(|&n| !ok(n)) {
                    Some(n) => Err(Error::Invalid(format!("band {n} not in 1..={file_bands}"))),
                    None => Ok(()),
                }
            }
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
        Selection::Radar { name, vv, vh } => {
            let scaled = |n: usize| {
                scaled_band(
                    r,
                    n - 1,
                    scalings.get(n - 1).copied().unwrap_or(Scaling::IDENTITY),
                )
            };
            let (vv, vh) = (scaled(*vv), scaled(*vh));
            Ok(vv
                .iter()
                .zip(&vh)
                .map(|(&vv, &vh)| crate::radar::value(name, vv, vh))
                .collect())
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
        Selection::Radar { name, .. } => {
            let info = crate::radar::info(name)
                .ok_or_else(|| Error::Invalid(format!("unknown radar index {name}")))?;
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
    let decoded = DecodedWindow {
        level: plan.level,
        window,
        raster: &raster,
        bands: None,
        mask: mask.as_deref(),
        positions: None,
    };
    tile_png_from_window(tiff, &decoded, &grid, selection, style, Clip::None)
}

/// A window of one level already decoded (the sans-IO/async path: [`warp::plan`] →
/// [`Tiff::plan`] → fetch → [`Tiff::decode`], or a cache of decoded blocks).
#[derive(Debug, Clone, Copy)]
pub struct DecodedWindow<'a> {
    pub level: usize,
    pub window: Window,
    /// Bands of the file over `window`: every band, or those `bands` names.
    pub raster: &'a Raster,
    /// The file bands (0-based) `raster` holds, in order, when not every band (a read of only
    /// the bands a tile needs, see [`Tiff::plan_bands`]).
    pub bands: Option<&'a [usize]>,
    /// The file's internal mask over `window` (0 = no data), if it has one.
    pub mask: Option<&'a [u8]>,
    /// The grid's source positions in full-resolution pixels, when already known from
    /// [`warp::plan_with_positions`] (saves projecting the grid again).
    pub positions: Option<&'a [(f64, f64)]>,
}

impl DecodedWindow<'_> {
    /// The file bands `wanted` (0-based) of the window; an error names one it was read without.
    fn select(&self, wanted: &[usize]) -> Result<Raster> {
        let Some(held) = self.bands else {
            if let Some(&b) = wanted.iter().find(|&&b| b >= self.raster.bands) {
                return Err(Error::Invalid(format!("band {} out of range", b + 1)));
            }
            return Ok(self.raster.select_bands(wanted));
        };
        let slots = wanted
            .iter()
            .map(|b| {
                held.iter().position(|h| h == b).ok_or_else(|| {
                    Error::Invalid(format!("band {} was not read for this window", b + 1))
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(self.raster.select_bands(&slots))
    }

    /// Source positions of the grid's pixel centres in this window's pixels.
    fn positions(&self, tiff: &Tiff, grid: &Grid) -> Result<Vec<(f64, f64)>> {
        match self.positions {
            Some(p) => warp::window_positions(tiff, self.level, self.window, p),
            None => {
                let (_, p) = warp::plan_with_positions(tiff, grid)?;
                warp::window_positions(tiff, self.level, self.window, &p)
            }
        }
    }
}

/// What hides a tile's pixels besides missing data.
#[derive(Debug, Clone, Copy)]
pub enum Clip<'a> {
    /// Nothing: every pixel with data shows.
    None,
    /// Pixels whose nearest value of this band (1-based) is 0 or nodata: a field-week COG's
    /// validity band holds the field and its clear pixels, at the data's resolution.
    Band(usize),
    /// Pixels whose centre is outside these polygons, given in the grid's CRS: edges as sharp as
    /// the tile's pixels at every zoom, where they match the outline a map draws.
    Polygons(&'a [Polygon]),
}

impl Clip<'_> {
    /// Per grid pixel, whether it may show; `None` when the clip keeps every pixel.
    fn keep(
        &self,
        tiff: &Tiff,
        decoded: &DecodedWindow,
        grid: &Grid,
        pos: &[(f64, f64)],
    ) -> Result<Option<Vec<bool>>> {
        match *self {
            Clip::None => Ok(None),
            Clip::Band(band) => clip_mask(tiff, decoded, grid, band, pos).map(Some),
            Clip::Polygons(polygons) => {
                mask::rasterize(polygons, &grid.transform, grid.width, grid.height, false).map(Some)
            }
        }
    }
}

/// Renders a tile grid from a decoded window, hiding what `clip` hides. `None` when the tile
/// holds nothing: with [`Clip::Polygons`], when no pixel centre is inside them (a tile inside
/// the field whose pixels are all cloud is a transparent PNG); otherwise when no pixel shows.
pub fn tile_png_from_window(
    tiff: &Tiff,
    decoded: &DecodedWindow,
    grid: &Grid,
    selection: &Selection,
    style: &Style,
    clip: Clip,
) -> Result<Option<Vec<u8>>> {
    let pos = decoded.positions(tiff, grid)?;
    let keep = clip.keep(tiff, decoded, grid, &pos)?;
    if matches!(clip, Clip::Polygons(_)) && keep.as_ref().is_some_and(|k| !k.contains(&true)) {
        return Ok(None);
    }
    let warped = warp_selection(tiff, decoded, grid, selection, &pos)?;
    let mut pixels = rgba(
        &warped.raster,
        &warped.selection,
        &warped.scalings,
        style,
        tiff.dtype(),
    )?;
    if let Some(keep) = &keep {
        colormap::clip_to_mask(&mut pixels, keep);
    }
    if !matches!(clip, Clip::Polygons(_)) && pixels.chunks_exact(4).all(|p| p[3] == 0) {
        return Ok(None);
    }
    crate::png::encode_rgba(grid.width as u32, grid.height as u32, &pixels).map(Some)
}

/// The values a tile shows before the colormap (an index, or a band): NaN where there is no
/// data or `clip` hides the pixel. The same path as [`tile_png_from_window`].
pub fn tile_values(
    tiff: &Tiff,
    decoded: &DecodedWindow,
    grid: &Grid,
    selection: &Selection,
    clip: Clip,
) -> Result<Vec<f64>> {
    let pos = decoded.positions(tiff, grid)?;
    let warped = warp_selection(tiff, decoded, grid, selection, &pos)?;
    let mut v = values(&warped.raster, &warped.selection, &warped.scalings)?;
    if let Some(keep) = clip.keep(tiff, decoded, grid, &pos)? {
        for (x, keep) in v.iter_mut().zip(keep) {
            if !keep {
                *x = f64::NAN;
            }
        }
    }
    Ok(v)
}

/// The bands a selection reads, warped (bilinear) onto the grid, with the selection and
/// scalings renumbered to match.
struct Warped {
    raster: Raster,
    selection: Selection,
    scalings: Vec<Scaling>,
}

fn warp_selection(
    tiff: &Tiff,
    decoded: &DecodedWindow,
    grid: &Grid,
    selection: &Selection,
    pos: &[(f64, f64)],
) -> Result<Warped> {
    selection.check(tiff.bands() as usize)?;
    let used = selection.file_bands();
    let zero_based: Vec<usize> = used.iter().map(|n| n - 1).collect();
    let sub = decoded.select(&zero_based)?;
    let raster = warp_window(tiff, decoded, &sub, grid, Resampling::Bilinear, pos)?;
    let all = scalings(tiff);
    Ok(Warped {
        raster,
        selection: selection.remapped(&used),
        scalings: used.iter().map(|&n| all[n - 1]).collect(),
    })
}

/// Per grid pixel, whether the nearest value of `band` (1-based) is valid (not 0, not nodata).
fn clip_mask(
    tiff: &Tiff,
    decoded: &DecodedWindow,
    grid: &Grid,
    band: usize,
    pos: &[(f64, f64)],
) -> Result<Vec<bool>> {
    if band == 0 {
        return Err(Error::Invalid("clip band 0 out of range".into()));
    }
    let valid = decoded.select(&[band - 1])?;
    let warped = warp_window(tiff, decoded, &valid, grid, Resampling::Nearest, pos)?;
    let Buffer::F64(v) = warped.data else {
        return Err(Error::Invalid(
            "internal: warped band is not float64".into(),
        ));
    };
    Ok(v.into_iter().map(|x| !x.is_nan() && x != 0.0).collect())
}

/// Warps `raster` (some bands of the decoded window) onto the grid.
fn warp_window(
    tiff: &Tiff,
    decoded: &DecodedWindow,
    raster: &Raster,
    grid: &Grid,
    resampling: Resampling,
    pos: &[(f64, f64)],
) -> Result<Raster> {
    let georef = tiff
        .georef
        .ok_or_else(|| Error::Invalid("raster has no georeferencing".into()))?;
    let crs = Crs::from_epsg(
        georef
            .epsg
            .ok_or_else(|| Error::Invalid("raster has no EPSG code".into()))?,
    )?;
    let source = warp::Source {
        raster,
        transform: tiff
            .window_transform(decoded.level, decoded.window)
            .ok_or_else(|| Error::Invalid("no such level".into()))?,
        crs: &crs,
        nodata: tiff.nodata,
        mask: decoded.mask,
    };
    warp::warp_at(&source, grid, resampling, pos)
}

/// The spectral band a field-week COG band description names (`B04` → red).
pub fn sentinel2_band(description: &str) -> Option<Band> {
    Some(match description {
        "B02" => Band::Blue,
        "B03" => Band::Green,
        "B04" => Band::Red,
        "B05" => Band::Rededge1,
        "B08" => Band::Nir,
        "B11" => Band::Swir16,
        "B12" => Band::Swir22,
        _ => return None,
    })
}

/// Where a field-week COG keeps each spectral band and its validity band, read from the band
/// descriptions, so a file with other bands or another order still renders right.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandLayout {
    /// 1-based file band of each spectral band found.
    pub spectral: Vec<(Band, usize)>,
    /// 1-based band described `mask` (1 = clear pixel inside the field).
    pub mask: Option<usize>,
    /// 1-based bands described `VV` and `VH` (a radar COG's linear backscatter).
    pub vv: Option<usize>,
    pub vh: Option<usize>,
}

impl BandLayout {
    pub fn of(tiff: &Tiff) -> BandLayout {
        let mut layout = BandLayout::default();
        for (i, info) in tiff.band_info.iter().enumerate() {
            match info.description.as_deref() {
                Some("mask") => layout.mask = Some(i + 1),
                Some("VV") => layout.vv = Some(i + 1),
                Some("VH") => layout.vh = Some(i + 1),
                Some(d) => {
                    if let Some(band) = sentinel2_band(d) {
                        layout.spectral.push((band, i + 1));
                    }
                }
                None => {}
            }
        }
        layout
    }

    /// The selection of index `name` over this file; an error names a band the file lacks.
    pub fn selection(&self, name: &str) -> Result<Selection> {
        if crate::radar::is_radar_index(name) {
            return match (self.vv, self.vh) {
                (Some(vv), Some(vh)) => Ok(Selection::Radar {
                    name: name.to_owned(),
                    vv,
                    vh,
                }),
                _ => Err(Error::Invalid(format!(
                    "{name} needs the VV and VH bands of a radar raster"
                ))),
            };
        }
        let selection = Selection::Index {
            name: name.to_owned(),
            bands: self.spectral.clone(),
        };
        for need in index::bands(name)? {
            if !self.spectral.iter().any(|(b, _)| b == need) {
                return Err(Error::Invalid(format!(
                    "{name} needs the {} band, which this raster lacks",
                    need.name()
                )));
            }
        }
        Ok(selection)
    }
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

    #[test]
    fn radar_selection_computes_the_index_per_pixel() {
        let s = Selection::Radar {
            name: "rvi".into(),
            vv: 2,
            vh: 3,
        };
        assert_eq!(s.file_bands(), vec![2, 3]);
        assert_eq!(
            s.remapped(&[2, 3]),
            Selection::Radar {
                name: "rvi".into(),
                vv: 1,
                vh: 2
            }
        );
        assert!(s.check(2).is_err());
        // Bands: mask, VV, VH; the second pixel has no valid observation.
        let r = Raster {
            width: 2,
            height: 1,
            bands: 3,
            data: Buffer::F32(vec![1.0, 0.0, 0.1, f32::NAN, 0.025, f32::NAN]),
        };
        let v = values(&r, &s, &[Scaling::IDENTITY; 3]).unwrap();
        assert!((v[0] - 4.0 * 0.025 / 0.125).abs() < 1e-6 && v[1].is_nan());
        let db = Selection::Radar {
            name: "vv_db".into(),
            vv: 2,
            vh: 3,
        };
        let v = values(&r, &db, &[Scaling::IDENTITY; 3]).unwrap();
        assert!((v[0] + 10.0).abs() < 1e-5);
        let rgba = rgba(
            &r,
            &s,
            &[Scaling::IDENTITY; 3],
            &Style::default(),
            DType::F32,
        )
        .unwrap();
        assert_eq!((rgba[3], rgba[7]), (255, 0), "no observation: transparent");
    }
}
