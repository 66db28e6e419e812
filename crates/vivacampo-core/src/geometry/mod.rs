//! Field geometry: parsing, validation, normalisation and geodesic area of a field (AOI).
//!
//! A field arrives as GeoJSON (`Polygon`, `MultiPolygon`, or a `Feature` holding one of them) or,
//! from clients of the older API, as WKT (`POLYGON` / `MULTIPOLYGON`), always lon/lat WGS84.
//! [`FieldGeometry`] is the only way to hold one: constructing it validates, and a value that
//! exists is valid, normalised and has its area computed.
//!
//! # Check order
//!
//! Checks run in this fixed order and the first failure is reported, so the same input always
//! gets the same [`InvalidReason`]. Cheap, linear checks come first; the vertex limit comes before
//! any super-linear work so that a hostile input with a million vertices is turned away quickly.
//!
//! 1. `not_polygonal`: the input is not a Polygon/MultiPolygon (Point, LineString,
//!    GeometryCollection, unknown type), is malformed (bad WKT, a position that is not an array
//!    of at least two numbers), or WKT nests parentheses deeper than a MULTIPOLYGON can.
//! 2. `empty`: no coordinates at all, or a member polygon without rings.
//! 3. `too_many_vertices`: more than [`MAX_VERTICES`] vertices in total (the closing position of
//!    each ring is not counted).
//! 4. `out_of_range`: a non-finite coordinate, lon ∉ [-180, 180] or lat ∉ [-90, 90]; also an edge
//!    spanning more than 180° of longitude (a field drawn across the antimeridian must be split
//!    there into a MultiPolygon, as RFC 7946 asks).
//! 5. `unclosed_ring`, then `too_few_points`, ring by ring in input order. Consecutive duplicate
//!    positions are dropped first, so a ring needs 3 distinct corners plus the closing position.
//! 6. `self_intersection`: see *Topology rules* below.
//! 7. `too_small` / `too_large`: the geodesic area, rounded to 2 decimals as it is reported,
//!    must lie within [[`MIN_AREA_HA`], [`MAX_AREA_HA`]].
//!
//! # Topology rules (`self_intersection`)
//!
//! - A ring must not cross or touch itself; a collinear spike (the ring going back along its own
//!   edge) counts as touching.
//! - Within one polygon, rings must not cross or touch each other, every hole lies inside the
//!   outer ring, and no hole lies inside another hole. This is stricter than OGC, which lets rings
//!   touch at single points: such contacts can split a field's interior in two, and a field that
//!   needs one can always be drawn without it.
//! - Polygons of a MultiPolygon must not overlap, cross or share an edge; touching at single
//!   points is allowed (as in OGC), e.g. two plots meeting at a corner.
//!
//! The check indexes all edges in an R-tree and tests only edges whose bounding boxes meet, so
//! a typical 10 000-vertex field validates in milliseconds.
//!
//! # Normalisation
//!
//! The stored form is always a [`geo::MultiPolygon`]: consecutive duplicate positions removed,
//! rings closed, outer rings counter-clockwise and holes clockwise (RFC 7946), altitude dropped.

mod parse;
mod topology;

use geo::orient::{Direction, Orient};
use geo::{BoundingRect, Coord, GeodesicArea, LineString, MultiPolygon, Polygon};
use serde_json::{Value, json};

/// Most vertices a field may have, over all its rings (closing positions not counted).
pub const MAX_VERTICES: usize = 10_000;
/// Smallest field area accepted, in hectares.
pub const MIN_AREA_HA: f64 = 0.1;
/// Largest field area accepted, in hectares.
pub const MAX_AREA_HA: f64 = 10_000.0;

// The limits above in hundredths of a hectare, the unit areas are rounded to.
const MIN_AREA_HUNDREDTHS: f64 = 10.0;
const MAX_AREA_HUNDREDTHS: f64 = 1_000_000.0;

/// A validated, normalised field geometry in lon/lat WGS84, with its geodesic area.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldGeometry {
    polygons: MultiPolygon<f64>,
    area_ha: f64,
}

/// Why a geometry was refused: a machine-readable reason and a sentence a UI can show.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct GeometryError {
    pub reason: InvalidReason,
    pub message: String,
}

/// The reasons a field geometry is refused; [`InvalidReason::as_str`] gives the API's word.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum InvalidReason {
    NotPolygonal,
    UnclosedRing,
    TooFewPoints,
    SelfIntersection,
    OutOfRange,
    TooSmall,
    TooLarge,
    TooManyVertices,
    Empty,
}

