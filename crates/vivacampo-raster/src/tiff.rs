//! GeoTIFF / COG reader, sans-IO.
//!
//! [`Tiff::parse`] reads the header and every IFD from a [`Ranges`]; when a piece is missing it
//! returns [`Error::NeedBytes`] and the caller fetches it and calls again ([`open`] does this for
//! sync sources). [`Tiff::plan`] lists the merged byte ranges a window needs; [`Tiff::decode`]
//! decodes them (in parallel) into a [`Raster`].

use std::collections::HashSet;
use std::ops::Range;

use rayon::prelude::*;

use crate::error::{Error, Result, corrupt};
use crate::geo::{GeoTransform, Georef};
use crate::raster::{Buffer, DType, Raster, Sample};
use crate::source::{Ranges, ReadAt, merge_ranges};
use crate::with_buffer;

/// Bytes fetched up front: enough for every IFD of a typical COG.
pub const HEADER_PREFETCH: u64 = 64 * 1024;
/// Ranges closer than this are fetched as one request.
pub const MERGE_GAP: u64 = 64 * 1024;

const MAX_IFDS: usize = 64;
const MAX_ENTRIES: u64 = 4096;
const MAX_DIM: u64 = 1 << 24;
const MAX_BLOCK_BYTES: u64 = 256 << 20;
const MAX_BANDS: u64 = 4096;
/// A window may decode to at most this many times its compressed bytes (plus 64 MiB); a tiny
/// file cannot make us allocate gigabytes.
const MAX_EXPANSION: u64 = 4096;
const MAX_WINDOW_BYTES: u64 = 8 << 30;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Lzw,
    Deflate,
    Zstd,
}

impl Compression {
    /// GDAL's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Compression::None => "NONE",
            Compression::Lzw => "LZW",
            Compression::Deflate => "DEFLATE",
            Compression::Zstd => "ZSTD",
        }
    }
}

/// One image of the file: full resolution, an overview, or an internal mask.
#[derive(Debug, Clone)]
pub struct Image {
    pub width: u32,
    pub height: u32,
    /// Samples per pixel.
    pub bands: u32,
    pub dtype: DType,
    /// 1 for bit masks, else the dtype's size in bits.
    pub bits: u16,
    pub compression: Compression,
    pub predictor: u16,
    /// PlanarConfiguration = 2 (one plane per band).
    pub planar: bool,
    pub tiled: bool,
    /// Tile size, or (width, rows per strip).
    pub block_w: u32,
    pub block_h: u32,
    pub offsets: Vec<u64>,
    pub byte_counts: Vec<u64>,
}

impl Image {
    fn blocks_across(&self) -> u32 {
        self.width.div_ceil(self.block_w)
    }
    fn blocks_down(&self) -> u32 {
        self.height.div_ceil(self.block_h)
    }
    fn chunk_bands(&self) -> u32 {
        if self.planar { 1 } else { self.bands }
    }
    /// Rows actually stored in block row `by` (the last strip may be short).
    fn chunk_rows(&self, by: u32) -> u32 {
        if self.tiled {
            self.block_h
        } else {
            self.block_h.min(self.height - by * self.block_h)
        }
    }
    fn row_bytes(&self) -> usize {
        (self.block_w as usize * self.chunk_bands() as usize * self.bits as usize).div_ceil(8)
    }
}

/// Per-band metadata from GDAL_METADATA.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BandInfo {
    pub description: Option<String>,
    pub scale: Option<f64>,
    pub offset: Option<f64>,
}

/// A parsed TIFF: its images and georeferencing. Holds no pixel data.
#[derive(Debug, Clone)]
pub struct Tiff {
    pub size: u64,
    pub big_endian: bool,
    pub bigtiff: bool,
    /// Full resolution first, then overviews from largest to smallest.
    pub levels: Vec<Image>,
    /// Internal masks (GDAL_TIFF_INTERNAL_MASK), largest first.
    pub masks: Vec<Image>,
    pub georef: Option<Georef>,
    pub nodata: Option<f64>,
    pub band_info: Vec<BandInfo>,
    /// Dataset-level GDAL_METADATA items, (name, value), in file order.
    pub metadata: Vec<(String, String)>,
    /// File offsets of every IFD, in chain order.
    pub ifd_offsets: Vec<u64>,
}

/// A pixel window of one level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub col: u32,
    pub row: u32,
    pub width: u32,
    pub height: u32,
}

impl Window {
    pub fn new(col: u32, row: u32, width: u32, height: u32) -> Self {
        Window {
            col,
            row,
            width,
            height,
        }
    }
}

/// What a window read needs: its chunks and the merged byte ranges that hold them.
#[derive(Debug, Clone)]
pub struct ReadPlan {
    pub level: usize,
    pub mask: bool,
    pub window: Window,
    /// File bands (0-based) the decoded raster holds, in this order.
    pub bands: Vec<usize>,
    pub chunks: Vec<usize>,
    pub ranges: Vec<Range<u64>>,
}

/// Opens a TIFF from a sync source: one prefetch of the header, more reads only if the IFDs
/// lie beyond it.
pub fn open<R: ReadAt + ?Sized>(src: &R) -> Result<Tiff> {
    let size = src.size()?;
    let first = HEADER_PREFETCH.min(size);
    let mut bytes = Ranges::new(size);
    let mut buf = vec![0; first as usize];
    src.read_at(0, &mut buf)?;
    bytes.insert(0, buf);
    for _ in 0..256 {
        match Tiff::parse(&bytes) {
            Err(Error::NeedBytes { start, end }) => {
                let end = end.max(start + HEADER_PREFETCH).min(size);
                let mut buf = vec![0; (end - start) as usize];
                src.read_at(start, &mut buf)?;
                bytes.insert(start, buf);
            }
            r => return r,
        }
    }
    Err(Error::Limit("too many header reads".into()))
}

struct Entry {
    tag: u16,
    typ: u16,
    count: u64,
    /// File offset of the values.
    at: u64,
}

struct Reader<'a> {
    r: &'a Ranges,
    be: bool,
    big: bool,
}

