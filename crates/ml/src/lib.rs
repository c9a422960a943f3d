//! `faasml-ml`: the numeric core of faasml — PCA, decision trees, random
//! forests, linear models, k-NN, k-means, a Gaussian mixture and an MLP behind one small
//! vocabulary — with no IO.
//!
//! # Vocabulary
//!
//! In the spirit of linfa's `Fit`/`Predict` over one dataset type:
//!
//! - [`Dataset`]: records (a row-major `f32` [`Matrix`]) and [`Targets`] —
//!   class labels (`u32`, any number of classes), real values, or none —
//!   validated on construction.
//! - Hyperparameters follow the linfa "param guard" style:
//!   `X::params()` returns unchecked, serde-able settings with builder
//!   methods; `.check()` validates them into `...ValidParams`, which
//!   implement [`Fit`] (`fit(&Dataset) -> Model`).
//! - Fitted models implement [`Predict`] (`predict(x) -> Prediction`:
//!   class probabilities, real values or transformed records) and
//!   [`Persist`] (the model as named plain tensors plus metadata,
//!   [`ModelTensors`], validated on the way back so a corrupt stored model
//!   is [`MlError::CorruptModel`], never a panic).
//! - [`Algorithm`]: every algorithm by name, serde-tagged, fitting to and
//!   loading a boxed [`Model`].
//!
//! ```
//! use faasml_ml::{Algorithm, Dataset, Matrix, Persist, Prediction};
//!
//! let x = Matrix::new(6, 1, vec![0., 1., 2., 10., 11., 12.])?;
//! let data = Dataset::classification(x.clone(), vec![0, 0, 0, 1, 1, 1], 2)?;
//! let config = r#"{"algorithm": "random-forest", "n_trees": 5, "min_samples_split": 2}"#;
//! let algorithm: Algorithm = serde_json::from_str(config).unwrap();
//! let model = algorithm.fit(&data)?;
//! let stored = model.to_tensors();
//! let loaded = Algorithm::load(&stored)?;
//! assert_eq!(loaded.kind(), "random-forest");
//! assert_eq!(loaded.predict(x.view())?.classes(), Some(vec![0, 0, 0, 1, 1, 1]));
//! # Ok::<(), faasml_ml::MlError>(())
//! ```
//!
//! This crate knows nothing about stores, HTTP, JSON or files; another
//! crate maps [`ModelTensors`] to its storage format.
//!
//! Parallelism uses the global rayon pool only; the host program sizes it.
//! Results never depend on the number of threads.
//!
//! # Modules
//!
//! - [`dataset`], [`model`] (the traits), [`persist`], [`algorithm`].
//! - [`pca`]: exact PCA via covariance + symmetric eigendecomposition (faer),
//!   with an exact top-k block Krylov solver when few components are kept.
//! - [`binning`]: per-feature quantile binning of `f32` to `u8`.
//! - [`tree`]: histogram-based trees over one shared grower, generic over
//!   the split criterion: Gini classification, variance-reduction
//!   regression, gradient/hessian boosting trees.
//! - [`forest`]: random forest classifier (soft voting) and regressor,
//!   with a branch-free lockstep traversal for prediction.
//! - [`linear`]: Lasso and elastic net (one coordinate-descent core),
//!   linear SVR (liblinear's dual coordinate descent) and binary logistic
//!   regression (Newton or L-BFGS), linear SVC (squared hinge, dual
//!   coordinate descent, one-vs-rest), matching scikit-learn's objectives.
//! - [`kmeans`]: k-means clustering (greedy k-means++ seeding, Lloyd
//!   iterations, best of several starts).
//! - [`mllib`]: Spark MLlib's examples with Spark's settings and outputs (k-means and its
//!   silhouette, elastic-net linear regression, a random forest over categorical features),
//!   split into additive per-shard parts for a data-parallel driver.
//! - [`mixture`]: Gaussian mixture with full covariances, fitted by EM
//!   (scikit-learn's `GaussianMixture`).
//! - [`neighbors`]: brute-force k-nearest-neighbour regression over a
//!   blocked GEMM.
//! - [`folds`]: scikit-learn's unshuffled KFold / StratifiedKFold;
//!   [`model_selection`]: out-of-fold scores (`cross_val_predict`).
//! - [`metrics`]: accuracy, confusion matrix, R², mean squared error, ROC-AUC.
//! - [`mlp`]: multilayer perceptron with flat parameters for Downpour SGD.
//! - [`synthetic`]: scikit-learn-style synthetic datasets.
//! - [`sparse`]: compressed sparse rows ([`CsrMatrix`]) for bag-of-words features.
//! - [`text`]: a bag-of-words vectoriser (scikit-learn's `CountVectorizer` with English stop
//!   words, TF-IDF optional) from texts to a [`CsrMatrix`].
//! - [`bert`]: sentence embeddings (all-MiniLM-L6-v2): WordPiece tokenizer and BERT encoder.

pub mod algorithm;
pub mod bert;
pub mod binning;
pub mod dataset;
mod eigen;
mod error;
pub mod folds;
pub mod forest;
pub mod gbdt;
pub mod kmeans;
pub mod linear;
mod matrix;
pub mod metrics;
pub mod mixture;
pub mod mllib;
pub mod mlp;
pub mod model;
pub mod model_selection;
pub mod neighbors;
pub mod pca;
pub mod persist;
pub mod sparse;
pub mod synthetic;
pub mod text;
pub mod tree;

pub use algorithm::{Algorithm, Task};
pub use dataset::{Dataset, Targets};
pub use error::MlError;
pub use matrix::{Matrix, MatrixView};
pub use model::{Fit, Model, Predict, Prediction};
pub use persist::{ModelTensors, Persist, Tensor, TensorData};
pub use sparse::{CsrMatrix, SparseRow};

/// Result type used throughout the crate.
pub type Result<T> = std::result::Result<T, MlError>;
