//! `faasml lambda`: every function behind the AWS Lambda runtime API (the `bootstrap` of a
//! custom-runtime or container-image Lambda function).
//!
//! Each event is `{"function": "<name>", "payload": <input>, "run_id": ..., "attempt": ...,
//! "parent": ..., "retry": {...}}` and the response is the envelope `faasml serve` sends over
//! HTTP (`faasml_worker::lambda` documents the protocol). The runtime endpoint and identity come
//! from the variables Lambda sets (`AWS_LAMBDA_RUNTIME_API`, `AWS_LAMBDA_FUNCTION_NAME`, ...);
//! the store and state from `--store`/`FAASML_STORE` and `--state`/`FAASML_STATE`. With a key
//! (`FAASML_KEY`, resolved by CloudFormation from Secrets Manager), only events whose `auth`
//! signature verifies run.

use anyhow::{Context, Result};
use clap::Args;
use faasml_worker::{Verifier, Worker, lambda};

use crate::PlatformArgs;

/// Options of `lambda`.
#[derive(Debug, Args)]
pub(crate) struct LambdaArgs {
    #[command(flatten)]
    platform: PlatformArgs,
}

pub(crate) async fn run(args: LambdaArgs) -> Result<()> {
    lambda::check_env().context("faasml lambda runs inside AWS Lambda or its emulator")?;
    let store = crate::platform::open_store(&args.platform.store, &[])?;
    let key = crate::platform::load_key(&args.platform)?;
    // Lambda's own payload limit applies to the fan-out unless one is given.
    let mut platform = args.platform.clone();
    platform
        .payload_limit
        .get_or_insert(crate::platform::LAMBDA_PAYLOAD_LIMIT);
    let config = crate::platform::worker_config(&platform, key.clone()).await?;
    let worker = Worker::with_auth(
        crate::registry(),
        store,
        config,
        lambda::sandbox_id(),
        key.map(Verifier::new),
    );
    lambda::run(worker).await?;
    Ok(())
}
