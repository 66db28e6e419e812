//! A static catalog served as a STAC API over HTTP: `POST`/`GET /search` (bbox or intersects,
//! datetime interval, collections, `eo:cloud_cover` query, sort by datetime, paging by `next`
//! links) and the catalog's files under `/files/…` with HTTP range requests (206 +
//! `Content-Range`).
//!
//! It lets a fleet of workers on a closed network share one offline catalog
//! (`vivacampo imagery serve-catalog`), and it is the loopback server the pipeline is tested
//! through: the same client and reader as Earth Search, over real HTTP.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::error::{Error, Result};
use crate::stac::{geometry_bbox, json_files, overlaps};

/// Largest page a search returns.
const MAX_LIMIT: usize = 100;

/// One item of the catalog, with what searches filter on.
struct Entry {
    /// The item JSON as stored; hrefs stay relative to `path`.
    item: Value,
    /// Path of the item file relative to the catalog root, with `/` separators.
    path: String,
    datetime: OffsetDateTime,
    bbox: [f64; 4],
    cloud_cover: f64,
    collection: Option<String>,
}

struct Catalog {
    root: PathBuf,
    entries: Vec<Entry>,
}

/// The router serving the catalog whose root (a directory with `catalog.json`, or a directory
/// of item files) is `root`. Items are read once, here.
pub fn router(root: &Path) -> Result<Router> {
    let root = std::path::absolute(root).map_err(|e| Error::io(root, e))?;
    let mut files = Vec::new();
    json_files(&root, &mut files)?;
    let mut entries = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).map_err(|e| Error::io(&file, e))?;
        let item: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
            what: file.display().to_string(),
            source,
        })?;
        if item["type"] != "Feature" {
            continue;
        }
        let bad = |what: &str| Error::Catalog(format!("{}: {what}", file.display()));
        let datetime = item["properties"]["datetime"]
            .as_str()
            .and_then(|d| OffsetDateTime::parse(d, &Rfc3339).ok())
            .ok_or_else(|| bad("no valid properties.datetime"))?;
        let bbox = bbox_of(&item["bbox"]).ok_or_else(|| bad("no bbox"))?;
        let path = file
            .strip_prefix(&root)
            .map_err(|_| bad("outside the catalog"))?
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/");
        entries.push(Entry {
            cloud_cover: item["properties"]["eo:cloud_cover"].as_f64().unwrap_or(0.0),
            collection: item["collection"].as_str().map(str::to_owned),
            item,
            path,
            datetime,
            bbox,
        });
    }
    entries.sort_by(|a, b| a.datetime.cmp(&b.datetime).then(a.path.cmp(&b.path)));
    let state = Arc::new(Catalog { root, entries });
    Ok(Router::new()
        .route("/", get(landing))
        .route("/conformance", get(conformance))
        .route("/search", get(search_get).post(search_post))
        .route("/files/{*path}", get(file))
        .with_state(state))
}

fn bbox_of(v: &Value) -> Option<[f64; 4]> {
    let a = v.as_array()?;
    let n = |i: usize| a.get(i)?.as_f64();
    match a.len() {
        4 => Some([n(0)?, n(1)?, n(2)?, n(3)?]),
        6 => Some([n(0)?, n(1)?, n(3)?, n(4)?]),
        _ => None,
    }
}

/// The base URL clients reached us at, for absolute links.
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("localhost");
    format!("http://{host}")
}

async fn landing(headers: HeaderMap) -> Json<Value> {
    let base = base_url(&headers);
    Json(json!({
        "type": "Catalog",
        "stac_version": "1.0.0",
        "id": "vivacampo-catalog",
        "description": "A static catalog served by vivacampo imagery serve-catalog",
        "conformsTo": CONFORMANCE,
        "links": [
            {"rel": "self", "href": format!("{base}/")},
            {"rel": "search", "href": format!("{base}/search"), "method": "POST", "type": "application/geo+json"},
            {"rel": "search", "href": format!("{base}/search"), "method": "GET", "type": "application/geo+json"},
        ],
    }))
}

const CONFORMANCE: [&str; 3] = [
    "https://api.stacspec.org/v1.0.0/core",
    "https://api.stacspec.org/v1.0.0/item-search",
    "https://api.stacspec.org/v1.0.0/item-search#query",
];

async fn conformance() -> Json<Value> {
    Json(json!({ "conformsTo": CONFORMANCE }))
}

/// A search refused with a STAC API error body.
fn bad_request(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"code": "BadRequest", "description": message.into()})),
    )
        .into_response()
}

