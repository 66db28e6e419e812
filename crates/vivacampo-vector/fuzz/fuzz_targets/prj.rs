//! Any bytes as a `.prj` (WKT) and as a GeoJSON `crs` name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_vector::{crs_from_name, crs_from_prj};

fuzz_target!(|data: &[u8]| {
    let _ = crs_from_prj(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crs_from_name(text);
    }
});
