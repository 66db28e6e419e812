//! GeoJSON: a FeatureCollection, a Feature, or a bare Polygon/MultiPolygon. Properties become
//! attributes (as text). The old `crs` member (GeoJSON 2008, still written by GDAL for other
//! CRSs) is honoured; without one, coordinates are lon/lat WGS84 (RFC 7946).

use serde_json::{Map, Value, json};
use vivacampo_raster::crs::Crs;

use crate::error::{Error, Result};
use crate::prj::crs_from_name;
use crate::{ExportField, RawFeature, RawGeometry};

const FORMAT: &str = "GeoJSON";

fn attribute_text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Positions in a geometry's coordinates (0 for anything that is not nested arrays).
fn positions(value: &Value) -> usize {
    match value {
        Value::Array(items) if items.first().is_some_and(Value::is_number) => 1,
        Value::Array(items) => items.iter().map(positions).sum(),
        _ => 0,
    }
}

/// Rewrites every position `[x, y, …]` to lon/lat `[lon, lat]`.
fn reproject(value: &mut Value, crs: &Crs) {
    if let Value::Array(items) = value {
        if let [Value::Number(x), Value::Number(y), ..] = items.as_slice()
            && let (Some(x), Some(y)) = (x.as_f64(), y.as_f64())
        {
            let (lon, lat) = crs.to_lonlat(x, y);
            *items = vec![json!(lon), json!(lat)];
            return;
        }
        for item in items {
            reproject(item, crs);
        }
    }
}

/// The CRS of the document's `crs` member, WGS84 without one.
fn document_crs(object: &Map<String, Value>) -> Result<Crs> {
    match object.get("crs") {
        None | Some(Value::Null) => Ok(Crs::LonLat { epsg: 4326 }),
        Some(crs) => {
            let name = crs
                .pointer("/properties/name")
                .and_then(Value::as_str)
                .ok_or_else(|| Error::UnsupportedCrs {
                    name: crs.to_string().chars().take(80).collect(),
                })?;
            crs_from_name(name)
        }
    }
}

/// Reads the features of a GeoJSON document and its CRS's EPSG code.
pub fn read(
    bytes: &[u8],
    max_features: usize,
    max_vertices: usize,
) -> Result<(Vec<RawFeature>, u32)> {
    let document: Value = serde_json::from_slice(bytes)
        .map_err(|e| Error::corrupt(FORMAT, format!("it is not valid JSON ({e})")))?;
    let object = document
        .as_object()
        .ok_or_else(|| Error::corrupt(FORMAT, "its top level is not an object"))?;
    let crs = document_crs(object)?;
    let items: Vec<&Value> = match object.get("type").and_then(Value::as_str) {
        Some("FeatureCollection") => object
            .get("features")
            .and_then(Value::as_array)
            .ok_or_else(|| Error::corrupt(FORMAT, "its FeatureCollection has no features array"))?
            .iter()
            .collect(),
        Some(_) => vec![&document],
        None => return Err(Error::corrupt(FORMAT, "its top level has no type")),
    };
    if items.len() > max_features {
        return Err(Error::TooManyFeatures {
            limit: max_features,
        });
    }
    let mut vertices = 0;
    let mut features = Vec::with_capacity(items.len());
    for (index, item) in items.into_iter().enumerate() {
        let is_feature = item.get("type").and_then(Value::as_str) == Some("Feature");
        let (geometry, properties) = if is_feature {
            (item.get("geometry"), item.get("properties"))
        } else {
            (Some(item), None)
        };
        let attributes = properties
            .and_then(Value::as_object)
            .map(|p| {
                p.iter()
                    .map(|(k, v)| (k.clone(), attribute_text(v)))
                    .collect()
            })
            .unwrap_or_default();
        let geometry = match geometry {
            None | Some(Value::Null) => RawGeometry::Missing,
            Some(g) => {
                vertices += g.get("coordinates").map_or(0, positions);
                if vertices > max_vertices {
                    return Err(Error::TooManyVertices {
                        limit: max_vertices,
                    });
                }
                let mut g = g.clone();
                if !matches!(crs, Crs::LonLat { .. })
                    && let Some(coordinates) = g.get_mut("coordinates")
                {
                    reproject(coordinates, &crs);
                }
                RawGeometry::GeoJson(g)
            }
        };
        features.push(RawFeature {
            index,
            label: None,
            attributes,
            geometry,
        });
    }
    Ok((features, crs.epsg()))
}

/// Writes fields as a FeatureCollection (RFC 7946: lon/lat WGS84, outer rings counter-clockwise).
pub fn write(fields: &[ExportField]) -> Vec<u8> {
    let features: Vec<Value> = fields
        .iter()
        .map(|f| {
            let polygons: Vec<Vec<Vec<[f64; 2]>>> = f
                .geometry
                .iter()
                .map(|p| {
                    std::iter::once(p.exterior())
                        .chain(p.interiors())
                        .map(|ring| ring.coords().map(|c| [c.x, c.y]).collect())
                        .collect()
                })
                .collect();
            json!({
                "type": "Feature",
                "id": f.id,
                "properties": {"id": f.id, "name": f.name, "use_type": f.use_type, "area_ha": f.area_ha},
                "geometry": {"type": "MultiPolygon", "coordinates": polygons},
            })
        })
        .collect();
    serde_json::to_vec(&json!({"type": "FeatureCollection", "features": features}))
        .expect("JSON values always serialise")
}
