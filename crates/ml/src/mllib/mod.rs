//! Spark MLlib's examples with Spark's settings and outputs, written so that a driver can run
//! them data-parallel over `W` functions.
//!
//! Each algorithm is split into what a worker computes on its shard of the rows and what the
//! driver does with the sum of those parts; the parts combine by addition, so the result does
//! not depend on how the rows were sharded (up to the rounding of the sums):
//!
//! - [`kmeans`]: Spark's `KMeans` (k-means++ seeding, Lloyd iterations that stop when no centre
//!   moves more than `tol`); a Lloyd step is [`LloydSums`] per shard (points and counts per
//!   cluster, cost), added up, then [`KMeansValidParams::step`] on the driver.
//! - [`silhouette`](mod@silhouette): Spark's `ClusteringEvaluator` silhouette with squared Euclidean distance,
//!   from per-cluster sums ([`ClusterStats`], additive) and a per-row pass.
//! - [`linear_regression`]: Spark's `LinearRegression` with elastic net and
//!   `standardization=true`, fitted from [`SufficientStats`] (additive per-shard `n`, `Σx`,
//!   `Σy`, `XᵀX`, `Xᵀy`, `Σy²`) by the crate's one coordinate-descent core on the Gram matrix
//!   ([`crate::linear::coordinate_descent`]); its training RMSE and r2 come from the same
//!   statistics.
//! - [`categorical`]: Spark's `VectorIndexer(maxCategories)` detection of categorical features
//!   and, for binary labels, Breiman's ordering of a feature's categories by their mean label.
//! - [`random_forest`]: Spark's `RandomForestClassifier` example (10 trees, depth 5, 32 bins,
//!   `sqrt` features per split) on [`crate::forest`], with categorical features split
//!   ordinally on Breiman's order; trees are seeded by their index, so a forest trained in
//!   parts (a share of the trees per function) is the forest trained at once.
//! - [`rows`]: dense `f64` rows ([`Rows`]), as Spark's vectors are doubles.
//! - [`split`]: Spark's `randomSplit`-style seeded Bernoulli train/test split.
//!
//! These reproduce Spark's *outputs* on its sample data (WSSSE, silhouette, RMSE, r2, test
//! error), not its random streams: Spark's `XORShiftRandom` draws, k-means|| and its partition
//! order are not reproduced, so a seeded split or seeding picks other rows than Spark's.

pub mod categorical;
pub mod kmeans;
pub mod linear_regression;
pub mod random_forest;
pub mod rows;
pub mod silhouette;
pub mod split;

pub use categorical::{BreimanOrder, CategoricalFeatures};
pub use kmeans::{Centers, KMeans, KMeansParams, KMeansValidParams, LloydSums};
pub use linear_regression::{
    LinearRegression, LinearRegressionParams, LinearRegressionValidParams, RegressionSummary,
    SufficientStats,
};
pub use random_forest::{
    ForestExample, ForestExampleParams, ForestExampleValidParams, PreparedSplit, class_labels,
    test_error,
};
pub use rows::Rows;
pub use silhouette::{ClusterStats, SilhouetteSum, silhouette};
pub use split::random_split;

#[cfg(test)]
pub(crate) mod samples;
