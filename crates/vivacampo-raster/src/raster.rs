//! In-memory rasters: typed, band-sequential pixel buffers.

use serde::Serialize;

use crate::error::{Error, Result};

/// Sample type of a band.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    U8,
    I8,
    U16,
    I16,
    U32,
    I32,
    F32,
    F64,
}

impl DType {
    pub fn size(self) -> usize {
        match self {
            DType::U8 | DType::I8 => 1,
            DType::U16 | DType::I16 => 2,
            DType::U32 | DType::I32 | DType::F32 => 4,
            DType::F64 => 8,
        }
    }

    /// The name numpy and rasterio use.
    pub fn name(self) -> &'static str {
        match self {
            DType::U8 => "uint8",
            DType::I8 => "int8",
            DType::U16 => "uint16",
            DType::I16 => "int16",
            DType::U32 => "uint32",
            DType::I32 => "int32",
            DType::F32 => "float32",
            DType::F64 => "float64",
        }
    }
}

/// A pixel type the engine works with.
pub trait Sample: bytemuck::Pod + Default + Send + Sync + PartialEq + 'static {
    const DTYPE: DType;
    fn from_ne(b: &[u8]) -> Self;
    fn to_f64(self) -> f64;
    /// Rounds and saturates like GDAL's conversions to integer types.
    fn from_f64(v: f64) -> Self;
    fn wrap(buf: Vec<Self>) -> Buffer;
    /// The raw bits, zero-extended (for predictors).
    fn bits(self) -> u64;
    /// Addition of the raw bits with wrap-around (TIFF predictor 2, floats included).
    fn wrapping_add(self, other: Self) -> Self;
}

macro_rules! sample {
    ($t:ty, $d:ident, $round:expr, $bits:expr, $add:expr) => {
        impl Sample for $t {
            const DTYPE: DType = DType::$d;
            fn from_ne(b: &[u8]) -> Self {
                <$t>::from_ne_bytes(b.try_into().unwrap_or_default())
            }
            fn to_f64(self) -> f64 {
                self as f64
            }
            fn from_f64(v: f64) -> Self {
                let r: fn(f64) -> f64 = $round;
                r(v) as $t
            }
            fn wrap(buf: Vec<Self>) -> Buffer {
                Buffer::$d(buf)
            }
            fn bits(self) -> u64 {
                let f: fn($t) -> u64 = $bits;
                f(self)
            }
            #[inline]
            fn wrapping_add(self, other: Self) -> Self {
                let f: fn($t, $t) -> $t = $add;
                f(self, other)
            }
        }
    };
}
sample!(u8, U8, f64::round, u64::from, u8::wrapping_add);
sample!(i8, I8, f64::round, |v| u64::from(v as u8), i8::wrapping_add);
sample!(u16, U16, f64::round, u64::from, u16::wrapping_add);
sample!(
    i16,
    I16,
    f64::round,
    |v| u64::from(v as u16),
    i16::wrapping_add
);
sample!(u32, U32, f64::round, u64::from, u32::wrapping_add);
sample!(
    i32,
    I32,
    f64::round,
    |v| u64::from(v as u32),
    i32::wrapping_add
);
sample!(f32, F32, |v| v, |v| u64::from(v.to_bits()), |a, b| {
    f32::from_bits(a.to_bits().wrapping_add(b.to_bits()))
});
sample!(f64, F64, |v| v, f64::to_bits, |a, b| f64::from_bits(
    a.to_bits().wrapping_add(b.to_bits())
));

