//! Zip archives: a reader with a budget on unzipped bytes (zip bombs stop at the budget, not at
//! the sizes the archive declares) and a small writer. Stored and deflated entries only; zip64,
//! encrypted entries and other methods are refused as broken.

use std::io::{Read, Write};

use crate::error::{Error, Result};

const FORMAT: &str = "zip";
const EOCD_SIGNATURE: u32 = 0x0605_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// Most entries one archive may list.
pub const MAX_ENTRIES: usize = 10_000;

/// One file in an archive (directories are left out).
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: String,
    method: u16,
    crc: u32,
    compressed_size: u64,
    data_offset: usize,
}

/// How many unzipped bytes are left for the whole import, nested archives included.
#[derive(Debug)]
pub struct Budget {
    left: u64,
    limit: u64,
}

impl Budget {
    pub fn new(limit: u64) -> Self {
        Budget { left: limit, limit }
    }
}

fn u16_at(bytes: &[u8], at: usize) -> Result<u16> {
    bytes
        .get(at..at + 2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .ok_or_else(|| Error::corrupt(FORMAT, "it ends too early"))
}

fn u32_at(bytes: &[u8], at: usize) -> Result<u32> {
    bytes
        .get(at..at + 4)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
        .ok_or_else(|| Error::corrupt(FORMAT, "it ends too early"))
}

/// Whether the bytes start like a zip archive.
pub fn looks_like_zip(bytes: &[u8]) -> bool {
    bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(b"PK\x05\x06")
}

/// Lists the files of an archive from its central directory.
pub fn entries(bytes: &[u8]) -> Result<Vec<Entry>> {
    let search_from = bytes.len().saturating_sub(22 + 65_535);
    let eocd = (search_from..=bytes.len().saturating_sub(22))
        .rev()
        .find(|&at| u32_at(bytes, at).ok() == Some(EOCD_SIGNATURE))
        .ok_or_else(|| Error::corrupt(FORMAT, "its central directory is missing"))?;
    let count = u16_at(bytes, eocd + 10)?;
    let cd_offset = u32_at(bytes, eocd + 16)?;
    if count == 0xFFFF || cd_offset == 0xFFFF_FFFF {
        return Err(Error::corrupt(FORMAT, "zip64 archives are not supported"));
    }
    if usize::from(count) > MAX_ENTRIES {
        return Err(Error::corrupt(FORMAT, "it lists too many files"));
    }
    let mut at = cd_offset as usize;
    let mut list = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        if u32_at(bytes, at)? != CENTRAL_SIGNATURE {
            return Err(Error::corrupt(FORMAT, "its central directory is damaged"));
        }
        let flags = u16_at(bytes, at + 8)?;
        let method = u16_at(bytes, at + 10)?;
        let crc = u32_at(bytes, at + 16)?;
        let compressed_size = u32_at(bytes, at + 20)?;
        let name_len = usize::from(u16_at(bytes, at + 28)?);
        let extra_len = usize::from(u16_at(bytes, at + 30)?);
        let comment_len = usize::from(u16_at(bytes, at + 32)?);
        let local = u32_at(bytes, at + 42)? as usize;
        let name_bytes = bytes
            .get(at + 46..at + 46 + name_len)
            .ok_or_else(|| Error::corrupt(FORMAT, "it ends too early"))?;
        let name = String::from_utf8_lossy(name_bytes).into_owned();
        at += 46 + name_len + extra_len + comment_len;
        if name.ends_with('/') {
            continue;
        }
        if flags & 1 != 0 {
            return Err(Error::corrupt(FORMAT, "it is encrypted"));
        }
        if compressed_size == 0xFFFF_FFFF {
            return Err(Error::corrupt(FORMAT, "zip64 archives are not supported"));
        }
        if u32_at(bytes, local)? != LOCAL_SIGNATURE {
            return Err(Error::corrupt(FORMAT, "a file header is damaged"));
        }
        let data_offset = local
            + 30
            + usize::from(u16_at(bytes, local + 26)?)
            + usize::from(u16_at(bytes, local + 28)?);
        list.push(Entry {
            name,
            method,
            crc,
            compressed_size: u64::from(compressed_size),
            data_offset,
        });
    }
    Ok(list)
}

impl Entry {
    /// The file name without its folders.
    pub fn file_name(&self) -> &str {
        self.name.rsplit(['/', '\\']).next().unwrap_or(&self.name)
    }