impl Reader<'_> {
    fn bytes(&self, off: u64, len: u64) -> Result<&[u8]> {
        self.r.get(off, len)
    }
    fn u16(&self, off: u64) -> Result<u16> {
        let b: [u8; 2] = self
            .bytes(off, 2)?
            .try_into()
            .map_err(|_| corrupt("short"))?;
        Ok(if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        })
    }
    fn u32(&self, off: u64) -> Result<u32> {
        let b: [u8; 4] = self
            .bytes(off, 4)?
            .try_into()
            .map_err(|_| corrupt("short"))?;
        Ok(if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        })
    }
    fn u64(&self, off: u64) -> Result<u64> {
        let b: [u8; 8] = self
            .bytes(off, 8)?
            .try_into()
            .map_err(|_| corrupt("short"))?;
        Ok(if self.be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        })
    }
    fn offset(&self, off: u64) -> Result<u64> {
        if self.big {
            self.u64(off)
        } else {
            self.u32(off).map(u64::from)
        }
    }

    fn entries(&self, ifd: u64) -> Result<(Vec<Entry>, u64)> {
        let (n, head, size) = if self.big {
            (self.u64(ifd)?, 8, 20)
        } else {
            (u64::from(self.u16(ifd)?), 2, 12)
        };
        if n == 0 || n > MAX_ENTRIES {
            return Err(corrupt(format!("IFD with {n} entries")));
        }
        // Fetch the whole directory at once rather than entry by entry.
        self.bytes(ifd, head + n * size + if self.big { 8 } else { 4 })?;
        let mut out = Vec::with_capacity(n as usize);
        for i in 0..n {
            let e = ifd + head + i * size;
            let tag = self.u16(e)?;
            let typ = self.u16(e + 2)?;
            let count = if self.big {
                self.u64(e + 4)?
            } else {
                u64::from(self.u32(e + 4)?)
            };
            let inline = if self.big { 8 } else { 4 };
            let value_at = e + if self.big { 12 } else { 8 };
            let Some(len) = type_size(typ).and_then(|s| s.checked_mul(count)) else {
                continue; // unknown type: skip the tag, as libtiff does
            };
            let at = if len <= inline {
                value_at
            } else {
                self.offset(value_at)?
            };
            if at.checked_add(len).is_none_or(|end| end > self.r.size()) {
                return Err(corrupt(format!(
                    "tag {tag} points beyond the end of the file"
                )));
            }
            out.push(Entry {
                tag,
                typ,
                count,
                at,
            });
        }
        let next = self.offset(ifd + head + n * size)?;
        Ok((out, next))
    }

    fn ints(&self, e: &Entry) -> Result<Vec<u64>> {
        let size = type_size(e.typ).unwrap_or(1);
        let raw = self.bytes(e.at, size * e.count)?;
        let mut out = Vec::with_capacity(e.count as usize);
        for c in raw.chunks_exact(size as usize) {
            let v = match (e.typ, size) {
                (1 | 2 | 6 | 7, 1) => u64::from(c[0]),
                (3 | 8, 2) => u64::from(self.u16_of(c)),
                (4 | 9 | 13, 4) => u64::from(self.u32_of(c)),
                (16..=18, 8) => self.u64_of(c),
                _ => return Err(corrupt(format!("tag {} is not an integer", e.tag))),
            };
            out.push(v);
        }
        Ok(out)
    }

    fn int(&self, e: &Entry) -> Result<u64> {
        self.ints(e)?
            .first()
            .copied()
            .ok_or_else(|| corrupt(format!("tag {} is empty", e.tag)))
    }

    fn doubles(&self, e: &Entry) -> Result<Vec<f64>> {
        match e.typ {
            12 => Ok(self
                .bytes(e.at, 8 * e.count)?
                .chunks_exact(8)
                .map(|c| f64::from_bits(self.u64_of(c)))
                .collect()),
            11 => Ok(self
                .bytes(e.at, 4 * e.count)?
                .chunks_exact(4)
                .map(|c| f64::from(f32::from_bits(self.u32_of(c))))
                .collect()),
            _ => Ok(self.ints(e)?.into_iter().map(|v| v as f64).collect()),
        }
    }

    fn ascii(&self, e: &Entry) -> Result<String> {
        let raw = self.bytes(e.at, e.count)?;
        let end = raw.iter().position(|&b| b == 0).unwrap_or(raw.len());
        Ok(String::from_utf8_lossy(&raw[..end]).into_owned())
    }

    fn u16_of(&self, c: &[u8]) -> u16 {
        let b = [c[0], c[1]];
        if self.be {
            u16::from_be_bytes(b)
        } else {
            u16::from_le_bytes(b)
        }
    }
    fn u32_of(&self, c: &[u8]) -> u32 {
        let b = [c[0], c[1], c[2], c[3]];
        if self.be {
            u32::from_be_bytes(b)
        } else {
            u32::from_le_bytes(b)
        }
    }
    fn u64_of(&self, c: &[u8]) -> u64 {
        let b: [u8; 8] = c[..8].try_into().unwrap_or_default();
        if self.be {
            u64::from_be_bytes(b)
        } else {
            u64::from_le_bytes(b)
        }
    }
}

fn type_size(typ: u16) -> Option<u64> {
    Some(match typ {
        1 | 2 | 6 | 7 => 1,
        3 | 8 => 2,
        4 | 9 | 11 | 13 => 4,
        5 | 10 | 12 | 16 | 17 | 18 => 8,
        _ => return None,
    })
}

/// Tags of one IFD that we keep beyond the image structure.
#[derive(Default)]
struct Extra {
    subfile: u64,
    photometric: u64,
    pixel_scale: Option<Vec<f64>>,
    tiepoint: Option<Vec<f64>>,
    transformation: Option<Vec<f64>>,
    geokeys: Option<Vec<u64>>,
    nodata: Option<String>,
    metadata: Option<String>,
}

