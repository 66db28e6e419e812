//! dBASE III tables, the attributes of a Shapefile: a reader that decodes text by the layer's
//! `.cpg`, else as UTF-8, else as Windows-1252, value by value, and a writer (UTF-8).
//!
//! SICAR's downloads hold UTF-8 bytes while the header's language byte says Windows-1252 and no
//! `.cpg` comes along, and a value can be cut mid-character at the field width. So without a
//! `.cpg` the language byte is ignored, a value that is valid UTF-8 but for a cut last character
//! loses that character, and only a value that is not UTF-8 at all is read as Windows-1252. No
//! value can fail the file.

use crate::error::{Error, Result};

const FORMAT: &str = "DBF";

/// How a layer's text is encoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TextEncoding {
    /// No `.cpg` (or one naming an unknown code page): UTF-8, else Windows-1252, per value.
    Guess,
    Utf8,
    Windows1252,
    Latin1,
}

impl TextEncoding {
    /// The encoding a `.cpg` file names.
    pub fn from_cpg(cpg: &[u8]) -> Self {
        let name = String::from_utf8_lossy(cpg).trim().to_ascii_uppercase();
        match name.replace(['-', '_', ' '], "").as_str() {
            "UTF8" | "65001" => TextEncoding::Utf8,
            "1252" | "CP1252" | "WINDOWS1252" | "ANSI1252" => TextEncoding::Windows1252,
            "88591" | "ISO88591" | "LATIN1" | "28591" => TextEncoding::Latin1,
            _ => TextEncoding::Guess,
        }
    }

    /// Decodes one value (trailing padding already removed).
    pub fn decode(self, bytes: &[u8]) -> String {
        match self {
            TextEncoding::Utf8 => utf8_cut(bytes)
                .map(str::to_owned)
                .unwrap_or_else(|| String::from_utf8_lossy(bytes).into_owned()),
            TextEncoding::Windows1252 => windows_1252(bytes),
            TextEncoding::Latin1 => bytes.iter().map(|&b| char::from(b)).collect(),
            TextEncoding::Guess => utf8_cut(bytes)
                .map(str::to_owned)
                .unwrap_or_else(|| windows_1252(bytes)),
        }
    }
}

/// The bytes as UTF-8, dropping one incomplete character at the very end (a value cut at the
/// field width); `None` if they are not UTF-8.
fn utf8_cut(bytes: &[u8]) -> Option<&str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => Some(text),
        Err(e) if e.error_len().is_none() => std::str::from_utf8(&bytes[..e.valid_up_to()]).ok(),
        Err(_) => None,
    }
}

/// Windows-1252: Latin-1 but for 0x80–0x9F.
fn windows_1252(bytes: &[u8]) -> String {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    bytes
        .iter()
        .map(|&b| match b {
            0x80..=0x9F => HIGH[usize::from(b - 0x80)],
            _ => char::from(b),
        })
        .collect()
}

/// A table: field names and, per record, its values as text.
#[derive(Debug, Clone, PartialEq)]
pub struct Table {
    pub fields: Vec<String>,
    pub records: Vec<Vec<String>>,
}

struct FieldSpec {
    name: String,
    kind: u8,
    length: usize,
}

/// Reads a table; text fields are decoded with `encoding`, the others are ASCII.
pub fn read(bytes: &[u8], encoding: TextEncoding) -> Result<Table> {
    let short = || Error::corrupt(FORMAT, "it ends too early");
    let header = bytes.get(..32).ok_or_else(short)?;
    let count = u32::from_le_bytes([header[4], header[5], header[6], header[7]]) as usize;
    let header_len = usize::from(u16::from_le_bytes([header[8], header[9]]));
    let record_len = usize::from(u16::from_le_bytes([header[10], header[11]]));
    if record_len == 0 {
        return Err(Error::corrupt(FORMAT, "its records have no width"));
    }
    let mut specs = Vec::new();
    let mut at = 32;
    while at + 32 <= header_len.min(bytes.len()) && bytes[at] != 0x0D {
        let d = &bytes[at..at + 32];
        let name_end = d[..11].iter().position(|&b| b == 0).unwrap_or(11);
        specs.push(FieldSpec {
            name: TextEncoding::Guess.decode(&d[..name_end]).trim().to_owned(),
            kind: d[11],
            length: usize::from(d[16]),
        });
        at += 32;
    }
    let widths: usize = 1 + specs.iter().map(|s| s.length).sum::<usize>();
    if widths > record_len {
        return Err(Error::corrupt(
            FORMAT,
            "its fields are wider than its records",
        ));
    }
    // A count larger than the data is cut to the records present (files are often truncated).
    let present = bytes.len().saturating_sub(header_len) / record_len;
    let mut records = Vec::with_capacity(count.min(present));
    for index in 0..count.min(present) {
        let start = header_len + index * record_len;
        let record = &bytes[start..start + record_len];
        let mut offset = 1;
        let mut values = Vec::with_capacity(specs.len());
        for spec in &specs {
            let raw = &record[offset..offset + spec.length];
            offset += spec.length;
            let raw = trim_padding(raw);
            values.push(match spec.kind {
                b'C' | b'M' => encoding.decode(raw),
                _ => TextEncoding::Latin1.decode(raw).trim().to_owned(),
            });
        }
        records.push(values);
    }
    Ok(Table {
        fields: specs.into_iter().map(|s| s.name).collect(),
        records,
    })
}

fn trim_padding(raw: &[u8]) -> &[u8] {
    let end = raw
        .iter()
        .rposition(|&b| b != b' ' && b != 0)
        .map_or(0, |p| p + 1);
    &raw[..end]
}

