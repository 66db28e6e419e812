//! KML: Placemarks with Polygons or MultiGeometries of them, at any depth of Documents and
//! Folders; names from `<name>`, attributes from `<ExtendedData>` (`Data`/`value` and
//! `SchemaData`/`SimpleData`). Altitudes are dropped. The writer puts each field in a Placemark
//! with a `Schema` of the export attributes, as GDAL writes KML.

use geo::Coord;
use quick_xml::events::Event;

use crate::error::{Error, Result};
use crate::{ExportField, RawFeature, RawGeometry};

const FORMAT: &str = "KML";
/// Deepest element nesting read.
const MAX_DEPTH: usize = 64;

#[derive(Default)]
struct Placemark {
    name: Option<String>,
    attributes: Vec<(String, String)>,
    polygons: Vec<Vec<Vec<Coord<f64>>>>,
    other: Option<&'static str>,
}

fn other_geometry(tag: &[u8]) -> Option<&'static str> {
    match tag {
        b"Point" => Some("Point"),
        b"LineString" => Some("LineString"),
        b"Model" => Some("Model"),
        b"Track" => Some("Track"),
        _ => None,
    }
}

/// `lon,lat[,alt]` tuples separated by white space; a broken tuple makes the ring empty of it.
fn coordinates(text: &str) -> std::result::Result<Vec<Coord<f64>>, ()> {
    text.split_ascii_whitespace()
        .map(|tuple| {
            let mut parts = tuple.split(',');
            let x = parts.next().and_then(|v| v.parse().ok()).ok_or(())?;
            let y = parts.next().and_then(|v| v.parse().ok()).ok_or(())?;
            Ok(Coord { x, y })
        })
        .collect()
}

fn entity(name: &str) -> Option<char> {
    match name {
        "amp" => Some('&'),
        "lt" => Some('<'),
        "gt" => Some('>'),
        "quot" => Some('"'),
        "apos" => Some('\''),
        _ => None,
    }
}