impl Tiff {
    /// Parses the header and all IFDs from the bytes fetched so far.
    pub fn parse(bytes: &Ranges) -> Result<Tiff> {
        let size = bytes.size();
        if size < 8 {
            return Err(Error::NotTiff);
        }
        let head = bytes.get(0, 8)?;
        let be = match &head[..2] {
            b"II" => false,
            b"MM" => true,
            _ => return Err(Error::NotTiff),
        };
        let mut r = Reader {
            r: bytes,
            be,
            big: false,
        };
        let mut ifd = match r.u16(2)? {
            42 => u64::from(r.u32(4)?),
            43 => {
                r.big = true;
                if r.u16(4)? != 8 || r.u16(6)? != 0 {
                    return Err(corrupt("BigTIFF offset size is not 8"));
                }
                r.u64(8)?
            }
            _ => return Err(Error::NotTiff),
        };
        let mut seen = HashSet::new();
        let mut ifd_offsets = Vec::new();
        let mut full: Option<(Image, Extra)> = None;
        let mut levels = Vec::new();
        let mut masks = Vec::new();
        while ifd != 0 {
            ifd_offsets.push(ifd);
            if !seen.insert(ifd) {
                return Err(corrupt("IFD chain loops"));
            }
            if seen.len() > MAX_IFDS {
                return Err(Error::Limit(format!("more than {MAX_IFDS} IFDs")));
            }
            let (entries, next) = r.entries(ifd)?;
            let (image, extra) = parse_image(&r, &entries)?;
            let is_mask = extra.subfile & 4 != 0 && extra.photometric == 4;
            if is_mask {
                masks.push(image);
            } else if extra.subfile & 1 != 0 {
                levels.push(image);
            } else if full.is_none() {
                full = Some((image, extra));
            }
            ifd = next;
        }
        let (image, extra) = full.ok_or_else(|| corrupt("no full-resolution image"))?;
        levels.retain(|l| l.bands == image.bands && l.dtype == image.dtype);
        levels.sort_by_key(|l| std::cmp::Reverse(l.width));
        levels.insert(0, image);
        masks.sort_by_key(|m| std::cmp::Reverse(m.width));
        let georef = georef(&extra)?;
        let nodata = extra.nodata.as_deref().and_then(parse_nodata);
        let band_info = extra
            .metadata
            .as_deref()
            .map(|xml| parse_gdal_metadata(xml, levels[0].bands as usize))
            .unwrap_or_else(|| vec![BandInfo::default(); levels[0].bands as usize]);
        let metadata = extra
            .metadata
            .as_deref()
            .map(parse_dataset_metadata)
            .unwrap_or_default();
        Ok(Tiff {
            size,
            big_endian: be,
            bigtiff: r.big,
            levels,
            masks,
            georef,
            nodata,
            band_info,
            metadata,
            ifd_offsets,
        })
    }

