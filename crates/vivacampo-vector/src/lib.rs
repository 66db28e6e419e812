//! Field boundary files in and out: GeoJSON, KML, KMZ and zipped Shapefiles (CAR/SICAR exports
//! included). Bytes in, bytes out; nothing here does I/O.
//!
//! [`read`] turns an uploaded file into a [`Layer`] of [`Feature`]s, each with its attributes and
//! either a validated [`FieldGeometry`] (lon/lat WGS84) or the [`GeometryError`] a field of that
//! shape would get from `POST /v1/aois`. A problem of one feature never fails the file; a file
//! that cannot be read as a whole gives an [`Error`] whose [`Error::reason`] names why.
//!
//! Limits ([`Limits`]) bound the work a hostile file can cause: unzipped bytes over all
//! (nested) archives, features, and vertices over the whole file. Each feature is also held to
//! the field limits of [`vivacampo_core::geometry`] (10 000 vertices, 0.1–10 000 ha).
//!
//! Coordinates are reprojected from the Shapefile's `.prj` (or a GeoJSON `crs`) with
//! [`vivacampo_raster::crs`]: WGS84 and SIRGAS 2000 lon/lat and their UTM zones. SIRGAS 2000
//! lon/lat are taken as WGS84 lon/lat: the two frames differ by centimetres, as PROJ's null
//! transformation between them assumes, far below the 1e-7° (1 cm) the round trip keeps.
//!
//! The writers ([`write_geojson`], [`write_kml`], [`write_shapefile_zip`]) export fields with the
//! attributes `id`, `name`, `use_type`, `area_ha`, in lon/lat WGS84.
//!
//! ```
//! let file = r#"{"type": "Feature", "properties": {"nome": "Talhão 1"},
//!   "geometry": {"type": "Polygon", "coordinates": [[[-50.0, -17.0], [-49.99, -17.0],
//!                [-49.99, -16.99], [-50.0, -17.0]]]}}"#;
//! let layer = vivacampo_vector::read(file.as_bytes(), None, &Default::default()).unwrap();
//! assert_eq!(layer.name_of(&layer.features[0], None), "Talhão 1");
//! assert_eq!(layer.features[0].geometry.as_ref().unwrap().area_ha(), 58.92);
//! ```

mod dbf;
mod error;
mod geojson;
mod kml;
pub mod plan;
mod prj;
mod shp;
mod zip;

use geo::{Coord, LineString, MultiPolygon, Polygon};
use vivacampo_core::geometry::{FieldGeometry, GeometryError, InvalidReason, MAX_VERTICES};
use vivacampo_raster::crs::Crs;

pub use dbf::TextEncoding;
pub use error::{Error, Result};
pub use prj::{crs_from_name, crs_from_prj};

/// Bounds on what one file may make the reader do.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Unzipped bytes over all archives, nested ones included.
    pub max_unzipped: u64,
    /// Features in the file.
    pub max_features: usize,
    /// Vertices over all features.
    pub max_vertices: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_unzipped: 256 * 1024 * 1024,
            max_features: 10_000,
            max_vertices: 5_000_000,
        }
    }
}

/// What to read and how.
#[derive(Debug, Clone, Default)]
pub struct ReadOptions {
    pub limits: Limits,
    /// The layer of a zip holding several Shapefiles (its file name without `.shp`).
    pub layer: Option<String>,
}

/// The formats read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    GeoJson,
    Kml,
    Kmz,
    Shapefile,
}

impl Format {
    pub fn as_str(self) -> &'static str {
        match self {
            Format::GeoJson => "GeoJSON",
            Format::Kml => "KML",
            Format::Kmz => "KMZ",
            Format::Shapefile => "Shapefile",
        }
    }
}

/// A feature of a file, its geometry validated as a field.
#[derive(Debug, Clone)]
pub struct Feature {
    /// Position in the file, from 0.
    pub index: usize,
    /// The name the format itself gives (KML's `<name>`).
    pub label: Option<String>,
    /// Attributes as text, in the file's order.
    pub attributes: Vec<(String, String)>,
    pub geometry: std::result::Result<FieldGeometry, GeometryError>,
}

/// What a file holds.
#[derive(Debug, Clone)]
pub struct Layer {
    pub format: Format,
    /// The Shapefile layer read (file name without `.shp`).
    pub layer: Option<String>,
    /// EPSG code of the coordinates as written (they are reprojected to lon/lat WGS84).
    pub source_epsg: u32,
    pub features: Vec<Feature>,
}

