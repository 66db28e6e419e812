//! Map tiles of every index for every field-week (API.md "Tiles"): the TileJSON that hands out
//! signed URL templates, the PNG tiles themselves, and the index catalogue with legends.
//!
//! A tile request is checked (syntax, then signature) before anything is read; a fixed-week URL
//! names the raster version it was signed for, which is one file that is never rewritten (each
//! processing writes a new key), so it needs no database query at all and its response never
//! changes: `Cache-Control: immutable`. Once the week is reprocessed the old file goes, and the
//! old URL answers 404 instead of other content. Rendering is bounded by a semaphore sized
//! to the cores and runs on the blocking pool; an overload waits briefly, then gets 503.

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Json;
use axum::body::Bytes;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;
use vivacampo_core::flags::Flag;
use vivacampo_core::metrics::Registry;
use vivacampo_core::tenancy::Role;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::store::{RasterVersion, field_week_key, radar_week_key};
use vivacampo_raster::radar::is_radar_index;

use crate::credentials::hex;
use crate::error::{ApiError, ApiResult};
use crate::extract::{ApiQuery, Auth, IdPath};
use crate::routes::farms::not_found;
use crate::routes::weeks::index_name;
use crate::state::AppState;
use crate::views::ErrorBody;

pub mod cache;
pub mod signing;
pub mod tiler;

pub use tiler::{MAX_ZOOM, MIN_ZOOM, TileConfig, Tiler};

use signing::{Refusal, TileGrant};
use tiler::RenderError;

