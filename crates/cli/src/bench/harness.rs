//! Running a workflow benchmark: every point of the grid, repeated, each run through the same
//! runner as `faasml run`; the median run per point in a table; every run in CSV; box plots of the
//! primary metric and line charts of the workflow's series, as SVG and PNG; dated median rows
//! appended to `bench/results/` on request; and peers (`--compare`) measured in the same
//! process, alternating with faasml's runs, so that ratios compare like with like.
//!
//! A benchmark prints only what it measured in this run.

use std::collections::BTreeMap;
use std::io::IsTerminal as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use faasml_core::{RunReport, human_bytes};
use faasml_workflows::AnyWorkflow;
use faasml_workflows::data::bundled;
use faasml_workflows::kit::{BenchDefaults, END_TO_END, Peer};
use serde_json::Value;

use super::WorkflowBench;
use super::charts;
use super::grid::{self, Grid, Point};
use crate::UsageError;
use crate::run::{RunSettings, execute};

/// One run of a point: its metrics (or why it failed) and its series.
#[derive(Debug, Clone, Default)]
struct RunResult {
    /// Metric name to value; absent values (a target not reached) are `None`.
    metrics: BTreeMap<String, Option<f64>>,
    /// The series points.
    series: Vec<(f64, f64)>,
    /// The run id.
    run_id: String,
    /// Why the run failed, if it did.
    error: Option<String>,
}

impl RunResult {
    fn value(&self, name: &str) -> Option<f64> {
        self.metrics.get(name).copied().flatten()
    }
}

/// A point and everything measured at it.
struct Measured {
    point: Point,
    /// faasml's runs, in order.
    runs: Vec<RunResult>,
    /// Each peer's runs, in order.
    peers: BTreeMap<String, Vec<RunResult>>,
    /// The index of the median run by the primary metric.
    median: usize,
    /// Why the point was skipped (its parameters were refused).
    skipped: Option<String>,
}

impl Measured {
    fn median_run(&self) -> Option<&RunResult> {
        self.runs.get(self.median)
    }
}

/// The index of the median of `values` (missing values count as the largest).
fn median_index(values: &[Option<f64>]) -> usize {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| {
        let key = |i: usize| values[i].unwrap_or(f64::INFINITY);
        key(a).total_cmp(&key(b))
    });
    order.get(values.len() / 2).copied().unwrap_or(0)
}

/// The median of the present values.
fn median(mut values: Vec<f64>) -> Option<f64> {
    values.retain(|v| v.is_finite());
    values.sort_by(f64::total_cmp);
    if values.is_empty() {
        None
    } else {
        Some(values[values.len() / 2])
    }
}

/// `workflow.stage` as `stage`.
fn stage_name(function: &str) -> &str {
    function.rsplit('.').next().unwrap_or(function)
}

/// The metrics of one run: the end-to-end time, each stage's wall time, the output's metrics.
fn measure(workflow: &dyn AnyWorkflow, output: &Value, report: &RunReport) -> RunResult {
    let mut metrics = BTreeMap::new();
    metrics.insert(END_TO_END.to_string(), Some(report.wall_seconds));
    for stage in &report.stages {
        let name = stage_name(&stage.function);
        if name != "driver" {
            metrics.insert(format!("{name}_ms"), Some(stage.wall_seconds * 1e3));
        }
    }
    for m in workflow.bench_metrics(output) {
        metrics.insert(m.name.to_string(), m.value);
    }
    RunResult {
        metrics,
        series: workflow.bench_series(output),
        run_id: report.run_id.clone(),
        error: None,
    }
}

/// Where a peer's scripts are: `bench/` in the current directory, next to the data directory,
/// or above the binary (a `target/<profile>/faasml` in a clone).
fn bench_dir() -> Option<PathBuf> {
    let mut candidates = vec![PathBuf::from("bench")];
    if let Some(parent) = faasml_datasets::bundled::data_dir().parent() {
        candidates.push(parent.join("bench"));
    }
    if let Ok(exe) = std::env::current_exe() {
        for ancestor in exe.ancestors().skip(1).take(4) {
            candidates.push(ancestor.join("bench"));
        }
    }
    candidates.into_iter().find(|d| d.is_dir())
}

