//! Image datasets in a store: finding them under a prefix, dealing them into shards, loading a
//! shard, and importing a dataset into a store.
//!
//! Two layouts are understood, and may be mixed under one prefix:
//! - one PNG object per image with the class as the parent directory, `<prefix>/<class>/<n>.png`
//!   (the layout of the seed's image bucket), and
//! - IDX file pairs, `<name>-images-idx3-ubyte` with `<name>-labels-idx1-ubyte` (plain or `.gz`),
//!   which are read by byte range so that each shard fetches only its own rows.

use std::sync::Arc;

use faasml_datasets::{ImageSet, bundled, idx, png_image};
use faasml_ml::Matrix;
use faasml_store::{Path, Store};
use futures::{StreamExt, TryStreamExt};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// The pixels of `set` as a row-major matrix scaled to `[0, 1]`.
pub fn pixels_matrix(set: &ImageSet) -> Result<Matrix> {
    let data = set.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    Ok(Matrix::new(set.len(), set.pixels_per_image(), data)?)
}

/// How many objects one function fetches at once.
const FETCH_CONCURRENCY: usize = 32;

/// Part of an image dataset in a store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum ImageSource {
    /// PNG objects, one image each, the class being the parent directory's name.
    Png {
        /// The object keys.
        keys: Vec<String>,
    },
    /// Rows `start..end` of an IDX image file and its label file.
    Idx {
        /// The images object.
        images: String,
        /// The labels object.
        labels: String,
        /// First row.
        start: u64,
        /// One past the last row.
        end: u64,
        /// Whether the objects are gzip-compressed (then read whole, not by range).
        gzip: bool,
    },
}

impl ImageSource {
    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Png { keys } => keys.len(),
            Self::Idx { start, end, .. } => end.saturating_sub(*start) as usize,
        }
    }

    /// Whether it holds no image.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Images `from..to` of this source (`to` is clamped to its length).
    pub fn slice(&self, from: usize, to: usize) -> Self {
        let to = to.min(self.len());
        let from = from.min(to);
        match self {
            Self::Png { keys } => Self::Png {
                keys: keys[from..to].to_vec(),
            },
            Self::Idx {
                images,
                labels,
                start,
                gzip,
                ..
            } => Self::Idx {
                images: images.clone(),
                labels: labels.clone(),
                start: start + from as u64,
                end: start + to as u64,
                gzip: *gzip,
            },
        }
    }
}

/// The first `n` images of `sources`.
pub fn take(sources: &[ImageSource], n: usize) -> Vec<ImageSource> {
    let mut left = n;
    let mut kept = Vec::new();
    for source in sources {
        if left == 0 {
            break;
        }
        let part = source.slice(0, left);
        left -= part.len();
        kept.push(part);
    }
    kept
}

/// Total number of images in `sources`.
pub fn count(sources: &[ImageSource]) -> usize {
    sources.iter().map(ImageSource::len).sum()
}

fn corrupt(store: &Store, key: &str, source: faasml_datasets::DatasetError) -> WorkflowError {
    WorkflowError::CorruptData {
        store: store.url().to_string(),
        key: key.to_string(),
        source,
    }
}