/// A fixed week's tile can only change through reprocessing, which changes its URL.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";
/// "Latest" follows new weeks.
const SHORT: &str = "public, max-age=60";
/// Signed URLs expire on the hour, so URLs handed out within an hour are the same (CDN hits).
const EXPIRY_STEP: i64 = 3600;
const ATTRIBUTION: &str = "Contains modified Copernicus Sentinel data";

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TileJsonQuery {
    /// Index name, default ndvi.
    #[param(schema_with = crate::openapi::schemas::index)]
    pub index: Option<String>,
    /// ISO year of the week; with `week`. Without both, the latest OK week.
    #[param(schema_with = crate::openapi::schemas::year)]
    pub year: Option<i32>,
    /// ISO week number (1 to 53, 53 only in years that have it); with `year`.
    #[param(schema_with = crate::openapi::schemas::week)]
    pub week: Option<u8>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TileQuery {
    /// Index name, default ndvi.
    #[param(schema_with = crate::openapi::schemas::index)]
    pub index: Option<String>,
    /// As signed in the TileJSON.
    #[param(schema_with = crate::openapi::schemas::year)]
    pub year: Option<i32>,
    /// As signed in the TileJSON.
    #[param(schema_with = crate::openapi::schemas::week)]
    pub week: Option<u8>,
    /// Tenant the URL was signed for.
    pub tenant: Option<String>,
    /// Version of the field-week raster the URL was signed for.
    pub v: Option<String>,
    /// Expiry of the signature, unix seconds.
    pub exp: Option<i64>,
    /// HMAC-SHA256 signature from the TileJSON.
    pub sig: Option<String>,
}

/// TileJSON 3.0.0 of one field, index and week.
#[derive(Debug, Serialize, ToSchema)]
pub struct TileJson {
    pub tilejson: &'static str,
    pub name: String,
    pub scheme: &'static str,
    /// One URL template with `{z}/{x}/{y}` and the signature; needs no header.
    pub tiles: Vec<String>,
    /// `[west, south, east, north]` of the field.
    pub bounds: [f64; 4],
    /// `[lon, lat, zoom]`.
    pub center: [f64; 3],
    pub minzoom: u8,
    pub maxzoom: u8,
    pub attribution: String,
    pub index: String,
    /// `optical` (Sentinel-2 field-week COG) or `radar` (Sentinel-1 radar COG).
    #[schema(schema_with = crate::openapi::schemas::sensor)]
    pub sensor: &'static str,
    /// The week shown (`null` year/week: the latest OK week, resolved per tile request).
    pub year: Option<i32>,
    #[schema(minimum = 1, maximum = 53)]
    pub week: Option<u8>,
    /// When the signature in `tiles` expires (RFC 3339).
    #[schema(format = DateTime)]
    pub expires_at: String,
    /// The index's colours from low to high values.
    pub legend: Vec<LegendStop>,
}

/// One colour of an index's legend.
#[derive(Debug, Serialize, ToSchema)]
pub struct LegendStop {
    pub value: f64,
    /// `#rrggbb`.
    #[schema(pattern = "^#[0-9a-f]{6}$")]
    pub color: String,
}

fn week_param(year: Option<i32>, week: Option<u8>) -> ApiResult<Option<IsoWeek>> {
    match (year, week) {
        (None, None) => Ok(None),
        (Some(y), Some(w)) => IsoWeek::new(y, w).map(Some).ok_or_else(|| {
            ApiError::invalid("week", "invalid", format!("{y}-W{w:02} is not an ISO week"))
        }),
        _ => Err(ApiError::invalid(
            "week",
            "invalid",
            "give year and week together, or neither for the latest week",
        )),
    }
}

/// One processed week of a field as the tiler sees it: optical (`aoi_weeks`) or radar
/// (`aoi_radar_weeks`), newest first.
struct WeekRaster {
    week: IsoWeek,
    ok: bool,
    key: Option<String>,
}

/// The storage key of a field-week raster: the optical COG, or the radar COG of a radar index.
fn week_key(radar: bool, tenant: Uuid, aoi: Uuid, year: i32, week: u8, v: RasterVersion) -> String {
    if radar {
        radar_week_key(tenant, aoi, year, week, v)
    } else {
        field_week_key(tenant, aoi, year, week, v)
    }
}

/// The processed weeks the tiles of `index` come from: the radar weeks for a radar index.
async fn week_rasters(
    state: &AppState,
    tenant: &str,
    aoi: &str,
    index: &str,
) -> ApiResult<Vec<WeekRaster>> {
    Ok(if is_radar_index(index) {
        state
            .store()
            .radar_week_records(tenant, aoi)
            .await?
            .into_iter()
            .map(|r| WeekRaster {
                week: r.week,
                ok: r.status == "OK",
                key: r.raster_key,
            })
            .collect()
    } else {
        state
            .store()
            .aoi_week_records(tenant, aoi)
            .await?
            .into_iter()
            .map(|r| WeekRaster {
                week: r.week,
                ok: r.status == "OK",
                key: r.raster_key,
            })
            .collect()
    })
}

/// Version of a week's raster, named by its key (each processing writes a new one). `None` when
/// the week has no raster in the store's key layout.
fn raster_version(tenant: &str, aoi: &str, radar: bool, record: &WeekRaster) -> Option<String> {
    let key = record.key.as_deref()?;
    let version = RasterVersion::of_key(key)?;
    let (t, a) = (Uuid::parse_str(tenant).ok()?, Uuid::parse_str(aoi).ok()?);
    let expected = week_key(radar, t, a, record.week.year, record.week.week, version);
    (expected == key).then(|| version.to_string())
}

/// The newest OK week with a raster.
fn latest_week(
    tenant: &str,
    aoi: &str,
    radar: bool,
    records: &[WeekRaster],
) -> Option<tiler::LatestWeek> {
    records
        .iter()
        .filter(|r| r.ok)
        .find_map(|r| raster_version(tenant, aoi, radar, r).map(|v| (r.week.year, r.week.week, v)))
}

/// Counts tile requests shed; with 0, makes the counter exist from the start (alert rules
/// and dashboards need it before the first shed).
pub fn count_shed(metrics: &Registry, by: f64) {
    metrics.inc(
        "vivacampo_tile_shed_total",
        "Tile requests refused with 503 because every render slot was busy.",
        &[],
        by,
    );
}

fn now_unix() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// The zoom at which a bounding box spans about 512 pixels, within the served range.
fn fitting_zoom(bbox: [f64; 4]) -> u8 {
    let span = (bbox[2] - bbox[0]).max(bbox[3] - bbox[1]).max(1e-6);
    let zoom = (360.0 * 2.0 / span).log2().floor();
    zoom.clamp(f64::from(MIN_ZOOM), f64::from(MAX_ZOOM - 1)) as u8
}

/// Scheme and host the client used, for absolute tile URLs (map clients need them) when the
/// `public_url` setting does not name them.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic()));
    let proto = headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
        .filter(|p| matches!(*p, "http" | "https"))
        .unwrap_or("http");
    host.map_or_else(String::new, |h| format!("{proto}://{h}"))
}

