//! Image datasets in a store: finding them under a prefix, dealing them into shards, loading a
//! shard, and importing a dataset into a store (the first-use import of a bundled one is in
//! [`crate::data::bundled`]).
//!
//! Two layouts are understood, and may be mixed under one prefix:
//! - one PNG object per image with the class as the parent directory, `<prefix>/<class>/<n>.png`
//!   (the layout of the seed's image bucket), and
//! - IDX file pairs, `<name>-images-idx3-ubyte` with `<name>-labels-idx1-ubyte` (plain or `.gz`),
//!   which are read by byte range.
//!
//! Both layouts list their images in dataset order (PNG keys by the image number in the file
//! name, IDX rows in file order), and [`deal`] deals that order round-robin, so a dataset imported
//! as PNG and as IDX is dealt into the same shards, in the same order.

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
        #[serde(with = "faasml_store::serde_path::vec")]
        keys: Vec<Path>,
    },
    /// Rows `start, start + step, ...` below `end` of an IDX image file and its label file.
    Idx {
        /// The images object.
        #[serde(with = "faasml_store::serde_path")]
        images: Path,
        /// The labels object.
        #[serde(with = "faasml_store::serde_path")]
        labels: Path,
        /// First row.
        start: u64,
        /// Bound on the rows: every row is below it.
        end: u64,
        /// Distance between consecutive rows (1: every row of `start..end`). Absent in the shard
        /// files of earlier versions, which read as 1.
        #[serde(default = "one", skip_serializing_if = "is_one")]
        step: u64,
        /// Whether the objects are gzip-compressed (then read whole, not by range).
        gzip: bool,
    },
}

fn one() -> u64 {
    1
}

fn is_one(step: &u64) -> bool {
    *step == 1
}

