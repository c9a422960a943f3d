//! `text-train`: the offline training of the inference benchmark. The driver fans out one `fit`
//! per algorithm; each reads the labelled texts, holds out a split, fits the front (vectoriser or
//! encoder) and the head on the training rows, measures held-out accuracy (supervised
//! algorithms), and publishes front and head as one model, `models/<model>/<algorithm>.safetensors`.

use std::time::Instant;

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_ml::metrics;
use faasml_ml::text::VectorizerParams;
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use super::algorithms::{self, FeatureKind, TrainingSet};
use super::encoder;
use super::model::{Front, TextModel, TrainingFacts, predict_features};
use super::{TextColumns, load_texts, model_key, split_rows};
use crate::data;
use crate::error::{Result, WorkflowError};
use crate::kit::{BenchSpec, Metric, Workflow, persist};

/// The driver.
pub const DRIVER: FunctionRef<TextTrainParams, TextTrainResult> =
    FunctionRef::new("text-train.driver");
/// Fits and publishes one algorithm's model.
pub const FIT: FunctionRef<FitInput, FitOutput> = FunctionRef::new("text-train.fit");

/// The text-train workflow.
#[derive(Debug, Clone, Copy)]
pub struct TextTrain;

/// The parameters of a text-train run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct TextTrainParams {
    /// Algorithm(s) to train: a name, a comma-separated list, `classic` (the seed's six) or
    /// `all` (with the neural row, minilm).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().algorithm))]
    pub algorithm: String,
    /// Prefix of the labelled texts: CSV objects (gzip allowed). The bundled corpora are
    /// sentiment/vader, sentiment/rt and sentiment/crowdflower.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().data))]
    pub data: String,
    /// The CSV's text column.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().text_column))]
    pub text_column: String,
    /// The CSV's label column (integer classes).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().label_column))]
    pub label_column: String,
    /// Fraction of the rows held out for accuracy (0 holds out nothing).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().test_fraction))]
    pub test_fraction: f64,
    /// Seed of the split and of the models.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextTrainParams::default().seed))]
    pub seed: u64,
    /// Name of the published model (default: the data's last segment followed by -text, e.g.
    /// vader-text); each algorithm is one object in it.
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
}

impl Default for TextTrainParams {
    /// Logistic regression on the VADER sentiment corpus, 20% held out.
    fn default() -> Self {
        Self {
            algorithm: "logistic-regression".to_string(),
            data: super::DEFAULT_DATA.to_string(),
            text_column: "text".to_string(),
            label_column: "label".to_string(),
            test_fraction: 0.2,
            seed: 42,
            model: None,
        }
    }
}

impl TextTrainParams {
    /// The model name: the one given, or `<data's last segment>-text`.
    pub fn model_name(&self) -> String {
        data::model_name(&self.data, self.model.as_deref(), "text")
    }
}

/// Input of `fit`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitInput {
    /// The algorithm.
    pub algorithm: String,
    /// The data prefix.
    pub data: String,
    /// The columns.
    pub columns: TextColumns,
    /// Held-out fraction.
    pub test_fraction: f64,
    /// Seed.
    pub seed: u64,
    /// Where to publish.
    #[serde(with = "faasml_store::serde_path")]
    pub model_key: Path,
}

/// What `fit` reports.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FitOutput {
    /// The algorithm.
    pub algorithm: String,
    /// Where the model was published.
    pub model_key: String,
    /// Its size in the store.
    pub model_bytes: u64,
    /// What the model records about its training (rows, accuracy, vocabulary, fit time).
    pub facts: TrainingFacts,
}

/// What a text-train run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextTrainResult {
    /// The model name.
    pub model: String,
    /// One entry per algorithm, in the order asked.
    pub models: Vec<FitOutput>,
}

