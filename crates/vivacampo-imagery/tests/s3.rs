//! The S3 path over the real S3 protocol. Skipped unless `VIVACAMPO_TEST_S3_ENDPOINT` names a
//! server (`scripts/s3-test-server.sh` starts moto on loopback and creates the bucket
//! `VIVACAMPO_TEST_S3_BUCKET`, default `vivacampo-test`).

use bytes::Bytes;
use uuid::Uuid;
use vivacampo_imagery::source::{HttpOptions, S3Options, SourceOptions, Sources};
use vivacampo_imagery::store::{RasterStore, RasterVersion, aoi_prefix, field_week_key};
use vivacampo_raster::cog::{CogOptions, write};
use vivacampo_raster::geo::{GeoTransform, Georef};
use vivacampo_raster::raster::{Buffer, Raster};
use vivacampo_raster::tiff::Window;

/// The test server's options, or `None` (skipped) without one.
fn test_server() -> Option<S3Options> {
    let Ok(endpoint) = std::env::var("VIVACAMPO_TEST_S3_ENDPOINT") else {
        // As vivacampo_store::testing::skip_for_want_of (this crate does not depend on it).
        let required =
            std::env::var("VIVACAMPO_TEST_REQUIRE_ALL").is_ok_and(|v| !v.is_empty() && v != "0");
        assert!(
            !required,
            "VIVACAMPO_TEST_S3_ENDPOINT is not set, but VIVACAMPO_TEST_REQUIRE_ALL requires every test to run"
        );
        eprintln!("skipped: VIVACAMPO_TEST_S3_ENDPOINT is not set");
        return None;
    };
    Some(S3Options {
        endpoint: Some(endpoint),
        region: Some("us-east-1".into()),
        access_key_id: Some("test".into()),
        secret_access_key: Some("test".into()),
        allow_http: Some(true),
        ..S3Options::default()
    })
}

/// A bucket that does not exist (deleted, or a typo in `raster_store`) is not a readable store
/// whose keys are merely absent: a tiler's readiness probe fails, and reads are store errors,
/// not "not found".
#[tokio::test]
async fn a_missing_bucket_is_neither_readable_nor_writable() {
    let Some(s3) = test_server() else {
        return;
    };
    let bucket = format!("no-such-bucket-{}", Uuid::new_v4().simple());
    let store = RasterStore::s3(&format!("s3://{bucket}/x"), &s3, &HttpOptions::default()).unwrap();
    assert!(store.check_readable().await.is_err());
    assert!(store.check_writable().await.is_err());
    let read = store.get("tenants/a.tif").await.unwrap_err();
    assert!(
        !matches!(read, vivacampo_imagery::Error::NotFound { .. }),
        "{read}"
    );
}

#[tokio::test]
async fn raster_store_and_range_reads_on_s3() {
    let Some(s3) = test_server() else {
        return;
    };
    let bucket = std::env::var("VIVACAMPO_TEST_S3_BUCKET").unwrap_or("vivacampo-test".into());
    let prefix = format!("run-{}", Uuid::new_v4());
    let store = RasterStore::s3(
        &format!("s3://{bucket}/{prefix}"),
        &s3,
        &HttpOptions::default(),
    )
    .unwrap();

    // Noisy values, so the file is much larger than the header prefetch plus one tile.
    let data: Vec<u16> = (0..700 * 600u64)
        .map(|i| {
            let x = i.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            let x = (x ^ (x >> 29)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            ((x ^ (x >> 32)) % 60_000) as u16 + 1
        })
        .collect();
    let raster = Raster {
        width: 700,
        height: 600,
        bands: 1,
        data: Buffer::U16(data.clone()),
    };
    let mut o = CogOptions::new(Georef {
        epsg: Some(32722),
        transform: GeoTransform::north_up(500000.0, 8040000.0, 10.0, 10.0),
    });
    o.nodata = Some(0.0);
    let cog = write(&raster, &o).unwrap();
    let (tenant, aoi) = (Uuid::new_v4(), Uuid::new_v4());
    let version = RasterVersion {
        geometry: 1,
        stamp: 1_795_000_000_000,
    };
    let key = field_week_key(tenant, aoi, 2026, 3, version);
    store.put(&key, Bytes::from(cog.clone())).await.unwrap();
    assert_eq!(store.get(&key).await.unwrap().len(), cog.len());
    assert_eq!(&store.get_range(&key, 0..4).await.unwrap()[..], &cog[..4]);
    let usage = store.usage().await.unwrap();
    assert_eq!(usage.per_tenant[&tenant.to_string()], cog.len() as u64);

    let sources = Sources::new(SourceOptions {
        s3: s3.clone(),
        ..SourceOptions::default()
    });
    let url = store.url(&key);
    assert!(url.starts_with(&format!("s3://{bucket}/{prefix}/tenants/")));
    let handle = sources.open(&url).await.unwrap();
    let w = handle
        .read_window(0, Window::new(300, 200, 64, 64))
        .await
        .unwrap();
    assert_eq!(w.get(0, 0, 0), f64::from(data[200 * 700 + 300]));
    let s = sources.stats();
    assert!(s.bytes_fetched < cog.len() as u64, "{s:?} of {}", cog.len());

    assert_eq!(
        store.delete_prefix(&aoi_prefix(tenant, aoi)).await.unwrap(),
        1
    );
    assert!(
        store
            .list(&aoi_prefix(tenant, aoi))
            .await
            .unwrap()
            .is_empty()
    );
}
