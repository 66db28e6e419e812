//! STAC catalogs: a STAC API client (POST `/search`, both paging styles) and static catalogs
//! on disk, both yielding plain [`Scene`]s with Sentinel-2 band names and reflectance scaling.
//!
//! Providers name assets differently (Earth Search `red`/`nir`/`scl`, Planetary Computer
//! `B04`/`B08`/`SCL`); [`band_for_asset`] maps both to the ESA band names of [`BANDS`]. The scale
//! is `raster:bands`' (else 0.0001); the offset follows the processing-baseline rule of
//! `external-apis.md` §1.6, which `raster:bands` cannot override (Earth Search's says −0.1 even
//! where the offset was removed): `earthsearch:boa_offset_applied: true` → 0; else baseline
//! ≥ 04.00 → −0.1 (`observation` checks the pixels agree); else baseline < 04.00 → 0. Only an
//! item without a baseline takes `raster:bands`' offset (else 0).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use url::Url;

use crate::calls::{self, Service};
use crate::error::{Error, Result};
use crate::source::HttpOptions;

/// Sentinel-2 L2A bands we read, by ESA name.
pub const BANDS: [&str; 11] = [
    "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B11", "B12", "SCL",
];

/// Earth Search v1, the production default.
pub const EARTH_SEARCH: &str = "https://earth-search.aws.element84.com/v1";
pub const PLANETARY_COMPUTER: &str = "https://planetarycomputer.microsoft.com/api/stac/v1";
const PC_SAS: &str = "https://planetarycomputer.microsoft.com/api/sas/v1/token";
pub const SENTINEL2_L2A: &str = "sentinel-2-l2a";
/// Planetary Computer's Sentinel-1 radiometrically terrain-corrected collection (gamma0, linear
/// power, `vv`/`vh` COGs).
pub const SENTINEL1_RTC: &str = "sentinel-1-rtc";
/// Items fetched per page.
const PAGE_LIMIT: u32 = 100;

/// One band file of a scene.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Asset {
    /// Absolute URL (relative hrefs are resolved; Planetary Computer hrefs are signed).
    pub href: String,
    /// Reflectance = DN × scale + offset (SCL: 1 and 0).
    pub scale: f64,
    pub offset: f64,
    pub nodata: Option<f64>,
    /// Per-asset grid (resolutions differ by band), GDAL-order geotransform, `[rows, cols]`.
    pub transform: Option<[f64; 6]>,
    pub shape: Option<[u32; 2]>,
}

/// A Sentinel-2 acquisition as the pipeline needs it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scene {
    pub id: String,
    pub collection: Option<String>,
    #[serde(with = "time::serde::rfc3339")]
    pub datetime: OffsetDateTime,
    /// Scene-wide cloud cover, percent (0 when the item has none).
    pub cloud_cover: f64,
    /// Lon/lat footprint bbox.
    pub bbox: Option<[f64; 4]>,
    pub epsg: Option<u32>,
    /// Grid of the 10 m bands (item-level `proj:*`, else the B04 asset's).
    pub transform: Option<[f64; 6]>,
    pub shape: Option<[u32; 2]>,
    pub processing_baseline: Option<String>,
    pub boa_offset_applied: Option<bool>,
    /// Sentinel-1 `sat:orbit_state` (`ascending` / `descending`); `None` for optical items.
    #[serde(default)]
    pub orbit_state: Option<String>,
    /// Sentinel-1 `sat:relative_orbit`.
    #[serde(default)]
    pub relative_orbit: Option<i64>,
    /// ESA band name (`B04`, `SCL`, …) → asset.
    pub assets: BTreeMap<String, Asset>,
}

/// A search: area, time interval (inclusive), cloud filter.
#[derive(Debug, Clone, PartialEq)]
pub struct Search {
    /// `[min lon, min lat, max lon, max lat]`; or set `intersects`.
    pub bbox: Option<[f64; 4]>,
    /// A GeoJSON geometry (lon/lat); exclusive with `bbox`.
    pub intersects: Option<Value>,
    pub start: OffsetDateTime,
    pub end: OffsetDateTime,
    /// Keep scenes with `eo:cloud_cover` ≤ this (percent).
    pub max_cloud_cover: Option<f64>,
    /// Stop after this many scenes.
    pub max_items: usize,
}

impl Search {
    pub fn bbox(bbox: [f64; 4], start: OffsetDateTime, end: OffsetDateTime) -> Search {
        Search {
            bbox: Some(bbox),
            intersects: None,
            start,
            end,
            max_cloud_cover: None,
            max_items: 500,
        }
    }

    /// A bbox search over ISO week `week` of `year`: Monday 00:00:00 to Sunday 23:59:59 UTC.
    pub fn iso_week(bbox: [f64; 4], year: i32, week: u8) -> Result<Search> {
        let monday = time::Date::from_iso_week_date(year, week, time::Weekday::Monday)
            .map_err(|e| Error::Catalog(format!("ISO week {year}-W{week:02}: {e}")))?;
        let start = monday.midnight().assume_utc();
        let end = start + Duration::from_secs(7 * 86_400 - 1);
        Ok(Search::bbox(bbox, start, end))
    }
}

