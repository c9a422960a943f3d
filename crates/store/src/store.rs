//! [`Store`]: a cloneable handle to an object store, with the reads and writes faasml needs and
//! errors that name the store and the key.
//!
//! Objects above [`Store::MULTIPART_THRESHOLD`] are written with the backend's multipart upload
//! (parts of [`Store::PART_SIZE`], a few in flight); they appear only when complete, so every
//! write stays atomic from a reader's view.

use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Arc, Mutex, OnceLock};

use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use object_store::local::LocalFileSystem;
use object_store::memory::InMemory;
use object_store::path::Path;
use object_store::prefix::PrefixStore;
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::access::{Access, Op};
use crate::arrays::ArrayFile;
use crate::builder::StoreBuilder;
use crate::counting::{ByteCounter, CountingStore};
use crate::s3::{self, S3Options};
use crate::url::StoreUrl;
use crate::{Result, StoreError};

/// A handle to an object store: the backend plus the URL it was opened from.
#[derive(Debug, Clone)]
pub struct Store {
    inner: Arc<dyn ObjectStore>,
    url: Arc<str>,
    /// What this handle may read and write; `None`: everything (an operator's handle).
    access: Option<Arc<Access>>,
    /// The directory of a `file://` store, whose emptied directories a prefix deletion removes.
    local_root: Option<Arc<std::path::Path>>,
}

/// In-memory stores by name, so that `memory://x` opened twice in one process is one store.
fn memory_stores() -> &'static Mutex<HashMap<String, Arc<InMemory>>> {
    static STORES: OnceLock<Mutex<HashMap<String, Arc<InMemory>>>> = OnceLock::new();
    STORES.get_or_init(Default::default)
}

/// `dir` as an absolute path, with `.` and `..` resolved lexically (the directory need not exist).
pub(crate) fn absolute_dir(dir: &std::path::Path) -> std::io::Result<std::path::PathBuf> {
    use std::path::Component;
    let absolute = std::path::absolute(dir)?;
    let mut out = std::path::PathBuf::new();
    for component in absolute.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    Ok(out)
}

/// The backend a parsed URL names, without decorators.
pub(crate) fn backend(
    url: &str,
    parsed: StoreUrl,
    s3_options: &S3Options,
) -> Result<Arc<dyn ObjectStore>> {
    match parsed {
        StoreUrl::S3 { bucket, prefix } => {
            let s3: Arc<dyn ObjectStore> = Arc::new(s3::build(url, &bucket, s3_options)?);
            Ok(if prefix.is_empty() {
                s3
            } else {
                Arc::new(PrefixStore::new(s3, prefix.as_str()))
            })
        }
        StoreUrl::File { dir } => {
            // The directory is created by the first write, not here: opening a store writes
            // nothing (a run refused for bad parameters leaves no trace). Keys live under the
            // directory's absolute path in a filesystem-wide store.
            let absolute = absolute_dir(&dir).map_err(|e| StoreError::InvalidUrl {
                url: url.to_string(),
                reason: format!("cannot resolve the directory {}: {e}", dir.display()),
            })?;
            let root = Path::from_absolute_path(&absolute).map_err(|e| StoreError::InvalidUrl {
                url: url.to_string(),
                reason: format!("directory {}: {e}", absolute.display()),
            })?;
            Ok(Arc::new(PrefixStore::new(LocalFileSystem::new(), root)))
        }
        StoreUrl::Memory { name, prefix } => {
            let memory = {
                let mut stores = memory_stores()
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                Arc::clone(stores.entry(name).or_default())
            };
            Ok(if prefix.is_empty() {
                memory
            } else {
                Arc::new(PrefixStore::new(memory, prefix.as_str()))
            })
        }
    }
}

/// Aborts a multipart upload that did not complete (an error, or a write that was cancelled),
/// so that no unfinished upload is left in the bucket. A process killed outright cannot; the
/// bucket's lifecycle rule (`AbortIncompleteMultipartUpload`, see deploy/README.md) is the net
/// for that.
struct AbortGuard(Option<Box<dyn object_store::MultipartUpload>>);