#[utoipa::path(get, path = "/v1/tiles/aois/{id}/tilejson.json", tag = "tiles", security(("bearer" = [])),
    params(("id" = String, Path, description = "field id"), TileJsonQuery),
    responses((status = 200, body = TileJson), (status = 400, body = ErrorBody),
              (status = 403, description = "FORBIDDEN (suspended workspace)", body = ErrorBody),
              (status = 404, description = "no such field, or no processed week", body = ErrorBody)))]
pub async fn tilejson(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TileJsonQuery>,
) -> ApiResult<Json<TileJson>> {
    let tenant = auth.tenant(Role::Viewer)?;
    state.require(Flag::Tiles, Some(tenant)).await?;
    let index = tile_index(q.index.as_deref())?;
    let wanted = week_param(q.year, q.week)?;
    let aoi = state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let radar = is_radar_index(&index);
    let records = week_rasters(&state, tenant, &id, &index).await?;
    let (week, version, shown) = match wanted {
        Some(w) => {
            let version = records
                .iter()
                .find(|r| r.week == w && r.ok)
                .and_then(|r| raster_version(tenant, &id, radar, r))
                .ok_or_else(|| {
                    let what = if radar { "radar raster" } else { "raster" };
                    ApiError::NotFound(format!("no processed {what} for {}-W{:02}", w.year, w.week))
                })?;
            (Some((w.year, w.week)), version, w)
        }
        None => {
            let (y, w, _) = latest_week(tenant, &id, radar, &records).ok_or_else(|| {
                let what = if radar { "radar week" } else { "week" };
                ApiError::NotFound(format!("this field has no processed {what} yet"))
            })?;
            let shown = IsoWeek::new(y, w).ok_or_else(|| ApiError::Internal("bad week".into()))?;
            (None, String::new(), shown)
        }
    };
    let tiler = state.tiler();
    let ttl = tiler.config().url_ttl.as_secs() as i64;
    let expires = (now_unix() + ttl).div_euclid(EXPIRY_STEP) * EXPIRY_STEP + EXPIRY_STEP;
    let grant = TileGrant {
        tenant,
        aoi: &id,
        index: &index,
        week,
        version: &version,
        expires,
    };
    let sig = tiler.signer().sign(&grant);
    let mut query = format!("index={index}");
    if let Some((y, w)) = week {
        query.push_str(&format!("&year={y}&week={w}&v={version}"));
    }
    query.push_str(&format!("&tenant={tenant}&exp={expires}&sig={sig}"));
    let info = vivacampo_raster::index::info(&index)
        .or_else(|| vivacampo_raster::radar::info(&index))
        .ok_or_else(|| ApiError::Internal("catalogue lost an index".into()))?;
    let bbox = aoi.bbox;
    Ok(Json(TileJson {
        tilejson: "3.0.0",
        name: format!("{} · {}", aoi.name, info.title),
        scheme: "xyz",
        tiles: vec![format!(
            "{}/v1/tiles/aois/{id}/{{z}}/{{x}}/{{y}}.png?{query}",
            state
                .config()
                .public_url
                .clone()
                .unwrap_or_else(|| base_url(&headers))
        )],
        bounds: bbox,
        center: [
            (bbox[0] + bbox[2]) / 2.0,
            (bbox[1] + bbox[3]) / 2.0,
            f64::from(fitting_zoom(bbox)),
        ],
        minzoom: MIN_ZOOM,
        maxzoom: MAX_ZOOM,
        attribution: format!("{ATTRIBUTION} {}", shown.start().year()),
        sensor: if radar { "radar" } else { "optical" },
        index,
        year: week.map(|(y, _)| y),
        week: week.map(|(_, w)| w),
        expires_at: crate::views::rfc3339(expires * 1000),
        legend: legend(&info),
    }))
}

