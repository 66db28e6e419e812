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
use vivacampo_core::tenancy::Role;
use vivacampo_core::weeks::IsoWeek;
use vivacampo_imagery::store::{RasterVersion, field_week_key};
use vivacampo_store::field_weeks::WeekRecord;

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
pub struct TileJsonQuery {
    /// Index name, default ndvi.
    pub index: Option<String>,
    /// ISO year of the week; with `week`. Without both, the latest OK week.
    pub year: Option<i32>,
    /// ISO week number; with `year`.
    pub week: Option<u8>,
}

#[derive(Debug, Deserialize, IntoParams)]
pub struct TileQuery {
    /// Index name, default ndvi.
    pub index: Option<String>,
    pub year: Option<i32>,
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
    /// The week shown (`null` year/week: the latest OK week, resolved per tile request).
    pub year: Option<i32>,
    pub week: Option<u8>,
    /// When the signature in `tiles` expires (RFC 3339).
    pub expires_at: String,
    #[schema(value_type = Object)]
    pub legend: serde_json::Value,
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

/// Version of a week's raster, named by its key (each processing writes a new one). `None` when
/// the week has no raster in the store's key layout.
fn raster_version(tenant: &str, aoi: &str, record: &WeekRecord) -> Option<String> {
    let key = record.raster_key.as_deref()?;
    let version = RasterVersion::of_key(key)?;
    let (t, a) = (Uuid::parse_str(tenant).ok()?, Uuid::parse_str(aoi).ok()?);
    let expected = field_week_key(t, a, record.week.year, record.week.week, version);
    (expected == key).then(|| version.to_string())
}

/// The newest OK week with a raster.
fn latest_week(tenant: &str, aoi: &str, records: &[WeekRecord]) -> Option<tiler::LatestWeek> {
    records
        .iter()
        .filter(|r| r.status == "OK")
        .find_map(|r| raster_version(tenant, aoi, r).map(|v| (r.week.year, r.week.week, v)))
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

/// Scheme and host the client used, for absolute tile URLs (map clients need them).
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
    responses((status = 200, body = TileJson), (status = 400, body = ErrorBody), (status = 404, body = ErrorBody)))]
pub async fn tilejson(
    State(state): State<AppState>,
    auth: Auth,
    IdPath(id): IdPath,
    headers: HeaderMap,
    ApiQuery(q): ApiQuery<TileJsonQuery>,
) -> ApiResult<Json<TileJson>> {
    let tenant = auth.tenant(Role::Viewer)?;
    let index = index_name(q.index.as_deref())?;
    let wanted = week_param(q.year, q.week)?;
    let aoi = state
        .store()
        .aoi(tenant, &id)
        .await
        .map_err(|e| not_found(e, "field"))?;
    let records = state.store().aoi_week_records(tenant, &id).await?;
    let (week, version, shown) = match wanted {
        Some(w) => {
            let version = records
                .iter()
                .find(|r| r.week == w && r.status == "OK")
                .and_then(|r| raster_version(tenant, &id, r))
                .ok_or_else(|| {
                    ApiError::NotFound(format!("no processed raster for {}-W{:02}", w.year, w.week))
                })?;
            (Some((w.year, w.week)), version, w)
        }
        None => {
            let (y, w, _) = latest_week(tenant, &id, &records)
                .ok_or_else(|| ApiError::NotFound("this field has no processed week yet".into()))?;
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
        .ok_or_else(|| ApiError::Internal("catalogue lost an index".into()))?;
    let bbox = aoi.bbox;
    Ok(Json(TileJson {
        tilejson: "3.0.0",
        name: format!("{} · {}", aoi.name, info.title),
        scheme: "xyz",
        tiles: vec![format!(
            "{}/v1/tiles/aois/{id}/{{z}}/{{x}}/{{y}}.png?{query}",
            base_url(&headers)
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
        index,
        year: week.map(|(y, _)| y),
        week: week.map(|(_, w)| w),
        expires_at: crate::views::rfc3339(expires * 1000),
        legend: serde_json::to_value(&info.legend).unwrap_or_default(),
    }))
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
    params(("id" = String, Path, description = "field id"), ("z" = u8, Path), ("x" = u32, Path), ("y" = u32, Path), TileQuery),
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
    let index = index_name(q.index.as_deref())?;
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
    // Signed: the ids are ours, but check them before they go near a storage key.
    let (tenant_id, aoi_id) = match (Uuid::parse_str(tenant), Uuid::parse_str(&id)) {
        (Ok(t), Ok(a)) => (t, a),
        _ => return Err(ApiError::not_found("field")),
    };
    let (year, week_no, version, cache_control) = match week {
        Some(w) => (w.year, w.week, version.to_owned(), IMMUTABLE),
        None => {
            let latest = match tiler.latest(tenant, &id) {
                Some(latest) => latest,
                None => {
                    let records = state.store().aoi_week_records(tenant, &id).await?;
                    let latest = latest_week(tenant, &id, &records);
                    tiler.remember_latest(tenant, &id, latest.clone());
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
    let key = field_week_key(tenant_id, aoi_id, year, week_no, raster_version);
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
        metrics.inc(
            "vivacampo_tile_shed_total",
            "Tile requests refused with 503 because every render slot was busy.",
            &[],
            1.0,
        );
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
    #[schema(value_type = Vec<Object>)]
    pub items: Vec<vivacampo_raster::index::IndexInfo>,
}

#[utoipa::path(get, path = "/v1/indices", tag = "tiles",
    responses((status = 200, description = "every index with its formula, bands, display range, colormap and legend", body = Indices)))]
pub async fn indices() -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(Indices {
            items: vivacampo_raster::index::catalogue(),
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