impl Drop for AbortGuard {
    fn drop(&mut self) {
        if let Some(mut upload) = self.0.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            runtime.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

/// Removes, under `dir`, the staging files of writes that never finished (`LocalFileSystem`
/// writes `<name>#<n>` and renames it; a process killed in between leaves it, unlisted), then
/// `dir` and the directories under it that are left empty (deepest first).
fn remove_leftovers(dir: &std::path::Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            match entry.file_type() {
                Ok(t) if t.is_dir() => remove_leftovers(&path),
                Ok(t) if t.is_file() && entry.file_name().to_string_lossy().contains('#') => {
                    let _ = std::fs::remove_file(&path);
                }
                _ => {}
            }
        }
    }
    // Fails, harmlessly, when the directory still holds something.
    let _ = std::fs::remove_dir(dir);
}

impl Store {
    /// Objects larger than this many bytes are written with a multipart upload.
    pub const MULTIPART_THRESHOLD: usize = 8 * 1024 * 1024;
    /// The part size of multipart uploads (S3 needs at least 5 MiB for all but the last part).
    pub const PART_SIZE: usize = 8 * 1024 * 1024;
    /// How many parts of one multipart upload are in flight at once.
    const PARTS_IN_FLIGHT: usize = 4;

    /// Opens the store a URL names: `file://DIR` (created if missing), a plain directory,
    /// `memory://NAME[/PREFIX]`, or `s3://BUCKET[/PREFIX]` configured from the `AWS_*`
    /// environment (see [`S3Options`]). Shorthand for [`StoreBuilder::from_env`].
    ///
    /// Opening does no network IO; call [`Store::check`] to fail fast on a store that cannot
    /// be reached.
    pub fn open(url: &str) -> Result<Self> {
        StoreBuilder::from_env(url).build()
    }

    /// Like [`Store::open`], with explicit S3 settings instead of the process environment
    /// (they are used only by `s3://` URLs).
    pub fn open_with(url: &str, s3_options: &S3Options) -> Result<Self> {
        StoreBuilder::new(url)
            .with_s3_options(s3_options.clone())
            .build()
    }

    /// Wraps an existing [`ObjectStore`]; `url` is used in messages.
    pub fn from_object_store(inner: Arc<dyn ObjectStore>, url: impl AsRef<str>) -> Self {
        Self {
            inner,
            url: Arc::from(url.as_ref()),
            access: None,
            local_root: None,
        }
    }

    /// Records the directory of a `file://` store.
    pub(crate) fn with_local_root(mut self, root: Option<std::path::PathBuf>) -> Self {
        self.local_root = root.map(Arc::from);
        self
    }

    /// The same store, confined to what `access` allows: every read, listing, write and delete
    /// through the returned handle is checked first, and a refused one is a
    /// [`StoreError::Denied`] that changes nothing. Confining an already confined handle
    /// replaces its access.
    pub fn confined(&self, access: Access) -> Self {
        Self {
            inner: Arc::clone(&self.inner),
            url: Arc::clone(&self.url),
            access: Some(Arc::new(access)),
            local_root: self.local_root.clone(),
        }
    }

    /// Whether this handle is confined (see [`Store::confined`]).
    pub fn is_confined(&self) -> bool {
        self.access.is_some()
    }

    /// Whether this handle may read `key` (no IO beyond, at most once, loading a confined
    /// handle's lazy grants): for a cache that serves bytes without reading them again.
    pub async fn check_read(&self, key: &Path) -> Result<()> {
        self.allow(Op::Read, key).await
    }

    /// The objects of `objects` this handle may use for `op` (all of them when unconfined).
    async fn allowed(&self, op: Op, objects: Vec<ObjectMeta>) -> Vec<ObjectMeta> {
        let Some(access) = &self.access else {
            return objects;
        };
        let mut allowed = Vec::with_capacity(objects.len());
        for meta in objects {
            if access.allows(op, meta.location.as_ref()).await {
                allowed.push(meta);
            }
        }
        allowed
    }

    /// Checks `op` on `key` against the handle's access.
    async fn allow(&self, op: Op, key: &Path) -> Result<()> {
        match &self.access {
            Some(access) if !access.allows(op, key.as_ref()).await => Err(StoreError::Denied {
                store: self.url.to_string(),
                key: key.to_string(),
                reason: access.refusal(op, key),
            }),
            _ => Ok(()),
        }
    }

