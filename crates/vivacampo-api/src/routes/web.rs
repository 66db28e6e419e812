//! The web app, embedded in the binary (see `build.rs`): `/` is the single page, `/assets/…` its
//! scripts, styles, images and vendored libraries. File names are not content-hashed, so every
//! response revalidates (`no-cache`) and a matching `If-None-Match` gets a bodiless 304.

use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::state::{ApiConfig, AppState};

mod embedded {
    include!(concat!(env!("OUT_DIR"), "/web_assets.rs"));
}

/// One embedded file: its bytes and ETag, and for text files a gzip copy with its own ETag.
struct Asset {
    bytes: &'static [u8],
    etag: &'static str,
    gzipped: Option<(&'static [u8], &'static str)>,
}

/// The embedded file at `path` (`app/main.js`, `vendor/leaflet/leaflet.js`; see `build.rs`).
fn asset(path: &str) -> Option<&'static Asset> {
    embedded::ASSETS
        .iter()
        .find(|(name, _)| *name == path)
        .map(|(_, asset)| asset)
}

/// Whether the request accepts gzip (`Accept-Encoding: gzip`, not `gzip;q=0`).
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            parts.next().is_some_and(|c| c.eq_ignore_ascii_case("gzip"))
                && !parts.any(|p| p.replace(' ', "") == "q=0")
        })
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        _ => "application/octet-stream",
    }
}

/// The page may run only its own scripts, so text that slipped into the DOM as HTML still cannot
/// execute; map images come from any HTTPS origin (OpenStreetMap, a CDN in front of the tiler)
/// and from the base map's origin when the operator set a plain-HTTP one.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data: blob: https:; connect-src 'self'; \
    frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'";

/// The base map the web app uses unless the `basemap` setting names another (or `none`).
pub const DEFAULT_BASEMAP: &str = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";

/// [`CONTENT_SECURITY_POLICY`] with a plain-HTTP base map's origin (`{s}.` as `*.`) in
/// `img-src`; HTTPS ones are allowed already.
fn content_security_policy(basemap: &str) -> String {
    match basemap.strip_prefix("http://") {
        Some(rest) => {
            let host = rest
                .split('/')
                .next()
                .unwrap_or_default()
                .replace("{s}", "*");
            CONTENT_SECURITY_POLICY.replacen("https:;", &format!("https: http://{host};"), 1)
        }
        None => CONTENT_SECURITY_POLICY.to_owned(),
    }
}

fn serve(path: &str, request: &HeaderMap) -> Result<Response, ApiError> {
    let asset = asset(path).ok_or_else(|| ApiError::NotFound(format!("no web asset {path}")))?;
    let (body, etag, gzip) = match asset.gzipped {
        Some((gz, gz_etag)) if accepts_gzip(request) => (gz, gz_etag, true),
        _ => (asset.bytes, asset.etag, false),
    };
    let fresh = request
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.split(',').any(|tag| tag.trim() == etag));
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, HeaderValue::from_static(etag));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    content_headers(&mut headers, path);
    if asset.gzipped.is_some() {
        headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    if gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if fresh {
        return Ok((StatusCode::NOT_MODIFIED, headers).into_response());
    }
    Ok((headers, body).into_response())
}

/// The single page of the web app. What the page cannot know by itself about this server (the
/// demo account under `vivacampo demo`, sign-up being closed, a base map other than
/// OpenStreetMap) goes into `<meta>` tags; a server with nothing to say gets the embedded file
/// as is.
pub async fn index(
    State(state): State<AppState>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    let config = state.config();
    let hints = page_hints(config);
    if hints.is_empty() {
        serve("index.html", &request)
    } else {
        page_with(&hints, &content_security_policy(&config.basemap))
    }
}

/// The `<meta name content>` pairs the web app reads (`web/src/app/main.js`).
fn page_hints(config: &ApiConfig) -> Vec<(&'static str, &str)> {
    let mut hints = Vec::new();
    if let Some((email, password)) = &config.demo_account {
        hints.push(("vivacampo-demo-email", email.as_str()));
        hints.push(("vivacampo-demo-password", password.as_str()));
    }
    if !config.signup_enabled {
        hints.push(("vivacampo-signup", "closed"));
    }
    if config.basemap != DEFAULT_BASEMAP {
        hints.push(("vivacampo-basemap", config.basemap.as_str()));
    }
    hints
}

/// The page with `hints` as `<meta>` tags and the policy `csp`. Not cached: it is small and per
/// server.
fn page_with(hints: &[(&str, &str)], csp: &str) -> Result<Response, ApiError> {
    let page = asset("index.html").ok_or_else(|| ApiError::NotFound("no web app".into()))?;
    let page = String::from_utf8_lossy(page.bytes);
    let mut meta = String::new();
    for (name, content) in hints {
        meta.push_str(&format!(
            "<meta name=\"{name}\" content=\"{}\">\n",
            escape_attribute(content)
        ));
    }
    meta.push_str("</head>");
    let mut response = page.replacen("</head>", &meta, 1).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    content_headers(headers, "index.html");
    // The setting is checked at start-up; a value a header cannot hold keeps the strict policy.
    if let Ok(csp) = HeaderValue::from_str(csp) {
        headers.insert(header::CONTENT_SECURITY_POLICY, csp);
    }
    Ok(response)
}

