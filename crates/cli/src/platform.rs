//! Building the platform a command runs functions on, from the command-line options.
//!
//! `--platform embedded` (the default) runs every function in this process. `--platform http`
//! sends the driver to `faasml serve` workers through `--gateway` (a URL, a comma-separated list
//! of worker URLs used round-robin, or a Knative template with `{function}`); the workers send
//! the driver's fan-out on to their own gateway. With a key (`--key-file`, `FAASML_KEY`, the
//! secrets directory or the OpenFaaS secret mount), every request to a worker is signed.

use std::sync::Arc;

use anyhow::{Context, Result};
use clap::Args;
use faasml_core::{EmbeddedConfig, EmbeddedPlatform, Observer, Platform};
use faasml_store::{S3Options, Store, StoreBuilder};
use faasml_worker::{HttpConfig, HttpPlatform, Key};

use crate::UsageError;

/// Options shared by every command that runs functions.
#[derive(Debug, Clone, Args)]
pub struct PlatformArgs {
    /// Object store URL: file://DIR, memory://NAME or s3://BUCKET/PREFIX.
    #[arg(
        long,
        env = "FAASML_STORE",
        default_value = "file://./store",
        global = true
    )]
    pub store: String,
    /// State store URL: embedded:// or redis://HOST:PORT.
    #[arg(
        long,
        env = "FAASML_STATE",
        default_value = "embedded://",
        global = true
    )]
    pub state: String,
    /// Where functions run: in this process, or on HTTP workers behind --gateway.
    #[arg(
        long,
        value_enum,
        env = "FAASML_PLATFORM",
        default_value = "embedded",
        global = true
    )]
    pub platform: PlatformKind,
    /// Gateway of the HTTP workers: a URL, a comma-separated list of worker URLs (round-robin),
    /// or a template with {function} (e.g. http://{function}.faasml.example.com).
    #[arg(long, env = "FAASML_GATEWAY", global = true)]
    pub gateway: Option<String>,
    /// Export one span per invocation and per stage: otlp=http://HOST:4318.
    #[arg(long, env = "FAASML_TRACE", global = true)]
    pub trace: Option<String>,
    /// Most function instances running at once (default: number of cores, or more when a
    /// workflow's functions wait for each other).
    #[arg(long, global = true)]
    pub concurrency: Option<usize>,
    /// Run id (default: generated, `<workflow>-<date>-<time>-<random>`): 1 to 96 characters of
    /// A-Z a-z 0-9 . _ -, not in use by a running run.
    #[arg(long, env = "FAASML_RUN_ID", global = true, value_parser = parse_run_id)]
    pub run_id: Option<String>,
    /// Attempts per invocation, including the first (1 to 10).
    #[arg(long, default_value_t = 3, global = true,
          value_parser = clap::value_parser!(u32).range(1..=10))]
    pub attempts: u32,
    /// Directory for run reports (report.json, invocations.csv) and benchmark output.
    #[arg(long, default_value = "runs", global = true)]
    pub report_dir: std::path::PathBuf,
    /// Print no progress display and no table, only the result.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// File holding the key that signs requests to workers (and that a worker checks them
    /// with); without it: $FAASML_KEY, $FAASML_SECRETS_DIR/FAASML_KEY, then the OpenFaaS secret
    /// /var/openfaas/secrets/faasml-key.
    #[arg(long, env = "FAASML_KEY_FILE", global = true)]
    pub key_file: Option<std::path::PathBuf>,
    /// Largest invocation payload, in bytes or with a unit (6MB, 4MiB, 500KB): AWS Lambda takes
    /// 6 MB synchronously, Knative behind a gRPC or HTTP proxy commonly 4 MiB. Default: none in
    /// this process, the workers' 32 MiB body limit over http, 6 MB inside Lambda. A workflow
    /// whose inline data would exceed it fails before it invokes anything.
    #[arg(long, env = "FAASML_PAYLOAD_LIMIT", global = true, value_parser = parse_bytes)]
    pub payload_limit: Option<u64>,
}

/// The payload limit of AWS Lambda's synchronous invocations (request and response), 6 MB.
pub(crate) const LAMBDA_PAYLOAD_LIMIT: u64 = 6 * 1024 * 1024;

/// A byte count: a number, optionally followed by K, M, G (powers of 1000) or KiB, MiB, GiB
/// (powers of 1024); `B` and case are optional (`6MB`, `4mib`, `500k`).
pub(crate) fn parse_bytes(text: &str) -> Result<u64, String> {
    let t = text.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size (e.g. 6291456, 6MB, 4MiB)"))?;
    let scale: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" => 1000,
        "m" | "mb" => 1000 * 1000,
        "g" | "gb" => 1000 * 1000 * 1000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        other => {
            return Err(format!(
                "'{other}' is not a size unit (B, KB, MB, GB, KiB, MiB, GiB)"
            ));
        }
    };
    let bytes = value * scale as f64;
    if !(bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!("'{text}' is not a positive size"));
    }
    Ok(bytes as u64)
}