impl InvalidReason {
    /// The word used in the API's `details.reason`.
    pub fn as_str(&self) -> &'static str {
        match self {
            InvalidReason::NotPolygonal => "not_polygonal",
            InvalidReason::UnclosedRing => "unclosed_ring",
            InvalidReason::TooFewPoints => "too_few_points",
            InvalidReason::SelfIntersection => "self_intersection",
            InvalidReason::OutOfRange => "out_of_range",
            InvalidReason::TooSmall => "too_small",
            InvalidReason::TooLarge => "too_large",
            InvalidReason::TooManyVertices => "too_many_vertices",
            InvalidReason::Empty => "empty",
        }
    }
}

impl std::fmt::Display for InvalidReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl GeometryError {
    pub(crate) fn new(reason: InvalidReason, message: impl Into<String>) -> Self {
        GeometryError {
            reason,
            message: message.into(),
        }
    }
}

/// Polygons as parsed, before any check: polygons → rings (outer first) → positions.
/// Rings keep their closing position, as written by the client.
pub(crate) type RawPolygons = Vec<Vec<Vec<Coord<f64>>>>;

impl FieldGeometry {
    /// Parses and validates a GeoJSON geometry object (`Polygon` or `MultiPolygon`), or a
    /// `Feature` whose geometry is one of them.
    pub fn from_geojson(value: &Value) -> Result<Self, GeometryError> {
        Self::from_raw(parse::geojson_polygons(value)?)
    }

    /// Parses and validates WKT text: `POLYGON` or `MULTIPOLYGON` (Z/M values are ignored).
    pub fn from_wkt(text: &str) -> Result<Self, GeometryError> {
        Self::from_raw(parse::wkt_polygons(text)?)
    }

    /// Validates a geometry that is already a `geo` value (e.g. read back as WKB).
    /// `geo` closes rings itself, so `unclosed_ring` cannot occur here.
    pub fn from_multi_polygon(polygons: &MultiPolygon<f64>) -> Result<Self, GeometryError> {
        let raw = polygons
            .iter()
            .map(|polygon| {
                std::iter::once(polygon.exterior())
                    .chain(polygon.interiors())
                    .map(|ring| ring.0.clone())
                    .collect()
            })
            .collect();
        Self::from_raw(raw)
    }

    /// Geodesic area on the WGS84 ellipsoid (Karney's algorithm), in hectares, rounded to
    /// 2 decimals.
    pub fn area_ha(&self) -> f64 {
        self.area_ha
    }

    /// `[min_lon, min_lat, max_lon, max_lat]`.
    pub fn bbox(&self) -> [f64; 4] {
        let rect = self
            .polygons
            .bounding_rect()
            .expect("a validated field has coordinates");
        [rect.min().x, rect.min().y, rect.max().x, rect.max().y]
    }

    /// The geometry as a GeoJSON `MultiPolygon` object, rings closed, outer rings
    /// counter-clockwise and holes clockwise.
    pub fn to_geojson(&self) -> Value {
        let ring_positions = |ring: &LineString<f64>| -> Vec<[f64; 2]> {
            ring.coords().map(|c| [c.x, c.y]).collect()
        };
        let polygons: Vec<Vec<Vec<[f64; 2]>>> = self
            .polygons
            .iter()
            .map(|polygon| {
                std::iter::once(polygon.exterior())
                    .chain(polygon.interiors())
                    .map(ring_positions)
                    .collect()
            })
            .collect();
        json!({ "type": "MultiPolygon", "coordinates": polygons })
    }

    /// The normalised geometry.
    pub fn multi_polygon(&self) -> &MultiPolygon<f64> {
        &self.polygons
    }

    /// Number of vertices over all rings, closing positions not counted.
    pub fn vertex_count(&self) -> usize {
        self.polygons
            .iter()
            .flat_map(|polygon| std::iter::once(polygon.exterior()).chain(polygon.interiors()))
            .map(|ring| ring.0.len() - 1)
            .sum()
    }

    /// Runs the checks in the documented order on parsed rings.
    fn from_raw(mut raw: RawPolygons) -> Result<Self, GeometryError> {
        let multi = raw.len() > 1;
        check_not_empty(&raw)?;
        check_vertex_count(&raw)?;
        check_coordinate_ranges(&raw)?;
        for (polygon_index, rings) in raw.iter_mut().enumerate() {
            for (ring_index, ring) in rings.iter_mut().enumerate() {
                let name = RingName {
                    polygon: polygon_index,
                    ring: ring_index,
                    multi,
                };
                check_closed(ring, name)?;
                ring.dedup();
                check_enough_points(ring, name)?;
            }
        }
        let polygons: Vec<Polygon<f64>> = raw
            .into_iter()
            .map(|rings| {
                let mut rings = rings.into_iter().map(LineString::new);
                let exterior = rings.next().expect("checked: every polygon has a ring");
                Polygon::new(exterior, rings.collect())
            })
            .collect();
        topology::check_simple(&polygons)?;
        let polygons = MultiPolygon::new(polygons).orient(Direction::Default);
        let area_hundredths = (polygons.geodesic_area_unsigned() / 100.0).round();
        let area_ha = area_hundredths / 100.0;
        if area_hundredths < MIN_AREA_HUNDREDTHS {
            return Err(GeometryError::new(
                InvalidReason::TooSmall,
                format!("Area {area_ha:.2} ha is below the minimum of {MIN_AREA_HA} ha"),
            ));
        }
        if area_hundredths > MAX_AREA_HUNDREDTHS {
            return Err(GeometryError::new(
                InvalidReason::TooLarge,
                format!("Area {area_ha:.2} ha is above the maximum of {MAX_AREA_HA} ha"),
            ));
        }
        Ok(FieldGeometry { polygons, area_ha })
    }
}

