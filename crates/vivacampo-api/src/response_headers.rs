//! Headers every `/v1` answer carries: `X-Content-Type-Options: nosniff`, and
//! `Cache-Control: no-store` unless the route chose its own caching (tiles are immutable and
//! signed; they say so themselves). A tenant's JSON or `raster.tif` is never kept by a shared
//! cache or a browser's disk cache.

use axum::http::{HeaderValue, header};
use axum::response::Response;

pub async fn private_by_default(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
