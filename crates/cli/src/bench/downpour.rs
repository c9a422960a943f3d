//! `faasml bench downpour`: Downpour SGD over a grid of batch sizes, workers and n_fetch, the
//! seed's table of time to the target accuracy, CSV files and a chart of accuracy over time.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::Args;
use faasml_core::human_bytes;
use faasml_workflows::downpour::{DownpourParams, DownpourResult};

use crate::PlatformArgs;
use crate::downpour::{ModeArg, default_test};
use crate::plot::{self, PlotFormat};
use crate::run::{open_store, prepare_data};

/// Options of `bench downpour`.
#[derive(Debug, Args)]
pub(crate) struct DownpourBench {
    /// Minibatch sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "16,32,64,128")]
    batch_sizes: Vec<usize>,
    /// Worker counts, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,3,6")]
    workers: Vec<usize>,
    /// Minibatches between two pulls of the parameters, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,10")]
    n_fetch: Vec<usize>,
    /// Minibatches between two pushes of the accumulated update.
    #[arg(long, default_value_t = 1)]
    n_push: usize,
    /// Prefix of the training images (the bundled mnist, fashion-mnist... are imported on first
    /// use).
    #[arg(long, default_value = "mnist")]
    data: String,
    /// Prefix of the held-out test images (default: the test set of the bundled family).
    #[arg(long)]
    test: Option<String>,
    /// Test accuracy to reach; a run stops at the first evaluation at or above it.
    #[arg(long, default_value_t = 0.75)]
    target_accuracy: f64,
    /// Test-set evaluations per epoch (the resolution of the time to target).
    #[arg(long, default_value_t = 10)]
    evals_per_epoch: usize,
    /// Most epochs per worker.
    #[arg(long, default_value_t = 5)]
    max_epochs: usize,
    /// How the training is laid out over functions.
    #[arg(long, value_enum, default_value = "loop")]
    mode: ModeArg,
    /// Keep training to --max-epochs after the target is reached, for whole accuracy curves in
    /// the chart; the time to target is then read from the evaluations (the same definition as
    /// when the run stops there).
    #[arg(long)]
    past_target: bool,
    /// Runs per configuration; the table keeps the run with the median time to target.
    #[arg(long, default_value_t = 1)]
    repeats: usize,
    /// Hidden layer sizes, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "100")]
    hidden: Vec<usize>,
    /// Directory for downpour.csv, downpour-evals.csv and the chart (created if missing).
    #[arg(long, default_value = "bench/downpour")]
    out: PathBuf,
    /// Format of the chart of test accuracy over time.
    #[arg(long, value_enum, default_value = "svg")]
    format: PlotFormat,
    #[command(flatten)]
    platform: PlatformArgs,
}

/// One configuration of the downpour grid and its runs.
struct DownpourRow {
    params: DownpourParams,
    /// Every run, in order.
    runs: Vec<DownpourResult>,
    /// The run with the median time to target (runs that missed the target count as slowest).
    median: usize,
}

impl DownpourRow {
    fn result(&self) -> &DownpourResult {
        &self.runs[self.median]
    }

    fn label(&self) -> String {
        config_text(&self.params)
    }
}

fn config_text(p: &DownpourParams) -> String {
    format!(
        "batch {}, {} worker{}, n_fetch {}",
        p.batch_size,
        p.workers,
        if p.workers == 1 { "" } else { "s" },
        p.n_fetch
    )
}

/// `values` without repeats, in their order.
fn distinct(values: &[usize]) -> Vec<usize> {
    let mut out = Vec::with_capacity(values.len());
    for &v in values {
        if !out.contains(&v) {
            out.push(v);
        }
    }
    out
}

impl DownpourBench {
    /// The configurations of the grid, batch size outermost, each checked.
    fn grid(&self) -> Result<Vec<DownpourParams>> {
        if self.repeats == 0 {
            bail!("--repeats must be at least 1");
        }
        let data = self.data.trim_matches('/').to_string();
        let test = self.test.clone().unwrap_or_else(|| default_test(&data));
        let base = DownpourParams {
            data,
            test: test.trim_matches('/').to_string(),
            hidden: self.hidden.clone(),
            n_push: self.n_push,
            target_accuracy: self.target_accuracy,
            max_epochs: self.max_epochs,
            evals_per_epoch: self.evals_per_epoch,
            mode: self.mode.into(),
            // Not the name `run downpour` publishes under, so a benchmark never replaces a model.
            model: "bench-downpour-mlp".to_string(),
            ..DownpourParams::default()
        };
        let mut grid = Vec::new();
        for &batch_size in &distinct(&self.batch_sizes) {
            for &workers in &distinct(&self.workers) {
                for &n_fetch in &distinct(&self.n_fetch) {
                    let params = DownpourParams {
                        batch_size,
                        workers,
                        n_fetch,
                        ..base.clone()
                    };
                    params.validate().with_context(|| {
                        format!("invalid configuration {}", config_text(&params))
                    })?;
                    grid.push(params);
                }
            }
        }
        Ok(grid)
    }
}

