use super::*;
use geo::polygon;

fn field(id: &str, name: &str, geometry: MultiPolygon<f64>) -> ExportField {
    let area_ha = FieldGeometry::from_multi_polygon(&geometry)
        .unwrap()
        .area_ha();
    ExportField {
        id: id.into(),
        name: name.into(),
        use_type: "CROP".into(),
        area_ha,
        geometry,
    }
}

/// Two fields near Rio Verde: one with a hole, one of two parts.
fn fields() -> Vec<ExportField> {
    let with_hole = MultiPolygon::new(vec![polygon!(
        exterior: [(x: -50.9, y: -17.8), (x: -50.89, y: -17.8), (x: -50.89, y: -17.79), (x: -50.9, y: -17.79)],
        interiors: [[(x: -50.897, y: -17.797), (x: -50.897, y: -17.794), (x: -50.894, y: -17.794), (x: -50.894, y: -17.797)]],
    )]);
    let two_parts = MultiPolygon::new(vec![
        polygon![(x: -50.8, y: -17.8), (x: -50.795, y: -17.8), (x: -50.795, y: -17.795), (x: -50.8, y: -17.795)],
        polygon![(x: -50.79, y: -17.8), (x: -50.785, y: -17.8), (x: -50.785, y: -17.795), (x: -50.79, y: -17.795)],
    ]);
    vec![
        field("a1", "Talhão & \"Sede\" <1>", with_hole),
        field("b2", "Pasto São José", two_parts),
    ]
}

fn assert_round_trip(layer: &Layer, expected: &[ExportField]) {
    assert_eq!(layer.features.len(), expected.len());
    for (feature, want) in layer.features.iter().zip(expected) {
        let got = feature.geometry.as_ref().unwrap();
        assert_eq!(layer.name_of(feature, None), want.name);
        assert_eq!(got.area_ha(), want.area_ha);
        let want_geometry = FieldGeometry::from_multi_polygon(&want.geometry).unwrap();
        let (a, b) = (got.multi_polygon(), want_geometry.multi_polygon());
        assert_eq!(a.0.len(), b.0.len());
        for (pa, pb) in a.iter().zip(b.iter()) {
            assert_eq!(pa.interiors().len(), pb.interiors().len());
            let ca: Vec<_> = pa
                .exterior()
                .coords()
                .chain(pa.interiors().iter().flat_map(|r| r.coords()))
                .collect();
            let cb: Vec<_> = pb
                .exterior()
                .coords()
                .chain(pb.interiors().iter().flat_map(|r| r.coords()))
                .collect();
            assert_eq!(ca.len(), cb.len());
            for (x, y) in ca.iter().zip(&cb) {
                assert!(
                    (x.x - y.x).abs() < 1e-7 && (x.y - y.y).abs() < 1e-7,
                    "{x:?} {y:?}"
                );
            }
        }
    }
}

