//! The run layout every function's store handle is confined to, and the record a run declares
//! itself in.
//!
//! | prefix | what | who writes |
//! | --- | --- | --- |
//! | `runs/<run id>/` | a run's scratch; its [`RunRecord`] at `runs/<run id>/.faasml-run.json` | every function of the run (the record: the driver only) |
//! | `models/<name>/` | published models | the driver or a [`StoreAccess::Publisher`] of a run that declares `<name>` |
//! | `results/<run id>/` | a run's outputs that are not models | the driver and publishers of the run |
//! | anything else | datasets | a [`StoreAccess::Importer`], only the datasets its run declares |
//!
//! **The invariant**: nothing a request says reaches outside its run. The platform confines the
//! store handle of every invocation ([`function_access`]) from the run id (checked by
//! [`crate::check_run_id`], so `runs/<run id>/` is exactly one run's prefix) and the function's
//! registered [`StoreAccess`] — never from the payload. A stage reads its run's scratch, the
//! published models, and the datasets its run's record declares; it writes only its run's
//! scratch. A driver — the entry point whose parameters are validated — reads anything but
//! other runs' scratch and results, and writes its own run's scratch, record and results.

use faasml_store::access::LazyPrefixes;
use faasml_store::{Access, Path, Rules, Store};
use serde::{Deserialize, Serialize};

/// The prefix of every run's scratch.
pub const RUNS: &str = "runs";
/// The prefix of published models.
pub const MODELS: &str = "models";
/// The prefix of runs' results.
pub const RESULTS: &str = "results";
/// The name of a run's record under its scratch prefix.
pub const RUN_RECORD_FILE: &str = ".faasml-run.json";

/// What a function may do in the store besides its run's scratch (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StoreAccess {
    /// An ordinary stage: reads its run's scratch, models and declared datasets; writes its
    /// run's scratch.
    #[default]
    Stage,
    /// A stage that also publishes: writes `models/<the run's declared model>/` and
    /// `results/<run id>/`.
    Publisher,
    /// A stage that imports datasets: also writes the datasets its run declares.
    Importer,
    /// A driver: reads everything but other runs' scratch and results; writes its run's
    /// scratch (record included) and results.
    Driver,
}

/// `runs/<run id>`.
pub fn run_prefix(run_id: &str) -> Path {
    Path::from_iter([RUNS, run_id])
}

/// `runs/<run id>/.faasml-run.json`.
pub fn run_record_key(run_id: &str) -> Path {
    run_prefix(run_id).join(RUN_RECORD_FILE)
}

/// What a run declares about itself, written by its driver when it starts: what its stages may
/// read and publish, and a heartbeat that tells `faasml gc` it is still running.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunRecord {
    /// The workflow.
    pub workflow: String,
    /// The data prefixes the run reads (and may import).
    #[serde(default)]
    pub datasets: Vec<String>,
    /// The model name the run publishes, if it publishes one.
    #[serde(default)]
    pub model: Option<String>,
    /// When the run started, µs since the Unix epoch.
    pub started_us: u64,
    /// The driver's last sign of life, µs since the Unix epoch.
    pub heartbeat_us: u64,
    /// The driver's host and process.
    #[serde(default)]
    pub driver: String,
}

impl RunRecord {
    /// Reads the record of run `run_id`; `None` when there is none or it does not parse.
    pub async fn load(store: &Store, run_id: &str) -> Option<Self> {
        store.get_json(&run_record_key(run_id)).await.ok()
    }

    /// The prefixes the record adds for a function of kind `access`.
    fn grants(&self, run_id: &str, access: StoreAccess) -> LazyPrefixes {
        let datasets: Vec<String> = self
            .datasets
            .iter()
            .map(|d| d.trim_matches('/').to_string())
            .filter(|d| !d.is_empty() && !reserved(d))
            .collect();
        let write = match access {
            StoreAccess::Importer => datasets.clone(),
            StoreAccess::Publisher | StoreAccess::Driver => self
                .model
                .iter()
                .filter(|m| !m.is_empty() && !m.contains('/') && *m != "." && *m != "..")
                .map(|m| format!("{MODELS}/{m}"))
                .chain([format!("{RESULTS}/{run_id}")])
                .collect(),
            StoreAccess::Stage => Vec::new(),
        };
        let read = match access {
            StoreAccess::Driver => Vec::new(),
            _ => datasets,
        };
        LazyPrefixes { read, write }
    }
}

