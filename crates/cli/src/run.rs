//! `faasml run <workflow>`: the one runner of every workflow.
//!
//! The subcommands come from the list of workflows: each one's parameters are its own clap
//! arguments (declared once, in the workflow), plus `--json` and the platform options. The
//! runner resolves the parameters, opens the store, builds the platform with enough instances
//! for the workflow, runs its driver (which validates the parameters, imports bundled data and
//! runs the stages), writes the report, exports the trace, and prints the stage table with the
//! workflow's summary.

use std::io::Write as _;

use anyhow::{Context, Result};
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches, Subcommand};
use faasml_core::{InvokeError, RetryPolicy, RunOptions, RunReport};
use faasml_store::Store;
use faasml_workflows::AnyWorkflow;
use faasml_workflows::data::bundled;
use serde_json::{Value, json};

use crate::progress::RunProgress;
use crate::{PlatformArgs, UsageError};

/// `faasml run <workflow> [parameters] [--json] [platform options]`.
#[derive(Clone)]
pub(crate) struct RunCommand {
    /// The workflow.
    pub(crate) workflow: &'static dyn AnyWorkflow,
    /// Its parameters as given (defaults filled in by clap and serde).
    pub(crate) params: Value,
    /// Print JSON instead of the table and summary.
    pub(crate) json: bool,
    /// Where and how to run.
    pub(crate) platform: PlatformArgs,
}

impl std::fmt::Debug for RunCommand {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunCommand")
            .field("workflow", &self.workflow.name())
            .field("params", &self.params)
            .field("json", &self.json)
            .finish_non_exhaustive()
    }
}

/// The `--json` flag every workflow subcommand has.
fn json_flag() -> Arg {
    Arg::new("json")
        .long("json")
        .action(ArgAction::SetTrue)
        .help("Print the run id, timings and result as JSON on stdout")
}

/// The subcommand of `workflow`: its parameters, `--json` and the platform options.
pub(crate) fn workflow_command(workflow: &dyn AnyWorkflow) -> Command {
    let command = workflow
        .args(Command::new(workflow.name()))
        .arg(json_flag());
    // Set last: augmenting with a derived `Args` also sets its doc comment as the about.
    <PlatformArgs as clap::Args>::augment_args(command)
        .about(workflow.about())
        .long_about(None)
}

/// The workflow named by the subcommand of `matches`, and that subcommand's matches.
pub(crate) fn chosen(
    matches: &ArgMatches,
) -> Result<(&'static dyn AnyWorkflow, &ArgMatches), clap::Error> {
    let Some((name, sub)) = matches.subcommand() else {
        return Err(clap::Error::raw(
            clap::error::ErrorKind::MissingSubcommand,
            "name a workflow\n",
        ));
    };
    let workflow = crate::workflows()
        .iter()
        .copied()
        .find(|w| w.name() == name)
        .ok_or_else(|| {
            clap::Error::raw(
                clap::error::ErrorKind::InvalidSubcommand,
                format!("no workflow named '{name}'\n"),
            )
        })?;
    Ok((workflow, sub))
}

impl FromArgMatches for RunCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let (workflow, sub) = chosen(matches)?;
        Ok(Self {
            workflow,
            params: workflow.params_from_matches(sub)?,
            json: sub.get_flag("json"),
            platform: PlatformArgs::from_arg_matches(sub)?,
        })
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for RunCommand {
    fn augment_subcommands(command: Command) -> Command {
        crate::workflows()
            .iter()
            .fold(command, |command, workflow| {
                command.subcommand(workflow_command(*workflow))
            })
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(command: Command) -> Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        crate::workflows().iter().any(|w| w.name() == name)
    }
}

/// How one run went: the driver's output (or why there is none) and its report.
pub(crate) struct Finished {
    /// The output as JSON.
    pub(crate) output: Value,
    /// The report.
    pub(crate) report: RunReport,
}

/// What a run needs besides its parameters.
pub(crate) struct RunSettings<'a> {
    /// Where and how.
    pub(crate) platform: &'a PlatformArgs,
    /// The store (opened once per command).
    pub(crate) store: &'a Store,
    /// Write report.json and invocations.csv under this directory (none: no files).
    pub(crate) report_dir: Option<&'a std::path::Path>,
    /// Show a progress bar (on a terminal) and say where the report went: an interactive run,
    /// not one run of a benchmark.
    pub(crate) progress: bool,
}

/// The concurrency limit for `workflow` with `params`: the user's, which must be at least the
/// workflow's minimum, or the number of cores raised to that minimum.
pub(crate) fn concurrency(
    workflow: &dyn AnyWorkflow,
    params: &Value,
    args: &PlatformArgs,
) -> Result<usize> {
    let needed = workflow.min_concurrency(params);
    match args.concurrency {
        Some(n) if n < needed => Err(UsageError(format!(
            "--concurrency {n} is too low for this {} run: its functions wait for each other, so \
             at least {needed} instances must run at once",
            workflow.name()
        ))
        .into()),
        Some(n) => Ok(n),
        None => Ok(needed.max(std::thread::available_parallelism().map_or(1, |n| n.get()))),
    }
}

/// Whether `error` says the parameters were refused (a usage error, not a failed run).
fn invalid_params(error: &InvokeError) -> Option<&str> {
    match error {
        InvokeError::Failed { error, .. } if error.error_type == "invalid-params" => {
            Some(&error.error_message)
        }
        _ => None,
    }
}