/// Checks that `peer` can run here (its probe command succeeds), with a message naming what it
/// needs when it cannot.
fn probe_peer(peer: &Peer) -> Result<()> {
    let Some((program, rest)) = peer.probe.split_first() else {
        return Ok(());
    };
    match std::process::Command::new(program).args(rest).output() {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => bail!(
            "--compare {} needs {}: {}",
            peer.name,
            peer.needs,
            String::from_utf8_lossy(&out.stderr)
                .lines()
                .last()
                .unwrap_or("the check failed")
        ),
        Err(e) => bail!(
            "--compare {} needs {}: {program}: {e}",
            peer.name,
            peer.needs
        ),
    }
}

/// Runs `peer` once for `params`; its metrics, or why it failed.
fn run_peer(peer: &Peer, params: &Value, bench: &Path) -> RunResult {
    let Some(mut argv) = (peer.command)(params) else {
        return RunResult {
            error: Some(format!("{} cannot run this point", peer.name)),
            ..RunResult::default()
        };
    };
    for arg in &mut argv {
        *arg = arg.replace("{bench}", &bench.display().to_string());
    }
    let started = Instant::now();
    let output = std::process::Command::new(&argv[0])
        .args(&argv[1..])
        .output();
    let wall = started.elapsed().as_secs_f64();
    match output {
        Ok(out) if out.status.success() => {
            let stdout = String::from_utf8_lossy(&out.stdout);
            let mut metrics: BTreeMap<String, Option<f64>> = (peer.parse)(&stdout)
                .into_iter()
                .map(|(k, v)| (k.to_string(), Some(v)))
                .collect();
            metrics
                .entry(format!("{END_TO_END}_process"))
                .or_insert(Some(wall));
            RunResult {
                metrics,
                ..RunResult::default()
            }
        }
        Ok(out) => RunResult {
            error: Some(format!(
                "{} failed: {}",
                peer.name,
                String::from_utf8_lossy(&out.stderr)
                    .lines()
                    .last()
                    .unwrap_or("")
            )),
            ..RunResult::default()
        },
        Err(e) => RunResult {
            error: Some(format!("{} could not start: {e}", peer.name)),
            ..RunResult::default()
        },
    }
}

