//! `text-inference`: batches of texts through one algorithm's inference function, and the
//! functions themselves, `text-inference.<algorithm>` (one per entry of
//! [`super::algorithms::ALGORITHMS`]).
//!
//! A function instance loads its model (vectoriser or encoder + head, one object) from the store
//! on its first invocation — timed as initialisation — and keeps it in its `InstanceState` while
//! warm; every invocation then vectorises and predicts its batch — timed as processing — and
//! returns an [`InferenceRow`]: the seed's CSV row (message id, function, instance, batch size,
//! cold or warm, initialisation and processing start/end, duration, billed duration, memory size,
//! max memory used, CPU count). A warm instance checks every 30 s whether its model was
//! republished and reloads it if so.
//!
//! The driver plays the seed's publisher for one function: `--messages` batches of
//! `--batch-size` texts cut from the corpus's text column (wrapping around), sent one after the
//! other. `faasml bench inference` sends the same batches to confined worker processes.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faasml_core::{Ctx, FunctionRef, ProcessUsage, Registry, now_micros};
use faasml_store::Path;
use serde::{Deserialize, Serialize};

use super::algorithms::{self, ALGORITHMS, FeatureKind, TextAlgorithm};
use super::model::{TextModel, TextPrediction};
use super::{TextColumns, load_texts, model_key};
use crate::data;
use crate::error::{Result, WorkflowError};
use crate::kit::{BenchSpec, Metric, Workflow, limits, persist};

/// The driver.
pub const DRIVER: FunctionRef<TextInferenceParams, TextInferenceResult> =
    FunctionRef::new("text-inference.driver");

/// How long a warm instance trusts its loaded model before checking the store's version again.
pub const REVALIDATE_AFTER: Duration = Duration::from_secs(30);

/// Batches of at most this many texts are predicted on the invocation's own thread (see
/// [`infer`]); larger ones, and every batch of the neural row, on the compute pool.
pub const INLINE_BATCH: usize = 100;

/// The environment variable that tells an inference function its memory size in MB (set by
/// `faasml bench inference`; inside Lambda, `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` is read instead).
pub const MEMORY_ENV: &str = "FAASML_MEMORY_MB";

/// The environment variable naming the deployed function (`lambdaName`: Lambda's
/// `AWS_LAMBDA_FUNCTION_NAME` inside Lambda).
pub const LAMBDA_NAME_ENV: &str = "FAASML_LAMBDA_NAME";

/// The text-inference workflow.
#[derive(Debug, Clone, Copy)]
pub struct TextInference;

/// The parameters of a text-inference run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::Args))]
#[serde(default)]
pub struct TextInferenceParams {
    /// The algorithm whose function to invoke.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().algorithm))]
    pub algorithm: String,
    /// Name of the published model (default: the data's last segment followed by -text).
    #[cfg_attr(feature = "cli", arg(long))]
    pub model: Option<String>,
    /// Prefix of the texts the batches are cut from.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().data))]
    pub data: String,
    /// The CSV's text column.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().text_column))]
    pub text_column: String,
    /// The CSV's label column.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().label_column))]
    pub label_column: String,
    /// Texts per invocation.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().batch_size))]
    pub batch_size: usize,
    /// Batches to send, one after the other.
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().messages))]
    pub messages: usize,
    /// Row of the first text of the first batch (wraps around).
    #[cfg_attr(feature = "cli", arg(long, default_value_t = TextInferenceParams::default().offset))]
    pub offset: usize,
}

impl Default for TextInferenceParams {
    /// One batch of 100 VADER texts through the logistic-regression function.
    fn default() -> Self {
        Self {
            algorithm: "logistic-regression".to_string(),
            model: None,
            data: super::DEFAULT_DATA.to_string(),
            text_column: "text".to_string(),
            label_column: "label".to_string(),
            batch_size: 100,
            messages: 1,
            offset: 0,
        }
    }
}

impl TextInferenceParams {
    /// The model name: the one given, or `<data's last segment>-text`.
    pub fn model_name(&self) -> String {
        data::model_name(&self.data, self.model.as_deref(), "text")
    }
}