/// Attributes tried, in order, for a field's name when none is chosen: common names, then
/// SICAR's property code.
pub const NAME_ATTRIBUTES: &[&str] = &[
    "name",
    "Name",
    "NAME",
    "nome",
    "Nome",
    "NOME",
    "talhao",
    "TALHAO",
    "Talhao",
    "talhão",
    "Talhão",
    "TALHÃO",
    "field",
    "FIELD",
    "label",
    "COD_IMOVEL",
    "cod_imovel",
    "id",
    "ID",
];

/// Longest field name (characters), as `POST /v1/aois` allows.
pub const MAX_NAME_CHARS: usize = 200;

impl Layer {
    /// Whether any feature has the attribute.
    pub fn has_attribute(&self, name: &str) -> bool {
        self.features
            .iter()
            .any(|f| f.attributes.iter().any(|(k, _)| k == name))
    }

    /// A feature's field name: the chosen attribute, else the format's own name, else the first
    /// of [`NAME_ATTRIBUTES`] with a value, else "Field N" (N from 1). Cut to
    /// [`MAX_NAME_CHARS`].
    pub fn name_of(&self, feature: &Feature, name_field: Option<&str>) -> String {
        let value = |key: &str| {
            feature
                .attributes
                .iter()
                .find(|(k, v)| k == key && !v.trim().is_empty())
                .map(|(_, v)| v.trim().to_owned())
        };
        let name = match name_field {
            Some(field) => value(field),
            None => feature
                .label
                .clone()
                .filter(|l| !l.trim().is_empty())
                .or_else(|| NAME_ATTRIBUTES.iter().find_map(|k| value(k))),
        };
        let name = name.unwrap_or_else(|| format!("Field {}", feature.index + 1));
        name.chars()
            .take(MAX_NAME_CHARS)
            .collect::<String>()
            .trim()
            .to_owned()
    }
}

/// A feature as parsed, before reprojection and validation.
pub(crate) struct RawFeature {
    pub index: usize,
    pub label: Option<String>,
    pub attributes: Vec<(String, String)>,
    pub geometry: RawGeometry,
}

impl RawFeature {
    fn vertices(&self) -> usize {
        match &self.geometry {
            RawGeometry::Polygons(p) => p.iter().flatten().map(Vec::len).sum(),
            RawGeometry::Rings(r) => r.iter().map(Vec::len).sum(),
            _ => 0,
        }
    }
}

pub(crate) enum RawGeometry {
    /// Polygons of rings, outer ring first.
    Polygons(Vec<Vec<Vec<Coord<f64>>>>),
    /// Shapefile rings, grouped into polygons by nesting.
    Rings(Vec<Vec<Coord<f64>>>),
    /// A GeoJSON geometry object, already in lon/lat.
    GeoJson(serde_json::Value),
    NotArea(&'static str),
    Missing,
    Malformed(&'static str),
}

fn geometry_error(reason: InvalidReason, message: impl Into<String>) -> GeometryError {
    GeometryError {
        reason,
        message: message.into(),
    }
}

/// Reprojects (where `crs` is not lon/lat) and validates one feature.
fn finish(raw: RawFeature, crs: &Crs) -> Feature {
    let to_lonlat = |ring: Vec<Coord<f64>>| -> Vec<Coord<f64>> {
        match crs {
            Crs::LonLat { .. } => ring,
            _ => ring
                .into_iter()
                .map(|c| {
                    let (x, y) = crs.to_lonlat(c.x, c.y);
                    Coord { x, y }
                })
                .collect(),
        }
    };
    let too_many = |vertices: usize| {
        geometry_error(
            InvalidReason::TooManyVertices,
            format!("Geometry has {vertices} vertices; the maximum is {MAX_VERTICES}"),
        )
    };
    let polygons = |polygons: Vec<Vec<Vec<Coord<f64>>>>| {
        let polygons = polygons
            .into_iter()
            .filter(|rings| !rings.is_empty())
            .map(|rings| {
                let mut rings = rings.into_iter().map(|r| LineString::new(to_lonlat(r)));
                let exterior = rings.next().expect("filtered: a ring is there");
                Polygon::new(exterior, rings.collect())
            })
            .collect();
        FieldGeometry::from_multi_polygon(&MultiPolygon::new(polygons))
    };
    let geometry = match raw.geometry {
        RawGeometry::Polygons(p) => {
            let vertices: usize = p.iter().flatten().map(|r| r.len().saturating_sub(1)).sum();
            if vertices > MAX_VERTICES {
                Err(too_many(vertices))
            } else {
                polygons(p)
            }
        }
        RawGeometry::Rings(rings) => {
            let vertices: usize = rings.iter().map(|r| r.len().saturating_sub(1)).sum();
            if vertices > MAX_VERTICES {
                Err(too_many(vertices))
            } else if vertices == 0 {
                Err(geometry_error(
                    InvalidReason::Empty,
                    "Geometry has no coordinates",
                ))
            } else {
                polygons(shp::organise(rings))
            }
        }
        RawGeometry::GeoJson(value) => FieldGeometry::from_geojson(&value),
        RawGeometry::NotArea(kind) => Err(geometry_error(
            InvalidReason::NotPolygonal,
            format!("A {kind} is not an area; only polygons become fields"),
        )),
        RawGeometry::Missing => Err(geometry_error(
            InvalidReason::Empty,
            "Feature has no geometry",
        )),
        RawGeometry::Malformed(message) => {
            Err(geometry_error(InvalidReason::NotPolygonal, message))
        }
    };
    Feature {
        index: raw.index,
        label: raw.label,
        attributes: raw.attributes,
        geometry,
    }
}

/// The format a `Content-Type` claims; `None` for generic types (then only the content decides).
fn claimed(content_type: &str) -> Option<&'static [Format]> {
    let essence = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/geo+json" | "application/json" | "application/vnd.geo+json" => {
            Some(&[Format::GeoJson])
        }
        "application/vnd.google-earth.kml+xml" | "application/xml" | "text/xml" => {
            Some(&[Format::Kml])
        }
        "application/vnd.google-earth.kmz" => Some(&[Format::Kmz]),
        "application/zip" | "application/x-zip-compressed" | "application/x-zip" => {
            Some(&[Format::Shapefile, Format::Kmz])
        }
        _ => None,
    }
}

