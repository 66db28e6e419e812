//! Coordinate systems named by a Shapefile's `.prj` (WKT 1, as ESRI and GDAL write it, or WKT 2)
//! or a GeoJSON `crs` member, mapped to the CRSs [`vivacampo_raster::crs`] transforms:
//! WGS84 and SIRGAS 2000 lon/lat, and their UTM zones (WGS84 326xx/327xx, SIRGAS 2000
//! 31965–31985).
//!
//! An `AUTHORITY["EPSG",…]` (or WKT 2 `ID`) on the top node decides when present. Otherwise the
//! CRS is recognised from its parts, since ESRI's `.prj` files carry no code: the datum's name,
//! and for a projected CRS a Transverse Mercator with UTM's parameters (scale 0.9996, false
//! easting 500 000 m, false northing 0 or 10 000 000 m, latitude of origin 0) and metres.

use vivacampo_raster::crs::Crs;

use crate::error::{Error, Result};

/// Deepest nesting read; real WKT needs about 6.
const MAX_DEPTH: usize = 16;
/// Longest `.prj` read.
const MAX_LEN: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq)]
enum Arg {
    Node(Node),
    Text(String),
    Number(f64),
}

#[derive(Debug, Clone, PartialEq)]
struct Node {
    keyword: String,
    args: Vec<Arg>,
}

impl Node {
    fn name(&self) -> Option<&str> {
        self.args.iter().find_map(|a| match a {
            Arg::Text(t) => Some(t.as_str()),
            _ => None,
        })
    }

    fn children(&self) -> impl Iterator<Item = &Node> {
        self.args.iter().filter_map(|a| match a {
            Arg::Node(n) => Some(n),
            _ => None,
        })
    }

    fn child(&self, keywords: &[&str]) -> Option<&Node> {
        self.children()
            .find(|n| keywords.iter().any(|k| n.keyword.eq_ignore_ascii_case(k)))
    }

    /// The first node with one of the keywords, depth first (this one included).
    fn find(&self, keywords: &[&str]) -> Option<&Node> {
        if keywords
            .iter()
            .any(|k| self.keyword.eq_ignore_ascii_case(k))
        {
            return Some(self);
        }
        self.children().find_map(|n| n.find(keywords))
    }

    fn number(&self, index: usize) -> Option<f64> {
        self.args
            .iter()
            .filter_map(|a| match a {
                Arg::Number(n) => Some(*n),
                Arg::Text(t) => t.parse().ok(),
                Arg::Node(_) => None,
            })
            .nth(index)
    }

    /// An EPSG code on this node itself (`AUTHORITY["EPSG","31982"]`, `ID["EPSG",31982]`).
    fn epsg(&self) -> Option<u32> {
        let id = self.child(&["AUTHORITY", "ID"])?;
        if !id.name()?.eq_ignore_ascii_case("EPSG") {
            return None;
        }
        match id.args.get(1)? {
            Arg::Number(n) => Some(*n as u32),
            Arg::Text(t) => t.trim().parse().ok(),
            Arg::Node(_) => None,
        }
    }
}

struct Parser<'a> {
    bytes: &'a [u8],
    at: usize,
}

fn broken() -> Error {
    Error::corrupt("prj", "its coordinate system text is not WKT")
}