/// Where scenes come from, chosen by configuration: `earth-search`, `planetary-computer`, a
/// STAC API URL (`https://…`), or a static catalog directory / `catalog.json` (`file://…` or a
/// path).
#[derive(Debug, Clone)]
pub enum Catalog {
    Api(StacApi),
    Static(StaticCatalog),
}

impl Catalog {
    pub fn from_config(source: &str, http: &HttpOptions) -> Result<Catalog> {
        Ok(match source {
            "earth-search" => Catalog::Api(StacApi::new(EARTH_SEARCH, SENTINEL2_L2A, http)?),
            "planetary-computer" => Catalog::Api(
                StacApi::new(PLANETARY_COMPUTER, SENTINEL2_L2A, http)?.with_sas_signing(PC_SAS),
            ),
            s if s.starts_with("http://") || s.starts_with("https://") => {
                Catalog::Api(StacApi::new(s, SENTINEL2_L2A, http)?)
            }
            s => Catalog::Static(StaticCatalog::new(local_path(s)?).of_collection(SENTINEL2_L2A)),
        })
    }

    /// The Sentinel-1 RTC catalog of setting `radar_source`: `planetary-computer` (SAS-signed
    /// like the optical assets), a STAC API URL, or a static catalog directory (its
    /// `sentinel-1-rtc` items only).
    pub fn radar_from_config(source: &str, http: &HttpOptions) -> Result<Catalog> {
        Ok(match source {
            "planetary-computer" => Catalog::Api(
                StacApi::new(PLANETARY_COMPUTER, SENTINEL1_RTC, http)?.with_sas_signing(PC_SAS),
            ),
            s if s.starts_with("http://") || s.starts_with("https://") => {
                Catalog::Api(StacApi::new(s, SENTINEL1_RTC, http)?)
            }
            s => Catalog::Static(StaticCatalog::new(local_path(s)?).of_collection(SENTINEL1_RTC)),
        })
    }

    /// Scenes matching `q`, oldest first.
    pub async fn search(&self, q: &Search) -> Result<Vec<Scene>> {
        match self {
            Catalog::Api(a) => a.search(q).await,
            Catalog::Static(s) => {
                let s = s.clone();
                let q = q.clone();
                tokio::task::spawn_blocking(move || s.search(&q))
                    .await
                    .map_err(|e| Error::Task(e.to_string()))?
            }
        }
    }
}

/// A catalog directory given as a path or a `file://` URL.
fn local_path(s: &str) -> Result<PathBuf> {
    Ok(match Url::parse(s) {
        Ok(u) if u.scheme() == "file" => u.to_file_path().map_err(|()| Error::Location {
            url: s.into(),
            reason: "not a local path".into(),
        })?,
        _ => PathBuf::from(s),
    })
}

/// A STAC API (`POST {root}/search`).
#[derive(Debug, Clone)]
pub struct StacApi {
    root: Url,
    collection: String,
    client: reqwest::Client,
    http: HttpOptions,
    signer: Option<Arc<SasSigner>>,
}

impl StacApi {
    pub fn new(root: &str, collection: &str, http: &HttpOptions) -> Result<StacApi> {
        crate::install_crypto_provider();
        let root = Url::parse(&format!("{}/", root.trim_end_matches('/'))).map_err(|e| {
            Error::Location {
                url: root.into(),
                reason: e.to_string(),
            }
        })?;
        let client = reqwest::Client::builder()
            .connect_timeout(http.connect_timeout)
            .timeout(http.timeout)
            .user_agent(concat!("vivacampo/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| Error::Request {
                url: root.to_string(),
                source,
            })?;
        Ok(StacApi {
            root,
            collection: collection.into(),
            client,
            http: http.clone(),
            signer: None,
        })
    }

    /// Signs HTTP(S) asset hrefs with Planetary Computer SAS tokens from `token_url`
    /// (`{token_url}/{collection}`), one cached token per collection.
    pub fn with_sas_signing(mut self, token_url: &str) -> StacApi {
        self.signer = Some(Arc::new(SasSigner::new(token_url)));
        self
    }

    /// The search body (Query extension for the cloud filter: both Earth Search and the
    /// Planetary Computer accept it; `sortby` fully qualified as stac-server wants).
    pub fn body(&self, q: &Search) -> Result<Value> {
        let fmt = |t: OffsetDateTime| {
            t.to_offset(time::UtcOffset::UTC)
                .format(&Rfc3339)
                .map_err(|e| Error::Catalog(format!("datetime: {e}")))
        };
        let mut body = json!({
            "collections": [self.collection],
            "datetime": format!("{}/{}", fmt(q.start)?, fmt(q.end)?),
            "limit": PAGE_LIMIT.min(q.max_items.max(1) as u32),
            "sortby": [{"field": "properties.datetime", "direction": "asc"}],
        });
        match (&q.bbox, &q.intersects) {
            (Some(b), None) => body["bbox"] = json!(b),
            (None, Some(g)) => body["intersects"] = g.clone(),
            _ => {
                return Err(Error::Catalog(
                    "a search needs exactly one of bbox and intersects".into(),
                ));
            }
        }
        if let Some(c) = q.max_cloud_cover {
            body["query"] = json!({"eo:cloud_cover": {"lte": c}});
        }
        Ok(body)
    }