    /// The URL this store was opened from.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The same store seen through a [`CountingStore`] that counts into `counter`.
    pub fn counted(&self, counter: Arc<ByteCounter>) -> Self {
        Self {
            inner: Arc::new(CountingStore::new(Arc::clone(&self.inner), counter)),
            url: Arc::clone(&self.url),
            access: self.access.clone(),
            local_root: self.local_root.clone(),
        }
    }

    /// The same store with every key under `prefix`. On a confined handle the confinement is
    /// kept, applied to the keys as the scoped handle names them.
    pub fn scoped(&self, prefix: &Path) -> Self {
        Self {
            inner: Arc::new(PrefixStore::new(Arc::clone(&self.inner), prefix.clone())),
            url: Arc::from(format!("{}/{prefix}", self.url.trim_end_matches('/'))),
            access: self.access.clone(),
            local_root: self
                .local_root
                .as_ref()
                .map(|root| Arc::from(root.join(prefix.as_ref()))),
        }
    }

    fn backend(&self, op: &'static str, key: &Path, source: object_store::Error) -> StoreError {
        match source {
            object_store::Error::NotFound { .. } => StoreError::NotFound {
                store: self.url.to_string(),
                key: key.to_string(),
            },
            source => StoreError::Backend {
                store: self.url.to_string(),
                op,
                key: key.to_string(),
                source: Box::new(source),
            },
        }
    }

    /// An error saying the object at `key` is corrupt.
    pub fn corrupt(&self, key: &Path, reason: impl Into<String>) -> StoreError {
        StoreError::Corrupt {
            store: self.url.to_string(),
            key: key.to_string(),
            reason: reason.into(),
        }
    }

    /// Reads a whole object.
    pub async fn get(&self, key: &Path) -> Result<Bytes> {
        self.allow(Op::Read, key).await?;
        let result = self
            .inner
            .get(key)
            .await
            .map_err(|e| self.backend("get", key, e))?;
        result
            .bytes()
            .await
            .map_err(|e| self.backend("get", key, e))
    }

    /// Reads a byte range of an object; a range past the end is a corrupt-object error.
    pub async fn get_range(&self, key: &Path, range: Range<u64>) -> Result<Bytes> {
        self.allow(Op::Read, key).await?;
        let want = range.end.saturating_sub(range.start);
        let bytes = self
            .inner
            .get_range(key, range.clone())
            .await
            .map_err(|e| match e {
                object_store::Error::NotFound { .. } => self.backend("get", key, e),
                other => self.corrupt(
                    key,
                    format!("cannot read bytes {}..{}: {other}", range.start, range.end),
                ),
            })?;
        if bytes.len() as u64 != want {
            return Err(self.corrupt(
                key,
                format!(
                    "truncated: wanted bytes {}..{}, got {}",
                    range.start,
                    range.end,
                    bytes.len()
                ),
            ));
        }
        Ok(bytes)
    }

    /// Size and other metadata of an object.
    pub async fn head(&self, key: &Path) -> Result<ObjectMeta> {
        self.allow(Op::Read, key).await?;
        self.inner
            .head(key)
            .await
            .map_err(|e| self.backend("head", key, e))
    }

    /// A string that changes whenever the object at `key` is replaced: its ETag, size and
    /// modification time. For caches that must notice a republished object.
    pub async fn version(&self, key: &Path) -> Result<String> {
        let meta = self.head(key).await?;
        Ok(format!(
            "{}:{}:{}",
            meta.e_tag.as_deref().unwrap_or(""),
            meta.size,
            meta.last_modified.timestamp_micros()
        ))
    }

