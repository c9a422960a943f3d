//! The workflow kit on small test workflows: parameters are validated once per run, where the
//! driver receives them; a workflow that shares state refuses an in-process state store when its
//! functions run in other processes; bulk data travels inline, through the store or through the
//! state store alike; and a run's scratch is gone when it ends, failed or not.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use async_trait::async_trait;
use faasml_core::{
    Ctx, EmbeddedConfig, EmbeddedPlatform, EmbeddedState, FunctionRef, InvocationRequest,
    InvocationResponse, InvokeError, Platform, Registry, RunOptions, StateStore, run,
};
use faasml_store::{Path, Store};
use faasml_workflows::kit::transfer::{Transfer, TransferMode};
use faasml_workflows::kit::{self, BenchSpec, Workflow, layout};
use faasml_workflows::{AnyWorkflow, WorkflowError};
use serde::{Deserialize, Serialize};

/// Validations of parameters whose first number is [`COUNTED`] (tests run in parallel; only
/// the counting test uses that number).
static VALIDATIONS: AtomicUsize = AtomicUsize::new(0);
const COUNTED: u32 = 1_000_001;

/// Parameters of the test workflow.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
struct EchoParams {
    /// Numbers to send through the stage.
    #[cfg_attr(feature = "cli", arg(long))]
    numbers: Vec<u32>,
    /// How to send them.
    #[cfg_attr(feature = "cli", arg(long, value_enum, default_value_t = TransferMode::Store))]
    transfer: TransferMode,
    /// Fail after the stage ran (to see the scratch cleaned up anyway).
    #[cfg_attr(feature = "cli", arg(long))]
    fail: bool,
    /// Panic after the stage ran (the scratch goes all the same).
    #[cfg_attr(feature = "cli", arg(long))]
    panic: bool,
    /// Whether the workflow claims to share state between its functions.
    #[cfg_attr(feature = "cli", arg(long))]
    shared: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct EchoOutput {
    sum: u64,
    via: TransferMode,
}

const DRIVER: FunctionRef<EchoParams, EchoOutput> = FunctionRef::new("echo.driver");
const SUM: FunctionRef<Transfer<Vec<u32>>, u64> = FunctionRef::new("echo.sum");

/// Sends the numbers to a stage that sums them; the value travels as the params say.
struct Echo;

impl Workflow for Echo {
    const NAME: &'static str = "echo";
    const ABOUT: &'static str = "Sums numbers in a stage (a kit test).";
    type Params = EchoParams;
    type Output = EchoOutput;
    const DRIVER: FunctionRef<EchoParams, EchoOutput> = DRIVER;

    async fn drive(params: EchoParams, ctx: Ctx) -> Result<EchoOutput, WorkflowError> {
        let key = layout::Scratch::of_run(ctx.run_id()).key("numbers.json");
        let sent = Transfer::send(&ctx, params.transfer, key, params.numbers).await?;
        let via = sent.mode();
        let sum = ctx.invoke(SUM, &sent).await?;
        if params.fail {
            return Err(WorkflowError::Injected("asked to fail".into()));
        }
        if params.panic {
            panic!("asked to panic");
        }
        Ok(EchoOutput { sum, via })
    }

    fn register(registry: &mut Registry) {
        registry.register(SUM, |numbers: Transfer<Vec<u32>>, ctx: Ctx| async move {
            let numbers = numbers.receive(&ctx).await?;
            Ok::<_, WorkflowError>(numbers.iter().map(|&n| u64::from(n)).sum())
        });
    }

    fn validate(params: &EchoParams) -> Result<(), WorkflowError> {
        if params.numbers.first() == Some(&COUNTED) {
            VALIDATIONS.fetch_add(1, Ordering::SeqCst);
        }
        if params.numbers.is_empty() {
            return Err(WorkflowError::InvalidParams("give some numbers".into()));
        }
        Ok(())
    }

    fn datasets(_params: &EchoParams) -> Vec<String> {
        Vec::new()
    }