/// `YYYYMMDD-HHMMSS` in UTC, now.
pub(crate) fn stamp() -> String {
    let t = faasml_core::UtcTime::now();
    format!(
        "{:04}{:02}{:02}-{:02}{:02}{:02}",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// The ISO date and time, now (UTC).
fn now_iso() -> String {
    let t = faasml_core::UtcTime::now();
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}

/// `faasml bench <workflow>`.
pub(crate) async fn run(bench: WorkflowBench) -> Result<()> {
    let workflow = bench.workflow;
    let defaults = workflow.bench_defaults();
    let peers: Vec<Peer> = bench
        .compare
        .iter()
        .map(|name| {
            defaults
                .peers
                .iter()
                .find(|p| p.name == name)
                .cloned()
                .ok_or_else(|| {
                    UsageError(format!(
                        "--compare {name}: {} has no such peer (known: {})",
                        workflow.name(),
                        if defaults.peers.is_empty() {
                            "none".to_string()
                        } else {
                            defaults
                                .peers
                                .iter()
                                .map(|p| p.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        }
                    ))
                })
        })
        .collect::<Result<_, _>>()?;
    let bench_scripts = if peers.is_empty() {
        None
    } else {
        for peer in &peers {
            probe_peer(peer)?;
        }
        Some(bench_dir().ok_or_else(|| {
            anyhow::anyhow!(
                "--compare needs the repository's bench/ directory (run from the clone, or where \
                 bench/ is)"
            )
        })?)
    };
    let grid = Grid::new(workflow, &defaults, &bench.user);
    let columns = grid.columns();
    let mut points = Vec::new();
    for flags in grid.flag_sets() {
        match grid::parse_point(workflow, flags.clone()) {
            Ok(point) => points.push(point),
            Err(e) => return Err(UsageError(e).into()),
        }
    }
    // Labels name what tells points apart: the columns whose value varies (all, if none does).
    let varying: Vec<String> = columns
        .iter()
        .filter(|c| {
            let first = points.first().and_then(|p| p.flag(c));
            points.iter().any(|p| p.flag(c) != first)
        })
        .cloned()
        .collect();
    let labels = if varying.is_empty() {
        columns.clone()
    } else {
        varying
    };
    let repeats = bench.repeats.unwrap_or(defaults.repeats).max(1);
    let args = &bench.platform;
    let out = bench.out.clone().unwrap_or_else(|| {
        args.report_dir
            .join("bench")
            .join(format!("{}-{}", workflow.name(), stamp()))
    });
    std::fs::create_dir_all(&out).with_context(|| format!("cannot create {}", out.display()))?;
    let store = crate::platform::open_store(&args.store, &[])?;
    let reports = out.join("reports");
    let settings = RunSettings {
        platform: args,
        store: &store,
        report_dir: Some(&reports),
        progress: false,
    };
    eprintln!(
        "{} benchmark: {} point(s) x {repeats} run(s); {} cores; store {}; output in {}",
        workflow.name(),
        points.len(),
        std::thread::available_parallelism().map_or(1, |n| n.get()),
        args.store,
        out.display()
    );
    let tty = std::io::stderr().is_terminal();
    let mut measured = Vec::with_capacity(points.len());
    let mut failures = 0usize;
    for (i, point) in points.into_iter().enumerate() {
        let label = point.label(workflow, &labels);
        let total = measured.capacity();
        // Bundled data is imported before the clock starts: a first use is not a benchmark.
        for prefix in workflow.datasets(&point.params) {
            bundled::ensure(&store, &prefix)
                .await
                .with_context(|| format!("cannot prepare the dataset '{prefix}'"))?;
        }
        let mut runs = Vec::with_capacity(repeats);
        let mut peer_runs: BTreeMap<String, Vec<RunResult>> = BTreeMap::new();
        let mut skipped = None;
        for r in 0..repeats {
            if tty {
                eprint!("\r[{}/{total}] {label}: run {}/{repeats}   ", i + 1, r + 1);
            }
            match execute(workflow, point.params.clone(), &settings).await {
                Ok(finished) => runs.push(measure(workflow, &finished.output, &finished.report)),
                Err(e) if e.downcast_ref::<UsageError>().is_some() => {
                    skipped = Some(crate::render(&e));
                    break;
                }
                Err(e) => {
                    failures += 1;
                    runs.push(RunResult {
                        error: Some(crate::render(&e)),
                        ..RunResult::default()
                    });
                }
            }
            if let Some(dir) = &bench_scripts {
                for peer in &peers {
                    peer_runs
                        .entry(peer.name.to_string())
                        .or_default()
                        .push(run_peer(peer, &point.params, dir));
                }
            }
        }
        let primary: Vec<Option<f64>> = runs.iter().map(|r| r.value(defaults.primary)).collect();
        let median = median_index(&primary);
        if tty {
            eprint!("\r{:60}\r", "");
        }
        let m = Measured {
            point,
            runs,
            peers: peer_runs,
            median,
            skipped,
        };
        eprintln!(
            "[{}/{total}] {label}: {}",
            i + 1,
            progress_line(&m, &defaults)
        );
        measured.push(m);
    }
    println!();
    print_table(workflow, &defaults, &columns, &measured, &peers);
    let mut written = Vec::new();
    written.push(write_runs_csv(workflow, &columns, &measured, &out)?);
    if let Some(path) = write_series_csv(workflow, &defaults, &columns, &measured, &out)? {
        written.push(path);
    }
    written.extend(draw_charts(workflow, &defaults, &labels, &measured, &out)?);
    if let Some(path) = &bench.record {
        record(workflow, &defaults, &measured, path)?;
        written.push(path.clone());
    }
    println!();
    for path in &written {
        println!("wrote {}", path.display());
    }
    if failures > 0 {
        bail!(
            "{failures} benchmark run(s) failed (their rows say why; reports under {})",
            reports.display()
        );
    }
    Ok(())
}

/// What a finished point prints on the progress line.
fn progress_line(m: &Measured, defaults: &BenchDefaults) -> String {
    if let Some(reason) = &m.skipped {
        return format!("skipped: {reason}");
    }
    match m.median_run() {
        Some(run) if run.error.is_none() => {
            let end_to_end = format!(
                "end to end {:.3} s",
                run.value(END_TO_END).unwrap_or(f64::NAN)
            );
            let primary = if defaults.primary == END_TO_END {
                end_to_end
            } else {
                let value = run
                    .value(defaults.primary)
                    .map_or("-".to_string(), |v| format!("{v:.3}"));
                format!("{} {value}, {end_to_end}", defaults.primary)
            };
            format!("{primary} (median of {})", m.runs.len())
        }
        Some(run) => format!("failed: {}", run.error.as_deref().unwrap_or("")),
        None => "no run".to_string(),
    }
}

/// A metric's value for a table cell.
fn cell(name: &str, unit: &str, value: Option<f64>) -> String {
    match value {
        None => "-".to_string(),
        Some(v) if unit == "B" => human_bytes(v.max(0.0) as u64),
        Some(v) if name.ends_with("_ms") => format!("{v:.1}"),
        Some(v) if unit == "s" || name.ends_with("_s") => format!("{v:.3}"),
        Some(v) if v.fract() == 0.0 && v.abs() < 1e12 => format!("{v:.0}"),
        Some(v) if v.abs() >= 100.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.4}"),
    }
}

/// The stage columns of the table: the non-driver stages of the first measured run, when there
/// are few enough to read (every stage is in the CSV regardless).
fn stage_columns(measured: &[Measured]) -> Vec<String> {
    let stages: Vec<String> = measured
        .iter()
        .filter_map(Measured::median_run)
        .flat_map(|r| r.metrics.keys())
        .filter(|k| k.ends_with("_ms"))
        .fold(Vec::new(), |mut acc, k| {
            if !acc.contains(k) {
                acc.push(k.clone());
            }
            acc
        });
    if stages.len() <= 4 {
        stages
    } else {
        Vec::new()
    }
}

fn print_table(
    workflow: &dyn AnyWorkflow,
    defaults: &BenchDefaults,
    columns: &[String],
    measured: &[Measured],
    peers: &[Peer],
) {
    let mut header: Vec<String> = columns.to_vec();
    let mut metric_names: Vec<(String, &str)> = Vec::new();
    if defaults.primary != END_TO_END {
        metric_names.push((defaults.primary.to_string(), ""));
    }
    metric_names.push((END_TO_END.to_string(), "s"));
    for stage in stage_columns(measured) {
        metric_names.push((stage, ""));
    }
    for (name, unit) in &defaults.metrics {
        if *name != defaults.primary {
            metric_names.push((name.to_string(), unit));
        }
    }
    header.extend(metric_names.iter().map(|(n, _)| n.clone()));
    // Each peer's quality column: the first of the workflow's metrics it reports (accuracy for
    // ml-training, the meta-model's AUC for stacking).
    let quality: Vec<&str> = peers
        .iter()
        .map(|peer| {
            defaults
                .metrics
                .iter()
                .map(|(n, _)| *n)
                .find(|n| {
                    measured.iter().any(|m| {
                        m.peers
                            .get(peer.name)
                            .is_some_and(|runs| runs.iter().any(|r| r.value(n).is_some()))
                    })
                })
                .unwrap_or("accuracy")
        })
        .collect();
    for (peer, quality) in peers.iter().zip(&quality) {
        header.push(format!("{} {END_TO_END}", peer.name));
        header.push(format!("{} {quality}", peer.name));
        header.push(format!("{} / faasml", peer.name));
    }
    let mut rows: Vec<Vec<String>> = Vec::new();
    for m in measured {
        let mut row: Vec<String> = columns.iter().map(|c| m.point.value(workflow, c)).collect();
        if let Some(reason) = &m.skipped {
            row.push(format!("skipped: {reason}"));
            rows.push(row);
            continue;
        }
        let Some(run) = m.median_run() else {
            continue;
        };
        if let Some(error) = &run.error {
            row.push(format!("failed: {error}"));
            rows.push(row);
            continue;
        }
        for (name, unit) in &metric_names {
            let unit = defaults
                .metrics
                .iter()
                .find(|(n, _)| n == name)
                .map_or(*unit, |(_, u)| u);
            row.push(cell(name, unit, run.value(name)));
        }
        for (peer, quality) in peers.iter().zip(&quality) {
            let runs = m.peers.get(peer.name).map(Vec::as_slice).unwrap_or(&[]);
            let time = median(runs.iter().filter_map(|r| r.value(END_TO_END)).collect());
            let value = median(runs.iter().filter_map(|r| r.value(quality)).collect());
            let ours = median(m.runs.iter().filter_map(|r| r.value(END_TO_END)).collect());
            row.push(cell(END_TO_END, "s", time));
            row.push(cell(quality, "", value));
            row.push(match (time, ours) {
                (Some(t), Some(o)) if o > 0.0 => format!("{:.1}x", t / o),
                _ => "-".to_string(),
            });
        }
        rows.push(row);
    }
    let widths: Vec<usize> = (0..header.len())
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .chain(std::iter::once(&header[i]))
                .map(|s| s.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: &[String]| {
        cells
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let w = widths.get(i).copied().unwrap_or(0);
                if i < columns.len() {
                    format!("{c:<w$}")
                } else {
                    format!("{c:>w$}")
                }
            })
            .collect::<Vec<_>>()
            .join("  ")
    };
    println!("{}", line(&header));
    for row in &rows {
        println!("{}", line(row));
    }
    if !peers.is_empty() {
        println!(
            "(peers ran in this process, alternating with faasml's runs; '/ faasml' is the \
             ratio of median end-to-end times)"
        );
    }
}

/// Every metric name measured in any run, in a stable order: end to end, stages, the rest.
fn metric_columns(measured: &[Measured]) -> Vec<String> {
    let mut names: Vec<String> = vec![END_TO_END.to_string()];
    for run in measured.iter().flat_map(|m| &m.runs) {
        for name in run.metrics.keys() {
            if !names.contains(name) {
                names.push(name.clone());
            }
        }
    }
    names
}

fn csv_number(v: Option<f64>) -> String {
    v.map_or_else(String::new, |v| format!("{v}"))
}

fn csv_error(path: &Path, e: impl std::fmt::Display) -> anyhow::Error {
    anyhow::anyhow!("cannot write {}: {e}", path.display())
}

/// `<workflow>.csv`: one row per run (peers' runs too), with the point's flags and every metric.
fn write_runs_csv(
    workflow: &dyn AnyWorkflow,
    columns: &[String],
    measured: &[Measured],
    out: &Path,
) -> Result<PathBuf> {
    let path = out.join(format!("{}.csv", workflow.name()));
    let metrics = metric_columns(measured);
    let mut csv = csv::Writer::from_path(&path).map_err(|e| csv_error(&path, e))?;
    let mut header = vec![
        "date".to_string(),
        "commit".to_string(),
        "workflow".to_string(),
        "point".to_string(),
    ];
    header.extend(columns.iter().cloned());
    header.extend(
        [
            "implementation",
            "repeat",
            "median",
            "run_id",
            "status",
            "error",
        ]
        .map(String::from),
    );
    header.extend(metrics.iter().cloned());
    csv.write_record(&header).map_err(|e| csv_error(&path, e))?;
    let date = now_iso();
    // What every row of point `i` starts with: when, which build, which workflow and point.
    let point_cells = |i: usize, m: &Measured| {
        let mut row = vec![
            date.clone(),
            crate::meta::COMMIT.to_string(),
            workflow.name().to_string(),
            i.to_string(),
        ];
        row.extend(
            columns
                .iter()
                .map(|c| m.point.flag(c).unwrap_or("").to_string()),
        );
        row
    };
    for (i, m) in measured.iter().enumerate() {
        let mut implementations: Vec<(&str, &Vec<RunResult>)> = vec![("faasml", &m.runs)];
        for (name, runs) in &m.peers {
            implementations.push((name.as_str(), runs));
        }
        for (implementation, runs) in implementations {
            for (r, run) in runs.iter().enumerate() {
                let mut row = point_cells(i, m);
                row.push(implementation.to_string());
                row.push(r.to_string());
                row.push((implementation == "faasml" && r == m.median).to_string());
                row.push(run.run_id.clone());
                row.push(if run.error.is_some() { "failed" } else { "ok" }.to_string());
                row.push(run.error.clone().unwrap_or_default());
                row.extend(metrics.iter().map(|n| csv_number(run.value(n))));
                csv.write_record(&row).map_err(|e| csv_error(&path, e))?;
            }
        }
        if let Some(reason) = &m.skipped {
            let mut row = point_cells(i, m);
            row.extend(["faasml", "", "false", "", "skipped"].map(String::from));
            row.push(reason.clone());
            row.extend(metrics.iter().map(|_| String::new()));
            csv.write_record(&row).map_err(|e| csv_error(&path, e))?;
        }
    }
    csv.flush().map_err(|e| csv_error(&path, e))?;
    Ok(path)
}

/// `<workflow>-series.csv`: every run's series points.
fn write_series_csv(
    workflow: &dyn AnyWorkflow,
    defaults: &BenchDefaults,
    columns: &[String],
    measured: &[Measured],
    out: &Path,
) -> Result<Option<PathBuf>> {
    let Some(series) = &defaults.series else {
        return Ok(None);
    };
    let path = out.join(format!("{}-series.csv", workflow.name()));
    let mut csv = csv::Writer::from_path(&path).map_err(|e| csv_error(&path, e))?;
    let mut header = vec!["point".to_string()];
    header.extend(columns.iter().cloned());
    header.extend(["repeat".to_string(), "median".to_string()]);
    header.extend([series.columns.0.to_string(), series.columns.1.to_string()]);
    csv.write_record(&header).map_err(|e| csv_error(&path, e))?;
    for (i, m) in measured.iter().enumerate() {
        for (r, run) in m.runs.iter().enumerate() {
            for (x, y) in &run.series {
                let mut row = vec![i.to_string()];
                row.extend(
                    columns
                        .iter()
                        .map(|c| m.point.flag(c).unwrap_or("").to_string()),
                );
                row.push(r.to_string());
                row.push((r == m.median).to_string());
                row.push(format!("{x}"));
                row.push(format!("{y}"));
                csv.write_record(&row).map_err(|e| csv_error(&path, e))?;
            }
        }
    }
    csv.flush().map_err(|e| csv_error(&path, e))?;
    Ok(Some(path))
}

/// The box plots of the primary metric and of the end-to-end time (over the repeats of each
/// point), and the line chart of the series (one line per point, its median run).
fn draw_charts(
    workflow: &dyn AnyWorkflow,
    defaults: &BenchDefaults,
    labels: &[String],
    measured: &[Measured],
    out: &Path,
) -> Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    let ran: Vec<&Measured> = measured.iter().filter(|m| m.skipped.is_none()).collect();
    let label = |m: &Measured| {
        let l = m.point.label(workflow, labels);
        if l.is_empty() {
            workflow.name().to_string()
        } else {
            l
        }
    };
    let mut boxed = vec![defaults.primary];
    if defaults.primary != END_TO_END {
        boxed.push(END_TO_END);
    }
    for metric in boxed {
        let groups: Vec<(String, Vec<f64>)> = ran
            .iter()
            .map(|m| {
                let values = m.runs.iter().filter_map(|r| r.value(metric)).collect();
                (label(m), values)
            })
            .collect();
        let title = format!(
            "{}: {metric}, {} run(s) per point",
            workflow.name(),
            ran.iter().map(|m| m.runs.len()).max().unwrap_or(0)
        );
        written.extend(charts::box_plot(
            &title,
            metric,
            &groups,
            &out.join(format!("{}-{metric}", workflow.name())),
        )?);
    }
    if defaults.stage_charts {
        let stages: Vec<String> = ran
            .iter()
            .flat_map(|m| m.runs.iter().flat_map(|r| r.metrics.keys()))
            .filter(|k| k.ends_with("_ms"))
            .fold(Vec::new(), |mut acc, k| {
                if !acc.contains(k) {
                    acc.push(k.clone());
                }
                acc
            });
        for stage in stages {
            let groups: Vec<(String, Vec<f64>)> = ran
                .iter()
                .map(|m| {
                    let values = m.runs.iter().filter_map(|r| r.value(&stage)).collect();
                    (label(m), values)
                })
                .collect();
            let title = format!(
                "{}: {} wall time by point",
                workflow.name(),
                stage.trim_end_matches("_ms")
            );
            written.extend(charts::box_plot(
                &title,
                &stage,
                &groups,
                &out.join(format!("{}-{stage}", workflow.name())),
            )?);
        }
    }
    if let Some(series) = &defaults.series {
        let lines: Vec<(String, Vec<(f64, f64)>)> = ran
            .iter()
            .filter_map(|m| m.median_run().map(|r| (label(m), r.series.clone())))
            .collect();
        let reference = series.reference_flag.and_then(|flag| {
            let value = ran
                .first()
                .and_then(|m| m.point.value(workflow, flag).parse::<f64>().ok())?;
            (value > 0.0).then(|| (value, format!("{flag} {value}")))
        });
        let data = ran
            .first()
            .and_then(|m| m.point.params.get("data"))
            .and_then(Value::as_str)
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        written.extend(charts::line_chart(
            &format!("{}{data}", series.title),
            series.x_label,
            series.y_label,
            &lines,
            reference,
            &out.join(format!("{}-series", workflow.name())),
        )?);
    }
    Ok(written)
}

