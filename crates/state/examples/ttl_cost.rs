//! What the time-to-live costs on `RedisState`'s hot path, against a loopback `redis-server`
//! (`faasml-testkit`, or `FAASML_TEST_REDIS_URL`): `add_f32` of an 83,247-float (325 KiB) vector
//! (`SET .. PX` instead of `SET` in its `MULTI`/`EXEC`) and `incr` (`INCRBY` + `PEXPIRE` in one
//! `MULTI`/`EXEC` instead of a plain `INCRBY`), each with the default 24 h time-to-live and with
//! `ttl=0` (none).
//!
//! A measurement, not a test:
//! `cargo run -p faasml-state --example ttl_cost [ADDS [INCRS]]` (default 1000 and 10000 per
//! mode). The two modes alternate operation by operation, and which goes first alternates too,
//! so drift in the load of a shared machine falls on both alike; each operation is timed alone
//! and the medians (with the 10th and 90th percentiles) are printed.

use std::time::{Duration, Instant};

use faasml_state::{RedisState, StateStore};
use faasml_testkit::RedisServer;

/// The size of a 784-100-47 MLP's parameters.
const LEN: usize = 784 * 100 + 100 + 100 * 47 + 47;

/// The `q`-quantile of `samples` (sorted here), in microseconds.
fn quantile_us(samples: &mut [Duration], q: f64) -> f64 {
    samples.sort_unstable();
    let i = ((samples.len() - 1) as f64 * q).round() as usize;
    samples[i].as_secs_f64() * 1e6
}

/// Prints one row: median, p10 and p90 of each mode, and the median difference.
fn report(op: &str, with: &mut [Duration], without: &mut [Duration]) {
    let (w50, w10, w90) = (
        quantile_us(with, 0.5),
        quantile_us(with, 0.1),
        quantile_us(with, 0.9),
    );
    let (n50, n10, n90) = (
        quantile_us(without, 0.5),
        quantile_us(without, 0.1),
        quantile_us(without, 0.9),
    );
    println!(
        "{op:<22} {:>7} {w50:>10.1} ({w10:.1}-{w90:.1}) {n50:>10.1} ({n10:.1}-{n90:.1}) {:>+9.1} ({:+.1}%)",
        with.len(),
        w50 - n50,
        100.0 * (w50 - n50) / n50
    );
}

/// `url` with the query parameter `ttl=value` added.
fn with_ttl(url: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}ttl={value}")
}

/// Times `n` calls of `op` on each store, alternating store by store.
async fn alternate<F, Fut>(stores: [&RedisState; 2], n: usize, op: F) -> [Vec<Duration>; 2]
where
    F: Fn(RedisState, usize) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut times = [Vec::with_capacity(n), Vec::with_capacity(n)];
    for i in 0..n {
        for turn in 0..2 {
            // Even i: with first; odd i: without first.
            let which = (i + turn) % 2;
            let start = Instant::now();
            op(stores[which].clone(), i).await;
            times[which].push(start.elapsed());
        }
    }
    times
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let adds: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1000);
    let incrs: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(10_000);
    let server = RedisServer::start();
    let with = RedisState::connect(server.url()).await.expect("connect");
    let without = RedisState::connect(&with_ttl(server.url(), "0"))
        .await
        .expect("connect with ttl=0");
    println!(
        "server {}, time-to-live {:?} against {:?}; {LEN} floats ({} KiB) per add",
        server.url(),
        with.ttl(),
        without.ttl(),
        LEN * 4 / 1024
    );
    println!(
        "{:<22} {:>7} {:>24} {:>24} {:>18}",
        "operation, us",
        "n/mode",
        "with ttl: median (p10-p90)",
        "ttl=0: median (p10-p90)",
        "difference"
    );
    let ns = format!("faasml-ttl-cost/{}", std::process::id());
    let stores = [&with, &without];

    // Warm up both: connections, the add's connection pool, the scripts.
    for store in stores {
        for i in 0..50 {
            store.incr(&format!("{ns}/warm"), 1).await.expect("incr");
            store
                .add_f32(&format!("{ns}/warm{i}"), &[1.0; 16])
                .await
                .expect("add_f32");
        }
    }

    let delta = vec![1.0f32; LEN];
    let add_key = |s: &RedisState| format!("{ns}/w/{}", s.ttl().is_some());
    let [mut w, mut n] = alternate(stores, adds, |s, _| {
        let key = add_key(&s);
        let delta = &delta;
        async move { s.add_f32(&key, delta).await.expect("add_f32") }
    })
    .await;
    report("add_f32 (325 KiB)", &mut w, &mut n);
    for s in stores {
        let got = s.get_f32(&add_key(s)).await.expect("get_f32");
        assert_eq!(got.map(|v| v[0]), Some(adds as f32), "lost adds");
    }

    let incr_key = |s: &RedisState| format!("{ns}/c/{}", s.ttl().is_some());
    let [mut w, mut n] = alternate(stores, incrs, |s, _| {
        let key = incr_key(&s);
        async move {
            s.incr(&key, 1).await.expect("incr");
        }
    })
    .await;
    report("incr", &mut w, &mut n);

    with.delete_prefix(&format!("{ns}/"))
        .await
        .expect("delete_prefix");
}