    /// Runs the search, following `next` links (GET href with a token, or POST with `body` /
    /// `merge`) until no link, an empty page, or `max_items`.
    pub async fn search(&self, q: &Search) -> Result<Vec<Scene>> {
        let original = self.body(q)?;
        let mut request = Page {
            url: self.root.join("search").expect("relative path joins"),
            post: Some(original.clone()),
            headers: Map::new(),
        };
        let mut scenes = Vec::new();
        for _ in 0..10_000 {
            let page_url = request.url.clone();
            let page: Value = self.send(&request).await?;
            let items = page_scenes(&page, &page_url)?;
            if items.is_empty() {
                break;
            }
            for mut scene in items {
                if let Some(s) = &self.signer {
                    s.sign(&self.client, &self.http, &mut scene).await?;
                }
                scenes.push(scene);
                if scenes.len() >= q.max_items {
                    return Ok(scenes);
                }
            }
            match next_request(&page, &original, &page_url) {
                Some(next) => request = next,
                None => break,
            }
        }
        Ok(scenes)
    }

    async fn send(&self, page: &Page) -> Result<Value> {
        calls::record(Service::Catalog, self.fetch_page(page).await)
    }

    async fn fetch_page(&self, page: &Page) -> Result<Value> {
        let url = page.url.as_str();
        let resp = retrying(&self.http, url, || {
            let mut r = match &page.post {
                Some(body) => self.client.post(page.url.clone()).json(body),
                None => self.client.get(page.url.clone()),
            };
            for (k, v) in &page.headers {
                if let Some(v) = v.as_str() {
                    r = r.header(k, v);
                }
            }
            r
        })
        .await?;
        let text = resp.text().await.map_err(|source| Error::Request {
            url: url.into(),
            source,
        })?;
        serde_json::from_str(&text).map_err(|source| Error::Json {
            what: format!("response of {url}"),
            source,
        })
    }
}

/// One page request of a search.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub url: Url,
    /// `Some(body)` for POST.
    pub post: Option<Value>,
    pub headers: Map<String, Value>,
}

/// The scenes of one search-response page (a FeatureCollection) fetched from `url`, against
/// which relative hrefs resolve.
pub fn page_scenes(page: &Value, url: &Url) -> Result<Vec<Scene>> {
    page["features"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| parse_item(f.clone(), url, &format!("item in {url}")))
        .collect()
}

/// A STAC item as a [`Scene`]; `what` names it in errors.
fn parse_item(value: Value, base: &Url, what: &str) -> Result<Scene> {
    let item: Item = serde_json::from_value(value).map_err(|source| Error::Json {
        what: what.to_owned(),
        source,
    })?;
    item.into_scene(base)
}

/// The request for the page after `page`, from its `rel: next` link (STAC API paging rules:
/// `merge: true` overlays the link's body on the original one, else the link's body is the
/// whole body; a link without method is a GET of its href).
pub fn next_request(page: &Value, original: &Value, base: &Url) -> Option<Page> {
    let link = page["links"]
        .as_array()?
        .iter()
        .find(|l| l["rel"] == "next")?;
    let url = base.join(link["href"].as_str()?).ok()?;
    let headers = link["headers"].as_object().cloned().unwrap_or_default();
    let post = link["method"]
        .as_str()
        .is_some_and(|m| m.eq_ignore_ascii_case("POST"));
    let body = post.then(
        || match (&link["body"], link["merge"].as_bool() == Some(true)) {
            (Value::Object(b), true) => {
                let mut merged = original.clone();
                for (k, v) in b {
                    merged[k] = v.clone();
                }
                merged
            }
            (Value::Object(_), false) => link["body"].clone(),
            _ => original.clone(),
        },
    );
    Some(Page {
        url,
        post: body,
        headers,
    })
}