    /// The value of the dataset-level GDAL_METADATA item `name`.
    pub fn metadata_item(&self, name: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn width(&self) -> u32 {
        self.levels[0].width
    }
    pub fn height(&self) -> u32 {
        self.levels[0].height
    }
    pub fn bands(&self) -> u32 {
        self.levels[0].bands
    }
    pub fn dtype(&self) -> DType {
        self.levels[0].dtype
    }

    /// The geotransform of a level (overviews cover the same extent with bigger pixels).
    pub fn level_transform(&self, level: usize) -> Option<GeoTransform> {
        let g = self.georef.as_ref()?.transform;
        let l = self.levels.get(level)?;
        let sx = f64::from(self.width()) / f64::from(l.width);
        let sy = f64::from(self.height()) / f64::from(l.height);
        Some(g.scaled(sx, sy))
    }

    /// Cloud-optimized layout: tiled, with every IFD before the first tile's data.
    pub fn is_cog(&self) -> bool {
        let first_data = self
            .levels
            .iter()
            .chain(&self.masks)
            .flat_map(|l| &l.offsets)
            .filter(|&&o| o > 0)
            .min();
        let last_ifd = self.ifd_offsets.iter().max();
        self.levels.iter().all(|l| l.tiled)
            && matches!((first_data, last_ifd), (Some(d), Some(i)) if i < d)
    }

    /// The pixel window of `level` covering `[minx, miny, maxx, maxy]` in the raster's CRS
    /// (clipped to the image), or `None` when they do not overlap.
    pub fn window_for_bounds(&self, level: usize, bounds: [f64; 4]) -> Option<Window> {
        let inv = self.level_transform(level)?.invert()?;
        let l = self.levels.get(level)?;
        let corners = [
            (bounds[0], bounds[1]),
            (bounds[0], bounds[3]),
            (bounds[2], bounds[1]),
            (bounds[2], bounds[3]),
        ];
        let (mut c0, mut r0, mut c1, mut r1) = (
            f64::INFINITY,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NEG_INFINITY,
        );
        for (x, y) in corners {
            let (c, r) = inv.apply(x, y);
            (c0, r0, c1, r1) = (c0.min(c), r0.min(r), c1.max(c), r1.max(r));
        }
        let c0 = c0.floor().max(0.0);
        let r0 = r0.floor().max(0.0);
        let c1 = c1.ceil().min(f64::from(l.width));
        let r1 = r1.ceil().min(f64::from(l.height));
        (c1 > c0 && r1 > r0)
            .then(|| Window::new(c0 as u32, r0 as u32, (c1 - c0) as u32, (r1 - r0) as u32))
    }

    /// The geotransform of a window's top-left pixel at a level.
    pub fn window_transform(&self, level: usize, window: Window) -> Option<GeoTransform> {
        let t = self.level_transform(level)?;
        let (x, y) = t.apply(f64::from(window.col), f64::from(window.row));
        let g = t.0;
        Some(GeoTransform([x, g[1], g[2], y, g[4], g[5]]))
    }

    /// The internal mask matching a level's size, if the file has one.
    pub fn mask_for(&self, level: usize) -> Option<usize> {
        let l = self.levels.get(level)?;
        self.masks
            .iter()
            .position(|m| m.width == l.width && m.height == l.height)
    }

    /// The chunks and merged byte ranges a window of `level` (or of mask `level` when `mask`)
    /// needs.
    pub fn plan(&self, level: usize, window: Window, mask: bool) -> Result<ReadPlan> {
        let img = self.image(level, mask)?;
        let bands = if mask {
            vec![0]
        } else {
            (0..img.bands as usize).collect()
        };
        self.plan_of(level, window, mask, bands)
    }

    /// Plans a window of some bands (0-based, in the order the decoded raster holds them). Of
    /// a band-interleaved file only those bands' tiles are read; of a pixel-interleaved one the
    /// whole tiles are, as they hold every band.
    pub fn plan_bands(&self, level: usize, window: Window, bands: &[usize]) -> Result<ReadPlan> {
        let img = self.image(level, false)?;
        if bands.is_empty() || bands.iter().any(|&b| b >= img.bands as usize) {
            return Err(Error::Invalid(format!(
                "bands {bands:?} of a {}-band image",
                img.bands
            )));
        }
        self.plan_of(level, window, false, bands.to_vec())
    }

    fn plan_of(
        &self,
        level: usize,
        window: Window,
        mask: bool,
        bands: Vec<usize>,
    ) -> Result<ReadPlan> {
        let img = self.image(level, mask)?;
        check_window(img, window)?;
        let mut chunks = chunks_for(img, window);
        if img.planar {
            let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
            chunks.retain(|c| bands.contains(&(c / per_plane)));
        }
        let mut compressed = 0u64;
        let ranges = chunks
            .iter()
            .filter_map(|&c| {
                let (o, n) = (img.offsets[c], img.byte_counts[c]);
                compressed += n;
                (o != 0 && n != 0).then(|| o..o.saturating_add(n))
            })
            .collect();
        let out_bytes = u64::from(window.width)
            * u64::from(window.height)
            * if mask {
                1
            } else {
                bands.len() as u64 * img.dtype.size() as u64
            };
        if out_bytes > MAX_WINDOW_BYTES || out_bytes > (64 << 20) + compressed * MAX_EXPANSION {
            return Err(Error::Limit(format!(
                "window of {out_bytes} bytes from {compressed} compressed bytes"
            )));
        }
        Ok(ReadPlan {
            level,
            mask,
            window,
            bands,
            chunks,
            ranges: merge_ranges(ranges, MERGE_GAP),
        })
    }

    /// Decodes a planned window from the fetched bytes. Pixels in sparse (absent) chunks are
    /// nodata, or 0 without nodata, as GDAL fills them.
    pub fn decode(&self, plan: &ReadPlan, bytes: &Ranges) -> Result<Raster> {
        let img = self.image(plan.level, plan.mask)?;
        let w = plan.window;
        let n = w.width as usize * w.height as usize;
        let fill = if plan.mask {
            255.0
        } else {
            self.nodata.unwrap_or(0.0)
        };
        // Where each decoded plane goes: pixel-interleaved tiles fill every band, and the
        // plan's bands are picked afterwards.
        let every_band = plan.mask || !img.planar;
        let slots: Vec<usize> = if every_band {
            (0..img.chunk_bands().max(1) as usize).collect()
        } else {
            (0..img.bands as usize)
                .map(|b| {
                    plan.bands
                        .iter()
                        .position(|&p| p == b)
                        .unwrap_or(usize::MAX)
                })
                .collect()
        };
        let bands = if plan.mask {
            1
        } else if every_band {
            img.bands as usize
        } else {
            plan.bands.len()
        };
        let dtype = if plan.mask { DType::U8 } else { img.dtype };
        let mut data = Buffer::filled(dtype, n * bands, fill);
        with_buffer!(&mut data, v => decode_into(v, img, plan, bytes, self.big_endian, &slots))?;
        let raster = Raster {
            width: w.width as usize,
            height: w.height as usize,
            bands,
            data,
        };
        Ok(if every_band && !plan.mask {
            raster.select_bands(&plan.bands)
        } else {
            raster
        })
    }

    /// Plans, fetches and decodes a window from a sync source.
    pub fn read_window<R: ReadAt + ?Sized>(
        &self,
        src: &R,
        level: usize,
        window: Window,
    ) -> Result<Raster> {
        let plan = self.plan(level, window, false)?;
        self.decode(&plan, &src.fetch(&plan.ranges)?)
    }

    fn image(&self, level: usize, mask: bool) -> Result<&Image> {
        let list = if mask { &self.masks } else { &self.levels };
        list.get(level).ok_or_else(|| {
            Error::Invalid(format!(
                "no such {} level {level}",
                if mask { "mask" } else { "image" }
            ))
        })
    }
}

fn parse_image(r: &Reader, entries: &[Entry]) -> Result<(Image, Extra)> {
    let find = |tag: u16| entries.iter().find(|e| e.tag == tag);
    let int_or = |tag: u16, default: u64| -> Result<u64> {
        match find(tag) {
            Some(e) => r.int(e),
            None => Ok(default),
        }
    };
    let width = int_or(256, 0)?;
    let height = int_or(257, 0)?;
    if width == 0 || height == 0 || width > MAX_DIM || height > MAX_DIM {
        return Err(corrupt(format!("image size {width} x {height}")));
    }
    let bands = int_or(277, 1)?;
    if bands == 0 || bands > MAX_BANDS {
        return Err(corrupt(format!("{bands} samples per pixel")));
    }
    let bits = match find(258) {
        Some(e) => {
            let v = r.ints(e)?;
            if v.iter().any(|&b| b != v[0]) {
                return Err(Error::Unsupported("mixed bits per sample".into()));
            }
            v.first().copied().unwrap_or(1)
        }
        None => 1,
    };
    let format = match find(339) {
        Some(e) => r.int(e)?,
        None => 1,
    };
    let dtype = match (format, bits) {
        (1, 1) | (1, 8) => DType::U8,
        (2, 8) => DType::I8,
        (1, 16) => DType::U16,
        (2, 16) => DType::I16,
        (1, 32) => DType::U32,
        (2, 32) => DType::I32,
        (3, 32) => DType::F32,
        (3, 64) => DType::F64,
        _ => {
            return Err(Error::Unsupported(format!(
                "sample format {format} with {bits} bits"
            )));
        }
    };
    let compression = match int_or(259, 1)? {
        1 => Compression::None,
        5 => Compression::Lzw,
        8 | 32946 => Compression::Deflate,
        50000 => Compression::Zstd,
        c => return Err(Error::Unsupported(format!("compression {c}"))),
    };
    let predictor = int_or(317, 1)? as u16;
    if !(1..=3).contains(&predictor)
        || (predictor == 3 && !matches!(dtype, DType::F32 | DType::F64))
    {
        return Err(Error::Unsupported(format!(
            "predictor {predictor} for {}",
            dtype.name()
        )));
    }
    let planar = int_or(284, 1)? == 2;
    let tiled = find(322).is_some();
    let (block_w, block_h, offs, counts) = if tiled {
        (int_or(322, 0)?, int_or(323, 0)?, 324, 325)
    } else {
        (width, int_or(278, height)?.min(height), 273, 279)
    };
    if block_w == 0 || block_h == 0 || block_w > MAX_DIM || block_h > MAX_DIM {
        return Err(corrupt(format!("block size {block_w} x {block_h}")));
    }
    let chunk_bands = if planar { 1 } else { bands };
    if block_w * block_h * chunk_bands * bits / 8 > MAX_BLOCK_BYTES {
        return Err(Error::Limit(format!(
            "block of {block_w} x {block_h} x {chunk_bands}"
        )));
    }
    let n_chunks =
        width.div_ceil(block_w) * height.div_ceil(block_h) * if planar { bands } else { 1 };
    let offsets = find(offs)
        .map(|e| r.ints(e))
        .transpose()?
        .unwrap_or_default();
    let byte_counts = find(counts)
        .map(|e| r.ints(e))
        .transpose()?
        .unwrap_or_default();
    if offsets.len() as u64 != n_chunks || byte_counts.len() as u64 != n_chunks {
        return Err(corrupt(format!(
            "{} offsets and {} byte counts for {n_chunks} chunks",
            offsets.len(),
            byte_counts.len()
        )));
    }
    for (o, n) in offsets.iter().zip(&byte_counts) {
        if o.checked_add(*n).is_none_or(|end| end > r.r.size()) {
            return Err(corrupt("chunk beyond the end of the file"));
        }
    }
    let image = Image {
        width: width as u32,
        height: height as u32,
        bands: bands as u32,
        dtype,
        bits: bits as u16,
        compression,
        predictor,
        planar,
        tiled,
        block_w: block_w as u32,
        block_h: block_h as u32,
        offsets,
        byte_counts,
    };
    let doubles = |tag| find(tag).map(|e| r.doubles(e)).transpose();
    let extra = Extra {
        subfile: int_or(254, 0)?,
        photometric: int_or(262, 1)?,
        pixel_scale: doubles(33550)?,
        tiepoint: doubles(33922)?,
        transformation: doubles(34264)?,
        geokeys: find(34735).map(|e| r.ints(e)).transpose()?,
        nodata: find(42113).map(|e| r.ascii(e)).transpose()?,
        metadata: find(42112).map(|e| r.ascii(e)).transpose()?,
    };
    Ok((image, extra))
}

fn georef(x: &Extra) -> Result<Option<Georef>> {
    let mut epsg = None;
    let mut pixel_is_point = false;
    if let Some(keys) = &x.geokeys {
        if keys.len() < 4 {
            return Err(corrupt("short GeoKeyDirectory"));
        }
        let n = (keys[3] as usize).min((keys.len() - 4) / 4);
        let mut model = 0;
        let (mut projected, mut geographic) = (None, None);
        for k in keys[4..4 + 4 * n].chunks_exact(4) {
            // Only inline SHORT values carry the codes we read.
            let value = if k[1] == 0 { Some(k[3]) } else { None };
            match (k[0], value) {
                (1024, Some(v)) => model = v,
                (1025, Some(v)) => pixel_is_point = v == 2,
                (2048, Some(v)) => geographic = Some(v),
                (3072, Some(v)) => projected = Some(v),
                _ => {}
            }
        }
        let code = match model {
            2 => geographic,
            _ => projected.or(geographic),
        };
        // 32767 is "user-defined": no EPSG code.
        epsg = code.filter(|&c| c > 0 && c != 32767).map(|c| c as u32);
    }
    let mut gt = if let Some(m) = &x.transformation {
        if m.len() < 16 {
            return Err(corrupt("short ModelTransformation"));
        }
        GeoTransform([m[3], m[0], m[1], m[7], m[4], m[5]])
    } else if let (Some(s), Some(t)) = (&x.pixel_scale, &x.tiepoint) {
        if s.len() < 2 || t.len() < 6 {
            return Err(corrupt("short ModelPixelScale or ModelTiepoint"));
        }
        GeoTransform([
            t[3] - t[0] * s[0],
            s[0],
            0.0,
            t[4] + t[1] * s[1],
            0.0,
            -s[1],
        ])
    } else if epsg.is_some() {
        GeoTransform([0.0, 1.0, 0.0, 0.0, 0.0, 1.0])
    } else {
        return Ok(None);
    };
    if pixel_is_point {
        // GDAL reports the corner of the pixel, half a pixel up-left of the tie point.
        gt.0[0] -= 0.5 * (gt.0[1] + gt.0[2]);
        gt.0[3] -= 0.5 * (gt.0[4] + gt.0[5]);
    }
    if gt.0.iter().any(|v| !v.is_finite()) {
        return Err(corrupt("non-finite georeferencing"));
    }
    Ok(Some(Georef {
        epsg,
        transform: gt,
    }))
}

fn parse_nodata(s: &str) -> Option<f64> {
    let t = s.trim();
    match t.to_ascii_lowercase().as_str() {
        "nan" | "-nan" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ => t.parse().ok(),
    }
}

/// The `<Item …>value</Item>` entries of GDAL_METADATA: their attribute text and raw value.
fn gdal_items(xml: &str) -> impl Iterator<Item = (&str, &str)> {
    xml.split("<Item").skip(1).filter_map(|item| {
        let (attrs, rest) = item.split_once('>')?;
        let (value, _) = rest.split_once("</Item>")?;
        Some((attrs, value))
    })
}

/// The value of attribute `name` in an item's attribute text.
fn item_attr<'a>(attrs: &'a str, name: &str) -> Option<&'a str> {
    let key = format!(" {name}=\"");
    let at = format!(" {attrs}");
    let i = at.find(&key)?;
    let start = i + key.len() - 1;
    attrs.get(start..)?.split('"').next()
}

