//! The workflow kit: what every workflow declares once, and what the runner, the bench harness,
//! `serve` and `deploy` read from it.
//!
//! A workflow is a type implementing [`Workflow`]: its name, its parameters (declared once: serde
//! for the wire, clap for the command line behind the `cli` feature, doc comments as help,
//! defaults in one `Default` impl), its driver, its stage functions with their deployment specs,
//! validation, the datasets it reads, its expected invocation count and minimum concurrency, the
//! summary printed under the stage table, and its benchmark. The list in [`crate::workflows`]
//! holds one line per workflow; everything else — `faasml run <name>`, `faasml bench <name>`,
//! the functions a worker serves, the manifests `deploy` writes — comes from that list through
//! the object-safe [`AnyWorkflow`] every [`Workflow`] gets for free.
//!
//! The kit also wraps every driver, the one place every platform passes through:
//! 1. parameters are resolved and validated — once per run, here, where they enter (the
//!    command line only parses them; a driver invoked over HTTP gets the same check);
//! 2. a workflow that shares state across functions refuses an in-process state store when its
//!    functions run in other processes;
//! 3. the run claims its id: it writes its [`RunRecord`] (workflow, declared datasets and
//!    model) to `runs/<run id>/.faasml-run.json` only if no record is there, so a second run
//!    with a live run's id fails instead of sharing its scratch; the record is what confines
//!    the stages' reads and publications ([`faasml_core::confine`]), and its heartbeat (every
//!    [`HEARTBEAT_EVERY`]) tells `faasml gc` the run is alive;
//! 4. bundled datasets the run reads and the store lacks (image sets, and the tables named
//!    `tabular/<name>`: [`crate::data::bundled`]) are imported first, by the [`IMPORT`] function
//!    (crash-safe, recorded with the run id so the runner can say so);
//! 5. the run's scratch prefix, in the store and the state store, is deleted when the driver
//!    ends ([`layout::Scratch`]), record included.

pub mod bench;
pub mod collective;
pub mod gc;
pub mod layout;
pub mod limits;
pub mod persist;
pub mod transfer;
pub mod wire;

use std::fmt::Debug;
use std::future::Future;
use std::sync::Arc;

use faasml_core::confine::run_record_key;
use faasml_core::{
    Ctx, FunctionRef, Platform, Registry, RunOptions, RunOutcome, RunRecord, now_micros,
};
use futures::FutureExt as _;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

pub use bench::{
    BenchDefaults, BenchSpec, END_TO_END, Metric, MetricValue, Peer, Series, SeriesLabels,
};

use crate::error::{Result, WorkflowError};

/// What a workflow's parameters are: serde for the wire, `Default` for the defaults, and with
/// the `cli` feature clap `Args` (doc comments are the help text).
#[cfg(feature = "cli")]
pub trait Params:
    Serialize + DeserializeOwned + Clone + Default + Debug + Send + Sync + clap::Args + 'static
{
}
#[cfg(feature = "cli")]
impl<T> Params for T where
    T: Serialize + DeserializeOwned + Clone + Default + Debug + Send + Sync + clap::Args + 'static
{
}

/// What a workflow's parameters are: serde for the wire and `Default` for the defaults.
#[cfg(not(feature = "cli"))]
pub trait Params:
    Serialize + DeserializeOwned + Clone + Default + Debug + Send + Sync + 'static
{
}
#[cfg(not(feature = "cli"))]
impl<T> Params for T where
    T: Serialize + DeserializeOwned + Clone + Default + Debug + Send + Sync + 'static
{
}