/// What an inference function receives: one message of the publisher.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferInput {
    /// The message's id (echoed in the row).
    #[serde(default, alias = "messageId")]
    pub message_id: String,
    /// The texts (an empty text is valid and predicts).
    pub texts: Vec<String>,
    /// The published model's name.
    pub model: String,
}

/// What an inference function returns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InferOutput {
    /// The predictions.
    pub prediction: TextPrediction,
    /// The invocation's measurements.
    pub row: InferenceRow,
}

/// One invocation's measurements, with the seed's CSV columns (times in milliseconds: instants
/// since the Unix epoch, durations as Lambda's REPORT lines give them).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InferenceRow {
    /// The message.
    pub message_id: String,
    /// The deployed function (`<function>-<memory>` in the bench, the Lambda name in Lambda).
    pub lambda_name: String,
    /// The faasml function.
    pub function_name: String,
    /// The instance that ran it.
    pub function_instance_id: String,
    /// Texts in the batch.
    pub batch_size: usize,
    /// Whether the instance was new.
    pub is_cold_start: bool,
    /// When the model load began (0 when nothing was loaded).
    pub initialization_start: f64,
    /// When the model load ended (0 when nothing was loaded).
    pub initialization_end: f64,
    /// When the batch's processing began.
    pub processing_start: f64,
    /// When it ended.
    pub processing_end: f64,
    /// Initialisation time: the model load here; on a cold row of `faasml bench inference` also
    /// the process start, as Lambda's Init Duration counts it.
    pub initialization_time: f64,
    /// Vectorising and predicting the batch.
    pub processing_time: f64,
    /// The handler's wall time (model load included on a cold instance).
    pub lambda_duration: f64,
    /// `lambdaDuration` rounded up to Lambda's 1 ms billing unit.
    pub lambda_billed_duration: u64,
    /// Memory size of the function, MB (0 when not confined or unknown).
    pub lambda_memory_size: u64,
    /// Peak resident memory of the instance's process, MB (rounded up;
    /// [`ProcessUsage::peak_rss_own_bytes`]).
    pub lambda_max_memory_used: u64,
    /// CPUs the process may use (cgroup quotas included).
    pub cpu_count: usize,
    /// Why the invocation failed (empty on success): e.g. Lambda's "Runtime exited with error:
    /// signal: killed" for a function killed for exceeding its memory.
    #[serde(default)]
    pub error: String,
}

impl InferenceRow {
    /// The CSV header, in the seed's order (plus `error`).
    pub const COLUMNS: [&'static str; 18] = [
        "messageId",
        "lambdaName",
        "functionName",
        "functionInstanceId",
        "batchSize",
        "isColdStart",
        "initializationStart",
        "initializationEnd",
        "processingStart",
        "processingEnd",
        "initializationTime",
        "processingTime",
        "lambdaDuration",
        "lambdaBilledDuration",
        "lambdaMemorySize",
        "lambdaMaxMemoryUsed",
        "cpuCount",
        "error",
    ];

    /// The row's cells in [`Self::COLUMNS`] order.
    pub fn cells(&self) -> Vec<String> {
        let ms = |v: f64| format!("{v:.3}");
        vec![
            self.message_id.clone(),
            self.lambda_name.clone(),
            self.function_name.clone(),
            self.function_instance_id.clone(),
            self.batch_size.to_string(),
            self.is_cold_start.to_string(),
            ms(self.initialization_start),
            ms(self.initialization_end),
            ms(self.processing_start),
            ms(self.processing_end),
            ms(self.initialization_time),
            ms(self.processing_time),
            ms(self.lambda_duration),
            self.lambda_billed_duration.to_string(),
            self.lambda_memory_size.to_string(),
            self.lambda_max_memory_used.to_string(),
            self.cpu_count.to_string(),
            self.error.clone(),
        ]
    }
}

/// Lambda's billed duration: the duration rounded up to the next millisecond.
pub fn billed_ms(duration_ms: f64) -> u64 {
    duration_ms.max(0.0).ceil() as u64
}