impl Workflow for TextTrain {
    const NAME: &'static str = "text-train";
    const ABOUT: &'static str = "Train the inference benchmark's text models (bag of words or \
                                 MiniLM + k-means, PCA, Gaussian mixture, logistic regression, \
                                 random forest, linear SVM) and publish each with its vectoriser.";
    type Params = TextTrainParams;
    type Output = TextTrainResult;
    const DRIVER: FunctionRef<TextTrainParams, TextTrainResult> = DRIVER;

    async fn drive(params: TextTrainParams, ctx: Ctx) -> Result<TextTrainResult> {
        let algorithms = algorithms::parse_list(&params.algorithm)?;
        let name = params.model_name();
        let inputs: Vec<FitInput> = algorithms
            .iter()
            .map(|a| FitInput {
                algorithm: a.name.to_string(),
                data: params.data.clone(),
                columns: TextColumns {
                    text: params.text_column.clone(),
                    label: params.label_column.clone(),
                },
                test_fraction: params.test_fraction,
                seed: params.seed,
                model_key: model_key(&name, a.name),
            })
            .collect();
        let models = ctx.map(FIT, inputs).await?;
        Ok(TextTrainResult {
            model: name,
            models,
        })
    }

    fn register(registry: &mut Registry) {
        registry.register(FIT, fit).publishes().long_running();
    }

    fn resolve(params: &mut TextTrainParams) {
        params.data = data::clean_prefix(&params.data);
        params.model = Some(params.model_name());
    }

    fn validate(params: &TextTrainParams) -> Result<()> {
        algorithms::parse_list(&params.algorithm)?;
        if !(0.0..=0.9).contains(&params.test_fraction) {
            return Err(WorkflowError::InvalidParams(format!(
                "test_fraction must be in 0..=0.9, not {}",
                params.test_fraction
            )));
        }
        if params.data.is_empty() {
            return Err(WorkflowError::InvalidParams(
                "the data prefix must not be empty".into(),
            ));
        }
        data::check_name("model", &params.model_name())
    }

    fn datasets(params: &TextTrainParams) -> Vec<String> {
        let mut sets = vec![params.data.clone()];
        if algorithms::parse_list(&params.algorithm)
            .is_ok_and(|list| list.iter().any(|a| a.features == FeatureKind::Embedding))
        {
            sets.push(encoder::DATA_PREFIX.to_string());
        }
        sets
    }

    fn model(params: &TextTrainParams) -> Option<String> {
        Some(params.model_name())
    }

    fn expected_invocations(params: &TextTrainParams) -> Option<u64> {
        algorithms::parse_list(&params.algorithm)
            .ok()
            .map(|l| l.len() as u64 + 1)
    }

    fn summary(_params: &TextTrainParams, result: &TextTrainResult) -> String {
        let mut out = format!(
            "{:<20} {:>9} {:>8} {:>7} {:>9} {:>8} {:>9}\n",
            "algorithm", "accuracy", "train", "test", "features", "fit s", "model"
        );
        for m in &result.models {
            let f = &m.facts;
            out.push_str(&format!(
                "{:<20} {:>9} {:>8} {:>7} {:>9} {:>8.2} {:>9}\n",
                m.algorithm,
                f.accuracy.map_or("-".to_string(), |a| format!("{a:.4}")),
                f.n_train,
                f.n_test,
                f.n_features,
                f.fit_seconds,
                human_bytes(m.model_bytes),
            ));
        }
        out.push_str(&format!(
            "published under models/{}/ (one object per algorithm)",
            result.model
        ));
        out
    }

    fn bench() -> BenchSpec<TextTrainResult> {
        BenchSpec {
            metrics: vec![Metric {
                name: "accuracy",
                unit: "",
                value: |r| r.models.first().and_then(|m| m.facts.accuracy),
            }],
            ..BenchSpec::basic()
        }
    }
}

fn human_bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64)
    } else {
        format!("{:.1} KiB", n as f64 / 1024.0)
    }
}

