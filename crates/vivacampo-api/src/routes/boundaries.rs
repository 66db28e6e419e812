//! Boundary files: import a farm's fields from GeoJSON, KML, KMZ or a zipped Shapefile (a dry
//! run first), export them as GeoJSON, KML or a zipped Shapefile. Formats and rules live in
//! `vivacampo-vector`; the fields are created by the store in one transaction.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use vivacampo_core::tenancy::Role;
use vivacampo_store::aois::{NewAoi, Shape};
use vivacampo_vector::plan::{ExistingField, Planned, Status, plan};
use vivacampo_vector::{ExportField, Layer, Limits, ReadOptions};

use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath};
use crate::routes::farms::not_found;
use crate::state::AppState;
use crate::views::ErrorBody;

/// Most features one file may hold (a municipality's CAR download is a few thousand).
pub const MAX_FEATURES: usize = 10_000;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ImportQuery {
    /// `true` (default): only report what an import would do; `false`: create the fields.
    pub dry_run: Option<bool>,
    /// The attribute that names each field; default: the first of name, nome, NOME, talhao, …,
    /// COD_IMOVEL with a value (KML: the placemark's name), else "Field N".
    pub name_field: Option<String>,
    /// CROP (default) or PASTURE, for every field created.
    pub use_type: Option<String>,
    /// Comma-separated feature indices to create (e.g. `0,2,5`); default: every `ok` feature.
    /// A `duplicate` or `outside_farm_region` feature is created only when listed here.
    pub indices: Option<String>,
    /// The layer of a zip holding several Shapefiles (file name without `.shp`); default: the
    /// only one, or SICAR's AREA_IMOVEL.
    pub layer: Option<String>,
    /// `false` leaves the geometries out of the answer (default `true`).
    pub geometry: Option<bool>,
}

/// One feature of the file and what the import does with it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportFeatureView {
    /// Position in the file, from 0 (the value `indices` takes).
    pub index: usize,
    pub name: String,
    /// Geodesic area, hectares, 2 decimals; absent when the geometry is not a valid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub area_ha: Option<f64>,
    /// ok, invalid or duplicate.
    pub status: String,
    /// A reason of `POST /v1/aois` (not_polygonal, self_intersection, too_small, …),
    /// `outside_farm_region`, or `duplicate`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The farm's field (id) or the earlier feature (`#index`) a duplicate overlaps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duplicate_of: Option<String>,
    /// GeoJSON MultiPolygon, lon/lat WGS84, when the geometry is a valid field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub geometry: Option<serde_json::Value>,
    /// The field created from it (real import only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub aoi_id: Option<String>,
}

/// The answer of an import or its dry run.
#[derive(Debug, Serialize, ToSchema)]
pub struct ImportView {
    /// GeoJSON, KML, KMZ or Shapefile.
    pub format: String,
    /// The Shapefile layer read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// EPSG code of the file's coordinates (reprojected to lon/lat WGS84).
    pub source_epsg: u32,
    pub dry_run: bool,
    /// The attribute names found, for `name_field`.
    pub attributes: Vec<String>,
    pub features: Vec<ImportFeatureView>,
    /// Ids of the fields created, in file order (empty in a dry run).
    pub created: Vec<String>,
    /// Their backfill jobs, in the same order.
    pub backfill_job_ids: Vec<String>,
}

fn use_type(value: Option<&str>) -> ApiResult<String> {
    match value.unwrap_or("CROP") {
        v @ ("CROP" | "PASTURE") => Ok(v.to_owned()),
        _ => Err(ApiError::invalid(
            "use_type",
            "invalid",
            "use_type must be CROP or PASTURE",
        )),
    }
}

fn indices(value: Option<&str>) -> ApiResult<Option<Vec<usize>>> {
    let Some(value) = value else { return Ok(None) };
    value
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            part.trim().parse().map_err(|_| {
                ApiError::invalid(
                    "indices",
                    "invalid",
                    "indices must be feature numbers separated by commas, e.g. 0,2,5",
                )
            })
        })
        .collect::<ApiResult<Vec<usize>>>()
        .map(Some)
}