/// The format of the content: a zip (KMZ or Shapefile, told apart by its files), JSON, or XML.
fn sniff(bytes: &[u8]) -> Result<Format> {
    if zip::looks_like_zip(bytes) {
        let entries = zip::entries(bytes)?;
        let has = |ext: &str| {
            entries
                .iter()
                .any(|e| e.file_name().to_ascii_lowercase().ends_with(ext))
        };
        return Ok(if has(".kml") && !has(".shp") && !has(".zip") {
            Format::Kmz
        } else {
            Format::Shapefile
        });
    }
    let text = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match text.iter().find(|b| !b.is_ascii_whitespace()) {
        Some(b'{') => Ok(Format::GeoJson),
        Some(b'<') => Ok(Format::Kml),
        _ => Err(Error::UnknownFormat),
    }
}

/// Reads a boundary file. `content_type` is the declared type, if any: a file that is not what
/// it claims is refused.
pub fn read(bytes: &[u8], content_type: Option<&str>, options: &ReadOptions) -> Result<Layer> {
    let format = sniff(bytes)?;
    if let Some(claimed) = content_type.and_then(claimed)
        && !claimed.contains(&format)
    {
        return Err(Error::NotWhatItClaims {
            claimed: claimed[0].as_str(),
            found: format.as_str(),
        });
    }
    let limits = &options.limits;
    let mut budget = zip::Budget::new(limits.max_unzipped);
    let wgs84 = Crs::LonLat { epsg: 4326 };
    let (raw, crs, layer) = match format {
        Format::GeoJson => {
            let (raw, epsg) = geojson::read(bytes, limits.max_features, limits.max_vertices)?;
            (raw, Crs::from_epsg(epsg).unwrap_or(wgs84.clone()), None)
        }
        Format::Kml => (
            kml::read(bytes, limits.max_features, limits.max_vertices)?,
            wgs84.clone(),
            None,
        ),
        Format::Kmz => (kmz(bytes, limits, &mut budget)?, wgs84.clone(), None),
        Format::Shapefile => {
            let (raw, crs, name) = shapefile_zip(bytes, options, &mut budget)?;
            (raw, crs, Some(name))
        }
    };
    let source_epsg = crs.epsg();
    // GeoJSON geometries were reprojected while parsing (they stay JSON until validated).
    let reproject = if format == Format::GeoJson {
        wgs84
    } else {
        crs
    };
    let features = raw.into_iter().map(|r| finish(r, &reproject)).collect();
    Ok(Layer {
        format,
        layer,
        source_epsg,
        features,
    })
}