/// A workflow, declared once. Implement it on a unit struct and add `&YourWorkflow` to
/// [`crate::workflows`]; see ARCHITECTURE.md, "How to add a workflow".
pub trait Workflow: Send + Sync + 'static {
    /// The name on the command line and in reports, e.g. `ml-training`.
    const NAME: &'static str;
    /// One line of help for `faasml run <name>`.
    const ABOUT: &'static str;
    /// The parameters.
    type Params: Params;
    /// What a run produces (the driver's output, `report.result`).
    type Output: Serialize + DeserializeOwned + Send + Sync + 'static;
    /// The driver function, named `<NAME>.driver`.
    const DRIVER: FunctionRef<Self::Params, Self::Output>;

    /// The driver's body: runs the stages. Called with resolved and validated parameters.
    fn drive(
        params: Self::Params,
        ctx: Ctx,
    ) -> impl Future<Output = Result<Self::Output>> + Send + 'static;

    /// Registers the stage functions (the kit registers the driver), refining each one's
    /// [`faasml_core::FunctionSpec`] where it needs more than a stage's defaults.
    fn register(registry: &mut Registry);

    /// Fills in what the parameters leave to be derived from others (a test set from the
    /// training data's family, a model name from the dataset, ...). Must be idempotent: it runs
    /// where the command line is read and again where the driver receives the parameters.
    fn resolve(params: &mut Self::Params) {
        let _ = params;
    }

    /// Checks the parameters; called once per run, where the driver receives them.
    fn validate(params: &Self::Params) -> Result<()>;

    /// The data prefixes the run reads; the runner imports bundled datasets among them into the
    /// store before the run. The run's stages may read these and nothing else outside the
    /// run's scratch and the published models.
    fn datasets(params: &Self::Params) -> Vec<String>;

    /// The model the run publishes under `models/<name>/`, if it publishes one: the only model
    /// its publishing function may write.
    fn model(params: &Self::Params) -> Option<String> {
        let _ = params;
        None
    }

    /// How many invocations a run makes, for a progress bar (`None`: unknown).
    fn expected_invocations(params: &Self::Params) -> Option<u64> {
        let _ = params;
        None
    }

    /// The fewest instances that must be able to run at once (functions that wait for each
    /// other, such as long-running workers, need one each).
    fn min_concurrency(params: &Self::Params) -> usize {
        let _ = params;
        1
    }

    /// Whether functions of a run share mutable state in the state store, so that functions in
    /// other processes need a shared one (`redis://`).
    fn shared_state() -> bool {
        false
    }

    /// Whether a successful run keeps its scratch objects (`runs/<run id>/`).
    fn keep_scratch(params: &Self::Params) -> bool {
        let _ = params;
        false
    }

    /// The lines printed under the stage table.
    fn summary(params: &Self::Params, output: &Self::Output) -> String;

    /// Warnings about a finished run, printed on stderr (e.g. data that does not match a model).
    fn warnings(output: &Self::Output) -> Vec<String> {
        let _ = output;
        Vec::new()
    }

    /// How `faasml bench <name>` runs by default and what it measures.
    fn bench() -> BenchSpec<Self::Output>;
}

