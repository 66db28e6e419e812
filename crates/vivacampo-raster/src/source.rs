//! Byte access. The engine is sans-IO: parsing and window planning name the byte ranges they
//! need, the caller fetches them however it likes (file, HTTP, S3, async or not) and hands the
//! bytes back in a [`Ranges`]. [`ReadAt`] is the convenience for sync sources.

use std::ops::Range;

use crate::error::{Error, Result};

/// A sync random-access byte source (local file, memory).
pub trait ReadAt {
    fn size(&self) -> Result<u64>;
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()>;

    /// Fetches `ranges` into a [`Ranges`] (one read per range).
    fn fetch(&self, ranges: &[Range<u64>]) -> Result<Ranges> {
        let mut out = Ranges::new(self.size()?);
        for r in ranges {
            let len = usize::try_from(r.end - r.start).map_err(|_| Error::Limit("range".into()))?;
            let mut buf = vec![0; len];
            self.read_at(r.start, &mut buf)?;
            out.insert(r.start, buf);
        }
        Ok(out)
    }
}

impl ReadAt for [u8] {
    fn size(&self) -> Result<u64> {
        Ok(self.len() as u64)
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        let start = usize::try_from(offset).map_err(|_| eof())?;
        let src = start
            .checked_add(buf.len())
            .and_then(|end| self.get(start..end))
            .ok_or_else(eof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

impl ReadAt for Vec<u8> {
    fn size(&self) -> Result<u64> {
        self.as_slice().size()
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        self.as_slice().read_at(offset, buf)
    }
}

impl ReadAt for std::fs::File {
    fn size(&self) -> Result<u64> {
        Ok(self.metadata()?.len())
    }
    fn read_at(&self, offset: u64, buf: &mut [u8]) -> Result<()> {
        use std::os::unix::fs::FileExt;
        Ok(self.read_exact_at(buf, offset)?)
    }
}

fn eof() -> Error {
    Error::Io(std::io::ErrorKind::UnexpectedEof.into())
}

/// Fetched pieces of one file of known size.
#[derive(Debug, Clone, Default)]
pub struct Ranges {
    size: u64,
    /// Sorted by start, non-overlapping.
    pieces: Vec<(u64, Vec<u8>)>,
}

impl Ranges {
    pub fn new(size: u64) -> Self {
        Ranges {
            size,
            pieces: Vec::new(),
        }
    }

    /// The whole file in memory.
    pub fn whole(bytes: Vec<u8>) -> Self {
        Ranges {
            size: bytes.len() as u64,
            pieces: vec![(0, bytes)],
        }
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Adds fetched bytes starting at `start`; overlapping or touching pieces are merged.
    pub fn insert(&mut self, start: u64, bytes: Vec<u8>) {
        let end = start + bytes.len() as u64;
        let mut merged_start = start;
        let mut merged: Vec<u8> = Vec::new();
        let mut rest = Vec::with_capacity(self.pieces.len() + 1);
        let mut touching = Vec::new();
        for (s, b) in std::mem::take(&mut self.pieces) {
            let e = s + b.len() as u64;
            if e < start || s > end {
                rest.push((s, b));
            } else {
                touching.push((s, b));
            }
        }
        if touching.is_empty() {
            rest.push((start, bytes));
        } else {
            merged_start = merged_start.min(touching[0].0);
            let merged_end = end.max(
                touching
                    .iter()
                    .map(|(s, b)| s + b.len() as u64)
                    .max()
                    .unwrap_or(end),
            );
            merged.resize((merged_end - merged_start) as usize, 0);
            for (s, b) in touching.iter() {
                let o = (s - merged_start) as usize;
                merged[o..o + b.len()].copy_from_slice(b);
            }
            let o = (start - merged_start) as usize;
            merged[o..o + bytes.len()].copy_from_slice(&bytes);
            rest.push((merged_start, merged));
        }
        rest.sort_by_key(|p| p.0);
        self.pieces = rest;
    }

    /// `len` bytes at `offset`, or [`Error::NeedBytes`] naming what to fetch; a range past the
    /// end of the file is corrupt.
    pub fn get(&self, offset: u64, len: u64) -> Result<&[u8]> {
        let end = offset
            .checked_add(len)
            .filter(|&e| e <= self.size)
            .ok_or_else(|| {
                Error::Corrupt(format!(
                    "range {offset}+{len} beyond end of file ({})",
                    self.size
                ))
            })?;
        if len == 0 {
            return Ok(&[]);
        }
        let i = self.pieces.partition_point(|p| p.0 <= offset);
        if i > 0 {
            let (s, b) = &self.pieces[i - 1];
            if end <= s + b.len() as u64 {
                let o = (offset - s) as usize;
                return Ok(&b[o..o + len as usize]);
            }
        }
        Err(Error::NeedBytes { start: offset, end })
    }
}

/// Merges byte ranges closer than `gap` bytes into one, so a window costs few requests.
pub fn merge_ranges(mut ranges: Vec<Range<u64>>, gap: u64) -> Vec<Range<u64>> {
    ranges.retain(|r| r.end > r.start);
    ranges.sort_by_key(|r| r.start);
    let mut out: Vec<Range<u64>> = Vec::with_capacity(ranges.len());
    for r in ranges {
        match out.last_mut() {
            Some(last) if r.start <= last.end.saturating_add(gap) => last.end = last.end.max(r.end),
            _ => out.push(r),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn insert_merges_and_get_finds() {
        let mut r = Ranges::new(100);
        r.insert(10, vec![1; 10]);
        r.insert(30, vec![3; 10]);
        assert!(matches!(
            r.get(15, 20),
            Err(Error::NeedBytes { start: 15, end: 35 })
        ));
        r.insert(20, vec![2; 10]);
        assert_eq!(
            r.get(15, 20).unwrap()[..],
            [[1u8; 5], [2; 5], [2; 5], [3; 5]].concat()[..]
        );
        assert!(matches!(r.get(95, 10), Err(Error::Corrupt(_))));
        assert_eq!(
            r.get(50, 0).unwrap(),
            &[] as &[u8],
            "nothing to fetch for nothing"
        );
    }

    #[test]
    fn merge_ranges_joins_close_ones() {
        assert_eq!(
            merge_ranges(vec![20..30, 0..10, 12..15, 100..110], 5),
            vec![0..30, 100..110]
        );
    }
}