/// Sends a request, retrying 5xx, 429, timeouts and connection errors with exponential
/// backoff; other 4xx fail at once with the server's message.
pub(crate) async fn retrying(
    http: &HttpOptions,
    url: &str,
    make: impl Fn() -> reqwest::RequestBuilder,
) -> Result<reqwest::Response> {
    let mut delay = http.initial_backoff;
    let mut attempt = 0;
    loop {
        let err = match make().send().await {
            Ok(r) if r.status().is_success() => return Ok(r),
            Ok(r) => {
                let status = r.status().as_u16();
                let body: String = r
                    .text()
                    .await
                    .unwrap_or_default()
                    .chars()
                    .take(500)
                    .collect();
                let e = Error::Http {
                    url: url.into(),
                    status,
                    body,
                };
                if !(status >= 500 || status == 429) {
                    return Err(e);
                }
                e
            }
            Err(source) => {
                if !(source.is_timeout() || source.is_connect() || source.is_request()) {
                    return Err(Error::Request {
                        url: url.into(),
                        source,
                    });
                }
                Error::Request {
                    url: url.into(),
                    source,
                }
            }
        };
        if attempt >= http.max_retries {
            return Err(err);
        }
        attempt += 1;
        tracing::warn!(%url, attempt, error = %err, "retrying");
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(http.max_backoff);
    }
}

/// Planetary Computer SAS tokens: one per collection (each collection's assets live in their own
/// storage container), refreshed a few minutes before expiry.
#[derive(Debug)]
struct SasSigner {
    token_url: String,
    /// Collection → (token, expiry).
    tokens: Mutex<BTreeMap<String, (String, OffsetDateTime)>>,
}

#[derive(Deserialize)]
struct SasToken {
    token: String,
    #[serde(rename = "msft:expiry", with = "time::serde::rfc3339")]
    expiry: OffsetDateTime,
}

impl SasSigner {
    fn new(token_url: &str) -> SasSigner {
        SasSigner {
            token_url: token_url.trim_end_matches('/').into(),
            tokens: Mutex::new(BTreeMap::new()),
        }
    }

    async fn sign(
        &self,
        client: &reqwest::Client,
        http: &HttpOptions,
        scene: &mut Scene,
    ) -> Result<()> {
        let Some(collection) = scene.collection.clone() else {
            return Ok(());
        };
        let fresh = |t: &OffsetDateTime| *t - OffsetDateTime::now_utc() > Duration::from_secs(300);
        let cached = self
            .tokens
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&collection)
            .filter(|(_, exp)| fresh(exp))
            .cloned();
        let token = match cached {
            Some((t, _)) => t,
            None => {
                let url = format!("{}/{collection}", self.token_url);
                let resp = retrying(http, &url, || client.get(&url)).await?;
                let t: SasToken = resp.json().await.map_err(|source| Error::Request {
                    url: url.clone(),
                    source,
                })?;
                self.tokens
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(collection, (t.token.clone(), t.expiry));
                t.token
            }
        };
        for a in scene.assets.values_mut() {
            if a.href.starts_with("https://") || a.href.starts_with("http://") {
                let sep = if a.href.contains('?') { '&' } else { '?' };
                a.href = format!("{}{sep}{token}", a.href);
            }
        }
        Ok(())
    }
}

/// A static catalog: a directory of item JSON files (searched recursively), or a
/// `catalog.json` whose `rel: item` links name them.
#[derive(Debug, Clone)]
pub struct StaticCatalog {
    root: PathBuf,
    collection: Option<String>,
}

impl StaticCatalog {
    pub fn new(root: impl Into<PathBuf>) -> StaticCatalog {
        StaticCatalog {
            root: root.into(),
            collection: None,
        }
    }

    /// Searches only items of `collection` (and items that name none): one directory can hold
    /// the Sentinel-2 and the Sentinel-1 items, as the demo's does.
    pub fn of_collection(mut self, collection: &str) -> StaticCatalog {
        self.collection = Some(collection.to_owned());
        self
    }

    /// Every item of the catalog.
    pub fn items(&self) -> Result<Vec<Scene>> {
        let files = if self.root.is_dir() {
            let catalog = self.root.join("catalog.json");
            if catalog.is_file() {
                item_links(&catalog)?
            } else {
                let mut v = Vec::new();
                json_files(&self.root, &mut v)?;
                v
            }
        } else {
            item_links(&self.root)?
        };
        let mut scenes = Vec::new();
        for f in files {
            let text = std::fs::read_to_string(&f).map_err(|e| Error::io(&f, e))?;
            let v: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
                what: f.display().to_string(),
                source,
            })?;
            if v["type"] != "Feature" {
                continue;
            }
            let base = Url::from_file_path(&f).map_err(|()| Error::Location {
                url: f.display().to_string(),
                reason: "not an absolute path".into(),
            })?;
            scenes.push(parse_item(v, &base, &f.display().to_string())?);
        }
        Ok(scenes)
    }

    /// The items matching `q` (bbox or the bbox of `intersects`, interval, cloud cover),
    /// oldest first.
    pub fn search(&self, q: &Search) -> Result<Vec<Scene>> {
        let area = q
            .bbox
            .or_else(|| q.intersects.as_ref().and_then(geometry_bbox))
            .ok_or_else(|| Error::Catalog("a search needs bbox or intersects".into()))?;
        let mut out: Vec<Scene> = self
            .items()?
            .into_iter()
            .filter(|s| match (&self.collection, &s.collection) {
                (Some(wanted), Some(c)) => wanted == c,
                _ => true,
            })
            .filter(|s| s.datetime >= q.start && s.datetime <= q.end)
            .filter(|s| q.max_cloud_cover.is_none_or(|m| s.cloud_cover <= m))
            .filter(|s| s.bbox.is_none_or(|b| overlaps(b, area)))
            .collect();
        out.sort_by(|a, b| a.datetime.cmp(&b.datetime).then(a.id.cmp(&b.id)));
        out.truncate(q.max_items);
        Ok(out)
    }
}