    /// Unzips the entry, taking its size from `budget`.
    pub fn read(&self, archive: &[u8], budget: &mut Budget) -> Result<Vec<u8>> {
        let end = self
            .data_offset
            .checked_add(usize::try_from(self.compressed_size).unwrap_or(usize::MAX))
            .filter(|&end| end <= archive.len())
            .ok_or_else(|| Error::corrupt(FORMAT, "it ends too early"))?;
        let data = &archive[self.data_offset..end];
        let mut out = Vec::new();
        let over = |budget: &Budget| Error::TooLargeUnzipped {
            limit: budget.limit,
        };
        match self.method {
            0 => {
                if data.len() as u64 > budget.left {
                    return Err(over(budget));
                }
                out.extend_from_slice(data);
            }
            8 => {
                let mut decoder = flate2::read::DeflateDecoder::new(data).take(budget.left + 1);
                decoder
                    .read_to_end(&mut out)
                    .map_err(|_| Error::corrupt(FORMAT, format!("{} is damaged", self.name)))?;
                if out.len() as u64 > budget.left {
                    return Err(over(budget));
                }
            }
            _ => {
                return Err(Error::corrupt(
                    FORMAT,
                    format!("{} uses a compression other than deflate", self.name),
                ));
            }
        }
        if crc32fast::hash(&out) != self.crc {
            return Err(Error::corrupt(
                FORMAT,
                format!("{} fails its checksum", self.name),
            ));
        }
        budget.left -= out.len() as u64;
        Ok(out)
    }
}

/// Writes a zip archive of deflated files, names in UTF-8, in the given order.
pub fn write(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, content) in files {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        encoder
            .write_all(content)
            .expect("writing to a Vec cannot fail");
        let deflated = encoder.finish().expect("writing to a Vec cannot fail");
        let crc = crc32fast::hash(content);
        let offset = out.len() as u32;
        let header = |signature: u32, central: bool| {
            let mut h = Vec::new();
            h.extend_from_slice(&signature.to_le_bytes());
            if central {
                h.extend_from_slice(&20u16.to_le_bytes()); // made by
            }
            h.extend_from_slice(&20u16.to_le_bytes()); // version needed
            h.extend_from_slice(&(1u16 << 11).to_le_bytes()); // UTF-8 names
            h.extend_from_slice(&8u16.to_le_bytes()); // deflate
            h.extend_from_slice(&0u16.to_le_bytes()); // time
            h.extend_from_slice(&0x21u16.to_le_bytes()); // date 1980-01-01
            h.extend_from_slice(&crc.to_le_bytes());
            h.extend_from_slice(&(deflated.len() as u32).to_le_bytes());
            h.extend_from_slice(&(content.len() as u32).to_le_bytes());
            h.extend_from_slice(&(name.len() as u16).to_le_bytes());
            h.extend_from_slice(&0u16.to_le_bytes()); // extra
            if central {
                h.extend_from_slice(&0u16.to_le_bytes()); // comment
                h.extend_from_slice(&0u16.to_le_bytes()); // disk
                h.extend_from_slice(&0u16.to_le_bytes()); // internal attributes
                h.extend_from_slice(&0u32.to_le_bytes()); // external attributes
                h.extend_from_slice(&offset.to_le_bytes());
            }
            h.extend_from_slice(name.as_bytes());
            h
        };
        out.extend(header(LOCAL_SIGNATURE, false));
        out.extend(&deflated);
        central.extend(header(CENTRAL_SIGNATURE, true));
    }
    let cd_offset = out.len() as u32;
    let cd_size = central.len() as u32;
    out.extend(central);
    out.extend_from_slice(&EOCD_SIGNATURE.to_le_bytes());
    out.extend_from_slice(&[0; 4]); // disk numbers
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&(files.len() as u16).to_le_bytes());
    out.extend_from_slice(&cd_size.to_le_bytes());
    out.extend_from_slice(&cd_offset.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn written_archive_reads_back() {
        let zip = write(&[("a/doc.kml", b"hello hello hello"), ("b.txt", b"")]);
        let list = entries(&zip).unwrap();
        assert_eq!(list.len(), 2);
        assert_eq!(list[0].file_name(), "doc.kml");
        let mut budget = Budget::new(1000);
        assert_eq!(
            list[0].read(&zip, &mut budget).unwrap(),
            b"hello hello hello"
        );
        assert_eq!(list[1].read(&zip, &mut budget).unwrap(), b"");
    }

    #[test]
    fn budget_stops_a_bomb_whatever_it_declares() {
        let zeros = vec![0u8; 1_000_000];
        let zip = write(&[("big.shp", &zeros)]);
        assert!(zip.len() < 5_000);
        let list = entries(&zip).unwrap();
        let mut budget = Budget::new(100_000);
        assert_eq!(
            list[0].read(&zip, &mut budget).unwrap_err(),
            Error::TooLargeUnzipped { limit: 100_000 }
        );
    }

    #[test]
    fn damaged_archives_are_corrupt() {
        let zip = write(&[("a.txt", b"hello")]);
        assert_eq!(entries(&zip[..10]).unwrap_err().reason(), "corrupt");
        let mut flipped = zip.clone();
        flipped[36] ^= 0xFF; // inside the deflated data
        let list = entries(&flipped).unwrap();
        assert_eq!(
            list[0]
                .read(&flipped, &mut Budget::new(100))
                .unwrap_err()
                .reason(),
            "corrupt"
        );
    }
}