/// A column to write: name (at most 10 ASCII characters) and kind.
#[derive(Debug, Clone, Copy)]
pub enum Column {
    /// Text of at most `width` bytes (values are cut at a character boundary).
    Text { name: &'static str, width: u8 },
    /// A number with `decimals` digits after the point, right-aligned in `width`.
    Number {
        name: &'static str,
        width: u8,
        decimals: u8,
    },
}

/// A value of a record, in column order.
#[derive(Debug, Clone)]
pub enum Value {
    Text(String),
    Number(f64),
}

/// Writes a table in UTF-8 (language byte 0; the writer adds a `.cpg` saying UTF-8).
pub fn write(columns: &[Column], records: &[Vec<Value>]) -> Vec<u8> {
    let width_of = |c: &Column| match c {
        Column::Text { width, .. } | Column::Number { width, .. } => usize::from(*width),
    };
    let record_len = 1 + columns.iter().map(width_of).sum::<usize>();
    let header_len = 32 + 32 * columns.len() + 1;
    let mut out = Vec::with_capacity(header_len + record_len * records.len() + 1);
    out.push(0x03);
    out.extend_from_slice(&[126, 1, 1]); // last update: 2026-01-01
    out.extend_from_slice(&(records.len() as u32).to_le_bytes());
    out.extend_from_slice(&(header_len as u16).to_le_bytes());
    out.extend_from_slice(&(record_len as u16).to_le_bytes());
    out.extend_from_slice(&[0; 20]);
    for column in columns {
        let (name, kind, width, decimals) = match *column {
            Column::Text { name, width } => (name, b'C', width, 0),
            Column::Number {
                name,
                width,
                decimals,
            } => (name, b'N', width, decimals),
        };
        let mut descriptor = [0u8; 32];
        descriptor[..name.len()].copy_from_slice(name.as_bytes());
        descriptor[11] = kind;
        descriptor[16] = width;
        descriptor[17] = decimals;
        out.extend_from_slice(&descriptor);
    }
    out.push(0x0D);
    for record in records {
        out.push(b' ');
        for (column, value) in columns.iter().zip(record) {
            let width = width_of(column);
            let mut cell = match (column, value) {
                (Column::Number { decimals, .. }, Value::Number(n)) => {
                    let text = format!("{n:.*}", usize::from(*decimals));
                    format!("{text:>width$}").into_bytes()
                }
                (_, Value::Text(text)) => cut_at_char(text, width).as_bytes().to_vec(),
                (_, Value::Number(n)) => n.to_string().into_bytes(),
            };
            cell.resize(width, b' ');
            out.extend_from_slice(&cell);
        }
    }
    out.push(0x1A);
    out
}

/// The longest prefix of `text` of at most `bytes` bytes that ends at a character boundary.
fn cut_at_char(text: &str, bytes: usize) -> &str {
    if text.len() <= bytes {
        return text;
    }
    let mut end = bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guess_reads_utf8_then_windows_1252() {
        assert_eq!(
            TextEncoding::Guess.decode("Januária".as_bytes()),
            "Januária"
        );
        assert_eq!(TextEncoding::Guess.decode(b"Janu\xe1ria"), "Januária");
        assert_eq!(TextEncoding::Guess.decode(b"\x93a\x94"), "“a”");
    }

    #[test]
    fn a_value_cut_mid_character_loses_only_that_character() {
        let bytes = "São João".as_bytes();
        // "São Jo" + the first byte of "ã".
        let cut = &bytes[..8];
        assert_eq!(TextEncoding::Guess.decode(cut), "São Jo");
        assert_eq!(TextEncoding::Utf8.decode(cut), "São Jo");
    }

    #[test]
    fn cpg_names_map_to_encodings() {
        assert_eq!(TextEncoding::from_cpg(b"UTF-8\r\n"), TextEncoding::Utf8);
        assert_eq!(TextEncoding::from_cpg(b"65001"), TextEncoding::Utf8);
        assert_eq!(TextEncoding::from_cpg(b"1252"), TextEncoding::Windows1252);
        assert_eq!(TextEncoding::from_cpg(b"ISO-8859-1"), TextEncoding::Latin1);
        assert_eq!(TextEncoding::from_cpg(b"KOI8-R"), TextEncoding::Guess);
        // A declared Windows-1252 is honoured even where the bytes would be UTF-8.
        assert_eq!(TextEncoding::Windows1252.decode("á".as_bytes()), "Ã¡");
    }

    #[test]
    fn written_table_reads_back() {
        let columns = [
            Column::Text {
                name: "name",
                width: 6,
            },
            Column::Number {
                name: "area_ha",
                width: 12,
                decimals: 2,
            },
        ];
        let bytes = write(
            &columns,
            &[
                vec![Value::Text("Talhão 1".into()), Value::Number(12.345)],
                vec![Value::Text("B".into()), Value::Number(3.0)],
            ],
        );
        let table = read(&bytes, TextEncoding::Utf8).unwrap();
        assert_eq!(table.fields, ["name", "area_ha"]);
        // "Talhão 1" is 9 bytes; cut at 6 ends inside nothing: "Talhã" is 6 bytes.
        assert_eq!(table.records[0], ["Talhã", "12.35"]);
        assert_eq!(table.records[1], ["B", "3.00"]);
    }

    #[test]
    fn truncated_tables_keep_the_records_present() {
        let columns = [Column::Text {
            name: "n",
            width: 3,
        }];
        let bytes = write(
            &columns,
            &[vec![Value::Text("a".into())], vec![Value::Text("b".into())]],
        );
        let table = read(&bytes[..bytes.len() - 4], TextEncoding::Guess).unwrap();
        assert_eq!(table.records, [["a"]]);
        assert_eq!(
            read(&bytes[..20], TextEncoding::Guess)
                .unwrap_err()
                .reason(),
            "corrupt"
        );
    }
}
