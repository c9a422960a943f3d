//! Tables in a store: CSV objects with a header row and a target column, and LIBSVM objects
//! (`label index:value ...`) — found under a prefix, dealt into shards, loaded as a
//! [`Dataset`] with class or real-valued targets.
//!
//! Dealing is round-robin by row: shard `i` of `n` holds rows `i, i + n, i + 2n, ...` of every
//! table, so each shard is a representative sample whatever order the file is in. A shard's
//! function reads its tables whole and keeps its rows: tables here are small (thousands of
//! rows), where one whole-object read is cheaper than many ranges.

use faasml_datasets::csv_table::{self, Table};
use faasml_datasets::{DatasetError, idx, libsvm};
use faasml_ml::{Dataset, Matrix, Targets};
use faasml_store::{Path, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// One table object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "format", rename_all = "lowercase")]
pub enum TableSource {
    /// CSV with a header row (gzip allowed); `target` names the target column.
    Csv {
        /// The object.
        #[serde(with = "faasml_store::serde_path")]
        key: Path,
        /// The target column.
        target: String,
    },
    /// LIBSVM rows (gzip allowed), the label first.
    Libsvm {
        /// The object.
        #[serde(with = "faasml_store::serde_path")]
        key: Path,
    },
}

impl TableSource {
    /// The object's key.
    pub fn key(&self) -> &Path {
        match self {
            Self::Csv { key, .. } | Self::Libsvm { key } => key,
        }
    }
}

/// A shard of tables: rows `part, part + of, part + 2 of, ...` of the sources read in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableShard {
    /// The tables.
    pub sources: Vec<TableSource>,
    /// This shard's index.
    pub part: usize,
    /// The number of shards.
    pub of: usize,
}

/// How targets become a [`Dataset`]'s targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// Class labels: every target must be an integer in `0..65536`.
    Classes,
    /// Real values.
    Real,
    /// Classes when every target is such an integer, else real values.
    #[default]
    Auto,
}

/// Whether [`list`] takes the object `key` for a CSV table: `*.csv` or `*.csv.gz`, in any case.
pub fn is_csv_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    key.ends_with(".csv") || key.ends_with(".csv.gz")
}

/// Whether [`list`] takes the object `key` for a LIBSVM table: `*.libsvm`, `*.svm` or `*.txt`,
/// gzipped or not, in any case.
pub fn is_libsvm_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    [".libsvm", ".svm", ".txt"]
        .iter()
        .any(|ext| key.ends_with(ext) || key.ends_with(&format!("{ext}.gz")))
}

/// The tables under `prefix`, sorted by key: CSV objects (which need `target`) and LIBSVM ones.
pub async fn list(store: &Store, prefix: &str, target: Option<&str>) -> Result<Vec<TableSource>> {
    let objects = store.list(&Path::from(prefix)).await?;
    let mut sources = Vec::new();
    for meta in objects {
        let name = meta.location.as_ref();
        if is_csv_key(name) {
            let Some(target) = target else {
                return Err(WorkflowError::InvalidParams(format!(
                    "'{}' is a CSV table: name its target column (--target COLUMN)",
                    meta.location
                )));
            };
            sources.push(TableSource::Csv {
                key: meta.location,
                target: target.to_string(),
            });
        } else if is_libsvm_key(name) {
            sources.push(TableSource::Libsvm { key: meta.location });
        }
    }
    if sources.is_empty() {
        return Err(WorkflowError::NoData {
            store: store.url().to_string(),
            prefix: format!("{prefix} (no *.csv or *.libsvm/*.svm/*.txt table)"),
            bundled: String::new(),
        });
    }
    Ok(sources)
}

/// Deals `sources` into `n` round-robin shards.
pub fn deal(sources: &[TableSource], n: usize) -> Vec<TableShard> {
    let n = n.max(1);
    (0..n)
        .map(|part| TableShard {
            sources: sources.to_vec(),
            part,
            of: n,
        })
        .collect()
}

fn corrupt(store: &Store, key: &Path, source: DatasetError) -> WorkflowError {
    WorkflowError::CorruptData {
        store: store.url().to_string(),
        key: key.to_string(),
        source,
    }
}

/// One table object's bytes, gunzipped.
async fn read_bytes(store: &Store, source: &TableSource) -> Result<Vec<u8>> {
    let key = source.key();
    let bytes = store.get(key).await?;
    Ok(idx::gunzip_if_needed(&bytes)
        .map_err(|e| corrupt(store, key, e))?
        .into_owned())
}

