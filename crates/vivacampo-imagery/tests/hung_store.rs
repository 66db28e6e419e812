//! A raster store that accepts connections and never answers (S3 hung, not refusing): every
//! call fails within the store timeout with a timeout error, counted as such.

use std::time::{Duration, Instant};

use bytes::Bytes;
use vivacampo_imagery::Error;
use vivacampo_imagery::calls;
use vivacampo_imagery::source::{HttpOptions, S3Options};
use vivacampo_imagery::store::RasterStore;

/// A loopback TCP server that accepts every connection and reads nothing, answers nothing.
async fn silent_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    format!("http://{addr}")
}

fn timeouts() -> u64 {
    calls::snapshot()
        .into_iter()
        .find(|(s, o, _)| *s == "raster_store" && *o == "timeout")
        .map(|(_, _, n)| n)
        .unwrap()
}

#[tokio::test]
async fn every_call_to_a_silent_store_times_out() {
    let s3 = S3Options {
        endpoint: Some(silent_server().await),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: Some(true),
        ..S3Options::default()
    };
    // The HTTP client's own timeout is far away: the store's bound must act.
    let http = HttpOptions {
        timeout: Duration::from_secs(120),
        ..HttpOptions::default()
    };
    let store = RasterStore::s3("s3://bucket/prefix", &s3, &http)
        .unwrap()
        .with_timeout(Duration::from_millis(300));
    let key = "tenants/t/aois/a/2026/W01/v1-1.tif";
    let before = timeouts();
    let started = Instant::now();
    let results = [
        store.put(key, Bytes::from_static(b"x")).await.err(),
        store.get(key).await.err(),
        store.get_range(key, 0..4).await.err(),
        store.delete(key).await.err(),
        store.list("tenants/").await.err(),
        store.delete_prefix("tenants/t/").await.err(),
    ];
    let took = started.elapsed();
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Some(Error::Timeout { after, url }) => {
                assert_eq!(after, Duration::from_millis(300));
                assert!(url.starts_with("s3://bucket/prefix/tenants/"), "{url}");
            }
            other => panic!("call {i}: {other:?}"),
        }
    }
    assert!(took < Duration::from_secs(4), "{took:?}");
    assert_eq!(timeouts() - before, 6);
}
