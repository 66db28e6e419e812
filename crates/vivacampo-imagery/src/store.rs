//! The raster store: where field-week COGs live. One object-store abstraction over a local
//! directory (the default, `<data-dir>/rasters`) and any S3-compatible bucket
//! (`s3://bucket/prefix`). Key layout (`docs/raster-store.md`):
//!
//! ```text
//! tenants/{tenant_id}/aois/{aoi_id}/{year}/W{week:02}/v{geometry}-{stamp}.tif
//! ```
//!
//! Every processing of a week writes a new object (see [`RasterVersion`]), so the bytes under a
//! key never change.
//!
//! Everything of a field sits under [`aoi_prefix`], so deleting a field is one prefix delete,
//! and the tenant is the second key segment, so storage per tenant is a list away.
//!
//! Every call is bounded ([`RasterStore::with_timeout`], default [`DEFAULT_TIMEOUT`]): a store
//! that accepts connections and never answers fails the call with [`Error::Timeout`], counted
//! as a `timeout` in the external-call metrics, instead of holding a request or a job.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::path::Path;
use object_store::{ObjectStore, ObjectStoreExt, PutPayload};
use time::OffsetDateTime;
use url::Url;
use uuid::Uuid;

use crate::calls::{self, Service};
use crate::error::{Error, Result};
use crate::source::{HttpOptions, S3Options, s3_builder};

/// Which processing of a field-week a COG is: the field's geometry version and when the
/// processing ran (unix milliseconds). Each run writes a new key, so whoever holds a key (a
/// cached tile URL, a half-finished download) never sees the file change under it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RasterVersion {
    pub geometry: u32,
    pub stamp: u64,
}

impl RasterVersion {
    /// The version a key of [`field_week_key`]'s layout names, if it is one.
    pub fn of_key(key: &str) -> Option<RasterVersion> {
        key.rsplit('/')
            .next()?
            .strip_prefix('v')?
            .strip_suffix(".tif")
            .and_then(RasterVersion::parse)
    }

    /// Parses `{geometry}-{stamp}`, as [`Display`](std::fmt::Display) writes it.
    pub fn parse(text: &str) -> Option<RasterVersion> {
        let (geometry, stamp) = text.split_once('-')?;
        let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        (digits(geometry) && digits(stamp)).then_some(())?;
        Some(RasterVersion {
            geometry: geometry.parse().ok()?,
            stamp: stamp.parse().ok()?,
        })
    }
}

impl std::fmt::Display for RasterVersion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}-{}", self.geometry, self.stamp)
    }
}

/// Key of one field-week COG.
pub fn field_week_key(
    tenant: Uuid,
    aoi: Uuid,
    year: i32,
    week: u8,
    version: RasterVersion,
) -> String {
    format!(
        "{}{year}/W{week:02}/v{version}.tif",
        aoi_prefix(tenant, aoi)
    )
}

/// Key of one field-week radar COG: beside the optical one, under `radar/`.
pub fn radar_week_key(
    tenant: Uuid,
    aoi: Uuid,
    year: i32,
    week: u8,
    version: RasterVersion,
) -> String {
    format!(
        "{}{year}/W{week:02}/radar/v{version}.tif",
        aoi_prefix(tenant, aoi)
    )
}

/// Prefix (with trailing `/`) of every object of a field.
pub fn aoi_prefix(tenant: Uuid, aoi: Uuid) -> String {
    format!("tenants/{tenant}/aois/{aoi}/")
}

/// Prefix of every object of a tenant.
pub fn tenant_prefix(tenant: Uuid) -> String {
    format!("tenants/{tenant}/")
}

/// One stored object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub key: String,
    pub size: u64,
    /// When it was last written (for RETENTION).
    pub modified: OffsetDateTime,
}

/// Bytes stored, in total and per tenant (the `tenants/{id}/` segment), for `/metrics`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    pub total_bytes: u64,
    pub objects: u64,
    pub per_tenant: BTreeMap<String, u64>,
}

