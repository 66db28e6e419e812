//! The `self_intersection` rules (listed in the module docs of [`super`]).
//!
//! All edges of all rings go into one R-tree; each edge is tested with exact predicates
//! (`geo::line_intersection`, built on robust `orient2d`) against the edges whose bounding boxes
//! meet its own. With no contact found between rings, containment questions (hole inside the
//! outer ring, polygon inside another) are answered by testing a single vertex, since no vertex
//! can lie on another ring. Pairs of polygons that touch at points fall back to `geo`'s DE-9IM
//! `Relate`, which settles whether their interiors overlap.

use super::{GeometryError, InvalidReason, RingName, capitalised};
use geo::coordinate_position::CoordPos;
use geo::dimensions::Dimensions;
use geo::kernels::{Kernel, Orientation, RobustKernel};
use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{BoundingRect, Coord, Line, Polygon, Rect, Relate};
use rstar::primitives::GeomWithData;
use rstar::{RTree, RTreeObject};
use std::collections::BTreeSet;

/// Where an edge sits: polygon, ring within it (0 = outer), edge within the ring.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct EdgeId {
    polygon: usize,
    ring: usize,
    edge: usize,
}

type IndexedEdge = GeomWithData<Line<f64>, EdgeId>;

/// Checks the topology rules. Expects closed rings of at least 4 positions without consecutive
/// duplicates and with finite coordinates.
pub(super) fn check_simple(polygons: &[Polygon<f64>]) -> Result<(), GeometryError> {
    let multi = polygons.len() > 1;
    let touching_polygons = check_edge_contacts(polygons, multi)?;
    for (polygon_index, polygon) in polygons.iter().enumerate() {
        check_holes_placement(polygon, polygon_index, multi)?;
    }
    check_polygons_disjoint(polygons, &touching_polygons)
}

fn rings(polygon: &Polygon<f64>) -> impl Iterator<Item = &[Coord<f64>]> {
    std::iter::once(polygon.exterior())
        .chain(polygon.interiors())
        .map(|ring| ring.0.as_slice())
}

fn self_intersection(message: String, at: Coord<f64>) -> GeometryError {
    GeometryError::new(
        InvalidReason::SelfIntersection,
        format!("{message} near ({:.6}, {:.6})", at.x, at.y),
    )
}

/// Finds every contact between two edges and applies the rules. Returns the pairs of polygons
/// (lower index first) that touch only at points, for [`check_polygons_disjoint`].
fn check_edge_contacts(
    polygons: &[Polygon<f64>],
    multi: bool,
) -> Result<BTreeSet<(usize, usize)>, GeometryError> {
    let mut edges: Vec<IndexedEdge> = Vec::new();
    for (polygon, rings_of_polygon) in polygons.iter().map(rings).enumerate() {
        for (ring, positions) in rings_of_polygon.enumerate() {
            for (edge, pair) in positions.windows(2).enumerate() {
                let id = EdgeId {
                    polygon,
                    ring,
                    edge,
                };
                edges.push(GeomWithData::new(Line::new(pair[0], pair[1]), id));
            }
        }
    }
    let ring_edge_count = |id: EdgeId| -> usize {
        let polygon = &polygons[id.polygon];
        let ring = match id.ring {
            0 => polygon.exterior(),
            hole => &polygon.interiors()[hole - 1],
        };
        ring.0.len() - 1
    };
    let name = |id: EdgeId| RingName {
        polygon: id.polygon,
        ring: id.ring,
        multi,
    };

    let mut touching_polygons = BTreeSet::new();
    let tree = RTree::bulk_load(edges.clone());
    for first in &edges {
        for second in tree.locate_in_envelope_intersecting(&first.envelope()) {
            let (a, b) = (first.data, second.data);
            // Each unordered pair once, and never an edge with itself.
            if b <= a {
                continue;
            }
            let Some(contact) = line_intersection(*first.geom(), *second.geom()) else {
                continue;
            };
            let (at, along_a_line, crossing) = match contact {
                LineIntersection::SinglePoint {
                    intersection,
                    is_proper,
                } => (intersection, false, is_proper),
                LineIntersection::Collinear { intersection } => (intersection.start, true, false),
            };
            if a.polygon == b.polygon && a.ring == b.ring {
                let edges_in_ring = ring_edge_count(a);
                let neighbours =
                    b.edge == a.edge + 1 || (a.edge == 0 && b.edge == edges_in_ring - 1);
                // Neighbouring edges always share their common vertex; they fail only when
                // they run back over each other (a spike).
                if neighbours && !along_a_line {
                    continue;
                }
                return Err(self_intersection(
                    format!(
                        "{} crosses or touches itself",
                        capitalised(&name(a).to_string())
                    ),
                    at,
                ));
            }
            if a.polygon == b.polygon {
                return Err(self_intersection(
                    format!(
                        "{} and {} cross or touch",
                        capitalised(&name(a).to_string()),
                        name(b)
                    ),
                    at,
                ));
            }
            if along_a_line || crossing {
                return Err(self_intersection(
                    format!(
                        "Polygons {} and {} of the MultiPolygon overlap or share an edge",
                        a.polygon + 1,
                        b.polygon + 1
                    ),
                    at,
                ));
            }
            touching_polygons.insert((a.polygon, b.polygon));
        }
    }
    Ok(touching_polygons)
}