/// What a text-inference run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TextInferenceResult {
    /// The function invoked.
    pub function: String,
    /// The model object used.
    pub model_key: String,
    /// One row per message.
    pub rows: Vec<InferenceRow>,
    /// How many texts got each label (class, cluster or component), over all messages.
    pub label_counts: Vec<u64>,
    /// Accuracy against the corpus's labels (supervised models only).
    pub accuracy: Option<f64>,
}

/// The model an instance keeps while warm.
struct Loaded {
    key: String,
    version: String,
    checked: Instant,
    model: Arc<TextModel>,
}

/// The model for `key`, loaded unless this instance holds a current one; returns it and, when
/// it loaded, the load's start and end (microseconds since the epoch).
async fn model_for(ctx: &Ctx, key: &Path) -> Result<(Arc<TextModel>, Option<(u64, u64)>)> {
    let store = ctx.store();
    let kept = ctx.instance_state().get::<Loaded>();
    if let Some(kept) = &kept
        && kept.key == key.as_ref()
        && kept.checked.elapsed() < REVALIDATE_AFTER
    {
        return Ok((Arc::clone(&kept.model), None));
    }
    let version = store.version(key).await.map_err(|e| match e {
        faasml_store::StoreError::NotFound { .. } => WorkflowError::InvalidParams(format!(
            "no model at '{key}' in {}: run `faasml run text-train --algorithm ...` first",
            store.url()
        )),
        other => other.into(),
    })?;
    if let Some(kept) = kept
        && kept.key == key.as_ref()
        && kept.version == version
    {
        let model = Arc::clone(&kept.model);
        ctx.instance_state().insert(Arc::new(Loaded {
            key: kept.key.clone(),
            version,
            checked: Instant::now(),
            model: Arc::clone(&model),
        }));
        return Ok((model, None));
    }
    let start = now_micros();
    let tensors = persist::get(store, key).await?;
    let model = ctx
        .compute(move || TextModel::from_tensors(&tensors))
        .await
        .map_err(WorkflowError::Compute)?
        .map_err(|reason| persist::corrupt(store, key, reason))?;
    let model = Arc::new(model);
    let end = now_micros();
    ctx.instance_state().insert(Arc::new(Loaded {
        key: key.to_string(),
        version,
        checked: Instant::now(),
        model: Arc::clone(&model),
    }));
    Ok((model, Some((start, end))))
}

/// The memory size this function was given, MB (0 when unknown).
fn memory_size_mb() -> u64 {
    [MEMORY_ENV, "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"]
        .iter()
        .find_map(|v| std::env::var(v).ok()?.trim().parse().ok())
        .unwrap_or(0)
}

/// The deployed function's name: the Lambda function, else [`LAMBDA_NAME_ENV`], else the
/// faasml function.
fn lambda_name(function: &str) -> String {
    ["AWS_LAMBDA_FUNCTION_NAME", LAMBDA_NAME_ENV]
        .iter()
        .find_map(|v| std::env::var(v).ok().filter(|s| !s.is_empty()))
        .unwrap_or_else(|| function.to_string())
}

/// An inference function: `algorithm`'s model on one batch.
async fn infer(
    input: InferInput,
    ctx: Ctx,
    algorithm: &'static TextAlgorithm,
) -> Result<InferOutput> {
    let invoked = now_micros();
    limits::at_most("batch size", input.texts.len(), limits::BATCH)?;
    data::check_name("model", &input.model)?;
    let key = model_key(&input.model, algorithm.name);
    let (model, loaded) = model_for(&ctx, &key).await?;
    if model.algorithm.name != algorithm.name {
        return Err(WorkflowError::InvalidParams(format!(
            "'{key}' holds a {} model, not {}",
            model.algorithm.name, algorithm.name
        )));
    }
    let processing_start = now_micros();
    let batch_size = input.texts.len();
    let texts = input.texts;
    let inline = batch_size <= INLINE_BATCH && model.algorithm.features != FeatureKind::Embedding;
    let predict = move || {
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        model.predict(&refs)
    };
    // A short batch of a bag-of-words model takes microseconds: handing it to the compute pool
    // and back would cost more than the work (and, under a CPU quota, a thread wake-up).
    let prediction = if inline {
        predict()?
    } else {
        ctx.compute(predict)
            .await
            .map_err(WorkflowError::Compute)??
    };
    let processing_end = now_micros();
    let ms = |us: u64| us as f64 / 1000.0;
    let (init_start, init_end) = loaded.unwrap_or((0, 0));
    let duration = ms(processing_end.saturating_sub(invoked));
    let row = InferenceRow {
        message_id: input.message_id,
        lambda_name: lambda_name(ctx.function()),
        function_name: ctx.function().to_string(),
        function_instance_id: ctx.instance().to_string(),
        batch_size,
        is_cold_start: ctx.is_cold(),
        initialization_start: ms(init_start),
        initialization_end: ms(init_end),
        processing_start: ms(processing_start),
        processing_end: ms(processing_end),
        initialization_time: ms(init_end.saturating_sub(init_start)),
        processing_time: ms(processing_end.saturating_sub(processing_start)),
        lambda_duration: duration,
        lambda_billed_duration: billed_ms(duration),
        lambda_memory_size: memory_size_mb(),
        lambda_max_memory_used: ProcessUsage::peak_rss_own_bytes().div_ceil(1 << 20),
        cpu_count: std::thread::available_parallelism().map_or(1, |n| n.get()),
        error: String::new(),
    };
    Ok(InferOutput { prediction, row })
}