/// Objects found that no database row names, past the grace period, and deleted, by this
/// process's storage sweeps (for `/metrics`).
static ORPHANS_FOUND: AtomicU64 = AtomicU64::new(0);
static ORPHANS_DELETED: AtomicU64 = AtomicU64::new(0);

/// Counts a sweep's orphans: `found` past the grace period, of which `deleted` are gone.
pub fn record_orphans(found: u64, deleted: u64) {
    ORPHANS_FOUND.fetch_add(found, Ordering::Relaxed);
    ORPHANS_DELETED.fetch_add(deleted, Ordering::Relaxed);
}

/// (orphans found, orphans deleted) by this process's sweeps so far.
pub fn orphan_totals() -> (u64, u64) {
    (
        ORPHANS_FOUND.load(Ordering::Relaxed),
        ORPHANS_DELETED.load(Ordering::Relaxed),
    )
}

/// How long one store call may take unless [`RasterStore::with_timeout`] says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A raster store; cheap to clone.
#[derive(Debug, Clone)]
pub struct RasterStore {
    store: Arc<dyn ObjectStore>,
    /// Upper bound of one call (a listing or a prefix delete is one call).
    timeout: Duration,
    /// Key prefix inside the bucket (empty for a local directory).
    prefix: String,
    /// `file:///dir/` or `s3://bucket/prefix/`: [`RasterStore::url`] appends keys to it.
    base_url: String,
}

impl RasterStore {
    /// A store in a local directory (created if missing). Writes are atomic: object_store's
    /// local backend writes a temporary file beside the target and renames it.
    pub fn local(dir: impl AsRef<FsPath>) -> Result<RasterStore> {
        let dir = std::path::absolute(dir.as_ref()).map_err(|e| Error::io(dir.as_ref(), e))?;
        std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
        let store = LocalFileSystem::new_with_prefix(&dir)
            .map_err(|e| Error::store(&dir.display().to_string(), e))?
            // Deleting a field's last file removes its now empty directories too.
            .with_automatic_cleanup(true);
        let base = Url::from_directory_path(&dir).map_err(|()| Error::Location {
            url: dir.display().to_string(),
            reason: "not an absolute directory".into(),
        })?;
        Ok(RasterStore {
            store: Arc::new(store),
            timeout: DEFAULT_TIMEOUT,
            prefix: String::new(),
            base_url: base.to_string(),
        })
    }

    /// A store in an S3-compatible bucket, `s3://bucket[/prefix]`.
    pub fn s3(url: &str, s3: &S3Options, http: &HttpOptions) -> Result<RasterStore> {
        let bad = |reason: String| Error::Location {
            url: url.into(),
            reason,
        };
        let u = Url::parse(url).map_err(|e| bad(e.to_string()))?;
        let bucket = u
            .host_str()
            .filter(|_| u.scheme() == "s3")
            .ok_or_else(|| bad("expected s3://bucket/prefix".into()))?;
        let prefix = u.path().trim_matches('/');
        let prefix = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        let store = s3_builder(s3, http)
            .with_bucket_name(bucket)
            .build()
            .map_err(|e| Error::store(url, e))?;
        Ok(RasterStore {
            store: Arc::new(store),
            timeout: DEFAULT_TIMEOUT,
            base_url: format!("s3://{bucket}/{prefix}"),
            prefix,
        })
    }

    /// `s3://…` → [`RasterStore::s3`]; `file://…` or a path → [`RasterStore::local`].
    pub fn open(location: &str, s3: &S3Options, http: &HttpOptions) -> Result<RasterStore> {
        if location.starts_with("s3://") {
            return RasterStore::s3(location, s3, http);
        }
        let dir = match Url::parse(location) {
            Ok(u) if u.scheme() == "file" => u.to_file_path().map_err(|()| Error::Location {
                url: location.into(),
                reason: "not a local path".into(),
            })?,
            _ => PathBuf::from(location),
        };
        RasterStore::local(dir)
    }