/// The `fit` stage.
async fn fit(input: FitInput, ctx: Ctx) -> Result<FitOutput> {
    let algorithm = algorithms::lookup(&input.algorithm)?;
    if !(0.0..=0.9).contains(&input.test_fraction) {
        return Err(WorkflowError::InvalidParams(format!(
            "test_fraction must be in 0..=0.9, not {}",
            input.test_fraction
        )));
    }
    let set = load_texts(ctx.store(), &input.data, &input.columns).await?;
    let n_classes = set
        .labels
        .iter()
        .map(|&l| l as usize + 1)
        .max()
        .unwrap_or(0);
    if algorithm.supervised && n_classes < 2 {
        return Err(WorkflowError::InvalidParams(format!(
            "'{}' has {} class(es) in column '{}': {} needs at least two",
            input.data, n_classes, input.columns.label, algorithm.name
        )));
    }
    let (train, test) = split_rows(set.texts.len(), input.test_fraction, input.seed);
    if train.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "'{}' has no training rows",
            input.data
        )));
    }
    let encoder = if algorithm.features == FeatureKind::Embedding {
        Some(encoder::load_from_store(&ctx).await?)
    } else {
        None
    };
    let seed = input.seed;
    let data_prefix = input.data.clone();
    let (model, elapsed) = ctx
        .compute(move || -> Result<(TextModel, f64)> {
            let started = Instant::now();
            let texts: Vec<&str> = set.texts.iter().map(String::as_str).collect();
            let pick = |rows: &[usize]| -> Vec<&str> { rows.iter().map(|&r| texts[r]).collect() };
            let train_texts = pick(&train);
            let train_labels: Vec<u32> = train.iter().map(|&r| set.labels[r]).collect();
            let front = match (algorithm.features, encoder) {
                (FeatureKind::Counts, _) => Front::Bag {
                    vectorizer: std::sync::Arc::new(VectorizerParams::default().fit(&train_texts)?),
                },
                (FeatureKind::TopCounts(n), _) => Front::Bag {
                    vectorizer: std::sync::Arc::new(
                        VectorizerParams::default()
                            .max_features(Some(n))
                            .fit(&train_texts)?,
                    ),
                },
                (FeatureKind::Embedding, Some(encoder)) => Front::Encoder(encoder),
                (FeatureKind::Embedding, None) => {
                    return Err(WorkflowError::InvalidParams(
                        "the sentence encoder is missing".into(),
                    ));
                }
            };
            let features = front.features(&train_texts)?;
            let head = (algorithm.fit)(&TrainingSet {
                features: &features,
                labels: &train_labels,
                n_classes,
                seed,
            })?;
            let accuracy = if algorithm.supervised && !test.is_empty() {
                let test_features = front.features(&pick(&test))?;
                let predicted = predict_features(head.as_ref(), &test_features)?
                    .classes()
                    .unwrap_or_default();
                let truth: Vec<u32> = test.iter().map(|&r| set.labels[r]).collect();
                Some(metrics::accuracy(&predicted, &truth))
            } else {
                None
            };
            let vocabulary = match &front {
                Front::Bag { vectorizer, .. } => vectorizer.n_features(),
                Front::Encoder(_) => 0,
            };
            let facts = TrainingFacts {
                dataset: data_prefix,
                n_train: train.len(),
                n_test: test.len(),
                n_classes,
                accuracy,
                vocabulary,
                n_features: front.n_features(),
                fit_seconds: 0.0,
            };
            let model = TextModel {
                algorithm,
                front,
                head,
                facts,
            };
            Ok((model, started.elapsed().as_secs_f64()))
        })
        .await
        .map_err(WorkflowError::Compute)??;
    let mut model = model;
    model.facts.fit_seconds = elapsed;
    let tensors = model.to_tensors()?;
    persist::put(ctx.store(), &input.model_key, tensors).await?;
    let model_bytes = ctx.store().head(&input.model_key).await?.size as u64;
    Ok(FitOutput {
        algorithm: algorithm.name.to_string(),
        model_key: input.model_key.to_string(),
        model_bytes,
        facts: model.facts,
    })
}