#[test]
fn geojson_export_reads_back_the_same_fields() {
    let fields = fields();
    let layer = read(
        &write_geojson(&fields),
        Some("application/geo+json"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.format, Format::GeoJson);
    assert_round_trip(&layer, &fields);
}

#[test]
fn kml_export_reads_back_the_same_fields() {
    let fields = fields();
    let layer = read(&write_kml("Fazenda", &fields), None, &Default::default()).unwrap();
    assert_eq!(layer.format, Format::Kml);
    assert_round_trip(&layer, &fields);
    assert_eq!(
        layer.features[0].attributes,
        [
            ("name".to_owned(), fields[0].name.clone()),
            ("id".into(), "a1".into()),
            ("use_type".into(), "CROP".into()),
            ("area_ha".into(), fields[0].area_ha.to_string())
        ]
    );
}

#[test]
fn shapefile_export_reads_back_the_same_fields() {
    let fields = fields();
    let zip = write_shapefile_zip("fields", &fields);
    let layer = read(&zip, Some("application/zip"), &Default::default()).unwrap();
    assert_eq!(layer.format, Format::Shapefile);
    assert_eq!(layer.layer.as_deref(), Some("fields"));
    assert_eq!(layer.source_epsg, 4326);
    assert_round_trip(&layer, &fields);
}

#[test]
fn kmz_is_a_zip_of_kml() {
    let fields = fields();
    let kml = write_kml("Fazenda", &fields);
    let kmz = zip::write(&[("doc.kml", &kml), ("files/icon.png", b"png")]);
    let layer = read(
        &kmz,
        Some("application/vnd.google-earth.kmz"),
        &Default::default(),
    )
    .unwrap();
    assert_eq!(layer.format, Format::Kmz);
    assert_round_trip(&layer, &fields);
}

/// SICAR's package: a zip of per-layer zips; the property is AREA_IMOVEL.
#[test]
fn sicar_zip_of_zips_reads_area_imovel() {
    let fields = fields();
    let layer_zip = |name: &str, f: &[ExportField]| write_shapefile_zip(name, f);
    let area = layer_zip("AREA_IMOVEL", &fields[..1]);
    let app = layer_zip("APP", &fields[1..]);
    let package = zip::write(&[("APP.zip", &app), ("AREA_IMOVEL.zip", &area)]);
    let layer = read(&package, None, &Default::default()).unwrap();
    assert_eq!(layer.layer.as_deref(), Some("AREA_IMOVEL"));
    assert_round_trip(&layer, &fields[..1]);
    let options = ReadOptions {
        layer: Some("app".into()),
        ..Default::default()
    };
    assert_eq!(
        read(&package, None, &options).unwrap().layer.as_deref(),
        Some("APP")
    );
    let plain = zip::write(&[("APP.zip", &app), ("RL.zip", &layer_zip("RL", &fields))]);
    assert_eq!(
        read(&plain, None, &Default::default()).unwrap_err(),
        Error::SeveralLayers {
            names: "APP, RL".into()
        }
    );
}

#[test]
fn files_that_are_not_what_they_claim_are_refused() {
    let geojson = write_geojson(&fields());
    assert_eq!(
        read(&geojson, Some("application/zip"), &Default::default()).unwrap_err(),
        Error::NotWhatItClaims {
            claimed: "Shapefile",
            found: "GeoJSON"
        }
    );
    assert_eq!(
        read(b"hello", None, &Default::default()).unwrap_err(),
        Error::UnknownFormat
    );
    assert_eq!(
        read(b"{", None, &Default::default()).unwrap_err().reason(),
        "corrupt"
    );
    assert_eq!(
        read(b"<html></html>", None, &Default::default())
            .unwrap_err()
            .reason(),
        "corrupt"
    );
    // A generic type leaves it to the content.
    assert!(
        read(
            &geojson,
            Some("application/octet-stream"),
            &Default::default()
        )
        .is_ok()
    );
}

#[test]
fn shapefile_without_prj_is_refused() {
    let zip_in = write_shapefile_zip("f", &fields());
    let entries = zip::entries(&zip_in).unwrap();
    let mut budget = zip::Budget::new(1 << 30);
    let kept: Vec<(String, Vec<u8>)> = entries
        .iter()
        .filter(|e| !e.name.ends_with(".prj"))
        .map(|e| (e.name.clone(), e.read(&zip_in, &mut budget).unwrap()))
        .collect();
    let refs: Vec<(&str, &[u8])> = kept
        .iter()
        .map(|(n, c)| (n.as_str(), c.as_slice()))
        .collect();
    assert_eq!(
        read(&zip::write(&refs), None, &Default::default()).unwrap_err(),
        Error::MissingPrj { layer: "f".into() }
    );
}

#[test]
fn limits_bound_features_vertices_and_unzipped_bytes() {
    let fields = fields();
    let small = |f: usize, v: usize, u: u64| ReadOptions {
        limits: Limits {
            max_features: f,
            max_vertices: v,
            max_unzipped: u,
        },
        layer: None,
    };
    let geojson = write_geojson(&fields);
    assert_eq!(
        read(&geojson, None, &small(1, 1000, 1 << 20)).unwrap_err(),
        Error::TooManyFeatures { limit: 1 }
    );
    assert_eq!(
        read(&geojson, None, &small(10, 12, 1 << 20)).unwrap_err(),
        Error::TooManyVertices { limit: 12 }
    );
    let kml = write_kml("x", &fields);
    assert_eq!(
        read(&kml, None, &small(1, 1000, 1 << 20)).unwrap_err(),
        Error::TooManyFeatures { limit: 1 }
    );
    let zip = write_shapefile_zip("f", &fields);
    assert_eq!(
        read(&zip, None, &small(10, 1000, 500)).unwrap_err(),
        Error::TooLargeUnzipped { limit: 500 }
    );
    assert_eq!(
        read(&zip, None, &small(1, 1000, 1 << 20)).unwrap_err(),
        Error::TooManyFeatures { limit: 1 }
    );
}

#[test]
fn bad_features_get_field_reasons_and_the_rest_still_read() {
    let doc = br#"{"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {"nome": "ponto"}, "geometry": {"type": "Point", "coordinates": [0, 0]}},
        {"type": "Feature", "properties": {"NOME": 3}, "geometry": null},
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [[[0, 0], [1, 1], [1, 0], [0, 1], [0, 0]]]}},
        {"type": "Feature", "properties": {"COD_IMOVEL": "GO-5218805-ABC"}, "geometry": {"type": "Polygon", "coordinates": [[[-50, -17], [-49.99, -17], [-49.99, -16.99], [-50, -17]]]}}
    ]}"#;
    let layer = read(doc, None, &Default::default()).unwrap();
    let reasons: Vec<_> = layer
        .features
        .iter()
        .map(|f| f.geometry.as_ref().err().map(|e| e.reason.as_str()))
        .collect();
    assert_eq!(
        reasons,
        [
            Some("not_polygonal"),
            Some("empty"),
            Some("self_intersection"),
            None
        ]
    );
    let names: Vec<_> = layer
        .features
        .iter()
        .map(|f| layer.name_of(f, None))
        .collect();
    assert_eq!(names, ["ponto", "3", "Field 3", "GO-5218805-ABC"]);
    assert_eq!(
        layer.name_of(&layer.features[0], Some("COD_IMOVEL")),
        "Field 1"
    );
    assert!(layer.has_attribute("COD_IMOVEL"));
}

#[test]
fn geojson_crs_member_reprojects_utm() {
    // A point of SIRGAS 2000 / UTM 22S and its lon/lat (pyproj 3.6).
    let doc = br#"{"type": "FeatureCollection", "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::31982"}},
      "features": [{"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates":
        [[[500000, 8000000], [501000, 8000000], [501000, 8001000], [500000, 8001000], [500000, 8000000]]]}}]}"#;
    let layer = read(doc, None, &Default::default()).unwrap();
    assert_eq!(layer.source_epsg, 31982);
    let field = layer.features[0].geometry.as_ref().unwrap();
    assert_eq!(field.area_ha(), 100.08);
    assert!((field.bbox()[0] - -51.0).abs() < 1e-9);
}