fn file_error(e: vivacampo_vector::Error) -> ApiError {
    let message = e.to_string();
    let mut chars = message.chars();
    let message = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect::<String>())
        .unwrap_or_default();
    ApiError::invalid("file", e.reason(), message)
}

/// Reads and plans the file (CPU work, run off the async threads).
fn read_and_plan(
    body: &[u8],
    content_type: Option<&str>,
    layer: Option<String>,
    name_field: Option<&str>,
    existing: &[ExistingField],
) -> ApiResult<(Layer, Vec<Planned>)> {
    let options = ReadOptions {
        limits: Limits {
            max_features: MAX_FEATURES,
            ..Limits::default()
        },
        layer,
    };
    let layer = vivacampo_vector::read(body, content_type, &options).map_err(file_error)?;
    if let Some(field) = name_field
        && !layer.has_attribute(field)
    {
        return Err(ApiError::invalid(
            "name_field",
            "unknown_attribute",
            format!(
                "The file has no attribute {field}; it has: {}",
                attribute_names(&layer).join(", ")
            ),
        ));
    }
    let planned = plan(&layer, name_field, existing);
    Ok((layer, planned))
}

fn attribute_names(layer: &Layer) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for feature in &layer.features {
        for (key, _) in &feature.attributes {
            if !names.contains(key) {
                names.push(key.clone());
            }
        }
    }
    names
}

#[utoipa::path(post, path = "/v1/farms/{id}/import", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id"), ImportQuery),
    request_body(description = "The file itself as the body (not a multipart form): GeoJSON Feature or \
        FeatureCollection, KML, KMZ, or a zipped Shapefile with its .prj (a SICAR/CAR download, a zip of \
        per-layer zips, is read from its AREA_IMOVEL layer). The format is sniffed from the content; a \
        Content-Type naming another format is refused. Largest file: the import_limit setting (50 MiB).",
        content(([u8] = "application/zip"), ([u8] = "application/vnd.google-earth.kmz"),
                ([u8] = "application/vnd.google-earth.kml+xml"), ([u8] = "application/geo+json"),
                ([u8] = "application/octet-stream"))),
    responses((status = 200, description = "every feature with its status; in a real import the fields created \
                (all in one transaction) and their backfill jobs", body = ImportView),
              (status = 400, description = "details.field is `file` with details.reason unknown_format, \
                format_mismatch, corrupt, too_large_unzipped, too_many_features, too_many_vertices, missing_prj, \
                unsupported_crs, missing_part, no_layer, several_layers or no_such_layer; or `indices` \
                (invalid, out_of_range, not_importable, nothing_to_import), `name_field` (unknown_attribute), \
                `use_type`. Nothing is created.", body = ErrorBody),
              (status = 403, description = "FORBIDDEN, or QUOTA_EXCEEDED for the whole batch (nothing is created)", body = ErrorBody),
              (status = 404, description = "no such farm", body = ErrorBody),
              (status = 413, description = "the file is larger than import_limit", body = ErrorBody)))]