/// The batches the publisher sends: `messages` batches of `batch_size` texts from `offset`,
/// wrapping around the corpus.
pub fn batches(
    n_texts: usize,
    batch_size: usize,
    messages: usize,
    offset: usize,
) -> Vec<Vec<usize>> {
    if n_texts == 0 {
        return Vec::new();
    }
    let mut next = offset % n_texts;
    (0..messages)
        .map(|_| {
            (0..batch_size)
                .map(|_| {
                    let row = next;
                    next = (next + 1) % n_texts;
                    row
                })
                .collect()
        })
        .collect()
}

impl Workflow for TextInference {
    const NAME: &'static str = "text-inference";
    const ABOUT: &'static str = "Send batches of texts through one algorithm's inference \
                                 function (a model published by text-train) and report the \
                                 seed's per-invocation measurements.";
    type Params = TextInferenceParams;
    type Output = TextInferenceResult;
    const DRIVER: FunctionRef<TextInferenceParams, TextInferenceResult> = DRIVER;

    async fn drive(params: TextInferenceParams, ctx: Ctx) -> Result<TextInferenceResult> {
        let algorithm = algorithms::lookup(&params.algorithm)?;
        let name = params.model_name();
        let key = model_key(&name, algorithm.name);
        if !ctx.store().exists(&key).await? {
            return Err(WorkflowError::InvalidParams(format!(
                "no model '{key}' in {}; run `faasml run text-train --algorithm {} --data {}` \
                 first, or name the model with --model",
                ctx.store().url(),
                algorithm.name,
                params.data
            )));
        }
        let columns = TextColumns {
            text: params.text_column.clone(),
            label: params.label_column.clone(),
        };
        let set = load_texts(ctx.store(), &params.data, &columns).await?;
        if set.texts.is_empty() {
            return Err(WorkflowError::InvalidParams(format!(
                "'{}' holds no texts",
                params.data
            )));
        }
        let function: FunctionRef<InferInput, InferOutput> = FunctionRef::new(algorithm.function);
        let mut rows = Vec::new();
        let mut label_counts: Vec<u64> = Vec::new();
        let (mut right, mut judged) = (0usize, 0usize);
        let supervised = algorithm.supervised;
        for (m, batch) in batches(
            set.texts.len(),
            params.batch_size,
            params.messages,
            params.offset,
        )
        .into_iter()
        .enumerate()
        {
            let input = InferInput {
                message_id: format!("{}-{m}", ctx.run_id()),
                texts: batch.iter().map(|&r| set.texts[r].clone()).collect(),
                model: name.clone(),
            };
            let output = ctx.invoke(function, &input).await?;
            for (i, &label) in output.prediction.labels.iter().enumerate() {
                let l = label as usize;
                if label_counts.len() <= l {
                    label_counts.resize(l + 1, 0);
                }
                label_counts[l] += 1;
                if supervised && let Some(&row) = batch.get(i) {
                    judged += 1;
                    right += usize::from(set.labels[row] == label);
                }
            }
            rows.push(output.row);
        }
        Ok(TextInferenceResult {
            function: algorithm.function.to_string(),
            model_key: key.to_string(),
            rows,
            label_counts,
            accuracy: (judged > 0).then(|| right as f64 / judged as f64),
        })
    }