/// The index of a tile request: an optical index, or a radar one (drawn from the radar COG).
fn tile_index(value: Option<&str>) -> ApiResult<String> {
    index_name(value)
}

fn parse_tile(z: &str, x: &str, y: &str) -> ApiResult<(u8, u32, u32)> {
    let bad = || {
        ApiError::invalid(
            "z/x/y",
            "invalid_tile",
            format!("no tile {z}/{x}/{y}; expected /{{z}}/{{x}}/{{y}}.png"),
        )
    };
    let y = y.strip_suffix(".png").ok_or_else(bad)?;
    let (z, x, y) = (
        z.parse::<u8>().map_err(|_| bad())?,
        x.parse::<u32>().map_err(|_| bad())?,
        y.parse::<u32>().map_err(|_| bad())?,
    );
    vivacampo_raster::tile::validate(z, x, y).map_err(|_| bad())?;
    if !(MIN_ZOOM..=MAX_ZOOM).contains(&z) {
        return Err(ApiError::invalid(
            "z",
            "zoom_out_of_range",
            format!("zoom {z} is outside {MIN_ZOOM}..={MAX_ZOOM} (see the TileJSON)"),
        ));
    }
    Ok((z, x, y))
}

/// `If-None-Match` names `etag` (or is `*`).
fn matches_etag(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|t| t.trim().trim_start_matches("W/"))
        .any(|t| t == etag || t == "*")
}

fn tile_response(
    status: StatusCode,
    etag: &str,
    cache_control: &'static str,
    png: Option<Bytes>,
) -> Response {
    let mut response = match png {
        Some(png) => ([(header::CONTENT_TYPE, "image/png")], png).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    };
    if status == StatusCode::NOT_MODIFIED {
        *response.body_mut() = axum::body::Body::empty();
        response.headers_mut().remove(header::CONTENT_TYPE);
    }
    *response.status_mut() = status;
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(etag) {
        headers.insert(header::ETAG, v);
    }
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static(cache_control),
    );
    response
}

#[utoipa::path(get, path = "/v1/tiles/aois/{id}/{z}/{x}/{y}.png", tag = "tiles",
    params(("id" = String, Path, description = "field id"), ("z" = u8, Path, description = "zoom, 10 to 18", minimum = 10, maximum = 18),
           ("x" = u32, Path, description = "column, 0 to 2^z - 1"), ("y" = u32, Path, description = "row, 0 to 2^z - 1"), TileQuery),
    responses(
        (status = 200, description = "256×256 RGBA PNG, transparent outside the field and where masked", content_type = "image/png"),
        (status = 204, description = "the tile holds nothing of the field"),
        (status = 304, description = "If-None-Match matched the ETag"),
        (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody),
        (status = 503, description = "renderer saturated; retry after Retry-After", body = ErrorBody)))]
