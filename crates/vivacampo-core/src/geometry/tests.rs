use super::*;
use geo::polygon;

/// A square of `side_m` metres (approximately) with its south-west corner at (lon, lat), as a
/// GeoJSON Polygon with the given ring orientation.
fn square_geojson(lon: f64, lat: f64, side_m: f64, counter_clockwise: bool) -> Value {
    let dlat = side_m / 110_574.0;
    let dlon = side_m / (111_320.0 * lat.to_radians().cos());
    let mut ring = vec![
        [lon, lat],
        [lon + dlon, lat],
        [lon + dlon, lat + dlat],
        [lon, lat + dlat],
        [lon, lat],
    ];
    if !counter_clockwise {
        ring.reverse();
    }
    json!({"type": "Polygon", "coordinates": [ring]})
}

fn reason_of(result: Result<FieldGeometry, GeometryError>) -> InvalidReason {
    result.unwrap_err().reason
}

const FIELD_WKT: &str =
    "POLYGON((-49.30 -17.80, -49.29 -17.80, -49.29 -17.79, -49.30 -17.79, -49.30 -17.80))";

#[test]
fn reason_words_match_the_api() {
    let words: Vec<&str> = [
        InvalidReason::NotPolygonal,
        InvalidReason::UnclosedRing,
        InvalidReason::TooFewPoints,
        InvalidReason::SelfIntersection,
        InvalidReason::OutOfRange,
        InvalidReason::TooSmall,
        InvalidReason::TooLarge,
        InvalidReason::TooManyVertices,
        InvalidReason::Empty,
    ]
    .iter()
    .map(InvalidReason::as_str)
    .collect();
    assert_eq!(
        words,
        [
            "not_polygonal",
            "unclosed_ring",
            "too_few_points",
            "self_intersection",
            "out_of_range",
            "too_small",
            "too_large",
            "too_many_vertices",
            "empty"
        ]
    );
}

#[test]
fn valid_field_from_wkt_and_geojson_agree() {
    let from_wkt = FieldGeometry::from_wkt(FIELD_WKT).unwrap();
    let from_geojson = FieldGeometry::from_geojson(&json!({
        "type": "Polygon",
        "coordinates": [[[-49.30, -17.80], [-49.29, -17.80], [-49.29, -17.79], [-49.30, -17.79], [-49.30, -17.80]]]
    }))
    .unwrap();
    assert_eq!(from_wkt, from_geojson);
    // 0.01° × 0.01° at 17.8° S: about 1 059 m × 1 106 m.
    assert!(
        (from_wkt.area_ha() - 117.2).abs() < 1.0,
        "{}",
        from_wkt.area_ha()
    );
    assert_eq!(from_wkt.bbox(), [-49.30, -17.80, -49.29, -17.79]);
    assert_eq!(from_wkt.vertex_count(), 4);
}

#[test]
fn area_is_rounded_to_hundredths() {
    let field = FieldGeometry::from_wkt(FIELD_WKT).unwrap();
    let hundredths = field.area_ha() * 100.0;
    assert!((hundredths - hundredths.round()).abs() < 1e-6);
}

#[test]
fn output_is_a_closed_rfc7946_multipolygon() {
    // Clockwise outer ring and counter-clockwise hole in, the opposite out.
    let field = FieldGeometry::from_wkt(
        "POLYGON((0 0, 0 0.01, 0.01 0.01, 0.01 0, 0 0), (0.002 0.002, 0.004 0.002, 0.004 0.004, 0.002 0.004, 0.002 0.002))",
    )
    .unwrap();
    let geojson = field.to_geojson();
    assert_eq!(geojson["type"], "MultiPolygon");
    let rings = geojson["coordinates"][0].as_array().unwrap();
    assert_eq!(rings.len(), 2);
    let signed_area = |ring: &Value| -> f64 {
        let positions = ring.as_array().unwrap();
        assert_eq!(positions.first(), positions.last(), "ring is closed");
        positions
            .windows(2)
            .map(|edge| {
                let (a, b) = (&edge[0], &edge[1]);
                a[0].as_f64().unwrap() * b[1].as_f64().unwrap()
                    - b[0].as_f64().unwrap() * a[1].as_f64().unwrap()
            })
            .sum::<f64>()
            / 2.0
    };
    assert!(signed_area(&rings[0]) > 0.0, "outer ring counter-clockwise");
    assert!(signed_area(&rings[1]) < 0.0, "hole clockwise");
    // The normalised form reads back to the same field.
    assert_eq!(FieldGeometry::from_geojson(&geojson).unwrap(), field);
}

