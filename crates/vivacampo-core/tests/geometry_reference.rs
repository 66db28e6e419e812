//! Field areas against independent reference values: pyproj's GeographicLib on the WGS84
//! ellipsoid, written by `scripts/geometry-reference.py` into
//! `tests/fixtures/geometry/reference-areas.json`.

use geo::GeodesicArea;
use serde_json::Value;
use vivacampo_core::geometry::FieldGeometry;

/// Agreement required between our unrounded area and the reference: both are Karney's
/// algorithm, so anything beyond floating-point noise is a bug (API.md allows 0.5 %).
const MAX_RELATIVE_AREA_ERROR: f64 = 1e-9;

fn reference_cases() -> Vec<Value> {
    let text = include_str!("fixtures/geometry/reference-areas.json");
    let document: Value = serde_json::from_str(text).expect("fixture is JSON");
    document["cases"].as_array().expect("cases").clone()
}

#[test]
fn areas_match_pyproj_geographiclib() {
    let cases = reference_cases();
    assert!(cases.len() >= 10);
    let mut worst_relative_error: f64 = 0.0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let field = FieldGeometry::from_geojson(&case["geometry"])
            .unwrap_or_else(|error| panic!("{name}: {error}"));
        let reference_m2 = case["area_m2"].as_f64().unwrap();

        let area_m2 = field.multi_polygon().geodesic_area_unsigned();
        let relative_error = (area_m2 - reference_m2).abs() / reference_m2;
        worst_relative_error = worst_relative_error.max(relative_error);
        assert!(
            relative_error < MAX_RELATIVE_AREA_ERROR,
            "{name}: {area_m2} m² vs reference {reference_m2} m² ({relative_error:e})"
        );

        let reference_ha = (reference_m2 / 100.0).round() / 100.0;
        assert_eq!(field.area_ha(), reference_ha, "{name}");
    }
    println!(
        "worst relative area error over {} fields: {worst_relative_error:e}",
        cases.len()
    );
}

#[test]
fn bbox_and_vertex_count_match_the_reference() {
    for case in reference_cases() {
        let name = case["name"].as_str().unwrap();
        let field = FieldGeometry::from_geojson(&case["geometry"]).unwrap();
        let bbox: Vec<f64> = case["bbox"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        assert_eq!(field.bbox().to_vec(), bbox, "{name}");
        assert_eq!(
            field.vertex_count() as u64,
            case["vertex_count"].as_u64().unwrap(),
            "{name}"
        );
    }
}

#[test]
fn reference_fields_survive_a_wkt_round_trip_of_their_geojson_output() {
    for case in reference_cases() {
        let name = case["name"].as_str().unwrap();
        let field = FieldGeometry::from_geojson(&case["geometry"]).unwrap();
        let polygons: Vec<String> = field.to_geojson()["coordinates"]
            .as_array()
            .unwrap()
            .iter()
            .map(|polygon| {
                let rings: Vec<String> = polygon
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|ring| {
                        let positions: Vec<String> = ring
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|p| format!("{} {}", p[0], p[1]))
                            .collect();
                        format!("({})", positions.join(", "))
                    })
                    .collect();
                format!("({})", rings.join(", "))
            })
            .collect();
        let wkt = format!("MULTIPOLYGON({})", polygons.join(", "));
        let from_wkt = FieldGeometry::from_wkt(&wkt).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(from_wkt, field, "{name}");
    }
}