pub async fn tile(
    State(state): State<AppState>,
    path: Result<Path<(String, String, String, String)>, PathRejection>,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TileQuery>,
) -> ApiResult<Response> {
    // Syntax, then the signature: nothing is read before both pass. A path that is not even
    // text (bad percent-encoding) is a bad tile address too, in the API's error shape.
    let Path((id, z, x, y)) = path.map_err(|_| {
        ApiError::invalid(
            "z/x/y",
            "invalid_tile",
            "expected /v1/tiles/aois/{id}/{z}/{x}/{y}.png",
        )
    })?;
    let (z, x, y) = parse_tile(&z, &x, &y)?;
    let index = tile_index(q.index.as_deref())?;
    let week = week_param(q.year, q.week)?;
    let unsigned = || {
        ApiError::Unauthenticated("tile URLs must be signed; take them from the TileJSON".into())
    };
    let (tenant, sig, expires) = match (q.tenant.as_deref(), q.sig.as_deref(), q.exp) {
        (Some(t), Some(s), Some(e)) => (t, s, e),
        _ => return Err(unsigned()),
    };
    let version = q.v.as_deref().unwrap_or_default();
    let grant = TileGrant {
        tenant,
        aoi: &id,
        index: &index,
        week: week.map(|w| (w.year, w.week)),
        version,
        expires,
    };
    let tiler = state.tiler();
    match tiler.signer().verify(&grant, sig, now_unix()) {
        Ok(()) => {}
        Err(Refusal::Expired) => {
            return Err(ApiError::Unauthenticated(
                "this tile URL has expired; fetch the TileJSON again".into(),
            ));
        }
        Err(Refusal::Invalid) => {
            return Err(ApiError::Unauthenticated("invalid tile signature".into()));
        }
    }
    state.require(Flag::Tiles, Some(tenant)).await?;
    // Signed: the ids are ours, but check them before they go near a storage key.
    let (tenant_id, aoi_id) = match (Uuid::parse_str(tenant), Uuid::parse_str(&id)) {
        (Ok(t), Ok(a)) => (t, a),
        _ => return Err(ApiError::not_found("field")),
    };
    let radar = is_radar_index(&index);
    let (year, week_no, version, cache_control) = match week {
        Some(w) => (w.year, w.week, version.to_owned(), IMMUTABLE),
        None => {
            // Radar and optical weeks are remembered apart: their latest weeks differ.
            let sensor = if radar { "radar" } else { "optical" };
            let latest = match tiler.latest(tenant, &id, sensor) {
                Some(latest) => latest,
                None => {
                    let records = week_rasters(&state, tenant, &id, &index).await?;
                    let latest = latest_week(tenant, &id, radar, &records);
                    tiler.remember_latest(tenant, &id, sensor, latest.clone());
                    latest
                }
            };
            let (y, w, v) = latest.ok_or_else(|| ApiError::not_found("processed week"))?;
            (y, w, v, SHORT)
        }
    };
    let raster_version =
        RasterVersion::parse(&version).ok_or_else(|| ApiError::not_found("raster"))?;
    let identity = format!("{tenant}/{id}/{index}/{year}-W{week_no:02}/{version}/{z}/{x}/{y}");
    let etag = format!("\"{}\"", hex(&Sha256::digest(identity.as_bytes())[..12]));
    if matches_etag(&headers, &etag) {
        return Ok(tile_response(
            StatusCode::NOT_MODIFIED,
            &etag,
            cache_control,
            None,
        ));
    }
    let metrics = state.metrics();
    if let Some(png) = tiler.cached(&identity, metrics) {
        let status = if png.is_some() {
            StatusCode::OK
        } else {
            StatusCode::NO_CONTENT
        };
        return Ok(tile_response(status, &etag, cache_control, png));
    }
    let key = week_key(radar, tenant_id, aoi_id, year, week_no, raster_version);
    let cog_id: Arc<str> = key.as_str().into();
    if tiler.misses_cached_cog(&cog_id, (z, x, y)) {
        return Ok(tile_response(
            StatusCode::NO_CONTENT,
            &etag,
            cache_control,
            None,
        ));
    }
    let Some(permit) = tiler.admit().await else {
        count_shed(metrics, 1.0);
        return Err(ApiError::Unavailable(
            "the tile renderer is busy; retry shortly".into(),
        ));
    };
    let render_state = state.clone();
    let handle = tokio::runtime::Handle::current();
    let rendered = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        render_state.tiler().render(
            &handle,
            render_state.rasters(),
            &key,
            &cog_id,
            (z, x, y),
            &index,
            render_state.metrics(),
        )
    })
    .await
    .map_err(|e| ApiError::Internal(format!("tile render task failed: {e}")))?;
    let png = match rendered {
        Ok(png) => png.map(Bytes::from),
        Err(RenderError::Missing) => return Err(ApiError::not_found("raster")),
        Err(RenderError::Storage(e)) => {
            tracing::warn!(error = %e, "cannot read a field-week raster for a tile");
            return Err(ApiError::Unavailable(
                "raster storage is unavailable".into(),
            ));
        }
        Err(RenderError::Unsupported(e)) => {
            return Err(ApiError::invalid("index", "index_unavailable", e));
        }
        Err(RenderError::Raster(e)) => return Err(ApiError::Internal(format!("tile render: {e}"))),
    };
    tiler.remember(identity, png.clone());
    let status = if png.is_some() {
        StatusCode::OK
    } else {
        StatusCode::NO_CONTENT
    };
    Ok(tile_response(status, &etag, cache_control, png))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Indices {
    pub items: Vec<IndexEntry>,
}