/// A LIBSVM object's text.
fn libsvm_text<'a>(store: &Store, key: &Path, bytes: &'a [u8]) -> Result<&'a str> {
    std::str::from_utf8(bytes).map_err(|_| {
        corrupt(
            store,
            key,
            DatasetError::Libsvm {
                line: 0,
                reason: "not UTF-8 text".to_string(),
            },
        )
    })
}

/// Reads one table object.
async fn read(store: &Store, source: &TableSource) -> Result<Table> {
    let key = source.key();
    let bytes = read_bytes(store, source).await?;
    match source {
        TableSource::Csv { target, .. } => {
            csv_table::read_table(&bytes[..], target).map_err(|e| corrupt(store, key, e))
        }
        TableSource::Libsvm { .. } => libsvm::read_libsvm(libsvm_text(store, key, &bytes)?, None)
            .map_err(|e| corrupt(store, key, e)),
    }
}

/// Every row of `sources`, in order, in `f64`: LIBSVM values read as `f64` (as Spark reads
/// them), CSV values as the CSV reader's `f32`, widened. LIBSVM tables are as wide as the
/// widest (absent features are zeros); CSV tables must have equal widths.
pub async fn load_f64(store: &Store, sources: &[TableSource]) -> Result<libsvm::Table64> {
    let mut tables = Vec::with_capacity(sources.len());
    for source in sources {
        let key = source.key();
        let bytes = read_bytes(store, source).await?;
        let table = match source {
            TableSource::Csv { target, .. } => {
                let t = csv_table::read_table(&bytes[..], target)
                    .map_err(|e| corrupt(store, key, e))?;
                libsvm::Table64 {
                    n_rows: t.n_rows,
                    n_cols: t.n_cols,
                    features: t.features.iter().map(|&v| f64::from(v)).collect(),
                    labels: t.targets.iter().map(|&v| f64::from(v)).collect(),
                }
            }
            TableSource::Libsvm { .. } => {
                libsvm::read_libsvm_f64(libsvm_text(store, key, &bytes)?, None)
                    .map_err(|e| corrupt(store, key, e))?
            }
        };
        tables.push((source, table));
    }
    let width = tables.iter().map(|(_, t)| t.n_cols).max().unwrap_or(0);
    if let Some((source, table)) = tables
        .iter()
        .find(|(s, t)| matches!(s, TableSource::Csv { .. }) && t.n_cols != width)
    {
        return Err(WorkflowError::InvalidParams(format!(
            "tables of different widths in one dataset: '{}' has {} features, another {width}",
            source.key(),
            table.n_cols
        )));
    }
    let mut out = libsvm::Table64 {
        n_rows: 0,
        n_cols: width,
        features: Vec::new(),
        labels: Vec::new(),
    };
    for (_, t) in &tables {
        for r in 0..t.n_rows {
            out.features
                .extend_from_slice(&t.features[r * t.n_cols..(r + 1) * t.n_cols]);
            out.features
                .resize(out.features.len() + width - t.n_cols, 0.0);
            out.labels.push(t.labels[r]);
        }
        out.n_rows += t.n_rows;
    }
    Ok(out)
}

/// The rows of `shard` as a dataset, its targets as `kind` says. LIBSVM tables are as wide as
/// the widest of them (absent features are zeros); CSV tables must have equal widths.
pub async fn load(store: &Store, shard: &TableShard, kind: TargetKind) -> Result<Dataset> {
    let of = shard.of.max(1);
    let mut tables = Vec::with_capacity(shard.sources.len());
    for source in &shard.sources {
        tables.push((source, read(store, source).await?));
    }
    let width = tables.iter().map(|(_, t)| t.n_cols).max().unwrap_or(0);
    if let Some((source, table)) = tables
        .iter()
        .find(|(s, t)| matches!(s, TableSource::Csv { .. }) && t.n_cols != width)
    {
        return Err(WorkflowError::InvalidParams(format!(
            "tables of different widths in one dataset: '{}' has {} features, another {width}",
            source.key(),
            table.n_cols
        )));
    }
    let mut features = Vec::new();
    let mut targets = Vec::new();
    let mut row = 0usize;
    for (_, table) in &tables {
        for r in 0..table.n_rows {
            if row % of == shard.part {
                features.extend_from_slice(table.row(r));
                features.resize(features.len() + width - table.n_cols, 0.0);
                targets.push(table.targets[r]);
            }
            row += 1;
        }
    }
    let records = Matrix::new(targets.len(), width, features)?;
    Ok(Dataset::new(records, targets_of(targets, kind)?)?)
}

