//! [`Algorithm`]: every algorithm of the crate by name, with its settings,
//! fitting to and loading a boxed [`Model`].
//!
//! This is how callers choose an algorithm at run time (stacking's
//! trainers, the inference benchmark's algorithm axis, the MLlib examples):
//! from a name (`Algorithm::from_name("random-forest")`, default
//! settings) or from a config, since the enum is serde-tagged by
//! `algorithm` with each variant's settings flattened beside it:
//!
//! ```
//! # use faasml_ml::Algorithm;
//! let a: Algorithm =
//!     serde_json::from_str(r#"{"algorithm": "random-forest", "n_trees": 50}"#).unwrap();
//! assert_eq!(a.name(), "random-forest");
//! ```
//!
//! Settings not given take the algorithm's defaults; an unknown setting is
//! an error. A fitted model's [`Model::kind`] is its algorithm's name, and
//! [`Algorithm::load`] rebuilds any stored model from that kind. Adding an
//! algorithm is one module (hyperparameters with [`crate::Fit`], a model
//! with [`crate::Predict`] and [`crate::Persist`]) plus one variant here.

use serde::{Deserialize, Serialize};

use crate::forest::{
    RandomForest, RandomForestParams, RandomForestRegressor, RandomForestRegressorParams,
};
use crate::kmeans::{KMeans, KMeansParams};
use crate::linear::{
    ElasticNet, ElasticNetParams, Lasso, LassoParams, LinearSvc, LinearSvcParams, LinearSvr,
    LinearSvrParams, LogisticRegression, LogisticRegressionParams,
};
use crate::mixture::{GaussianMixture, GaussianMixtureModel, GaussianMixtureParams};
use crate::mlp::{Mlp, MlpTrainParams};
use crate::neighbors::{KnnRegressor, KnnRegressorParams};
use crate::pca::{PcaModel, PcaParams};
use crate::persist::{ModelTensors, Persist};
use crate::tree::{
    DecisionTree, DecisionTreeParams, DecisionTreeRegressor, DecisionTreeRegressorParams,
};
use crate::{Dataset, Fit, MlError, Model, Result};

/// An algorithm and its settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "algorithm", rename_all = "kebab-case")]
#[non_exhaustive]
pub enum Algorithm {
    /// Random forest classifier ([`RandomForest`]).
    RandomForest(RandomForestParams),
    /// Random forest regressor ([`RandomForestRegressor`]).
    RandomForestRegressor(RandomForestRegressorParams),
    /// Gini classification tree ([`DecisionTree`]).
    DecisionTree(DecisionTreeParams),
    /// Variance-reduction regression tree ([`DecisionTreeRegressor`]).
    DecisionTreeRegressor(DecisionTreeRegressorParams),
    /// Principal component analysis ([`PcaModel`]).
    Pca(PcaParams),
    /// Multilayer perceptron classifier trained by minibatch SGD ([`Mlp`]).
    Mlp(MlpTrainParams),
    /// L1-penalised least squares ([`Lasso`]).
    Lasso(LassoParams),
    /// L1 and L2-penalised least squares ([`ElasticNet`]).
    ElasticNet(ElasticNetParams),
    /// Linear epsilon-insensitive support vector regression ([`LinearSvr`]).
    LinearSvr(LinearSvrParams),
    /// k-nearest-neighbour regression ([`KnnRegressor`]).
    KnnRegressor(KnnRegressorParams),
    /// Binary L2-regularised logistic regression ([`LogisticRegression`]).
    LogisticRegression(LogisticRegressionParams),
    /// Linear support vector classifier, squared hinge ([`LinearSvc`]).
    LinearSvc(LinearSvcParams),
    /// k-means clustering ([`KMeans`]).
    #[serde(rename = "k-means")]
    KMeans(KMeansParams),
    /// Gaussian mixture with full covariances, fitted by EM
    /// ([`GaussianMixtureModel`]); a soft clustering that ignores targets
    /// and predicts component probabilities.
    GaussianMixture(GaussianMixtureParams),
}

/// What an algorithm learns, and so which targets it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Task {
    /// Class targets; predicts class probabilities.
    Classification,
    /// Real-valued targets; predicts real values.
    Regression,
    /// Any targets (ignored); predicts a new representation (PCA's
    /// projections).
    Transform,
    /// Any targets (ignored); predicts cluster membership as a
    /// [`crate::Prediction::Proba`] row, one column per cluster: one-hot for
    /// k-means, component probabilities for a Gaussian mixture.
    Clustering,
}

