//! The store layout every workflow shares, and the guard that keeps a run's scratch from
//! outliving it.
//!
//! | prefix | what | lifetime |
//! | --- | --- | --- |
//! | `runs/<run id>/` | a run's intermediate objects (shards, slices, partial models) | deleted when the driver ends: always on failure, on success unless the workflow keeps it |
//! | `models/<name>/` | published models | until replaced |
//! | `results/<run id>/` | a run's outputs that are not models (predictions) | kept |
//!
//! The state store has the same scratch prefix, `runs/<run id>/` (a parameter server's keys,
//! values passed through the state store), cleared with the store's.
//!
//! Keys are [`Path`]s, built here and nowhere else, so a workflow cannot write outside its run's
//! scratch by accident.

use faasml_core::StateStore;
use faasml_store::{Path, Store};

/// The scratch prefix of run `run_id`.
pub fn scratch_prefix(run_id: &str) -> Path {
    Path::from_iter(["runs", run_id])
}

/// The key of `file` in the published model `name`.
pub fn model_key(name: &str, file: &str) -> Path {
    Path::from_iter(["models", name, file])
}

/// The key of `file` among the outputs of run `run_id`.
pub fn result_key(run_id: &str, file: &str) -> Path {
    Path::from_iter(["results", run_id, file])
}

/// A run's scratch prefix, and the clean-up of it when the run's driver ends.
#[derive(Debug, Clone)]
pub struct Scratch {
    prefix: Path,
}

impl Scratch {
    /// The scratch of run `run_id`.
    pub fn of_run(run_id: &str) -> Self {
        Self {
            prefix: scratch_prefix(run_id),
        }
    }

    /// The prefix, `runs/<run id>`.
    pub fn prefix(&self) -> &Path {
        &self.prefix
    }

    /// The key `part` (slash-separated segments) under the scratch prefix.
    pub fn key(&self, part: &str) -> Path {
        let mut key = self.prefix.clone();
        for segment in part.split('/').filter(|s| !s.is_empty()) {
            key = key.join(segment);
        }
        key
    }

    /// The scratch prefix in the state store, `runs/<run id>/`.
    pub fn state_prefix(&self) -> String {
        format!("{}/", self.prefix)
    }

    /// Deletes the scratch objects and state keys unless `keep`. Best effort: a run's outcome
    /// stands whether or not its scratch could be removed.
    pub async fn finish(&self, store: &Store, state: &dyn StateStore, keep: bool) {
        if !keep {
            let _ = store.delete_prefix(&self.prefix).await;
            let _ = state.delete_prefix(&self.state_prefix()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_stay_under_their_prefix() {
        let scratch = Scratch::of_run("r-1");
        assert_eq!(scratch.key("pca-0/basis").as_ref(), "runs/r-1/pca-0/basis");
        assert_eq!(scratch.key("/a//b/").as_ref(), "runs/r-1/a/b");
        // A segment that is not a plain name is escaped, never interpreted.
        assert_eq!(scratch.key("../x").as_ref(), "runs/r-1/%2E%2E/x");
        assert_eq!(
            model_key("mnist-rf", "model.safetensors").as_ref(),
            "models/mnist-rf/model.safetensors"
        );
        assert_eq!(
            result_key("r-1", "predictions.csv").as_ref(),
            "results/r-1/predictions.csv"
        );
    }

    #[tokio::test]
    async fn finish_deletes_unless_kept() {
        let store = Store::open("memory://layout-finish").unwrap();
        let state = faasml_core::EmbeddedState::new();
        let scratch = Scratch::of_run("r");
        store.put(&scratch.key("a"), vec![1u8]).await.unwrap();
        store.put(&model_key("m", "f"), vec![1u8]).await.unwrap();
        state.put("runs/r/x", vec![1u8].into()).await.unwrap();
        state.put("runs/rr/x", vec![1u8].into()).await.unwrap();
        scratch.finish(&store, &state, true).await;
        assert!(store.exists(&scratch.key("a")).await.unwrap());
        scratch.finish(&store, &state, false).await;
        assert!(!store.exists(&scratch.key("a")).await.unwrap());
        assert!(store.exists(&model_key("m", "f")).await.unwrap());
        assert_eq!(state.get("runs/r/x").await.unwrap(), None);
        assert!(
            state.get("runs/rr/x").await.unwrap().is_some(),
            "another run's keys stay"
        );
    }
}
