//! Any bytes as the `doc.kml` of a KMZ (the KML parser behind the zip reader).
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_vector::{ReadOptions, read, write_zip};

fuzz_target!(|data: &[u8]| {
    let kmz = write_zip(&[("doc.kml", data)]);
    let _ = read(&kmz, Some("application/vnd.google-earth.kmz"), &ReadOptions::default());
});
