//! Property tests of field geometry: areas of generated fields against independent formulas,
//! invariance under orientation and translation, self-intersection verdicts against an
//! exact integer oracle, and no panics on arbitrary vertex lists.

use geo::GeodesicArea;
use proptest::prelude::*;
use serde_json::{Value, json};
use vivacampo_core::geometry::{FieldGeometry, InvalidReason};

// WGS84.
const SEMI_MAJOR_M: f64 = 6_378_137.0;
const FLATTENING: f64 = 1.0 / 298.257_223_563;

fn polygon_geojson(ring: &[[f64; 2]]) -> Value {
    json!({"type": "Polygon", "coordinates": [ring]})
}

fn wkt_of(ring: &[[f64; 2]]) -> String {
    if ring.is_empty() {
        return "POLYGON EMPTY".to_string();
    }
    let positions: Vec<String> = ring
        .iter()
        .map(|p| format!("{:?} {:?}", p[0], p[1]))
        .collect();
    format!("POLYGON(({}))", positions.join(", "))
}

fn closed(mut ring: Vec<[f64; 2]>) -> Vec<[f64; 2]> {
    ring.push(ring[0]);
    ring
}

/// Exact area on the ellipsoid between two parallels and two meridians (Lambert's authalic
/// latitude formula). A lon/lat rectangle's geodesic edges bend slightly off the parallels,
/// so for fields of a few km the two agree to well under 0.1 %.
fn ellipsoidal_quadrangle_m2(min_lon: f64, min_lat: f64, max_lon: f64, max_lat: f64) -> f64 {
    let e2 = FLATTENING * (2.0 - FLATTENING);
    let e = e2.sqrt();
    let b = SEMI_MAJOR_M * (1.0 - FLATTENING);
    let q = |lat_deg: f64| {
        let s = lat_deg.to_radians().sin();
        s / (1.0 - e2 * s * s) + (1.0 / (2.0 * e)) * ((1.0 + e * s) / (1.0 - e * s)).ln()
    };
    b * b / 2.0 * (max_lon - min_lon).to_radians() * (q(max_lat) - q(min_lat))
}

/// Metres per degree of latitude and of longitude at a latitude (meridian and prime-vertical
/// radii of curvature).
fn metres_per_degree(lat_deg: f64) -> (f64, f64) {
    let e2 = FLATTENING * (2.0 - FLATTENING);
    let s = lat_deg.to_radians().sin();
    let w = (1.0 - e2 * s * s).sqrt();
    let meridian = SEMI_MAJOR_M * (1.0 - e2) / (w * w * w);
    let prime_vertical = SEMI_MAJOR_M / w;
    (
        meridian.to_radians(),
        prime_vertical * lat_deg.to_radians().cos() * std::f64::consts::PI / 180.0,
    )
}

/// A star-shaped ring around (lon, lat): angles strictly increase, so it is simple; convex
/// when all radii are equal. Counter-clockwise, not closed.
fn star_ring(lon: f64, lat: f64, radii_m: &[f64], phase: f64) -> Vec<[f64; 2]> {
    let (m_per_deg_lat, m_per_deg_lon) = metres_per_degree(lat);
    let n = radii_m.len() as f64;
    radii_m
        .iter()
        .enumerate()
        .map(|(i, radius)| {
            let angle = phase + std::f64::consts::TAU * i as f64 / n;
            [
                lon + radius * angle.cos() / m_per_deg_lon,
                lat + radius * angle.sin() / m_per_deg_lat,
            ]
        })
        .collect()
}

/// Shoelace area of a ring in a local equirectangular projection around its first vertex.
fn local_planar_area_m2(ring: &[[f64; 2]]) -> f64 {
    let (m_per_deg_lat, m_per_deg_lon) = metres_per_degree(ring[0][1]);
    let projected: Vec<(f64, f64)> = ring
        .iter()
        .map(|p| {
            (
                (p[0] - ring[0][0]) * m_per_deg_lon,
                (p[1] - ring[0][1]) * m_per_deg_lat,
            )
        })
        .collect();
    let twice: f64 = projected
        .iter()
        .zip(projected.iter().cycle().skip(1))
        .map(|(a, b)| a.0 * b.1 - b.0 * a.1)
        .sum();
    twice.abs() / 2.0
}

fn unrounded_area_m2(field: &FieldGeometry) -> f64 {
    field.multi_polygon().geodesic_area_unsigned()
}

