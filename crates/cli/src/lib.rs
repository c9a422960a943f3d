//! The `faasml` command line: run any workflow, benchmark it, import data, serve the functions
//! over HTTP or Lambda, and write deployment manifests.
//!
//! The binary is [`main_with`] over the built-in workflows. A program that adds its own
//! workflows calls [`main_with`] with a longer list and gets every command for them too
//! (`examples/custom-workflow` does).
//!
//! Exit codes: 0 success, 1 the run or command failed, 2 invalid command line or parameters.

mod bench;
mod data;
mod deploy;
mod gc;
mod lambda;
mod meta;
mod platform;
mod progress;
mod run;
mod serve;
mod trace;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::{Parser, Subcommand};
use faasml_workflows::AnyWorkflow;

pub use platform::PlatformArgs;

/// Run machine-learning training and inference as serverless workflows.
#[derive(Debug, Parser)]
#[command(name = "faasml", version = meta::VERSION, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a workflow.
    #[command(subcommand)]
    Run(run::RunCommand),
    /// Import and list datasets.
    #[command(subcommand)]
    Data(data::DataCommand),
    /// Benchmark a workflow over a grid of its parameters, or the platform's invocation cost.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Serve every function over HTTP (POST /function/<name>), as a Knative/OpenFaaS worker.
    Serve(serve::ServeArgs),
    /// Serve every function behind the AWS Lambda runtime API.
    Lambda(lambda::LambdaArgs),
    /// Remove the scratch (runs/<run id>/) of runs that are no longer running.
    Gc(gc::GcArgs),
    /// Write deployment manifests (Knative, OpenFaaS) and the worker Dockerfile.
    #[command(subcommand)]
    Deploy(deploy::DeployCommand),
}

/// A mistake in the command line or the parameters: exit status 2.
#[derive(Debug)]
pub(crate) struct UsageError(pub(crate) String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for UsageError {}

static WORKFLOWS: OnceLock<Vec<&'static dyn AnyWorkflow>> = OnceLock::new();

/// The workflows this command knows (set once by [`main_with`]).
pub(crate) fn workflows() -> &'static [&'static dyn AnyWorkflow] {
    WORKFLOWS.get_or_init(faasml_workflows::workflows)
}

/// Every function of every workflow this command knows.
pub(crate) fn registry() -> faasml_core::Registry {
    faasml_workflows::kit::registry(workflows())
}

/// Runs the `faasml` command line with `workflows` (usually [`faasml_workflows::workflows`],
/// plus any of the caller's own) and returns the exit status.
pub fn main_with(workflows: Vec<&'static dyn AnyWorkflow>) -> ExitCode {
    // The first list wins; a second call in one process keeps it (the parsers are built once).
    let _ = WORKFLOWS.set(workflows);
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Serve(_) | Command::Lambda(_)) {
        die_quietly_on_a_closed_stdout();
    }
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
            Command::Run(command) => run::run(command).await,
            Command::Data(command) => data::run(command).await,
            Command::Bench(command) => bench::run(command).await,
            Command::Serve(args) => serve::run(args).await,
            Command::Lambda(args) => lambda::run(args).await,
            Command::Deploy(command) => deploy::run(command).await,
            Command::Gc(args) => gc::run(args).await,
        }
    });
    // Dropping a runtime waits for its blocking tasks however long they take; a worker that has
    // drained and cancelled its invocations must exit now, not when a stray file read returns.
    runtime.shutdown_timeout(std::time::Duration::from_secs(5));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) if err.downcast_ref::<UsageError>().is_some() => {
            eprintln!("error: {}", render(&err));
            ExitCode::from(2)
        }
        Err(err) => {
            eprintln!("error: {}", render(&err));
            ExitCode::FAILURE
        }
    }
}

/// Lets a one-shot command end as `cat` or `ls` do when its reader goes away
/// (`faasml data list | head -1`): killed by SIGPIPE, which a shell reports as status 141,
/// with nothing on stderr.
///
/// Rust starts every program with SIGPIPE ignored, so a write to a closed pipe is an EPIPE
/// error instead, and `println!` panics on it ("failed printing to stdout: Broken pipe").
/// Catching EPIPE at every write would work too, but every new `println!` in a command, a
/// table or a summary would bring the panic back; restoring the default action once covers
/// them all. The servers (`serve`, `lambda`) keep SIGPIPE ignored: a closed stdout or a peer
/// that hangs up must fail that write, never end a worker with everything in flight. (Their
/// sockets, and the HTTP and Redis clients of the one-shot commands, write with
/// `MSG_NOSIGNAL`, so a hung-up connection is an error there too, never the signal.)
fn die_quietly_on_a_closed_stdout() {
    #[cfg(unix)]
    // SAFETY: called on the main thread before any other thread or the runtime exists;
    // `SIG_DFL` is a valid disposition for SIGPIPE.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
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
