//! `faasml bench invoke`: the cost of invoking a no-op function, embedded or over HTTP.

use std::time::Instant;

use anyhow::{Context, Result};
use clap::Args;
use faasml_core::{Invoker, RetryPolicy};

use crate::PlatformArgs;

/// Options of `bench invoke`.
#[derive(Debug, Clone, Args)]
pub(crate) struct InvokeBench {
    /// Sequential calls to time.
    #[arg(long, default_value_t = 10_000)]
    calls: usize,
    #[command(flatten)]
    platform: PlatformArgs,
}

/// `faasml bench invoke`.
pub(crate) async fn run(args: InvokeBench) -> Result<()> {
    let store = crate::platform::open_store(&args.platform.store, &[])?;
    // Over HTTP without --gateway: a worker in this process on a loopback port.
    let mut local_worker = None;
    let platform = match (args.platform.platform, args.platform.gateway.as_deref()) {
        (crate::platform::PlatformKind::Http, None) => {
            let config = crate::platform::embedded_config(&args.platform, None).await?;
            let worker = faasml_worker::Worker::new(crate::registry(), store, config, "bench");
            let running = faasml_worker::RunningWorker::start(worker, ([127, 0, 0, 1], 0).into())
                .await
                .context("cannot start the in-process worker")?;
            let platform: std::sync::Arc<dyn faasml_core::Platform> =
                faasml_worker::HttpPlatform::new(&running.url())?;
            local_worker = Some(running);
            platform
        }
        _ => crate::platform::build(&args.platform, store, None).await?,
    };
    let target = match (&local_worker, args.platform.gateway.as_deref()) {
        (Some(worker), _) => format!("in-process worker at {}", worker.url()),
        (None, Some(gateway)) if platform.name() == "http" => gateway.to_string(),
        _ => "this process".to_string(),
    };
    let name = platform.name().to_string();
    let invoker = Invoker::new(platform, "bench-invoke", RetryPolicy::default());
    for _ in 0..1000 {
        invoker.invoke(faasml_workflows::NOOP, &()).await?;
    }
    invoker.take_records();
    let mut latencies = Vec::with_capacity(args.calls);
    for _ in 0..args.calls.max(1) {
        let t = Instant::now();
        invoker.invoke(faasml_workflows::NOOP, &()).await?;
        latencies.push(t.elapsed().as_secs_f64() * 1e6);
    }
    invoker.take_records();
    // Over HTTP each concurrent call holds a connection (two sockets with a local worker).
    let fan = if name == "http" { 200 } else { 1000 };
    let t = Instant::now();
    invoker.map(faasml_workflows::NOOP, vec![(); fan]).await?;
    let fan_out = t.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    let mean = latencies.iter().sum::<f64>() / latencies.len() as f64;
    println!(
        "{name} no-op invocation on {target}, {} sequential calls (warm instances, JSON payloads, records kept)",
        latencies.len()
    );
    println!(
        "  p50 {:.1} us   p99 {:.1} us   mean {:.1} us   max {:.1} us",
        pct(0.5),
        pct(0.99),
        mean,
        pct(1.0)
    );
    println!(
        "  fan-out of {fan} concurrent no-ops: {:.2} ms ({:.0} invocations/s)",
        fan_out * 1e3,
        fan as f64 / fan_out
    );
    if let Some(worker) = local_worker {
        worker.stop().await?;
    }
    Ok(())
}
