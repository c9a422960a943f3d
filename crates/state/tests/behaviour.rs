//! One behavioural suite for every `StateStore`: run over `EmbeddedState` and over `RedisState`
//! on a real `redis-server` (started by `faasml-testkit` on 127.0.0.1, or the server named by
//! `FAASML_TEST_REDIS_URL`), plus the Redis failure modes (server down, server going away).

use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use faasml_state::{EmbeddedState, RedisState, StateError, StateStore};
use faasml_testkit::RedisServer;

/// The size of a 784-100-47 MLP's parameters.
const MLP_PARAMS: usize = 784 * 100 + 100 + 100 * 47 + 47;

async fn key_values(state: &dyn StateStore, ns: &str) {
    let k = format!("{ns}/kv");
    assert_eq!(state.get(&k).await.unwrap(), None);
    state
        .put(&k, Bytes::from_static(b"\0bin\xff"))
        .await
        .unwrap();
    assert_eq!(
        state.get(&k).await.unwrap(),
        Some(Bytes::from_static(b"\0bin\xff"))
    );
    assert!(state.delete(&k).await.unwrap());
    assert!(!state.delete(&k).await.unwrap());
    assert_eq!(state.get(&k).await.unwrap(), None);
}

async fn counters(state: &dyn StateStore, ns: &str) {
    let c = format!("{ns}/counter");
    assert_eq!(state.incr(&c, 2).await.unwrap(), 2);
    assert_eq!(state.incr(&c, -5).await.unwrap(), -3);
    // Counters are decimal strings, the same bytes on every backend.
    assert_eq!(
        state.get(&c).await.unwrap(),
        Some(Bytes::from_static(b"-3"))
    );
    state.put(&c, Bytes::from_static(b"40")).await.unwrap();
    assert_eq!(state.incr(&c, 2).await.unwrap(), 42);
    state
        .put(&c, Bytes::from(i64::MAX.to_string()))
        .await
        .unwrap();
    let err = state.incr(&c, 1).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
}

async fn vectors(state: &dyn StateStore, ns: &str) {
    let w = format!("{ns}/w");
    assert_eq!(state.get_f32(&w).await.unwrap(), None);
    state.add_f32(&w, &[1.0, 2.0, -0.0]).await.unwrap();
    state.add_f32(&w, &[0.5, -2.0, 0.1]).await.unwrap();
    assert_eq!(
        state.get_f32(&w).await.unwrap().unwrap(),
        vec![1.5, 0.0, 0.1]
    );
    // f32 little-endian bytes, the same on every backend; f32 rounding like Rust's.
    let expect: Vec<u8> = [1.5f32, 0.0, 0.1]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect();
    assert_eq!(state.get(&w).await.unwrap().unwrap(), Bytes::from(expect));
    let r = format!("{ns}/round");
    state.add_f32(&r, &[0.1, 1e8, 3.0e38]).await.unwrap();
    state.add_f32(&r, &[0.2, 1.0, 3.0e38]).await.unwrap();
    let got = state.get_f32(&r).await.unwrap().unwrap();
    assert_eq!(got[0].to_bits(), (0.1f32 + 0.2f32).to_bits());
    assert_eq!(got[1].to_bits(), (1e8f32 + 1.0f32).to_bits());
    assert_eq!(got[2], f32::INFINITY);
    let empty = format!("{ns}/empty");
    state.add_f32(&empty, &[]).await.unwrap();
    assert_eq!(state.get_f32(&empty).await.unwrap(), Some(vec![]));
}

