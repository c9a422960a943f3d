//! The text algorithms, one entry each: what features the model reads and the one function that
//! fits it. This table is the whole extension story of the inference benchmark (the seed's "copy
//! a function folder"): **adding an algorithm is one `fit_*` function plus one entry in
//! [`ALGORITHMS`]**. `text-train --algorithm <name>` trains and publishes it, `text-inference`
//! gets a function `text-inference.<name>`, `faasml bench inference` and `faasml deploy lambda`
//! include it, and loading needs nothing new: a fitted head is any `faasml-ml` model, loaded by
//! its kind.
//!
//! The settings are the seed's as its issue states them, scikit-learn's defaults otherwise:
//! k-means 3 clusters, logistic regression (C 1) and a linear SVM (C 1) on the word counts of the
//! whole vocabulary; PCA 2 components and a full-covariance Gaussian mixture of 2 components on
//! the counts of the 3,000 most frequent words; a random forest of 100 trees, here on the top
//! 3,000 words too (dense rows for the trees; `bench/inference_sklearn.py` gives the peer the same
//! features); and — the neural row — a logistic regression on all-MiniLM-L6-v2 sentence
//! embeddings. Every bag-of-words front gives sparse rows.

use faasml_ml::forest::RandomForest;
use faasml_ml::kmeans::KMeans;
use faasml_ml::linear::{LinearSvc, LogisticRegression};
use faasml_ml::mixture::GaussianMixture;
use faasml_ml::pca::Pca;
use faasml_ml::{CsrMatrix, Dataset, Fit, Matrix, Model};

use crate::error::{Result, WorkflowError};

/// What a model reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeatureKind {
    /// Word counts over the whole vocabulary, sparse rows (CSR).
    Counts,
    /// Word counts of the `n` most frequent words of the training texts, sparse rows; a model
    /// that reads dense rows (PCA's fit, the forest) densifies them, as scikit-learn's seed
    /// models read `toarray()`.
    TopCounts(usize),
    /// all-MiniLM-L6-v2 sentence embeddings (384 dense values per text).
    Embedding,
}

/// The features of a batch of texts, as a model reads them.
#[derive(Debug, Clone)]
pub enum Features {
    /// Sparse rows.
    Sparse(CsrMatrix),
    /// Dense rows.
    Dense(Matrix),
}

impl Features {
    /// Number of rows.
    pub fn n_rows(&self) -> usize {
        match self {
            Features::Sparse(m) => m.n_rows(),
            Features::Dense(m) => m.rows(),
        }
    }

    /// The rows at `rows`, in that order.
    pub fn select_rows(&self, rows: &[usize]) -> Features {
        match self {
            Features::Sparse(m) => Features::Sparse(m.select_rows(rows)),
            Features::Dense(m) => {
                let cols = m.cols();
                let mut data = Vec::with_capacity(rows.len() * cols);
                for &r in rows {
                    data.extend_from_slice(m.row(r));
                }
                Features::Dense(Matrix::new(rows.len(), cols, data).unwrap_or(Matrix::zeros(0, 0)))
            }
        }
    }
}

/// What a fit function gets: the training features, their labels and the number of classes.
#[derive(Debug)]
pub struct TrainingSet<'a> {
    /// The features.
    pub features: &'a Features,
    /// One class label per row.
    pub labels: &'a [u32],
    /// Number of classes (`labels` are below it).
    pub n_classes: usize,
    /// The run's seed.
    pub seed: u64,
}

