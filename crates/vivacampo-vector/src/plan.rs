//! What an import would do with each feature of a file, given the farm's fields: `ok`,
//! `invalid` (the reasons of `POST /v1/aois`, or `outside_farm_region`) or `duplicate`.
//!
//! - `duplicate`: the feature overlaps a field of the farm, or an earlier importable feature of
//!   the same file, by more than [`DUPLICATE_SHARE`] of the smaller of the two (planar overlap in
//!   lon/lat, which is exact enough for a share).
//! - `outside_farm_region`: its centroid is more than [`FARM_REGION_KM`] from the farm's centre
//!   (the median of its fields' centroids; with no fields yet, of the file's valid features),
//!   a sign of a wrong CRS or a feature from somewhere else.
//!
//! Duplicates and features outside the region are not imported by default, but may be chosen.

use geo::{Area, BooleanOps, BoundingRect, Centroid, MultiPolygon, Point};
use rstar::{AABB, RTree, RTreeObject};

use crate::Layer;

/// Overlap, as a share of the smaller area, above which a feature is a duplicate.
pub const DUPLICATE_SHARE: f64 = 0.5;
/// Distance from the farm's centre beyond which a feature is outside the farm's region.
pub const FARM_REGION_KM: f64 = 100.0;

/// An existing field of the farm.
#[derive(Debug, Clone)]
pub struct ExistingField {
    pub id: String,
    pub geometry: MultiPolygon<f64>,
}

/// The verdict on one feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Ok,
    Invalid,
    Duplicate,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Ok => "ok",
            Status::Invalid => "invalid",
            Status::Duplicate => "duplicate",
        }
    }
}

/// One feature's line in the plan.
#[derive(Debug, Clone)]
pub struct Planned {
    pub index: usize,
    pub name: String,
    pub status: Status,
    /// `None` for `ok`; a geometry reason, `duplicate` or `outside_farm_region`.
    pub reason: Option<&'static str>,
    pub message: Option<String>,
    /// The field (its id) or feature (`#index`) a duplicate overlaps.
    pub duplicate_of: Option<String>,
}

impl Planned {
    /// Whether the user may choose to import it: its geometry is a valid field.
    pub fn importable(&self) -> bool {
        self.status != Status::Invalid || self.reason == Some("outside_farm_region")
    }
}

struct Indexed {
    envelope: AABB<[f64; 2]>,
    slot: usize,
}

impl RTreeObject for Indexed {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.envelope
    }
}

fn envelope(geometry: &MultiPolygon<f64>) -> Option<AABB<[f64; 2]>> {
    let r = geometry.bounding_rect()?;
    Some(AABB::from_corners(
        [r.min().x, r.min().y],
        [r.max().x, r.max().y],
    ))
}

fn median(mut values: Vec<f64>) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    Some(values[values.len() / 2])
}

/// Great-circle distance in km.
fn distance_km(a: Point<f64>, b: Point<f64>) -> f64 {
    let (lat1, lat2) = (a.y().to_radians(), b.y().to_radians());
    let dlat = lat2 - lat1;
    let dlon = (b.x() - a.x()).to_radians();
    let h = (dlat / 2.0).sin().powi(2) + lat1.cos() * lat2.cos() * (dlon / 2.0).sin().powi(2);
    2.0 * 6371.0 * h.sqrt().asin()
}