/// Content type and `nosniff` of a file, and the page's Content-Security-Policy.
fn content_headers(headers: &mut HeaderMap, path: &str) {
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(content_type(path)),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if path == "index.html" {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        );
    }
}

fn escape_attribute(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// A script, style sheet, image or library of the web app.
pub async fn file(
    path: Result<Path<String>, PathRejection>,
    request: HeaderMap,
) -> Result<Response, ApiError> {
    // A path that does not decode to UTF-8 names no asset (not axum's plain-text 400).
    let Path(path) = path.map_err(|_| ApiError::NotFound("no such web asset".into()))?;
    serve(&path, &request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_and_its_libraries_are_embedded() {
        for path in [
            "index.html",
            "vendor/leaflet/leaflet.js",
            "vendor/uplot/uPlot.iife.min.js",
        ] {
            assert!(asset(path).is_some_and(|a| !a.bytes.is_empty()), "{path}");
        }
        assert_eq!(
            content_type("app/main.js"),
            "text/javascript; charset=utf-8"
        );
    }

    #[test]
    fn text_files_go_gzipped_to_clients_that_accept_it() {
        let mut request = HeaderMap::new();
        request.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("br, gzip;q=0.8"),
        );
        let plain = asset("vendor/leaflet/leaflet.js").unwrap();
        let response = serve("vendor/leaflet/leaflet.js", &request).unwrap();
        assert_eq!(response.headers()[header::CONTENT_ENCODING], "gzip");
        assert_eq!(response.headers()[header::VARY], "accept-encoding");
        let etag = response.headers()[header::ETAG]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(etag.ends_with("-gz\"") && etag != plain.etag, "{etag}");
        let (gz, _) = plain.gzipped.unwrap();
        assert_eq!(&gz[..2], [0x1f, 0x8b]);
        assert!(gz.len() * 2 < plain.bytes.len());

        request.insert(header::IF_NONE_MATCH, HeaderValue::from_str(&etag).unwrap());
        let again = serve("vendor/leaflet/leaflet.js", &request).unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);

        let mut refuses = HeaderMap::new();
        refuses.insert(
            header::ACCEPT_ENCODING,
            HeaderValue::from_static("gzip;q=0"),
        );
        let response = serve("vendor/leaflet/leaflet.js", &refuses).unwrap();
        assert!(!response.headers().contains_key(header::CONTENT_ENCODING));
        assert!(
            asset("vendor/leaflet/images/layers.png")
                .unwrap()
                .gzipped
                .is_none()
        );
    }

    #[test]
    fn the_page_names_the_demo_account_escaped_and_closed_signup() {
        let response = page_with(
            &[
                ("vivacampo-demo-email", "demo@x.io"),
                ("vivacampo-demo-password", "p\"<w>"),
                ("vivacampo-signup", "closed"),
            ],
            CONTENT_SECURITY_POLICY,
        )
        .unwrap();
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        assert!(
            response
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY)
        );
        assert_eq!(escape_attribute("p\"<w>&"), "p&quot;&lt;w&gt;&amp;");
    }

    #[test]
    fn a_plain_http_base_map_is_let_through_the_policy() {
        assert_eq!(
            content_security_policy(DEFAULT_BASEMAP),
            CONTENT_SECURITY_POLICY
        );
        assert_eq!(content_security_policy("none"), CONTENT_SECURITY_POLICY);
        let local = content_security_policy("http://10.0.0.5:8081/osm/{z}/{x}/{y}.png");
        assert!(
            local.contains("img-src 'self' data: blob: https: http://10.0.0.5:8081;"),
            "{local}"
        );
        let subdomains = content_security_policy("http://{s}.tiles.lan/{z}/{x}/{y}.png");
        assert!(
            subdomains.contains("https: http://*.tiles.lan;"),
            "{subdomains}"
        );
    }

    #[test]
    fn a_matching_etag_gets_304() {
        let etag = asset("index.html").unwrap().etag;
        let mut request = HeaderMap::new();
        request.insert(header::IF_NONE_MATCH, HeaderValue::from_static(etag));
        assert_eq!(
            serve("index.html", &request).unwrap().status(),
            StatusCode::NOT_MODIFIED
        );
        assert_eq!(
            serve("index.html", &HeaderMap::new()).unwrap().status(),
            StatusCode::OK
        );
        assert!(serve("../Cargo.toml", &HeaderMap::new()).is_err());
    }
}