/// One index of the catalogue.
#[derive(Debug, Serialize, ToSchema)]
pub struct IndexEntry {
    #[schema(schema_with = crate::openapi::schemas::index)]
    pub name: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub formula: &'static str,
    /// `optical` (Sentinel-2) or `radar` (Sentinel-1).
    #[schema(schema_with = crate::openapi::schemas::sensor)]
    pub sensor: &'static str,
    /// Band names the formula reads: Sentinel-2's, or the radar COG's `VV` and `VH`.
    pub bands: Vec<&'static str>,
    /// `[lo, hi]` the colormap spans.
    pub range: [f64; 2],
    pub colormap: &'static str,
    pub legend: Vec<LegendStop>,
}

fn legend(info: &vivacampo_raster::index::IndexInfo) -> Vec<LegendStop> {
    info.legend
        .iter()
        .map(|s| LegendStop {
            value: s.value,
            color: s.color.clone(),
        })
        .collect()
}

#[utoipa::path(get, path = "/v1/indices", tag = "tiles",
    responses((status = 200, description = "every index with its formula, bands, display range, colormap and legend", body = Indices)))]
pub async fn indices() -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(Indices {
            items: vivacampo_raster::index::catalogue()
                .into_iter()
                .map(|i| ("optical", i))
                .chain(
                    vivacampo_raster::radar::INDICES
                        .iter()
                        .filter_map(|n| vivacampo_raster::radar::info(n))
                        .map(|i| ("radar", i)),
                )
                .map(|(sensor, i)| IndexEntry {
                    legend: legend(&i),
                    sensor,
                    name: i.name,
                    title: i.title,
                    description: i.description,
                    formula: i.formula,
                    bands: i.bands,
                    range: i.range,
                    colormap: i.colormap,
                })
                .collect(),
        }),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tile_paths() {
        assert_eq!(parse_tile("14", "5", "6.png").unwrap(), (14, 5, 6));
        for (z, x, y) in [
            ("14", "5", "6"),
            ("14", "16384", "1.png"),
            ("a", "1", "1.png"),
            ("9", "1", "1.png"),
            ("19", "1", "1.png"),
        ] {
            assert!(parse_tile(z, x, y).is_err(), "{z}/{x}/{y}");
        }
    }

    #[test]
    fn etags_and_zooms() {
        let mut h = HeaderMap::new();
        h.insert(
            header::IF_NONE_MATCH,
            HeaderValue::from_static("\"x\", W/\"abc\""),
        );
        assert!(matches_etag(&h, "\"abc\""));
        assert!(!matches_etag(&h, "\"abd\""));
        assert_eq!(fitting_zoom([-49.3, -16.7, -49.29, -16.69]), 16);
        assert_eq!(fitting_zoom([-50.0, -17.0, -40.0, -10.0]), MIN_ZOOM);
    }
}