/// Reads the items without a `sample` (dataset metadata) as (name, value).
pub(crate) fn parse_dataset_metadata(xml: &str) -> Vec<(String, String)> {
    gdal_items(xml)
        .filter(|(attrs, _)| item_attr(attrs, "sample").is_none())
        .filter_map(|(attrs, value)| {
            let name = item_attr(attrs, "name")?;
            Some((unescape_xml(name), unescape_xml(value)))
        })
        .collect()
}

/// Reads `<Item name="DESCRIPTION|SCALE|OFFSET" sample="N" role="...">value</Item>` entries.
pub(crate) fn parse_gdal_metadata(xml: &str, bands: usize) -> Vec<BandInfo> {
    let mut out = vec![BandInfo::default(); bands];
    for (attrs, value) in gdal_items(xml) {
        let attr = |name: &str| item_attr(attrs, name);
        let Some(sample) = attr("sample").and_then(|s| s.parse::<usize>().ok()) else {
            continue;
        };
        let Some(band) = out.get_mut(sample) else {
            continue;
        };
        let value = unescape_xml(value);
        match (attr("name"), attr("role")) {
            (Some("DESCRIPTION"), _) | (_, Some("description")) => band.description = Some(value),
            (Some("SCALE"), _) | (_, Some("scale")) => band.scale = value.trim().parse().ok(),
            (Some("OFFSET"), _) | (_, Some("offset")) => band.offset = value.trim().parse().ok(),
            _ => {}
        }
    }
    out
}