    /// Whether an object exists.
    pub async fn exists(&self, key: &Path) -> Result<bool> {
        match self.head(key).await {
            Ok(_) => Ok(true),
            Err(StoreError::NotFound { .. }) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Probes the store with one small request (the first page of a listing), so that a
    /// command can fail at start with one clear error: wrong credentials, a missing bucket, an
    /// endpoint that does not answer.
    pub async fn check(&self) -> Result<()> {
        match self.inner.list(None).next().await {
            None | Some(Ok(_)) => Ok(()),
            Some(Err(e)) => {
                let reason = match &e {
                    object_store::Error::NotFound { .. } => {
                        format!("the bucket or directory does not exist ({e})")
                    }
                    _ => e.to_string(),
                };
                Err(StoreError::Unavailable {
                    store: self.url.to_string(),
                    reason,
                })
            }
        }
    }

    /// Writes an object atomically: readers see the old object or the whole new one. Objects
    /// above [`Store::MULTIPART_THRESHOLD`] go up as a multipart upload.
    pub async fn put(&self, key: &Path, bytes: impl Into<PutPayload>) -> Result<()> {
        self.allow(Op::Write, key).await?;
        let payload = bytes.into();
        if payload.content_length() > Self::MULTIPART_THRESHOLD {
            return self.put_multipart(key, payload).await;
        }
        self.inner
            .put(key, payload)
            .await
            .map(|_| ())
            .map_err(|e| self.backend("put", key, e))
    }

    async fn put_multipart(&self, key: &Path, payload: PutPayload) -> Result<()> {
        let upload = self
            .inner
            .put_multipart(key)
            .await
            .map_err(|e| self.backend("put", key, e))?;
        let mut guard = AbortGuard(Some(upload));
        let mut parts = Vec::new();
        if let Some(upload) = guard.0.as_mut() {
            for chunk in &payload {
                let mut chunk = chunk.clone();
                while !chunk.is_empty() {
                    let piece = chunk.split_to(chunk.len().min(Self::PART_SIZE));
                    parts.push(upload.put_part(PutPayload::from(piece)));
                }
            }
        }
        let sent: std::result::Result<Vec<()>, _> = futures::stream::iter(parts)
            .buffer_unordered(Self::PARTS_IN_FLIGHT)
            .try_collect()
            .await;
        let completed = match (sent, guard.0.as_mut()) {
            (Ok(_), Some(upload)) => upload.complete().await.map(|_| ()),
            (Err(e), _) => Err(e),
            (Ok(_), None) => Ok(()),
        };
        match completed {
            Ok(()) => {
                guard.0 = None;
                Ok(())
            }
            // The guard aborts the upload, so no unfinished upload is left behind.
            Err(e) => Err(self.backend("put", key, e)),
        }
    }

    /// Writes a small object only if no object exists at `key`; `Ok(false)` when one does.
    /// A lookup goes first on every backend, so a server that ignores conditional headers
    /// still refuses an object that is there; the write itself is conditional where the
    /// backend supports it (local files, memory, S3 with `If-None-Match`), which closes the race
    /// between two writers that both found nothing.
    pub async fn put_if_absent(&self, key: &Path, bytes: impl Into<PutPayload>) -> Result<bool> {
        self.allow(Op::Write, key).await?;
        if self.exists(key).await? {
            return Ok(false);
        }
        let options = object_store::PutOptions {
            mode: object_store::PutMode::Create,
            ..Default::default()
        };
        match self.inner.put_opts(key, bytes.into(), options).await {
            Ok(_) => Ok(true),
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Ok(false),
            Err(e) => Err(self.backend("put", key, e)),
        }
    }

    /// The "directories" directly under `prefix`: the distinct next segments of its keys
    /// (`runs/` lists one path per run).
    pub async fn list_dirs(&self, prefix: &Path) -> Result<Vec<Path>> {
        self.allow(Op::Read, prefix).await?;
        let prefix_opt = (!prefix.as_ref().is_empty()).then_some(prefix);
        let listing = self
            .inner
            .list_with_delimiter(prefix_opt)
            .await
            .map_err(|e| self.backend("list", prefix, e))?;
        let mut dirs = listing.common_prefixes;
        dirs.sort();
        Ok(dirs)
    }

    /// Every object under `prefix`, sorted by key (on a confined handle: the prefix must be
    /// readable, and only readable keys are returned).
    pub async fn list(&self, prefix: &Path) -> Result<Vec<ObjectMeta>> {
        self.allow(Op::Read, prefix).await?;
        let prefix_opt = (!prefix.as_ref().is_empty()).then_some(prefix);
        let mut objects: Vec<ObjectMeta> = self
            .inner
            .list(prefix_opt)
            .try_collect()
            .await
            .map_err(|e| self.backend("list", prefix, e))?;
        objects = self.allowed(Op::Read, objects).await;
        objects.sort_by(|a, b| a.location.cmp(&b.location));
        Ok(objects)
    }

    /// Deletes the object at `key`; a missing object is not an error.
    pub async fn delete(&self, key: &Path) -> Result<()> {
        self.allow(Op::Write, key).await?;
        match self.inner.delete(key).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(self.backend("delete", key, e)),
        }
    }

    /// Deletes every object under `prefix`; returns how many were deleted.
    pub async fn delete_prefix(&self, prefix: &Path) -> Result<usize> {
        self.allow(Op::Write, prefix).await?;
        let mut objects = self.list(prefix).await?;
        objects = self.allowed(Op::Write, objects).await;
        for meta in &objects {
            match self.inner.delete(&meta.location).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => {}
                Err(e) => return Err(self.backend("delete", &meta.location, e)),
            }
        }
        if let Some(root) = &self.local_root
            && !prefix.as_ref().is_empty()
        {
            // Objects are gone; their directories, and the staging files of writes a killed
            // process never finished, would stay behind on a file:// store and look like runs
            // or datasets. Best effort: a directory that still holds objects stays.
            let dir = prefix
                .parts()
                .fold(root.to_path_buf(), |dir, part| dir.join(part.as_ref()));
            let _ = tokio::task::spawn_blocking(move || remove_leftovers(&dir)).await;
        }
        Ok(objects.len())
    }

