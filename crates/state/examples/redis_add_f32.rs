//! Rate of `add_f32` on an 80k-float vector (a 784-100-47 MLP) against a loopback
//! `redis-server` (`faasml-testkit`, or `FAASML_TEST_REDIS_URL`) and the embedded store. A
//! measurement, not a test: `cargo run --release -p faasml-state --example redis_add_f32 [OPS]`.

use std::sync::Arc;
use std::time::Instant;

use faasml_state::{EmbeddedState, StateStore};
use faasml_testkit::RedisServer;

const LEN: usize = 784 * 100 + 100 + 100 * 47 + 47;

/// `ops` adds from `tasks` concurrent tasks; returns adds per second.
async fn rate(state: Arc<dyn StateStore>, ops: usize, tasks: usize) -> f64 {
    let delta = Arc::new(vec![0.5f32; LEN]);
    state.add_f32("bench/w", &delta).await.expect("warm-up");
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let state = Arc::clone(&state);
            let delta = Arc::clone(&delta);
            tokio::spawn(async move {
                for _ in 0..ops / tasks {
                    state.add_f32("bench/w", &delta).await.expect("add_f32");
                }
            })
        })
        .collect();
    for h in handles {
        h.await.expect("task");
    }
    (ops / tasks * tasks) as f64 / start.elapsed().as_secs_f64()
}

#[tokio::main]
async fn main() {
    let ops: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(400);
    let server = RedisServer::start();
    let redis = faasml_state::open(server.url()).await.expect("connect");
    println!(
        "add_f32 of {LEN} floats ({} KiB), {ops} ops",
        LEN * 4 / 1024
    );
    for tasks in [1, 16] {
        let r = rate(Arc::clone(&redis), ops, tasks).await;
        println!(
            "redis     {tasks:>2} tasks: {r:>8.1} ops/s  ({:.1} ms/op)",
            1e3 / r
        );
        let e = rate(Arc::new(EmbeddedState::new()), ops, tasks).await;
        println!(
            "embedded  {tasks:>2} tasks: {e:>8.1} ops/s  ({:.2} ms/op)",
            1e3 / e
        );
    }
}
