//! `faasml bench`: a benchmark of any workflow over a grid of its own parameters (table, CSV
//! files, box plots and line charts as SVG and PNG), `bench invoke`, the platform's cost of
//! one invocation, and `bench inference`, the inference benchmark over confined workers.

mod charts;
mod grid;
mod harness;
mod inference;
mod invoke;

use std::path::PathBuf;

use anyhow::Result;
use clap::{Arg, ArgAction, ArgMatches, Command, FromArgMatches, Subcommand};
use faasml_workflows::AnyWorkflow;

use crate::PlatformArgs;

/// `faasml bench` subcommands: one per workflow, and `invoke`.
#[derive(Debug, Clone)]
pub(crate) enum BenchCommand {
    /// A workflow over a grid of its parameters.
    Workflow(WorkflowBench),
    /// The cost of a no-op invocation.
    Invoke(invoke::InvokeBench),
    /// The inference benchmark: text models over algorithms x memory sizes x batch sizes.
    Inference(inference::InferenceBench),
}

/// Options of `faasml bench <workflow>`.
#[derive(Clone)]
pub(crate) struct WorkflowBench {
    /// The workflow.
    pub(crate) workflow: &'static dyn AnyWorkflow,
    /// The parameter flags the user gave: long name and values (a list is an axis).
    pub(crate) user: Vec<(String, Vec<String>)>,
    /// Runs per point (default: the workflow's).
    pub(crate) repeats: Option<usize>,
    /// Output directory (default: `<report dir>/bench/<workflow>-<time>`).
    pub(crate) out: Option<PathBuf>,
    /// Append the median rows to this CSV file (`--record`: `bench/results/<workflow>.csv`;
    /// `--record-to FILE`).
    pub(crate) record: Option<PathBuf>,
    /// Peers to measure beside faasml in the same run.
    pub(crate) compare: Vec<String>,
    /// Where and how to run.
    pub(crate) platform: PlatformArgs,
}

impl std::fmt::Debug for WorkflowBench {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WorkflowBench")
            .field("workflow", &self.workflow.name())
            .field("user", &self.user)
            .field("repeats", &self.repeats)
            .finish_non_exhaustive()
    }
}

/// The bench subcommand of `workflow`.
fn workflow_command(workflow: &dyn AnyWorkflow) -> Command {
    let defaults = workflow.bench_defaults();
    let peers: Vec<&str> = defaults.peers.iter().map(|p| p.name).collect();
    let about = format!(
        "{} Every parameter takes a comma-separated list: the lists are crossed into a grid.",
        workflow.about()
    );
    let command = grid::listify(workflow.args(Command::new(workflow.name())))
        .arg(
            Arg::new("repeats")
                .long("repeats")
                .value_parser(|text: &str| match text.parse::<usize>() {
                    Ok(n) if (1..=1000).contains(&n) => Ok(n),
                    _ => Err(format!("'{text}' is not a number of runs from 1 to 1000")),
                })
                .help(format!(
                    "Runs per point; the table shows the run with the median {} [default: {}]",
                    defaults.primary, defaults.repeats
                )),
        )
        .arg(
            Arg::new("out")
                .long("out")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Directory for the CSV files and charts [default: <report dir>/bench/<workflow>-<time>]"),
        )
        .arg(
            Arg::new("record")
                .long("record")
                .action(ArgAction::SetTrue)
                .help("Append each point's median row, dated, to bench/results/<workflow>.csv"),
        )
        .arg(
            Arg::new("record-to")
                .long("record-to")
                .value_name("FILE")
                .value_parser(clap::value_parser!(PathBuf))
                .help("Append each point's median row, dated, to FILE"),
        )
        .arg(
            Arg::new("compare")
                .long("compare")
                .action(ArgAction::Append)
                .value_delimiter(',')
                .help(if peers.is_empty() {
                    "Measure a reference implementation beside faasml in the same run (none for this workflow)".to_string()
                } else {
                    format!(
                        "Measure a reference implementation beside faasml in the same run: {}",
                        peers.join(", ")
                    )
                }),
        );
    // Set last: augmenting with a derived `Args` also sets its doc comment as the about.
    <PlatformArgs as clap::Args>::augment_args(command)
        .about(about)
        .long_about(None)
}

impl FromArgMatches for BenchCommand {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        if let Some(("invoke", sub)) = matches.subcommand() {
            return Ok(Self::Invoke(invoke::InvokeBench::from_arg_matches(sub)?));
        }
        if let Some(("inference", sub)) = matches.subcommand() {
            return Ok(Self::Inference(
                inference::InferenceBench::from_arg_matches(sub)?,
            ));
        }
        let (workflow, sub) = crate::run::chosen(matches)?;
        Ok(Self::Workflow(WorkflowBench {
            workflow,
            user: grid::user_flags(workflow, sub),
            repeats: sub.get_one::<usize>("repeats").copied(),
            out: sub.get_one::<PathBuf>("out").cloned(),
            record: sub.get_one::<PathBuf>("record-to").cloned().or_else(|| {
                sub.get_flag("record").then(|| {
                    PathBuf::from("bench/results").join(format!("{}.csv", workflow.name()))
                })
            }),
            compare: sub
                .get_many::<String>("compare")
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
            platform: PlatformArgs::from_arg_matches(sub)?,
        }))
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        *self = Self::from_arg_matches(matches)?;
        Ok(())
    }
}

impl Subcommand for BenchCommand {
    fn augment_subcommands(command: Command) -> Command {
        let invoke =
            <invoke::InvokeBench as clap::Args>::augment_args(Command::new("invoke").about(
                "Overhead of invoking a no-op function: embedded, or over HTTP with --platform \
                 http (against --gateway, or a worker started in this process on a loopback port)",
            ));
        crate::workflows()
            .iter()
            .fold(command, |command, workflow| {
                command.subcommand(workflow_command(*workflow))
            })
            .subcommand(invoke)
            .subcommand(<inference::InferenceBench as clap::Args>::augment_args(
                Command::new("inference").about(
                    "The inference benchmark (seed 003): text models' functions in confined \
                     worker processes over algorithms x memory sizes x batch sizes, cold and \
                     warm; CSV with the seed's columns, p50/p99 summary, box plots",
                ),
            ))
            .subcommand_required(true)
    }

    fn augment_subcommands_for_update(command: Command) -> Command {
        Self::augment_subcommands(command)
    }

    fn has_subcommand(name: &str) -> bool {
        name == "invoke"
            || name == "inference"
            || crate::workflows().iter().any(|w| w.name() == name)
    }
}

/// The `p` quantile of sorted, non-empty `values` (nearest rank), for the benchmarks that time
/// single calls rather than whole runs.
pub(crate) fn quantile(values: &[f64], p: f64) -> f64 {
    values[((values.len() - 1) as f64 * p).round() as usize]
}

/// `faasml bench ...`.
pub(crate) async fn run(command: BenchCommand) -> Result<()> {
    match command {
        BenchCommand::Workflow(bench) => harness::run(bench).await,
        BenchCommand::Invoke(args) => invoke::run(args).await,
        BenchCommand::Inference(args) => inference::run(args).await,
    }
}