impl Parser<'_> {
    fn skip_space(&mut self) {
        while self.at < self.bytes.len() && self.bytes[self.at].is_ascii_whitespace() {
            self.at += 1;
        }
    }

    fn node(&mut self, depth: usize) -> Result<Node> {
        if depth > MAX_DEPTH {
            return Err(broken());
        }
        self.skip_space();
        let start = self.at;
        while self.at < self.bytes.len()
            && (self.bytes[self.at].is_ascii_alphanumeric() || self.bytes[self.at] == b'_')
        {
            self.at += 1;
        }
        let keyword = String::from_utf8_lossy(&self.bytes[start..self.at]).into_owned();
        self.skip_space();
        let close = match self.bytes.get(self.at) {
            Some(b'[') => b']',
            Some(b'(') => b')',
            _ if !keyword.is_empty() => {
                // A bare word (WKT 2 enumerations such as `east`).
                return Ok(Node {
                    keyword,
                    args: Vec::new(),
                });
            }
            _ => return Err(broken()),
        };
        self.at += 1;
        let mut args = Vec::new();
        loop {
            self.skip_space();
            match self.bytes.get(self.at) {
                None => return Err(broken()),
                Some(&b) if b == close => {
                    self.at += 1;
                    break;
                }
                Some(b',') => self.at += 1,
                Some(b'"') => {
                    self.at += 1;
                    let start = self.at;
                    loop {
                        match self.bytes.get(self.at) {
                            None => return Err(broken()),
                            Some(b'"') if self.bytes.get(self.at + 1) == Some(&b'"') => {
                                self.at += 2
                            }
                            Some(b'"') => break,
                            Some(_) => self.at += 1,
                        }
                    }
                    let text =
                        String::from_utf8_lossy(&self.bytes[start..self.at]).replace("\"\"", "\"");
                    self.at += 1;
                    args.push(Arg::Text(text));
                }
                Some(b) if b.is_ascii_digit() || *b == b'-' || *b == b'+' || *b == b'.' => {
                    let start = self.at;
                    while self.at < self.bytes.len()
                        && matches!(
                            self.bytes[self.at],
                            b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E'
                        )
                    {
                        self.at += 1;
                    }
                    let text =
                        std::str::from_utf8(&self.bytes[start..self.at]).map_err(|_| broken())?;
                    args.push(Arg::Number(text.parse().map_err(|_| broken())?));
                }
                Some(_) => args.push(Arg::Node(self.node(depth + 1)?)),
            }
        }
        Ok(Node { keyword, args })
    }
}

fn parse(text: &[u8]) -> Result<Node> {
    if text.len() > MAX_LEN {
        return Err(broken());
    }
    let mut parser = Parser { bytes: text, at: 0 };
    let node = parser.node(0)?;
    if node.keyword.is_empty() {
        return Err(broken());
    }
    Ok(node)
}

#[derive(Clone, Copy, PartialEq)]
enum Datum {
    Wgs84,
    Sirgas2000,
}

fn datum_of(node: &Node) -> Option<Datum> {
    let name = node
        .find(&["DATUM", "GEODETICDATUM", "TRF"])
        .and_then(Node::name)
        .unwrap_or_default()
        .to_ascii_uppercase()
        .replace([' ', '-'], "_");
    if name.contains("SIRGAS") && name.contains("2000") {
        Some(Datum::Sirgas2000)
    } else if name.contains("WGS_1984")
        || name.contains("WGS84")
        || name.contains("WGS_84")
        || name.contains("WORLD_GEODETIC_SYSTEM_1984")
    {
        Some(Datum::Wgs84)
    } else {
        None
    }
}

fn parameter(node: &Node, names: &[&str]) -> Option<f64> {
    node.children()
        .filter(|n| n.keyword.eq_ignore_ascii_case("PARAMETER"))
        .find(|n| {
            let name = n
                .name()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .replace(' ', "_");
            names.iter().any(|k| name == *k)
        })
        .and_then(|n| n.number(0))
}

fn close(a: Option<f64>, b: f64) -> bool {
    a.is_some_and(|a| (a - b).abs() < 1e-6)
}