/// `values` as the targets `kind` asks for.
pub fn targets_of(values: Vec<f32>, kind: TargetKind) -> Result<Targets> {
    let class = |v: f32| (v.fract() == 0.0 && (0.0..65536.0).contains(&v)).then_some(v as u32);
    let all_classes = values.iter().all(|&v| class(v).is_some());
    match kind {
        TargetKind::Real => Ok(Targets::Real(values)),
        TargetKind::Auto if !all_classes => Ok(Targets::Real(values)),
        TargetKind::Classes if !all_classes => {
            let bad = values.iter().find(|&&v| class(v).is_none()).copied();
            Err(WorkflowError::InvalidParams(format!(
                "target {bad:?} is not a class label (an integer in 0..65536)"
            )))
        }
        TargetKind::Classes | TargetKind::Auto => {
            let labels: Vec<u32> = values.iter().filter_map(|&v| class(v)).collect();
            let n_classes = labels.iter().max().map_or(0, |&m| m as usize + 1);
            Ok(Targets::Classes { labels, n_classes })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn store_with(name: &str, files: &[(&str, &[u8])]) -> Store {
        let store = Store::open(&format!("memory://tables-{name}")).unwrap();
        for (key, bytes) in files {
            store.put(&Path::from(*key), bytes.to_vec()).await.unwrap();
        }
        store
    }

    #[tokio::test]
    async fn csv_tables_deal_round_robin_into_representative_shards() {
        let iris = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../data/tabular/iris.csv"
        ))
        .unwrap();
        let store = store_with("iris", &[("t/iris.csv", &iris), ("t/README", b"x")]).await;
        let err = list(&store, "t", None).await.unwrap_err().to_string();
        assert!(err.contains("--target"), "{err}");
        let sources = list(&store, "t", Some("target")).await.unwrap();
        assert_eq!(sources.len(), 1);
        let shards = deal(&sources, 3);
        let mut total = 0;
        for shard in &shards {
            let data = load(&store, shard, TargetKind::Auto).await.unwrap();
            assert_eq!((data.len(), data.n_features()), (50, 4));
            // iris is sorted by class; round-robin gives each shard every class, evenly.
            let labels = data.labels().unwrap();
            for class in 0..3 {
                let n = labels.iter().filter(|&&l| l == class).count();
                assert!((16..=17).contains(&n), "class {class}: {n}");
            }
            total += data.len();
        }
        assert_eq!(total, 150);
        let missing = TableShard {
            sources: vec![TableSource::Csv {
                key: Path::from("t/iris.csv"),
                target: "species".into(),
            }],
            part: 0,
            of: 1,
        };
        let err = load(&store, &missing, TargetKind::Auto).await.unwrap_err();
        assert!(
            err.to_string().contains("no column named \"species\""),
            "{err}"
        );
    }

    #[tokio::test]
    async fn libsvm_tables_load_with_real_or_class_targets() {
        let store = store_with(
            "libsvm",
            &[
                ("s/a.txt", b"1 1:0.5 3:2\n0 2:1\n"),
                ("s/b.libsvm", b"-0.5 1:1\n"),
            ],
        )
        .await;
        let sources = list(&store, "s", None).await.unwrap();
        let all = &deal(&sources, 1)[0];
        let data = load(&store, all, TargetKind::Auto).await.unwrap();
        assert_eq!(data.n_features(), 3);
        assert_eq!(data.real_targets(), Some(&[1.0, 0.0, -0.5][..]));
        let err = load(&store, all, TargetKind::Classes).await.unwrap_err();
        assert!(err.to_string().contains("-0.5"), "{err}");
        let one = TableShard {
            sources: vec![sources[0].clone()],
            part: 0,
            of: 1,
        };
        let err = load(&store, &one, TargetKind::Classes).await;
        assert!(err.is_ok(), "0/1 labels are classes");
        // b.libsvm has 1 feature and a.txt 3: the narrow table is padded with zeros.
        assert_eq!(data.view().row(2), &[1.0, 0.0, 0.0]);
        store
            .put(&Path::from("s/c.txt"), b"1 0:1\n".to_vec())
            .await
            .unwrap();
        let bad = TableShard {
            sources: vec![TableSource::Libsvm {
                key: Path::from("s/c.txt"),
            }],
            part: 0,
            of: 1,
        };
        let err = load(&store, &bad, TargetKind::Auto)
            .await
            .unwrap_err()
            .to_string();
        assert!(err.contains("s/c.txt") && err.contains("1-based"), "{err}");
    }
}