/// The Placemarks of every KML document in a KMZ, `doc.kml` first (GDAL's LIBKML driver
/// writes a `doc.kml` that only links to `layers/*.kml`).
fn kmz(bytes: &[u8], limits: &Limits, budget: &mut zip::Budget) -> Result<Vec<RawFeature>> {
    let mut documents: Vec<_> = zip::entries(bytes)?
        .into_iter()
        .filter(|e| e.file_name().to_ascii_lowercase().ends_with(".kml"))
        .collect();
    documents.sort_by_key(|e| !e.file_name().eq_ignore_ascii_case("doc.kml"));
    let mut features = Vec::new();
    let mut vertices_left = limits.max_vertices;
    for document in documents {
        let kml = document.read(bytes, budget)?;
        let more =
            kml::read(&kml, limits.max_features - features.len(), vertices_left).map_err(|e| {
                match e {
                    Error::TooManyFeatures { .. } => Error::TooManyFeatures {
                        limit: limits.max_features,
                    },
                    Error::TooManyVertices { .. } => Error::TooManyVertices {
                        limit: limits.max_vertices,
                    },
                    other => other,
                }
            })?;
        vertices_left -= more.iter().map(RawFeature::vertices).sum::<usize>();
        let offset = features.len();
        features.extend(more.into_iter().map(|mut f| {
            f.index += offset;
            f
        }));
    }
    Ok(features)
}

/// The files of one Shapefile layer found in an archive.
#[derive(Default)]
struct LayerFiles {
    shp: Option<Vec<u8>>,
    dbf: Option<Vec<u8>>,
    prj: Option<Vec<u8>>,
    cpg: Option<Vec<u8>>,
}

/// Collects the Shapefile layers of an archive by name, descending one level into nested zips
/// (SICAR's packages are a zip of per-layer zips).
fn collect_layers(
    archive: &[u8],
    budget: &mut zip::Budget,
    depth: usize,
    layers: &mut Vec<(String, LayerFiles)>,
) -> Result<()> {
    for entry in zip::entries(archive)? {
        let file_name = entry.file_name().to_owned();
        let Some((stem, ext)) = file_name.rsplit_once('.') else {
            continue;
        };
        let ext = ext.to_ascii_lowercase();
        if ext == "zip" {
            if depth == 0 {
                let inner = entry.read(archive, budget)?;
                collect_layers(&inner, budget, depth + 1, layers)?;
            }
            continue;
        }
        if !matches!(ext.as_str(), "shp" | "dbf" | "prj" | "cpg") {
            continue;
        }
        let position = match layers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(stem))
        {
            Some(p) => p,
            None => {
                layers.push((stem.to_owned(), LayerFiles::default()));
                layers.len() - 1
            }
        };
        let content = entry.read(archive, budget)?;
        let files = &mut layers[position].1;
        match ext.as_str() {
            "shp" => files.shp = Some(content),
            "dbf" => files.dbf = Some(content),
            "prj" => files.prj = Some(content),
            _ => files.cpg = Some(content),
        }
    }
    Ok(())
}

/// SICAR's layer of the property's boundary.
const SICAR_PROPERTY_LAYER: &str = "AREA_IMOVEL";

fn shapefile_zip(
    bytes: &[u8],
    options: &ReadOptions,
    budget: &mut zip::Budget,
) -> Result<(Vec<RawFeature>, Crs, String)> {
    let mut layers = Vec::new();
    collect_layers(bytes, budget, 0, &mut layers)?;
    layers.retain(|(_, files)| files.shp.is_some());
    let chosen = match &options.layer {
        Some(name) => layers
            .iter()
            .position(|(n, _)| n.eq_ignore_ascii_case(name))
            .ok_or_else(|| Error::NoSuchLayer { name: name.clone() })?,
        None if layers.is_empty() => return Err(Error::NoLayer),
        None if layers.len() == 1 => 0,
        None => layers
            .iter()
            .position(|(n, _)| n.to_ascii_uppercase().contains(SICAR_PROPERTY_LAYER))
            .ok_or_else(|| Error::SeveralLayers {
                names: layers
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })?,
    };
    let (name, files) = layers.swap_remove(chosen);
    let missing = |part| Error::MissingPart {
        layer: name.clone(),
        part,
    };
    let prj = files.prj.as_deref().ok_or_else(|| Error::MissingPrj {
        layer: name.clone(),
    })?;
    let crs = crs_from_prj(prj)?;
    let dbf = files.dbf.as_deref().ok_or_else(|| missing(".dbf"))?;
    let encoding = files
        .cpg
        .as_deref()
        .map_or(TextEncoding::Guess, TextEncoding::from_cpg);
    let table = dbf::read(dbf, encoding)?;
    let records = shp::read(
        files.shp.as_deref().expect("kept: has a .shp"),
        options.limits.max_vertices,
    )?;
    if records.len() > options.limits.max_features {
        return Err(Error::TooManyFeatures {
            limit: options.limits.max_features,
        });
    }
    let features = records
        .into_iter()
        .enumerate()
        .map(|(index, record)| RawFeature {
            index,
            label: None,
            attributes: table
                .records
                .get(index)
                .map(|values| {
                    table
                        .fields
                        .iter()
                        .cloned()
                        .zip(values.iter().cloned())
                        .collect()
                })
                .unwrap_or_default(),
            geometry: match record {
                shp::Record::Null => RawGeometry::Missing,
                shp::Record::Rings(rings) => RawGeometry::Rings(rings),
                shp::Record::NotArea(kind) => RawGeometry::NotArea(kind),
            },
        })
        .collect();
    Ok((features, crs, name))
}