async fn wrong_types_are_errors_naming_the_key(state: &dyn StateStore, ns: &str) {
    let w = format!("{ns}/typed");
    state.add_f32(&w, &[1.0, 2.0]).await.unwrap();
    let err = state.add_f32(&w, &[1.0]).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
    assert!(err.to_string().contains(&w), "{err}");
    let err = state.incr(&w, 1).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
    let text = format!("{ns}/text");
    state.put(&text, Bytes::from_static(b"abc")).await.unwrap();
    let err = state.get_f32(&text).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
    let err = state.add_f32(&text, &[1.0]).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
    assert!(err.to_string().contains(&text), "{err}");
    eprintln!("{}: {err}", state.url());
    // The failed operations changed nothing.
    assert_eq!(state.get_f32(&w).await.unwrap().unwrap(), vec![1.0, 2.0]);
    assert_eq!(state.get(&text).await.unwrap().unwrap(), &b"abc"[..]);
}

async fn compare_and_swap(state: &dyn StateStore, ns: &str) {
    let k = format!("{ns}/cas");
    assert!(state.compare_and_swap(&k, None, "a".into()).await.unwrap());
    assert!(!state.compare_and_swap(&k, None, "b".into()).await.unwrap());
    assert!(
        !state
            .compare_and_swap(&k, Some(b"x"), "b".into())
            .await
            .unwrap()
    );
    assert!(
        state
            .compare_and_swap(&k, Some(b"a"), "b".into())
            .await
            .unwrap()
    );
    assert_eq!(state.get(&k).await.unwrap().unwrap(), &b"b"[..]);
    // An empty value is a value, not an absence.
    assert!(
        state
            .compare_and_swap(&k, Some(b"b"), "".into())
            .await
            .unwrap()
    );
    assert!(!state.compare_and_swap(&k, None, "c".into()).await.unwrap());
    assert!(
        state
            .compare_and_swap(&k, Some(b""), "c".into())
            .await
            .unwrap()
    );
}

/// 16 tasks x `pushes` concurrent adds of a `len`-vector of ones: no update may be lost.
async fn concurrent_adds_lose_no_update(
    state: Arc<dyn StateStore>,
    key: String,
    len: usize,
    pushes: usize,
) {
    let delta = Arc::new(vec![1.0f32; len]);
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let state = Arc::clone(&state);
            let key = key.clone();
            let delta = Arc::clone(&delta);
            tokio::spawn(async move {
                for _ in 0..pushes {
                    state.add_f32(&key, &delta).await.unwrap();
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let got = state.get_f32(&key).await.unwrap().unwrap();
    assert_eq!(got.len(), len);
    let want = (16 * pushes) as f32;
    assert!(
        got.iter().all(|&v| v == want),
        "lost updates: {:?}",
        &got[..4]
    );
}

/// 16 tasks race to increment a counter through CAS loops: every increment lands once.
async fn cas_races(state: Arc<dyn StateStore>, key: String) {
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let state = Arc::clone(&state);
            let key = key.clone();
            tokio::spawn(async move {
                let mut wins = 0;
                for _ in 0..20 {
                    loop {
                        let current = state.get(&key).await.unwrap();
                        let n: u64 = current
                            .as_ref()
                            .map(|b| std::str::from_utf8(b).unwrap().parse().unwrap())
                            .unwrap_or(0);
                        let next = Bytes::from((n + 1).to_string());
                        if state
                            .compare_and_swap(&key, current.as_deref(), next)
                            .await
                            .unwrap()
                        {
                            wins += 1;
                            break;
                        }
                    }
                }
                wins
            })
        })
        .collect();
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 320);
    assert_eq!(state.get(&key).await.unwrap().unwrap(), &b"320"[..]);
}

/// The whole suite on one store; `ns` keeps runs on a shared server apart.
async fn suite(state: Arc<dyn StateStore>, ns: &str) {
    key_values(&*state, ns).await;
    counters(&*state, ns).await;
    vectors(&*state, ns).await;
    wrong_types_are_errors_naming_the_key(&*state, ns).await;
    compare_and_swap(&*state, ns).await;
    concurrent_adds_lose_no_update(Arc::clone(&state), format!("{ns}/small"), 3, 100).await;
    concurrent_adds_lose_no_update(Arc::clone(&state), format!("{ns}/mlp"), MLP_PARAMS, 10).await;
    cas_races(state, format!("{ns}/race")).await;
}