fn bundled_names() -> String {
    bundled::catalog()
        .iter()
        .map(|d| d.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// Finds the images under `prefix`: every PNG object, in dataset order (by the image number in
/// the file name, not by key), and every IDX pair as one full range.
pub async fn list(store: &Store, prefix: &str) -> Result<Vec<ImageSource>> {
    let objects = store.list(&Path::from(prefix)).await?;
    let keys: Vec<String> = objects.iter().map(|m| m.location.to_string()).collect();
    let mut sources = Vec::new();
    let mut png: Vec<String> = keys
        .iter()
        .filter(|k| k.to_ascii_lowercase().ends_with(".png"))
        .cloned()
        .collect();
    png.sort_by_cached_key(|key| dataset_order(key));
    if !png.is_empty() {
        sources.push(ImageSource::Png { keys: png });
    }
    for images in keys.iter().filter(|k| is_idx_images(k)) {
        let labels = images.replace("images-idx3", "labels-idx1");
        if !keys.contains(&labels) {
            return Err(WorkflowError::NoData {
                store: store.url().to_string(),
                prefix: format!("{prefix} (IDX images '{images}' has no labels object '{labels}')"),
                bundled: bundled_names(),
            });
        }
        let gzip = images.ends_with(".gz");
        let n = idx_count(store, images, &labels, gzip).await?;
        sources.push(ImageSource::Idx {
            images: images.clone(),
            labels,
            start: 0,
            end: n,
            gzip,
        });
    }
    if sources.is_empty() {
        return Err(WorkflowError::NoData {
            store: store.url().to_string(),
            prefix: prefix.to_string(),
            bundled: bundled_names(),
        });
    }
    if count(&sources) == 0 {
        return Err(WorkflowError::TooSmall {
            prefix: prefix.to_string(),
            reason: "it holds no images".to_string(),
        });
    }
    Ok(sources)
}

/// Where a PNG key goes in dataset order: by the number its file is named with (`<class>/<n>.png`,
/// the image's index in the dataset), then by key; keys not named by a number come after, by key.
///
/// Listing order (by key) would put the images class by class, which is not the dataset's order:
/// dealt round-robin, it gives a different split of the images than the same dataset as IDX.
fn dataset_order(key: &str) -> (u128, String) {
    let file = key.rsplit(['/', '\\']).next().unwrap_or(key);
    let stem = file.get(..file.len().saturating_sub(4)).unwrap_or(file);
    let number = if !stem.is_empty() && stem.len() <= 38 && stem.bytes().all(|b| b.is_ascii_digit())
    {
        stem.parse().unwrap_or(u128::MAX)
    } else {
        u128::MAX
    };
    (number, key.to_string())
}

fn is_idx_images(key: &str) -> bool {
    key.ends_with("images-idx3-ubyte") || key.ends_with("images-idx3-ubyte.gz")
}

/// Reads the two IDX headers and checks that they agree; returns the number of images.
async fn idx_count(store: &Store, images: &str, labels: &str, gzip: bool) -> Result<u64> {
    let (image_header, label_header) = if gzip {
        let image_bytes = store.get(&Path::from(images)).await?;
        let label_bytes = store.get(&Path::from(labels)).await?;
        // The header of the decompressed file: `decode_images_limit` would report the count it
        // returns (0 for a limit of 0), not the file's.
        let raw = idx::gunzip_if_needed(&image_bytes).map_err(|e| corrupt(store, images, e))?;
        let head = raw.get(..idx::IMAGES_HEADER_LEN).unwrap_or(&raw);
        let header = idx::parse_images_header(head).map_err(|e| corrupt(store, images, e))?;
        let all_labels = idx::decode_labels(&label_bytes).map_err(|e| corrupt(store, labels, e))?;
        (header, all_labels.len() as u32)
    } else {
        let head = store
            .get_range(&Path::from(images), 0..idx::IMAGES_HEADER_LEN as u64)
            .await?;
        let header = idx::parse_images_header(&head).map_err(|e| corrupt(store, images, e))?;
        let head = store
            .get_range(&Path::from(labels), 0..idx::LABELS_HEADER_LEN as u64)
            .await?;
        let labels_n = idx::parse_labels_header(&head).map_err(|e| corrupt(store, labels, e))?;
        (header, labels_n)
    };
    if image_header.count != label_header {
        return Err(corrupt(
            store,
            images,
            faasml_datasets::DatasetError::Mismatch {
                images: u64::from(image_header.count),
                labels: u64::from(label_header),
            },
        ));
    }
    Ok(u64::from(image_header.count))
}

/// Deals `sources` into `n` shards of near-equal size: PNG keys round-robin (as the seed deals
/// its keys), IDX rows in contiguous blocks (so each shard is one byte range).
pub fn deal(sources: &[ImageSource], n: usize) -> Vec<Vec<ImageSource>> {
    let n = n.max(1);
    let mut shards: Vec<Vec<ImageSource>> = vec![Vec::new(); n];
    let mut next = 0;
    for source in sources {
        match source {
            ImageSource::Png { keys } => {
                let mut dealt: Vec<Vec<String>> = vec![Vec::new(); n];
                for key in keys {
                    dealt[next % n].push(key.clone());
                    next += 1;
                }
                for (shard, keys) in shards.iter_mut().zip(dealt) {
                    if !keys.is_empty() {
                        shard.push(ImageSource::Png { keys });
                    }
                }
            }
            ImageSource::Idx { .. } => {
                let len = source.len();
                for (i, shard) in shards.iter_mut().enumerate() {
                    let (lo, hi) = (len * i / n, len * (i + 1) / n);
                    if hi > lo {
                        shard.push(source.slice(lo, hi));
                    }
                }
            }
        }
    }
    shards
}

/// Splits `sources` into `n` consecutive batches of near-equal size, keeping image order.
pub fn deal_contiguous(sources: &[ImageSource], n: usize) -> Vec<Vec<ImageSource>> {
    let total = count(sources);
    let n = n.clamp(1, total.max(1));
    let bounds: Vec<usize> = (0..=n).map(|i| total * i / n).collect();
    let mut batches: Vec<Vec<ImageSource>> = vec![Vec::new(); n];
    let mut offset = 0;
    for source in sources {
        let len = source.len();
        for (b, batch) in batches.iter_mut().enumerate() {
            let lo = bounds[b].max(offset);
            let hi = bounds[b + 1].min(offset + len);
            if hi <= lo {
                continue;
            }
            batch.push(source.slice(lo - offset, hi - offset));
        }
        offset += len;
    }
    batches
}

/// Loads the images of `sources` in order.
pub async fn load(store: &Store, sources: &[ImageSource]) -> Result<ImageSet> {
    let mut parts = Vec::with_capacity(sources.len());
    for source in sources {
        parts.push(match source {
            ImageSource::Png { keys } => load_png(store, keys).await?,
            ImageSource::Idx {
                images,
                labels,
                start,
                end,
                gzip,
            } => load_idx(store, images, labels, *start, *end, *gzip).await?,
        });
    }
    concat(parts)
}

fn concat(parts: Vec<ImageSet>) -> Result<ImageSet> {
    let mut parts = parts.into_iter();
    let Some(mut all) = parts.next() else {
        return Err(WorkflowError::TooSmall {
            prefix: "(shard)".to_string(),
            reason: "no images to load".to_string(),
        });
    };
    for part in parts {
        if (part.rows, part.cols) != (all.rows, all.cols) {
            return Err(WorkflowError::InvalidParams(format!(
                "images of different sizes in one dataset: {}x{} and {}x{}",
                all.rows, all.cols, part.rows, part.cols
            )));
        }
        all.pixels.extend_from_slice(&part.pixels);
        all.labels.extend_from_slice(&part.labels);
    }
    Ok(all)
}

async fn load_png(store: &Store, keys: &[String]) -> Result<ImageSet> {
    let fetched: Vec<(String, bytes::Bytes)> = futures::stream::iter(keys.iter().cloned())
        .map(|key| async move {
            let bytes = store.get(&Path::from(key.as_str())).await?;
            Ok::<_, WorkflowError>((key, bytes))
        })
        .buffered(FETCH_CONCURRENCY)
        .try_collect()
        .await?;
    let store_url: Arc<str> = Arc::from(store.url());
    faasml_core::compute(move || decode_pngs(&store_url, &fetched))
        .await
        .map_err(WorkflowError::Compute)?
}

fn decode_pngs(store_url: &str, fetched: &[(String, bytes::Bytes)]) -> Result<ImageSet> {
    use rayon::prelude::*;
    let decoded: Vec<(u32, u32, Vec<u8>, u8)> = fetched
        .par_iter()
        .map(|(key, bytes)| {
            let bad = |source| WorkflowError::CorruptData {
                store: store_url.to_string(),
                key: key.clone(),
                source,
            };
            let label = png_image::label_from_key(key).map_err(bad)?;
            let (rows, cols, pixels) = png_image::decode_gray(bytes).map_err(bad)?;
            Ok((rows, cols, pixels, label))
        })
        .collect::<Result<_>>()?;
    let (rows, cols) = decoded.first().map(|d| (d.0, d.1)).unwrap_or((0, 0));
    let mut pixels = Vec::with_capacity(decoded.len() * (rows * cols) as usize);
    let mut labels = Vec::with_capacity(decoded.len());
    for ((r, c, p, label), (key, _)) in decoded.into_iter().zip(fetched) {
        if (r, c) != (rows, cols) {
            return Err(WorkflowError::InvalidParams(format!(
                "image '{key}' is {r}x{c} but the others are {rows}x{cols}"
            )));
        }
        pixels.extend_from_slice(&p);
        labels.push(label);
    }
    ImageSet::new(rows, cols, pixels, labels).map_err(|e| WorkflowError::CorruptData {
        store: store_url.to_string(),
        key: "(png set)".to_string(),
        source: e,
    })
}

async fn load_idx(
    store: &Store,
    images: &str,
    labels: &str,
    start: u64,
    end: u64,
    gzip: bool,
) -> Result<ImageSet> {
    if gzip {
        let image_bytes = store.get(&Path::from(images)).await?;
        let label_bytes = store.get(&Path::from(labels)).await?;
        let set = idx::read_pair_limit(&image_bytes, &label_bytes, Some(end as usize))
            .map_err(|e| corrupt(store, images, e))?;
        let per = set.pixels_per_image();
        let (s, e) = (start as usize, end as usize);
        return ImageSet::new(
            set.rows,
            set.cols,
            set.pixels[s * per..e * per].to_vec(),
            set.labels[s..e].to_vec(),
        )
        .map_err(|e| corrupt(store, images, e));
    }
    let head = store
        .get_range(&Path::from(images), 0..idx::IMAGES_HEADER_LEN as u64)
        .await?;
    let header = idx::parse_images_header(&head).map_err(|e| corrupt(store, images, e))?;
    let per = u64::from(header.rows) * u64::from(header.cols);
    let image_offset = idx::IMAGES_HEADER_LEN as u64;
    let label_offset = idx::LABELS_HEADER_LEN as u64;
    let (image_key, label_key) = (Path::from(images), Path::from(labels));
    let (pixels, label_bytes) = futures::try_join!(
        store.get_range(
            &image_key,
            image_offset + start * per..image_offset + end * per
        ),
        store.get_range(&label_key, label_offset + start..label_offset + end),
    )?;
    ImageSet::new(
        header.rows,
        header.cols,
        pixels.to_vec(),
        label_bytes.to_vec(),
    )
    .map_err(|e| corrupt(store, images, e))
}

/// The layout [`import`] writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// One PNG object per image, `<prefix>/<class>/<index>.png`.
    Png,
    /// One IDX pair, `<prefix>/<name>-images-idx3-ubyte` and `-labels-idx1-ubyte`.
    Idx,
}

/// Writes `set` under `prefix` in `format`; returns the number of objects written.
///
/// `progress` is called with the number of objects written so far.
pub async fn import(
    store: &Store,
    prefix: &str,
    name: &str,
    set: &ImageSet,
    format: ImportFormat,
    progress: &(dyn Fn(usize) + Sync),
) -> Result<usize> {
    match format {
        ImportFormat::Idx => {
            let (images, labels) = idx::encode_image_set(set).map_err(|e| {
                WorkflowError::InvalidParams(format!("cannot encode '{name}' as IDX: {e}"))
            })?;
            // Labels first: a reader lists images files, so a pair is visible only when whole.
            store
                .put(
                    &Path::from(format!("{prefix}/{name}-labels-idx1-ubyte")),
                    labels,
                )
                .await?;
            store
                .put(
                    &Path::from(format!("{prefix}/{name}-images-idx3-ubyte")),
                    images,
                )
                .await?;
            progress(2);
            Ok(2)
        }
        ImportFormat::Png => {
            let written = std::sync::atomic::AtomicUsize::new(0);
            futures::stream::iter(0..set.len())
                .map(|i| {
                    let written = &written;
                    async move {
                        let label = set.label(i);
                        let png = png_image::encode_gray(set.rows, set.cols, set.image(i))
                            .map_err(|e| {
                                WorkflowError::InvalidParams(format!(
                                    "cannot encode image {i}: {e}"
                                ))
                            })?;
                        let key = join(prefix, &png_image::image_key(i, label));
                        store.put(&Path::from(key), png).await?;
                        let n = written.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        if n.is_multiple_of(256) || n == set.len() {
                            progress(n);
                        }
                        Ok::<_, WorkflowError>(())
                    }
                })
                .buffer_unordered(FETCH_CONCURRENCY)
                .try_collect::<()>()
                .await?;
            Ok(set.len())
        }
    }
}

/// `prefix/rest`, or `rest` alone for an empty prefix.
fn join(prefix: &str, rest: &str) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        rest.to_string()
    } else {
        format!("{prefix}/{rest}")
    }
}

