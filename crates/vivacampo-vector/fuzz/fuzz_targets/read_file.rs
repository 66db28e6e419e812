//! Any bytes as an uploaded boundary file (sniffed: GeoJSON, KML, KMZ or zipped Shapefile).
//! Errors are expected; panics, hangs and runaway allocations are bugs. Whatever reads must
//! hold only valid fields or field errors.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_vector::{Limits, ReadOptions, read};

fuzz_target!(|data: &[u8]| {
    let options = ReadOptions {
        limits: Limits {
            max_unzipped: 8 << 20,
            max_features: 1_000,
            max_vertices: 100_000,
        },
        layer: None,
    };
    if let Ok(layer) = read(data, None, &options) {
        for feature in &layer.features {
            if let Ok(field) = &feature.geometry {
                assert!(field.area_ha() >= 0.1 && field.area_ha() <= 10_000.0);
            }
            let _ = layer.name_of(feature, Some("nome"));
        }
    }
});