#[test]
fn orientation_does_not_change_the_area() {
    let ccw = FieldGeometry::from_geojson(&square_geojson(-55.9, -12.6, 1000.0, true)).unwrap();
    let cw = FieldGeometry::from_geojson(&square_geojson(-55.9, -12.6, 1000.0, false)).unwrap();
    assert_eq!(ccw.area_ha(), cw.area_ha());
    assert_eq!(ccw, cw);
    assert!((ccw.area_ha() - 100.0).abs() < 0.5, "{}", ccw.area_ha());
}

#[test]
fn polygon_becomes_a_one_member_multipolygon() {
    let field = FieldGeometry::from_wkt(FIELD_WKT).unwrap();
    assert_eq!(field.multi_polygon().0.len(), 1);
    let multi = FieldGeometry::from_wkt(
        "MULTIPOLYGON(((0 0, 0.01 0, 0.01 0.01, 0 0.01, 0 0)), ((0.02 0, 0.03 0, 0.03 0.01, 0.02 0.01, 0.02 0)))",
    )
    .unwrap();
    assert_eq!(multi.multi_polygon().0.len(), 2);
    assert_eq!(multi.vertex_count(), 8);
    assert_eq!(multi.bbox(), [0.0, 0.0, 0.03, 0.01]);
}

#[test]
fn duplicate_consecutive_points_are_removed() {
    let field = FieldGeometry::from_wkt(
        "POLYGON((0 0, 0 0, 0.01 0, 0.01 0.01, 0.01 0.01, 0.01 0.01, 0 0.01, 0 0, 0 0))",
    )
    .unwrap();
    assert_eq!(field.vertex_count(), 4);
}

#[test]
fn geojson_feature_is_accepted() {
    let feature = json!({
        "type": "Feature",
        "properties": {},
        "geometry": square_geojson(-47.9, -15.8, 500.0, true)
    });
    let field = FieldGeometry::from_geojson(&feature).unwrap();
    assert!((field.area_ha() - 25.0).abs() < 0.2, "{}", field.area_ha());
}

#[test]
fn not_polygonal() {
    assert_eq!(
        reason_of(FieldGeometry::from_wkt("POINT(1 2)")),
        InvalidReason::NotPolygonal
    );
    assert_eq!(
        reason_of(FieldGeometry::from_geojson(
            &json!({"type": "LineString", "coordinates": [[0, 0], [1, 1]]})
        )),
        InvalidReason::NotPolygonal
    );
    assert_eq!(
        reason_of(FieldGeometry::from_geojson(
            &json!({"type": "Polygon", "coordinates": [[[0, 0], [1], [1, 1], [0, 0]]]})
        )),
        InvalidReason::NotPolygonal
    );
}

#[test]
fn empty() {
    for text in ["", "POLYGON EMPTY", "MULTIPOLYGON EMPTY"] {
        assert_eq!(
            reason_of(FieldGeometry::from_wkt(text)),
            InvalidReason::Empty,
            "{text:?}"
        );
    }
    for value in [
        json!({"type": "Polygon", "coordinates": []}),
        json!({"type": "Polygon", "coordinates": [[]]}),
        json!({"type": "MultiPolygon", "coordinates": []}),
        json!({"type": "MultiPolygon", "coordinates": [[], [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0]]]]}),
    ] {
        assert_eq!(
            reason_of(FieldGeometry::from_geojson(&value)),
            InvalidReason::Empty,
            "{value}"
        );
    }
}