proptest! {
    // Failures print their shrunk input; proptest's regression files cannot be placed
    // automatically for an integration test (there is no lib.rs beside it).
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(200)
    })]

    #[test]
    fn lon_lat_rectangles_are_valid_with_the_ellipsoidal_area(
        min_lon in -179.0f64..179.0,
        min_lat in -70.0f64..70.0,
        width_m in 50.0f64..9_000.0,
        height_m in 50.0f64..9_000.0,
    ) {
        let (m_per_deg_lat, m_per_deg_lon) = metres_per_degree(min_lat);
        let max_lon = min_lon + width_m / m_per_deg_lon;
        let max_lat = min_lat + height_m / m_per_deg_lat;
        let ring = closed(vec![[min_lon, min_lat], [max_lon, min_lat], [max_lon, max_lat], [min_lon, max_lat]]);
        let field = FieldGeometry::from_geojson(&polygon_geojson(&ring)).unwrap();
        let expected_ha = ellipsoidal_quadrangle_m2(min_lon, min_lat, max_lon, max_lat) / 10_000.0;
        prop_assert!(
            (field.area_ha() - expected_ha).abs() <= 0.005 + expected_ha * 1e-3,
            "{} ha vs {expected_ha} ha", field.area_ha()
        );
        prop_assert_eq!(field.bbox(), [min_lon, min_lat, max_lon, max_lat]);
    }

    #[test]
    fn convex_polygons_are_valid_and_orientation_does_not_change_their_area(
        lon in -179.0f64..179.0,
        lat in -70.0f64..70.0,
        radius_m in 100.0f64..4_000.0,
        vertices in 3usize..64,
        phase in 0.0f64..std::f64::consts::TAU,
    ) {
        let ring = closed(star_ring(lon, lat, &vec![radius_m; vertices], phase));
        let field = FieldGeometry::from_wkt(&wkt_of(&ring)).unwrap();
        let planar_m2 = local_planar_area_m2(&ring);
        let area_m2 = unrounded_area_m2(&field);
        prop_assert!((area_m2 - planar_m2).abs() <= planar_m2 * 5e-3, "{area_m2} vs {planar_m2}");

        let reversed: Vec<[f64; 2]> = ring.iter().rev().copied().collect();
        let field_reversed = FieldGeometry::from_geojson(&polygon_geojson(&reversed)).unwrap();
        prop_assert!((unrounded_area_m2(&field_reversed) - area_m2).abs() <= area_m2 * 1e-12);
        prop_assert!((field_reversed.area_ha() - field.area_ha()).abs() <= 0.01);
    }

    #[test]
    fn translating_a_simple_polygon_keeps_it_valid(
        radii_m in prop::collection::vec(200.0f64..1_500.0, 3..80),
        phase in 0.0f64..std::f64::consts::TAU,
        lon in -170.0f64..170.0,
        lat in -60.0f64..60.0,
        shift_lon in -5.0f64..5.0,
        shift_lat in -5.0f64..5.0,
    ) {
        let ring = closed(star_ring(lon, lat, &radii_m, phase));
        let field = FieldGeometry::from_geojson(&polygon_geojson(&ring)).unwrap();
        let moved: Vec<[f64; 2]> = ring.iter().map(|p| [p[0] + shift_lon, p[1] + shift_lat]).collect();
        let moved_field = FieldGeometry::from_geojson(&polygon_geojson(&moved)).unwrap();
        prop_assert_eq!(moved_field.vertex_count(), field.vertex_count());
    }

    #[test]
    fn lattice_rings_match_an_exact_integer_oracle(
        corners in prop::collection::vec((0i64..7, 0i64..7), 3..12),
    ) {
        let ring: Vec<(i64, i64)> = corners.iter().copied().chain(std::iter::once(corners[0])).collect();
        let positions: Vec<[f64; 2]> = ring.iter().map(|&p| lattice_to_lon_lat(p)).collect();
        let outcome = FieldGeometry::from_geojson(&polygon_geojson(&positions)).map_err(|e| e.reason);
        prop_assert_eq!(outcome.map(|_| ()), expected_lattice_outcome(&ring));
    }

    #[test]
    fn arbitrary_vertex_lists_never_panic(
        points in prop::collection::vec(
            prop_oneof![
                (any::<f64>(), any::<f64>()),
                (-3i32..3, -3i32..3).prop_map(|(x, y)| (f64::from(x) * 1e-3, f64::from(y) * 1e-3)),
                (-180.0f64..180.0, -90.0f64..90.0),
            ],
            0..24,
        ),
        close in any::<bool>(),
    ) {
        let mut ring: Vec<[f64; 2]> = points.iter().map(|&(x, y)| [x, y]).collect();
        if close && !ring.is_empty() {
            ring.push(ring[0]);
        }
        let from_wkt = FieldGeometry::from_wkt(&wkt_of(&ring));
        let from_geojson = FieldGeometry::from_geojson(&polygon_geojson(&ring));
        // JSON has no NaN or infinity, so only finite input reads the same in both formats.
        if ring.iter().flatten().all(|c| c.is_finite()) {
            prop_assert_eq!(
                from_wkt.clone().map_err(|e| e.reason),
                from_geojson.clone().map_err(|e| e.reason)
            );
        }
        for field in [from_wkt, from_geojson].into_iter().flatten() {
            prop_assert!((0.1..=10_000.0).contains(&field.area_ha()));
            let again = FieldGeometry::from_geojson(&field.to_geojson()).unwrap();
            prop_assert_eq!(again, field);
        }
    }
}

