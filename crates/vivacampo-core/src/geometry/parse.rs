//! GeoJSON and WKT to raw polygon rings. Only the shape of the input is checked here
//! (`not_polygonal`, and `empty` for an empty string or a Feature without geometry); every
//! other rule runs on the result, the same way for both formats.

use super::{GeometryError, InvalidReason, RawPolygons};
use geo::Coord;
use serde_json::Value;
use std::str::FromStr;

/// Deepest parenthesis nesting a MULTIPOLYGON needs. The WKT parser recurses on nesting, so
/// deeper text is refused before parsing rather than risking the stack.
const MAX_WKT_NESTING: usize = 3;

fn not_polygonal(message: impl Into<String>) -> GeometryError {
    GeometryError::new(InvalidReason::NotPolygonal, message)
}

fn non_polygon_type(type_name: &str) -> GeometryError {
    not_polygonal(format!(
        "A {type_name} is not an area; draw the field as a Polygon or MultiPolygon"
    ))
}

/// A GeoJSON `Polygon`, `MultiPolygon`, or `Feature` holding one of them.
pub(super) fn geojson_polygons(value: &Value) -> Result<RawPolygons, GeometryError> {
    let object = value
        .as_object()
        .ok_or_else(|| not_polygonal("GeoJSON geometry must be an object"))?;
    if object.get("type").and_then(Value::as_str) == Some("Feature") {
        return match object.get("geometry") {
            None | Some(Value::Null) => Err(GeometryError::new(
                InvalidReason::Empty,
                "Feature has no geometry",
            )),
            Some(geometry) => geojson_geometry(geometry),
        };
    }
    geojson_geometry(value)
}

fn geojson_geometry(value: &Value) -> Result<RawPolygons, GeometryError> {
    let object = value
        .as_object()
        .ok_or_else(|| not_polygonal("GeoJSON geometry must be an object"))?;
    let type_name = object
        .get("type")
        .and_then(Value::as_str)
        .ok_or_else(|| not_polygonal("GeoJSON geometry has no \"type\""))?;
    let coordinates = || {
        object
            .get("coordinates")
            .and_then(Value::as_array)
            .ok_or_else(|| not_polygonal(format!("{type_name} \"coordinates\" must be an array")))
    };
    match type_name {
        "Polygon" => Ok(vec![geojson_polygon(coordinates()?)?]),
        "MultiPolygon" => coordinates()?
            .iter()
            .map(|polygon| {
                let rings = polygon
                    .as_array()
                    .ok_or_else(|| not_polygonal("Each MultiPolygon member must be an array"))?;
                geojson_polygon(rings)
            })
            .collect(),
        "Point" | "MultiPoint" | "LineString" | "MultiLineString" | "GeometryCollection"
        | "Feature" | "FeatureCollection" => Err(non_polygon_type(type_name)),
        _ => Err(not_polygonal("Unknown GeoJSON geometry type")),
    }
}

fn geojson_polygon(rings: &[Value]) -> Result<Vec<Vec<Coord<f64>>>, GeometryError> {
    rings
        .iter()
        .map(|ring| {
            ring.as_array()
                .ok_or_else(|| not_polygonal("Each polygon ring must be an array of positions"))?
                .iter()
                .map(geojson_position)
                .collect()
        })
        .collect()
}

/// `[lon, lat]`, or `[lon, lat, altitude, …]` with the rest ignored.
fn geojson_position(value: &Value) -> Result<Coord<f64>, GeometryError> {
    let malformed = || not_polygonal("Each position must be an array of numbers [lon, lat]");
    match value.as_array().map(Vec::as_slice) {
        Some([x, y, ..]) => Ok(Coord {
            x: x.as_f64().ok_or_else(malformed)?,
            y: y.as_f64().ok_or_else(malformed)?,
        }),
        _ => Err(malformed()),
    }
}

/// WKT `POLYGON` or `MULTIPOLYGON`, with or without Z/M values (which are dropped).
pub(super) fn wkt_polygons(text: &str) -> Result<RawPolygons, GeometryError> {
    if text.trim().is_empty() {
        return Err(GeometryError::new(
            InvalidReason::Empty,
            "Geometry text is empty",
        ));
    }
    if nesting_depth(text) > MAX_WKT_NESTING {
        return Err(not_polygonal(
            "WKT is nested too deeply for a POLYGON or MULTIPOLYGON",
        ));
    }
    let parsed = wkt::Wkt::<f64>::from_str(text)
        .map_err(|error| not_polygonal(format!("Geometry is not valid WKT: {error}")))?;
    match parsed {
        wkt::Wkt::Polygon(polygon) => Ok(vec![wkt_polygon(&polygon)]),
        wkt::Wkt::MultiPolygon(multi) => Ok(multi.polygons().iter().map(wkt_polygon).collect()),
        wkt::Wkt::Point(_) => Err(non_polygon_type("POINT")),
        wkt::Wkt::LineString(_) => Err(non_polygon_type("LINESTRING")),
        wkt::Wkt::MultiPoint(_) => Err(non_polygon_type("MULTIPOINT")),
        wkt::Wkt::MultiLineString(_) => Err(non_polygon_type("MULTILINESTRING")),
        wkt::Wkt::GeometryCollection(_) => Err(non_polygon_type("GEOMETRYCOLLECTION")),
    }
}