fn unescape_xml(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

fn check_window(img: &Image, w: Window) -> Result<()> {
    let fits = w.width > 0
        && w.height > 0
        && u64::from(w.col) + u64::from(w.width) <= u64::from(img.width)
        && u64::from(w.row) + u64::from(w.height) <= u64::from(img.height);
    if fits {
        Ok(())
    } else {
        Err(Error::Invalid(format!(
            "window {w:?} is empty or outside the {} x {} image",
            img.width, img.height
        )))
    }
}

fn chunks_for(img: &Image, w: Window) -> Vec<usize> {
    let (bx0, bx1) = (w.col / img.block_w, (w.col + w.width - 1) / img.block_w);
    let (by0, by1) = (w.row / img.block_h, (w.row + w.height - 1) / img.block_h);
    let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
    let planes = if img.planar { img.bands as usize } else { 1 };
    let mut out = Vec::new();
    for p in 0..planes {
        for by in by0..=by1 {
            for bx in bx0..=bx1 {
                out.push(p * per_plane + (by * img.blocks_across() + bx) as usize);
            }
        }
    }
    out
}

/// Decodes a plan's chunks into the band-sequential output. The output is cut into strips,
/// one per tile row, that fill in parallel (each decoding its tiles in parallel too), so
/// placement is not a serial tail and memory holds at most the tiles being placed.
fn decode_into<T: Sample>(
    out: &mut [T],
    img: &Image,
    plan: &ReadPlan,
    bytes: &Ranges,
    big_endian: bool,
    slots: &[usize],
) -> Result<()> {
    let w = plan.window;
    let (width, n) = (w.width as usize, w.width as usize * w.height as usize);
    let (by0, by1) = (w.row / img.block_h, (w.row + w.height - 1) / img.block_h);
    // (tile row, first and end output row) of each strip.
    let bounds: Vec<(u32, usize, usize)> = (by0..=by1)
        .map(|by| {
            let ya = (by * img.block_h).max(w.row) - w.row;
            let yb = ((by + 1) * img.block_h).min(w.row + w.height) - w.row;
            (by, ya as usize, yb as usize)
        })
        .collect();
    // strips[s][p]: strip s of output plane p.
    let mut strips: Vec<Vec<&mut [T]>> = bounds.iter().map(|_| Vec::new()).collect();
    for plane in out.chunks_mut(n) {
        let mut rest = plane;
        for (s, &(_, ya, yb)) in bounds.iter().enumerate() {
            let (head, tail) = rest.split_at_mut((yb - ya) * width);
            strips[s].push(head);
            rest = tail;
        }
    }
    let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
    // One band per chunk with predictor 2: undo the predictor while copying into the output,
    // one pass over the pixels instead of two.
    let fuse = img.predictor == 2 && img.chunk_bands() == 1 && img.bits != 1;
    strips
        .into_par_iter()
        .zip(bounds.par_iter())
        .try_for_each(|(mut strip, &(by, ya, _))| {
            let in_row: Vec<usize> = plan
                .chunks
                .iter()
                .copied()
                .filter(|c| (c % per_plane) as u32 / img.blocks_across() == by)
                .collect();
            let decoded: Vec<(usize, Option<Vec<u8>>)> = in_row
                .par_iter()
                .map(|&c| {
                    let (o, len) = (img.offsets[c], img.byte_counts[c]);
                    if o == 0 || len == 0 {
                        return Ok((c, None));
                    }
                    let raw = bytes.get(o, len)?;
                    let chunk = if img.bits == 1 {
                        decode_mask_chunk(img, c, raw)?
                    } else {
                        decode_chunk(img, c, raw, big_endian, !fuse)?
                    };
                    Ok((c, Some(chunk)))
                })
                .collect::<Result<_>>()?;
            for (c, chunk) in decoded {
                if let Some(chunk) = chunk {
                    place(&mut strip, img, w, ya, c, &chunk, fuse, slots);
                }
            }
            Ok(())
        })
}

/// Rows stored in a chunk and its decompressed size in bytes.
fn chunk_shape(img: &Image, chunk: usize) -> (usize, usize) {
    let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
    let by = ((chunk % per_plane) as u32) / img.blocks_across();
    let rows = img.chunk_rows(by) as usize;
    (rows, rows * img.row_bytes())
}

/// Decompresses a chunk to exactly `expected` bytes.
fn decompress(img: &Image, chunk: usize, raw: &[u8], expected: usize) -> Result<Vec<u8>> {
    let err = |reason: String| Error::Decode { chunk, reason };
    let mut out = match img.compression {
        // Deflate output is used as is: no second buffer, no copy.
        Compression::Deflate => {
            // The size hint avoids regrowing the output (and its copies) while inflating.
            let opts = zune_inflate::DeflateOptions::default()
                .set_limit(expected)
                .set_size_hint(expected + 4096)
                .set_confirm_checksum(false);
            let mut v = zune_inflate::DeflateDecoder::new_with_options(raw, opts)
                .decode_zlib()
                .map_err(|e| err(format!("{e:?}")))?;
            if v.len() < expected {
                return Err(err(format!("{} of {expected} bytes", v.len())));
            }
            v.truncate(expected);
            return Ok(v);
        }
        _ => vec![0u8; expected],
    };
    match img.compression {
        Compression::Lzw => {
            let mut d = weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8);
            let (mut inp, mut pos) = (raw, 0);
            while pos < expected {
                let r = d.decode_bytes(inp, &mut out[pos..]);
                pos += r.consumed_out;
                inp = &inp[r.consumed_in..];
                match r.status {
                    Ok(weezl::LzwStatus::Ok) if r.consumed_in + r.consumed_out > 0 => {}
                    Ok(_) => break,
                    Err(e) => return Err(err(e.to_string())),
                }
            }
            if pos < expected {
                return Err(err(format!("{pos} of {expected} bytes")));
            }
        }
        Compression::Zstd => {
            use std::io::Read;
            let mut d =
                ruzstd::decoding::StreamingDecoder::new(raw).map_err(|e| err(e.to_string()))?;
            d.read_exact(&mut out).map_err(|e| err(e.to_string()))?;
        }
        _ => {
            // Uncompressed strips may legally be short at the end; copy what is there.
            let n = raw.len().min(expected);
            out[..n].copy_from_slice(&raw[..n]);
        }
    }
    Ok(out)
}

