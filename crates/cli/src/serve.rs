//! `faasml serve`: every function of every workflow behind HTTP, as a Knative/OpenFaaS worker.
//!
//! `POST /function/<name>` runs a function with the JSON body as its input and answers with the
//! JSON envelope `{output | error, record, nested}`; run id, attempt, parent and retry policy
//! travel in `x-faasml-*` headers (the protocol is documented in `faasml_worker::protocol`).
//! `GET /healthz` answers while the process lives, `GET /readyz` when the store answers.
//! The port comes from `--port` or `$PORT` (Knative sets it; default 8080; 0 picks a free one);
//! with `--gateway` the functions' own invocations go to the gateway, else to this worker.
//! SIGTERM stops accepting and lets the invocations in flight finish for up to
//! `--drain-timeout` (default 30 s, Knative's default termination grace), then cancels what is
//! left; only then does the worker print `faasml worker <id> stopped: drained N in-flight
//! invocation(s) ...` or `... stopped: cancelled N invocation(s) after 30 s ...` on stderr and
//! exit. OpenFaaS's probe paths
//! `/_/health` and `/_/ready` are served too, and `$FAASML_SECRETS_DIR` (where OpenFaaS mounts
//! secrets as files) supplies `AWS_*`/`FAASML_*` settings the environment lacks.
//!
//! **Bounds** (`faasml_worker::limits`): at most `--max-in-flight` invocations delivered over
//! HTTP (default 256) and `--max-body-bytes-in-flight` request body bytes (default 256 MiB) at
//! once, beyond which requests get 503 with `Retry-After`; 32 MiB per body; a connection gets
//! `--header-read-timeout` (default 10 s) to send its request headers; callers' retry headers
//! are clamped to `--max-attempts` (default 3, at most 10), a 50 ms .. 30 s backoff and
//! `--max-timeout` (default 900 s) or the function's own timeout.
//!
//! **Keys.** With a key (`--key-file`, `FAASML_KEY`, `$FAASML_SECRETS_DIR/FAASML_KEY` or the
//! OpenFaaS secret `faasml-key`), every `POST /function/<name>` must be signed with it and the
//! worker signs its own nested invocations; the health probes stay open. Without one, `serve`
//! binds 127.0.0.1 by default and refuses a non-loopback `--host` (exit 2) unless `--insecure`
//! says that unsigned requests from the network are wanted. Containers set `FAASML_HOST=0.0.0.0`
//! and get the key from their secret.
//!
//! The first line on stdout is `faasml worker <id> listening on http://<addr>; <signing>`, where
//! `<signing>` is `requests must be signed` or `no key: accepting unsigned requests on loopback
//! only`.

use std::io::Write as _;
use std::path::Path;

use std::time::Duration;

use anyhow::{Context, Result};
use clap::Args;
use faasml_worker::{Verifier, Worker, WorkerLimits};

use crate::{PlatformArgs, UsageError};

/// Options of `serve`.
#[derive(Debug, Args)]
pub(crate) struct ServeArgs {
    /// Port to listen on (0 picks a free port).
    #[arg(long, env = "PORT", default_value_t = 8080)]
    port: u16,
    /// Address to bind. Without a key only a loopback address is allowed, unless --insecure.
    #[arg(long, env = "FAASML_HOST", default_value = "127.0.0.1")]
    host: String,
    /// Accept unsigned requests on a non-loopback address when no key is configured.
    #[arg(long)]
    insecure: bool,
    /// Worker id that qualifies instance ids in records (default: $HOSTNAME:port).
    #[arg(long, env = "FAASML_WORKER_ID")]
    worker_id: Option<String>,
    /// Most invocations delivered over HTTP running at once; more are answered 503 with
    /// Retry-After.
    #[arg(long, default_value_t = WorkerLimits::default().max_in_flight)]
    max_in_flight: usize,
    /// Most request body bytes held by the requests in flight; more are answered 503 with
    /// Retry-After.
    #[arg(long, default_value_t = WorkerLimits::default().max_body_bytes_in_flight)]
    max_body_bytes_in_flight: usize,
    /// Most attempts per invocation the functions make (the callers' x-faasml-max-attempts is
    /// clamped to it; at most 10).
    #[arg(long, default_value_t = WorkerLimits::default().max_attempts)]
    max_attempts: u32,
    /// Longest time limit of one invocation, in seconds (a function's own shorter timeout wins).
    #[arg(long, default_value_t = WorkerLimits::default().max_timeout.as_secs())]
    max_timeout: u64,
    /// Seconds a connection has to send its request headers before it is closed.
    #[arg(long, default_value_t = WorkerLimits::default().header_read_timeout.as_secs())]
    header_read_timeout: u64,
    /// Seconds the invocations in flight get to finish after SIGTERM before they are cancelled.
    #[arg(long, default_value_t = WorkerLimits::default().drain_timeout.as_secs())]
    drain_timeout: u64,
    #[command(flatten)]
    platform: PlatformArgs,
}

