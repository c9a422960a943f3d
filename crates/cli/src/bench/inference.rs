//! `faasml bench inference`: the seed's experiment ("ML on FaaS") on one machine — the text
//! models' inference functions over algorithms x memory sizes x batch sizes, cold and warm, with
//! the seed's CSV, a p50/p99 summary and box plots of billed duration against memory size.
//!
//! Each (algorithm, memory size) gets `faasml serve` worker processes confined like a Lambda
//! function of that size ([`faasml_confine`]: a cgroup memory limit and a CPU quota of
//! memory / 1,769 MB, or an address-space limit with a warning where cgroups are unavailable).
//! A **cold** sample is a new process: spawned, waited for until it listens, then sent one batch,
//! whose model load happens in that invocation; its `initializationTime` spans process start to
//! model loaded, as Lambda's Init Duration does. **Warm** samples reuse one worker per
//! configuration (`--concurrency` workers, each serving one message at a time, like Lambda
//! instances). A worker killed for exceeding its memory is a row with Lambda's error, and the
//! next message gets a fresh worker. Models missing from the store are trained first
//! (`text-train`, in this process). `--compare sklearn` runs `bench/inference_sklearn.py`, the
//! same models in scikit-learn in fresh Python processes, on the same machine in the same run.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::Args;
use faasml_charts::{BoxPlot, Scale, Titles};
use faasml_confine::{Limits, Mechanism, Preference, Sandbox};
use faasml_core::{
    EmbeddedConfig, EmbeddedPlatform, InvocationRequest, Platform, RetryPolicy, RunOptions,
    now_micros,
};
use faasml_store::Store;
use faasml_worker::HttpPlatform;
use faasml_workflows::text::algorithms::{self, TextAlgorithm};
use faasml_workflows::text::inference::{
    InferInput, InferOutput, InferenceRow, LAMBDA_NAME_ENV, MEMORY_ENV, billed_ms,
};
use faasml_workflows::text::train::{self, TextTrainParams};
use faasml_workflows::text::{TextColumns, load_texts, model_key};
use tokio::io::{AsyncBufReadExt, BufReader};

use super::quantile;

/// Options of `bench inference`.
#[derive(Debug, Clone, Args)]
pub(crate) struct InferenceBench {
    /// Algorithms: names, `classic` (the seed's six) or `all` (with minilm).
    #[arg(long, default_value = "classic")]
    algorithms: String,
    /// Memory sizes, MB: each confines its workers (memory limit, CPU quota memory/1769).
    #[arg(long, value_delimiter = ',', default_value = "128,256,512,1024,2048")]
    memory: Vec<u64>,
    /// Texts per message.
    #[arg(long, value_delimiter = ',', default_value = "1,10,100,1000")]
    batch_sizes: Vec<usize>,
    /// Warm messages per (algorithm, memory size, batch size).
    #[arg(long, default_value_t = 50)]
    messages: usize,
    /// Cold starts per (algorithm, memory size, batch size): each a new worker process.
    #[arg(long, default_value_t = 3)]
    cold: usize,
    /// Warm workers per (algorithm, memory size), each with one message in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// The texts the batches are cut from (and the models' training data).
    #[arg(long, default_value = "sentiment/vader")]
    data: String,
    /// The published model (default: the data's last segment followed by -text).
    #[arg(long)]
    model: Option<String>,
    /// Object store with the models (missing ones are trained into it).
    #[arg(long, default_value = "file://./store")]
    store: String,
    /// Output directory [default: runs/bench/inference-<time>].
    #[arg(long)]
    out: Option<PathBuf>,
    /// How workers are confined: `auto` (cgroups where available, else an address-space limit
    /// with a warning), `rlimit` (the address-space limit only: CPU not scaled), `none`.
    #[arg(long, value_enum, default_value_t = ConfineMode::Auto)]
    confine: ConfineMode,
    /// Measure scikit-learn beside faasml in the same run (bench/inference_sklearn.py).
    #[arg(long, value_delimiter = ',')]
    compare: Vec<String>,
    /// Append the summary's dated rows to bench/results/inference.csv.
    #[arg(long)]
    record: bool,
}

