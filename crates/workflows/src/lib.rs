//! The faasml workflows, written as functions over the core runtime.
//!
//! - [`ml_training`]: partition -> PCA -> random forests -> validation, publishing a model;
//! - [`ml_inference`]: batch prediction with a published model;
//! - [`downpour`]: an MLP trained by Downpour SGD across workers sharing a parameter server in
//!   the state store.
//!
//! Every stage is an `async fn(Input, Ctx)` registered by [`registry`]; stages exchange only
//! small JSON messages and keep bulk data (images, projected features, forests, models) in the
//! object store, under the run's scratch prefix `runs/<run id>/` or the published `models/`.
//!
//! ```no_run
//! # async fn example() {
//! use faasml_core::{EmbeddedConfig, EmbeddedPlatform, RunOptions, run};
//! use faasml_store::Store;
//! use faasml_workflows::ml_training::{DRIVER, TrainingParams};
//!
//! let store = Store::open("file://./store").unwrap();
//! let params = TrainingParams::default(); // mnist-2k, 2 PCA, 8 forests
//! faasml_workflows::images::ensure_bundled(&store, &params.data).await.unwrap();
//! faasml_workflows::images::ensure_bundled(&store, &params.test).await.unwrap();
//! let platform = EmbeddedPlatform::new(faasml_workflows::registry(), store, EmbeddedConfig::default());
//! let outcome = run(platform, DRIVER, params, RunOptions::new("ml-training")).await;
//! println!("accuracy {:.3}", outcome.output.unwrap().accuracy);
//! # }
//! ```

pub mod downpour;
pub mod error;
pub mod images;
pub mod ml_inference;
pub mod ml_training;
pub mod model;

pub use error::WorkflowError;

use faasml_core::{FunctionRef, Registry};

/// A function that does nothing, for measuring invocation overhead.
pub const NOOP: FunctionRef<(), ()> = FunctionRef::new("faasml.noop");

/// A registry with every workflow function.
pub fn registry() -> Registry {
    let mut registry = Registry::new();
    registry.register(NOOP, |(), _ctx| async { Ok(()) });
    ml_training::register(&mut registry);
    downpour::register(&mut registry);
    ml_inference::register(&mut registry);
    registry
}