/// The known names, in the order of the variants.
const NAMES: [&str; 14] = [
    RandomForest::KIND,
    RandomForestRegressor::KIND,
    DecisionTree::KIND,
    DecisionTreeRegressor::KIND,
    PcaModel::KIND,
    Mlp::KIND,
    Lasso::KIND,
    ElasticNet::KIND,
    LinearSvr::KIND,
    KnnRegressor::KIND,
    LogisticRegression::KIND,
    LinearSvc::KIND,
    KMeans::KIND,
    GaussianMixtureModel::KIND,
];

impl Algorithm {
    /// Every algorithm name, as [`Algorithm::from_name`] accepts it.
    pub fn names() -> &'static [&'static str] {
        &NAMES
    }

    /// The algorithm called `name`, with default settings; an unknown name
    /// is [`MlError::UnknownAlgorithm`], which lists the known ones.
    pub fn from_name(name: &str) -> Result<Self> {
        Ok(match name {
            n if n == RandomForest::KIND => Algorithm::RandomForest(RandomForest::params()),
            n if n == RandomForestRegressor::KIND => {
                Algorithm::RandomForestRegressor(RandomForestRegressor::params())
            }
            n if n == DecisionTree::KIND => Algorithm::DecisionTree(DecisionTree::params()),
            n if n == DecisionTreeRegressor::KIND => {
                Algorithm::DecisionTreeRegressor(DecisionTreeRegressor::params())
            }
            n if n == PcaModel::KIND => Algorithm::Pca(crate::pca::Pca::params()),
            n if n == Mlp::KIND => Algorithm::Mlp(Mlp::train_params()),
            n if n == Lasso::KIND => Algorithm::Lasso(Lasso::params()),
            n if n == ElasticNet::KIND => Algorithm::ElasticNet(ElasticNet::params()),
            n if n == LinearSvr::KIND => Algorithm::LinearSvr(LinearSvr::params()),
            n if n == KnnRegressor::KIND => Algorithm::KnnRegressor(KnnRegressor::params()),
            n if n == LogisticRegression::KIND => {
                Algorithm::LogisticRegression(LogisticRegression::params())
            }
            n if n == LinearSvc::KIND => Algorithm::LinearSvc(LinearSvc::params()),
            n if n == KMeans::KIND => Algorithm::KMeans(KMeans::params()),
            n if n == GaussianMixtureModel::KIND => {
                Algorithm::GaussianMixture(GaussianMixture::params())
            }
            _ => {
                return Err(MlError::UnknownAlgorithm {
                    name: name.into(),
                    known: NAMES.join(", "),
                });
            }
        })
    }

    /// The algorithm's name (also the [`Model::kind`] of what it fits).
    pub fn name(&self) -> &'static str {
        match self {
            Algorithm::RandomForest(_) => RandomForest::KIND,
            Algorithm::RandomForestRegressor(_) => RandomForestRegressor::KIND,
            Algorithm::DecisionTree(_) => DecisionTree::KIND,
            Algorithm::DecisionTreeRegressor(_) => DecisionTreeRegressor::KIND,
            Algorithm::Pca(_) => PcaModel::KIND,
            Algorithm::Mlp(_) => Mlp::KIND,
            Algorithm::Lasso(_) => Lasso::KIND,
            Algorithm::ElasticNet(_) => ElasticNet::KIND,
            Algorithm::LinearSvr(_) => LinearSvr::KIND,
            Algorithm::KnnRegressor(_) => KnnRegressor::KIND,
            Algorithm::LogisticRegression(_) => LogisticRegression::KIND,
            Algorithm::LinearSvc(_) => LinearSvc::KIND,
            Algorithm::KMeans(_) => KMeans::KIND,
            Algorithm::GaussianMixture(_) => GaussianMixtureModel::KIND,
        }
    }

    /// What the algorithm learns.
    pub fn task(&self) -> Task {
        match self {
            Algorithm::RandomForest(_)
            | Algorithm::DecisionTree(_)
            | Algorithm::Mlp(_)
            | Algorithm::LogisticRegression(_)
            | Algorithm::LinearSvc(_) => Task::Classification,
            Algorithm::RandomForestRegressor(_)
            | Algorithm::DecisionTreeRegressor(_)
            | Algorithm::Lasso(_)
            | Algorithm::ElasticNet(_)
            | Algorithm::LinearSvr(_)
            | Algorithm::KnnRegressor(_) => Task::Regression,
            Algorithm::Pca(_) => Task::Transform,
            Algorithm::KMeans(_) | Algorithm::GaussianMixture(_) => Task::Clustering,
        }
    }

    /// Validates the settings without fitting (what [`Self::fit`] checks first).
    pub fn check(&self) -> Result<()> {
        match self {
            Algorithm::RandomForest(p) => p.clone().check().map(drop),
            Algorithm::RandomForestRegressor(p) => p.clone().check().map(drop),
            Algorithm::DecisionTree(p) => p.clone().check().map(drop),
            Algorithm::DecisionTreeRegressor(p) => p.clone().check().map(drop),
            Algorithm::Pca(p) => p.clone().check().map(drop),
            Algorithm::Mlp(p) => p.clone().check().map(drop),
            Algorithm::Lasso(p) => p.clone().check().map(drop),
            Algorithm::ElasticNet(p) => p.clone().check().map(drop),
            Algorithm::LinearSvr(p) => p.clone().check().map(drop),
            Algorithm::KnnRegressor(p) => p.clone().check().map(drop),
            Algorithm::LogisticRegression(p) => p.clone().check().map(drop),
            Algorithm::LinearSvc(p) => p.clone().check().map(drop),
            Algorithm::KMeans(p) => p.clone().check().map(drop),
            Algorithm::GaussianMixture(p) => p.clone().check().map(drop),
        }
    }

    /// Checks the settings and fits the algorithm on `data`.
    pub fn fit(&self, data: &Dataset) -> Result<Box<dyn Model>> {
        // `Fit::fit` spelled out: some params keep an inherent `fit` of
        // their own (a matrix and labels) under the same name.
        fn boxed<F: Fit>(params: Result<F>, data: &Dataset) -> Result<Box<dyn Model>>
        where
            F::Model: Model + 'static,
        {
            Ok(Box::new(Fit::fit(&params?, data)?))
        }
        match self {
            Algorithm::RandomForest(p) => boxed(p.clone().check(), data),
            Algorithm::RandomForestRegressor(p) => boxed(p.clone().check(), data),
            Algorithm::DecisionTree(p) => boxed(p.clone().check(), data),
            Algorithm::DecisionTreeRegressor(p) => boxed(p.clone().check(), data),
            Algorithm::Pca(p) => boxed(p.clone().check(), data),
            Algorithm::Mlp(p) => boxed(p.clone().check(), data),
            Algorithm::Lasso(p) => boxed(p.clone().check(), data),
            Algorithm::ElasticNet(p) => boxed(p.clone().check(), data),
            Algorithm::LinearSvr(p) => boxed(p.clone().check(), data),
            Algorithm::KnnRegressor(p) => boxed(p.clone().check(), data),
            Algorithm::LogisticRegression(p) => boxed(p.clone().check(), data),
            Algorithm::LinearSvc(p) => boxed(p.clone().check(), data),
            Algorithm::KMeans(p) => boxed(p.clone().check(), data),
            Algorithm::GaussianMixture(p) => boxed(p.clone().check(), data),
        }
    }

    /// Rebuilds a stored model of any known kind (from `meta["kind"]`); a
    /// missing or unknown kind, or a corrupt model, is [`MlError::CorruptModel`].
    pub fn load(t: &ModelTensors) -> Result<Box<dyn Model>> {
        fn boxed<M: Model + Persist + 'static>(t: &ModelTensors) -> Result<Box<dyn Model>> {
            Ok(Box::new(M::from_tensors(t)?))
        }
        match t.kind() {
            Some(RandomForest::KIND) => boxed::<RandomForest>(t),
            Some(RandomForestRegressor::KIND) => boxed::<RandomForestRegressor>(t),
            Some(DecisionTree::KIND) => boxed::<DecisionTree>(t),
            Some(DecisionTreeRegressor::KIND) => boxed::<DecisionTreeRegressor>(t),
            Some(PcaModel::KIND) => boxed::<PcaModel>(t),
            Some(Mlp::KIND) => boxed::<Mlp>(t),
            Some(Lasso::KIND) => boxed::<Lasso>(t),
            Some(ElasticNet::KIND) => boxed::<ElasticNet>(t),
            Some(LinearSvr::KIND) => boxed::<LinearSvr>(t),
            Some(KnnRegressor::KIND) => boxed::<KnnRegressor>(t),
            Some(LogisticRegression::KIND) => boxed::<LogisticRegression>(t),
            Some(LinearSvc::KIND) => boxed::<LinearSvc>(t),
            Some(KMeans::KIND) => boxed::<KMeans>(t),
            Some(GaussianMixtureModel::KIND) => boxed::<GaussianMixtureModel>(t),
            Some(other) => Err(MlError::CorruptModel(format!(
                "unknown model kind `{other}`; known kinds: {}",
                NAMES.join(", ")
            ))),
            None => Err(MlError::CorruptModel(
                "the model has no `kind` metadata".into(),
            )),
        }
    }
}