pub(crate) async fn bench(args: DownpourBench) -> Result<()> {
    let grid = args.grid()?;
    let out = &args.out;
    check_out_dir(out)?;
    let chart_path = out.join(format!("downpour.{}", args.format.extension()));
    let verbose = !args.platform.quiet;
    let mut quiet = args.platform.clone();
    quiet.quiet = true;
    // Import the bundled data once, up front, so the first configuration's time is not the import.
    let store = open_store(&quiet)?;
    prepare_data(&store, &grid[0].data, args.platform.quiet).await?;
    prepare_data(&store, &grid[0].test, args.platform.quiet).await?;
    if verbose {
        eprintln!(
            "downpour ({}): {} configurations x {} run(s), target {}, {} evaluations per epoch, \
             at most {} epochs; {} cores; store {}, state {}",
            grid[0].mode.as_str(),
            grid.len(),
            args.repeats,
            args.target_accuracy,
            args.evals_per_epoch,
            args.max_epochs,
            std::thread::available_parallelism().map_or(1, |n| n.get()),
            args.platform.store,
            args.platform.state
        );
    }
    let mut rows: Vec<DownpourRow> = Vec::with_capacity(grid.len());
    let mut failure = None;
    for (i, params) in grid.iter().enumerate() {
        let mut runs = Vec::with_capacity(args.repeats);
        let run_params = DownpourParams {
            target_accuracy: if args.past_target {
                0.0
            } else {
                params.target_accuracy
            },
            ..params.clone()
        };
        for _ in 0..args.repeats {
            match crate::downpour::train(&quiet, &run_params, false).await {
                Ok((mut result, _report)) => {
                    if args.past_target {
                        set_target(&mut result, params.target_accuracy);
                    }
                    runs.push(result);
                }
                Err(e) => {
                    failure = Some(e.context(format!(
                        "downpour benchmark run ({}) failed",
                        config_text(params)
                    )));
                    break;
                }
            }
        }
        if failure.is_some() {
            break;
        }
        let row = DownpourRow {
            params: params.clone(),
            median: median_run(&runs),
            runs,
        };
        if verbose {
            eprintln!("[{}/{}] {}", i + 1, grid.len(), progress_text(&row));
        }
        rows.push(row);
    }
    if !rows.is_empty() {
        print_downpour(&args, &rows);
        let csv = out.join("downpour.csv");
        let evals = out.join("downpour-evals.csv");
        write_downpour_csv(&csv, &rows, args.past_target)?;
        write_evals_csv(&evals, &rows)?;
        downpour_chart(&args, &rows, &chart_path)?;
        println!();
        for path in [&csv, &evals, &chart_path] {
            println!("wrote {}", path.display());
        }
    }
    match failure {
        Some(e) if rows.is_empty() => Err(e),
        Some(e) => Err(e.context(format!(
            "stopped after {} of {} configurations (their results are written)",
            rows.len(),
            grid.len()
        ))),
        None => Ok(()),
    }
}

/// Sets the time and epochs to `target` from the evaluations of a run that did not stop there.
fn set_target(result: &mut DownpourResult, target: f64) {
    let hit = result
        .evals
        .iter()
        .find(|e| target > 0.0 && e.accuracy >= target);
    result.reached_target = hit.is_some();
    result.time_to_target_s = hit.map(|e| e.elapsed_s);
    result.epochs_to_target = hit.map(|e| e.epoch);
}

/// Creates `out` and checks that files can be written there, before any run.
fn check_out_dir(out: &Path) -> Result<()> {
    std::fs::create_dir_all(out)
        .with_context(|| format!("cannot create the output directory {}", out.display()))?;
    let probe = out.join(".faasml-write-check");
    std::fs::write(&probe, b"")
        .with_context(|| format!("cannot write to the output directory {}", out.display()))?;
    // The probe is empty and ours; failing to remove it is harmless.
    let _ = std::fs::remove_file(&probe);
    Ok(())
}

/// The index of the run with the median time to target; runs that missed it count as slowest,
/// ties broken by training time.
fn median_run(runs: &[DownpourResult]) -> usize {
    let mut order: Vec<usize> = (0..runs.len()).collect();
    order.sort_by(|&a, &b| {
        let key =
            |r: &DownpourResult| (r.time_to_target_s.unwrap_or(f64::INFINITY), r.train_seconds);
        let (ka, kb) = (key(&runs[a]), key(&runs[b]));
        ka.0.total_cmp(&kb.0).then(ka.1.total_cmp(&kb.1))
    });
    order[order.len() / 2]
}

fn progress_text(row: &DownpourRow) -> String {
    let r = row.result();
    let target = row.params.target_accuracy;
    let reached = match r.time_to_target_s {
        Some(t) => format!("{t:.2} s to {target}"),
        None if target > 0.0 => {
            format!("did not reach {target} in {} epochs", row.params.max_epochs)
        }
        None => format!("{:.2} s of training", r.train_seconds),
    };
    let of = if row.runs.len() > 1 {
        format!(" (median of {})", row.runs.len())
    } else {
        String::new()
    };
    format!("{}: {reached}, acc {:.3}{of}", row.label(), r.accuracy)
}