/// Every `.json` file under `dir`, recursively, in path order.
pub(crate) fn json_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out)?;
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
    Ok(())
}

fn item_links(catalog: &Path) -> Result<Vec<PathBuf>> {
    let text = std::fs::read_to_string(catalog).map_err(|e| Error::io(catalog, e))?;
    let v: Value = serde_json::from_str(&text).map_err(|source| Error::Json {
        what: catalog.display().to_string(),
        source,
    })?;
    let dir = catalog.parent().unwrap_or(Path::new("."));
    Ok(v["links"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["rel"] == "item")
        .filter_map(|l| l["href"].as_str())
        .map(|h| dir.join(h))
        .collect())
}

pub(crate) fn overlaps(a: [f64; 4], b: [f64; 4]) -> bool {
    a[0] <= b[2] && b[0] <= a[2] && a[1] <= b[3] && b[1] <= a[3]
}

/// Lon/lat bbox of a GeoJSON geometry (any nesting of coordinate arrays).
pub(crate) fn geometry_bbox(g: &Value) -> Option<[f64; 4]> {
    fn walk(v: &Value, b: &mut [f64; 4]) {
        match v.as_array() {
            Some(a) if a.len() >= 2 && a[0].is_number() => {
                let (x, y) = (a[0].as_f64().unwrap_or(0.0), a[1].as_f64().unwrap_or(0.0));
                *b = [b[0].min(x), b[1].min(y), b[2].max(x), b[3].max(y)];
            }
            Some(a) => a.iter().for_each(|c| walk(c, b)),
            None => {}
        }
    }
    let mut b = [
        f64::INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::NEG_INFINITY,
    ];
    walk(&g["coordinates"], &mut b);
    b[0].is_finite().then_some(b)
}

/// The ESA band name of an asset key, for Earth Search (`red`, `nir08`, `scl`, …) and
/// Planetary Computer / ESA style keys (`B04`, `B8A`, `SCL`). Other assets (`visual`,
/// `thumbnail`, `*-jp2`, metadata) are `None`.
pub fn band_for_asset(key: &str) -> Option<&'static str> {
    let es = match key {
        "vv" | "VV" => "VV",
        "vh" | "VH" => "VH",
        "blue" => "B02",
        "green" => "B03",
        "red" => "B04",
        "rededge1" => "B05",
        "rededge2" => "B06",
        "rededge3" => "B07",
        "nir" => "B08",
        "nir08" => "B8A",
        "swir16" => "B11",
        "swir22" => "B12",
        "scl" => "SCL",
        _ => "",
    };
    if !es.is_empty() {
        return Some(es);
    }
    BANDS.into_iter().find(|b| b.eq_ignore_ascii_case(key))
}

#[derive(Debug, Deserialize)]
struct Item {
    id: String,
    collection: Option<String>,
    bbox: Option<Vec<f64>>,
    properties: Map<String, Value>,
    #[serde(default)]
    assets: BTreeMap<String, ItemAsset>,
    #[serde(default)]
    links: Vec<Value>,
}

#[derive(Debug, Deserialize)]
struct ItemAsset {
    href: String,
    #[serde(rename = "raster:bands")]
    raster_bands: Option<Vec<RasterBand>>,
    #[serde(rename = "proj:transform")]
    transform: Option<Vec<f64>>,
    #[serde(rename = "proj:shape")]
    shape: Option<Vec<u32>>,
}

#[derive(Debug, Deserialize)]
struct RasterBand {
    scale: Option<f64>,
    offset: Option<f64>,
    nodata: Option<f64>,
}