#[test]
fn too_many_vertices_comes_before_the_expensive_checks() {
    // 20 000 vertices that also cross each other everywhere: the count alone decides.
    let zigzag: Vec<String> = (0..20_000)
        .map(|i| format!("{} {}", (i % 2) as f64 * 0.01, i as f64 * 1e-6))
        .chain(std::iter::once("0 0".to_string()))
        .collect();
    let text = format!("POLYGON(({}))", zigzag.join(","));
    let error = FieldGeometry::from_wkt(&text).unwrap_err();
    assert_eq!(error.reason, InvalidReason::TooManyVertices);
    assert_eq!(
        error.message,
        "Geometry has 20000 vertices; the maximum is 10000"
    );
}

#[test]
fn out_of_range() {
    assert_eq!(
        reason_of(FieldGeometry::from_wkt(
            "POLYGON((181 0, 181.01 0, 181.01 0.01, 181 0))"
        )),
        InvalidReason::OutOfRange
    );
    assert_eq!(
        reason_of(FieldGeometry::from_geojson(
            &json!({"type": "Polygon", "coordinates": [[[0, 90.5], [0.01, 90.5], [0.01, 90.6], [0, 90.5]]]})
        )),
        InvalidReason::OutOfRange
    );
    // Non-finite: WKT numbers can overflow to infinity.
    assert_eq!(
        reason_of(FieldGeometry::from_wkt(
            "POLYGON((1e999 0, 0.01 0, 0.01 0.01, 1e999 0))"
        )),
        InvalidReason::OutOfRange
    );
}

#[test]
fn ring_across_the_antimeridian_is_out_of_range() {
    let error = FieldGeometry::from_wkt(
        "POLYGON((179.99 -16.8, -179.99 -16.8, -179.99 -16.79, 179.99 -16.79, 179.99 -16.8))",
    )
    .unwrap_err();
    assert_eq!(error.reason, InvalidReason::OutOfRange);
    assert!(error.message.contains("180°"), "{}", error.message);
}

#[test]
fn unclosed_ring() {
    let error = FieldGeometry::from_wkt("POLYGON((0 0, 0.01 0, 0.01 0.01, 0 0.01))").unwrap_err();
    assert_eq!(error.reason, InvalidReason::UnclosedRing);
    assert_eq!(
        error.message,
        "The outer ring is not closed: its last position must repeat the first"
    );
    let hole_open = json!({"type": "MultiPolygon", "coordinates": [
        [[[0, 0], [0.01, 0], [0.01, 0.01], [0, 0.01], [0, 0]]],
        [[[1, 0], [1.01, 0], [1.01, 0.01], [1, 0.01], [1, 0]],
         [[1.002, 0.002], [1.004, 0.002], [1.004, 0.004]]]
    ]});
    let error = FieldGeometry::from_geojson(&hole_open).unwrap_err();
    assert_eq!(error.reason, InvalidReason::UnclosedRing);
    assert!(
        error
            .message
            .starts_with("Hole 1 of polygon 2 is not closed"),
        "{}",
        error.message
    );
}

#[test]
fn too_few_points() {
    assert_eq!(
        reason_of(FieldGeometry::from_wkt("POLYGON((0 0, 0.01 0, 0 0))")),
        InvalidReason::TooFewPoints
    );
    // Four positions, but only two distinct corners once duplicates go.
    let error = FieldGeometry::from_wkt("POLYGON((0 0, 0.01 0, 0.01 0, 0 0))").unwrap_err();
    assert_eq!(error.reason, InvalidReason::TooFewPoints);
    assert_eq!(
        error.message,
        "The outer ring has 2 distinct points; a ring needs at least 3"
    );
    assert_eq!(
        reason_of(FieldGeometry::from_geojson(
            &json!({"type": "Polygon", "coordinates": [[[0, 0], [0, 0], [0, 0], [0, 0]]]})
        )),
        InvalidReason::TooFewPoints
    );
}

