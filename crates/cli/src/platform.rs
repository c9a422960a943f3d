//! Building the platform a command runs functions on, from the command-line options.
//!
//! `--platform embedded` (the default) runs every function in this process. `--platform http`
//! sends the driver to `faasml serve` workers through `--gateway` (a URL, a comma-separated list
//! of worker URLs used round-robin, or a Knative template with `{function}`); the workers send
//! the driver's fan-out on to their own gateway.

use std::sync::Arc;

use anyhow::{Context, Result, bail};
use faasml_core::{EmbeddedConfig, EmbeddedPlatform, Observer, Platform};
use faasml_store::Store;
use faasml_worker::{HttpConfig, HttpPlatform};

use crate::{PlatformArgs, PlatformKind};

/// The platform `args` ask for, running the functions of every workflow against `store`.
pub(crate) async fn build(
    args: &PlatformArgs,
    store: Store,
    observer: Option<Observer>,
) -> Result<Arc<dyn Platform>> {
    match args.platform {
        PlatformKind::Embedded => {
            let config = embedded_config(args, observer).await?;
            Ok(EmbeddedPlatform::new(
                faasml_workflows::registry(),
                store,
                config,
            ))
        }
        PlatformKind::Http => {
            let Some(gateway) = args.gateway.as_deref() else {
                bail!(
                    "--platform http needs --gateway (or FAASML_GATEWAY): a worker URL, a \
                     comma-separated list of worker URLs, or a template with {{function}}"
                );
            };
            let platform = HttpPlatform::with_config(gateway, HttpConfig::default(), observer)
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
        ..EmbeddedConfig::default()
    };
    if let Some(n) = args.concurrency {
        if n == 0 {
            bail!("--concurrency must be at least 1");
        }
        config.concurrency = n;
    }
    Ok(config)
}

/// The settings of a worker's embedded platform: as [`embedded_config`], with the functions'
/// own invocations sent to `--gateway` when one is given (else they run in the worker).
pub(crate) async fn worker_config(args: &PlatformArgs) -> Result<EmbeddedConfig> {
    let mut config = embedded_config(args, None).await?;
    if let Some(gateway) = args.gateway.as_deref() {
        let nested = HttpPlatform::new(gateway)
            .with_context(|| format!("cannot use the gateway {gateway} for nested invocations"))?;
        config.nested = Some(nested);
    }
    Ok(config)
}