/// A field to export, in lon/lat WGS84.
#[derive(Debug, Clone)]
pub struct ExportField {
    pub id: String,
    pub name: String,
    pub use_type: String,
    pub area_ha: f64,
    pub geometry: MultiPolygon<f64>,
}

/// Fields as a GeoJSON FeatureCollection.
pub fn write_geojson(fields: &[ExportField]) -> Vec<u8> {
    geojson::write(fields)
}

/// Fields as a KML document named `title`.
pub fn write_kml(title: &str, fields: &[ExportField]) -> Vec<u8> {
    kml::write(title, fields)
}

/// `.prj` of lon/lat WGS84, as GDAL writes it.
const WGS84_PRJ: &str = r#"GEOGCS["GCS_WGS_1984",DATUM["D_WGS_1984",SPHEROID["WGS_1984",6378137.0,298.257223563]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;

/// Fields as a zipped Shapefile `{layer}.shp/.shx/.dbf/.prj/.cpg`: lon/lat WGS84, attributes in
/// UTF-8: `id`, `name` (254 bytes, cut at a character), `use_type`, `area_ha`.
pub fn write_shapefile_zip(layer: &str, fields: &[ExportField]) -> Vec<u8> {
    let shapes: Vec<MultiPolygon<f64>> = fields.iter().map(|f| f.geometry.clone()).collect();
    let (shp, shx) = shp::write(&shapes);
    let columns = [
        dbf::Column::Text {
            name: "id",
            width: 36,
        },
        dbf::Column::Text {
            name: "name",
            width: 254,
        },
        dbf::Column::Text {
            name: "use_type",
            width: 10,
        },
        dbf::Column::Number {
            name: "area_ha",
            width: 14,
            decimals: 2,
        },
    ];
    let records: Vec<Vec<dbf::Value>> = fields
        .iter()
        .map(|f| {
            vec![
                dbf::Value::Text(f.id.clone()),
                dbf::Value::Text(f.name.clone()),
                dbf::Value::Text(f.use_type.clone()),
                dbf::Value::Number(f.area_ha),
            ]
        })
        .collect();
    let dbf = dbf::write(&columns, &records);
    let names = ["shp", "shx", "dbf", "prj", "cpg"].map(|ext| format!("{layer}.{ext}"));
    zip::write(&[
        (&names[0], &shp),
        (&names[1], &shx),
        (&names[2], &dbf),
        (&names[3], WGS84_PRJ.as_bytes()),
        (&names[4], b"UTF-8"),
    ])
}

/// A zip archive of the files (deflated, names in UTF-8), e.g. to package a KMZ.
pub fn write_zip(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip::write(files)
}

/// A stored GeoJSON `MultiPolygon` (or `Polygon`) as a `geo` value, for export; `None` if it is
/// not one.
pub fn multi_polygon_from_geojson(value: &serde_json::Value) -> Option<MultiPolygon<f64>> {
    let ring = |ring: &serde_json::Value| -> Option<LineString<f64>> {
        ring.as_array()?
            .iter()
            .map(|p| {
                let p = p.as_array()?;
                Some(Coord {
                    x: p.first()?.as_f64()?,
                    y: p.get(1)?.as_f64()?,
                })
            })
            .collect::<Option<Vec<_>>>()
            .map(LineString::new)
    };
    let polygon = |rings: &serde_json::Value| -> Option<Polygon<f64>> {
        let mut rings = rings.as_array()?.iter().map(ring);
        let exterior = rings.next()??;
        Some(Polygon::new(exterior, rings.collect::<Option<Vec<_>>>()?))
    };
    let coordinates = value.get("coordinates")?;
    match value.get("type")?.as_str()? {
        "Polygon" => Some(MultiPolygon::new(vec![polygon(coordinates)?])),
        "MultiPolygon" => coordinates
            .as_array()?
            .iter()
            .map(polygon)
            .collect::<Option<Vec<_>>>()
            .map(MultiPolygon::new),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