/// A [`Workflow`] seen through one object-safe interface, with parameters and outputs as JSON:
/// what lists of workflows hold. Every `Workflow` implements it.
pub trait AnyWorkflow: Send + Sync {
    /// The workflow's name.
    fn name(&self) -> &'static str;
    /// One line of help.
    fn about(&self) -> &'static str;
    /// The driver function's name.
    fn driver(&self) -> &'static str;
    /// Registers the driver (wrapped by the kit) and the stage functions.
    fn register(&self, registry: &mut Registry);
    /// The default parameters.
    fn default_params(&self) -> Value;
    /// Parses `params` (missing fields take their defaults) and resolves derived ones.
    fn resolve(&self, params: Value) -> Result<Value>;
    /// The data prefixes a run with `params` reads.
    fn datasets(&self, params: &Value) -> Vec<String>;
    /// Expected invocations of a run with `params`.
    fn expected_invocations(&self, params: &Value) -> Option<u64>;
    /// The fewest instances that must be able to run at once.
    fn min_concurrency(&self, params: &Value) -> usize;
    /// Whether the functions share mutable state in the state store.
    fn shared_state(&self) -> bool;
    /// Runs the driver with `params` on `platform`; the output comes back as JSON.
    fn run(
        &self,
        platform: Arc<dyn Platform>,
        params: Value,
        options: RunOptions,
    ) -> BoxFuture<'static, RunOutcome<Value>>;
    /// The summary lines for a run's output.
    fn summary(&self, params: &Value, output: &Value) -> String;
    /// Warnings about a run's output.
    fn warnings(&self, output: &Value) -> Vec<String>;
    /// The benchmark defaults (grid, repeats, what to chart).
    fn bench_defaults(&self) -> BenchDefaults;
    /// The benchmark's metrics of one run's output.
    fn bench_metrics(&self, output: &Value) -> Vec<MetricValue>;
    /// The benchmark's series (e.g. accuracy over time) of one run's output.
    fn bench_series(&self, output: &Value) -> Vec<(f64, f64)>;
    /// The parameters' command-line arguments, added to `command`.
    #[cfg(feature = "cli")]
    fn args(&self, command: clap::Command) -> clap::Command;
    /// The parameters given on a command line, as JSON.
    #[cfg(feature = "cli")]
    fn params_from_matches(&self, matches: &clap::ArgMatches) -> Result<Value, clap::Error>;
}

fn parse<T: DeserializeOwned>(what: &str, value: Value) -> Result<T> {
    serde_json::from_value(value)
        .map_err(|e| WorkflowError::InvalidParams(format!("cannot read the {what}: {e}")))
}

fn to_json<T: Serialize>(value: &T) -> Value {
    serde_json::to_value(value).unwrap_or(Value::Null)
}

/// The parameters of `W` from JSON, resolved.
fn resolved<W: Workflow>(params: Value) -> Result<W::Params> {
    let mut params: W::Params = parse("parameters", params)?;
    W::resolve(&mut params);
    Ok(params)
}

/// Imports a bundled dataset — an image set or a table — into the store if it is not there yet
/// (see [`crate::data::bundled::ensure`]); returns the items (images or table rows) imported, if
/// it imported.
pub const IMPORT: FunctionRef<String, Option<usize>> = FunctionRef::new("faasml.import");

/// How often a running driver refreshes its run record's heartbeat.
pub const HEARTBEAT_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

/// Claims run id `ctx.run_id()` for `record`: the first attempt of a driver writes the record
/// only if none is there; a retried driver takes its run over.
async fn claim(ctx: &Ctx, record: &RunRecord) -> Result<()> {
    let key = run_record_key(ctx.run_id());
    let bytes = serde_json::to_vec_pretty(record)
        .map_err(|e| WorkflowError::InvalidParams(format!("cannot encode the run record: {e}")))?;
    if ctx.attempt() > 1 {
        ctx.store().put(&key, bytes).await?;
        return Ok(());
    }
    if ctx.store().put_if_absent(&key, bytes).await? {
        return Ok(());
    }
    let now = now_micros();
    let holder = RunRecord::load(ctx.store(), ctx.run_id()).await;
    let ago = |us: u64| now.saturating_sub(us) / 1_000_000;
    Err(WorkflowError::RunInUse {
        run_id: ctx.run_id().to_string(),
        workflow: holder
            .as_ref()
            .map_or_else(|| "unknown".to_string(), |h| h.workflow.clone()),
        started_s_ago: holder.as_ref().map_or(0, |h| ago(h.started_us)),
        heartbeat_s_ago: holder.as_ref().map_or(0, |h| ago(h.heartbeat_us)),
    })
}

