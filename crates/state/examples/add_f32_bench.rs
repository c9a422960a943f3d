//! `RedisState::add_f32` of an 83,247-float vector (a 784-100-47 MLP's parameters, one
//! Downpour-SGD gradient) against a loopback `redis-server` (`faasml-testkit`, or
//! `FAASML_TEST_REDIS_URL`): the optimistic path (`WATCH`+`GET`, add here, `MULTI`/`SET`/`EXEC`,
//! the Lua add after repeated conflicts) against the server-side Lua add alone (the old path),
//! and a plain `GET` of the same key for scale.
//!
//! A measurement, not a test:
//! `cargo run -p faasml-state --release --example add_f32_bench [SECONDS_PER_ROW [FILTER]]`
//! (FILTER: run only the rows whose operation or mode contains it, e.g. `conns`).
//!
//! Pushers are tasks on a 2-thread runtime. "clones": every pusher uses a clone of one
//! `RedisState` (as the functions of one process share its store); "conns": every pusher uses a
//! store connected on its own (as separate worker processes do), so their adds conflict.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use faasml_state::{RedisState, StateStore};
use faasml_testkit::RedisServer;

/// The size of a 784-100-47 MLP's parameters.
const LEN: usize = 784 * 100 + 100 + 100 * 47 + 47;

#[derive(Clone, Copy, PartialEq)]
enum Op {
    Optimistic,
    Lua,
    Get,
}

impl Op {
    fn name(self) -> &'static str {
        match self {
            Op::Optimistic => "add_f32 (WATCH, new)",
            Op::Lua => "add_f32 (Lua add, old)",
            Op::Get => "GET (reference)",
        }
    }
}

/// Runs `pushers` tasks doing `op` on `key` for `secs`; returns (ops done, elapsed).
async fn run(
    stores: &[RedisState],
    op: Op,
    key: &str,
    pushers: usize,
    secs: f64,
) -> (u64, Duration) {
    let delta = Arc::new(vec![1.0f32; LEN]);
    let done = Arc::new(AtomicU64::new(0));
    let deadline = Instant::now() + Duration::from_secs_f64(secs);
    let start = Instant::now();
    let tasks: Vec<_> = (0..pushers)
        .map(|i| {
            let state = stores[i % stores.len()].clone();
            let delta = Arc::clone(&delta);
            let done = Arc::clone(&done);
            let key = key.to_string();
            tokio::spawn(async move {
                while Instant::now() < deadline {
                    match op {
                        Op::Optimistic => state.add_f32(&key, &delta).await.expect("add_f32"),
                        Op::Lua => state.add_f32_lua(&key, &delta).await.expect("add_f32_lua"),
                        Op::Get => {
                            state.get(&key).await.expect("get");
                        }
                    }
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.expect("pusher");
    }
    (done.load(Ordering::Relaxed), start.elapsed())
}

/// `(commit attempts, Lua fallbacks)` of the optimistic adds of `stores` so far.
fn counts(stores: &[RedisState]) -> (u64, u64) {
    stores
        .iter()
        .map(RedisState::add_f32_counts)
        .fold((0, 0), |(r, f), (dr, df)| (r + dr, f + df))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: f64 = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2.0);
    let filter = std::env::args().nth(2).unwrap_or_default();
    let server = RedisServer::start();
    let one = RedisState::connect(server.url()).await.expect("connect");
    let mut conns = Vec::new();
    for _ in 0..6 {
        conns.push(RedisState::connect(server.url()).await.expect("connect"));
    }
    println!(
        "{LEN} floats ({} KiB) per add, {secs} s per row, server {}",
        LEN * 4 / 1024,
        server.url()
    );
    println!(
        "{:<26} {:>6} {:>8} {:>10} {:>12} {:>10} {:>10}",
        "operation", "mode", "pushers", "ms/op", "ops/s", "rounds/op", "fallback%"
    );
    let key = format!("faasml-bench/{}/w", std::process::id());
    for op in [Op::Lua, Op::Optimistic, Op::Get] {
        for (mode, stores) in [
            ("clones", std::slice::from_ref(&one)),
            ("conns", &conns[..]),
        ] {
            for pushers in [1, 3, 6] {
                let wanted = op.name().contains(&filter) || mode.contains(&filter);
                if (pushers == 1 && mode == "conns") || !wanted {
                    continue;
                }
                one.delete(&key).await.expect("delete");
                one.add_f32(&key, &vec![0.0; LEN]).await.expect("seed");
                let (r0, f0) = counts(stores);
                let (ops, elapsed) = run(stores, op, &key, pushers, secs).await;
                let (r1, f1) = counts(stores);
                let (rounds, fallbacks) = (r1 - r0, f1 - f0);
                let rate = ops as f64 / elapsed.as_secs_f64();
                let (rpo, fb) = if op == Op::Optimistic {
                    (
                        format!("{:.2}", rounds as f64 / ops as f64),
                        format!("{:.1}", 100.0 * fallbacks as f64 / ops as f64),
                    )
                } else {
                    ("-".to_string(), "-".to_string())
                };
                println!(
                    "{:<26} {:>6} {:>8} {:>10.3} {:>12.1} {:>10} {:>10}",
                    op.name(),
                    mode,
                    pushers,
                    1e3 * elapsed.as_secs_f64() * pushers as f64 / ops as f64,
                    rate,
                    rpo,
                    fb
                );
                if op != Op::Get {
                    let got = one.get_f32(&key).await.expect("get_f32").expect("value");
                    assert!(
                        got.iter().all(|&v| v == ops as f32),
                        "lost updates: {} of {ops}",
                        got[0]
                    );
                }
            }
        }
    }
    one.delete(&key).await.expect("delete");
}