/// How `bench inference` confines its workers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum ConfineMode {
    /// cgroup v2 or v1 (memory limit and CPU quota), else the address-space limit.
    Auto,
    /// The address-space limit only (what happens where cgroups are unavailable).
    Rlimit,
    /// No limit.
    None,
}

/// One worker process and the platform that calls it.
struct Spawned {
    child: tokio::process::Child,
    sandbox: Option<Sandbox>,
    platform: Arc<HttpPlatform>,
    spawned_us: u64,
    ready_us: u64,
}

impl Spawned {
    /// Stops the process and releases its sandbox; says how it ended if it had already died.
    async fn stop(mut self) -> Option<String> {
        let died = match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            _ => None,
        };
        let _ = self.child.start_kill();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.child.wait()).await;
        let message = died.map(|status| describe_exit(self.sandbox.as_ref(), status));
        drop(self.sandbox.take());
        message
    }

    /// Why the process died, if it has.
    async fn death(&mut self) -> Option<String> {
        // A killed process may take a moment to be reaped.
        for _ in 0..50 {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(describe_exit(self.sandbox.as_ref(), status));
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        None
    }
}

/// Lambda's words for a process that ended: out of memory, a signal or an exit code.
fn describe_exit(sandbox: Option<&Sandbox>, status: std::process::ExitStatus) -> String {
    match sandbox {
        Some(s) => s.outcome(status).to_string(),
        None => format!("Runtime exited with error: {status}"),
    }
}

/// What to start workers with.
struct Launcher {
    exe: PathBuf,
    store: String,
    confine: ConfineMode,
    logs: PathBuf,
    count: usize,
}

impl Launcher {
    /// A confined `faasml serve` on a free loopback port, waited for until it listens.
    async fn spawn(&mut self, lambda_name: &str, memory_mb: u64) -> Result<Spawned> {
        self.count += 1;
        let preference = match self.confine {
            ConfineMode::Auto => Some(Preference::Best),
            ConfineMode::Rlimit => Some(Preference::Rlimit),
            ConfineMode::None => None,
        };
        let sandbox = match preference {
            Some(p) => Some(
                Sandbox::with_preference("faasml-bench", Limits::lambda(memory_mb), p)
                    .context("cannot confine a worker")?,
            ),
            None => None,
        };
        let log_path = self.logs.join(format!("{lambda_name}-{}.log", self.count));
        let log = std::fs::File::create(&log_path)
            .with_context(|| format!("cannot create {}", log_path.display()))?;
        // The port is picked here so the HTTP client exists before the process starts: building
        // it (TLS configuration included) is not the function's cold start.
        let port = std::net::TcpListener::bind(("127.0.0.1", 0))
            .and_then(|l| l.local_addr())
            .context("cannot find a free loopback port")?
            .port();
        let platform = HttpPlatform::new(&format!("http://127.0.0.1:{port}"))?;
        let mut command = std::process::Command::new(&self.exe);
        command
            .args(["serve", "--quiet", "--concurrency", "1"])
            .args(["--port", &port.to_string()])
            .args(["--store", &self.store])
            .env(MEMORY_ENV, memory_mb.to_string())
            .env(LAMBDA_NAME_ENV, lambda_name)
            .env("FAASML_WORKER_ID", format!("{lambda_name}-{}", self.count))
            .env_remove("FAASML_KEY")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log));
        if let Some(sandbox) = &sandbox {
            sandbox.confine(&mut command);
        }
        let spawned_us = now_micros();
        let mut child = tokio::process::Command::from(command)
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("cannot start {} serve", self.exe.display()))?;
        let stdout = child.stdout.take().context("the worker has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        let listening = tokio::time::timeout(Duration::from_secs(60), async {
            while let Ok(Some(line)) = lines.next_line().await {
                if line.contains("listening on ") {
                    return true;
                }
            }
            false
        })
        .await
        .unwrap_or(false);
        let ready_us = now_micros();
        if !listening {
            let status = child.try_wait().ok().flatten();
            let _ = child.start_kill();
            let why = status.map_or_else(
                || "it did not say it was listening within 60 s".to_string(),
                |s| describe_exit(sandbox.as_ref(), s),
            );
            bail!(
                "the worker for {lambda_name} did not start: {why} (log: {})",
                log_path.display()
            );
        };
        // Keep reading stdout so the worker never blocks on a full pipe.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        Ok(Spawned {
            child,
            sandbox,
            platform,
            spawned_us,
            ready_us,
        })
    }
}