/// Typed pixels, band-sequential (band 0 rows, then band 1 rows, ...).
#[derive(Debug, Clone, PartialEq)]
pub enum Buffer {
    U8(Vec<u8>),
    I8(Vec<i8>),
    U16(Vec<u16>),
    I16(Vec<i16>),
    U32(Vec<u32>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    F64(Vec<f64>),
}

/// Runs `$body` with `$v` bound to the typed vector inside a [`Buffer`].
#[macro_export]
#[doc(hidden)]
macro_rules! with_buffer {
    ($buf:expr, $v:ident => $body:expr) => {
        match $buf {
            $crate::raster::Buffer::U8($v) => $body,
            $crate::raster::Buffer::I8($v) => $body,
            $crate::raster::Buffer::U16($v) => $body,
            $crate::raster::Buffer::I16($v) => $body,
            $crate::raster::Buffer::U32($v) => $body,
            $crate::raster::Buffer::I32($v) => $body,
            $crate::raster::Buffer::F32($v) => $body,
            $crate::raster::Buffer::F64($v) => $body,
        }
    };
}

impl Buffer {
    pub fn zeros(dtype: DType, len: usize) -> Buffer {
        match dtype {
            DType::U8 => Buffer::U8(vec![0; len]),
            DType::I8 => Buffer::I8(vec![0; len]),
            DType::U16 => Buffer::U16(vec![0; len]),
            DType::I16 => Buffer::I16(vec![0; len]),
            DType::U32 => Buffer::U32(vec![0; len]),
            DType::I32 => Buffer::I32(vec![0; len]),
            DType::F32 => Buffer::F32(vec![0.0; len]),
            DType::F64 => Buffer::F64(vec![0.0; len]),
        }
    }

    /// `len` samples of `value` (converted as GDAL does).
    pub fn filled(dtype: DType, len: usize, value: f64) -> Buffer {
        fn fill<T: Sample>(len: usize, value: f64) -> Vec<T> {
            vec![T::from_f64(value); len]
        }
        match dtype {
            DType::U8 => Buffer::U8(fill(len, value)),
            DType::I8 => Buffer::I8(fill(len, value)),
            DType::U16 => Buffer::U16(fill(len, value)),
            DType::I16 => Buffer::I16(fill(len, value)),
            DType::U32 => Buffer::U32(fill(len, value)),
            DType::I32 => Buffer::I32(fill(len, value)),
            DType::F32 => Buffer::F32(fill(len, value)),
            DType::F64 => Buffer::F64(fill(len, value)),
        }
    }

    pub fn dtype(&self) -> DType {
        with_buffer!(self, v => sample_dtype(v))
    }

