//! Finding and removing the scratch of runs that are no longer running.
//!
//! A driver deletes its run's scratch when it ends, whatever the outcome; only a run whose
//! driver was killed (`kill -9`, a node that vanished) leaves `runs/<run id>/` behind. A run is
//! **stale** when its record's heartbeat — refreshed every [`super::HEARTBEAT_EVERY`] while the
//! driver lives — is older than a threshold, or, for scratch without a record (a driver killed
//! before it claimed the run, a run of an older version), when its newest object is. Removing
//! a stale run deletes its prefix in the store and in the state store.

use std::time::Duration;

use faasml_core::confine::{RUNS, run_prefix};
use faasml_core::{RunRecord, StateStore, now_micros};
use faasml_store::{Path, Store};

use crate::error::Result;

/// The shortest threshold accepted: a live run's heartbeat can be up to one interval old, so
/// anything under two would risk deleting a live run's scratch.
pub const MIN_AGE: Duration = Duration::from_secs(2 * super::HEARTBEAT_EVERY.as_secs());

/// A run's scratch found in the store.
#[derive(Debug, Clone, PartialEq)]
pub struct RunScratch {
    /// The run id.
    pub run_id: String,
    /// The run's record, if it has one.
    pub record: Option<RunRecord>,
    /// Seconds since the run last showed life (heartbeat, else newest object).
    pub idle_seconds: u64,
    /// Objects under its prefix.
    pub objects: usize,
    /// Their total size.
    pub bytes: u64,
}

/// Every run's scratch in `store`, with how long each has been idle; at most `limit` runs.
pub async fn scan(store: &Store, limit: usize) -> Result<Vec<RunScratch>> {
    let now = now_micros();
    let mut runs = Vec::new();
    for dir in store
        .list_dirs(&Path::from(RUNS))
        .await?
        .into_iter()
        .take(limit)
    {
        let Some(run_id) = dir.filename().map(str::to_string) else {
            continue;
        };
        let objects = store.list(&dir).await?;
        if objects.is_empty() {
            // An empty directory of a file:// store: nothing to remove.
            continue;
        }
        let record = RunRecord::load(store, &run_id).await;
        let newest_us = objects
            .iter()
            .map(|o| u64::try_from(o.last_modified.timestamp_micros()).unwrap_or(0))
            .max()
            .unwrap_or(0);
        let last_sign_us = record.as_ref().map_or(newest_us, |r| r.heartbeat_us);
        runs.push(RunScratch {
            run_id,
            record,
            idle_seconds: now.saturating_sub(last_sign_us) / 1_000_000,
            objects: objects.len(),
            bytes: objects.iter().map(|o| o.size).sum(),
        });
    }
    Ok(runs)
}

/// The runs of `scan` idle for at least `older_than`.
pub fn stale(runs: Vec<RunScratch>, older_than: Duration) -> Vec<RunScratch> {
    runs.into_iter()
        .filter(|r| r.idle_seconds >= older_than.as_secs())
        .collect()
}

/// Deletes the scratch of `run` in the store and the state store; returns the objects deleted.
pub async fn remove(store: &Store, state: &dyn StateStore, run: &RunScratch) -> Result<usize> {
    let prefix = run_prefix(&run.run_id);
    let deleted = store.delete_prefix(&prefix).await?;
    state.delete_prefix(&format!("{prefix}/")).await?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use super::*;
    use faasml_core::EmbeddedState;
    use faasml_core::confine::run_record_key;

    fn record(heartbeat_us: u64) -> RunRecord {
        RunRecord {
            workflow: "w".into(),
            datasets: Vec::new(),
            model: None,
            started_us: heartbeat_us,
            heartbeat_us,
            driver: "test".into(),
        }
    }

    #[tokio::test]
    async fn only_runs_without_a_recent_heartbeat_are_stale() {
        let store = Store::open("memory://gc-scan").unwrap();
        let state = EmbeddedState::new();
        let now = now_micros();
        store
            .put_json(&run_record_key("live"), &record(now))
            .await
            .unwrap();
        store
            .put_json(&run_record_key("dead"), &record(now - 3_600_000_000))
            .await
            .unwrap();
        store
            .put(&Path::from("runs/dead/part"), vec![0u8; 10])
            .await
            .unwrap();
        // Scratch without a record, written just now: not stale yet.
        store
            .put(&Path::from("runs/orphan/x"), vec![0u8; 5])
            .await
            .unwrap();
        state.put("runs/dead/k", vec![1u8].into()).await.unwrap();
        state.put("runs/live/k", vec![1u8].into()).await.unwrap();

        let runs = scan(&store, 100).await.unwrap();
        assert_eq!(runs.len(), 3);
        let stale = stale(runs, Duration::from_secs(600));
        assert_eq!(stale.len(), 1);
        assert_eq!(stale[0].run_id, "dead");
        assert_eq!(stale[0].objects, 2);
        assert!(stale[0].idle_seconds >= 3600);
        assert_eq!(remove(&store, &state, &stale[0]).await.unwrap(), 2);
        assert!(!store.exists(&Path::from("runs/dead/part")).await.unwrap());
        assert!(store.exists(&run_record_key("live")).await.unwrap());
        assert!(store.exists(&Path::from("runs/orphan/x")).await.unwrap());
        assert_eq!(state.get("runs/dead/k").await.unwrap(), None);
        assert!(state.get("runs/live/k").await.unwrap().is_some());
        // With a zero threshold the orphan is stale too.
        let all = super::stale(scan(&store, 100).await.unwrap(), Duration::ZERO);
        assert_eq!(all.len(), 2);
    }
}