impl Item {
    /// `base` resolves relative hrefs: the item's `self` link when absolute, else where it was
    /// read from.
    fn into_scene(self, base: &Url) -> Result<Scene> {
        let p = &self.properties;
        let bad = |what: &str| Error::Catalog(format!("item {}: {what}", self.id));
        let datetime = p
            .get("datetime")
            .and_then(Value::as_str)
            .or_else(|| p.get("start_datetime").and_then(Value::as_str))
            .ok_or_else(|| bad("no datetime"))?;
        let datetime = OffsetDateTime::parse(datetime, &Rfc3339)
            .map_err(|e| bad(&format!("datetime {datetime:?}: {e}")))?;
        let epsg = p
            .get("proj:epsg")
            .and_then(Value::as_u64)
            .or_else(|| {
                p.get("proj:code")
                    .and_then(Value::as_str)
                    .and_then(|c| c.strip_prefix("EPSG:"))
                    .and_then(|c| c.parse().ok())
            })
            .map(|e| e as u32);
        let baseline = p
            .get("s2:processing_baseline")
            .and_then(Value::as_str)
            .map(String::from);
        let boa_applied = p
            .get("earthsearch:boa_offset_applied")
            .and_then(Value::as_bool);
        let orbit_state = p
            .get("sat:orbit_state")
            .and_then(Value::as_str)
            .map(str::to_ascii_lowercase);
        let relative_orbit = p.get("sat:relative_orbit").and_then(Value::as_i64);
        let self_link = self
            .links
            .iter()
            .find(|l| l["rel"] == "self")
            .and_then(|l| l["href"].as_str())
            .and_then(|h| Url::parse(h).ok());
        let base = self_link.as_ref().unwrap_or(base);
        let mut assets = BTreeMap::new();
        for (key, a) in self.assets {
            let Some(band) = band_for_asset(&key) else {
                continue;
            };
            let href = base
                .join(&a.href)
                .map_err(|e| bad(&format!("asset {key} href {:?}: {e}", a.href)))?;
            let rb = a.raster_bands.as_ref().and_then(|b| b.first());
            let (scale, offset) = if matches!(band, "SCL" | "VV" | "VH") {
                (1.0, 0.0)
            } else {
                (
                    rb.and_then(|r| r.scale).unwrap_or(1e-4),
                    reflectance_offset(boa_applied, baseline.as_deref(), rb.and_then(|r| r.offset)),
                )
            };
            assets.insert(
                band.to_string(),
                Asset {
                    href: href.to_string(),
                    scale,
                    offset,
                    nodata: rb.and_then(|r| r.nodata).or(Some(0.0)),
                    transform: a.transform.as_deref().and_then(geotransform),
                    shape: a.shape.as_deref().and_then(|s| s.try_into().ok()),
                },
            );
        }
        let transform = p
            .get("proj:transform")
            .and_then(|t| serde_json::from_value::<Vec<f64>>(t.clone()).ok())
            .as_deref()
            .and_then(geotransform)
            .or_else(|| assets.get("B04").and_then(|a| a.transform));
        let shape = p
            .get("proj:shape")
            .and_then(|t| serde_json::from_value::<[u32; 2]>(t.clone()).ok())
            .or_else(|| assets.get("B04").and_then(|a| a.shape));
        Ok(Scene {
            cloud_cover: p
                .get("eo:cloud_cover")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
            bbox: self.bbox.as_deref().and_then(|b| match b {
                [a, b, c, d] => Some([*a, *b, *c, *d]),
                [a, b, _, d, e, _] => Some([*a, *b, *d, *e]),
                _ => None,
            }),
            id: self.id,
            collection: self.collection,
            datetime,
            epsg,
            transform,
            shape,
            processing_baseline: baseline,
            boa_offset_applied: boa_applied,
            orbit_state,
            relative_orbit,
            assets,
        })
    }
}

/// The reflectance offset of a Sentinel-2 L2A band (`external-apis.md` §1.6): the flag, then the
/// processing baseline, and only without one the item's declared offset.
fn reflectance_offset(
    boa_applied: Option<bool>,
    baseline: Option<&str>,
    declared: Option<f64>,
) -> f64 {
    if boa_applied == Some(true) {
        return 0.0;
    }
    match baseline.and_then(baseline_version) {
        Some(version) if version >= (4, 0) => -0.1,
        Some(_) => 0.0,
        None => declared.unwrap_or(0.0),
    }
}