pub async fn import(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(farm_id): IdPath,
    ApiQuery(q): ApiQuery<ImportQuery>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> ApiResult<Json<ImportView>> {
    let tenant = auth.tenant(Role::Operator)?;
    let body = body.map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::PayloadTooLarge {
                limit: state.config().import_limit,
            }
        } else {
            ApiError::invalid("file", "corrupt", "The file could not be received")
        }
    })?;
    let dry_run = q.dry_run.unwrap_or(true);
    let use_type = use_type(q.use_type.as_deref())?;
    let chosen = indices(q.indices.as_deref())?;
    let name_field = q
        .name_field
        .as_deref()
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .map(str::to_owned);
    let existing: Vec<ExistingField> = state
        .store()
        .farm_aois(tenant, &farm_id)
        .await
        .map_err(|e| not_found(e, "farm"))?
        .into_iter()
        .filter_map(|a| {
            vivacampo_vector::multi_polygon_from_geojson(&a.geometry)
                .map(|geometry| ExistingField { id: a.id, geometry })
        })
        .collect();
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let layer_choice = q.layer.clone();
    let (layer, planned) = tokio::task::spawn_blocking(move || {
        read_and_plan(
            &body,
            content_type.as_deref(),
            layer_choice,
            name_field.as_deref(),
            &existing,
        )
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))??;

    let mut created_by_index = std::collections::HashMap::new();
    let (mut created, mut backfill_job_ids) = (Vec::new(), Vec::new());
    if !dry_run {
        let selected: Vec<usize> = match chosen {
            Some(list) => {
                for &index in &list {
                    let line = planned.get(index).ok_or_else(|| {
                        ApiError::invalid(
                            "indices",
                            "out_of_range",
                            format!("The file has no feature {index}; it has {}", planned.len()),
                        )
                    })?;
                    if !line.importable() {
                        return Err(ApiError::invalid(
                            "indices",
                            "not_importable",
                            format!(
                                "Feature {index} ({}) cannot be imported: {}",
                                line.name,
                                line.message.as_deref().unwrap_or("its geometry is invalid")
                            ),
                        ));
                    }
                }
                let mut list = list;
                list.sort_unstable();
                list.dedup();
                list
            }
            None => planned
                .iter()
                .filter(|p| p.status == Status::Ok)
                .map(|p| p.index)
                .collect(),
        };
        if selected.is_empty() {
            return Err(ApiError::invalid(
                "indices",
                "nothing_to_import",
                "No feature of the file can be imported",
            ));
        }
        let news: Vec<NewAoi> = selected
            .iter()
            .map(|&index| {
                let field = layer.features[index]
                    .geometry
                    .as_ref()
                    .expect("checked: importable features are valid fields");
                NewAoi {
                    farm_id: farm_id.clone(),
                    name: planned[index].name.clone(),
                    use_type: use_type.clone(),
                    shape: Shape {
                        geometry: field.to_geojson(),
                        area_ha: field.area_ha(),
                        bbox: field.bbox(),
                    },
                    backfill_weeks: state.config().default_backfill_weeks,
                }
            })
            .collect();
        let ids = state
            .store()
            .create_aois(tenant, auth.identity_id(), &farm_id, &news)
            .await
            .map_err(|e| not_found(e, "farm"))?;
        for (&index, (aoi_id, job_id)) in selected.iter().zip(ids) {
            created_by_index.insert(index, aoi_id.clone());
            created.push(aoi_id);
            backfill_job_ids.push(job_id);
        }
    }
    let with_geometry = q.geometry.unwrap_or(true);
    let attributes = attribute_names(&layer);
    let features = planned
        .into_iter()
        .map(|p| {
            let field = layer.features[p.index].geometry.as_ref().ok();
            ImportFeatureView {
                index: p.index,
                name: p.name,
                area_ha: field.map(|f| f.area_ha()),
                status: p.status.as_str().to_owned(),
                reason: p.reason.map(str::to_owned),
                message: p.message,
                duplicate_of: p.duplicate_of,
                geometry: field.filter(|_| with_geometry).map(|f| f.to_geojson()),
                aoi_id: created_by_index.remove(&p.index),
            }
        })
        .collect();
    Ok(Json(ImportView {
        format: layer.format.as_str().to_owned(),
        layer: layer.layer.clone(),
        source_epsg: layer.source_epsg,
        dry_run,
        attributes,
        features,
        created,
        backfill_job_ids,
    }))
}

/// A farm's name as a file name: ASCII letters and digits, the rest as dashes.
fn file_stem(name: &str) -> String {
    let mut stem = String::new();
    for c in name.chars() {
        let c = match c {
            'á' | 'à' | 'â' | 'ã' | 'ä' | 'Á' | 'À' | 'Â' | 'Ã' | 'Ä' => 'a',
            'é' | 'ê' | 'è' | 'É' | 'Ê' | 'È' => 'e',
            'í' | 'Í' | 'ì' => 'i',
            'ó' | 'ô' | 'õ' | 'ö' | 'Ó' | 'Ô' | 'Õ' => 'o',
            'ú' | 'ü' | 'Ú' | 'Ü' => 'u',
            'ç' | 'Ç' => 'c',
            c if c.is_ascii_alphanumeric() => c.to_ascii_lowercase(),
            _ => '-',
        };
        if c != '-' || !stem.ends_with('-') {
            stem.push(c);
        }
    }
    let stem = stem.trim_matches('-');
    if stem.is_empty() {
        "fields".to_owned()
    } else {
        format!("{stem}-fields")
    }
}