/// The CRS a `.prj` file names.
pub fn crs_from_prj(text: &[u8]) -> Result<Crs> {
    let root = parse(text)?;
    let label = root.name().unwrap_or(&root.keyword).to_owned();
    let unsupported = || Error::UnsupportedCrs {
        name: label.clone(),
    };
    if let Some(code) = root.epsg()
        && let Ok(crs) = Crs::from_epsg(code)
    {
        return Ok(crs);
    }
    let keyword = root.keyword.to_ascii_uppercase();
    let datum = datum_of(&root).ok_or_else(unsupported)?;
    match keyword.as_str() {
        "GEOGCS" | "GEOGCRS" | "GEODCRS" | "GEOGRAPHICCRS" => Ok(Crs::LonLat {
            epsg: match datum {
                Datum::Wgs84 => 4326,
                Datum::Sirgas2000 => 4674,
            },
        }),
        "PROJCS" | "PROJCRS" | "PROJECTEDCRS" => {
            let method_node = root
                .find(&["PROJECTION", "METHOD"])
                .ok_or_else(unsupported)?;
            let method = method_node
                .name()
                .unwrap_or_default()
                .to_ascii_lowercase()
                .replace(' ', "_");
            if method != "transverse_mercator" {
                return Err(unsupported());
            }
            let params = root.find(&["CONVERSION"]).unwrap_or(&root);
            let cm = parameter(params, &["central_meridian", "longitude_of_natural_origin"]);
            let scale = parameter(params, &["scale_factor", "scale_factor_at_natural_origin"]);
            let fe = parameter(params, &["false_easting"]);
            let fn_ = parameter(params, &["false_northing"]);
            let lat0 = parameter(
                params,
                &["latitude_of_origin", "latitude_of_natural_origin"],
            )
            .unwrap_or(0.0);
            let unit = root
                .child(&["UNIT", "LENGTHUNIT"])
                .and_then(|u| u.number(0))
                .unwrap_or(1.0);
            if !close(scale, 0.9996)
                || !close(fe, 500_000.0)
                || lat0.abs() > 1e-9
                || (unit - 1.0).abs() > 1e-9
            {
                return Err(unsupported());
            }
            let south = if close(fn_, 10_000_000.0) {
                true
            } else if close(fn_, 0.0) {
                false
            } else {
                return Err(unsupported());
            };
            let cm = cm.ok_or_else(unsupported)?;
            let zone = (cm + 183.0) / 6.0;
            if (zone - zone.round()).abs() > 1e-9 || !(1.0..=60.0).contains(&zone) {
                return Err(unsupported());
            }
            let zone = zone.round() as u32;
            let epsg = match (datum, south) {
                (Datum::Wgs84, false) => 32600 + zone,
                (Datum::Wgs84, true) => 32700 + zone,
                (Datum::Sirgas2000, false) if (11..=22).contains(&zone) => 31965 + zone - 11,
                (Datum::Sirgas2000, true) if (17..=25).contains(&zone) => 31977 + zone - 17,
                _ => return Err(unsupported()),
            };
            Crs::from_epsg(epsg).map_err(|_| unsupported())
        }
        _ => Err(unsupported()),
    }
}