/// Every hole inside the outer ring, none inside another hole. Rings of one polygon are known
/// not to touch, so one vertex of a ring tells on which side of another ring it lies.
fn check_holes_placement(
    polygon: &Polygon<f64>,
    polygon_index: usize,
    multi: bool,
) -> Result<(), GeometryError> {
    let name = |ring| RingName {
        polygon: polygon_index,
        ring,
        multi,
    };
    let exterior = &polygon.exterior().0;
    for (hole_index, hole) in polygon.interiors().iter().enumerate() {
        if !ring_contains(exterior, hole.0[0]) {
            return Err(self_intersection(
                format!(
                    "{} lies outside {}",
                    capitalised(&name(hole_index + 1).to_string()),
                    name(0)
                ),
                hole.0[0],
            ));
        }
    }
    let hole_boxes: Vec<Rect<f64>> = polygon
        .interiors()
        .iter()
        .map(|hole| hole.bounding_rect().expect("a checked ring has positions"))
        .collect();
    for (outer_index, outer) in polygon.interiors().iter().enumerate() {
        for (inner_index, inner) in polygon.interiors().iter().enumerate() {
            if outer_index != inner_index
                && rect_contains(hole_boxes[outer_index], hole_boxes[inner_index])
                && ring_contains(&outer.0, inner.0[0])
            {
                return Err(self_intersection(
                    format!(
                        "{} lies inside {}",
                        capitalised(&name(inner_index + 1).to_string()),
                        name(outer_index + 1)
                    ),
                    inner.0[0],
                ));
            }
        }
    }
    Ok(())
}

/// Polygons of a MultiPolygon must not overlap. Boundaries that cross or share an edge were
/// refused already, so a pair that does not touch overlaps only if one contains a vertex of the
/// other; a pair that touches at points is settled by DE-9IM.
fn check_polygons_disjoint(
    polygons: &[Polygon<f64>],
    touching_polygons: &BTreeSet<(usize, usize)>,
) -> Result<(), GeometryError> {
    let boxes: Vec<Rect<f64>> = polygons
        .iter()
        .map(|polygon| {
            polygon
                .bounding_rect()
                .expect("a checked polygon has positions")
        })
        .collect();
    for (first, first_polygon) in polygons.iter().enumerate() {
        for (second, second_polygon) in polygons.iter().enumerate().skip(first + 1) {
            if !rects_meet(boxes[first], boxes[second]) {
                continue;
            }
            let overlap = if touching_polygons.contains(&(first, second)) {
                interiors_meet(first_polygon, second_polygon)
            } else {
                polygon_contains(first_polygon, second_polygon.exterior().0[0])
                    || polygon_contains(second_polygon, first_polygon.exterior().0[0])
            };
            if overlap {
                return Err(GeometryError::new(
                    InvalidReason::SelfIntersection,
                    format!(
                        "Polygons {} and {} of the MultiPolygon overlap",
                        first + 1,
                        second + 1
                    ),
                ));
            }
        }
    }
    Ok(())
}

fn interiors_meet(first: &Polygon<f64>, second: &Polygon<f64>) -> bool {
    first.relate(second).get(CoordPos::Inside, CoordPos::Inside) != Dimensions::Empty
}

