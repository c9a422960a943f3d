//! `faasml bench invoke`: the cost of invoking a no-op function, embedded or over HTTP, signed or
//! not.
//!
//! `--compare-signing ROUNDS` measures what signing adds: two in-process workers on loopback, one
//! without a key and one checking signatures, timed in alternating rounds of `--calls` sequential
//! calls each (the first of each pair alternating too), so that both see the same machine load;
//! it prints each round's p50, the medians, and the in-process CPU cost of signing and verifying.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use faasml_core::{Invoker, Platform, RetryPolicy};
use faasml_store::Store;
use faasml_worker::{HttpConfig, HttpPlatform, Key, RunningWorker, Verifier, Worker};

use super::quantile;
use crate::PlatformArgs;
use crate::platform::PlatformKind;

/// Options of `bench invoke`.
#[derive(Debug, Clone, Args)]
pub(crate) struct InvokeBench {
    /// Sequential calls to time (per round with --compare-signing).
    #[arg(long, default_value_t = 10_000)]
    calls: usize,
    /// Sign the requests (with the configured key, else a random one for the in-process worker),
    /// and have the in-process worker check them.
    #[arg(long)]
    signed: bool,
    /// Time unsigned and signed no-ops over loopback in this many alternating rounds.
    #[arg(long, value_name = "ROUNDS", conflicts_with = "signed")]
    compare_signing: Option<usize>,
    #[command(flatten)]
    platform: PlatformArgs,
}

/// A worker in this process on a loopback port, checking signatures with `key` if given, and
/// an `http` platform that calls it (signing with `key`).
async fn local_worker(
    args: &PlatformArgs,
    store: Store,
    key: Option<Key>,
    id: &str,
) -> Result<(RunningWorker, Arc<dyn Platform>)> {
    let config = crate::platform::embedded_config(args, None).await?;
    let worker = Worker::with_auth(
        crate::registry(),
        store,
        config,
        id,
        key.clone().map(Verifier::new),
    );
    let running = RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
        .await
        .context("cannot start the in-process worker")?;
    let platform: Arc<dyn Platform> =
        HttpPlatform::with_config(&running.url(), HttpConfig::default().with_key(key), None)?;
    Ok((running, platform))
}

/// The latencies of `calls` sequential no-ops, in microseconds, sorted.
async fn time_calls(invoker: &Invoker, calls: usize) -> Result<Vec<f64>> {
    let mut latencies = Vec::with_capacity(calls);
    for _ in 0..calls.max(1) {
        let t = Instant::now();
        invoker.invoke(faasml_workflows::NOOP, &()).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
    }
    invoker.take_records();
    latencies.sort_by(f64::total_cmp);
    Ok(latencies)
}

/// `faasml bench invoke`.
pub(crate) async fn run(args: InvokeBench) -> Result<()> {
    if let Some(rounds) = args.compare_signing {
        return compare_signing(&args, rounds).await;
    }
    let store = crate::platform::open_store(&args.platform.store, &[])?;
    let key = match (args.signed, crate::platform::load_key(&args.platform)?) {
        (true, Some(key)) => Some(key),
        (true, None) => Some(Key::generate()?),
        (false, _) => None,
    };
    // Over HTTP without --gateway: a worker in this process on a loopback port.
    let mut local = None;
    let platform = match (args.platform.platform, args.platform.gateway.as_deref()) {
        (PlatformKind::Http, None) => {
            let (running, platform) = local_worker(&args.platform, store, key, "bench").await?;
            local = Some(running);
            platform
        }
        _ => crate::platform::build(&args.platform, store, None).await?,
    };
    let target = match (&local, args.platform.gateway.as_deref()) {
        (Some(worker), _) => format!("in-process worker at {}", worker.url()),
        (None, Some(gateway)) if platform.name() == "http" => gateway.to_string(),
        _ => "this process".to_string(),
    };
    let name = platform.name().to_string();
    let invoker = Invoker::new(platform, "bench-invoke", RetryPolicy::default());
    time_calls(&invoker, 1000).await?;
    let latencies = time_calls(&invoker, args.calls).await?;
    // Over HTTP each concurrent call holds a connection (two sockets with a local worker).
    let fan = if name == "http" { 200 } else { 1000 };
    let t = Instant::now();
    invoker.map(faasml_workflows::NOOP, vec![(); fan]).await?;
    let fan_out = t.elapsed().as_secs_f64();
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    let signing = if args.signed { ", signed" } else { "" };
    println!(
        "{name} no-op invocation on {target}, {} sequential calls (warm instances, JSON payloads, records kept{signing})",
        latencies.len()
    );
    println!(
        "  p50 {:.1} us   p99 {:.1} us   mean {:.1} us   max {:.1} us",
        quantile(&latencies, 0.5),
        quantile(&latencies, 0.99),
        mean,
        quantile(&latencies, 1.0)
    );
    println!(
        "  fan-out of {fan} concurrent no-ops: {:.2} ms ({:.0} invocations/s)",
        fan_out * 1e3,
        fan as f64 / fan_out
    );
    if let Some(worker) = local {
        worker.stop().await?;
    }
    Ok(())
}