/// Refreshes the run record's heartbeat every [`HEARTBEAT_EVERY`] until stopped.
struct Heartbeat {
    stop: tokio::sync::watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Heartbeat {
    fn start(ctx: &Ctx, mut record: RunRecord) -> Self {
        let store = ctx.store().clone();
        let key = run_record_key(ctx.run_id());
        let (stop, mut stopped) = tokio::sync::watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = tokio::time::sleep(HEARTBEAT_EVERY) => {}
                    _ = stopped.changed() => return,
                }
                if *stopped.borrow() {
                    return;
                }
                record.heartbeat_us = now_micros();
                // Best effort: a missed beat only makes the run look older to `faasml gc`.
                // Never interrupted mid-write: `stop` waits for a beat in progress to land.
                let _ = store.put_json(&key, &record).await;
            }
        });
        Self { stop, task }
    }

    /// Stops the heartbeat and waits until its task has ended (a beat being written finishes
    /// first), so that no late beat rewrites the record after the run's scratch is deleted.
    async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

/// `<host>:<pid>` of this process, for the run record.
fn this_process() -> String {
    let host = std::env::var("HOSTNAME")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".to_string());
    format!("{host}:{}", std::process::id())
}

async fn import(prefix: String, ctx: Ctx) -> Result<Option<usize>> {
    crate::data::bundled::ensure_for_run(ctx.store(), &prefix, ctx.run_id()).await
}