/// The object a complete first-use import of a bundled dataset leaves in its prefix.
pub const IMPORT_MARKER: &str = ".faasml-import.json";
/// The object an import in progress leaves in its prefix until it completes.
pub const IMPORT_PENDING: &str = ".faasml-import-pending";

/// What [`ensure_bundled`] records about an import it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The bundled dataset's name.
    pub dataset: String,
    /// Images imported.
    pub images: usize,
    /// The run that imported it (empty outside a run).
    #[serde(default)]
    pub run_id: String,
}

fn marker_key(prefix: &str, name: &str) -> Path {
    Path::from(join(prefix, name))
}

/// Whether `prefix` names a bundled dataset (by its last segment) that is not in the store yet:
/// the prefix is empty, or holds an import that never completed (a process killed while
/// importing). A prefix holding anything else is left alone: it is the user's data.
pub async fn needs_bundled_import(store: &Store, prefix: &str) -> Result<bool> {
    let name = prefix.rsplit('/').next().unwrap_or(prefix);
    if bundled::lookup(name).is_err() {
        return Ok(false);
    }
    let objects = store.list(&Path::from(prefix)).await?;
    if objects.is_empty() {
        return Ok(true);
    }
    let has = |marker: &str| {
        let key = marker_key(prefix, marker);
        objects.iter().any(|m| m.location == key)
    };
    Ok(has(IMPORT_PENDING) && !has(IMPORT_MARKER))
}