/// A namespace unique to this test process and test.
fn namespace(test: &str) -> String {
    format!("faasml-test/{}/{test}", std::process::id())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn embedded_state_behaves() {
    suite(Arc::new(EmbeddedState::new()), "e").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_state_behaves() {
    let server = RedisServer::start();
    let state = faasml_state::open(server.url()).await.unwrap();
    assert!(state.url().starts_with("redis://127.0.0.1:") || !server.is_owned());
    suite(state, &namespace("behaves")).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_and_embedded_share_the_byte_encoding() {
    let server = RedisServer::start();
    let redis = RedisState::connect(server.url()).await.unwrap();
    let embedded = EmbeddedState::new();
    let ns = namespace("encoding");
    for state in [&redis as &dyn StateStore, &embedded] {
        state
            .add_f32(&format!("{ns}/v"), &[0.25, -3.5, -0.0])
            .await
            .unwrap();
        state.incr(&format!("{ns}/c"), 7).await.unwrap();
    }
    for key in ["v", "c"] {
        let key = format!("{ns}/{key}");
        assert_eq!(
            redis.get(&key).await.unwrap(),
            embedded.get(&key).await.unwrap()
        );
    }
}

/// 8 pushers x 50 adds of a 20k-vector of ones, on 4 separately connected stores (two clones
/// of each), with two of the pushers using the server-side Lua add that the optimistic add falls
/// back to: adds conflict across stores and with the Lua adds, and every element ends at exactly
/// 400.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_contended_pushers_lose_no_update() {
    const LEN: usize = 20_000;
    const PUSHES: usize = 50;
    let server = RedisServer::start();
    let mut stores = Vec::new();
    for _ in 0..4 {
        stores.push(RedisState::connect(server.url()).await.unwrap());
    }
    let key = format!("{}/contended", namespace("contended"));
    let delta = Arc::new(vec![1.0f32; LEN]);
    let tasks: Vec<_> = (0..8)
        .map(|i| {
            let state = stores[i % stores.len()].clone();
            let key = key.clone();
            let delta = Arc::clone(&delta);
            tokio::spawn(async move {
                for _ in 0..PUSHES {
                    if i >= 6 {
                        state.add_f32_lua(&key, &delta).await.unwrap();
                    } else {
                        state.add_f32(&key, &delta).await.unwrap();
                    }
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    let got = stores[0].get_f32(&key).await.unwrap().unwrap();
    assert_eq!(got.len(), LEN);
    let lost = got.iter().filter(|&&v| v != 400.0).count();
    assert_eq!(lost, 0, "elements not 400: {lost}, first {:?}", &got[..4]);
    let (rounds, fallbacks) = stores
        .iter()
        .map(RedisState::add_f32_counts)
        .fold((0, 0), |(r, f), (dr, df)| (r + dr, f + df));
    eprintln!("300 optimistic adds: {rounds} commit attempts, {fallbacks} Lua fallbacks");
    assert!(
        rounds >= 300 - fallbacks,
        "{rounds} rounds, {fallbacks} fallbacks"
    );
}

/// A key of another Redis type is a `WrongType` naming the key, and the add that failed on it
/// leaves no trace on the connections later adds use.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_add_f32_on_a_list_is_a_wrong_type() {
    let server = RedisServer::start();
    let state = RedisState::connect(server.url()).await.unwrap();
    let ns = namespace("list");
    let list = format!("{ns}/list");
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    redis::cmd("RPUSH")
        .arg(&list)
        .arg("x")
        .exec_async(&mut raw)
        .await
        .unwrap();
    for _ in 0..3 {
        let err = state.add_f32(&list, &[1.0]).await.unwrap_err();
        assert!(matches!(err, StateError::WrongType { .. }), "{err}");
        assert!(err.to_string().contains(&list), "{err}");
        let v = format!("{ns}/v");
        state.add_f32(&v, &[1.0, 2.0]).await.unwrap();
        // A length mismatch fails before the commit, with a WATCH pending.
        assert!(state.add_f32(&v, &[1.0]).await.is_err());
    }
    // The failed adds left nothing behind: no WATCH on a reused connection makes this fail.
    let v = format!("{ns}/v");
    state.add_f32(&v, &[0.5, 0.5]).await.unwrap();
    assert_eq!(state.get_f32(&v).await.unwrap().unwrap(), vec![3.5, 6.5]);
}

/// The server closing idle connections (a restart, a `timeout` setting) costs no add.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_add_f32_survives_dropped_idle_connections() {
    // A private server: killing every client of a shared one would break other tests.
    let server = RedisServer::spawn();
    let state = RedisState::connect(server.url()).await.unwrap();
    let key = format!("{}/w", namespace("dropped"));
    // Several adds at once leave several idle connections behind.
    let adds: Vec<_> = (0..4)
        .map(|i| {
            let state = state.clone();
            let key = format!("{key}{i}");
            tokio::spawn(async move { state.add_f32(&key, &[1.0; 8]).await })
        })
        .collect();
    for add in adds {
        add.await.unwrap().unwrap();
    }
    let client = redis::Client::open(server.url()).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    for _ in 0..2 {
        let killed: i64 = redis::cmd("CLIENT")
            .arg("KILL")
            .arg("TYPE")
            .arg("normal")
            .query_async(&mut raw)
            .await
            .unwrap();
        assert!(killed >= 1, "{killed}");
        tokio::time::sleep(Duration::from_millis(50)).await;
        for i in 0..4 {
            state
                .add_f32(&format!("{key}{i}"), &[1.0; 8])
                .await
                .unwrap();
        }
    }
    for i in 0..4 {
        let got = state.get_f32(&format!("{key}{i}")).await;
        // The shared connection may need one failed command to notice; the value is there.
        let got = match got {
            Ok(got) => got,
            Err(_) => state.get_f32(&format!("{key}{i}")).await.unwrap(),
        };
        assert_eq!(got.unwrap(), vec![3.0; 8]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_down_is_a_fast_clear_error() {
    let port = faasml_testkit::free_port(); // bound then released: nothing listens there
    let url = format!("redis://127.0.0.1:{port}/");
    let start = Instant::now();
    let err = faasml_state::open(&url).await.unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "{:?}",
        start.elapsed()
    );
    assert!(matches!(err, StateError::Backend { .. }), "{err}");
    assert!(err.to_string().contains(&url), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_going_away_mid_run_is_a_fast_clear_error() {
    let mut server = RedisServer::spawn();
    let url = server.url().to_string();
    let state = RedisState::connect(&url).await.unwrap();
    state.add_f32("w", &[1.0; 16]).await.unwrap();
    server.stop();
    for op in 0..3 {
        let start = Instant::now();
        let err = state.add_f32("w", &[1.0; 16]).await.unwrap_err();
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "op {op} took {:?}",
            start.elapsed()
        );
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        assert!(err.to_string().contains(&url), "{err}");
    }
    let err = state.get("w").await.unwrap_err();
    assert!(matches!(err, StateError::Backend { .. }), "{err}");
    eprintln!("{err}");
}

/// `url` with the query parameter `ttl=value` added.
fn with_ttl(url: &str, value: &str) -> String {
    let sep = if url.contains('?') { '&' } else { '?' };
    format!("{url}{sep}ttl={value}")
}

/// Every writing operation on a fresh key and again on the same key made persistent (`PERSIST`)
/// in between, each followed by the key's `PTTL` in milliseconds (-1: no time-to-live).
async fn pttl_after_each_write(state: &RedisState, url: &str, ns: &str) -> Vec<(String, i64)> {
    let client = redis::Client::open(url).unwrap();
    let mut raw = client.get_multiplexed_async_connection().await.unwrap();
    let mut seen = Vec::new();
    for op in ["put", "cas", "incr", "add_f32", "add_f32_lua"] {
        let key = format!("{ns}/{op}");
        for round in 0..2 {
            match op {
                "put" => state.put(&key, Bytes::from_static(b"v")).await.unwrap(),
                "cas" => {
                    let expected = (round == 1).then_some(&b"0"[..]);
                    let swapped = state
                        .compare_and_swap(&key, expected, Bytes::from_static(b"0"))
                        .await
                        .unwrap();
                    assert!(swapped, "{key} round {round}");
                }
                "incr" => assert_eq!(state.incr(&key, 2).await.unwrap(), 2 * (round + 1)),
                "add_f32" => state.add_f32(&key, &[1.0, 2.0]).await.unwrap(),
                _ => state.add_f32_lua(&key, &[1.0, 2.0]).await.unwrap(),
            }
            let pttl: i64 = redis::cmd("PTTL")
                .arg(&key)
                .query_async(&mut raw)
                .await
                .unwrap();
            seen.push((format!("{op} round {round}"), pttl));
            redis::cmd("PERSIST")
                .arg(&key)
                .exec_async(&mut raw)
                .await
                .unwrap();
        }
    }
    seen
}

/// Keys written by every operation, new or existing, carry the configured time-to-live, so a
/// killed run's keys go away by themselves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_writes_give_keys_the_configured_ttl() {
    let server = RedisServer::start();
    let url = with_ttl(server.url(), "100");
    let state = RedisState::connect(&url).await.unwrap();
    assert_eq!(state.ttl(), Some(Duration::from_secs(100)));
    // The ttl parameter is ours; the redis crate never sees it, the URL shown keeps it.
    assert!(state.url().ends_with("ttl=100"), "{}", state.url());
    for (what, pttl) in pttl_after_each_write(&state, server.url(), &namespace("ttl")).await {
        assert!(pttl > 90_000 && pttl <= 100_000, "{what}: PTTL {pttl}");
    }
    // A failed incr inside the transaction is the same typed error as a plain INCRBY's.
    let key = format!("{}/text", namespace("ttl"));
    state.put(&key, Bytes::from_static(b"x")).await.unwrap();
    let err = state.incr(&key, 1).await.unwrap_err();
    assert!(matches!(err, StateError::WrongType { .. }), "{err}");
    assert!(err.to_string().contains(&key), "{err}");
    assert!(!err.to_string().contains("Pipeline"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_default_ttl_is_a_day() {
    let server = RedisServer::start();
    let state = RedisState::connect(server.url()).await.unwrap();
    assert_eq!(state.ttl(), Some(Duration::from_secs(24 * 3600)));
    let day = 24 * 3600 * 1000;
    for (what, pttl) in pttl_after_each_write(&state, server.url(), &namespace("day")).await {
        assert!(pttl > day - 60_000 && pttl <= day, "{what}: PTTL {pttl}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_ttl_zero_leaves_keys_persistent() {
    let server = RedisServer::start();
    let state = RedisState::connect(&with_ttl(server.url(), "0"))
        .await
        .unwrap();
    assert_eq!(state.ttl(), None);
    for (what, pttl) in pttl_after_each_write(&state, server.url(), &namespace("ttl0")).await {
        assert_eq!(pttl, -1, "{what}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redis_bad_ttl_is_an_error_naming_it() {
    let server = RedisServer::start();
    for bad in ["-5", "1.5", "24h", "", "315360001"] {
        let url = with_ttl(server.url(), bad);
        let err = faasml_state::open(&url).await.unwrap_err();
        assert!(matches!(err, StateError::Backend { .. }), "{err}");
        assert!(
            err.to_string().contains(&format!("bad ttl '{bad}'")),
            "{err}"
        );
    }
}

#[test]
fn unknown_state_urls_are_rejected_with_the_supported_list() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let err = rt.block_on(faasml_state::open("mongodb://x")).unwrap_err();
    assert!(err.to_string().contains("redis://"), "{err}");
}