/// Runs `workflow` once with resolved `params`: the platform, the driver, the report written
/// first (a trace export that fails is then only a warning), the trace.
pub(crate) async fn execute(
    workflow: &'static dyn AnyWorkflow,
    params: Value,
    settings: &RunSettings<'_>,
) -> Result<Finished> {
    let args = settings.platform;
    let trace = args
        .trace
        .as_deref()
        .map(crate::trace::TraceTarget::parse)
        .transpose()
        .map_err(|e| UsageError(e.to_string()))?;
    let mut platform_args = args.clone();
    let limit = concurrency(workflow, &params, args)?;
    platform_args.concurrency = Some(limit);
    let progress = RunProgress::new(
        workflow.expected_invocations(&params),
        !settings.progress || args.quiet,
    );
    let platform = crate::platform::build(
        &platform_args,
        settings.store.clone(),
        Some(progress.observer()),
    )
    .await?;
    let mut options = RunOptions::new(workflow.name());
    if let Some(run_id) = &args.run_id {
        options = options.with_run_id(run_id.clone());
    }
    let options = options
        .with_params(params.clone())
        .with_retry(RetryPolicy {
            max_attempts: args.attempts.max(1),
            ..RetryPolicy::default()
        })
        .with_meta(crate::meta::run_meta(
            args,
            (platform.name() == "embedded").then_some(limit),
        ));
    let outcome = workflow.run(platform, params, options).await;
    progress.finish();
    let report = outcome.report;
    let output = match outcome.output {
        Ok(output) => output,
        Err(error) => {
            if let Some(message) = invalid_params(&error) {
                // Nothing ran: a usage error, without a report of a run that did not happen.
                return Err(UsageError(message.to_string()).into());
            }
            let dir = write_report(&report, settings);
            if !args.quiet && settings.progress {
                eprintln!("{}", report.stage_table());
                if let Some(Ok(dir)) = &dir {
                    eprintln!("report: {}", dir.display());
                }
            }
            return Err(anyhow::Error::new(error).context(format!(
                "{} run {} failed",
                workflow.name(),
                report.run_id
            )));
        }
    };
    if let Some(result) = write_report(&report, settings) {
        let dir = result?;
        if !args.quiet && settings.progress {
            eprintln!("report: {}", dir.display());
        }
    }
    if let Some(target) = &trace {
        match crate::trace::export(target, &report).await {
            Ok(spans) if !args.quiet => {
                eprintln!("trace {}: {spans} spans exported", report.trace_id)
            }
            Ok(_) => {}
            Err(e) => eprintln!(
                "warning: the run succeeded but its trace was not exported: {}",
                crate::render(&e)
            ),
        }
    }
    Ok(Finished { output, report })
}

fn write_report(
    report: &RunReport,
    settings: &RunSettings<'_>,
) -> Option<Result<std::path::PathBuf>> {
    let dir = settings.report_dir?;
    Some(
        report
            .write_to_dir(dir)
            .with_context(|| format!("cannot write the run report under {}", dir.display())),
    )
}

/// Says which bundled datasets this run imported into the store.
pub(crate) async fn announce_imports(
    workflow: &dyn AnyWorkflow,
    params: &Value,
    store: &Store,
    run_id: &str,
) {
    for prefix in workflow.datasets(params) {
        if let Ok(Some(record)) = bundled::import_record(store, &prefix).await
            && record.run_id == run_id
        {
            eprintln!(
                "imported the bundled dataset '{}' ({}) into {}",
                record.dataset,
                record.describe(),
                store.url()
            );
        }
    }
}

/// Says when killed runs left scratch in the store (at most the first 200 runs are looked at,
/// so a store with many runs costs a run little).
pub(crate) async fn announce_stale_runs(store: &Store) {
    use faasml_workflows::kit::gc;
    let Ok(runs) = gc::scan(store, 200).await else {
        return;
    };
    let stale = gc::stale(runs, std::time::Duration::from_secs(600));
    if !stale.is_empty() {
        let bytes: u64 = stale.iter().map(|r| r.bytes).sum();
        eprintln!(
            "note: {} run(s) that are no longer running left {} of scratch in {}/runs/; \
             `faasml gc --store {}` removes it",
            stale.len(),
            faasml_core::human_bytes(bytes),
            store.url().trim_end_matches('/'),
            store.url()
        );
    }
}

/// `faasml run <workflow>`.
pub(crate) async fn run(command: RunCommand) -> Result<()> {
    let RunCommand {
        workflow,
        params,
        json,
        platform,
    } = command;
    let params = workflow
        .resolve(params)
        .map_err(|e| UsageError(e.to_string()))?;
    let store = crate::platform::open_store(&platform.store, &[])?;
    let settings = RunSettings {
        platform: &platform,
        store: &store,
        report_dir: Some(&platform.report_dir),
        progress: true,
    };
    let finished = execute(workflow, params.clone(), &settings).await?;
    if !platform.quiet {
        announce_imports(workflow, &params, &store, &finished.report.run_id).await;
        announce_stale_runs(&store).await;
    }
    for warning in workflow.warnings(&finished.output) {
        eprintln!("warning: {warning}");
    }
    let report = &finished.report;
    let mut stdout = std::io::stdout().lock();
    let written = if json {
        let document = json!({
            "run_id": report.run_id,
            "workflow": report.workflow,
            "platform": report.platform,
            "wall_seconds": report.wall_seconds,
            "stages": report.stages,
            "result": finished.output,
        });
        writeln!(stdout, "{}", serde_json::to_string_pretty(&document)?)
    } else {
        if !platform.quiet {
            eprintln!(
                "{} run {} on {} with store {} and state {}",
                report.workflow, report.run_id, report.platform, platform.store, platform.state
            );
            eprintln!("{}", report.stage_table());
        }
        writeln!(
            stdout,
            "{}\nend to end {:.3} s",
            workflow.summary(&params, &finished.output),
            report.wall_seconds
        )
    };
    // A closed stdout (`faasml run ... | head -1`) is not a failed run.
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other.context("cannot write to stdout"),
    }
}