/// The driver as the kit registers it: resolve, validate, check the state store, import the
/// bundled data the run reads, run, and delete the run's scratch prefix at the end.
async fn driver<W: Workflow>(mut params: W::Params, ctx: Ctx) -> Result<W::Output> {
    W::resolve(&mut params);
    W::validate(&params)?;
    if W::shared_state() && ctx.fans_out_remotely() && ctx.state().url().starts_with("embedded") {
        return Err(WorkflowError::InvalidParams(format!(
            "{} shares state between its functions, and they run in other processes here, so \
             the in-process state store cannot hold it: start the workers and the run with \
             --state redis://HOST:PORT (FAASML_STATE)",
            W::NAME
        )));
    }
    let now = now_micros();
    let record = RunRecord {
        workflow: W::NAME.to_string(),
        datasets: W::datasets(&params),
        model: W::model(&params),
        started_us: now,
        heartbeat_us: now,
        driver: this_process(),
    };
    claim(&ctx, &record).await?;
    let heartbeat = Heartbeat::start(&ctx, record);
    let scratch = layout::Scratch::of_run(ctx.run_id());
    let keep = W::keep_scratch(&params);
    let imported = async {
        for prefix in W::datasets(&params) {
            if crate::data::bundled::needs_import(ctx.store(), &prefix).await? {
                ctx.invoke(IMPORT, &prefix).await?;
            }
        }
        Ok::<_, WorkflowError>(())
    }
    .await;
    if let Err(e) = imported {
        heartbeat.stop().await;
        scratch
            .finish(ctx.store(), ctx.state().as_ref(), false)
            .await;
        return Err(e);
    }
    // A driver that panics leaves no scratch either: clean up, then let the panic go on to the
    // platform, which reports it as the invocation's failure.
    let output = std::panic::AssertUnwindSafe(W::drive(params, ctx.clone()))
        .catch_unwind()
        .await;
    let succeeded = matches!(output, Ok(Ok(_)));
    heartbeat.stop().await;
    scratch
        .finish(ctx.store(), ctx.state().as_ref(), succeeded && keep)
        .await;
    match output {
        Ok(output) => output,
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

impl<W: Workflow> AnyWorkflow for W {
    fn name(&self) -> &'static str {
        W::NAME
    }

    fn about(&self) -> &'static str {
        W::ABOUT
    }

    fn driver(&self) -> &'static str {
        W::DRIVER.name()
    }

    fn register(&self, registry: &mut Registry) {
        registry.register(W::DRIVER, driver::<W>).driver();
        W::register(registry);
    }

    fn default_params(&self) -> Value {
        to_json(&W::Params::default())
    }

    fn resolve(&self, params: Value) -> Result<Value> {
        resolved::<W>(params).map(|p| to_json(&p))
    }

    fn datasets(&self, params: &Value) -> Vec<String> {
        resolved::<W>(params.clone())
            .map(|p| W::datasets(&p))
            .unwrap_or_default()
    }

    fn expected_invocations(&self, params: &Value) -> Option<u64> {
        resolved::<W>(params.clone())
            .ok()
            .and_then(|p| W::expected_invocations(&p))
    }

    fn min_concurrency(&self, params: &Value) -> usize {
        resolved::<W>(params.clone()).map_or(1, |p| W::min_concurrency(&p))
    }

    fn shared_state(&self) -> bool {
        W::shared_state()
    }

    fn run(
        &self,
        platform: Arc<dyn Platform>,
        params: Value,
        options: RunOptions,
    ) -> BoxFuture<'static, RunOutcome<Value>> {
        Box::pin(async move {
            // The driver parses the parameters itself; sending the JSON as it is keeps a bad
            // field a driver error (reported like any other) rather than a runner panic.
            let outcome = faasml_core::run(platform, raw_driver::<W>(), params, options).await;
            RunOutcome {
                output: outcome.output,
                report: outcome.report,
            }
        })
    }

    fn summary(&self, params: &Value, output: &Value) -> String {
        match (
            resolved::<W>(params.clone()),
            parse::<W::Output>("output", output.clone()),
        ) {
            (Ok(params), Ok(output)) => W::summary(&params, &output),
            _ => String::new(),
        }
    }

    fn warnings(&self, output: &Value) -> Vec<String> {
        parse::<W::Output>("output", output.clone())
            .map(|o| W::warnings(&o))
            .unwrap_or_default()
    }

    fn bench_defaults(&self) -> BenchDefaults {
        W::bench().defaults()
    }

    fn bench_metrics(&self, output: &Value) -> Vec<MetricValue> {
        let spec = W::bench();
        match parse::<W::Output>("output", output.clone()) {
            Ok(output) => spec.measure(&output),
            Err(_) => Vec::new(),
        }
    }

    fn bench_series(&self, output: &Value) -> Vec<(f64, f64)> {
        let spec = W::bench();
        match (&spec.series, parse::<W::Output>("output", output.clone())) {
            (Some(series), Ok(output)) => (series.points)(&output),
            _ => Vec::new(),
        }
    }

    #[cfg(feature = "cli")]
    fn args(&self, command: clap::Command) -> clap::Command {
        <W::Params as clap::Args>::augment_args(command)
    }

    #[cfg(feature = "cli")]
    fn params_from_matches(&self, matches: &clap::ArgMatches) -> Result<Value, clap::Error> {
        let params = <W::Params as clap::FromArgMatches>::from_arg_matches(matches)?;
        Ok(to_json(&params))
    }
}

/// The driver of `W` typed with JSON input and output (same name, same wire format).
fn raw_driver<W: Workflow>() -> FunctionRef<Value, Value> {
    FunctionRef::new(W::DRIVER.name())
}

/// Every function of `workflows`, plus [`crate::NOOP`] and [`IMPORT`].
pub fn registry(workflows: &[&dyn AnyWorkflow]) -> Registry {
    let mut registry = Registry::new();
    registry.register(crate::NOOP, |(), _ctx| async { Ok::<_, WorkflowError>(()) });
    registry.register(IMPORT, import).imports();
    for workflow in workflows {
        workflow.register(&mut registry);
    }
    registry
}

/// The workflow called `name` among `workflows`, or an error listing the known names.
pub fn find<'a>(workflows: &[&'a dyn AnyWorkflow], name: &str) -> Result<&'a dyn AnyWorkflow> {
    workflows
        .iter()
        .copied()
        .find(|w| w.name() == name)
        .ok_or_else(|| {
            WorkflowError::InvalidParams(format!(
                "no workflow named '{name}' (known: {})",
                workflows
                    .iter()
                    .map(|w| w.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })
}
