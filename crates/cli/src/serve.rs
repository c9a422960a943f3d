//! `faasml serve`: every function of every workflow behind HTTP, as a Knative/OpenFaaS worker.
//!
//! `POST /function/<name>` runs a function with the JSON body as its input and answers with the
//! JSON envelope `{output | error, record, nested}`; run id, attempt, parent and retry policy
//! travel in `x-faasml-*` headers (the protocol is documented in `faasml_worker::protocol`).
//! `GET /healthz` answers while the process lives, `GET /readyz` when the store answers.
//! The port comes from `--port` or `$PORT` (Knative sets it; default 8080; 0 picks a free one);
//! with `--gateway` the functions' own invocations go to the gateway, else to this worker.
//! SIGTERM stops accepting and lets the requests in flight finish.
//!
//! The first line on stdout is `faasml worker <id> listening on http://<addr>`.

use std::io::Write as _;

use anyhow::{Context, Result};
use clap::Args;
use faasml_worker::Worker;

use crate::PlatformArgs;

/// Options of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Address to bind.
    #[arg(long, default_value = "0.0.0.0")]
    host: String,
    /// Worker id that qualifies instance ids in records (default: $HOSTNAME:port).
    #[arg(long, env = "FAASML_WORKER_ID")]
    worker_id: Option<String>,
    #[command(flatten)]
    platform: PlatformArgs,
}

pub(crate) async fn run(args: ServeArgs) -> Result<()> {
    let store = crate::run::open_store(&args.platform)?;
    let config = crate::platform::worker_config(&args.platform).await?;
    let listener = tokio::net::TcpListener::bind((args.host.as_str(), args.port))
        .await
        .with_context(|| format!("cannot listen on {}:{}", args.host, args.port))?;
    let addr = listener
        .local_addr()
        .context("cannot read the listening address")?;
    let id = args.worker_id.clone().unwrap_or_else(|| {
        let host = std::env::var("HOSTNAME")
            .ok()
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "worker".to_string());
        format!("{host}:{}", addr.port())
    });
    let registry = faasml_workflows::registry();
    let functions = registry.names().count();
    let store_url = store.url().to_string();
    let worker = Worker::new(registry, store, config, id.clone());
    // Written without println! so that a closed stdout cannot stop the worker.
    let mut stdout = std::io::stdout();
    let _ = writeln!(stdout, "faasml worker {id} listening on http://{addr}");
    if !args.platform.quiet {
        let _ = writeln!(
            stdout,
            "  {functions} functions at POST /function/<name>; store {store_url}; nested invocations -> {}",
            args.platform.gateway.as_deref().unwrap_or("this worker")
        );
    }
    let _ = stdout.flush();
    faasml_worker::serve(listener, worker, faasml_worker::shutdown_signal()).await?;
    if !args.platform.quiet {
        let _ = writeln!(std::io::stderr(), "faasml worker {id} stopped");
    }
    Ok(())
}