/// Whether a declared dataset prefix is (under) one of the layout's reserved prefixes, which a
/// record cannot grant.
fn reserved(prefix: &str) -> bool {
    [RUNS, MODELS, RESULTS]
        .iter()
        .any(|r| faasml_store::access::under(prefix, r))
        || prefix.starts_with('.')
}

/// `parts` joined (without `format!`, whose machinery costs more than the rest of building an
/// access: measured with callgrind on `faasml bench invoke`).
pub(crate) fn concat(parts: &[&str]) -> String {
    let mut out = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for part in parts {
        out.push_str(part);
    }
    out
}

/// The access of one invocation of `function` (of kind `access`) in run `run_id`; `store` is
/// the unconfined store the run's record is read from, when a stage first needs it.
pub fn function_access(store: &Store, run_id: &str, function: &str, access: StoreAccess) -> Access {
    // Plain strings, not `Path`s: the run id is checked (no character needs encoding), and
    // this runs for every invocation.
    let scratch = concat(&[RUNS, "/", run_id]);
    let results = concat(&[RESULTS, "/", run_id]);
    let who = concat(&["function '", function, "' of run '", run_id, "'"]);
    let (read, write) = match access {
        StoreAccess::Driver => (
            Rules::none()
                .allow("")
                .deny(RUNS)
                .deny(RESULTS)
                .allow(scratch.clone())
                .allow(results.clone()),
            Rules::none().allow(scratch).allow(results),
        ),
        StoreAccess::Stage | StoreAccess::Publisher | StoreAccess::Importer => {
            let record = concat(&[&scratch, "/", RUN_RECORD_FILE]);
            (
                Rules::none()
                    .allow(scratch.clone())
                    .allow(MODELS)
                    .allow(results),
                Rules::none().allow(scratch).deny(record),
            )
        }
    };
    let store = store.clone();
    let run_id = run_id.to_string();
    Access::new(who, read, write).with_lazy(Box::new(move || {
        let store = store.clone();
        let run_id = run_id.clone();
        Box::pin(async move {
            RunRecord::load(&store, &run_id)
                .await
                .map(|r| r.grants(&run_id, access))
                .unwrap_or_default()
        })
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use faasml_store::StoreError;

    fn record(datasets: &[&str], model: Option<&str>) -> RunRecord {
        RunRecord {
            workflow: "w".into(),
            datasets: datasets.iter().map(|s| s.to_string()).collect(),
            model: model.map(str::to_string),
            started_us: 1,
            heartbeat_us: 1,
            driver: "test".into(),
        }
    }

    async fn denied(result: Result<impl Sized, StoreError>) -> String {
        match result {
            Err(StoreError::Denied { reason, .. }) => reason,
            Err(other) => panic!("expected a denial, got {other}"),
            Ok(_) => panic!("expected a denial, got success"),
        }
    }

    #[tokio::test]
    async fn stages_touch_their_scratch_and_what_their_run_declares() {
        let store = Store::open("memory://confine-stage").unwrap();
        for key in ["mnist-2k/a.png", "secret/x", "runs/r-2/p", "models/m/f"] {
            store.put(&Path::from(key), vec![1u8]).await.unwrap();
        }
        store
            .put_json(&run_record_key("r-1"), &record(&["mnist-2k/"], Some("m")))
            .await
            .unwrap();
        let stage = store.confined(function_access(&store, "r-1", "w.rf", StoreAccess::Stage));
        stage
            .put(&Path::from("runs/r-1/x"), vec![2u8])
            .await
            .unwrap();
        assert_eq!(
            stage
                .get(&Path::from("mnist-2k/a.png"))
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(stage.get(&Path::from("models/m/f")).await.unwrap().len(), 1);
        let why = denied(stage.get(&Path::from("secret/x")).await).await;
        assert!(
            why.contains("'w.rf' of run 'r-1' may not read 'secret/x'"),
            "{why}"
        );
        denied(stage.get(&Path::from("runs/r-2/p")).await).await;
        denied(stage.put(&Path::from("models/m/f"), vec![9u8]).await).await;
        denied(stage.put(&Path::from("mnist-2k/a.png"), vec![9u8]).await).await;
        denied(stage.put(&run_record_key("r-1"), vec![9u8]).await).await;
        denied(stage.delete_prefix(&Path::from("runs")).await).await;
        // Nothing changed.
        assert_eq!(
            &store.get(&Path::from("models/m/f")).await.unwrap()[..],
            [1u8]
        );
        assert_eq!(
            &store.get(&Path::from("mnist-2k/a.png")).await.unwrap()[..],
            [1u8]
        );

        let publisher = store.confined(function_access(
            &store,
            "r-1",
            "w.validate",
            StoreAccess::Publisher,
        ));
        publisher
            .put(&Path::from("models/m/f"), vec![3u8])
            .await
            .unwrap();
        publisher
            .put(&Path::from("results/r-1/p.csv"), vec![3u8])
            .await
            .unwrap();
        denied(
            publisher
                .put(&Path::from("models/other/f"), vec![3u8])
                .await,
        )
        .await;

        let importer = store.confined(function_access(
            &store,
            "r-1",
            "faasml.import",
            StoreAccess::Importer,
        ));
        importer
            .put(&Path::from("mnist-2k/b.png"), vec![3u8])
            .await
            .unwrap();
        denied(
            importer
                .put(&Path::from("mnist-10k/b.png"), vec![3u8])
                .await,
        )
        .await;
    }

    #[tokio::test]
    async fn without_a_record_a_stage_has_only_its_scratch_and_models() {
        let store = Store::open("memory://confine-norecord").unwrap();
        store.put(&Path::from("data/x"), vec![1u8]).await.unwrap();
        let stage = store.confined(function_access(
            &store,
            "r-9",
            "w.s",
            StoreAccess::Publisher,
        ));
        denied(stage.get(&Path::from("data/x")).await).await;
        denied(stage.put(&Path::from("models/m/f"), vec![1u8]).await).await;
        stage
            .put(&Path::from("runs/r-9/y"), vec![1u8])
            .await
            .unwrap();
    }

    #[tokio::test]
    async fn a_record_cannot_grant_reserved_prefixes() {
        let grants = record(
            &["runs/r-2", "models", "results/x", ".faasml", "ok/"],
            Some("a/b"),
        )
        .grants("r-1", StoreAccess::Publisher);
        assert_eq!(grants.read, ["ok"]);
        assert_eq!(grants.write, ["results/r-1"]);
    }

    #[tokio::test]
    async fn drivers_read_data_but_not_other_runs() {
        let store = Store::open("memory://confine-driver").unwrap();
        store.put(&Path::from("data/x"), vec![1u8]).await.unwrap();
        store
            .put(&Path::from("runs/r-2/x"), vec![1u8])
            .await
            .unwrap();
        store
            .put(&Path::from("runs/r-1/x"), vec![1u8])
            .await
            .unwrap();
        let driver = store.confined(function_access(
            &store,
            "r-1",
            "w.driver",
            StoreAccess::Driver,
        ));
        driver.get(&Path::from("data/x")).await.unwrap();
        denied(driver.get(&Path::from("runs/r-2/x")).await).await;
        assert_eq!(driver.list(&Path::from("")).await.unwrap().len(), 2);
        driver.put(&run_record_key("r-1"), vec![1u8]).await.unwrap();
        driver.delete_prefix(&run_prefix("r-1")).await.unwrap();
        assert!(store.exists(&Path::from("runs/r-2/x")).await.unwrap());
        denied(driver.put(&Path::from("models/m/f"), vec![1u8]).await).await;
        store
            .put_json(&run_record_key("r-1"), &record(&[], Some("m")))
            .await
            .unwrap();
        let driver = store.confined(function_access(
            &store,
            "r-1",
            "w.driver",
            StoreAccess::Driver,
        ));
        driver
            .put(&Path::from("models/m/f"), vec![1u8])
            .await
            .unwrap();
    }
}