/// Reads the Placemarks of a KML document.
pub fn read(bytes: &[u8], max_features: usize, max_vertices: usize) -> Result<Vec<RawFeature>> {
    let mut reader = quick_xml::Reader::from_reader(bytes);
    let mut stack: Vec<Vec<u8>> = Vec::new();
    let mut text = String::new();
    let mut placemark: Option<Placemark> = None;
    let mut data_name: Option<String> = None;
    let mut ring_is_outer = false;
    let mut broken_coordinates = false;
    let mut features = Vec::new();
    let mut vertices = 0usize;
    let mut seen_kml = false;
    loop {
        let event = reader
            .read_event()
            .map_err(|e| Error::corrupt(FORMAT, format!("it is not well-formed XML ({e})")))?;
        match event {
            Event::Start(start) => {
                let tag = start.local_name().as_ref().to_vec();
                if stack.len() >= MAX_DEPTH {
                    return Err(Error::corrupt(FORMAT, "its elements nest too deeply"));
                }
                text.clear();
                seen_kml |= tag == b"kml";
                let name_attribute = || {
                    start
                        .attributes()
                        .flatten()
                        .find(|a| a.key.local_name().as_ref() == b"name")
                        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
                };
                match tag.as_slice() {
                    b"Placemark" => placemark = Some(Placemark::default()),
                    b"Data" | b"SimpleData" => data_name = name_attribute(),
                    b"Polygon" => {
                        if let Some(p) = placemark.as_mut() {
                            p.polygons.push(Vec::new());
                        }
                    }
                    b"outerBoundaryIs" => ring_is_outer = true,
                    b"innerBoundaryIs" => ring_is_outer = false,
                    other => {
                        if let (Some(p), Some(kind)) = (placemark.as_mut(), other_geometry(other)) {
                            p.other.get_or_insert(kind);
                        }
                    }
                }
                stack.push(tag);
            }
            Event::Empty(start) => {
                if let (Some(p), Some(kind)) = (
                    placemark.as_mut(),
                    other_geometry(start.local_name().as_ref()),
                ) {
                    p.other.get_or_insert(kind);
                }
            }
            Event::Text(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::CData(t) => text.push_str(&String::from_utf8_lossy(&t)),
            Event::GeneralRef(r) => {
                let resolved = if r.is_char_ref() {
                    r.resolve_char_ref().ok().flatten()
                } else {
                    entity(&String::from_utf8_lossy(&r))
                };
                text.extend(resolved);
            }
            Event::End(_) => {
                let Some(tag) = stack.pop() else {
                    return Err(Error::corrupt(FORMAT, "an element closes twice"));
                };
                let parent = stack.last().map(Vec::as_slice);
                if let Some(p) = placemark.as_mut() {
                    match tag.as_slice() {
                        b"name" if parent == Some(b"Placemark") => {
                            p.name = Some(text.trim().to_owned());
                        }
                        b"value" if parent == Some(b"Data") => {
                            if let Some(name) = data_name.take() {
                                p.attributes.push((name, text.trim().to_owned()));
                            }
                        }
                        b"SimpleData" => {
                            if let Some(name) = data_name.take() {
                                p.attributes.push((name, text.trim().to_owned()));
                            }
                        }
                        b"coordinates" if parent == Some(b"LinearRing") => {
                            let ring = match coordinates(&text) {
                                Ok(ring) => ring,
                                Err(()) => {
                                    broken_coordinates = true;
                                    Vec::new()
                                }
                            };
                            vertices += ring.len();
                            if vertices > max_vertices {
                                return Err(Error::TooManyVertices {
                                    limit: max_vertices,
                                });
                            }
                            if let Some(polygon) = p.polygons.last_mut() {
                                if ring_is_outer {
                                    polygon.insert(0, ring);
                                } else {
                                    polygon.push(ring);
                                }
                            }
                        }
                        b"Placemark" => {
                            let done = placemark.take().unwrap_or_default();
                            if features.len() == max_features {
                                return Err(Error::TooManyFeatures {
                                    limit: max_features,
                                });
                            }
                            features.push(finish(done, features.len(), broken_coordinates));
                            broken_coordinates = false;
                        }
                        _ => {}
                    }
                }
                text.clear();
            }
            Event::Eof => {
                if let Some(open) = stack.last() {
                    return Err(Error::corrupt(
                        FORMAT,
                        format!("it ends inside <{}>", String::from_utf8_lossy(open)),
                    ));
                }
                break;
            }
            _ => {}
        }
    }
    if !seen_kml {
        return Err(Error::corrupt(FORMAT, "it has no <kml> element"));
    }
    Ok(features)
}

/// A Placemark's `<name>` is also its attribute `name` (unless its data has one), so
/// `name_field=name` works for KML as for the other formats.
fn finish(mut p: Placemark, index: usize, broken_coordinates: bool) -> RawFeature {
    if let Some(name) = p.name.as_ref().filter(|n| !n.is_empty())
        && !p.attributes.iter().any(|(k, _)| k == "name")
    {
        p.attributes.insert(0, ("name".to_owned(), name.clone()));
    }
    let geometry = if broken_coordinates {
        RawGeometry::Malformed("A coordinate of the placemark is not a number pair lon,lat")
    } else if !p.polygons.is_empty() {
        RawGeometry::Polygons(p.polygons)
    } else if let Some(kind) = p.other {
        RawGeometry::NotArea(kind)
    } else {
        RawGeometry::Missing
    };
    RawFeature {
        index,
        label: p.name.filter(|n| !n.is_empty()),
        attributes: p.attributes,
        geometry,
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

fn ring_text(out: &mut String, ring: &geo::LineString<f64>) {
    for (i, c) in ring.coords().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&format!("{},{}", c.x, c.y));
    }
}

/// Writes fields as a KML document named `title`.
pub fn write(title: &str, fields: &[ExportField]) -> Vec<u8> {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str("<kml xmlns=\"http://www.opengis.net/kml/2.2\">\n<Document id=\"root_doc\">\n");
    out.push_str(&format!("<name>{}</name>\n", escape(title)));
    out.push_str(
        "<Schema name=\"fields\" id=\"fields\">\n\
         <SimpleField name=\"id\" type=\"string\"></SimpleField>\n\
         <SimpleField name=\"use_type\" type=\"string\"></SimpleField>\n\
         <SimpleField name=\"area_ha\" type=\"float\"></SimpleField>\n\
         </Schema>\n<Folder><name>fields</name>\n",
    );
    for field in fields {
        out.push_str(&format!(
            "<Placemark>\n<name>{}</name>\n<ExtendedData><SchemaData schemaUrl=\"#fields\">\n\
             <SimpleData name=\"id\">{}</SimpleData>\n<SimpleData name=\"use_type\">{}</SimpleData>\n\
             <SimpleData name=\"area_ha\">{}</SimpleData>\n</SchemaData></ExtendedData>\n<MultiGeometry>",
            escape(&field.name),
            escape(&field.id),
            escape(&field.use_type),
            field.area_ha
        ));
        for polygon in &field.geometry {
            out.push_str("<Polygon><outerBoundaryIs><LinearRing><coordinates>");
            ring_text(&mut out, polygon.exterior());
            out.push_str("</coordinates></LinearRing></outerBoundaryIs>");
            for hole in polygon.interiors() {
                out.push_str("<innerBoundaryIs><LinearRing><coordinates>");
                ring_text(&mut out, hole);
                out.push_str("</coordinates></LinearRing></innerBoundaryIs>");
            }
            out.push_str("</Polygon>");
        }
        out.push_str("</MultiGeometry>\n</Placemark>\n");
    }
    out.push_str("</Folder>\n</Document>\n</kml>\n");
    out.into_bytes()
}