/// Names a ring in messages the way a user sees the field: "the outer ring", "hole 2 of
/// polygon 3". Indices are 0-based inside, 1-based in text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RingName {
    pub polygon: usize,
    pub ring: usize,
    /// Whether the field has several polygons, so the polygon needs naming too.
    pub multi: bool,
}

impl std::fmt::Display for RingName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.ring {
            0 => f.write_str("the outer ring")?,
            hole => write!(f, "hole {hole}")?,
        }
        if self.multi {
            write!(f, " of polygon {}", self.polygon + 1)?;
        }
        Ok(())
    }
}

/// "the outer ring" → "The outer ring", for the start of a sentence.
pub(crate) fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

fn check_not_empty(raw: &RawPolygons) -> Result<(), GeometryError> {
    let has_positions = raw.iter().flatten().any(|ring| !ring.is_empty());
    if !has_positions {
        return Err(GeometryError::new(
            InvalidReason::Empty,
            "Geometry has no coordinates",
        ));
    }
    if let Some(index) = raw.iter().position(|rings| rings.is_empty()) {
        return Err(GeometryError::new(
            InvalidReason::Empty,
            format!("Polygon {} of the MultiPolygon is empty", index + 1),
        ));
    }
    Ok(())
}

fn check_vertex_count(raw: &RawPolygons) -> Result<(), GeometryError> {
    let vertices: usize = raw
        .iter()
        .flatten()
        .map(|ring| ring.len().saturating_sub(1))
        .sum();
    if vertices > MAX_VERTICES {
        return Err(GeometryError::new(
            InvalidReason::TooManyVertices,
            format!("Geometry has {vertices} vertices; the maximum is {MAX_VERTICES}"),
        ));
    }
    Ok(())
}

fn check_coordinate_ranges(raw: &RawPolygons) -> Result<(), GeometryError> {
    for ring in raw.iter().flatten() {
        for position in ring {
            if !position.x.is_finite() || !position.y.is_finite() {
                return Err(GeometryError::new(
                    InvalidReason::OutOfRange,
                    "Coordinates must be finite numbers",
                ));
            }
            if !(-180.0..=180.0).contains(&position.x) || !(-90.0..=90.0).contains(&position.y) {
                return Err(GeometryError::new(
                    InvalidReason::OutOfRange,
                    format!(
                        "Position ({}, {}) is outside longitude -180..180 or latitude -90..90",
                        position.x, position.y
                    ),
                ));
            }
        }
        // Edges are straight lines in lon/lat (RFC 7946); one spanning over half the globe is
        // nearly always a field drawn across the antimeridian, whose geodesic area would be
        // computed the short way round while its outline goes the long way.
        if ring
            .windows(2)
            .any(|edge| (edge[1].x - edge[0].x).abs() > 180.0)
        {
            return Err(GeometryError::new(
                InvalidReason::OutOfRange,
                "Field crosses the 180° meridian; split it there into a MultiPolygon",
            ));
        }
    }
    Ok(())
}

fn check_closed(ring: &[Coord<f64>], name: RingName) -> Result<(), GeometryError> {
    if ring.first() != ring.last() {
        return Err(GeometryError::new(
            InvalidReason::UnclosedRing,
            format!(
                "{} is not closed: its last position must repeat the first",
                capitalised(&name.to_string())
            ),
        ));
    }
    Ok(())
}

/// Expects a closed ring with consecutive duplicates already removed.
fn check_enough_points(ring: &[Coord<f64>], name: RingName) -> Result<(), GeometryError> {
    if ring.len() < 4 {
        return Err(GeometryError::new(
            InvalidReason::TooFewPoints,
            format!(
                "{} has {} distinct points; a ring needs at least 3",
                capitalised(&name.to_string()),
                if ring.len() > 1 {
                    ring.len() - 1
                } else {
                    ring.len()
                }
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