/// Lattice step 1/512° is exact in binary, so collinear lattice points stay exactly collinear
/// as floating-point lon/lat. Smallest lattice triangle ≈ 2 ha, largest ring ≈ 50 ha: never
/// too small or too large.
fn lattice_to_lon_lat((x, y): (i64, i64)) -> [f64; 2] {
    [-50.0 + x as f64 / 512.0, -15.0 + y as f64 / 512.0]
}

/// The expected verdict for a closed lattice ring, by exact integer arithmetic.
fn expected_lattice_outcome(ring: &[(i64, i64)]) -> Result<(), InvalidReason> {
    let mut ring = ring.to_vec();
    ring.dedup();
    if ring.len() < 4 {
        return Err(InvalidReason::TooFewPoints);
    }
    let edges: Vec<((i64, i64), (i64, i64))> = ring.windows(2).map(|w| (w[0], w[1])).collect();
    let n = edges.len();
    for i in 0..n {
        for j in i + 1..n {
            let neighbours = j == i + 1 || (i == 0 && j == n - 1);
            let (a, b) = edges[i];
            let (c, d) = edges[j];
            let bad = if neighbours {
                // Shared vertex; fails only when the ring folds back along itself.
                let (p, q, r) = if j == i + 1 { (a, b, d) } else { (c, d, b) };
                cross(p, q, r) == 0 && dot((q.0 - p.0, q.1 - p.1), (r.0 - q.0, r.1 - q.1)) < 0
            } else {
                segments_meet(a, b, c, d)
            };
            if bad {
                return Err(InvalidReason::SelfIntersection);
            }
        }
    }
    Ok(())
}

fn cross(o: (i64, i64), a: (i64, i64), b: (i64, i64)) -> i64 {
    (a.0 - o.0) * (b.1 - o.1) - (a.1 - o.1) * (b.0 - o.0)
}

fn dot(u: (i64, i64), v: (i64, i64)) -> i64 {
    u.0 * v.0 + u.1 * v.1
}

fn on_segment(a: (i64, i64), b: (i64, i64), p: (i64, i64)) -> bool {
    cross(a, b, p) == 0
        && a.0.min(b.0) <= p.0
        && p.0 <= a.0.max(b.0)
        && a.1.min(b.1) <= p.1
        && p.1 <= a.1.max(b.1)
}

/// Closed segments ab and cd share at least one point.
fn segments_meet(a: (i64, i64), b: (i64, i64), c: (i64, i64), d: (i64, i64)) -> bool {
    let (d1, d2) = (cross(a, b, c).signum(), cross(a, b, d).signum());
    let (d3, d4) = (cross(c, d, a).signum(), cross(c, d, b).signum());
    (d1 * d2 < 0 && d3 * d4 < 0)
        || on_segment(a, b, c)
        || on_segment(a, b, d)
        || on_segment(c, d, a)
        || on_segment(c, d, b)
}

#[test]
fn ten_thousand_vertex_field_validates() {
    // A 10 000-vertex irregular outline of about 300 ha.
    let radii: Vec<f64> = (0..10_000)
        .map(|i| 1_000.0 + 150.0 * ((i as f64) * 0.37).sin() + 40.0 * ((i as f64) * 5.1).cos())
        .collect();
    let ring = closed(star_ring(-55.7, -12.5, &radii, 0.0));
    let geojson = polygon_geojson(&ring);
    let field = FieldGeometry::from_geojson(&geojson).unwrap();
    assert_eq!(field.vertex_count(), 10_000);
    // How fast: `cargo bench -p vivacampo-core` (benches/geometry.rs), not a limit here.
}