/// The CRS a name such as `EPSG:31982`, `urn:ogc:def:crs:EPSG::4674` or
/// `urn:ogc:def:crs:OGC:1.3:CRS84` stands for (GeoJSON's old `crs` member, KML has none).
pub fn crs_from_name(name: &str) -> Result<Crs> {
    let unsupported = || Error::UnsupportedCrs {
        name: name.to_owned(),
    };
    let upper = name.to_ascii_uppercase();
    if upper.ends_with("CRS84") {
        return Ok(Crs::LonLat { epsg: 4326 });
    }
    if !upper.contains("EPSG") {
        return Err(unsupported());
    }
    let code: u32 = upper
        .rsplit(':')
        .next()
        .and_then(|c| c.trim().parse().ok())
        .ok_or_else(unsupported)?;
    match Crs::from_epsg(code) {
        Ok(Crs::WebMercator) | Err(_) => Err(unsupported()),
        Ok(crs) => Ok(crs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ESRI_SIRGAS_22S: &str = r#"PROJCS["SIRGAS_2000_UTM_Zone_22S",GEOGCS["GCS_SIRGAS_2000",DATUM["D_SIRGAS_2000",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["False_Easting",500000.0],PARAMETER["False_Northing",10000000.0],PARAMETER["Central_Meridian",-51.0],PARAMETER["Scale_Factor",0.9996],PARAMETER["Latitude_Of_Origin",0.0],UNIT["Meter",1.0]]"#;

    #[test]
    fn esri_prj_without_codes_is_recognised_from_its_parts() {
        assert_eq!(
            crs_from_prj(ESRI_SIRGAS_22S.as_bytes()).unwrap().epsg(),
            31982
        );
        let wgs = ESRI_SIRGAS_22S
            .replace("SIRGAS_2000", "WGS_1984")
            .replace("-51.0", "-45.0");
        assert_eq!(crs_from_prj(wgs.as_bytes()).unwrap().epsg(), 32723);
        let geographic = r#"GEOGCS["GCS_SIRGAS_2000",DATUM["D_SIRGAS_2000",SPHEROID["GRS_1980",6378137.0,298.257222101]],PRIMEM["Greenwich",0.0],UNIT["Degree",0.0174532925199433]]"#;
        assert_eq!(crs_from_prj(geographic.as_bytes()).unwrap().epsg(), 4674);
    }

    #[test]
    fn an_epsg_authority_decides() {
        let text = r#"PROJCS["WGS 84 / UTM zone 23S",GEOGCS["WGS 84",DATUM["WGS_1984",SPHEROID["WGS 84",6378137,298.257223563,AUTHORITY["EPSG","7030"]],AUTHORITY["EPSG","6326"]],PRIMEM["Greenwich",0],UNIT["degree",0.0174532925199433]],PROJECTION["Transverse_Mercator"],PARAMETER["latitude_of_origin",0],PARAMETER["central_meridian",-45],PARAMETER["scale_factor",0.9996],PARAMETER["false_easting",500000],PARAMETER["false_northing",10000000],UNIT["metre",1],AUTHORITY["EPSG","32723"]]"#;
        assert_eq!(crs_from_prj(text.as_bytes()).unwrap().epsg(), 32723);
    }

    #[test]
    fn other_datums_and_projections_are_unsupported_by_name() {
        let sad69 = ESRI_SIRGAS_22S
            .replace("SIRGAS_2000_UTM_Zone_22S", "SAD_1969_UTM_Zone_22S")
            .replace("D_SIRGAS_2000", "D_South_American_1969");
        assert_eq!(
            crs_from_prj(sad69.as_bytes()).unwrap_err(),
            Error::UnsupportedCrs {
                name: "SAD_1969_UTM_Zone_22S".into()
            }
        );
        let albers = ESRI_SIRGAS_22S.replace("Transverse_Mercator", "Albers");
        assert_eq!(
            crs_from_prj(albers.as_bytes()).unwrap_err().reason(),
            "unsupported_crs"
        );
    }

    #[test]
    fn broken_text_is_corrupt_not_a_panic() {
        for text in [
            "",
            "PROJCS[",
            "PROJCS[\"a\",",
            "[[[",
            "GEOGCS[\"x\"]]]",
            "\"\"",
        ] {
            assert!(crs_from_prj(text.as_bytes()).is_err(), "{text}");
        }
        let deep = format!("{}{}", "A[".repeat(10_000), "]".repeat(10_000));
        assert_eq!(
            crs_from_prj(deep.as_bytes()).unwrap_err().reason(),
            "corrupt"
        );
    }

    #[test]
    fn geojson_crs_names() {
        assert_eq!(
            crs_from_name("urn:ogc:def:crs:EPSG::31982").unwrap().epsg(),
            31982
        );
        assert_eq!(crs_from_name("EPSG:4674").unwrap().epsg(), 4674);
        assert_eq!(
            crs_from_name("urn:ogc:def:crs:OGC:1.3:CRS84")
                .unwrap()
                .epsg(),
            4326
        );
        assert_eq!(
            crs_from_name("EPSG:29192").unwrap_err().reason(),
            "unsupported_crs"
        );
    }
}