/// One message to `worker`: the function's row, or a row with the error.
async fn send(
    worker: &mut Spawned,
    algorithm: &TextAlgorithm,
    lambda_name: &str,
    memory_mb: u64,
    input: InferInput,
    run_id: &str,
) -> InferenceRow {
    let batch_size = input.texts.len();
    let message_id = input.message_id.clone();
    let payload = match serde_json::to_vec(&input) {
        Ok(p) => p,
        Err(e) => {
            return error_row(
                &message_id,
                lambda_name,
                algorithm,
                memory_mb,
                batch_size,
                e.to_string(),
            );
        }
    };
    let request = InvocationRequest {
        run_id: run_id.to_string(),
        function: algorithm.function.to_string(),
        payload: payload.into(),
        attempt: 1,
        parent: None,
        task: None,
        retry: RetryPolicy {
            max_attempts: 1,
            backoff_ms: 0,
            timeout_ms: Some(300_000),
        },
    };
    let started = now_micros();
    let error = match worker.platform.invoke(request).await {
        Ok(response) => match response.result {
            Ok(bytes) => match serde_json::from_slice::<InferOutput>(&bytes) {
                Ok(output) => return output.row,
                Err(e) => format!("the function's output is not a row: {e}"),
            },
            Err(e) => format!("{}: {}", e.error_type, e.error_message),
        },
        Err(e) => match worker.death().await {
            Some(death) => death,
            None => e.to_string(),
        },
    };
    let mut row = error_row(
        &message_id,
        lambda_name,
        algorithm,
        memory_mb,
        batch_size,
        error,
    );
    let ms = (now_micros().saturating_sub(started)) as f64 / 1000.0;
    row.lambda_duration = ms;
    row.lambda_billed_duration = billed_ms(ms);
    row
}

/// A new worker for `lambda_name` and its first row: the message `input()` makes, sent to the
/// fresh process, so a cold row (see [`as_cold`]).
async fn cold_start(
    launcher: &mut Launcher,
    algorithm: &TextAlgorithm,
    lambda_name: &str,
    memory_mb: u64,
    input: impl FnOnce() -> InferInput,
    run_id: &str,
) -> Result<(Spawned, InferenceRow)> {
    let mut worker = launcher.spawn(lambda_name, memory_mb).await?;
    let row = send(
        &mut worker,
        algorithm,
        lambda_name,
        memory_mb,
        input(),
        run_id,
    )
    .await;
    let row = as_cold(row, &worker);
    Ok((worker, row))
}

fn error_row(
    message_id: &str,
    lambda_name: &str,
    algorithm: &TextAlgorithm,
    memory_mb: u64,
    batch_size: usize,
    error: String,
) -> InferenceRow {
    InferenceRow {
        message_id: message_id.to_string(),
        lambda_name: lambda_name.to_string(),
        function_name: algorithm.function.to_string(),
        batch_size,
        lambda_memory_size: memory_mb,
        lambda_max_memory_used: memory_mb,
        error,
        ..InferenceRow::default()
    }
}

