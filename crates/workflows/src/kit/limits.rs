//! Limits on the parameters that scale a run's work and memory.
//!
//! A request to a worker is untrusted input: one with `max_epochs` of 10^12, a billion trees or
//! a hidden layer of 10^9 units would hold a worker's memory or CPU for as long as it likes.
//! Every workflow checks its size knobs against these limits where its parameters enter (the
//! driver, through [`crate::Workflow::validate`]) **and** every stage checks the knobs of its
//! own input, since a stage can be invoked directly. The limits are far above any real use of
//! the bundled workflows (the largest documented runs use 100 trees, 50 forests, 100 epochs);
//! the error names the limit, so a user who needs more knows what to change.

use crate::error::{Result, WorkflowError};

/// Trees in one forest.
pub const TREES: usize = 10_000;
/// Depth of a tree.
pub const DEPTH: usize = 64;
/// Forests (rf functions) of one run.
pub const FORESTS: usize = 1_024;
/// PCA functions of one run.
pub const PCA_FUNCTIONS: usize = 256;
/// PCA components.
pub const COMPONENTS: usize = 4_096;
/// Trees of a whole run (trees per forest x forests).
pub const TOTAL_TREES: usize = 200_000;
/// Epochs of a training run.
pub const EPOCHS: usize = 10_000;
/// Evaluations per epoch.
pub const EVALS_PER_EPOCH: usize = 1_000;
/// Evaluation segments of a run (epochs x evaluations per epoch): each has a record.
pub const SEGMENTS: usize = 100_000;
/// Parallel workers (functions) of one run.
pub const WORKERS: usize = 256;
/// Units of one hidden layer.
pub const LAYER_WIDTH: usize = 65_536;
/// Parameters of a network (f32s: 800 MB).
pub const NETWORK_PARAMS: usize = 200_000_000;
/// Samples or images in one batch.
pub const BATCH: usize = 1_000_000;

/// Iterations of an iterative solver (coordinate descent, L-BFGS).
pub const ITERATIONS: usize = 1_000_000;
/// Rows of a generated dataset.
pub const SAMPLES: usize = 10_000_000;
/// Features of a generated dataset.
pub const FEATURES: usize = 1_000_000;
/// Values of a generated dataset (rows x features: 2 GB of f32).
pub const CELLS: usize = 500_000_000;
/// Cross-validation folds.
pub const FOLDS: usize = 100;

/// Fails unless `value` is at most `max`; the message names the parameter and the limit.
pub fn at_most(what: &str, value: usize, max: usize) -> Result<()> {
    if value > max {
        return Err(WorkflowError::InvalidParams(format!(
            "{what} is {value}, above the limit of {max} (limits bound the work one request \
             can ask of a worker; see faasml_workflows::kit::limits)"
        )));
    }
    Ok(())
}

/// `a * b`, or a limit error naming `what` when it overflows or exceeds `max`.
pub fn product_at_most(what: &str, a: usize, b: usize, max: usize) -> Result<()> {
    match a.checked_mul(b) {
        Some(product) => at_most(what, product, max),
        None => at_most(what, usize::MAX, max),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_parameter_and_the_limit() {
        assert!(at_most("trees", TREES, TREES).is_ok());
        let err = at_most("trees", TREES + 1, TREES).unwrap_err().to_string();
        assert!(
            err.contains("trees is 10001, above the limit of 10000"),
            "{err}"
        );
        let err = product_at_most("epochs x evals", usize::MAX, 2, SEGMENTS)
            .unwrap_err()
            .to_string();
        assert!(err.contains("above the limit of 100000"), "{err}");
    }
}