    fn shared_state() -> bool {
        // A test workflow's one switch cannot vary per run; `Shared` below says yes.
        false
    }

    fn summary(_params: &EchoParams, output: &EchoOutput) -> String {
        format!("sum {}", output.sum)
    }

    fn bench() -> BenchSpec<EchoOutput> {
        BenchSpec::basic()
    }
}

/// The same workflow, declaring that its functions share state.
struct Shared;

const SHARED_DRIVER: FunctionRef<EchoParams, EchoOutput> = FunctionRef::new("shared.driver");

impl Workflow for Shared {
    const NAME: &'static str = "shared";
    const ABOUT: &'static str = "Echo, sharing state between its functions (a kit test).";
    type Params = EchoParams;
    type Output = EchoOutput;
    const DRIVER: FunctionRef<EchoParams, EchoOutput> = SHARED_DRIVER;

    async fn drive(params: EchoParams, ctx: Ctx) -> Result<EchoOutput, WorkflowError> {
        <Echo as Workflow>::drive(params, ctx).await
    }

    fn register(registry: &mut Registry) {
        <Echo as Workflow>::register(registry);
    }

    fn validate(params: &EchoParams) -> Result<(), WorkflowError> {
        <Echo as Workflow>::validate(params)
    }

    fn datasets(_params: &EchoParams) -> Vec<String> {
        Vec::new()
    }

    fn shared_state() -> bool {
        true
    }

    fn summary(params: &EchoParams, output: &EchoOutput) -> String {
        <Echo as Workflow>::summary(params, output)
    }

    fn bench() -> BenchSpec<EchoOutput> {
        BenchSpec::basic()
    }
}

fn registry() -> Registry {
    kit::registry(&[&Echo as &dyn AnyWorkflow, &Shared])
}

fn platform(store: &Store, state: Arc<dyn StateStore>) -> Arc<EmbeddedPlatform> {
    let config = EmbeddedConfig {
        state,
        ..EmbeddedConfig::default()
    };
    EmbeddedPlatform::new(registry(), store.clone(), config)
}

/// Forwards to another platform under another name: functions behind it look remote.
#[derive(Debug)]
struct Remote(Arc<EmbeddedPlatform>);

#[async_trait]
impl Platform for Remote {
    fn name(&self) -> &str {
        "remote"
    }

