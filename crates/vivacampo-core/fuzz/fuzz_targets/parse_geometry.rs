//! Arbitrary bytes into both field-geometry parsers: as WKT text and as GeoJSON. Neither may
//! panic, and whatever they accept must satisfy the field invariants.
#![no_main]

use libfuzzer_sys::fuzz_target;
use vivacampo_core::geometry::{FieldGeometry, GeometryError};

fn check_accepted(outcome: Result<FieldGeometry, GeometryError>) {
    let Ok(field) = outcome else { return };
    assert!((0.1..=10_000.0).contains(&field.area_ha()));
    assert!(field.vertex_count() <= 10_000);
    let [min_lon, min_lat, max_lon, max_lat] = field.bbox();
    assert!(-180.0 <= min_lon && min_lon <= max_lon && max_lon <= 180.0);
    assert!(-90.0 <= min_lat && min_lat <= max_lat && max_lat <= 90.0);
    // The normalised output is itself valid and reads back unchanged.
    let again = FieldGeometry::from_geojson(&field.to_geojson()).expect("output re-parses");
    assert_eq!(again, field);
}

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        check_accepted(FieldGeometry::from_wkt(text));
    }
    if let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) {
        check_accepted(FieldGeometry::from_geojson(&value));
    }
});