/// A cold row: initialisation spans process start (spawn) to model loaded, as Lambda's Init
/// Duration does; the handler's duration stays the handler's.
fn as_cold(mut row: InferenceRow, worker: &Spawned) -> InferenceRow {
    let start_ms = worker.spawned_us as f64 / 1000.0;
    row.is_cold_start = true;
    if row.error.is_empty() {
        if row.initialization_end == 0.0 {
            row.initialization_end = worker.ready_us as f64 / 1000.0;
        }
        row.initialization_start = start_ms;
        row.initialization_time = row.initialization_end - start_ms;
    }
    row
}

/// `messages` batches of `batch_size` texts, wrapping around `texts`, continuing at `*next`.
fn cut(texts: &[String], batch_size: usize, next: &mut usize) -> Vec<String> {
    (0..batch_size)
        .map(|_| {
            let t = texts[*next % texts.len()].clone();
            *next = (*next + 1) % texts.len();
            t
        })
        .collect()
}

/// Trains the algorithms whose model the store lacks, in this process.
async fn ensure_models(
    store: &Store,
    wanted: &[&'static TextAlgorithm],
    data: &str,
    model: &str,
) -> Result<()> {
    let mut missing = Vec::new();
    for a in wanted {
        if !store.exists(&model_key(model, a.name)).await? {
            missing.push(a.name);
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    eprintln!(
        "training {} (not in {} yet): faasml run text-train --algorithm {} --data {data}",
        missing.join(", "),
        store.url(),
        missing.join(",")
    );
    let params = TextTrainParams {
        algorithm: missing.join(","),
        data: data.to_string(),
        model: Some(model.to_string()),
        ..TextTrainParams::default()
    };
    let platform = EmbeddedPlatform::new(
        crate::registry(),
        store.clone(),
        EmbeddedConfig {
            concurrency: 2,
            ..EmbeddedConfig::default()
        },
    );
    let outcome = faasml_core::run(
        platform,
        train::DRIVER,
        params,
        RunOptions::new("text-train"),
    )
    .await;
    let result = outcome.output.context("training the missing models")?;
    for m in &result.models {
        eprintln!(
            "  {}: accuracy {}, {:.1} s",
            m.algorithm,
            m.facts
                .accuracy
                .map_or("-".to_string(), |a| format!("{a:.4}")),
            m.facts.fit_seconds
        );
    }
    Ok(())
}

/// Summary of one group of rows.
#[derive(Debug, Clone)]
struct Group {
    n: usize,
    errors: usize,
    duration_p50: f64,
    duration_p99: f64,
    processing_p50: f64,
    init_p50: f64,
    max_memory: u64,
}

fn summarise(rows: &[&InferenceRow]) -> Group {
    let ok: Vec<&&InferenceRow> = rows.iter().filter(|r| r.error.is_empty()).collect();
    let sorted = |f: &dyn Fn(&InferenceRow) -> f64| {
        let mut v: Vec<f64> = ok.iter().map(|r| f(r)).collect();
        v.sort_by(f64::total_cmp);
        v
    };
    let q = |v: &[f64], p| {
        if v.is_empty() {
            f64::NAN
        } else {
            quantile(v, p)
        }
    };
    let durations = sorted(&|r| r.lambda_duration);
    let processing = sorted(&|r| r.processing_time);
    let init = sorted(&|r| r.initialization_time);
    Group {
        n: rows.len(),
        errors: rows.len() - ok.len(),
        duration_p50: q(&durations, 0.5),
        duration_p99: q(&durations, 0.99),
        processing_p50: q(&processing, 0.5),
        init_p50: q(&init, 0.5),
        max_memory: ok
            .iter()
            .map(|r| r.lambda_max_memory_used)
            .max()
            .unwrap_or(0),
    }
}

fn write_rows(path: &Path, rows: &[InferenceRow]) -> Result<()> {
    let mut w =
        csv::Writer::from_path(path).with_context(|| format!("cannot write {}", path.display()))?;
    w.write_record(InferenceRow::COLUMNS)?;
    for r in rows {
        w.write_record(r.cells())?;
    }
    w.flush()?;
    Ok(())
}

fn read_rows(path: &Path) -> Result<Vec<InferenceRow>> {
    let mut r =
        csv::Reader::from_path(path).with_context(|| format!("cannot read {}", path.display()))?;
    let mut rows = Vec::new();
    for record in r.deserialize::<InferenceRow>() {
        rows.push(record.with_context(|| format!("a row of {}", path.display()))?);
    }
    Ok(rows)
}

/// `faasml bench inference`.
pub(crate) async fn run(args: InferenceBench) -> Result<()> {
    for peer in &args.compare {
        if peer != "sklearn" {
            return Err(crate::UsageError(format!("--compare {peer}: the peer is sklearn")).into());
        }
    }
    let wanted =
        algorithms::parse_list(&args.algorithms).map_err(|e| crate::UsageError(e.to_string()))?;
    if args.memory.is_empty() || args.batch_sizes.is_empty() {
        return Err(
            crate::UsageError("--memory and --batch-sizes need at least one value".into()).into(),
        );
    }
    if let Some(m) = args.memory.iter().find(|&&m| !(64..=10_240).contains(&m)) {
        return Err(
            crate::UsageError(format!("--memory {m}: give sizes from 64 to 10240 MB")).into(),
        );
    }
    if args.batch_sizes.contains(&0) || args.messages == 0 || args.concurrency == 0 {
        return Err(crate::UsageError(
            "batch sizes, --messages and --concurrency must be at least 1".into(),
        )
        .into());
    }
    let data = args.data.trim_matches('/').to_string();
    let model = faasml_workflows::data::model_name(&data, args.model.as_deref(), "text");
    let out = args.out.clone().unwrap_or_else(|| {
        PathBuf::from("runs")
            .join("bench")
            .join(format!("inference-{}", super::harness::stamp()))
    });
    let logs = out.join("workers");
    std::fs::create_dir_all(&logs).with_context(|| format!("cannot create {}", logs.display()))?;
    let store = crate::platform::open_store(&args.store, &[])?;
    faasml_workflows::data::bundled::ensure(&store, &data).await?;
    ensure_models(&store, &wanted, &data, &model).await?;
    let columns = TextColumns {
        text: "text".into(),
        label: "label".into(),
    };
    let texts = load_texts(&store, &data, &columns).await?.texts;
    if texts.is_empty() {
        bail!("'{data}' holds no texts");
    }
    let confine = args.confine;
    if confine != ConfineMode::None {
        let preference = if confine == ConfineMode::Rlimit {
            Preference::Rlimit
        } else {
            Preference::Best
        };
        let probe = Sandbox::with_preference("faasml-probe", Limits::lambda(128), preference)?;
        if probe.mechanism() == Mechanism::Rlimit {
            eprintln!(
                "warning: workers get an address-space limit (RLIMIT_AS) instead of a cgroup ({}): \
                 memory is limited, but CPU is not scaled with memory as Lambda scales it",
                probe
                    .fallback_reason()
                    .unwrap_or("asked for with --confine rlimit")
            );
        } else {
            eprintln!(
                "workers confined by {}: memory limit, CPU quota of memory / 1769 MB",
                probe.mechanism()
            );
        }
    }
    let mut launcher = Launcher {
        exe: std::env::current_exe().context("cannot find the faasml binary")?,
        store: store.url().to_string(),
        confine,
        logs,
        count: 0,
    };
    let run_id = format!("bench-inference-{}", super::harness::stamp());
    let mut rows: Vec<InferenceRow> = Vec::new();
    let mut next = 0usize;
    let total = wanted.len() * args.memory.len();
    let mut done = 0;
    for algorithm in &wanted {
        for &memory_mb in &args.memory {
            done += 1;
            let lambda_name = format!("{}-{memory_mb}", algorithm.function.replace('.', "-"));
            eprintln!(
                "[{done}/{total}] {lambda_name}: {} cold x {} batch sizes, then {} warm messages each",
                args.cold,
                args.batch_sizes.len(),
                args.messages
            );
            let mut message = 0usize;
            let mut input = |batch_size: usize, next: &mut usize| {
                message += 1;
                InferInput {
                    message_id: format!("{lambda_name}-{message}"),
                    texts: cut(&texts, batch_size, next),
                    model: model.clone(),
                }
            };
            // Cold: a new process per sample.
            for &batch_size in &args.batch_sizes {
                for _ in 0..args.cold {
                    let started = cold_start(
                        &mut launcher,
                        algorithm,
                        &lambda_name,
                        memory_mb,
                        || input(batch_size, &mut next),
                        &run_id,
                    )
                    .await;
                    match started {
                        Ok((worker, row)) => {
                            rows.push(row);
                            worker.stop().await;
                        }
                        Err(e) => {
                            let mut row = error_row(
                                &format!("{lambda_name}-start"),
                                &lambda_name,
                                algorithm,
                                memory_mb,
                                batch_size,
                                e.to_string(),
                            );
                            row.is_cold_start = true;
                            rows.push(row);
                        }
                    }
                }
            }
            // Warm: `concurrency` workers, started and loaded before the timed messages.
            let mut workers = Vec::new();
            for _ in 0..args.concurrency {
                let started = cold_start(
                    &mut launcher,
                    algorithm,
                    &lambda_name,
                    memory_mb,
                    || input(1, &mut next),
                    &run_id,
                )
                .await;
                match started {
                    // The warm-up is not a sample; a failed one is (the instance is gone).
                    Ok((w, warmup)) if warmup.error.is_empty() => workers.push(w),
                    Ok((w, warmup)) => {
                        rows.push(warmup);
                        w.stop().await;
                    }
                    Err(e) => eprintln!("  {e}"),
                }
            }
            if workers.is_empty() {
                eprintln!("  no warm worker for {lambda_name}: its warm rows are skipped");
                continue;
            }
            for &batch_size in &args.batch_sizes {
                let mut sent = 0usize;
                let mut kills = 0usize;
                while sent < args.messages {
                    let round: Vec<InferInput> = (0..workers.len().min(args.messages - sent))
                        .map(|_| input(batch_size, &mut next))
                        .collect();
                    sent += round.len();
                    let results = futures::future::join_all(
                        workers
                            .iter_mut()
                            .zip(round)
                            .map(|(w, i)| send(w, algorithm, &lambda_name, memory_mb, i, &run_id)),
                    )
                    .await;
                    for (i, row) in results.into_iter().enumerate() {
                        let failed = !row.error.is_empty();
                        rows.push(row);
                        if failed && workers[i].child.try_wait().ok().flatten().is_some() {
                            // The instance died (killed for its memory): Lambda starts a new one.
                            kills += 1;
                            let started = cold_start(
                                &mut launcher,
                                algorithm,
                                &lambda_name,
                                memory_mb,
                                || input(1, &mut next),
                                &run_id,
                            )
                            .await;
                            if let Ok((fresh, warmup)) = started {
                                rows.push(warmup);
                                let dead = std::mem::replace(&mut workers[i], fresh);
                                dead.stop().await;
                            }
                        }
                    }
                    if kills >= 3 {
                        eprintln!(
                            "  {lambda_name}: killed {kills} times at batch {batch_size}; the rest of its messages are skipped"
                        );
                        break;
                    }
                }
            }
            for w in workers {
                w.stop().await;
            }
        }
    }
    let csv_path = out.join("inference.csv");
    write_rows(&csv_path, &rows)?;
    let peer_rows = if args.compare.iter().any(|p| p == "sklearn") {
        let path = out.join("sklearn.csv");
        run_sklearn(&args, &wanted, &data, &path)?;
        read_rows(&path)?
    } else {
        Vec::new()
    };
    let summary = print_summary(&rows, &peer_rows, &wanted, &args);
    let summary_path = out.join("inference-summary.csv");
    std::fs::write(&summary_path, &summary)
        .with_context(|| format!("cannot write {}", summary_path.display()))?;
    for algorithm in &wanted {
        let title = format!("{}: billed duration vs memory size", algorithm.function);
        let mut plot = BoxPlot::new(Titles {
            title: &title,
            x_label: "memory size (MB)",
            y_label: "billed duration (ms)",
        })
        .scale(Scale::Log)
        .categories(args.memory.iter().map(|m| m.to_string()))
        .hues(["cold", "warm"]);
        for r in rows
            .iter()
            .filter(|r| r.function_name == algorithm.function && r.error.is_empty())
        {
            let hue = if r.is_cold_start { "cold" } else { "warm" };
            plot.push_hued(
                &r.lambda_memory_size.to_string(),
                hue,
                r.lambda_billed_duration as f64,
            );
        }
        let stem = out.join(format!("inference-{}", algorithm.name));
        plot.write_both(&stem)
            .with_context(|| format!("cannot write {}", stem.display()))?;
    }
    if args.record {
        record(&summary)?;
    }
    println!(
        "\nrows: {}\nsummary: {}\nbox plots: {}/inference-<algorithm>.png and .svg",
        csv_path.display(),
        summary_path.display(),
        out.display()
    );
    Ok(())
}

/// Prints the p50/p99 table (and the peer's, with ratios) and returns it as CSV.
fn print_summary(
    rows: &[InferenceRow],
    peer: &[InferenceRow],
    wanted: &[&'static TextAlgorithm],
    args: &InferenceBench,
) -> String {
    let mut groups: BTreeMap<(String, u64, usize, bool), Vec<&InferenceRow>> = BTreeMap::new();
    for r in rows {
        groups
            .entry((
                r.function_name.clone(),
                r.lambda_memory_size,
                r.batch_size,
                r.is_cold_start,
            ))
            .or_default()
            .push(r);
    }
    let mut peer_groups: BTreeMap<(String, usize, bool), Vec<&InferenceRow>> = BTreeMap::new();
    for r in peer {
        peer_groups
            .entry((r.function_name.clone(), r.batch_size, r.is_cold_start))
            .or_default()
            .push(r);
    }
    let mut csv = String::from(
        "function,memory_mb,batch_size,start,n,errors,duration_p50_ms,duration_p99_ms,processing_p50_ms,init_p50_ms,max_memory_mb,sklearn_processing_p50_ms,sklearn_init_p50_ms,sklearn_max_memory_mb\n",
    );
    println!(
        "{:<36} {:>6} {:>6} {:>5} {:>4} {:>4} {:>10} {:>10} {:>10} {:>9} {:>7} {:>11} {:>8}",
        "function",
        "memory",
        "batch",
        "start",
        "n",
        "err",
        "p50 ms",
        "p99 ms",
        "proc p50",
        "init p50",
        "max MB",
        "sklearn p50",
        "ratio"
    );
    for a in wanted {
        for &memory in &args.memory {
            let mut sizes: Vec<(usize, bool)> = Vec::new();
            for &b in &args.batch_sizes {
                sizes.push((b, true));
                sizes.push((b, false));
            }
            for (batch, cold) in sizes {
                let Some(g) = groups.get(&(a.function.to_string(), memory, batch, cold)) else {
                    continue;
                };
                let s = summarise(g);
                let p = peer_groups
                    .get(&(a.function.to_string(), batch, cold))
                    .map(|g| summarise(g));
                let (peer_value, ratio) = match &p {
                    Some(p) if cold => (p.init_p50, p.init_p50 / s.init_p50),
                    Some(p) => (p.processing_p50, p.processing_p50 / s.processing_p50),
                    None => (f64::NAN, f64::NAN),
                };
                println!(
                    "{:<36} {:>6} {:>6} {:>5} {:>4} {:>4} {:>10.3} {:>10.3} {:>10.3} {:>9.2} {:>7} {:>11} {:>8}",
                    format!("{}-{memory}", a.function),
                    memory,
                    batch,
                    if cold { "cold" } else { "warm" },
                    s.n,
                    s.errors,
                    s.duration_p50,
                    s.duration_p99,
                    s.processing_p50,
                    s.init_p50,
                    s.max_memory,
                    if peer_value.is_nan() {
                        "-".to_string()
                    } else {
                        format!("{peer_value:.3}")
                    },
                    if ratio.is_nan() {
                        "-".to_string()
                    } else {
                        format!("{ratio:.1}x")
                    },
                );
                csv.push_str(&format!(
                    "{},{memory},{batch},{},{},{},{:.4},{:.4},{:.4},{:.4},{},{},{},{}\n",
                    a.function,
                    if cold { "cold" } else { "warm" },
                    s.n,
                    s.errors,
                    s.duration_p50,
                    s.duration_p99,
                    s.processing_p50,
                    s.init_p50,
                    s.max_memory,
                    p.as_ref()
                        .map_or(String::new(), |p| format!("{:.4}", p.processing_p50)),
                    p.as_ref()
                        .map_or(String::new(), |p| format!("{:.4}", p.init_p50)),
                    p.as_ref()
                        .map_or(String::new(), |p| p.max_memory.to_string()),
                ));
            }
        }
    }
    println!(
        "(cold rows compare initialisation — process start to model loaded — with the peer's; warm rows compare processing)"
    );
    csv
}

/// Runs the scikit-learn peer into `path`.
fn run_sklearn(
    args: &InferenceBench,
    wanted: &[&'static TextAlgorithm],
    data: &str,
    path: &Path,
) -> Result<()> {
    let script = PathBuf::from("bench/inference_sklearn.py");
    if !script.exists() {
        bail!(
            "{} not found: run from the repository root",
            script.display()
        );
    }
    let corpus = data.rsplit('/').next().unwrap_or(data);
    let file = faasml_datasets::bundled::lookup_corpus(corpus)
        .with_context(|| format!("the sklearn peer reads a bundled corpus; '{data}' is not one"))?
        .path();
    let names: Vec<&str> = wanted
        .iter()
        .filter(|a| a.name != "minilm")
        .map(|a| a.name)
        .collect();
    eprintln!("scikit-learn peer: {}", names.join(", "));
    let status = std::process::Command::new("python3")
        .arg(&script)
        .args(["--data", &file.display().to_string()])
        .args(["--algorithms", &names.join(",")])
        .args([
            "--batch-sizes",
            &args
                .batch_sizes
                .iter()
                .map(usize::to_string)
                .collect::<Vec<_>>()
                .join(","),
        ])
        .args(["--messages", &args.messages.to_string()])
        .args(["--cold", &args.cold.to_string()])
        .args(["--csv", &path.display().to_string()])
        .status()
        .context("cannot run python3 (the scikit-learn peer)")?;
    if !status.success() {
        bail!("the scikit-learn peer failed: {status}");
    }
    Ok(())
}

/// Appends the summary's rows, dated, to `bench/results/inference.csv`.
fn record(summary: &str) -> Result<()> {
    let path = PathBuf::from("bench/results/inference.csv");
    let exists = path.exists();
    let mut text = String::new();
    let t = faasml_core::UtcTime::now();
    let date = format!("{:04}-{:02}-{:02}", t.year, t.month, t.day);
    let commit = crate::meta::COMMIT;
    for (i, line) in summary.lines().enumerate() {
        if i == 0 {
            if !exists {
                text.push_str(&format!("date,commit,{line}\n"));
            }
        } else {
            text.push_str(&format!("{date},{commit},{line}\n"));
        }
    }
    use std::io::Write as _;
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()))
        .with_context(|| format!("cannot append to {}", path.display()))
}