    fn register(registry: &mut Registry) {
        for algorithm in &ALGORITHMS {
            let function: FunctionRef<InferInput, InferOutput> =
                FunctionRef::new(algorithm.function);
            registry
                .register(function, move |input, ctx| infer(input, ctx, algorithm))
                .memory_mb(algorithm.memory_mb);
        }
    }

    fn resolve(params: &mut TextInferenceParams) {
        params.data = data::clean_prefix(&params.data);
        params.model = Some(params.model_name());
    }

    fn validate(params: &TextInferenceParams) -> Result<()> {
        algorithms::lookup(&params.algorithm)?;
        if params.batch_size == 0 || params.messages == 0 {
            return Err(WorkflowError::InvalidParams(
                "batch_size and messages must be at least 1".into(),
            ));
        }
        limits::at_most("batch size", params.batch_size, limits::BATCH)?;
        limits::at_most("messages", params.messages, limits::ITERATIONS)?;
        if params.data.is_empty() {
            return Err(WorkflowError::InvalidParams(
                "the data prefix must not be empty".into(),
            ));
        }
        data::check_name("model", &params.model_name())
    }

    fn datasets(params: &TextInferenceParams) -> Vec<String> {
        vec![params.data.clone()]
    }

    fn expected_invocations(params: &TextInferenceParams) -> Option<u64> {
        Some(params.messages as u64 + 1)
    }

    fn summary(_params: &TextInferenceParams, result: &TextInferenceResult) -> String {
        let mut out = format!(
            "{:<6} {:>6} {:>5} {:>10} {:>13} {:>11} {:>7} {:>7} {:>8} {:>4}\n",
            "msg",
            "batch",
            "cold",
            "init ms",
            "processing ms",
            "duration ms",
            "billed",
            "memory",
            "max mem",
            "cpus"
        );
        for (i, r) in result.rows.iter().enumerate() {
            out.push_str(&format!(
                "{:<6} {:>6} {:>5} {:>10.3} {:>13.3} {:>11.3} {:>7} {:>7} {:>8} {:>4}\n",
                i,
                r.batch_size,
                if r.is_cold_start { "cold" } else { "warm" },
                r.initialization_time,
                r.processing_time,
                r.lambda_duration,
                r.lambda_billed_duration,
                if r.lambda_memory_size == 0 {
                    "-".to_string()
                } else {
                    format!("{} MB", r.lambda_memory_size)
                },
                format!("{} MB", r.lambda_max_memory_used),
                r.cpu_count
            ));
        }
        out.push_str(&format!(
            "{} with {}: labels {:?}",
            result.function, result.model_key, result.label_counts
        ));
        if let Some(a) = result.accuracy {
            out.push_str(&format!(", accuracy {a:.4} against the corpus's labels"));
        }
        out
    }

    fn bench() -> BenchSpec<TextInferenceResult> {
        BenchSpec {
            metrics: vec![Metric {
                name: "processing_ms",
                unit: "ms",
                value: |r| r.rows.last().map(|row| row.processing_time),
            }],
            ..BenchSpec::basic()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_wrap_around_the_corpus() {
        assert_eq!(
            batches(5, 2, 3, 4),
            vec![vec![4, 0], vec![1, 2], vec![3, 4]]
        );
        assert_eq!(batches(3, 4, 1, 0), vec![vec![0, 1, 2, 0]]);
        assert!(batches(0, 4, 2, 0).is_empty());
    }

    #[test]
    fn billing_rounds_up_to_the_millisecond() {
        assert_eq!(billed_ms(0.2), 1);
        assert_eq!(billed_ms(3.0), 3);
        assert_eq!(billed_ms(3.0001), 4);
        assert_eq!(billed_ms(-1.0), 0);
        assert_eq!(
            InferenceRow::default().cells().len(),
            InferenceRow::COLUMNS.len()
        );
    }
}