/// The record of the completed bundled import in `prefix`, if there is one.
pub async fn import_record(store: &Store, prefix: &str) -> Result<Option<ImportRecord>> {
    let key = marker_key(prefix, IMPORT_MARKER);
    if !store.exists(&key).await? {
        return Ok(None);
    }
    Ok(Some(store.get_json(&key).await?))
}

/// Makes sure `prefix` holds a dataset: if it names a bundled dataset (its last segment, e.g.
/// `mnist-2k`) that is not in the store yet ([`needs_bundled_import`]), imports it as IDX.
/// Returns the number of images imported.
///
/// The import is crash-safe: a pending marker goes first and the completion record
/// ([`IMPORT_MARKER`]) last, so a killed import is redone by the next run instead of leaving a
/// half-written dataset that every later run trips over.
pub async fn ensure_bundled(store: &Store, prefix: &str) -> Result<Option<usize>> {
    ensure_bundled_for_run(store, prefix, "").await
}

/// [`ensure_bundled`], recording the run that imports (so a runner can tell it imported).
pub async fn ensure_bundled_for_run(
    store: &Store,
    prefix: &str,
    run_id: &str,
) -> Result<Option<usize>> {
    if !needs_bundled_import(store, prefix).await? {
        return Ok(None);
    }
    let name = prefix.rsplit('/').next().unwrap_or(prefix);
    let dataset = bundled::lookup(name).map_err(|e| WorkflowError::CorruptData {
        store: bundled::data_dir().display().to_string(),
        key: name.to_string(),
        source: e,
    })?;
    let set = dataset.load().map_err(|e| WorkflowError::CorruptData {
        store: bundled::data_dir().display().to_string(),
        key: name.to_string(),
        source: e,
    })?;
    store
        .put(&marker_key(prefix, IMPORT_PENDING), Vec::<u8>::new())
        .await?;
    import(store, prefix, name, &set, ImportFormat::Idx, &|_| {}).await?;
    let record = ImportRecord {
        dataset: name.to_string(),
        images: set.len(),
        run_id: run_id.to_string(),
    };
    store
        .put_json(&marker_key(prefix, IMPORT_MARKER), &record)
        .await?;
    // Best effort: the completion record already says the import is whole.
    let _ = store.delete(&marker_key(prefix, IMPORT_PENDING)).await;
    Ok(Some(set.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn png_keys_are_in_dataset_order() {
        let mut keys = vec![
            "t/1/00010.png",
            "t/0/2.png",
            "t/7/x.png",
            "t/0/1.png",
            "t/3/00003.png",
            "t/2/a.png",
        ];
        keys.sort_by_cached_key(|k| dataset_order(k));
        assert_eq!(
            keys,
            [
                "t/0/1.png",
                "t/0/2.png",
                "t/3/00003.png",
                "t/1/00010.png",
                "t/2/a.png",
                "t/7/x.png"
            ]
        );
    }
}