fn opt_text(v: Option<f64>, decimals: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.decimals$}"))
}

fn print_downpour(args: &DownpourBench, rows: &[DownpourRow]) {
    let first = rows[0].result();
    println!(
        "downpour ({}) on {}: MLP {} ({} parameters), {} training and {} test images, n_push {}, \
         {} evaluations per epoch, at most {} epochs{}{}",
        rows[0].params.mode.as_str(),
        rows[0].params.data,
        crate::downpour::layers_text(&first.layers),
        first.n_params,
        first.n_train,
        first.n_test,
        args.n_push,
        args.evals_per_epoch,
        args.max_epochs,
        if args.past_target {
            " (trained past the target)"
        } else {
            ""
        },
        if args.repeats > 1 {
            format!("; median of {} runs", args.repeats)
        } else {
            String::new()
        }
    );
    let to_target = format!("to {} (s)", args.target_accuracy);
    println!(
        "{:>5} {:>7} {:>7} {:>12} {:>7} {:>12} {:>10} {:>10} {:>10} {:>8}",
        "batch",
        "workers",
        "n_fetch",
        to_target,
        "epochs",
        "iter/worker",
        "samples/s",
        "pulled",
        "pushed",
        "accuracy"
    );
    for row in rows {
        let r = row.result();
        println!(
            "{:>5} {:>7} {:>7} {:>12} {:>7} {:>12.0} {:>10.0} {:>10} {:>10} {:>8.4}",
            row.params.batch_size,
            row.params.workers,
            row.params.n_fetch,
            opt_text(r.time_to_target_s, 3),
            opt_text(r.epochs_to_target, 2),
            r.iterations_per_worker,
            r.samples_per_second,
            human_bytes(r.bytes_pulled),
            human_bytes(r.bytes_pushed),
            r.accuracy
        );
    }
}

fn csv_opt(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v:.6}"))
}

fn write_downpour_csv(path: &Path, rows: &[DownpourRow], past_target: bool) -> Result<()> {
    let mut text = String::from(
        "batch_size,workers,n_fetch,n_push,mode,target_accuracy,past_target,runs,reached_target,\
         time_to_target_s,epochs_to_target,iterations_per_worker,samples_per_second,\
         bytes_pulled,bytes_pushed,train_seconds,accuracy,n_params,n_train,n_test\n",
    );
    for row in rows {
        let (p, r) = (&row.params, row.result());
        text.push_str(&format!(
            "{},{},{},{},{},{},{},{},{},{},{},{:.2},{:.1},{},{},{:.6},{:.6},{},{},{}\n",
            p.batch_size,
            p.workers,
            p.n_fetch,
            p.n_push,
            p.mode.as_str(),
            p.target_accuracy,
            past_target,
            row.runs.len(),
            r.reached_target,
            csv_opt(r.time_to_target_s),
            csv_opt(r.epochs_to_target),
            r.iterations_per_worker,
            r.samples_per_second,
            r.bytes_pulled,
            r.bytes_pushed,
            r.train_seconds,
            r.accuracy,
            r.n_params,
            r.n_train,
            r.n_test
        ));
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn write_evals_csv(path: &Path, rows: &[DownpourRow]) -> Result<()> {
    let mut text =
        String::from("batch_size,workers,n_fetch,repeat,median,epoch,elapsed_s,accuracy,loss\n");
    for row in rows {
        let p = &row.params;
        for (repeat, run) in row.runs.iter().enumerate() {
            for e in &run.evals {
                text.push_str(&format!(
                    "{},{},{},{},{},{:.4},{:.6},{:.6},{:.6}\n",
                    p.batch_size,
                    p.workers,
                    p.n_fetch,
                    repeat,
                    repeat == row.median,
                    e.epoch,
                    e.elapsed_s,
                    e.accuracy,
                    e.loss
                ));
            }
        }
    }
    std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))
}

fn downpour_chart(args: &DownpourBench, rows: &[DownpourRow], path: &Path) -> Result<()> {
    let series: Vec<plot::Series> = rows
        .iter()
        .map(|row| {
            let points = row
                .result()
                .evals
                .iter()
                .map(|e| (e.elapsed_s, e.accuracy))
                .collect();
            (row.label(), points)
        })
        .collect();
    let first = rows[0].result();
    let title = format!(
        "Downpour SGD on {}, MLP {}: test accuracy over time",
        rows[0].params.data,
        crate::downpour::layers_text(&first.layers)
    );
    let target_label = format!("target {}", args.target_accuracy);
    let target = (args.target_accuracy > 0.0).then(|| plot::HLine {
        y: args.target_accuracy,
        label: &target_label,
    });
    let chart = plot::Chart {
        title: &title,
        x_label: "seconds since initialisation",
        y_label: "test accuracy",
    };
    plot::line_chart(&chart, &series, target, path)
}
