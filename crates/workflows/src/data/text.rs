//! Labelled text in a store: CSV objects (gzip allowed) with a text column and a label column,
//! found under a prefix, dealt round-robin into shards, loaded as texts with class labels.

use faasml_datasets::{idx, text_table};
use faasml_store::{Path, Store};
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// One CSV object of labelled text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSource {
    /// The object.
    #[serde(with = "faasml_store::serde_path")]
    pub key: Path,
    /// The text column.
    pub text: String,
    /// The label column.
    pub label: String,
}

/// A shard of texts: rows `part, part + of, ...` of the sources read in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextShard {
    /// The sources.
    pub sources: Vec<TextSource>,
    /// This shard's index.
    pub part: usize,
    /// The number of shards.
    pub of: usize,
}

/// Texts and their class labels.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct TextSet {
    /// The texts.
    pub texts: Vec<String>,
    /// One class label per text.
    pub labels: Vec<u32>,
}

/// The CSV objects under `prefix` (`*.csv`, `*.csv.gz`), sorted by key, read with the given
/// columns.
pub async fn list(store: &Store, prefix: &str, text: &str, label: &str) -> Result<Vec<TextSource>> {
    let sources: Vec<TextSource> = store
        .list(&Path::from(prefix))
        .await?
        .into_iter()
        .filter(|m| {
            let key = m.location.as_ref().to_ascii_lowercase();
            key.ends_with(".csv") || key.ends_with(".csv.gz")
        })
        .map(|m| TextSource {
            key: m.location,
            text: text.to_string(),
            label: label.to_string(),
        })
        .collect();
    if sources.is_empty() {
        return Err(WorkflowError::NoData {
            store: store.url().to_string(),
            prefix: format!("{prefix} (no *.csv or *.csv.gz of labelled text)"),
            bundled: String::new(),
        });
    }
    Ok(sources)
}

/// Deals `sources` into `n` round-robin shards.
pub fn deal(sources: &[TextSource], n: usize) -> Vec<TextShard> {
    let n = n.max(1);
    (0..n)
        .map(|part| TextShard {
            sources: sources.to_vec(),
            part,
            of: n,
        })
        .collect()
}

/// The texts of `shard`; every label must be a class (an integer in `0..65536`).
pub async fn load(store: &Store, shard: &TextShard) -> Result<TextSet> {
    let of = shard.of.max(1);
    let mut set = TextSet::default();
    let mut row = 0usize;
    for source in &shard.sources {
        let corrupt = |source_error| WorkflowError::CorruptData {
            store: store.url().to_string(),
            key: source.key.to_string(),
            source: source_error,
        };
        let bytes = store.get(&source.key).await?;
        let bytes = idx::gunzip_if_needed(&bytes).map_err(corrupt)?;
        let table = text_table::read_text_table(&bytes[..], &source.text, &source.label)
            .map_err(corrupt)?;
        for (text, label) in table.texts.into_iter().zip(table.labels) {
            if row % of == shard.part {
                if label.fract() != 0.0 || !(0.0..65536.0).contains(&label) {
                    return Err(WorkflowError::InvalidParams(format!(
                        "'{}': label {label} of row {row} is not a class (an integer in 0..65536)",
                        source.key
                    )));
                }
                set.texts.push(text);
                set.labels.push(label as u32);
            }
            row += 1;
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn gzipped_csv_text_loads_in_round_robin_shards() {
        use std::io::Write as _;
        let store = Store::open("memory://text-shards").unwrap();
        let csv = "text,label,score\n\"good, really\",1,2\nbad,0,-1\nfine,1,0.5\n";
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(csv.as_bytes()).unwrap();
        store
            .put(&Path::from("s/a.csv.gz"), gz.finish().unwrap())
            .await
            .unwrap();
        store
            .put(&Path::from("s/notes.md"), b"x".to_vec())
            .await
            .unwrap();
        let sources = list(&store, "s", "text", "label").await.unwrap();
        assert_eq!(sources.len(), 1);
        let shards = deal(&sources, 2);
        let first = load(&store, &shards[0]).await.unwrap();
        assert_eq!(first.texts, ["good, really", "fine"]);
        assert_eq!(first.labels, [1, 1]);
        let second = load(&store, &shards[1]).await.unwrap();
        assert_eq!((second.texts.len(), second.labels[0]), (1, 0));
        let bad = TextShard {
            sources: vec![TextSource {
                label: "score".into(),
                ..sources[0].clone()
            }],
            part: 0,
            of: 1,
        };
        let err = load(&store, &bad).await.unwrap_err().to_string();
        assert!(err.contains("not a class"), "{err}");
        let err = list(&store, "nothing", "text", "label").await.unwrap_err();
        assert!(err.to_string().contains("labelled text"), "{err}");
    }
}