fn wkt_polygon(polygon: &wkt::types::Polygon<f64>) -> Vec<Vec<Coord<f64>>> {
    polygon
        .rings()
        .iter()
        .map(|ring| {
            ring.coords()
                .iter()
                .map(|c| Coord { x: c.x, y: c.y })
                .collect()
        })
        .collect()
}

fn nesting_depth(text: &str) -> usize {
    let mut depth: usize = 0;
    let mut deepest = 0;
    for byte in text.bytes() {
        match byte {
            b'(' => {
                depth += 1;
                deepest = deepest.max(depth);
            }
            b')' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    deepest
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn reason_of_geojson(value: Value) -> InvalidReason {
        geojson_polygons(&value).unwrap_err().reason
    }

    fn reason_of_wkt(text: &str) -> InvalidReason {
        wkt_polygons(text).unwrap_err().reason
    }

    #[test]
    fn geojson_polygon_keeps_rings_and_positions_as_written() {
        let raw = geojson_polygons(&json!({
            "type": "Polygon",
            "coordinates": [[[0, 0], [1, 0], [1, 1, 30.5], [0, 0]]]
        }))
        .unwrap();
        assert_eq!(raw.len(), 1);
        assert_eq!(raw[0][0].len(), 4);
        assert_eq!(raw[0][0][2], Coord { x: 1.0, y: 1.0 });
    }

    #[test]
    fn geojson_feature_yields_its_geometry() {
        let raw = geojson_polygons(&json!({
            "type": "Feature",
            "properties": {"name": "talhão 3"},
            "geometry": {"type": "MultiPolygon", "coordinates": [[[[0, 0], [1, 0], [1, 1], [0, 0]]]]}
        }))
        .unwrap();
        assert_eq!(raw.len(), 1);
    }

    #[test]
    fn geojson_feature_without_geometry_is_empty() {
        let reason = reason_of_geojson(json!({"type": "Feature", "geometry": null}));
        assert_eq!(reason, InvalidReason::Empty);
    }

    #[test]
    fn geojson_non_area_types_are_not_polygonal() {
        for type_name in [
            "Point",
            "LineString",
            "GeometryCollection",
            "FeatureCollection",
        ] {
            let reason = reason_of_geojson(json!({"type": type_name, "coordinates": [0, 0]}));
            assert_eq!(reason, InvalidReason::NotPolygonal, "{type_name}");
        }
        let nested_feature = json!({"type": "Feature", "geometry": {"type": "Feature"}});
        assert_eq!(
            reason_of_geojson(nested_feature),
            InvalidReason::NotPolygonal
        );
        assert_eq!(
            reason_of_geojson(json!({"type": "Blob"})),
            InvalidReason::NotPolygonal
        );
        assert_eq!(
            reason_of_geojson(json!([1, 2])),
            InvalidReason::NotPolygonal
        );
    }

    #[test]
    fn geojson_malformed_coordinates_are_not_polygonal() {
        let cases = [
            json!({"type": "Polygon"}),
            json!({"type": "Polygon", "coordinates": "0 0"}),
            json!({"type": "Polygon", "coordinates": [[[0], [1, 0], [1, 1], [0]]]}),
            json!({"type": "Polygon", "coordinates": [[["0", 0], [1, 0], [1, 1], ["0", 0]]]}),
            json!({"type": "Polygon", "coordinates": [[0, 0], [1, 0]]}),
            json!({"type": "MultiPolygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 0]]]}),
        ];
        for case in cases {
            assert_eq!(
                reason_of_geojson(case.clone()),
                InvalidReason::NotPolygonal,
                "{case}"
            );
        }
    }

    #[test]
    fn wkt_polygon_and_multipolygon_parse_with_z_dropped() {
        let raw = wkt_polygons("POLYGON Z ((0 0 5, 1 0 5, 1 1 5, 0 0 5))").unwrap();
        assert_eq!(raw[0][0][1], Coord { x: 1.0, y: 0.0 });
        let raw =
            wkt_polygons("MULTIPOLYGON(((0 0,1 0,1 1,0 0)),((5 5,6 5,6 6,5 5),(5.1 5.1,5.2 5.1,5.2 5.2,5.1 5.1)))")
                .unwrap();
        assert_eq!(raw.len(), 2);
        assert_eq!(raw[1].len(), 2);
    }

    #[test]
    fn wkt_empty_text_and_non_areas() {
        assert_eq!(reason_of_wkt("  "), InvalidReason::Empty);
        assert_eq!(reason_of_wkt("POINT(1 2)"), InvalidReason::NotPolygonal);
        assert_eq!(
            reason_of_wkt("LINESTRING(1 2, 3 4)"),
            InvalidReason::NotPolygonal
        );
        assert_eq!(
            reason_of_wkt("GEOMETRYCOLLECTION(POLYGON((0 0,1 0,1 1,0 0)))"),
            InvalidReason::NotPolygonal
        );
        assert_eq!(
            reason_of_wkt("POLYGON((0 0, 1 0"),
            InvalidReason::NotPolygonal
        );
        assert_eq!(reason_of_wkt("hello"), InvalidReason::NotPolygonal);
    }

    #[test]
    fn wkt_deep_nesting_is_refused_before_parsing() {
        let text = format!(
            "GEOMETRYCOLLECTION{}{}",
            "(GEOMETRYCOLLECTION".repeat(100_000),
            ")".repeat(100_000)
        );
        assert_eq!(reason_of_wkt(&text), InvalidReason::NotPolygonal);
    }
}