impl ImageSource {
    /// Number of images.
    pub fn len(&self) -> usize {
        match self {
            Self::Png { keys } => keys.len(),
            Self::Idx {
                start, end, step, ..
            } => end.saturating_sub(*start).div_ceil((*step).max(1)) as usize,
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
                step,
                gzip,
                ..
            } => {
                let step = (*step).max(1);
                let first = start + from as u64 * step;
                Self::Idx {
                    images: images.clone(),
                    labels: labels.clone(),
                    start: first,
                    // One past the last row taken, so that `len` is exactly `to - from`.
                    end: first + ((to - from) as u64 * step).saturating_sub(step - 1),
                    step,
                    gzip: *gzip,
                }
            }
        }
    }

    /// Every `n`-th image of this source, starting with image `first`.
    fn every(&self, first: usize, n: usize) -> Self {
        match self {
            Self::Png { keys } => Self::Png {
                keys: keys.iter().skip(first).step_by(n).cloned().collect(),
            },
            Self::Idx {
                images,
                labels,
                start,
                end,
                step,
                gzip,
            } => {
                let step = (*step).max(1);
                Self::Idx {
                    images: images.clone(),
                    labels: labels.clone(),
                    start: (start + first as u64 * step).min(*end),
                    end: *end,
                    step: step * n as u64,
                    gzip: *gzip,
                }
            }
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

fn corrupt(store: &Store, key: &Path, source: faasml_datasets::DatasetError) -> WorkflowError {
    WorkflowError::CorruptData {
        store: store.url().to_string(),
        key: key.to_string(),
        source,
    }
}

/// The bundled dataset names, comma-separated, for messages.
pub fn bundled_names() -> String {
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
    let keys: Vec<Path> = objects.into_iter().map(|m| m.location).collect();
    let mut sources = Vec::new();
    let mut png: Vec<Path> = keys
        .iter()
        .filter(|k| k.as_ref().to_ascii_lowercase().ends_with(".png"))
        .cloned()
        .collect();
    png.sort_by_cached_key(|key| dataset_order(key.as_ref()));
    if !png.is_empty() {
        sources.push(ImageSource::Png { keys: png });
    }
    for images in keys.iter().filter(|k| is_idx_images(k.as_ref())) {
        // Parsed, not built: the listed key is already a valid path, and building would encode
        // it a second time.
        let labels =
            Path::parse(images.as_ref().replace("images-idx3", "labels-idx1")).unwrap_or_default();
        if !keys.contains(&labels) {
            return Err(WorkflowError::NoData {
                store: store.url().to_string(),
                prefix: format!("{prefix} (IDX images '{images}' has no labels object '{labels}')"),
                bundled: bundled_names(),
            });
        }
        let gzip = images.as_ref().ends_with(".gz");
        let n = idx_count(store, images, &labels, gzip).await?;
        sources.push(ImageSource::Idx {
            images: images.clone(),
            labels,
            start: 0,
            end: n,
            step: 1,
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
async fn idx_count(store: &Store, images: &Path, labels: &Path, gzip: bool) -> Result<u64> {
    let (image_header, label_header) = if gzip {
        let image_bytes = store.get(images).await?;
        let label_bytes = store.get(labels).await?;
        // The header of the decompressed file: `decode_images_limit` would report the count it
        // returns (0 for a limit of 0), not the file's.
        let raw = idx::gunzip_if_needed(&image_bytes).map_err(|e| corrupt(store, images, e))?;
        let head = raw.get(..idx::IMAGES_HEADER_LEN).unwrap_or(&raw);
        let header = idx::parse_images_header(head).map_err(|e| corrupt(store, images, e))?;
        let all_labels = idx::decode_labels(&label_bytes).map_err(|e| corrupt(store, labels, e))?;
        (header, all_labels.len() as u32)
    } else {
        let head = store
            .get_range(images, 0..idx::IMAGES_HEADER_LEN as u64)
            .await?;
        let header = idx::parse_images_header(&head).map_err(|e| corrupt(store, images, e))?;
        let head = store
            .get_range(labels, 0..idx::LABELS_HEADER_LEN as u64)
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

/// Deals the images of `sources`, in order, round-robin into `n` shards (as the seed deals its
/// keys): image `k` of the whole goes to shard `k % n`. An IDX shard is a strided set of rows,
/// read as the one byte range that spans them.
pub fn deal(sources: &[ImageSource], n: usize) -> Vec<Vec<ImageSource>> {
    let n = n.max(1);
    let mut shards: Vec<Vec<ImageSource>> = vec![Vec::new(); n];
    let mut next = 0;
    for source in sources {
        for (i, shard) in shards.iter_mut().enumerate() {
            // The first image of this source that goes to shard `i`.
            let first = (i + n - next % n) % n;
            let part = source.every(first, n);
            if !part.is_empty() {
                shard.push(part);
            }
        }
        next += source.len();
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
                step,
                gzip,
                ..
            } => {
                let rows = IdxRows {
                    start: *start,
                    len: source.len() as u64,
                    step: (*step).max(1),
                };
                load_idx(store, images, labels, rows, *gzip).await?
            }
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

async fn load_png(store: &Store, keys: &[Path]) -> Result<ImageSet> {
    let fetched: Vec<(Path, bytes::Bytes)> = futures::stream::iter(keys.iter().cloned())
        .map(|key| async move {
            let bytes = store.get(&key).await?;
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

fn decode_pngs(store_url: &str, fetched: &[(Path, bytes::Bytes)]) -> Result<ImageSet> {
    use rayon::prelude::*;
    let decoded: Vec<(u32, u32, Vec<u8>, u8)> = fetched
        .par_iter()
        .map(|(key, bytes)| {
            let bad = |source| WorkflowError::CorruptData {
                store: store_url.to_string(),
                key: key.to_string(),
                source,
            };
            let label = png_image::label_from_key(key.as_ref()).map_err(bad)?;
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

/// The rows of an IDX source: `len` rows from `start`, `step` apart.
#[derive(Debug, Clone, Copy)]
struct IdxRows {
    start: u64,
    len: u64,
    step: u64,
}

impl IdxRows {
    /// One past the last row: the rows lie in `start..span_end()`.
    fn span_end(self) -> u64 {
        if self.len == 0 {
            self.start
        } else {
            self.start + (self.len - 1) * self.step + 1
        }
    }

    /// Picks the rows out of `span` (the items of rows `start..span_end()`, `per` bytes each).
    fn pick(self, span: &[u8], per: usize) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.len as usize * per);
        self.pick_into(span, per, &mut out);
        out
    }

    /// [`Self::pick`], appending to `out`.
    fn pick_into(self, span: &[u8], per: usize, out: &mut Vec<u8>) {
        if self.step == 1 {
            out.extend_from_slice(span);
            return;
        }
        // `per` is 0 only for a header claiming 0x0 images, whose span is empty.
        for item in span.chunks(per.max(1)).step_by(self.step as usize) {
            out.extend_from_slice(item);
        }
    }

    /// These rows cut into consecutive pieces whose spans hold at most `bytes` bytes of `per`
    /// bytes per row (at least one row each).
    fn pieces(self, per: u64, bytes: u64) -> impl Iterator<Item = IdxRows> {
        let rows_per_piece = (bytes / (per * self.step).max(1)).max(1);
        (0..self.len)
            .step_by(rows_per_piece as usize)
            .map(move |i| IdxRows {
                start: self.start + i * self.step,
                len: rows_per_piece.min(self.len - i),
                step: self.step,
            })
    }
}

/// The most image bytes one range request of [`load_idx`] reads. A shard's rows are read as the
/// byte span that holds them, in pieces of this size, a few at once, so that no buffer holds the
/// whole span (twice a shard's own bytes when rows are dealt to two shards).
const SPAN_PIECE_BYTES: u64 = 8 << 20;

/// Pieces of a span in flight at once.
const SPAN_PIECES_IN_FLIGHT: usize = 4;

async fn load_idx(
    store: &Store,
    images: &Path,
    labels: &Path,
    rows: IdxRows,
    gzip: bool,
) -> Result<ImageSet> {
    let (start, end) = (rows.start as usize, rows.span_end() as usize);
    if gzip {
        let image_bytes = store.get(images).await?;
        let label_bytes = store.get(labels).await?;
        let set = idx::read_pair_limit(&image_bytes, &label_bytes, Some(end))
            .map_err(|e| corrupt(store, images, e))?;
        let per = set.pixels_per_image();
        return ImageSet::new(
            set.rows,
            set.cols,
            rows.pick(&set.pixels[start * per..end * per], per),
            rows.pick(&set.labels[start..end], 1),
        )
        .map_err(|e| corrupt(store, images, e));
    }
    let head = store
        .get_range(images, 0..idx::IMAGES_HEADER_LEN as u64)
        .await?;
    let header = idx::parse_images_header(&head).map_err(|e| corrupt(store, images, e))?;
    let per = u64::from(header.rows) * u64::from(header.cols);
    let image_offset = idx::IMAGES_HEADER_LEN as u64;
    let label_offset = idx::LABELS_HEADER_LEN as u64;
    let (image_key, label_key) = (images, labels);
    // Strided rows are read as the spans that hold them: rows a few hundred bytes apart are too
    // close to fetch one by one (object_store merges ranges less than 1 MiB apart anyway).
    let pixels = async {
        // Grown as pieces arrive, never sized from the header's numbers (stored bytes).
        let mut pixels = Vec::new();
        let mut pieces =
            futures::stream::iter(rows.pieces(per, SPAN_PIECE_BYTES))
                .map(|piece| {
                    let range =
                        image_offset + piece.start * per..image_offset + piece.span_end() * per;
                    async move {
                        Ok::<_, WorkflowError>((piece, store.get_range(image_key, range).await?))
                    }
                })
                .buffered(SPAN_PIECES_IN_FLIGHT);
        while let Some((piece, span)) = pieces.try_next().await? {
            piece.pick_into(&span, per as usize, &mut pixels);
        }
        Ok::<_, WorkflowError>(pixels)
    };
    let (start, end) = (rows.start, rows.span_end());
    // The labels are read with their header (one byte per image, so at most the header plus
    // `end` bytes), which is checked: an object that is not an IDX labels file is an error,
    // never bytes handed back as labels.
    let (pixels, label_bytes) = futures::try_join!(pixels, async {
        Ok(store.get_range(label_key, 0..label_offset + end).await?)
    },)?;
    let label_count = idx::parse_labels_header(&label_bytes[..label_offset as usize])
        .map_err(|e| corrupt(store, labels, e))?;
    if u64::from(label_count) < end {
        return Err(corrupt(
            store,
            labels,
            faasml_datasets::DatasetError::Mismatch {
                images: end,
                labels: u64::from(label_count),
            },
        ));
    }
    let label_bytes = label_bytes.slice(label_offset as usize + start as usize..);
    ImageSet::new(header.rows, header.cols, pixels, rows.pick(&label_bytes, 1))
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

// The first-use import of bundled datasets, images and tables alike, is in
// [`crate::data::bundled`]; these are its names from before tables were bundled.
pub use super::bundled::{
    IMPORT_MARKER, IMPORT_PENDING, ImportRecord, ensure as ensure_bundled,
    ensure_for_run as ensure_bundled_for_run, import_record, needs_import as needs_bundled_import,
};

#[cfg(test)]
mod tests {
    use super::*;

    fn idx_source(start: u64, end: u64, step: u64) -> ImageSource {
        ImageSource::Idx {
            images: "d/x-images-idx3-ubyte".into(),
            labels: "d/x-labels-idx1-ubyte".into(),
            start,
            end,
            step,
            gzip: false,
        }
    }

    /// The dataset rows (IDX) or key numbers (PNG) of `sources`, in order.
    fn rows(sources: &[ImageSource]) -> Vec<u64> {
        let mut out = Vec::new();
        for source in sources {
            match source {
                ImageSource::Png { keys } => {
                    out.extend(keys.iter().map(|k| dataset_order(k.as_ref()).0 as u64))
                }
                ImageSource::Idx { start, step, .. } => {
                    out.extend((0..source.len() as u64).map(|i| start + i * step));
                }
            }
        }
        out
    }

    /// Regression: the labels object's header was never read, so any object named as labels
    /// had its bytes returned as labels.
    #[tokio::test]
    async fn a_labels_object_that_is_not_idx_labels_is_an_error() {
        let store = Store::open("memory://images-labels-header").unwrap();
        let images = idx::encode_images(2, 2, &[0u8; 12]).unwrap();
        store
            .put(&Path::from("d/x-images-idx3-ubyte"), images)
            .await
            .unwrap();
        store
            .put(
                &Path::from("d/x-labels-idx1-ubyte"),
                b"not labels at all".to_vec(),
            )
            .await
            .unwrap();
        let err = load(&store, &[idx_source(0, 3, 1)]).await.unwrap_err();
        assert!(err.to_string().contains("labels"), "{err}");
        // Real labels, but fewer than the rows asked for.
        store
            .put(
                &Path::from("d/x-labels-idx1-ubyte"),
                idx::encode_labels(&[1, 2]),
            )
            .await
            .unwrap();
        assert!(load(&store, &[idx_source(0, 3, 1)]).await.is_err());
        store
            .put(
                &Path::from("d/x-labels-idx1-ubyte"),
                idx::encode_labels(&[1, 2, 3]),
            )
            .await
            .unwrap();
        let set = load(&store, &[idx_source(1, 3, 1)]).await.unwrap();
        assert_eq!(set.labels, vec![2, 3]);
    }

    #[test]
    fn idx_rows_are_dealt_round_robin() {
        let shards = deal(&[idx_source(0, 10, 1)], 3);
        let dealt: Vec<Vec<u64>> = shards.iter().map(|s| rows(s)).collect();
        assert_eq!(dealt, vec![vec![0, 3, 6, 9], vec![1, 4, 7], vec![2, 5, 8]]);
        assert_eq!(shards[1], vec![idx_source(1, 10, 3)]);
        // More shards than rows: the extra shards are empty.
        let dealt: Vec<usize> = deal(&[idx_source(0, 2, 1)], 3)
            .iter()
            .map(|s| count(s))
            .collect();
        assert_eq!(dealt, vec![1, 1, 0]);
    }

    #[test]
    fn dealing_continues_round_robin_across_sources() {
        let png = ImageSource::Png {
            keys: (0..5)
                .map(|i| Path::from(format!("d/{}/{i}.png", i % 2)))
                .collect(),
        };
        let shards = deal(&[png, idx_source(5, 12, 1)], 2);
        let dealt: Vec<Vec<u64>> = shards.iter().map(|s| rows(s)).collect();
        assert_eq!(
            dealt,
            vec![vec![0, 2, 4, 6, 8, 10], vec![1, 3, 5, 7, 9, 11]]
        );
        // A dealt shard dealt again (or sliced) keeps its strided rows.
        let again: Vec<Vec<u64>> = deal(&shards[1], 2).iter().map(|s| rows(s)).collect();
        assert_eq!(again, vec![vec![1, 5, 9], vec![3, 7, 11]]);
        assert_eq!(rows(&take(&shards[1], 4)), vec![1, 3, 5, 7]);
        let batches: Vec<Vec<u64>> = deal_contiguous(&shards[0], 4)
            .iter()
            .map(|s| rows(s))
            .collect();
        assert_eq!(batches, vec![vec![0], vec![2, 4], vec![6], vec![8, 10]]);
    }

    #[test]
    fn strided_slices_are_exact() {
        let source = idx_source(1, 20, 3); // rows 1, 4, ..., 19
        assert_eq!(source.len(), 7);
        for from in 0..=7 {
            for to in from..=9 {
                let part = source.slice(from, to);
                let want: Vec<u64> = (from..to.min(7)).map(|i| 1 + 3 * i as u64).collect();
                assert_eq!(rows(std::slice::from_ref(&part)), want, "{from}..{to}");
            }
        }
    }

    #[test]
    fn pieces_of_a_span_pick_the_same_rows_as_the_whole_span() {
        // A "file" of 40 rows of 2 bytes, row r holding [r, r].
        let file: Vec<u8> = (0..40u8).flat_map(|r| [r, r]).collect();
        for (start, len, step) in [(1, 10, 3), (0, 40, 1), (5, 1, 7), (2, 0, 2)] {
            let rows = IdxRows { start, len, step };
            let span = &file[start as usize * 2..rows.span_end() as usize * 2];
            let whole = rows.pick(span, 2);
            let want: Vec<u8> = (0..len)
                .flat_map(|i| [(start + i * step) as u8; 2])
                .collect();
            assert_eq!(whole, want);
            for bytes in [1, 6, 7, 20, 1000] {
                let mut pieced = Vec::new();
                for piece in rows.pieces(2, bytes) {
                    assert!(piece.len >= 1);
                    let (a, b) = (piece.start as usize * 2, piece.span_end() as usize * 2);
                    assert!(b - a <= (bytes as usize).max(2 * step as usize) || piece.len == 1);
                    piece.pick_into(&file[a..b], 2, &mut pieced);
                }
                assert_eq!(
                    pieced, want,
                    "rows {start}+{step}k x{len}, pieces of {bytes} B"
                );
            }
        }
    }

    #[test]
    fn shard_files_without_a_step_still_read_and_step_1_is_not_written() {
        let old = r#"[{"kind":"idx","images":"a","labels":"b","start":5,"end":9,"gzip":false}]"#;
        let parsed: Vec<ImageSource> = serde_json::from_str(old).unwrap();
        assert_eq!(parsed[0].len(), 4);
        assert!(matches!(parsed[0], ImageSource::Idx { step: 1, .. }));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), old);
        let strided = serde_json::to_string(&idx_source(1, 10, 2)).unwrap();
        assert!(strided.contains(r#""step":2"#), "{strided}");
    }

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