/// The http platform's settings: the key, and the payload limit when one is given.
fn http_config(args: &PlatformArgs, key: Option<Key>) -> HttpConfig {
    let config = HttpConfig::default().with_key(key);
    match args.payload_limit {
        Some(limit) => config.with_payload_limit(Some(limit)),
        None => config,
    }
}

fn parse_run_id(text: &str) -> Result<String, String> {
    faasml_core::check_run_id(text)
        .map(|()| text.to_string())
        .map_err(|e| e.to_string())
}

/// Where functions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum PlatformKind {
    /// In this process (the default).
    Embedded,
    /// On `faasml serve` workers reached through --gateway.
    Http,
}

impl PlatformKind {
    /// The name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Embedded => "embedded",
            Self::Http => "http",
        }
    }
}

/// Opens the store `url` the one way every command does: [`StoreBuilder`] with the S3 settings
/// of the environment (and `extra` ones, e.g. a worker's secret files, where it lacks them).
pub(crate) fn open_store(url: &str, extra: &[(String, String)]) -> Result<Store> {
    let options = S3Options::from_vars(std::env::vars().chain(extra.iter().cloned()));
    StoreBuilder::new(url)
        .with_s3_options(options)
        .build()
        .with_context(|| format!("cannot open the store {url}"))
}

/// The key `args` and the environment give, if any (see `faasml_worker::Key::load`).
pub(crate) fn load_key(args: &PlatformArgs) -> Result<Option<Key>> {
    Key::load(args.key_file.as_deref()).context("cannot load the signing key")
}

/// The platform `args` ask for, running the functions of every workflow against `store`.
pub(crate) async fn build(
    args: &PlatformArgs,
    store: Store,
    observer: Option<Observer>,
) -> Result<Arc<dyn Platform>> {
    match args.platform {
        PlatformKind::Embedded => {
            let config = embedded_config(args, observer).await?;
            Ok(EmbeddedPlatform::new(crate::registry(), store, config))
        }
        PlatformKind::Http => {
            let Some(gateway) = args.gateway.as_deref() else {
                return Err(UsageError(
                    "--platform http needs --gateway (or FAASML_GATEWAY): a worker URL, a \
                     comma-separated list of worker URLs, or a template with {function}"
                        .to_string(),
                )
                .into());
            };
            let config = http_config(args, load_key(args)?);
            let platform = HttpPlatform::with_config(gateway, config, observer)
                .context("cannot set up the http platform")?;
            Ok(platform)
        }
    }
}

/// The settings of an embedded platform (this process's, or a worker's) from `args`: state
/// store and concurrency.
pub(crate) async fn embedded_config(
    args: &PlatformArgs,
    observer: Option<Observer>,
) -> Result<EmbeddedConfig> {
    let state = faasml_state::open(&args.state)
        .await
        .with_context(|| format!("cannot open the state store {}", args.state))?;
    let mut config = EmbeddedConfig {
        observer,
        state,
        payload_limit: args.payload_limit,
        ..EmbeddedConfig::default()
    };
    if let Some(n) = args.concurrency {
        if n == 0 {
            return Err(UsageError("--concurrency must be at least 1".to_string()).into());
        }
        config.concurrency = n;
    }
    Ok(config)
}

/// The settings of a worker's embedded platform: as [`embedded_config`], with the functions'
/// own invocations sent to `--gateway` when one is given (else they run in the worker), signed
/// with `key` when the worker has one.
pub(crate) async fn worker_config(args: &PlatformArgs, key: Option<Key>) -> Result<EmbeddedConfig> {
    let mut config = embedded_config(args, None).await?;
    if let Some(gateway) = args.gateway.as_deref() {
        let nested = HttpPlatform::with_config(gateway, http_config(args, key), None)
            .with_context(|| format!("cannot use the gateway {gateway} for nested invocations"))?;
        config.nested = Some(nested);
    }
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_decimal_and_binary_units() {
        assert_eq!(parse_bytes("6291456"), Ok(6_291_456));
        assert_eq!(parse_bytes("6MB"), Ok(6_000_000));
        assert_eq!(parse_bytes("4MiB"), Ok(4 << 20));
        assert_eq!(parse_bytes("500k"), Ok(500_000));
        assert_eq!(parse_bytes("1.5 GiB"), Ok(3 << 29));
        for bad in ["", "MB", "-1", "0", "6 parsecs", "1e400"] {
            assert!(parse_bytes(bad).is_err(), "{bad}");
        }
    }
}
