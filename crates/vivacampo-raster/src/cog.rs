//! Cloud-Optimized GeoTIFF writer.
//!
//! Layout (COG spec, checked with `rio cogeo validate` by `scripts/raster-fixtures.py`): header,
//! then every IFD (full resolution, then overviews from largest to smallest) each followed by its
//! out-of-line values, then the tile data from the smallest overview to full resolution.
//! Tiles are pixel-interleaved, Deflate-compressed with predictor 2 (integers) or 3 (floats).

use flate2::{Compression as Level, write::ZlibEncoder};
use rayon::prelude::*;
use std::io::Write;

use crate::error::{Error, Result};
use crate::geo::Georef;
use crate::raster::{DType, Raster, Sample};
use crate::tiff::BandInfo;
use crate::with_buffer;

/// How overviews are computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overviews {
    /// Nodata-aware mean (reflectance, indices).
    Average,
    /// Nearest pixel (classes, masks).
    Nearest,
}

/// How a multi-band COG stores its bands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interleave {
    /// Every tile holds all bands of its pixels (GDAL's default).
    Pixel,
    /// One plane of tiles per band (PlanarConfiguration 2): a reader that needs two bands of
    /// eight inflates two tiles, not one eight times larger.
    Band,
}

/// What to write besides the pixels.
#[derive(Debug, Clone)]
pub struct CogOptions {
    pub georef: Georef,
    pub nodata: Option<f64>,
    /// Description, scale and offset per band (GDAL_METADATA); may be empty.
    pub bands: Vec<BandInfo>,
    /// Dataset-level GDAL_METADATA items, (name, value); GDAL lists them under "Metadata".
    pub metadata: Vec<(String, String)>,
    /// 256 or 512 (any multiple of 16 works).
    pub tile_size: u32,
    pub overviews: Overviews,
    pub interleave: Interleave,
    /// zlib level 1–9; 6 is GDAL's default.
    pub deflate_level: u32,
}

impl CogOptions {
    pub fn new(georef: Georef) -> Self {
        CogOptions {
            georef,
            nodata: None,
            bands: Vec::new(),
            metadata: Vec::new(),
            tile_size: 256,
            overviews: Overviews::Average,
            interleave: Interleave::Pixel,
            deflate_level: 6,
        }
    }
}

/// EPSG codes written as geographic (lon/lat) rather than projected.
fn is_geographic(epsg: u32) -> bool {
    matches!(epsg, 4326 | 4674 | 4258 | 4269 | 4167)
}

/// Writes `raster` as a COG into memory.
pub fn write(raster: &Raster, opts: &CogOptions) -> Result<Vec<u8>> {
    let ts = opts.tile_size;
    if ts == 0 || !ts.is_multiple_of(16) || ts > 4096 {
        return Err(Error::Invalid(format!(
            "tile size {ts} is not a multiple of 16 up to 4096"
        )));
    }
    if raster.width == 0 || raster.height == 0 || raster.bands == 0 || raster.bands > 65535 {
        return Err(Error::Invalid("empty raster".into()));
    }
    let epsg = opts
        .georef
        .epsg
        .ok_or_else(|| Error::Invalid("a COG needs an EPSG code".into()))?;
    if matches!(raster.dtype(), DType::I8) {
        return Err(Error::Invalid("int8 is not written".into()));
    }
    // Full resolution, then halvings until the image fits in one tile (GDAL's rule).
    let mut levels = vec![raster.clone()];
    let mut factor = 2usize;
    while levels
        .last()
        .is_some_and(|l| l.width.max(l.height) > ts as usize)
    {
        let (w, h) = (
            raster.width.div_ceil(factor),
            raster.height.div_ceil(factor),
        );
        let prev = levels.last().unwrap_or(raster);
        levels.push(downsample(prev, w, h, opts.nodata, opts.overviews));
        factor *= 2;
    }
    let tiles: Vec<Vec<Vec<u8>>> = levels
        .iter()
        .map(|l| encode_tiles(l, opts))
        .collect::<Result<_>>()?;

    // IFD sizes are fixed by their tag counts, so data offsets can be computed before writing.
    let mut ifds: Vec<Vec<Tag>> = levels
        .iter()
        .enumerate()
        .map(|(i, l)| tags(l, i, epsg, opts, tiles[i].len()))
        .collect::<Result<_>>()?;
    let mut pos = 8u64;
    let mut ifd_at = Vec::new();
    for t in &ifds {
        ifd_at.push(pos);
        pos += ifd_size(t);
    }
    let mut tile_offsets: Vec<Vec<u64>> = vec![Vec::new(); levels.len()];
    for i in (0..levels.len()).rev() {
        for t in &tiles[i] {
            tile_offsets[i].push(pos);
            pos += t.len() as u64;
        }
    }
    if pos > u64::from(u32::MAX) {
        return Err(Error::Limit("COG over 4 GiB (BigTIFF not written)".into()));
    }
    let mut out = Vec::with_capacity(pos as usize);
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&8u32.to_le_bytes());
    for (i, t) in ifds.iter_mut().enumerate() {
        for tag in t.iter_mut() {
            match tag.id {
                324 => tag.value = Value::Long(tile_offsets[i].iter().map(|&o| o as u32).collect()),
                325 => tag.value = Value::Long(tiles[i].iter().map(|t| t.len() as u32).collect()),
                _ => {}
            }
        }
        let next = ifd_at.get(i + 1).copied().unwrap_or(0);
        write_ifd(&mut out, t, ifd_at[i], next);
    }
    for level in tiles.iter().rev() {
        for t in level {
            out.extend_from_slice(t);
        }
    }
    debug_assert_eq!(out.len() as u64, pos);
    Ok(out)
}