/// Settings read from the files of `$FAASML_SECRETS_DIR` (OpenFaaS mounts each secret as a file
/// named by its key): `AWS_*` and `FAASML_*` names only, each used where the environment does
/// not set it.
fn secret_files(dir: &Path) -> Result<Vec<(String, String)>> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read FAASML_SECRETS_DIR {}", dir.display()))?;
    let mut vars = Vec::new();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let wanted = (name.starts_with("AWS_") || name.starts_with("FAASML_"))
            && name
                .bytes()
                .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_');
        if !wanted || std::env::var_os(&name).is_some() || !entry.path().is_file() {
            continue;
        }
        let value = std::fs::read_to_string(entry.path())
            .with_context(|| format!("cannot read the secret {}", entry.path().display()))?;
        vars.push((name, value.trim_end_matches(['\n', '\r']).to_string()));
    }
    Ok(vars)
}

/// Whether `host` names only this machine: a loopback IP address or `localhost`.
fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

pub(crate) async fn run(mut args: ServeArgs) -> Result<()> {
    let secrets = match std::env::var_os("FAASML_SECRETS_DIR") {
        Some(dir) => secret_files(Path::new(&dir))?,
        None => Vec::new(),
    };
    for (name, value) in &secrets {
        match name.as_str() {
            "FAASML_STORE" => args.platform.store = value.clone(),
            "FAASML_STATE" => args.platform.state = value.clone(),
            "FAASML_GATEWAY" => args.platform.gateway = Some(value.clone()),
            _ => {}
        }
    }
    let key = crate::platform::load_key(&args.platform)?;
    let signing = match (&key, is_loopback(&args.host), args.insecure) {
        (Some(_), _, _) => "requests must be signed".to_string(),
        (None, true, _) => "no key: accepting unsigned requests on loopback only".to_string(),
        (None, false, true) => format!(
            "no key: accepting unsigned requests from anyone who can reach {} (--insecure)",
            args.host
        ),
        (None, false, false) => {
            return Err(UsageError(format!(
                "no key: refusing to accept unsigned requests on {}, which is not a loopback \
                 address; give the worker a key (--key-file, FAASML_KEY, FAASML_SECRETS_DIR or \
                 the OpenFaaS secret faasml-key) or pass --insecure",
                args.host
            ))
            .into());
        }
    };
    let store = crate::platform::open_store(&args.platform.store, &secrets)?;
    let config = crate::platform::worker_config(&args.platform, key.clone()).await?;
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
    let registry = crate::registry();
    let functions = registry.names().count();
    let store_url = store.url().to_string();
    let limits = WorkerLimits::new()
        .max_in_flight(args.max_in_flight)
        .max_body_bytes_in_flight(args.max_body_bytes_in_flight)
        .max_attempts(args.max_attempts)
        .max_timeout(Duration::from_secs(args.max_timeout))
        .header_read_timeout(Duration::from_secs(args.header_read_timeout))
        .drain_timeout(Duration::from_secs(args.drain_timeout));
    let worker = Worker::configured(
        registry,
        store,
        config,
        id.clone(),
        limits,
        key.map(Verifier::new),
    )
    .map_err(|e| crate::UsageError(e.to_string()))?;
    // Written without println! so that a closed stdout cannot stop the worker.
    let mut stdout = std::io::stdout();
    let _ = writeln!(
        stdout,
        "faasml worker {id} listening on http://{addr}; {signing}"
    );
    if !args.platform.quiet {
        let _ = writeln!(
            stdout,
            "  {functions} functions at POST /function/<name>; store {store_url}; nested invocations -> {}",
            args.platform.gateway.as_deref().unwrap_or("this worker")
        );
    }
    let _ = stdout.flush();
    let drained = faasml_worker::serve(listener, worker, faasml_worker::shutdown_signal()).await?;
    // Printed once the drain is over, so "stopped" is true when it appears; even with --quiet,
    // since it says whether work was cut off.
    let _ = writeln!(std::io::stderr(), "faasml worker {id} stopped: {drained}");
    Ok(())
}