/// Appends each point's median row, dated, to `path` (created with a header if new).
fn record(
    workflow: &dyn AnyWorkflow,
    defaults: &BenchDefaults,
    measured: &[Measured],
    path: &Path,
) -> Result<()> {
    let mut metrics = vec![END_TO_END.to_string()];
    metrics.extend(defaults.metrics.iter().map(|(n, _)| n.to_string()));
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create {}", parent.display()))?;
    }
    let new = !path.exists();
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .with_context(|| format!("cannot open {}", path.display()))?;
    let mut csv = csv::Writer::from_writer(file);
    if new {
        let mut header = ["date", "commit", "workflow", "host_cores", "point", "runs"]
            .map(String::from)
            .to_vec();
        header.extend(metrics.iter().cloned());
        csv.write_record(&header).map_err(|e| csv_error(path, e))?;
    }
    let date = now_iso();
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    for m in measured {
        let Some(run) = m.median_run().filter(|r| r.error.is_none()) else {
            continue;
        };
        let mut row = vec![
            date.clone(),
            crate::meta::COMMIT.to_string(),
            workflow.name().to_string(),
            cores.to_string(),
            m.point.spec(),
            m.runs.len().to_string(),
        ];
        row.extend(metrics.iter().map(|n| csv_number(run.value(n))));
        csv.write_record(&row).map_err(|e| csv_error(path, e))?;
    }
    csv.flush().map_err(|e| csv_error(path, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_put_missing_values_last() {
        assert_eq!(median_index(&[Some(3.0), Some(1.0), Some(2.0)]), 2);
        assert_eq!(median_index(&[None, Some(1.0), Some(2.0)]), 2);
        assert_eq!(median_index(&[]), 0);
        assert_eq!(median(vec![3.0, f64::NAN, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(Vec::new()), None);
    }

    #[test]
    fn cells_format_by_unit() {
        assert_eq!(cell("bytes_pulled", "B", Some(1_500_000.0)), "1.5 MB");
        assert_eq!(cell("pca_ms", "", Some(12.345)), "12.3");
        assert_eq!(cell("end_to_end_s", "s", Some(0.1234)), "0.123");
        assert_eq!(cell("accuracy", "", Some(0.80581)), "0.8058");
        assert_eq!(cell("images", "", Some(2000.0)), "2000");
        assert_eq!(cell("x", "", None), "-");
        assert_eq!(stamp().len(), 15);
        assert!(now_iso().ends_with('Z'));
    }
}