/// Whether `point`, known not to lie on any ring of `polygon`, is inside it.
fn polygon_contains(polygon: &Polygon<f64>, point: Coord<f64>) -> bool {
    ring_contains(&polygon.exterior().0, point)
        && !polygon
            .interiors()
            .iter()
            .any(|hole| ring_contains(&hole.0, point))
}

/// Even-odd rule on a closed ring, with exact orientation tests. `point` must not lie on the
/// ring (callers know it does not), so no boundary case arises.
fn ring_contains(ring: &[Coord<f64>], point: Coord<f64>) -> bool {
    let mut inside = false;
    for edge in ring.windows(2) {
        let (start, end) = (edge[0], edge[1]);
        if (start.y > point.y) != (end.y > point.y) {
            // The edge straddles the horizontal through `point`; count it when it passes to the
            // right of `point`, i.e. `point` is left of an upward edge or right of a downward one.
            let side = RobustKernel::orient2d(start, end, point);
            let right_of_point = if end.y > start.y {
                side == Orientation::CounterClockwise
            } else {
                side == Orientation::Clockwise
            };
            if right_of_point {
                inside = !inside;
            }
        }
    }
    inside
}

fn rect_contains(outer: Rect<f64>, inner: Rect<f64>) -> bool {
    outer.min().x <= inner.min().x
        && outer.min().y <= inner.min().y
        && outer.max().x >= inner.max().x
        && outer.max().y >= inner.max().y
}

