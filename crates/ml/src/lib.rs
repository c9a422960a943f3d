//! `faasml-ml`: PCA, decision trees and random forests — the numeric core of
//! faasml, with no IO.
//!
//! This crate knows nothing about stores, HTTP, JSON or files. It takes
//! dense row-major `f32` matrices ([`Matrix`] / [`MatrixView`]) and `u8`
//! class labels, and returns fitted models whose state can be taken apart
//! into plain vectors ([`pca::PcaModel`]'s accessors, [`forest::ForestParts`])
//! so that another crate can serialize them, and put back together with full
//! validation (`from_parts`), so a corrupt stored model yields
//! [`MlError::CorruptModel`] instead of a panic.
//!
//! Hyperparameters follow the linfa "param guard" style: `X::params()`
//! returns an unchecked builder, `.check()` validates it into a
//! `...ValidParams`, whose `fit` trains the model.
//!
//! Parallelism uses the global rayon pool only; the host program sizes it.
//! Results never depend on the number of threads.
//!
//! Modules:
//! - [`pca`]: exact PCA via covariance + symmetric eigendecomposition (faer),
//!   with an exact top-k block Krylov solver when few components are kept.
//! - [`binning`]: per-feature quantile binning of `f32` to `u8`.
//! - [`tree`]: histogram-based Gini decision trees.
//! - [`forest`]: random forest classifier (bagging + soft voting), with a
//!   branch-free lockstep traversal for prediction.
//! - [`metrics`]: accuracy and confusion matrix.
//! - [`mlp`]: multilayer perceptron with flat parameters for Downpour SGD.

pub mod binning;
mod eigen;
mod error;
pub mod forest;
mod matrix;
pub mod metrics;
pub mod mlp;
pub mod pca;
pub mod tree;

pub use error::MlError;
pub use matrix::{Matrix, MatrixView};

/// Result type used throughout the crate.
pub type Result<T> = std::result::Result<T, MlError>;