/// A 1-bit mask chunk as one byte per pixel, 0 or 255.
fn decode_mask_chunk(img: &Image, chunk: usize, raw: &[u8]) -> Result<Vec<u8>> {
    let (rows, size) = chunk_shape(img, chunk);
    let packed = decompress(img, chunk, raw, size)?;
    Ok(unpack_bits(
        &packed,
        img.block_w as usize,
        rows,
        img.row_bytes(),
    ))
}

/// Decompresses one chunk and undoes byte order and predictor: native-endian samples.
fn decode_chunk(
    img: &Image,
    chunk: usize,
    raw: &[u8],
    big_endian: bool,
    predictor: bool,
) -> Result<Vec<u8>> {
    let (_, size) = chunk_shape(img, chunk);
    let mut bytes = decompress(img, chunk, raw, size)?;
    let row_bytes = img.row_bytes();
    let stride = img.chunk_bands() as usize;
    let sample = img.dtype.size();
    if img.predictor == 3 {
        for row in bytes.chunks_exact_mut(row_bytes) {
            undo_float_predictor(row, stride, sample);
        }
        return Ok(bytes);
    }
    if big_endian != cfg!(target_endian = "big") && sample > 1 {
        for s in bytes.chunks_exact_mut(sample) {
            s.reverse();
        }
    }
    if img.predictor == 2 && predictor {
        // Integer differences on the sample's width (floats included, as libtiff does).
        match sample {
            1 => undo_horizontal::<u8>(&mut bytes, row_bytes, stride, u8::wrapping_add),
            2 => with_words::<u16>(&mut bytes, |w| {
                undo_horizontal(w, row_bytes / 2, stride, u16::wrapping_add)
            }),
            4 => with_words::<u32>(&mut bytes, |w| {
                undo_horizontal(w, row_bytes / 4, stride, u32::wrapping_add)
            }),
            _ => with_words::<u64>(&mut bytes, |w| {
                undo_horizontal(w, row_bytes / 8, stride, u64::wrapping_add)
            }),
        }
    }
    Ok(bytes)
}

/// Runs `f` on the bytes as words; allocations are aligned in practice, else via a copy.
fn with_words<W: bytemuck::Pod>(bytes: &mut [u8], f: impl FnOnce(&mut [W])) {
    match bytemuck::try_cast_slice_mut::<u8, W>(bytes) {
        Ok(words) => f(words),
        Err(_) => {
            let mut words: Vec<W> = bytemuck::pod_collect_to_vec(bytes);
            f(&mut words);
            bytes.copy_from_slice(bytemuck::cast_slice(&words));
        }
    }
}

/// Horizontal differencing: each sample adds the same band's sample one pixel to the left.
/// The running sums stay in registers (a load-add-store chain through memory is ~4x slower).
fn undo_horizontal<W: Copy + Default>(
    data: &mut [W],
    row_len: usize,
    stride: usize,
    add: impl Fn(W, W) -> W,
) {
    if stride == 1 {
        for row in data.chunks_exact_mut(row_len) {
            let mut acc = W::default();
            for v in row.iter_mut() {
                acc = add(acc, *v);
                *v = acc;
            }
        }
        return;
    }
    let mut acc = vec![W::default(); stride];
    for row in data.chunks_exact_mut(row_len) {
        acc.iter_mut().for_each(|a| *a = W::default());
        for px in row.chunks_exact_mut(stride) {
            for (a, v) in acc.iter_mut().zip(px.iter_mut()) {
                *a = add(*a, *v);
                *v = *a;
            }
        }
    }
}

/// TIFF floating-point predictor (Adobe tech note 3): bytes are differenced, then stored
/// most-significant byte plane first; the result is native-endian.
fn undo_float_predictor(row: &mut [u8], stride: usize, size: usize) {
    for i in stride..row.len() {
        row[i] = row[i].wrapping_add(row[i - stride]);
    }
    let n = row.len() / size;
    let tmp = row.to_vec();
    for i in 0..n {
        for b in 0..size {
            let plane = if cfg!(target_endian = "big") {
                b
            } else {
                size - 1 - b
            };
            row[i * size + b] = tmp[plane * n + i];
        }
    }
}

