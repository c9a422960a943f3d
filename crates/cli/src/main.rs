//! The `faasml` command: run workflows, import data, and benchmark, on the embedded platform.
//!
//! Exit codes: 0 success, 1 the run or command failed, 2 invalid command line.

mod bench;
mod data;
mod progress;
mod run;

use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

/// Run machine-learning training and inference as serverless workflows.
#[derive(Debug, Parser)]
#[command(name = "faasml", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow.
    #[command(subcommand)]
    Run(run::Workflow),
    /// Import and list datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Benchmark a workflow or the platform, printing a table.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
}

/// Options shared by every command that runs functions.
#[derive(Debug, Clone, Args)]
struct PlatformArgs {
    /// Object store URL: file://DIR or memory://NAME.
    #[arg(
        long,
        env = "FAASML_STORE",
        default_value = "file://./store",
        global = true
    )]
    store: String,
    /// Most function instances running at once (default: number of cores).
    #[arg(long, global = true)]
    concurrency: Option<usize>,
    /// Attempts per invocation, including the first.
    #[arg(long, default_value_t = 3, global = true)]
    attempts: u32,
    /// Directory for run reports (report.json, invocations.csv).
    #[arg(long, default_value = "runs", global = true)]
    report_dir: std::path::PathBuf,
    /// Print no progress display and no table, only the result line.
    #[arg(long, short, global = true)]
    quiet: bool,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Run(workflow) => run::run(workflow).await,
            Command::Data(command) => data::run(command).await,
            Command::Bench(command) => bench::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