    /// Reads and parses a JSON object.
    pub async fn get_json<T: DeserializeOwned>(&self, key: &Path) -> Result<T> {
        let bytes = self.get(key).await?;
        serde_json::from_slice(&bytes).map_err(|e| self.corrupt(key, format!("bad JSON: {e}")))
    }

    /// Writes a value as a JSON object.
    pub async fn put_json<T: Serialize>(&self, key: &Path, value: &T) -> Result<()> {
        let bytes = serde_json::to_vec_pretty(value)
            .map_err(|e| StoreError::Encode(format!("JSON for '{key}': {e}")))?;
        self.put(key, bytes).await
    }

    /// Reads a safetensors object.
    pub async fn get_arrays(&self, key: &Path) -> Result<ArrayFile> {
        let bytes = self.get(key).await?;
        ArrayFile::decode(&bytes).map_err(|e| self.corrupt(key, e.0))
    }

    /// Writes arrays as a safetensors object.
    pub async fn put_arrays(&self, key: &Path, arrays: &ArrayFile) -> Result<()> {
        self.put(key, arrays.encode()?).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn memory_stores_with_one_name_are_shared_and_prefixes_isolate() {
        let a = Store::open("memory://shared").unwrap();
        a.put(&Path::from("p/x"), b"1".to_vec()).await.unwrap();
        let b = Store::open("memory://shared/p").unwrap();
        assert_eq!(&b.get(&Path::from("x")).await.unwrap()[..], b"1");
    }

    #[tokio::test]
    async fn a_file_prefix_deletion_leaves_no_directories_or_staging_files() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&format!("file://{}", dir.path().display())).unwrap();
        store
            .put(&Path::from("runs/r/a/x"), b"1".to_vec())
            .await
            .unwrap();
        store
            .put(&Path::from("runs/other/y"), b"1".to_vec())
            .await
            .unwrap();
        // What a process killed mid-write leaves: a staging file nobody lists.
        std::fs::write(dir.path().join("runs/r/a/z#1"), b"half").unwrap();
        assert_eq!(store.delete_prefix(&Path::from("runs/r")).await.unwrap(), 1);
        assert!(!dir.path().join("runs/r").exists());
        assert!(dir.path().join("runs/other/y").exists());
    }

    #[test]
    fn s3_urls_open_without_network_io() {
        let options = S3Options::from_vars([
            ("AWS_ACCESS_KEY_ID", "AKID"),
            ("AWS_SECRET_ACCESS_KEY", "secret"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:9"),
            ("AWS_ALLOW_HTTP", "true"),
        ]);
        let store = Store::open_with("s3://bucket/some/prefix", &options).unwrap();
        assert_eq!(store.url(), "s3://bucket/some/prefix");
    }
}