/// The farm's file stem and its fields, for export.
async fn export_fields(
    state: &AppState,
    auth: &Auth,
    farm_id: &str,
) -> ApiResult<(String, Vec<ExportField>)> {
    let tenant = auth.tenant(Role::Viewer)?;
    let farm = state
        .store()
        .farm(tenant, farm_id)
        .await
        .map_err(|e| not_found(e, "farm"))?;
    let fields = state
        .store()
        .farm_aois(tenant, farm_id)
        .await
        .map_err(|e| not_found(e, "farm"))?
        .into_iter()
        .filter_map(|a| {
            let geometry = vivacampo_vector::multi_polygon_from_geojson(&a.geometry)?;
            Some(ExportField {
                id: a.id,
                name: a.name,
                use_type: a.use_type,
                area_ha: a.area_ha,
                geometry,
            })
        })
        .collect();
    Ok((file_stem(&farm.name), fields))
}

fn download(content_type: &'static str, filename: String, bytes: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{filename}\""),
            ),
        ],
        bytes,
    )
        .into_response()
}

#[utoipa::path(get, path = "/v1/farms/{id}/fields.geojson", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, description = "the farm's fields as a GeoJSON FeatureCollection (lon/lat WGS84; \
                properties id, name, use_type, area_ha)", content_type = "application/geo+json"),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, description = "no such farm", body = ErrorBody)))]
pub async fn export_geojson(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (stem, fields) = export_fields(&state, &auth, &id).await?;
    let bytes = vivacampo_vector::write_geojson(&fields);
    Ok(download(
        "application/geo+json",
        format!("{stem}.geojson"),
        bytes,
    ))
}

#[utoipa::path(get, path = "/v1/farms/{id}/fields.kml", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, description = "the farm's fields as KML placemarks (name; id, use_type, area_ha as \
                extended data)", content_type = "application/vnd.google-earth.kml+xml"),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, description = "no such farm", body = ErrorBody)))]
pub async fn export_kml(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (stem, fields) = export_fields(&state, &auth, &id).await?;
    let bytes = vivacampo_vector::write_kml(&stem, &fields);
    Ok(download(
        "application/vnd.google-earth.kml+xml",
        format!("{stem}.kml"),
        bytes,
    ))
}

#[utoipa::path(get, path = "/v1/farms/{id}/fields.zip", tag = "fields", security(("bearer" = [])),
    params(("id" = String, Path, description = "farm id")),
    responses((status = 200, description = "the farm's fields as a zipped Shapefile (.shp .shx .dbf .prj .cpg; \
                lon/lat WGS84; attributes id, name, use_type, area_ha in UTF-8)", content_type = "application/zip"),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, description = "no such farm", body = ErrorBody)))]
pub async fn export_shapefile(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
) -> ApiResult<Response> {
    let (stem, fields) = export_fields(&state, &auth, &id).await?;
    let bytes = tokio::task::spawn_blocking(move || {
        let bytes = vivacampo_vector::write_shapefile_zip(&stem, &fields);
        (stem, bytes)
    })
    .await
    .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(download(
        "application/zip",
        format!("{}.zip", bytes.0),
        bytes.1,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_stems_are_ascii() {
        assert_eq!(file_stem("Fazenda São José"), "fazenda-sao-jose-fields");
        assert_eq!(file_stem("  ***  "), "fields");
    }

    #[test]
    fn indices_parse_or_name_the_parameter() {
        assert_eq!(indices(Some("0, 2,5,")).unwrap(), Some(vec![0, 2, 5]));
        assert_eq!(indices(None).unwrap(), None);
        assert!(indices(Some("a")).is_err());
    }
}