/// One algorithm of the inference benchmark.
#[derive(Debug)]
pub struct TextAlgorithm {
    /// Its name on the command line and in model objects (`<name>.safetensors`).
    pub name: &'static str,
    /// Its inference function, `text-inference.<name>`.
    pub function: &'static str,
    /// One line for help texts.
    pub about: &'static str,
    /// What it reads.
    pub features: FeatureKind,
    /// Whether it learns from the labels (and so reports held-out accuracy).
    pub supervised: bool,
    /// The memory its inference function needs, MB (measured with `faasml bench inference` on
    /// the VADER models: the smallest Lambda size it runs in); the deployment manifests' default.
    pub memory_mb: u32,
    /// Fits the model.
    pub fit: fn(&TrainingSet<'_>) -> Result<Box<dyn Model>>,
}

/// Every algorithm, in the order benchmarks list them.
pub static ALGORITHMS: [TextAlgorithm; 7] = [
    TextAlgorithm {
        name: "k-means",
        function: "text-inference.k-means",
        memory_mb: 128,
        about: "k-means, 3 clusters, on the word counts",
        features: FeatureKind::Counts,
        supervised: false,
        fit: fit_k_means,
    },
    TextAlgorithm {
        name: "pca",
        function: "text-inference.pca",
        memory_mb: 128,
        about: "PCA, 2 components, on the counts of the top 3,000 words",
        features: FeatureKind::TopCounts(3000),
        supervised: false,
        fit: fit_pca,
    },
    TextAlgorithm {
        name: "gaussian-mixture",
        function: "text-inference.gaussian-mixture",
        memory_mb: 512,
        about: "Gaussian mixture, 2 full-covariance components, on the counts of the top 3,000 words",
        features: FeatureKind::TopCounts(3000),
        supervised: false,
        fit: fit_gaussian_mixture,
    },
    TextAlgorithm {
        name: "logistic-regression",
        function: "text-inference.logistic-regression",
        memory_mb: 128,
        about: "logistic regression (L2, C 1) on the word counts",
        features: FeatureKind::Counts,
        supervised: true,
        fit: fit_logistic_regression,
    },
    TextAlgorithm {
        name: "random-forest",
        function: "text-inference.random-forest",
        memory_mb: 128,
        about: "random forest, 100 trees, on the counts of the top 3,000 words",
        features: FeatureKind::TopCounts(3000),
        supervised: true,
        fit: fit_random_forest,
    },
    TextAlgorithm {
        name: "linear-svm",
        function: "text-inference.linear-svm",
        memory_mb: 128,
        about: "linear SVM (squared hinge, C 1) on the word counts",
        features: FeatureKind::Counts,
        supervised: true,
        fit: fit_linear_svm,
    },
    TextAlgorithm {
        name: "minilm",
        function: "text-inference.minilm",
        memory_mb: 512,
        about: "logistic regression on all-MiniLM-L6-v2 sentence embeddings (the neural row)",
        features: FeatureKind::Embedding,
        supervised: true,
        fit: fit_logistic_regression,
    },
];

/// The six classic algorithms of the seed (every one but the neural row).
pub fn classic() -> impl Iterator<Item = &'static TextAlgorithm> {
    ALGORITHMS
        .iter()
        .filter(|a| a.features != FeatureKind::Embedding)
}

/// The algorithm called `name`; an unknown name is an error listing the known ones.
pub fn lookup(name: &str) -> Result<&'static TextAlgorithm> {
    ALGORITHMS.iter().find(|a| a.name == name).ok_or_else(|| {
        WorkflowError::InvalidParams(format!(
            "unknown algorithm '{name}'; known: {} (or all)",
            names()
        ))
    })
}

/// The known names, comma-separated.
pub fn names() -> String {
    ALGORITHMS
        .iter()
        .map(|a| a.name)
        .collect::<Vec<_>>()
        .join(", ")
}

/// The algorithms a `--algorithm` value names: one name, a comma-separated list, `all` (every
/// one) or `classic` (the six of the seed).
pub fn parse_list(value: &str) -> Result<Vec<&'static TextAlgorithm>> {
    let mut out: Vec<&'static TextAlgorithm> = Vec::new();
    for name in value.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let add: Vec<&'static TextAlgorithm> = match name {
            "all" => ALGORITHMS.iter().collect(),
            "classic" => classic().collect(),
            _ => vec![lookup(name)?],
        };
        for a in add {
            if !out.iter().any(|o| o.name == a.name) {
                out.push(a);
            }
        }
    }
    if out.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "no algorithm given; known: {} (or all)",
            names()
        )));
    }
    Ok(out)
}