    async fn invoke(&self, request: InvocationRequest) -> Result<InvocationResponse, InvokeError> {
        self.0.invoke(request).await
    }
}

#[tokio::test]
async fn parameters_are_validated_once_per_run_where_the_driver_receives_them() {
    let store = Store::open("memory://kit-validate").unwrap();
    let params = EchoParams {
        numbers: vec![COUNTED, 2, 3],
        ..EchoParams::default()
    };
    let before = VALIDATIONS.load(Ordering::SeqCst);
    let outcome = run(
        platform(&store, Arc::new(EmbeddedState::new())),
        DRIVER,
        params,
        RunOptions::new("echo"),
    )
    .await;
    assert_eq!(outcome.output.unwrap().sum, u64::from(COUNTED) + 5);
    assert_eq!(VALIDATIONS.load(Ordering::SeqCst) - before, 1);
    assert_eq!(
        outcome.report.result["sum"],
        u64::from(COUNTED) + 5,
        "core sets report.result"
    );

    // Refused parameters stop the run before any stage: a permanent invalid-params error.
    let outcome = run(
        platform(&store, Arc::new(EmbeddedState::new())),
        DRIVER,
        EchoParams::default(),
        RunOptions::new("echo"),
    )
    .await;
    let stages: Vec<&str> = outcome
        .report
        .invocations
        .iter()
        .map(|r| r.function.as_str())
        .collect();
    assert_eq!(stages, ["echo.driver"], "no stage ran");
    let InvokeError::Failed {
        error, attempts, ..
    } = outcome.output.unwrap_err()
    else {
        panic!("a function failure expected");
    };
    assert_eq!(error.error_type, "invalid-params");
    assert!(error.error_message.contains("give some numbers"));
    assert_eq!(attempts, 1, "not retried");
}

#[tokio::test]
async fn every_transfer_mode_delivers_and_the_scratch_goes_with_the_run() {
    let store = Store::open("memory://kit-transfer").unwrap();
    let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
    for mode in [
        TransferMode::Inline,
        TransferMode::Store,
        TransferMode::State,
    ] {
        for fail in [false, true] {
            let params = EchoParams {
                numbers: (1..=100).collect(),
                transfer: mode,
                fail,
                ..EchoParams::default()
            };
            let outcome = run(
                platform(&store, Arc::clone(&state)),
                DRIVER,
                params,
                RunOptions::new("echo"),
            )
            .await;
            let run_id = outcome.report.run_id.clone();
            match outcome.output {
                Ok(output) => {
                    assert!(!fail);
                    assert_eq!((output.sum, output.via), (5050, mode));
                }
                Err(e) => assert!(fail && e.to_string().contains("asked to fail"), "{e}"),
            }
            // The stage's input size says how the numbers travelled.
            let stage = outcome
                .report
                .invocations
                .iter()
                .find(|r| r.function == "echo.sum")
                .unwrap();
            assert_eq!(
                stage.payload_in > 200,
                mode == TransferMode::Inline,
                "{mode:?}"
            );
            let scratch = layout::scratch_prefix(&run_id);
            assert!(
                store.list(&scratch).await.unwrap().is_empty(),
                "{mode:?} fail={fail}: store scratch left"
            );
            assert_eq!(
                state.delete_prefix(&format!("{scratch}/")).await.unwrap(),
                0,
                "{mode:?} fail={fail}: state scratch left"
            );
        }
    }
    assert!(store.list(&Path::from("runs")).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_driver_that_panics_leaves_no_scratch() {
    let store = Store::open("memory://kit-panic").unwrap();
    let state: Arc<dyn StateStore> = Arc::new(EmbeddedState::new());
    for transfer in [TransferMode::Store, TransferMode::State] {
        let params = EchoParams {
            numbers: vec![7],
            transfer,
            panic: true,
            ..EchoParams::default()
        };
        let outcome = run(
            platform(&store, Arc::clone(&state)),
            DRIVER,
            params,
            RunOptions::new("echo"),
        )
        .await;
        let err = outcome.output.unwrap_err().to_string();
        assert!(err.contains("asked to panic"), "{err}");
        let scratch = layout::scratch_prefix(&outcome.report.run_id);
        assert!(
            store.list(&scratch).await.unwrap().is_empty(),
            "{transfer:?}"
        );
        assert_eq!(
            state.delete_prefix(&format!("{scratch}/")).await.unwrap(),
            0,
            "{transfer:?}"
        );
    }
}

#[tokio::test]
async fn shared_state_must_be_shared_when_functions_run_elsewhere() {
    let store = Store::open("memory://kit-shared").unwrap();
    let params = EchoParams {
        numbers: vec![4],
        ..EchoParams::default()
    };
    // In one process, the in-process state store is shared by every function.
    let local = platform(&store, Arc::new(EmbeddedState::new()));
    let outcome = run(
        local.clone(),
        SHARED_DRIVER,
        params.clone(),
        RunOptions::new("shared"),
    )
    .await;
    assert_eq!(outcome.output.unwrap().sum, 4);
    // A driver whose fan-out leaves the process refuses it, naming the fix.
    let config = EmbeddedConfig {
        nested: Some(Arc::new(Remote(local))),
        ..EmbeddedConfig::default()
    };
    let driver_side = EmbeddedPlatform::new(registry(), store.clone(), config);
    let err = run(
        driver_side,
        SHARED_DRIVER,
        params,
        RunOptions::new("shared"),
    )
    .await
    .output
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("other processes") && err.contains("--state redis://"),
        "{err}"
    );
}