/// `"05.10"` → `(5, 10)`.
fn baseline_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.trim().split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// STAC `proj:transform` `[a, b, c, d, e, f]` (x = a·col + b·row + c) → GDAL order.
fn geotransform(t: &[f64]) -> Option<[f64; 6]> {
    match t {
        [a, b, c, d, e, f, ..] => Some([*c, *a, *b, *f, *d, *e]),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn earth_search_item() -> Value {
        json!({
            "type": "Feature", "stac_version": "1.0.0", "id": "S2A_22KEV_20240105_0_L2A",
            "collection": "sentinel-2-l2a",
            "bbox": [-51.2, -18.1, -50.2, -17.1],
            "properties": {
                "datetime": "2024-01-05T13:32:11.024000Z", "eo:cloud_cover": 12.5,
                "proj:epsg": 32722, "s2:processing_baseline": "05.10",
                "earthsearch:boa_offset_applied": true
            },
            "assets": {
                "red": {"href": "https://sentinel-cogs.s3.us-west-2.amazonaws.com/x/B04.tif",
                        "proj:shape": [10980, 10980],
                        "proj:transform": [10, 0, 399960, 0, -10, 8100040],
                        "raster:bands": [{"nodata": 0, "scale": 0.0001, "offset": -0.1}]},
                "nir08": {"href": "https://sentinel-cogs.s3.us-west-2.amazonaws.com/x/B8A.tif"},
                "scl": {"href": "https://sentinel-cogs.s3.us-west-2.amazonaws.com/x/SCL.tif"},
                "visual": {"href": "https://sentinel-cogs.s3.us-west-2.amazonaws.com/x/TCI.tif"},
                "red-jp2": {"href": "s3://sentinel-s2-l2a/x/B04.jp2"}
            },
            "links": []
        })
    }

    #[test]
    fn earth_search_item_maps_bands_and_trusts_the_flag() {
        let item: Item = serde_json::from_value(earth_search_item()).unwrap();
        let s = item
            .into_scene(&Url::parse("https://e.invalid/v1/search").unwrap())
            .unwrap();
        assert_eq!(s.assets.keys().collect::<Vec<_>>(), ["B04", "B8A", "SCL"]);
        assert_eq!(s.epsg, Some(32722));
        assert_eq!(s.cloud_cover, 12.5);
        // boa_offset_applied wins over raster:bands' -0.1.
        assert_eq!((s.assets["B04"].scale, s.assets["B04"].offset), (1e-4, 0.0));
        assert_eq!(
            s.transform,
            Some([399960.0, 10.0, 0.0, 8100040.0, 0.0, -10.0])
        );
        assert_eq!(s.shape, Some([10980, 10980]));
        assert_eq!((s.assets["SCL"].scale, s.assets["SCL"].offset), (1.0, 0.0));
    }

    #[test]
    fn planetary_computer_item_uses_the_baseline_rule() {
        let mut v = earth_search_item();
        v["properties"] = json!({"datetime": "2023-01-01T10:23:39Z", "proj:code": "EPSG:32632",
                                 "s2:processing_baseline": "04.00"});
        v["assets"] = json!({"B04": {"href": "a/B04.tif"}, "B08": {"href": "a/B08.tif"},
                             "SCL": {"href": "a/SCL.tif"}});
        let item: Item = serde_json::from_value(v.clone()).unwrap();
        let s = item
            .into_scene(&Url::parse("file:///cat/items/x.json").unwrap())
            .unwrap();
        assert_eq!(s.epsg, Some(32632));
        assert_eq!(s.assets["B04"].href, "file:///cat/items/a/B04.tif");
        assert_eq!(
            (s.assets["B08"].scale, s.assets["B08"].offset),
            (1e-4, -0.1)
        );
        v["properties"]["s2:processing_baseline"] = json!("03.01");
        let item: Item = serde_json::from_value(v).unwrap();
        let s = item
            .into_scene(&Url::parse("file:///x.json").unwrap())
            .unwrap();
        assert_eq!(s.assets["B08"].offset, 0.0);
    }

    /// An Earth Search-like item with `properties` and a red band whose `raster:bands` are
    /// `raster_bands`.
    fn item_with(properties: Value, raster_bands: Option<Value>) -> Scene {
        let mut v = earth_search_item();
        v["properties"] = properties;
        v["properties"]["datetime"] = json!("2024-01-05T13:32:11Z");
        v["assets"] = json!({"red": {"href": "https://h.invalid/B04.tif"},
                             "scl": {"href": "https://h.invalid/SCL.tif",
                                     "raster:bands": [{"nodata": 0}]}});
        if let Some(rb) = raster_bands {
            v["assets"]["red"]["raster:bands"] = rb;
        }
        let item: Item = serde_json::from_value(v).unwrap();
        item.into_scene(&Url::parse("https://h.invalid/search").unwrap())
            .unwrap()
    }

    #[test]
    fn the_baseline_rule_decides_the_offset() {
        let declared = Some(json!([{"nodata": 0, "scale": 0.0001, "offset": -0.1}]));
        let red = |s: Scene| (s.assets["B04"].scale, s.assets["B04"].offset);
        // Baseline 05.10, offset declared: -0.1.
        let s = item_with(json!({"s2:processing_baseline": "05.10"}), declared.clone());
        assert_eq!(red(s), (1e-4, -0.1));
        // Baseline 04.00 without raster:bands (Planetary Computer): -0.1 all the same.
        let s = item_with(json!({"s2:processing_baseline": "04.00"}), None);
        assert_eq!(red(s), (1e-4, -0.1));
        // Baseline 03.01: no offset, whatever raster:bands declares.
        let s = item_with(json!({"s2:processing_baseline": "03.01"}), declared.clone());
        assert_eq!(red(s), (1e-4, 0.0));
        let s = item_with(json!({"s2:processing_baseline": "03.01"}), None);
        assert_eq!(red(s), (1e-4, 0.0));
        // No baseline: the declared offset, else none.
        let s = item_with(json!({}), declared.clone());
        assert_eq!(red(s), (1e-4, -0.1));
        let s = item_with(json!({}), None);
        assert_eq!(red(s), (1e-4, 0.0));
        // Earth Search's flag wins over both.
        let s = item_with(
            json!({"s2:processing_baseline": "05.10", "earthsearch:boa_offset_applied": true}),
            declared,
        );
        assert_eq!(red(s), (1e-4, 0.0));
        assert_eq!(baseline_version(" 05.09 "), Some((5, 9)));
        assert_eq!(baseline_version("N/A"), None);
    }

    #[tokio::test]
    async fn sas_tokens_are_kept_per_collection() {
        use axum::extract::Path as UrlPath;
        crate::install_crypto_provider();
        let hits = Arc::new(Mutex::new(BTreeMap::<String, usize>::new()));
        let counter = hits.clone();
        let app = axum::Router::new().route(
            "/token/{collection}",
            axum::routing::get(move |UrlPath(c): UrlPath<String>| {
                let counter = counter.clone();
                async move {
                    *counter.lock().unwrap().entry(c.clone()).or_default() += 1;
                    axum::Json(
                        json!({"msft:expiry": "2099-01-01T00:00:00Z", "token": format!("sig={c}")}),
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let token_url = format!("http://{}/token/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        let signer = SasSigner::new(&token_url);
        let (client, http) = (reqwest::Client::new(), HttpOptions::default());
        let mut signed = Vec::new();
        for collection in ["sentinel-2-l2a", "landsat-c2-l2", "sentinel-2-l2a"] {
            let mut scene = item_with(json!({}), None);
            scene.collection = Some(collection.into());
            signer.sign(&client, &http, &mut scene).await.unwrap();
            signed.push(scene.assets["B04"].href.clone());
        }
        assert_eq!(
            signed,
            [
                "https://h.invalid/B04.tif?sig=sentinel-2-l2a",
                "https://h.invalid/B04.tif?sig=landsat-c2-l2",
                "https://h.invalid/B04.tif?sig=sentinel-2-l2a",
            ]
        );
        assert_eq!(
            *hits.lock().unwrap(),
            BTreeMap::from([("landsat-c2-l2".into(), 1), ("sentinel-2-l2a".into(), 1)])
        );
    }

    #[test]
    fn next_links_in_both_styles() {
        let base = Url::parse("https://h.invalid/v1/search").unwrap();
        let original = json!({"bbox": [1, 2, 3, 4], "limit": 10});
        // stac-server: POST, merge false, full body with a `next` token.
        let page = json!({"links": [{"rel": "next", "href": "https://h.invalid/v1/search",
            "method": "POST", "merge": false, "body": {"bbox": [1, 2, 3, 4], "limit": 10, "next": "t1"}}]});
        let n = next_request(&page, &original, &base).unwrap();
        assert_eq!(n.post.unwrap()["next"], "t1");
        // merge: true overlays the link body on the original.
        let page = json!({"links": [{"rel": "next", "href": "search", "method": "POST",
            "merge": true, "body": {"token": "next:abc"}, "headers": {"x-a": "b"}}]});
        let n = next_request(&page, &original, &base).unwrap();
        let body = n.post.unwrap();
        assert_eq!(
            (body["token"].clone(), body["limit"].clone()),
            (json!("next:abc"), json!(10))
        );
        assert_eq!(n.headers["x-a"], "b");
        // GET with a token in the href.
        let page =
            json!({"links": [{"rel": "next", "href": "https://h.invalid/v1/search?token=next:x"}]});
        let n = next_request(&page, &original, &base).unwrap();
        assert!(n.post.is_none());
        assert_eq!(n.url.query(), Some("token=next:x"));
        assert!(next_request(&json!({"links": []}), &original, &base).is_none());
    }

    #[test]
    fn iso_week_interval() {
        let q = Search::iso_week([0.0, 0.0, 1.0, 1.0], 2026, 1).unwrap();
        assert_eq!(q.start, time::macros::datetime!(2025-12-29 0:00 UTC));
        assert_eq!(q.end, time::macros::datetime!(2026-01-04 23:59:59 UTC));
        assert!(Search::iso_week([0.0, 0.0, 1.0, 1.0], 2026, 54).is_err());
    }

    #[test]
    fn search_body_has_query_sort_and_interval() {
        let api = StacApi::new(EARTH_SEARCH, SENTINEL2_L2A, &HttpOptions::default()).unwrap();
        let mut q = Search::bbox(
            [-51.0, -18.0, -50.8, -17.6],
            time::macros::datetime!(2024-01-01 0:00 UTC),
            time::macros::datetime!(2024-01-07 23:59:59 UTC),
        );
        q.max_cloud_cover = Some(60.0);
        let b = api.body(&q).unwrap();
        assert_eq!(b["datetime"], "2024-01-01T00:00:00Z/2024-01-07T23:59:59Z");
        assert_eq!(b["query"]["eo:cloud_cover"]["lte"], 60.0);
        assert_eq!(b["sortby"][0]["field"], "properties.datetime");
        assert_eq!(b["collections"][0], "sentinel-2-l2a");
        q.intersects = Some(json!({"type": "Point", "coordinates": [0, 0]}));
        assert!(api.body(&q).is_err());
    }
}