fn rects_meet(a: Rect<f64>, b: Rect<f64>) -> bool {
    a.min().x <= b.max().x
        && b.min().x <= a.max().x
        && a.min().y <= b.max().y
        && b.min().y <= a.max().y
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{LineString, polygon};

    fn square(x: f64, y: f64, side: f64) -> Vec<Coord<f64>> {
        vec![
            Coord { x, y },
            Coord { x: x + side, y },
            Coord {
                x: x + side,
                y: y + side,
            },
            Coord { x, y: y + side },
            Coord { x, y },
        ]
    }

    fn polygon_of(exterior: Vec<Coord<f64>>, holes: Vec<Vec<Coord<f64>>>) -> Polygon<f64> {
        Polygon::new(
            LineString::new(exterior),
            holes.into_iter().map(LineString::new).collect(),
        )
    }

    fn message_of(polygons: &[Polygon<f64>]) -> String {
        let error = check_simple(polygons).unwrap_err();
        assert_eq!(error.reason, InvalidReason::SelfIntersection);
        error.message
    }

    #[test]
    fn simple_polygon_with_hole_passes() {
        let field = polygon_of(square(0.0, 0.0, 10.0), vec![square(2.0, 2.0, 3.0)]);
        check_simple(&[field]).unwrap();
    }

    #[test]
    fn collinear_vertex_is_not_a_spike() {
        let field = polygon![(x: 0., y: 0.), (x: 1., y: 0.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 0., y: 2.)];
        check_simple(&[field]).unwrap();
    }

    #[test]
    fn bowtie_crosses_itself() {
        let bowtie = polygon![(x: 0., y: 0.), (x: 2., y: 2.), (x: 2., y: 0.), (x: 0., y: 2.)];
        let message = message_of(&[bowtie]);
        assert_eq!(
            message,
            "The outer ring crosses or touches itself near (1.000000, 1.000000)"
        );
    }

    #[test]
    fn spike_back_along_an_edge_touches_itself() {
        let spike = polygon![(x: 0., y: 0.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 2., y: 3.), (x: 2., y: 2.5), (x: 0., y: 2.)];
        message_of(&[spike]);
        // The spike may also sit at the closing vertex.
        let closing_spike = polygon![(x: 0., y: 0.), (x: 3., y: 0.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 0., y: 2.)];
        message_of(&[closing_spike]);
    }

    #[test]
    fn ring_through_the_same_vertex_twice_touches_itself() {
        let figure_eight = polygon![(x: 0., y: 0.), (x: 1., y: 1.), (x: 2., y: 0.), (x: 2., y: 2.), (x: 1., y: 1.), (x: 0., y: 2.)];
        message_of(&[figure_eight]);
    }

    #[test]
    fn vertex_on_another_edge_of_the_same_ring_touches_itself() {
        let pinched = polygon![(x: 0., y: 0.), (x: 4., y: 0.), (x: 4., y: 4.), (x: 2., y: 0.), (x: 0., y: 4.)];
        message_of(&[pinched]);
    }

    #[test]
    fn hole_crossing_touching_or_outside_the_outer_ring_fails() {
        let crossing = polygon_of(square(0.0, 0.0, 10.0), vec![square(8.0, 2.0, 4.0)]);
        assert!(message_of(&[crossing]).starts_with("The outer ring and hole 1 cross or touch"));
        let touching = polygon_of(square(0.0, 0.0, 10.0), vec![square(0.0, 2.0, 4.0)]);
        message_of(&[touching]);
        let outside = polygon_of(square(0.0, 0.0, 10.0), vec![square(20.0, 2.0, 4.0)]);
        assert!(message_of(&[outside]).starts_with("Hole 1 lies outside the outer ring"));
    }

    #[test]
    fn holes_crossing_or_nested_fail() {
        let crossing = polygon_of(
            square(0.0, 0.0, 10.0),
            vec![square(1.0, 1.0, 4.0), square(3.0, 3.0, 4.0)],
        );
        assert!(message_of(&[crossing]).starts_with("Hole 1 and hole 2 cross or touch"));
        let nested = polygon_of(
            square(0.0, 0.0, 10.0),
            vec![square(1.0, 1.0, 8.0), square(3.0, 3.0, 2.0)],
        );
        assert!(message_of(&[nested]).starts_with("Hole 2 lies inside hole 1"));
    }

    #[test]
    fn multipolygon_overlap_rules() {
        let a = polygon_of(square(0.0, 0.0, 10.0), vec![]);
        let overlapping = polygon_of(square(5.0, 5.0, 10.0), vec![]);
        assert!(message_of(&[a.clone(), overlapping]).starts_with("Polygons 1 and 2"));
        let inside = polygon_of(square(2.0, 2.0, 2.0), vec![]);
        assert_eq!(
            message_of(&[a.clone(), inside.clone()]),
            "Polygons 1 and 2 of the MultiPolygon overlap"
        );
        assert_eq!(
            message_of(&[inside, a.clone()]),
            "Polygons 1 and 2 of the MultiPolygon overlap"
        );
        let sharing_an_edge = polygon_of(square(10.0, 0.0, 10.0), vec![]);
        message_of(&[a.clone(), sharing_an_edge]);
        let meeting_at_a_corner = polygon_of(square(10.0, 10.0, 10.0), vec![]);
        check_simple(&[a.clone(), meeting_at_a_corner]).unwrap();
        let apart = polygon_of(square(30.0, 0.0, 10.0), vec![]);
        check_simple(&[a, apart]).unwrap();
    }

    #[test]
    fn polygon_inside_a_hole_of_another_is_allowed() {
        let with_hole = polygon_of(square(0.0, 0.0, 10.0), vec![square(2.0, 2.0, 6.0)]);
        let island = polygon_of(square(4.0, 4.0, 2.0), vec![]);
        check_simple(&[with_hole.clone(), island]).unwrap();
        // An island touching the hole's edge at one vertex: settled by DE-9IM.
        let touching_island = polygon![(x: 2., y: 5.), (x: 4., y: 4.), (x: 4., y: 6.)];
        check_simple(&[with_hole, touching_island]).unwrap();
    }

    #[test]
    fn polygons_touching_at_a_vertex_but_overlapping_fail() {
        // Diamond whose corners all touch the square's edges: no edge crosses, yet it lies
        // inside the square.
        let a = polygon_of(square(0.0, 0.0, 4.0), vec![]);
        let diamond = polygon![(x: 2., y: 0.), (x: 4., y: 2.), (x: 2., y: 4.), (x: 0., y: 2.)];
        assert_eq!(
            message_of(&[a, diamond]),
            "Polygons 1 and 2 of the MultiPolygon overlap"
        );
    }

    #[test]
    fn ring_contains_is_exact_near_edges() {
        let ring = square(0.0, 0.0, 1.0);
        assert!(ring_contains(&ring, Coord { x: 0.5, y: 0.5 }));
        assert!(ring_contains(&ring, Coord { x: 1e-300, y: 0.5 }));
        assert!(!ring_contains(&ring, Coord { x: -1e-300, y: 0.5 }));
        assert!(!ring_contains(&ring, Coord { x: 2.0, y: 0.5 }));
    }
}
