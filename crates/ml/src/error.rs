//! The crate's single error type, [`MlError`].
//!
//! Every fallible function in `faasml-ml` returns [`crate::Result`]; no
//! input-dependent path panics. Variants carry enough context to tell the
//! caller which argument or which part of a stored model is wrong.

use thiserror::Error;

/// Errors returned by fitting, prediction and model reconstruction.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Error)]
pub enum MlError {
    /// The input has no rows (or no columns) where at least one is required.
    #[error("empty input: {0}")]
    EmptyInput(String),
    /// Two inputs (or an input and a model) disagree about a dimension.
    #[error("shape mismatch in {what}: expected {expected}, got {got}")]
    ShapeMismatch {
        /// Which quantity mismatched (e.g. "number of features").
        what: String,
        /// The expected size.
        expected: usize,
        /// The size actually given.
        got: usize,
    },
    /// A hyperparameter is out of its valid range.
    #[error("invalid parameter `{name}`: {reason}")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
        /// Why the value was rejected.
        reason: String,
    },
    /// A class label is not below the declared number of classes.
    #[error("label {label} at row {row} is out of range for {n_classes} classes")]
    LabelOutOfRange {
        /// The offending label.
        label: u32,
        /// Row index of the offending label.
        row: usize,
        /// The declared number of classes.
        n_classes: usize,
    },
    /// A model was given a dataset whose targets are of the wrong kind
    /// (a classifier fitted on real-valued targets, say).
    #[error("{model} needs {expected} targets, the dataset has {got}")]
    TargetMismatch {
        /// The model or algorithm.
        model: &'static str,
        /// The kind of targets it needs.
        expected: &'static str,
        /// The kind of targets the dataset has.
        got: &'static str,
    },
    /// An algorithm name that [`crate::Algorithm`] does not know.
    #[error("unknown algorithm `{name}`; known algorithms: {known}")]
    UnknownAlgorithm {
        /// The name asked for.
        name: String,
        /// The known names, comma-separated.
        known: String,
    },
    /// A model rebuilt from stored parts is internally inconsistent.
    #[error("corrupt model: {0}")]
    CorruptModel(String),
    /// A numerical problem: NaN/inf input or a failed decomposition.
    #[error("numerical error: {0}")]
    Numerical(String),
    /// The participants of a data-parallel fit disagree, or one of them failed to contribute.
    #[error("collective operation failed: {0}")]
    Collective(String),
}
