//! The faasml workflows, written as functions over the core runtime, each declared once through
//! the workflow kit ([`kit::Workflow`]).
//!
//! - [`ml_training`]: partition -> PCA -> random forests -> validation, publishing a model;
//! - [`ml_inference`]: batch prediction with a published model;
//! - [`downpour`]: an MLP trained by Downpour SGD across workers sharing a parameter server in
//!   the state store;
//! - [`stacking`]: N trainers fit base models out of fold, a reducer stacks their predictions,
//!   a metatrainer fits and publishes the stacked model (and `stacking-inference` scores with
//!   it);
//! - [`text`]: the inference benchmark's text models — `text-train` fits and publishes them,
//!   `text-inference` sends batches through the per-algorithm inference functions;
//! - [`mllib`]: Spark MLlib's examples (k-means, elastic-net linear regression, random forest)
//!   with Spark's settings and outputs, data-parallel over `W` worker functions.
//!
//! [`workflows`] lists them, one line each: the command line (`faasml run <name>`,
//! `faasml bench <name>`), the workers (`faasml serve`) and the manifests (`faasml deploy`) all
//! come from that list. The common ground every workflow builds on is here too: [`data`] sources
//! in a store, the store layout and scratch clean-up ([`kit::layout`]), passing bulk data inline
//! or by key ([`kit::transfer`]), and the benchmark description ([`kit::bench`]). A workflow
//! module uses the common ground and never a sibling workflow.
//!
//! Every stage is an `async fn(Input, Ctx)`; stages exchange small JSON messages and keep bulk
//! data (images, projected features, forests, models) in the object store, under the run's
//! scratch prefix `runs/<run id>/` or the published `models/`.
//!
//! ```no_run
//! # async fn example() {
//! use faasml_core::{EmbeddedConfig, EmbeddedPlatform, RunOptions, run};
//! use faasml_store::Store;
//! use faasml_workflows::ml_training::{DRIVER, TrainingParams};
//!
//! let store = Store::open("file://./store").unwrap();
//! faasml_workflows::data::bundled::ensure(&store, "mnist-2k").await.unwrap();
//! faasml_workflows::data::bundled::ensure(&store, "mnist-test").await.unwrap();
//! let platform = EmbeddedPlatform::new(faasml_workflows::registry(), store, EmbeddedConfig::default());
//! let params = TrainingParams::default(); // mnist-2k, 2 PCA, 8 forests
//! let outcome = run(platform, DRIVER, params, RunOptions::new("ml-training")).await;
//! println!("accuracy {:.3}", outcome.output.unwrap().accuracy);
//! # }
//! ```

pub mod data;
pub mod downpour;
pub mod error;
pub mod gbdt;
pub mod kit;
pub mod ml_inference;
pub mod ml_training;
pub mod mllib;
pub mod model;
pub mod stacking;
pub mod text;

pub use error::WorkflowError;
pub use kit::{AnyWorkflow, Workflow};

use faasml_core::{FunctionRef, Registry};

/// A function that does nothing, for measuring invocation overhead.
pub const NOOP: FunctionRef<(), ()> = FunctionRef::new("faasml.noop");

/// Every workflow, one line each.
pub fn workflows() -> Vec<&'static dyn AnyWorkflow> {
    vec![
        &ml_training::MlTraining,
        &ml_inference::MlInference,
        &downpour::Downpour,
        &gbdt::Gbdt,
        &stacking::Stacking,
        &stacking::inference::StackingInference,
        &text::train::TextTrain,
        &text::inference::TextInference,
        &mllib::Mllib,
    ]
}

/// A registry with every function of every workflow.
pub fn registry() -> Registry {
    kit::registry(&workflows())
}