/// The training rows as a dense matrix (a copy when they are sparse).
fn dense(set: &TrainingSet<'_>) -> Matrix {
    match set.features {
        Features::Dense(m) => m.clone(),
        Features::Sparse(x) => x.to_dense(),
    }
}

fn fit_k_means(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    // scikit-learn's KMeans(n_clusters=3): k-means++ and, since 1.4, one start (n_init "auto").
    let params = KMeans::params().k(3).n_init(1).seed(set.seed).check()?;
    let model = match set.features {
        Features::Sparse(x) => params.fit_sparse(x)?,
        Features::Dense(x) => params.fit(&Dataset::unsupervised(x.clone())?)?,
    };
    Ok(Box::new(model))
}

fn fit_pca(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    let params = Pca::params().n_components(2).check()?;
    let model = Fit::fit(&params, &Dataset::unsupervised(dense(set))?)?;
    Ok(Box::new(model))
}

fn fit_gaussian_mixture(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    let params = GaussianMixture::params()
        .n_components(2)
        .seed(set.seed)
        .check()?;
    let model = match set.features {
        Features::Sparse(x) => params.fit_sparse(x)?,
        Features::Dense(x) => Fit::fit(&params, &Dataset::unsupervised(x.clone())?)?,
    };
    Ok(Box::new(model))
}

fn fit_logistic_regression(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    let params = LogisticRegression::params().c(1.0).check()?;
    let model = match set.features {
        Features::Sparse(x) => params.fit_sparse(x, set.labels, set.n_classes)?,
        Features::Dense(x) => params.fit(&Dataset::classification(
            x.clone(),
            set.labels.to_vec(),
            set.n_classes,
        )?)?,
    };
    Ok(Box::new(model))
}

fn fit_random_forest(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    // scikit-learn's RandomForestClassifier(n_estimators=100): sqrt(features) per split,
    // bootstrap, grown until pure (here to depth 64, the kit's limit) from 2 samples.
    let params = RandomForest::params()
        .n_trees(100)
        .max_depth(crate::kit::limits::DEPTH)
        .min_samples_split(2)
        .seed(set.seed)
        .check()?;
    let data = Dataset::classification(dense(set), set.labels.to_vec(), set.n_classes)?;
    let model = Fit::fit(&params, &data)?;
    Ok(Box::new(model))
}

fn fit_linear_svm(set: &TrainingSet<'_>) -> Result<Box<dyn Model>> {
    let params = LinearSvc::params().c(1.0).seed(set.seed).check()?;
    let model = match set.features {
        Features::Sparse(x) => params.fit_sparse(x, set.labels, set.n_classes)?,
        Features::Dense(x) => params.fit(&Dataset::classification(
            x.clone(),
            set.labels.to_vec(),
            set.n_classes,
        )?)?,
    };
    Ok(Box::new(model))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_parse_with_all_classic_and_unknown_names() {
        let names =
            |v: &str| -> Vec<&str> { parse_list(v).unwrap().iter().map(|a| a.name).collect() };
        assert_eq!(names("pca"), ["pca"]);
        assert_eq!(names("pca,k-means,pca"), ["pca", "k-means"]);
        assert_eq!(names("all").len(), ALGORITHMS.len());
        assert!(!names("classic").contains(&"minilm"));
        assert_eq!(names("classic").len(), 6);
        let e = parse_list("svm").unwrap_err().to_string();
        assert!(e.contains("'svm'") && e.contains("linear-svm"), "{e}");
        assert!(parse_list(" , ").is_err());
    }
}