fn unpack_bits(packed: &[u8], width: usize, rows: usize, row_bytes: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(width * rows);
    for r in 0..rows {
        let row = &packed[r * row_bytes..(r + 1) * row_bytes];
        out.extend((0..width).map(|c| {
            if row[c / 8] & (0x80 >> (c % 8)) != 0 {
                255
            } else {
                0
            }
        }));
    }
    out
}

/// Copies the part of a decoded chunk (native-endian bytes) that falls in the window into a
/// strip of the output: `strip[p]` holds output rows from `ya` of plane `p`, and a
/// band-interleaved file's plane `q` goes to `strip[slots[q]]`.
#[allow(clippy::too_many_arguments)] // the decoder's state, passed down to its inner loop
fn place<T: Sample>(
    strip: &mut [&mut [T]],
    img: &Image,
    w: Window,
    ya: usize,
    chunk: usize,
    data: &[u8],
    sum: bool,
    slots: &[usize],
) {
    match bytemuck::try_cast_slice::<u8, T>(data) {
        Ok(samples) => place_samples(strip, img, w, ya, chunk, samples, sum, slots),
        Err(_) => place_samples(
            strip,
            img,
            w,
            ya,
            chunk,
            &bytemuck::pod_collect_to_vec::<u8, T>(data),
            sum,
            slots,
        ),
    }
}

#[allow(clippy::too_many_arguments)] // as `place`
fn place_samples<T: Sample>(
    strip: &mut [&mut [T]],
    img: &Image,
    w: Window,
    ya: usize,
    chunk: usize,
    data: &[T],
    sum: bool,
    slots: &[usize],
) {
    let per_plane = (img.blocks_across() * img.blocks_down()) as usize;
    let plane = chunk / per_plane;
    let i = (chunk % per_plane) as u32;
    let (bx, by) = (i % img.blocks_across(), i / img.blocks_across());
    let (x0, y0) = (bx * img.block_w, by * img.block_h);
    let cx0 = x0.max(w.col);
    let cx1 = (x0 + img.block_w).min(w.col + w.width).min(img.width);
    let cy0 = y0.max(w.row);
    let cy1 = (y0 + img.chunk_rows(by)).min(w.row + w.height);
    if cx0 >= cx1 || cy0 >= cy1 {
        return;
    }
    let cb = if img.bits == 1 {
        1
    } else {
        img.chunk_bands() as usize
    };
    let row_len = img.block_w as usize * cb;
    let (span, sx, dx) = (
        (cx1 - cx0) as usize,
        (cx0 - x0) as usize,
        (cx0 - w.col) as usize,
    );
    for y in cy0..cy1 {
        let src_row = &data[(y - y0) as usize * row_len..][..row_len];
        let dst_row = ((y - w.row) as usize - ya) * w.width as usize + dx;
        if cb == 1 {
            let band = slots[if img.planar { plane } else { 0 }];
            let dst = &mut strip[band][dst_row..][..span];
            if sum {
                // Running sum from the tile's first column (predictor 2), kept in a register.
                let mut acc = src_row[..sx]
                    .iter()
                    .fold(T::default(), |a, &v| a.wrapping_add(v));
                for (d, &v) in dst.iter_mut().zip(&src_row[sx..sx + span]) {
                    acc = acc.wrapping_add(v);
                    *d = acc;
                }
            } else {
                dst.copy_from_slice(&src_row[sx..sx + span]);
            }
            continue;
        }
        for (b, dst_plane) in strip.iter_mut().enumerate().take(cb) {
            let dst = &mut dst_plane[dst_row..][..span];
            for (k, d) in dst.iter_mut().enumerate() {
                *d = src_row[(sx + k) * cb + b];
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metadata_items_are_read() {
        let xml = r#"<GDALMetadata><Item name="DESCRIPTION" sample="0" role="description">ndvi &amp; co</Item><Item name="SCALE" sample="1" role="scale">0.0001</Item><Item name="OFFSET" sample="1" role="offset">-0.1</Item></GDALMetadata>"#;
        let b = parse_gdal_metadata(xml, 2);
        assert_eq!(b[0].description.as_deref(), Some("ndvi & co"));
        assert_eq!((b[1].scale, b[1].offset), (Some(0.0001), Some(-0.1)));
        assert!(parse_dataset_metadata(xml).is_empty());
        let xml = r#"<GDALMetadata><Item name="FIELD" >{"a":"&lt;b&gt;"}</Item><Item name="SCALE" sample="0">2</Item><Item name="x_sample">1</Item></GDALMetadata>"#;
        assert_eq!(
            parse_dataset_metadata(xml),
            [
                ("FIELD".to_owned(), r#"{"a":"<b>"}"#.to_owned()),
                ("x_sample".to_owned(), "1".to_owned())
            ]
        );
    }

    #[test]
    fn float_predictor_round_trip() {
        // Encode two f32 samples the way libtiff does, then decode.
        let vals = [1.5f32, -2.25];
        let n = vals.len();
        let mut shuffled = vec![0u8; n * 4];
        for (i, v) in vals.iter().enumerate() {
            let be = v.to_be_bytes();
            for b in 0..4 {
                shuffled[b * n + i] = be[b];
            }
        }
        for i in (1..shuffled.len()).rev() {
            shuffled[i] = shuffled[i].wrapping_sub(shuffled[i - 1]);
        }
        undo_float_predictor(&mut shuffled, 1, 4);
        let got: Vec<f32> = shuffled
            .chunks(4)
            .map(|c| f32::from_ne_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(got, vals);
    }

    #[test]
    fn garbage_is_not_a_tiff() {
        let r = Ranges::whole(b"hello world, not a tiff".to_vec());
        assert!(matches!(Tiff::parse(&r), Err(Error::NotTiff)));
    }
}