/// Plans the import of every feature of `layer` into a farm holding `existing`.
pub fn plan(layer: &Layer, name_field: Option<&str>, existing: &[ExistingField]) -> Vec<Planned> {
    let centroid = |g: &MultiPolygon<f64>| g.centroid();
    let reference: Vec<Point<f64>> = if existing.is_empty() {
        layer
            .features
            .iter()
            .filter_map(|f| f.geometry.as_ref().ok())
            .filter_map(|g| centroid(g.multi_polygon()))
            .collect()
    } else {
        existing
            .iter()
            .filter_map(|f| centroid(&f.geometry))
            .collect()
    };
    let centre = median(reference.iter().map(|p| p.x()).collect())
        .zip(median(reference.iter().map(|p| p.y()).collect()))
        .map(|(x, y)| Point::new(x, y));

    // Slots: existing fields first, then importable features as they are accepted.
    let mut shapes: Vec<(MultiPolygon<f64>, f64, String)> = Vec::new();
    let mut tree = RTree::new();
    for field in existing {
        if let Some(envelope) = envelope(&field.geometry) {
            tree.insert(Indexed {
                envelope,
                slot: shapes.len(),
            });
            let area = field.geometry.unsigned_area();
            shapes.push((field.geometry.clone(), area, field.id.clone()));
        }
    }
    layer
        .features
        .iter()
        .map(|feature| {
            let name = layer.name_of(feature, name_field);
            let mut planned = Planned {
                index: feature.index,
                name,
                status: Status::Ok,
                reason: None,
                message: None,
                duplicate_of: None,
            };
            let field = match &feature.geometry {
                Ok(field) => field,
                Err(e) => {
                    planned.status = Status::Invalid;
                    planned.reason = Some(e.reason.as_str());
                    planned.message = Some(e.message.clone());
                    return planned;
                }
            };
            let geometry = field.multi_polygon();
            let area = geometry.unsigned_area();
            let envelope = envelope(geometry).expect("a valid field has coordinates");
            let duplicate = tree
                .locate_in_envelope_intersecting(&envelope)
                .map(|hit| &shapes[hit.slot])
                .find(|(other, other_area, _)| {
                    let overlap = geometry.intersection(other).unsigned_area();
                    overlap > DUPLICATE_SHARE * area.min(*other_area)
                })
                .map(|(_, _, id)| id.clone());
            if let Some(of) = duplicate {
                planned.status = Status::Duplicate;
                planned.reason = Some("duplicate");
                planned.message = Some(format!(
                    "It overlaps {} by more than half",
                    if of.starts_with('#') {
                        format!("feature {of}")
                    } else {
                        "a field of the farm".to_owned()
                    }
                ));
                planned.duplicate_of = Some(of);
                return planned;
            }
            if let (Some(centre), Some(c)) = (centre, centroid(geometry))
                && distance_km(centre, c) > FARM_REGION_KM
            {
                planned.status = Status::Invalid;
                planned.reason = Some("outside_farm_region");
                planned.message = Some(format!(
                    "It lies {:.0} km from the farm's other fields",
                    distance_km(centre, c)
                ));
                return planned;
            }
            tree.insert(Indexed {
                envelope,
                slot: shapes.len(),
            });
            shapes.push((geometry.clone(), area, format!("#{}", feature.index)));
            planned
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::read;

    fn feature(name: &str, lon: f64, lat: f64, size: f64) -> String {
        format!(
            r#"{{"type": "Feature", "properties": {{"name": "{name}"}}, "geometry": {{"type": "Polygon",
              "coordinates": [[[{lon}, {lat}], [{}, {lat}], [{}, {}], [{lon}, {}], [{lon}, {lat}]]]}}}}"#,
            lon + size,
            lon + size,
            lat + size,
            lat + size
        )
    }

    fn layer(features: &[String]) -> Layer {
        let doc = format!(
            r#"{{"type": "FeatureCollection", "features": [{}]}}"#,
            features.join(",")
        );
        read(doc.as_bytes(), None, &Default::default()).unwrap()
    }

    #[test]
    fn overlaps_with_the_farm_or_the_file_are_duplicates() {
        let layer = layer(&[
            feature("a", -50.0, -17.0, 0.01),
            feature("b", -50.002, -17.0, 0.01),
            feature("c", -50.02, -17.0, 0.01),
            feature("d", -50.0395, -17.0, 0.01),
            feature("bowtie", -50.0, -17.0, 0.0),
        ]);
        let existing = [ExistingField {
            id: "field-1".into(),
            geometry: layer.features[2]
                .geometry
                .as_ref()
                .unwrap()
                .multi_polygon()
                .clone(),
        }];
        let plan = plan(&layer, None, &existing);
        let verdicts: Vec<_> = plan
            .iter()
            .map(|p| (p.status, p.duplicate_of.as_deref()))
            .collect();
        assert_eq!(
            verdicts,
            [
                (Status::Ok, None),
                (Status::Duplicate, Some("#0")),
                (Status::Duplicate, Some("field-1")),
                (Status::Ok, None),
                (Status::Invalid, None),
            ]
        );
        assert_eq!(plan[4].reason, Some("too_few_points"));
        assert!(plan[1].importable() && !plan[4].importable());
    }

    #[test]
    fn a_feature_far_from_the_farm_is_outside_its_region() {
        let layer = layer(&[
            feature("a", -50.0, -17.0, 0.01),
            feature("b", -50.1, -17.0, 0.01),
            feature("far", -45.0, -17.0, 0.01),
        ]);
        let plan = plan(&layer, None, &[]);
        assert_eq!(plan[0].status, Status::Ok);
        assert_eq!(plan[1].status, Status::Ok);
        assert_eq!(plan[2].reason, Some("outside_farm_region"));
        assert_eq!(
            plan[2].message.as_deref(),
            Some("It lies 532 km from the farm's other fields")
        );
        assert!(plan[2].importable());
    }
}