    /// The URL of `key`, for [`crate::source::Sources::open`] (same credentials apply).
    pub fn url(&self, key: &str) -> String {
        format!("{}{key}", self.base_url)
    }

    fn path(&self, key: &str) -> Result<Path> {
        Path::parse(format!("{}{key}", self.prefix)).map_err(|e| Error::Location {
            url: key.into(),
            reason: e.to_string(),
        })
    }

    fn key_of(&self, p: &Path) -> String {
        p.as_ref()
            .strip_prefix(&self.prefix)
            .unwrap_or(p.as_ref())
            .to_string()
    }

    /// The same store with every call bounded by `timeout`.
    pub fn with_timeout(mut self, timeout: Duration) -> RasterStore {
        self.timeout = timeout;
        self
    }

    /// Runs one call against the store within the timeout, counts it, and names `key` in its
    /// error.
    async fn call<T>(
        &self,
        key: &str,
        call: impl Future<Output = object_store::Result<T>>,
    ) -> Result<T> {
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => calls::record(Service::RasterStore, result)
                .map_err(|e| Error::store(&self.url(key), e)),
            Err(_) => {
                calls::record_timeout(Service::RasterStore);
                Err(Error::Timeout {
                    url: self.url(key),
                    after: self.timeout,
                })
            }
        }
    }

    /// Writes an object whole (atomically: readers see the old object or the new one).
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<()> {
        let path = self.path(key)?;
        self.call(key, self.store.put(&path, PutPayload::from_bytes(bytes)))
            .await?;
        Ok(())
    }

    pub async fn get(&self, key: &str) -> Result<Bytes> {
        let path = self.path(key)?;
        self.call(key, async { self.store.get(&path).await?.bytes().await })
            .await
    }

    pub async fn get_range(&self, key: &str, range: Range<u64>) -> Result<Bytes> {
        let path = self.path(key)?;
        self.call(key, self.store.get_range(&path, range)).await
    }

    /// Deletes one object; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<()> {
        let path = self.path(key)?;
        self.call(key, async {
            match self.store.delete(&path).await {
                Err(object_store::Error::NotFound { .. }) => Ok(()),
                other => other,
            }
        })
        .await
    }

    /// Writes and deletes a small probe object: `/readyz` asks this of the store.
    pub async fn check_writable(&self) -> Result<()> {
        let key = format!("probes/readyz-{}", Uuid::new_v4());
        self.put(&key, Bytes::from_static(b"ok")).await?;
        self.delete(&key).await
    }

    /// Reads a probe key that is never written: a store that answers (even "not found") can be
    /// read. A tiler's `/readyz` asks this; nothing is written.
    pub async fn check_readable(&self) -> Result<()> {
        match self.get("probes/readyz-read").await {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// The directory of a local store (`None` for S3), for its free-space gauge.
    pub fn local_dir(&self) -> Option<std::path::PathBuf> {
        Url::parse(&self.base_url)
            .ok()
            .filter(|u| u.scheme() == "file")
            .and_then(|u| u.to_file_path().ok())
    }

    /// Objects under `prefix` (a key prefix ending in `/`), with sizes, sorted by key.
    pub async fn list(&self, prefix: &str) -> Result<Vec<Entry>> {
        let p = self.path(prefix.trim_end_matches('/'))?;
        let listing = self
            .store
            .list(Some(&p))
            .map_ok(|m| Entry {
                key: self.key_of(&m.location),
                size: m.size,
                modified: OffsetDateTime::from_unix_timestamp(m.last_modified.timestamp())
                    .unwrap_or(OffsetDateTime::UNIX_EPOCH),
            })
            .try_collect::<Vec<Entry>>();
        let mut out = self.call(prefix, listing).await?;
        out.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(out)
    }

    /// Deletes every object under `prefix`; returns how many.
    pub async fn delete_prefix(&self, prefix: &str) -> Result<u64> {
        let entries = self.list(prefix).await?;
        let paths: Vec<object_store::Result<Path>> = entries
            .iter()
            .map(|e| {
                self.path(&e.key)
                    .map_err(|err| object_store::Error::Generic {
                        store: "raster store",
                        source: err.to_string().into(),
                    })
            })
            .collect();
        let deleted = self
            .store
            .delete_stream(futures_util::stream::iter(paths).boxed())
            .try_fold(0u64, |n, _| async move { Ok(n + 1) });
        self.call(prefix, deleted).await
    }

    /// Bytes stored in total and per tenant.
    pub async fn usage(&self) -> Result<Usage> {
        let mut u = Usage::default();
        for e in self.list("tenants/").await? {
            u.total_bytes += e.size;
            u.objects += 1;
            if let Some(tenant) = e.key.split('/').nth(1) {
                *u.per_tenant.entry(tenant.to_string()).or_default() += e.size;
            }
        }
        Ok(u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_layout() {
        let t = Uuid::from_u128(1);
        let a = Uuid::from_u128(2);
        let v = RasterVersion {
            geometry: 3,
            stamp: 1_795_000_000_123,
        };
        let key = field_week_key(t, a, 2026, 7, v);
        assert_eq!(
            key,
            "tenants/00000000-0000-0000-0000-000000000001/aois/00000000-0000-0000-0000-000000000002/2026/W07/v3-1795000000123.tif"
        );
        assert_eq!(RasterVersion::of_key(&key), Some(v));
        assert_eq!(RasterVersion::parse(&v.to_string()), Some(v));
        for bad in [
            "3",
            "3-",
            "-5",
            "3-x",
            "+3-5",
            "3-5-6",
            "3-99999999999999999999999",
        ] {
            assert_eq!(RasterVersion::parse(bad), None, "{bad}");
        }
        assert_eq!(
            RasterVersion::of_key("tenants/t/aois/a/2026/W07/v3.tif"),
            None
        );
        assert!(key.starts_with(&aoi_prefix(t, a)));
        assert!(aoi_prefix(t, a).starts_with(&tenant_prefix(t)));
    }

    #[tokio::test]
    async fn local_put_get_list_delete() {
        let dir = std::env::temp_dir().join(format!("vc-imagery-store-{}", std::process::id()));
        let store = RasterStore::local(&dir).unwrap();
        let (t1, t2, a) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(9));
        let v = RasterVersion {
            geometry: 1,
            stamp: 7,
        };
        let k1 = field_week_key(t1, a, 2026, 1, v);
        let k2 = field_week_key(t1, a, 2026, 2, v);
        let k3 = field_week_key(t2, a, 2026, 1, v);
        store
            .put(&k1, Bytes::from_static(b"0123456789"))
            .await
            .unwrap();
        store.put(&k2, Bytes::from_static(b"abc")).await.unwrap();
        store.put(&k3, Bytes::from_static(b"xy")).await.unwrap();
        // The file is where DELETE_AOI_ASSETS looks for it.
        assert!(dir.join(&k1).is_file());
        assert_eq!(&store.get(&k1).await.unwrap()[..], b"0123456789");
        assert_eq!(&store.get_range(&k1, 2..5).await.unwrap()[..], b"234");
        assert!(matches!(
            store.get("tenants/none.tif").await,
            Err(Error::NotFound { .. })
        ));
        let listed = store.list(&aoi_prefix(t1, a)).await.unwrap();
        assert_eq!(listed.iter().map(|e| e.size).collect::<Vec<_>>(), [10, 3]);
        let age = OffsetDateTime::now_utc() - listed[0].modified;
        assert!(age.whole_seconds().abs() < 60, "{age}");
        let u = store.usage().await.unwrap();
        assert_eq!((u.total_bytes, u.objects), (15, 3));
        assert_eq!(u.per_tenant[&t1.to_string()], 13);
        assert_eq!(store.delete_prefix(&aoi_prefix(t1, a)).await.unwrap(), 2);
        assert!(!dir.join(aoi_prefix(t1, a)).exists());
        assert_eq!(store.usage().await.unwrap().total_bytes, 2);
        assert!(store.url(&k3).starts_with("file:///"));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