    pub fn len(&self) -> usize {
        with_buffer!(self, v => v.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn get_f64(&self, i: usize) -> f64 {
        with_buffer!(self, v => v[i].to_f64())
    }

    /// Little-endian bytes (what the fixture checksums are taken over).
    pub fn to_le_bytes(&self) -> Vec<u8> {
        match self {
            Buffer::U8(v) => v.clone(),
            Buffer::I8(v) => v.iter().map(|&x| x as u8).collect(),
            Buffer::U16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buffer::I16(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buffer::U32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buffer::I32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buffer::F32(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
            Buffer::F64(v) => v.iter().flat_map(|x| x.to_le_bytes()).collect(),
        }
    }
}

fn sample_dtype<T: Sample>(_: &[T]) -> DType {
    T::DTYPE
}

/// A block of pixels: `bands` planes of `width` x `height`.
#[derive(Debug, Clone, PartialEq)]
pub struct Raster {
    pub width: usize,
    pub height: usize,
    pub bands: usize,
    pub data: Buffer,
}

impl Raster {
    pub fn dtype(&self) -> DType {
        self.data.dtype()
    }

    /// Value of band `b` (0-based) at (`row`, `col`) as f64.
    pub fn get(&self, b: usize, row: usize, col: usize) -> f64 {
        self.data
            .get_f64((b * self.height + row) * self.width + col)
    }

    /// One band as f64 (the form index maths and statistics work on).
    pub fn band_f64(&self, b: usize) -> Vec<f64> {
        let n = self.width * self.height;
        with_buffer!(&self.data, v => v[b * n..(b + 1) * n].iter().map(|x| x.to_f64()).collect())
    }

    /// A raster of the given bands (0-based), in that order.
    pub fn select_bands(&self, bands: &[usize]) -> Raster {
        if bands.iter().copied().eq(0..self.bands) {
            return self.clone();
        }
        let n = self.width * self.height;
        let data = with_buffer!(&self.data, v => Sample::wrap(bands.iter().flat_map(|&b| v[b * n..(b + 1) * n].iter().copied()).collect()));
        Raster {
            width: self.width,
            height: self.height,
            bands: bands.len(),
            data,
        }
    }

    /// All bands as float64 with NaN where the value is `nodata` or `mask` is 0.
    pub fn to_f64_masked(&self, nodata: Option<f64>, mask: Option<&[u8]>) -> Raster {
        let n = self.width * self.height;
        let mut out: Vec<f64> = (0..self.bands).flat_map(|b| self.band_f64(b)).collect();
        for (i, v) in out.iter_mut().enumerate() {
            let hidden = mask.is_some_and(|m| m.get(i % n).is_some_and(|&x| x == 0));
            if hidden || nodata.is_some_and(|nd| *v == nd) {
                *v = f64::NAN;
            }
        }
        Raster {
            width: self.width,
            height: self.height,
            bands: self.bands,
            data: Buffer::F64(out),
        }
    }

    /// Copies `src` (same pixel type) into this raster's bands from `first_band` on, with its
    /// top-left pixel at (`col`, `row`); what falls outside is dropped. Assembles a window from
    /// cached blocks, of all bands at once or one band at a time.
    pub fn paste(&mut self, src: &Raster, col: usize, row: usize, first_band: usize) -> Result<()> {
        fn copy<T: Sample>(
            dst: &mut [T],
            (dw, dh): (usize, usize),
            src: &[T],
            (sw, sh): (usize, usize),
            (first, bands): (usize, usize),
            (col, row): (usize, usize),
        ) {
            let w = sw.min(dw.saturating_sub(col));
            let h = sh.min(dh.saturating_sub(row));
            for b in 0..bands {
                for r in 0..h {
                    let d = ((first + b) * dh + row + r) * dw + col;
                    let s = (b * sh + r) * sw;
                    dst[d..d + w].copy_from_slice(&src[s..s + w]);
                }
            }
        }
        if first_band + src.bands > self.bands || src.dtype() != self.dtype() {
            return Err(Error::Invalid(
                "paste needs room for the bands and the same pixel type".into(),
            ));
        }
        let (dims, sdims, bands) = (
            (self.width, self.height),
            (src.width, src.height),
            (first_band, src.bands),
        );
        macro_rules! paste_as {
            ($($v:ident),*) => {
                match (&mut self.data, &src.data) {
                    $((Buffer::$v(d), Buffer::$v(s)) => copy(d, dims, s, sdims, bands, (col, row)),)*
                    _ => unreachable!("dtypes checked above"),
                }
            };
        }
        paste_as!(U8, I8, U16, I16, U32, I32, F32, F64);
        Ok(())
    }

    /// Little-endian bytes of one band.
    pub fn band_le_bytes(&self, b: usize) -> Vec<u8> {
        let n = self.width * self.height * self.dtype().size();
        self.data.to_le_bytes()[b * n..(b + 1) * n].to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paste_places_blocks_and_drops_overhang() {
        let mut dst = Raster {
            width: 3,
            height: 2,
            bands: 2,
            data: Buffer::U16(vec![0; 12]),
        };
        let src = Raster {
            width: 2,
            height: 2,
            bands: 2,
            data: Buffer::U16(vec![1, 2, 3, 4, 5, 6, 7, 8]),
        };
        dst.paste(&src, 2, 0, 0).unwrap();
        assert_eq!(
            dst.data,
            Buffer::U16(vec![0, 0, 1, 0, 0, 3, 0, 0, 5, 0, 0, 7])
        );
        let one = Raster {
            width: 1,
            height: 2,
            bands: 1,
            data: Buffer::U16(vec![9, 9]),
        };
        dst.paste(&one, 0, 0, 1).unwrap();
        assert_eq!(
            dst.data,
            Buffer::U16(vec![0, 0, 1, 0, 0, 3, 9, 0, 5, 9, 0, 7])
        );
        assert!(dst.paste(&src, 0, 0, 1).is_err(), "no room for two bands");
        let bytes = Raster {
            width: 1,
            height: 1,
            bands: 2,
            data: Buffer::U8(vec![1, 2]),
        };
        assert!(dst.paste(&bytes, 0, 0, 0).is_err());
    }
}
