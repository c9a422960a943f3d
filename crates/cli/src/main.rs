//! The `faasml` command: run workflows, import data, and benchmark, on the embedded platform.
//!
//! Exit codes: 0 success, 1 the run or command failed, 2 invalid command line.

mod bench;
mod data;
mod deploy;
mod downpour;
mod lambda;
mod platform;
mod plot;
mod progress;
mod run;
mod serve;
mod trace;

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
    /// Serve every function over HTTP (POST /function/<name>), as a Knative/OpenFaaS worker.
    Serve(serve::ServeArgs),
    /// Serve every function behind the AWS Lambda runtime API.
    Lambda(lambda::LambdaArgs),
    /// Write deployment manifests (Knative, OpenFaaS) and the worker Dockerfile.
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
}

/// Options shared by every command that runs functions.
#[derive(Debug, Clone, Args)]
struct PlatformArgs {
    /// Object store URL: file://DIR, memory://NAME or s3://BUCKET/PREFIX.
    #[arg(
        long,
        env = "FAASML_STORE",
        default_value = "file://./store",
        global = true
    )]
    store: String,
    /// State store URL: embedded:// or redis://HOST:PORT.
    #[arg(
        long,
        env = "FAASML_STATE",
        default_value = "embedded://",
        global = true
    )]
    state: String,
    /// Where functions run: in this process, or on HTTP workers behind --gateway.
    #[arg(
        long,
        value_enum,
        env = "FAASML_PLATFORM",
        default_value = "embedded",
        global = true
    )]
    platform: PlatformKind,
    /// Gateway of the HTTP workers: a URL, a comma-separated list of worker URLs (round-robin),
    /// or a template with {function} (e.g. http://{function}.faasml.example.com).
    #[arg(long, env = "FAASML_GATEWAY", global = true)]
    gateway: Option<String>,
    /// Export one span per invocation and per stage: otlp=http://HOST:4318.
    #[arg(long, env = "FAASML_TRACE", global = true)]
    trace: Option<String>,
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

/// Where functions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum PlatformKind {
    /// In this process (the default).
    Embedded,
    /// On `faasml serve` workers reached through --gateway.
    Http,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    faasml_store::ensure_crypto_provider();
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
            Command::Serve(args) => serve::run(args).await,
            Command::Lambda(args) => lambda::run(args).await,
            Command::Deploy(command) => deploy::run(command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {}", render(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, leaving out a cause whose text the message already holds
/// (many errors, object_store's among them, repeat their source in their own message).
fn render(err: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in err.chain() {
        let text = cause.to_string();
        if out.is_empty() {
            out = text;
        } else if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
    }
    out
}