/// The search parameters, from a POST body or GET query (normalised to the POST shape).
struct SearchQuery {
    area: Option<[f64; 4]>,
    start: Option<OffsetDateTime>,
    end: Option<OffsetDateTime>,
    collections: Option<Vec<String>>,
    max_cloud: Option<f64>,
    descending: bool,
    limit: usize,
    offset: usize,
}

fn parse_instant(s: &str, end: bool) -> std::result::Result<Option<OffsetDateTime>, String> {
    let s = s.trim();
    if s.is_empty() || s == ".." {
        return Ok(None);
    }
    if let Ok(t) = OffsetDateTime::parse(s, &Rfc3339) {
        return Ok(Some(t));
    }
    let date = time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]"))
        .map_err(|_| format!("invalid datetime {s:?}"))?;
    let t = date.midnight().assume_utc();
    Ok(Some(if end {
        t + time::Duration::days(1) - time::Duration::nanoseconds(1)
    } else {
        t
    }))
}

fn parse_query(body: &Value) -> std::result::Result<SearchQuery, String> {
    let area = match (&body["bbox"], &body["intersects"]) {
        (Value::Null, Value::Null) => None,
        (b, Value::Null) => Some(bbox_of(b).ok_or("bbox must have 4 or 6 numbers")?),
        (Value::Null, g) => Some(geometry_bbox(g).ok_or("intersects is not a geometry")?),
        _ => return Err("use bbox or intersects, not both".into()),
    };
    let (start, end) = match body["datetime"].as_str() {
        None => (None, None),
        Some(d) => match d.split_once('/') {
            Some((a, b)) => (parse_instant(a, false)?, parse_instant(b, true)?),
            None => {
                let t = parse_instant(d, false)?;
                (t, parse_instant(d, true)?)
            }
        },
    };
    let collections = body["collections"].as_array().map(|a| {
        a.iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect()
    });
    let max_cloud = body["query"]["eo:cloud_cover"]["lte"]
        .as_f64()
        .or_else(|| body["query"]["eo:cloud_cover"]["lt"].as_f64());
    let descending = body["sortby"]
        .as_array()
        .and_then(|s| s.first())
        .is_some_and(|s| s["direction"] == "desc");
    let limit = body["limit"]
        .as_u64()
        .unwrap_or(10)
        .clamp(1, MAX_LIMIT as u64) as usize;
    let offset = match &body["next"] {
        Value::Null => 0,
        Value::String(s) => s.parse().map_err(|_| "invalid next token")?,
        Value::Number(n) => n.as_u64().ok_or("invalid next token")? as usize,
        _ => return Err("invalid next token".into()),
    };
    Ok(SearchQuery {
        area,
        start,
        end,
        collections,
        max_cloud,
        descending,
        limit,
        offset,
    })
}

fn search(catalog: &Catalog, body: &Value, base: &str) -> Response {
    let q = match parse_query(body) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let mut matching: Vec<&Entry> = catalog
        .entries
        .iter()
        .filter(|e| q.start.is_none_or(|s| e.datetime >= s))
        .filter(|e| q.end.is_none_or(|t| e.datetime <= t))
        .filter(|e| q.area.is_none_or(|a| overlaps(a, e.bbox)))
        .filter(|e| q.max_cloud.is_none_or(|m| e.cloud_cover <= m))
        .filter(|e| {
            q.collections.as_ref().is_none_or(|cs| {
                e.collection
                    .as_ref()
                    .is_none_or(|c| cs.iter().any(|x| x == c))
            })
        })
        .collect();
    if q.descending {
        matching.reverse();
    }
    let features: Vec<Value> = matching
        .iter()
        .skip(q.offset)
        .take(q.limit)
        .map(|e| {
            let mut item = e.item.clone();
            // Relative asset hrefs resolve against the item's own location.
            item["links"] = json!([{"rel": "self", "href": format!("{base}/files/{}", e.path)}]);
            item
        })
        .collect();
    let mut links = vec![json!({"rel": "root", "href": format!("{base}/")})];
    let next = q.offset + q.limit;
    if next < matching.len() {
        let mut next_body = body.clone();
        next_body["next"] = json!(next.to_string());
        links.push(
            json!({"rel": "next", "href": format!("{base}/search"), "method": "POST",
                          "merge": false, "body": next_body}),
        );
    }
    Json(json!({
        "type": "FeatureCollection",
        "features": features,
        "links": links,
        "numberMatched": matching.len(),
        "numberReturned": features.len(),
    }))
    .into_response()
}