#[test]
fn self_intersection() {
    let bowtie = "POLYGON((0 0, 0.01 0.01, 0.01 0, 0 0.01, 0 0))";
    let error = FieldGeometry::from_wkt(bowtie).unwrap_err();
    assert_eq!(error.reason, InvalidReason::SelfIntersection);
    assert_eq!(
        error.message,
        "The outer ring crosses or touches itself near (0.005000, 0.005000)"
    );
    let bowtie_geojson = json!({"type": "Polygon", "coordinates": [[[0, 0], [0.01, 0.01], [0.01, 0], [0, 0.01], [0, 0]]]});
    assert_eq!(
        reason_of(FieldGeometry::from_geojson(&bowtie_geojson)),
        InvalidReason::SelfIntersection
    );
    let overlapping = "MULTIPOLYGON(((0 0, 0.01 0, 0.01 0.01, 0 0.01, 0 0)), ((0.005 0.005, 0.015 0.005, 0.015 0.015, 0.005 0.015, 0.005 0.005)))";
    assert_eq!(
        reason_of(FieldGeometry::from_wkt(overlapping)),
        InvalidReason::SelfIntersection
    );
}

#[test]
fn self_intersection_is_reported_before_area() {
    // A tiny bowtie: crossing is the more useful message than "too small".
    let tiny_bowtie = "POLYGON((0 0, 0.0001 0.0001, 0.0001 0, 0 0.0001, 0 0))";
    assert_eq!(
        reason_of(FieldGeometry::from_wkt(tiny_bowtie)),
        InvalidReason::SelfIntersection
    );
}

#[test]
fn too_small() {
    // About 22.4 m × 22.4 m = 0.05 ha.
    let error =
        FieldGeometry::from_geojson(&square_geojson(-49.3, -17.8, 22.36, true)).unwrap_err();
    assert_eq!(error.reason, InvalidReason::TooSmall);
    assert_eq!(error.message, "Area 0.05 ha is below the minimum of 0.1 ha");
    // 0.1 ha itself (31.63 m square) is accepted.
    let smallest = FieldGeometry::from_geojson(&square_geojson(-49.3, -17.8, 31.63, true)).unwrap();
    assert_eq!(smallest.area_ha(), 0.1);
}

#[test]
fn too_large() {
    // About 10.1 km square: 10 201 ha.
    let error =
        FieldGeometry::from_geojson(&square_geojson(-58.0, -13.5, 10_100.0, true)).unwrap_err();
    assert_eq!(error.reason, InvalidReason::TooLarge);
    assert!(
        error.message.ends_with("is above the maximum of 10000 ha"),
        "{}",
        error.message
    );
}

#[test]
fn from_multi_polygon_applies_the_same_rules() {
    let field = FieldGeometry::from_wkt(FIELD_WKT).unwrap();
    assert_eq!(
        FieldGeometry::from_multi_polygon(field.multi_polygon()).unwrap(),
        field
    );
    let bowtie = geo::MultiPolygon::new(vec![polygon![
        (x: 0., y: 0.), (x: 0.01, y: 0.01), (x: 0.01, y: 0.), (x: 0., y: 0.01)
    ]]);
    assert_eq!(
        reason_of(FieldGeometry::from_multi_polygon(&bowtie)),
        InvalidReason::SelfIntersection
    );
}

#[test]
fn error_displays_its_message() {
    let error = FieldGeometry::from_wkt("POINT(0 0)").unwrap_err();
    assert_eq!(error.to_string(), error.message);
    let _: &dyn std::error::Error = &error;
}
