//! The GDAL-written fixtures of `scripts/vector-fixtures.py`: every file reads with the right
//! names, attributes, parts and holes, and areas equal pyproj's geodesic areas within 0.01 %.

use serde_json::Value;
use vivacampo_vector::{Format, Layer, read};

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/tests/fixtures/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn expected() -> Value {
    serde_json::from_slice(&fixture("expected.json")).unwrap()
}

fn attribute<'a>(layer: &'a Layer, index: usize, key: &str) -> &'a str {
    layer.features[index]
        .attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no {key}"))
}

/// Checks every feature against expected.json: the bow-tie is refused as self_intersection.
fn check(name: &str, layer: &Layer) {
    let expected = expected();
    let rows = expected[name].as_array().unwrap();
    assert_eq!(layer.features.len(), rows.len(), "{name}");
    for (feature, row) in layer.features.iter().zip(rows) {
        assert_eq!(
            layer.name_of(feature, None),
            row["name"].as_str().unwrap(),
            "{name}"
        );
        let want = row["area_ha"].as_f64().unwrap();
        match &feature.geometry {
            Ok(field) => {
                let relative = (field.area_ha() - want).abs() / want;
                assert!(
                    relative < 1e-4,
                    "{name} #{}: {} vs {want}",
                    feature.index,
                    field.area_ha()
                );
                let polygons = field.multi_polygon();
                assert_eq!(
                    polygons.0.len() as u64,
                    row["parts"].as_u64().unwrap(),
                    "{name}"
                );
                let holes: usize = polygons.iter().map(|p| p.interiors().len()).sum();
                assert_eq!(holes as u64, row["holes"].as_u64().unwrap(), "{name}");
            }
            Err(e) => {
                assert_eq!(
                    e.reason.as_str(),
                    "self_intersection",
                    "{name} #{}",
                    feature.index
                );
                assert!(want < 1e-6, "only the bow-tie is invalid");
            }
        }
    }
}

#[test]
fn sicar_package_in_sirgas_utm_22s() {
    let layer = read(
        &fixture("car_sirgas_utm22s.zip"),
        Some("application/zip"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.format, Format::Shapefile);
    assert_eq!(layer.layer.as_deref(), Some("AREA_IMOVEL"));
    assert_eq!(layer.source_epsg, 31982);
    check("car_sirgas_utm22s.zip", &layer);
    // UTF-8 bytes under a Windows-1252 language byte and no .cpg.
    assert_eq!(attribute(&layer, 0, "CONDICAO_I"), "Aguardando análise");
    assert_eq!(attribute(&layer, 1, "CONDICAO_I"), "Análise com pendências");
    assert_eq!(attribute(&layer, 2, "NOM_MUNICI"), "Jataí");
    // Cut at the field width inside "ô": the broken character goes, the rest stays.
    assert_eq!(attribute(&layer, 1, "NOM_MUNICI"), "Santo Ant");
    assert_eq!(attribute(&layer, 0, "NUM_MODULO"), "4.20");
}

#[test]
fn shapefile_in_wgs84_utm_23s_with_a_windows_1252_cpg() {
    let layer = read(
        &fixture("fields_wgs84_utm23s_cp1252.zip"),
        None,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.source_epsg, 32723);
    check("fields_wgs84_utm23s_cp1252.zip", &layer);
    assert_eq!(attribute(&layer, 1, "cultura"), "Braquiária");
}

#[test]
fn shapefile_in_sirgas_lonlat_with_windows_1252_bytes_and_no_cpg() {
    let layer = read(
        &fixture("fields_sirgas_4674_latin.zip"),
        None,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.source_epsg, 4674);
    check("fields_sirgas_4674_latin.zip", &layer);
    assert_eq!(attribute(&layer, 1, "cultura"), "Braquiária");
}

#[test]
fn geojson_in_wgs84_and_in_utm_with_a_crs_member() {
    let layer = read(
        &fixture("fields_wgs84.geojson"),
        Some("application/geo+json"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.format, Format::GeoJson);
    check("fields_wgs84.geojson", &layer);
    let layer = read(
        &fixture("fields_sirgas_utm22s.geojson"),
        None,
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.source_epsg, 31982);
    check("fields_sirgas_utm22s.geojson", &layer);
}

#[test]
fn kml_and_libkml_kmz() {
    let layer = read(
        &fixture("fields_wgs84.kml"),
        Some("application/vnd.google-earth.kml+xml"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.format, Format::Kml);
    check("fields_wgs84.kml", &layer);
    assert_eq!(attribute(&layer, 1, "cultura"), "Braquiária");
    let layer = read(&fixture("fields_wgs84.kmz"), None, &Default::default()).unwrap();
    assert_eq!(layer.format, Format::Kmz);
    check("fields_wgs84.kmz", &layer);
}