enum Value {
    Short(Vec<u16>),
    Long(Vec<u32>),
    Double(Vec<f64>),
    Ascii(String),
}

struct Tag {
    id: u16,
    value: Value,
}

impl Value {
    fn typ(&self) -> u16 {
        match self {
            Value::Short(_) => 3,
            Value::Long(_) => 4,
            Value::Double(_) => 12,
            Value::Ascii(_) => 2,
        }
    }
    fn count(&self) -> usize {
        match self {
            Value::Short(v) => v.len(),
            Value::Long(v) => v.len(),
            Value::Double(v) => v.len(),
            Value::Ascii(s) => s.len() + 1,
        }
    }
    fn bytes(&self) -> Vec<u8> {
        match self {
            Value::Short(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Long(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Double(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Value::Ascii(s) => s.bytes().chain([0]).collect(),
        }
    }
    fn len(&self) -> u64 {
        let size = match self {
            Value::Short(_) => 2,
            Value::Long(_) => 4,
            Value::Double(_) => 8,
            Value::Ascii(_) => 1,
        };
        (size * self.count()) as u64
    }
}

fn ifd_size(tags: &[Tag]) -> u64 {
    let extra: u64 = tags
        .iter()
        .map(|t| t.value.len())
        .filter(|&l| l > 4)
        .map(|l| l + l % 2)
        .sum();
    2 + 12 * tags.len() as u64 + 4 + extra
}

fn write_ifd(out: &mut Vec<u8>, tags: &[Tag], at: u64, next: u64) {
    debug_assert_eq!(out.len() as u64, at);
    let mut values_at = at + 2 + 12 * tags.len() as u64 + 4;
    let mut values = Vec::new();
    out.extend_from_slice(&(tags.len() as u16).to_le_bytes());
    for t in tags {
        out.extend_from_slice(&t.id.to_le_bytes());
        out.extend_from_slice(&t.value.typ().to_le_bytes());
        out.extend_from_slice(&(t.value.count() as u32).to_le_bytes());
        let mut b = t.value.bytes();
        if b.len() <= 4 {
            b.resize(4, 0);
            out.extend_from_slice(&b);
        } else {
            out.extend_from_slice(&(values_at as u32).to_le_bytes());
            if b.len() % 2 == 1 {
                b.push(0); // values start on a word boundary
            }
            values_at += b.len() as u64;
            values.extend_from_slice(&b);
        }
    }
    out.extend_from_slice(&(next as u32).to_le_bytes());
    out.extend_from_slice(&values);
}

fn tags(
    l: &Raster,
    level: usize,
    epsg: u32,
    opts: &CogOptions,
    n_tiles: usize,
) -> Result<Vec<Tag>> {
    let dt = l.dtype();
    let bands = l.bands;
    let (format, predictor) = match dt {
        DType::F32 | DType::F64 => (3, 3),
        DType::I16 | DType::I32 | DType::I8 => (2, 2),
        _ => (1, 2),
    };
    let ts = opts.tile_size;
    let mut t = vec![
        Tag {
            id: 254,
            value: Value::Long(vec![u32::from(level > 0)]),
        },
        Tag {
            id: 256,
            value: Value::Long(vec![l.width as u32]),
        },
        Tag {
            id: 257,
            value: Value::Long(vec![l.height as u32]),
        },
        Tag {
            id: 258,
            value: Value::Short(vec![(dt.size() * 8) as u16; bands]),
        },
        Tag {
            id: 259,
            value: Value::Short(vec![8]),
        },
        Tag {
            id: 262,
            value: Value::Short(vec![1]),
        },
        Tag {
            id: 277,
            value: Value::Short(vec![bands as u16]),
        },
        Tag {
            id: 284,
            value: Value::Short(vec![match opts.interleave {
                Interleave::Band if bands > 1 => 2,
                _ => 1,
            }]),
        },
        Tag {
            id: 317,
            value: Value::Short(vec![predictor]),
        },
        Tag {
            id: 322,
            value: Value::Long(vec![ts]),
        },
        Tag {
            id: 323,
            value: Value::Long(vec![ts]),
        },
        Tag {
            id: 324,
            value: Value::Long(vec![0; n_tiles]),
        },
        Tag {
            id: 325,
            value: Value::Long(vec![0; n_tiles]),
        },
    ];
    if bands > 1 {
        t.push(Tag {
            id: 338,
            value: Value::Short(vec![0; bands - 1]),
        });
    }
    t.push(Tag {
        id: 339,
        value: Value::Short(vec![format; bands]),
    });
    if level == 0 {
        let g = opts.georef.transform.0;
        if g[2] == 0.0 && g[4] == 0.0 {
            t.push(Tag {
                id: 33550,
                value: Value::Double(vec![g[1], -g[5], 0.0]),
            });
            t.push(Tag {
                id: 33922,
                value: Value::Double(vec![0.0, 0.0, 0.0, g[0], g[3], 0.0]),
            });
        } else {
            let m = vec![
                g[1], g[2], 0.0, g[0], g[4], g[5], 0.0, g[3], 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0,
                1.0,
            ];
            t.push(Tag {
                id: 34264,
                value: Value::Double(m),
            });
        }
        let epsg16 = u16::try_from(epsg).map_err(|_| Error::UnsupportedCrs(epsg))?;
        let keys = if is_geographic(epsg) {
            vec![1, 1, 0, 3, 1024, 0, 1, 2, 1025, 0, 1, 1, 2048, 0, 1, epsg16]
        } else {
            vec![1, 1, 0, 3, 1024, 0, 1, 1, 1025, 0, 1, 1, 3072, 0, 1, epsg16]
        };
        t.push(Tag {
            id: 34735,
            value: Value::Short(keys),
        });
        if let Some(xml) = gdal_metadata(&opts.metadata, &opts.bands) {
            t.push(Tag {
                id: 42112,
                value: Value::Ascii(xml),
            });
        }
    }
    if let Some(nd) = opts.nodata {
        t.push(Tag {
            id: 42113,
            value: Value::Ascii(format_nodata(nd)),
        });
    }
    Ok(t)
}

fn format_nodata(v: f64) -> String {
    if v.is_nan() {
        "nan".into()
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v:?}")
    }
}

fn escape_xml(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn gdal_metadata(items: &[(String, String)], bands: &[BandInfo]) -> Option<String> {
    let mut xml = String::from("<GDALMetadata>\n");
    let mut any = false;
    for (name, value) in items {
        xml += &format!(
            "  <Item name=\"{}\">{}</Item>\n",
            escape_xml(name),
            escape_xml(value)
        );
        any = true;
    }
    for (i, b) in bands.iter().enumerate() {
        if let Some(d) = &b.description {
            let d = escape_xml(d);
            xml += &format!(
                "  <Item name=\"DESCRIPTION\" sample=\"{i}\" role=\"description\">{d}</Item>\n"
            );
            any = true;
        }
        if let Some(o) = b.offset {
            xml +=
                &format!("  <Item name=\"OFFSET\" sample=\"{i}\" role=\"offset\">{o:?}</Item>\n");
            any = true;
        }
        if let Some(s) = b.scale {
            xml += &format!("  <Item name=\"SCALE\" sample=\"{i}\" role=\"scale\">{s:?}</Item>\n");
            any = true;
        }
    }
    xml += "</GDALMetadata>";
    any.then_some(xml)
}

/// Cuts one level into padded, predicted, deflated tiles (row-major).
fn encode_tiles(l: &Raster, opts: &CogOptions) -> Result<Vec<Vec<u8>>> {
    let ts = opts.tile_size as usize;
    let (across, down) = (l.width.div_ceil(ts), l.height.div_ceil(ts));
    let fill = opts.nodata.unwrap_or(0.0);
    // Band interleave: the tiles of band 1, then of band 2, … (TIFF's plane order).
    let planes: Vec<Raster> = match opts.interleave {
        Interleave::Band if l.bands > 1 => (0..l.bands).map(|b| l.select_bands(&[b])).collect(),
        _ => vec![l.clone()],
    };
    let tiles = across * down;
    (0..tiles * planes.len())
        .into_par_iter()
        .map(|i| {
            let plane = &planes[i / tiles];
            let (tx, ty) = (i % tiles % across, i % tiles / across);
            let raw =
                with_buffer!(&plane.data, v => tile_bytes(v, plane, tx * ts, ty * ts, ts, fill));
            let mut z = ZlibEncoder::new(
                Vec::with_capacity(raw.len() / 2),
                Level::new(opts.deflate_level.min(9)),
            );
            z.write_all(&raw)?;
            Ok(z.finish()?)
        })
        .collect()
}

/// Little-endian, pixel-interleaved bytes of one tile with the predictor applied.
fn tile_bytes<T: Sample>(
    v: &[T],
    l: &Raster,
    x0: usize,
    y0: usize,
    ts: usize,
    fill: f64,
) -> Vec<u8> {
    let nb = l.bands;
    let size = T::DTYPE.size();
    let plane = l.width * l.height;
    let fill = T::from_f64(fill);
    let mut samples = Vec::with_capacity(ts * ts * nb);
    for y in y0..y0 + ts {
        for x in x0..x0 + ts {
            for b in 0..nb {
                samples.push(if x < l.width && y < l.height {
                    v[b * plane + y * l.width + x]
                } else {
                    fill
                });
            }
        }
    }
    let row_len = ts * nb * size;
    let mut out = Vec::with_capacity(ts * row_len);
    let float = matches!(T::DTYPE, DType::F32 | DType::F64);
    for row in samples.chunks_exact(ts * nb) {
        let start = out.len();
        if float {
            // Predictor 3: byte planes, most significant first, then byte differences.
            let n = row.len();
            out.resize(start + n * size, 0);
            for (i, s) in row.iter().enumerate() {
                let be = s.bits().to_be_bytes();
                for (b, byte) in be[8 - size..].iter().enumerate() {
                    out[start + b * n + i] = *byte;
                }
            }
            let r = &mut out[start..];
            for i in (nb..r.len()).rev() {
                r[i] = r[i].wrapping_sub(r[i - nb]);
            }
        } else {
            // Predictor 2: integer differences with the same band one pixel left.
            for (i, s) in row.iter().enumerate() {
                let cur = s.bits();
                let prev = if i >= nb { row[i - nb].bits() } else { 0 };
                out.extend_from_slice(&cur.wrapping_sub(prev).to_le_bytes()[..size]);
            }
        }
    }
    out
}

/// One overview level from the previous one (GDAL's source windows for non-integer ratios).
fn downsample(src: &Raster, w: usize, h: usize, nodata: Option<f64>, how: Overviews) -> Raster {
    let data = with_buffer!(&src.data, v => {
        let out = downsample_typed(v, src, w, h, nodata, how);
        Sample::wrap(out)
    });
    Raster {
        width: w,
        height: h,
        bands: src.bands,
        data,
    }
}

fn downsample_typed<T: Sample>(
    v: &[T],
    src: &Raster,
    w: usize,
    h: usize,
    nodata: Option<f64>,
    how: Overviews,
) -> Vec<T> {
    let rx = src.width as f64 / w as f64;
    let ry = src.height as f64 / h as f64;
    let span = |i: usize, r: f64, max: usize| {
        let a = ((0.5 + i as f64 * r) as usize).min(max - 1);
        let b = ((0.5 + (i + 1) as f64 * r) as usize).clamp(a + 1, max);
        (a, b)
    };
    let plane = src.width * src.height;
    let nd = nodata.map(T::from_f64);
    let mut out = Vec::with_capacity(w * h * src.bands);
    for b in 0..src.bands {
        let band = &v[b * plane..(b + 1) * plane];
        for y in 0..h {
            let (y0, y1) = span(y, ry, src.height);
            for x in 0..w {
                let (x0, x1) = span(x, rx, src.width);
                out.push(match how {
                    Overviews::Nearest => band[y0 * src.width + x0],
                    Overviews::Average => {
                        let (mut sum, mut n) = (0.0, 0u32);
                        for yy in y0..y1 {
                            for &s in &band[yy * src.width + x0..yy * src.width + x1] {
                                let f = s.to_f64();
                                if Some(s) != nd && !f.is_nan() {
                                    sum += f;
                                    n += 1;
                                }
                            }
                        }
                        if n == 0 {
                            nd.unwrap_or_default()
                        } else if matches!(T::DTYPE, DType::F32 | DType::F64) {
                            T::from_f64(sum / f64::from(n))
                        } else {
                            T::from_f64((sum / f64::from(n) + 0.5).floor())
                        }
                    }
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geo::GeoTransform;
    use crate::raster::Buffer;
    use crate::tiff::{self, Window};

    fn sample(dtype: DType) -> Raster {
        let (w, h, bands) = (300, 270, 2);
        let mut r = Raster {
            width: w,
            height: h,
            bands,
            data: Buffer::zeros(dtype, w * h * bands),
        };
        with_buffer!(&mut r.data, v => {
            for (i, x) in v.iter_mut().enumerate() {
                *x = Sample::from_f64(((i * 7919) % 251) as f64 - if matches!(dtype, DType::I16 | DType::F32) { 100.0 } else { 0.0 });
            }
        });
        r
    }

    #[test]
    fn written_cog_reads_back_identically() {
        for dtype in [
            DType::U8,
            DType::U16,
            DType::I16,
            DType::U32,
            DType::F32,
            DType::F64,
        ] {
            let r = sample(dtype);
            let mut opts = CogOptions::new(Georef {
                epsg: Some(31983),
                transform: GeoTransform::north_up(600000.0, 7400000.0, 10.0, 10.0),
            });
            opts.nodata = Some(0.0);
            opts.bands = vec![
                BandInfo {
                    description: Some("red".into()),
                    scale: Some(1e-4),
                    offset: Some(-0.1),
                },
                BandInfo::default(),
            ];
            opts.metadata = vec![("FIELD".into(), r#"{"type":"Polygon","n":"<&>"}"#.into())];
            let bytes = write(&r, &opts).unwrap();
            let t = tiff::open(&bytes).unwrap();
            assert_eq!(
                t.levels.len(),
                2,
                "{dtype:?}: one overview down to one tile"
            );
            assert_eq!((t.levels[1].width, t.levels[1].height), (150, 135));
            let back = t
                .read_window(&bytes, 0, Window::new(0, 0, 300, 270))
                .unwrap();
            assert_eq!(back, r, "{dtype:?}");
            assert_eq!(t.georef, Some(opts.georef));
            assert_eq!(t.band_info[0], opts.bands[0]);
            assert_eq!(t.metadata, opts.metadata);
            assert_eq!(t.nodata, Some(0.0));
            assert!(!t.levels[0].planar);

            opts.interleave = Interleave::Band;
            let bytes = write(&r, &opts).unwrap();
            let t = tiff::open(&bytes).unwrap();
            assert!(t.levels.iter().all(|l| l.planar), "{dtype:?}");
            for level in 0..2 {
                let img = &t.levels[level];
                let all = Window::new(0, 0, img.width, img.height);
                let whole = t.read_window(&bytes, level, all).unwrap();
                if level == 0 {
                    assert_eq!(whole, r, "{dtype:?} band interleaved");
                }
                // One band alone, as the tiler reads it: only that band's tiles are planned.
                let plan = t.plan_bands(level, all, &[1]).unwrap();
                let full = t.plan(level, all, false).unwrap();
                assert_eq!(plan.chunks.len() * 2, full.chunks.len());
                let ranges = crate::source::Ranges::whole(bytes.clone());
                assert_eq!(t.decode(&plan, &ranges).unwrap(), whole.select_bands(&[1]));
            }
        }
    }
}