/// `--compare-signing ROUNDS`: unsigned and signed no-ops over loopback, alternately.
async fn compare_signing(args: &InvokeBench, rounds: usize) -> Result<()> {
    let rounds = rounds.max(1);
    let store = crate::platform::open_store(&args.platform.store, &[])?;
    let key = match crate::platform::load_key(&args.platform)? {
        Some(key) => key,
        None => Key::generate()?,
    };
    let (plain_worker, plain) =
        local_worker(&args.platform, store.clone(), None, "bench-unsigned").await?;
    let (signed_worker, signed) =
        local_worker(&args.platform, store, Some(key), "bench-signed").await?;
    let plain = Invoker::new(plain, "bench-unsigned", RetryPolicy::default());
    let signed = Invoker::new(signed, "bench-signed", RetryPolicy::default());
    time_calls(&plain, 1000).await?;
    time_calls(&signed, 1000).await?;
    println!(
        "http no-op invocation over loopback, unsigned vs signed: {rounds} alternating rounds of {} sequential calls",
        args.calls.max(1)
    );
    let (mut p50_plain, mut p50_signed) = (Vec::new(), Vec::new());
    for round in 1..=rounds {
        // Which goes first alternates too, so neither always runs right after the other.
        let (a, b) = if round % 2 == 1 {
            let a = quantile(&time_calls(&plain, args.calls).await?, 0.5);
            (a, quantile(&time_calls(&signed, args.calls).await?, 0.5))
        } else {
            let b = quantile(&time_calls(&signed, args.calls).await?, 0.5);
            (quantile(&time_calls(&plain, args.calls).await?, 0.5), b)
        };
        println!(
            "  round {round}: p50 unsigned {a:.1} us   signed {b:.1} us   ({:+.1}%)",
            (b / a - 1.0) * 100.0
        );
        p50_plain.push(a);
        p50_signed.push(b);
    }
    p50_plain.sort_by(f64::total_cmp);
    p50_signed.sort_by(f64::total_cmp);
    let (a, b) = (quantile(&p50_plain, 0.5), quantile(&p50_signed, 0.5));
    println!(
        "  median p50: unsigned {a:.1} us   signed {b:.1} us   ratio {:.3} ({:+.1}%)",
        b / a,
        (b / a - 1.0) * 100.0
    );
    // The CPU cost alone: signing and verifying a no-op's request in this process.
    let key = Key::generate()?;
    let verifier = Verifier::new(key.clone());
    let n = 20_000u32;
    let t = Instant::now();
    for _ in 0..n {
        let signature = key.sign("POST", "/function/faasml.noop", "bench-signed", b"null")?;
        verifier.verify(
            "POST",
            "/function/faasml.noop",
            "bench-signed",
            b"null",
            &signature,
        )?;
    }
    println!(
        "  sign + verify in-process: {:.2} us per request",
        t.elapsed().as_secs_f64() * 1e6 / f64::from(n)
    );
    plain_worker.stop().await?;
    signed_worker.stop().await?;
    Ok(())
}