async fn search_post(
    State(catalog): State<Arc<Catalog>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> Response {
    match serde_json::from_slice::<Value>(&body) {
        Ok(body) if body.is_object() => search(&catalog, &body, &base_url(&headers)),
        _ => bad_request("the search body must be a JSON object"),
    }
}

async fn search_get(
    State(catalog): State<Arc<Catalog>>,
    headers: HeaderMap,
    Query(params): Query<Vec<(String, String)>>,
) -> Response {
    let mut body = json!({});
    for (k, v) in params {
        body[&k] = match k.as_str() {
            "bbox" => json!(
                v.split(',')
                    .filter_map(|n| n.trim().parse::<f64>().ok())
                    .collect::<Vec<_>>()
            ),
            "collections" => json!(v.split(',').collect::<Vec<_>>()),
            "limit" => json!(v.parse::<u64>().unwrap_or(10)),
            "intersects" | "query" => serde_json::from_str(&v).unwrap_or(Value::Null),
            "sortby" => {
                let desc = v.starts_with('-');
                json!([{"field": v.trim_start_matches(['-', '+']), "direction": if desc { "desc" } else { "asc" }}])
            }
            _ => json!(v),
        };
    }
    search(&catalog, &body, &base_url(&headers))
}

/// `bytes=a-b`, `bytes=a-` or `bytes=-n` of a file of `total` bytes, as an inclusive range.
fn byte_range(spec: &str, total: u64) -> Option<(u64, u64)> {
    let spec = spec.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        (total.saturating_sub(n), total.checked_sub(1)?)
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() {
            total.checked_sub(1)?
        } else {
            b.parse::<u64>().ok()?.min(total.checked_sub(1)?)
        };
        (start, end)
    };
    (start <= end && start < total).then_some((start, end))
}

async fn file(
    State(catalog): State<Arc<Catalog>>,
    UrlPath(path): UrlPath<String>,
    headers: HeaderMap,
) -> Response {
    let safe = path
        .split('/')
        .all(|p| !p.is_empty() && p != "." && p != "..");
    if !safe {
        return StatusCode::NOT_FOUND.into_response();
    }
    let full = catalog.root.join(&path);
    let bytes = match tokio::fs::read(&full).await {
        Ok(b) => b,
        Err(_) => return StatusCode::NOT_FOUND.into_response(),
    };
    let total = bytes.len() as u64;
    let content_type = if path.ends_with(".json") {
        "application/json"
    } else if path.ends_with(".tif") {
        "image/tiff; application=geotiff; profile=cloud-optimized"
    } else {
        "application/octet-stream"
    };
    let Some(spec) = headers.get(header::RANGE).and_then(|v| v.to_str().ok()) else {
        return (
            [
                (header::CONTENT_TYPE, content_type),
                (header::ACCEPT_RANGES, "bytes"),
            ],
            bytes,
        )
            .into_response();
    };
    let Some((start, end)) = byte_range(spec, total) else {
        return (
            StatusCode::RANGE_NOT_SATISFIABLE,
            [(header::CONTENT_RANGE, format!("bytes */{total}"))],
        )
            .into_response();
    };
    (
        StatusCode::PARTIAL_CONTENT,
        [
            (header::CONTENT_TYPE, content_type.to_owned()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
            (
                header::CONTENT_RANGE,
                format!("bytes {start}-{end}/{total}"),
            ),
        ],
        Body::from(bytes[start as usize..=end as usize].to_vec()),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(byte_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(byte_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(byte_range("bytes=95-200", 100), Some((95, 99)));
        assert_eq!(byte_range("bytes=100-", 100), None);
        assert_eq!(byte_range("bytes=5-2", 100), None);
        assert_eq!(byte_range("bytes=0-1,5-6", 100), None);
        assert_eq!(byte_range("items=0-1", 100), None);
    }

    #[test]
    fn queries() {
        let q = parse_query(
            &json!({"bbox": [1, 2, 3, 4], "datetime": "2026-01-05/2026-01-11",
            "limit": 500, "sortby": [{"field": "properties.datetime", "direction": "desc"}],
            "query": {"eo:cloud_cover": {"lte": 20}}, "next": "10"}),
        )
        .unwrap();
        assert_eq!(q.area, Some([1.0, 2.0, 3.0, 4.0]));
        assert_eq!(q.limit, MAX_LIMIT);
        assert_eq!(q.offset, 10);
        assert!(q.descending);
        assert_eq!(q.max_cloud, Some(20.0));
        assert_eq!(
            q.end.unwrap(),
            time::macros::datetime!(2026-01-11 23:59:59.999_999_999 UTC)
        );
        let open = parse_query(&json!({"datetime": "../2026-01-11T00:00:00Z"})).unwrap();
        assert_eq!(open.start, None);
        assert!(parse_query(&json!({"bbox": [1, 2]})).is_err());
        assert!(parse_query(&json!({"datetime": "yesterday"})).is_err());
    }
}
