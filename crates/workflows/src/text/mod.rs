//! The inference benchmark's text workflows (seed 003, "ML on FaaS"): `text-train` fits the
//! seed's algorithms on a labelled text corpus and publishes each, with what turns texts into its
//! features, as one model; `text-inference` sends batches of texts through the per-algorithm
//! inference functions `text-inference.<algorithm>`, which load their model once per instance and
//! report, per invocation, the seed's measurements (cold or warm, initialisation and processing
//! times, billed duration, memory size, peak memory, CPUs). `faasml bench inference` drives the
//! same functions in confined worker processes over algorithms x memory sizes x batch sizes.
//!
//! - [`algorithms`]: the table of algorithms (adding one is one function plus one entry);
//! - [`model`]: the published model (front + head) and its checks;
//! - [`encoder`]: the all-MiniLM-L6-v2 sentence encoder in the store (the neural row);
//! - [`train`] and [`inference`]: the two workflows.

pub mod algorithms;
pub mod encoder;
pub mod inference;
pub mod model;
pub mod train;

use faasml_store::{Path, Store};
use serde::{Deserialize, Serialize};

use crate::data::text::{self as text_data, TextSet, TextShard};
use crate::error::Result;
use crate::kit::layout;

/// The default corpus: the bundled VADER sentiment sentences.
pub const DEFAULT_DATA: &str = "sentiment/vader";

/// The columns of a labelled text CSV.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextColumns {
    /// The text column.
    pub text: String,
    /// The label column.
    pub label: String,
}

/// The published object of `algorithm` in model `model`: `models/<model>/<algorithm>.safetensors`.
pub fn model_key(model: &str, algorithm: &str) -> Path {
    layout::model_key(model, &format!("{algorithm}.safetensors"))
}

/// Every text and label under `prefix`, in file order.
pub async fn load_texts(store: &Store, prefix: &str, columns: &TextColumns) -> Result<TextSet> {
    let sources = text_data::list(store, prefix, &columns.text, &columns.label).await?;
    text_data::load(
        store,
        &TextShard {
            sources,
            part: 0,
            of: 1,
        },
    )
    .await
}

/// splitmix64's output function.
pub fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Whether row `i` is held out: `splitmix64(seed * 0x9E3779B97F4A7C15 ^ i)`'s top 53 bits as a
/// fraction below `fraction`. A rule, not a shuffle, so that the scikit-learn peer
/// (`bench/inference_sklearn.py`) holds out exactly the same rows.
pub fn is_held_out(i: usize, fraction: f64, seed: u64) -> bool {
    let key = splitmix64(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i as u64);
    ((key >> 11) as f64 / (1u64 << 53) as f64) < fraction
}

/// The training and held-out rows of `n` rows.
pub fn split_rows(n: usize, fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    (0..n).partition(|&i| !is_held_out(i, fraction, seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_holds_out_about_the_fraction_and_is_a_fixed_rule() {
        let (train, test) = split_rows(10_000, 0.2, 42);
        assert_eq!(train.len() + test.len(), 10_000);
        // The Python peer's rule gives the same rows (bench/inference_sklearn.py, `held_out`):
        // 2017 of 10000, beginning 0, 3, 4, 6, 8, 16, 30, 34.
        assert_eq!(test.len(), 2017);
        assert_eq!(test[..8], [0, 3, 4, 6, 8, 16, 30, 34]);
        // The values the Python peer computes for the same rule (bench/inference_sklearn.py).
        assert_eq!(splitmix64(0), 0xE220_A839_7B1D_CDAF);
        assert_eq!(split_rows(10, 0.0, 1).1, Vec::<usize>::new());
        assert_eq!(split_rows(10_000, 0.2, 42), split_rows(10_000, 0.2, 42));
        assert_ne!(split_rows(1000, 0.2, 42).1, split_rows(1000, 0.2, 43).1);
    }
}
