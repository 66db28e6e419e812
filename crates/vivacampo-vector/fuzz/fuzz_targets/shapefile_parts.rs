//! The parts of one Shapefile layer (`.shp`, `.dbf`, `.prj`, and a `.cpg` of one byte's choice),
//! cut from the input at two length bytes, zipped and read: reaches the SHP, DBF and WKT parsers
//! without the fuzzer having to build a zip.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_vector::{ReadOptions, read, write_zip};

fuzz_target!(|data: &[u8]| {
    let [a, b, cpg, rest @ ..] = data else { return };
    let shp_len = (usize::from(*a) * 16).min(rest.len());
    let (shp, rest) = rest.split_at(shp_len);
    let dbf_len = (usize::from(*b) * 8).min(rest.len());
    let (dbf, prj) = rest.split_at(dbf_len);
    let cpg: &[u8] = match cpg % 4 {
        0 => b"UTF-8",
        1 => b"1252",
        2 => b"ISO-8859-1",
        _ => b"",
    };
    let mut files: Vec<(&str, &[u8])> = vec![("f.shp", shp), ("f.dbf", dbf), ("f.prj", prj)];
    if !cpg.is_empty() {
        files.push(("f.cpg", cpg));
    }
    let _ = read(&write_zip(&files), Some("application/zip"), &ReadOptions::default());
});
