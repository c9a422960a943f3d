//! [`RedisState`]: the state store on a Redis server (`redis://host:port[/db][?ttl=SECONDS]`).
//!
//! Every operation is atomic on the server, so concurrent writers never lose an update: `INCRBY`
//! for counters, a Lua script for compare-and-swap, and for the element-wise f32 add an
//! optimistic transaction with a Lua fallback (below). Values use the same bytes as
//! [`EmbeddedState`](crate::EmbeddedState): f32 vectors little-endian, counters as decimal
//! strings.
//!
//! # `add_f32`
//!
//! The add is optimistic: `WATCH key` + `GET key` (one round trip), the f32 sum computed here,
//! exactly as `EmbeddedState` computes it, then `MULTI`/`SET key sum`/`EXEC` (one round trip).
//! `EXEC` sets nothing and answers nil when any write touched the key after `WATCH` (another
//! add, a `put`, a compare-and-swap, the Lua add), so a conflicting round changes nothing and is
//! retried after a random pause that grows with the round (up to 16 ms). After
//! `OPTIMISTIC_ROUNDS` (8) lost rounds the add falls back to a Lua script that reads, adds and
//! writes in one server-side step and cannot conflict, so every add lands. A missing key is
//! zeros, and `WATCH` also notices its creation. Adds from clones of one store to one key take
//! turns (an async lock per key), so they never invalidate each other; only adders in other
//! processes (or other stores) conflict.
//!
//! `WATCH` state belongs to a connection, and the shared connection carries other tasks'
//! commands, so each in-flight add uses a connection of its own from a small pool (kept only
//! when no `WATCH` is pending on it, dropped after any error).
//!
//! Why: the server-side Lua add unpacks and packs floats with `struct` at about 4-6M floats/s,
//! 13-22 ms for a 83,247-float gradient, and blocks the server meanwhile (larger chunks than 64
//! floats gain only about 15%). A compare-and-swap in Lua (`GET` compared with the bytes read,
//! then `SET`) is no cure either: every 325 KiB string that enters Lua costs about 0.45 ms on
//! the server, because Redis's Lua hashes every byte of a new string (`step = 1` in its
//! `deps/lua/src/lstring.c`), and that script takes three (value, expected, new): 1.4 ms of
//! server time, 3.7-4.4 ms per add end to end. Comparing `redis.sha1hex` of the value instead
//! costs more (1.2 ms for `GET` plus hash). `WATCH` moves no value through Lua: the server
//! spends about 60 us per add (`GET` and `SET`). Measured on loopback with
//! `examples/add_f32_bench.rs` (2-core machine shared with other work, so ranges over runs),
//! 83,247 floats per add:
//!
//! | path | 1 pusher, ms per add | 3 pushers, adds/s | 6 pushers, adds/s |
//! | --- | --- | --- | --- |
//! | Lua add (the fallback, the old path) | 13-22 | 35-78 | 34-83 |
//! | Lua compare-and-swap (tried, dropped) | 3.7-4.4 | | |
//! | `WATCH`/`MULTI`/`EXEC`, clones of one store | 0.30-0.69 | 1440-2750 | 1370-3280 |
//! | `WATCH`/`MULTI`/`EXEC`, separate stores | | 590-1230 | 420-1020 |
//! | plain `GET` of the vector (for scale) | 0.14-0.33 | | |
//!
//! With 6 separate stores on one key, an add takes 1.7-2.0 rounds on average and 0.4-1.2% of
//! adds fall back to the Lua add.
//!
//! # Time-to-live
//!
//! Every write gives its key a time-to-live (24 h unless the URL says `?ttl=SECONDS`; `ttl=0`
//! for none), so the keys of a run that was killed before it cleared its namespace go away by
//! themselves: `put` is `SET .. PX`, compare-and-swap and the Lua add set with `PX` in their
//! scripts, the optimistic add commits `SET .. PX` in its `MULTI`/`EXEC`, and `incr` sends
//! `INCRBY` and `PEXPIRE` in one `MULTI`/`EXEC` (one round trip; no counter is ever left without
//! its time-to-live). Each write renews it, so a key lives `ttl` past its last write. The `ttl`
//! parameter is taken off the URL before the redis crate sees it.
//!
//! Measured with `examples/ttl_cost.rs` (loopback, dev profile, 2-core machine under a load of
//! about 12, the two modes alternating operation by operation; medians of 1,000-2,000 adds and
//! 10,000-20,000 incrs per mode over 4 runs): the 325 KiB `add_f32` took 560-1,085 us with
//! and without the time-to-live alike (differences of -13 to +19 us, -1.3% to +2.8%, within the
//! noise); `incr` took 60-100 us with it against 59-94 us without, +1.6 to +6.5 us (+2.7% to
//! +6.9%), the server's cost of `MULTI`, `PEXPIRE` and `EXEC`.
//!
//! The connection is a `ConnectionManager` (one multiplexed connection, reconnected on failure)
//! with connection and response timeouts and few reconnection attempts, so a server that is down
//! or goes away mid-run is a [`StateError::Backend`] naming the URL within seconds, never a hang.
//! The add's own connections have the same timeouts and are never reconnected behind its back
//! (a reconnection would silently drop the `WATCH`).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use bytes::Bytes;
use redis::AsyncConnectionConfig;
use redis::aio::{ConnectionManager, ConnectionManagerConfig, MultiplexedConnection};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind, Value};

use crate::{StateError, StateStore, add_le_in_place, check_update_len, decode_f32};

/// Adds ARGV[1] (little-endian f32s) element-wise to the vector under KEYS[1] (missing = zeros):
/// the fallback of [`RedisState::add_f32`] when its optimistic rounds keep conflicting. ARGV[2]
/// is the key's time-to-live in milliseconds, '0' for none.
///
/// Redis 7 runs Lua 5.1 with the `struct` library; values are unpacked and packed in chunks of
/// 64 floats. Sums are computed in double precision and rounded once to f32 by `struct.pack`,
/// which gives exactly the f32 sum `EmbeddedState` computes.
const ADD_F32_LUA: &str = r#"
local delta = ARGV[1]
local n = #delta
if n % 4 ~= 0 then
  return redis.error_reply('FAASML_WRONGTYPE update of ' .. n .. ' bytes is not a whole number of f32s')
end
local cur = redis.call('GET', KEYS[1])
if not cur then
  cur = string.rep('\0', n)
elseif #cur % 4 ~= 0 then
  return redis.error_reply('FAASML_WRONGTYPE value of ' .. #cur .. ' bytes is not a whole number of f32s')
elseif #cur ~= n then
  return redis.error_reply('FAASML_WRONGTYPE vector has ' .. (#cur / 4) .. ' elements, update has ' .. (n / 4))
end
local count = n / 4
local chunk = 64
local full = '<' .. string.rep('f', chunk)
local out = {}
local i, pos, parts = 0, 1, 0
while i < count do
  local m = math.min(chunk, count - i)
  local fmt = full
  if m < chunk then fmt = '<' .. string.rep('f', m) end
  local a = {struct.unpack(fmt, cur, pos)}
  local b = {struct.unpack(fmt, delta, pos)}
  for j = 1, m do a[j] = a[j] + b[j] end
  parts = parts + 1
  out[parts] = struct.pack(fmt, unpack(a, 1, m))
  pos = pos + 4 * m
  i = i + m
end
if ARGV[2] ~= '0' then
  redis.call('SET', KEYS[1], table.concat(out), 'PX', ARGV[2])
else
  redis.call('SET', KEYS[1], table.concat(out))
end
return count
"#;

/// Sets KEYS[1] to ARGV[3] if its value is ARGV[2] (ARGV[1] = '1') or it is absent (ARGV[1] = '0'),
/// with a time-to-live of ARGV[4] milliseconds ('0' for none).
const CAS_LUA: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
if ARGV[4] ~= '0' then
  redis.call('SET', KEYS[1], ARGV[3], 'PX', ARGV[4])
else
  redis.call('SET', KEYS[1], ARGV[3])
end
return 1
"#;

/// How many optimistic rounds [`RedisState::add_f32`] tries before it falls back to the
/// server-side Lua add, which cannot conflict.
const OPTIMISTIC_ROUNDS: usize = 8;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);
/// The time-to-live in seconds every write gives its key unless the URL says otherwise
/// (`?ttl=SECONDS`): 24 h, long past any run, short enough that a killed run's keys go away.
const DEFAULT_TTL_SECS: u64 = 24 * 3600;
/// The longest time-to-live a URL may ask for (ten years); far beyond any run, and far from the
/// point where Redis rejects an expiry time as out of range.
const MAX_TTL_SECS: u64 = 10 * 365 * 24 * 3600;
/// How many idle connections of its own `add_f32` keeps.
const MAX_IDLE_CONNECTIONS: usize = 16;
/// How many per-key locks are remembered before unused ones are forgotten.
const PRUNE_LOCKS_AT: usize = 64;

/// What the optimistic `add_f32` shares between the clones of a store.
struct Adds {
    client: redis::Client,
    config: AsyncConnectionConfig,
    /// Idle connections with no `WATCH` pending.
    idle: Mutex<Vec<MultiplexedConnection>>,
    /// One lock per key being added to, so that this store's adds to a key take turns.
    turns: Mutex<HashMap<String, Weak<tokio::sync::Mutex<()>>>>,
    /// Commit attempts (`EXEC`s) so far.
    rounds: AtomicU64,
    /// Adds that fell back to the Lua add so far.
    fallbacks: AtomicU64,
}

/// A lock that a poisoned mutex does not break (the data are always consistent).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

impl Adds {
    /// An idle connection of the add's own (`true`: kept from an earlier add), or a new one.
    async fn connection(&self) -> Result<(MultiplexedConnection, bool), RedisError> {
        if let Some(conn) = lock(&self.idle).pop() {
            return Ok((conn, true));
        }
        Ok((self.connect().await?, false))
    }

    /// A new connection.
    async fn connect(&self) -> Result<MultiplexedConnection, RedisError> {
        self.client
            .get_multiplexed_async_connection_with_config(&self.config)
            .await
    }

    /// Drops the idle connections (after one of them turned out to be broken).
    fn forget_idle(&self) {
        lock(&self.idle).clear();
    }

    /// Keeps `conn`, which has no `WATCH` pending, for a later add.
    fn keep(&self, conn: MultiplexedConnection) {
        let mut idle = lock(&self.idle);
        if idle.len() < MAX_IDLE_CONNECTIONS {
            idle.push(conn);
        }
    }

    /// The lock of `key` (made on first use; forgotten once no add holds it).
    fn turn(&self, key: &str) -> Arc<tokio::sync::Mutex<()>> {
        let mut turns = lock(&self.turns);
        if let Some(turn) = turns.get(key).and_then(Weak::upgrade) {
            return turn;
        }
        if turns.len() >= PRUNE_LOCKS_AT {
            turns.retain(|_, turn| turn.strong_count() > 0);
        }
        let turn = Arc::new(tokio::sync::Mutex::new(()));
        turns.insert(key.to_string(), Arc::downgrade(&turn));
        turn
    }
}

/// `text` with Redis glob metacharacters (`*`, `?`, `[`, `]`, backslash) escaped, so a MATCH
/// pattern built from it matches it literally.
fn glob_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '[' | ']' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// The pause before optimistic round `round` (1, 2, ...): random, below 2, 4, 8 and then 16 ms,
/// so that adders in different processes stop colliding.
async fn backoff(round: usize) {
    use std::hash::BuildHasher;
    let random = std::collections::hash_map::RandomState::new().hash_one(Instant::now());
    let micros = random % (1000 << round.min(4));
    tokio::time::sleep(Duration::from_micros(micros)).await;
}

/// A [`StateStore`] on a Redis server.
#[derive(Clone)]
pub struct RedisState {
    url: String,
    conn: ConnectionManager,
    add_f32: Script,
    cas: Script,
    adds: Arc<Adds>,
    /// The time-to-live of written keys in milliseconds; `None`: keys persist.
    ttl_ms: Option<u64>,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisState")
            .field("url", &self.url)
            .field("ttl_ms", &self.ttl_ms)
            .finish_non_exhaustive()
    }
}

/// The URL with any password replaced, for messages.
fn redact(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((_, host)) => format!("{scheme}://***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// Splits our `ttl` query parameter off `url`: the URL for the redis crate (every other query
/// parameter kept, in order) and the time-to-live in milliseconds (`None`: keys persist;
/// [`DEFAULT_TTL_SECS`] when the URL names none). The value must be whole seconds in decimal digits,
/// at most [`MAX_TTL_SECS`], and given once; anything else is an error naming it.
fn split_ttl(url: &str) -> Result<(String, Option<u64>), String> {
    let (base, fragment) = match url.split_once('#') {
        Some((base, fragment)) => (base, Some(fragment)),
        None => (url, None),
    };
    let Some((before, query)) = base.split_once('?') else {
        return Ok((url.to_string(), Some(DEFAULT_TTL_SECS * 1000)));
    };
    let mut ttl = None;
    let mut rest = Vec::new();
    for pair in query.split('&') {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if name != "ttl" {
            rest.push(pair);
            continue;
        }
        if ttl.is_some() {
            return Err("ttl given more than once".to_string());
        }
        let seconds = Some(value)
            .filter(|v| !v.is_empty() && v.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|v| v.parse::<u64>().ok())
            .filter(|&s| s <= MAX_TTL_SECS)
            .ok_or_else(|| {
                format!(
                    "bad ttl '{value}': expected whole seconds from 0 (keys persist) \
                     to {MAX_TTL_SECS}"
                )
            })?;
        ttl = Some(seconds);
    }
    let mut stripped = before.to_string();
    if !rest.is_empty() {
        stripped.push('?');
        stripped.push_str(&rest.join("&"));
    }
    if let Some(fragment) = fragment {
        stripped.push('#');
        stripped.push_str(fragment);
    }
    let seconds = ttl.unwrap_or(DEFAULT_TTL_SECS);
    Ok((stripped, (seconds > 0).then_some(seconds * 1000)))
}

impl RedisState {
    /// Connects to `redis://host:port[/db][?ttl=SECONDS]` (also `rediss://` is parsed, but TLS is
    /// not built in).
    ///
    /// Every write gives its key a time-to-live of `ttl` seconds (24 h, when
    /// the URL names none; `ttl=0`: keys persist), so the keys of a run that was killed before
    /// it cleaned up expire. A `ttl` that is not whole seconds is an error naming it.
    ///
    /// Fails within a few seconds with [`StateError::Backend`] naming the URL when the server
    /// does not answer.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let shown = redact(url);
        let backend = |reason: String| StateError::Backend {
            url: shown.clone(),
            reason,
        };
        let (url, ttl_ms) = split_ttl(url).map_err(|e| backend(format!("bad URL: {e}")))?;
        let client = redis::Client::open(url).map_err(|e| backend(format!("bad URL: {e}")))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(CONNECT_TIMEOUT))
            .set_response_timeout(Some(RESPONSE_TIMEOUT))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(100))
            .set_max_delay(Duration::from_secs(1));
        let conn = client
            .get_connection_manager_with_config(config)
            .await
            .map_err(|e| backend(format!("cannot connect: {e}")))?;
        Ok(Self {
            url: shown,
            conn,
            add_f32: Script::new(ADD_F32_LUA),
            cas: Script::new(CAS_LUA),
            adds: Arc::new(Adds {
                client,
                config: AsyncConnectionConfig::new()
                    .set_connection_timeout(Some(CONNECT_TIMEOUT))
                    .set_response_timeout(Some(RESPONSE_TIMEOUT)),
                idle: Mutex::new(Vec::new()),
                turns: Mutex::new(HashMap::new()),
                rounds: AtomicU64::new(0),
                fallbacks: AtomicU64::new(0),
            }),
            ttl_ms,
        })
    }

    /// The time-to-live every write gives its key; `None` when keys persist (`ttl=0`).
    pub fn ttl(&self) -> Option<Duration> {
        self.ttl_ms.map(Duration::from_millis)
    }

    /// The time-to-live as a script argument: milliseconds, `0` for none.
    fn ttl_arg(&self) -> u64 {
        self.ttl_ms.unwrap_or(0)
    }

    /// `SET key value`, with `PX` the time-to-live when there is one.
    fn set_cmd(&self, key: &str, value: &[u8]) -> redis::Cmd {
        let mut cmd = redis::cmd("SET");
        cmd.arg(key).arg(value);
        if let Some(ms) = self.ttl_ms {
            cmd.arg("PX").arg(ms);
        }
        cmd
    }

    /// The server-side add: one Lua script that reads, adds and writes the vector (about 4-6M
    /// floats/s, blocking the server meanwhile). [`StateStore::add_f32`] falls back to it after
    /// `OPTIMISTIC_ROUNDS` (8) conflicts; public only so that the benchmark can compare the paths.
    #[doc(hidden)]
    pub async fn add_f32_lua(&self, key: &str, delta: &[f32]) -> Result<(), StateError> {
        let mut conn = self.conn.clone();
        let bytes: Vec<u8> = delta.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_f32
            .key(key)
            .arg(bytes)
            .arg(self.ttl_arg())
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| self.error("add_f32", key, e))
    }

    /// `(commit attempts, Lua fallbacks)` of [`StateStore::add_f32`] since [`RedisState::connect`],
    /// over all clones of this store; for the benchmark.
    #[doc(hidden)]
    pub fn add_f32_counts(&self) -> (u64, u64) {
        (
            self.adds.rounds.load(Ordering::Relaxed),
            self.adds.fallbacks.load(Ordering::Relaxed),
        )
    }

    /// Maps a Redis error: errors the server raised about the value are [`StateError::WrongType`],
    /// everything else (IO, timeouts, a server that went away) is [`StateError::Backend`].
    fn error(&self, op: &str, key: &str, e: RedisError) -> StateError {
        let about_value = matches!(
            e.kind(),
            ErrorKind::Server(ServerErrorKind::ResponseError) | ErrorKind::Extension
        ) && !e.is_io_error()
            && !e.is_timeout();
        if about_value {
            let reason = match (e.code(), e.detail()) {
                (Some("FAASML_WRONGTYPE"), Some(detail)) => detail.to_string(),
                _ => e.to_string(),
            };
            StateError::WrongType {
                key: key.to_string(),
                reason,
            }
        } else {
            let what = if e.is_timeout() {
                "timed out"
            } else if e.is_connection_dropped() || e.is_connection_refusal() || e.is_io_error() {
                "server unreachable"
            } else {
                "failed"
            };
            StateError::Backend {
                url: self.url.clone(),
                reason: format!("{op} '{key}' {what}: {e}"),
            }
        }
    }
}

#[async_trait]
impl StateStore for RedisState {
    fn url(&self) -> &str {
        &self.url
    }

    async fn get(&self, key: &str) -> Result<Option<Bytes>, StateError> {
        let mut conn = self.conn.clone();
        let value: Option<Vec<u8>> = redis::cmd("GET")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("get", key, e))?;
        Ok(value.map(Bytes::from))
    }

    async fn put(&self, key: &str, value: Bytes) -> Result<(), StateError> {
        let mut conn = self.conn.clone();
        self.set_cmd(key, &value)
            .query_async::<()>(&mut conn)
            .await
            .map_err(|e| self.error("put", key, e))
    }

    async fn delete(&self, key: &str) -> Result<bool, StateError> {
        let mut conn = self.conn.clone();
        let removed: i64 = redis::cmd("DEL")
            .arg(key)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("delete", key, e))?;
        Ok(removed > 0)
    }

    async fn delete_prefix(&self, prefix: &str) -> Result<u64, StateError> {
        // SCAN in batches with a MATCH pattern that takes the prefix literally, then UNLINK each
        // batch: bounded work per command, unlike KEYS, and the server frees memory lazily.
        let pattern = format!("{}*", glob_escape(prefix));
        let mut conn = self.conn.clone();
        let mut cursor: u64 = 0;
        let mut removed = 0u64;
        loop {
            let (next, keys): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg(&pattern)
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error("scan", prefix, e))?;
            if !keys.is_empty() {
                let n: u64 = redis::cmd("UNLINK")
                    .arg(&keys)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| self.error("unlink", prefix, e))?;
                removed += n;
            }
            if next == 0 {
                return Ok(removed);
            }
            cursor = next;
        }
    }

    async fn incr(&self, key: &str, by: i64) -> Result<i64, StateError> {
        let mut conn = self.conn.clone();
        let Some(ms) = self.ttl_ms else {
            return redis::cmd("INCRBY")
                .arg(key)
                .arg(by)
                .query_async(&mut conn)
                .await
                .map_err(|e| self.error("incr", key, e));
        };
        // One round trip: INCRBY and PEXPIRE in one transaction, so no counter is ever left
        // without its time-to-live. A failed INCRBY (not a counter, an overflow) changes nothing
        // and its error is reported as if it had been sent alone.
        let (value,): (i64,) = redis::pipe()
            .atomic()
            .cmd("INCRBY")
            .arg(key)
            .arg(by)
            .cmd("PEXPIRE")
            .arg(key)
            .arg(ms)
            .ignore()
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("incr", key, first_server_error(e)))?;
        Ok(value)
    }

    async fn add_f32(&self, key: &str, delta: &[f32]) -> Result<(), StateError> {
        let turn = self.adds.turn(key);
        let _turn = turn.lock().await;
        let error = |e| self.error("add_f32", key, e);
        // On every early return the connection is dropped, with whatever WATCH it had.
        let (mut conn, mut kept) = self.adds.connection().await.map_err(error)?;
        for round in 0..OPTIMISTIC_ROUNDS {
            if round > 0 {
                backoff(round).await;
            }
            let current = match watch_get(&mut conn, key).await {
                Ok(current) => current,
                // A kept connection that the server closed (it restarted, or dropped idle
                // clients): WATCH and GET changed nothing, so they are retried once on a new
                // connection, and the other kept connections, likely broken too, are dropped.
                Err(e) if kept && is_connection_lost(&e) => {
                    self.adds.forget_idle();
                    conn = self.adds.connect().await.map_err(error)?;
                    watch_get(&mut conn, key).await.map_err(error)?
                }
                Err(e) => return Err(error(e)),
            };
            kept = false;
            let sum = add_le(key, current.as_deref(), delta)?;
            let committed: Value = redis::pipe()
                .atomic()
                .add_command(self.set_cmd(key, &sum))
                .query_async(&mut conn)
                .await
                .map_err(error)?;
            self.adds.rounds.fetch_add(1, Ordering::Relaxed);
            // EXEC also ends the WATCH, so the connection is clean either way.
            if committed != Value::Nil {
                self.adds.keep(conn);
                return Ok(());
            }
        }
        self.adds.keep(conn);
        self.adds.fallbacks.fetch_add(1, Ordering::Relaxed);
        self.add_f32_lua(key, delta).await
    }

    async fn get_f32(&self, key: &str) -> Result<Option<Vec<f32>>, StateError> {
        match self.get(key).await? {
            None => Ok(None),
            Some(bytes) => decode_f32(key, &bytes).map(Some),
        }
    }

    async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&[u8]>,
        new: Bytes,
    ) -> Result<bool, StateError> {
        let mut conn = self.conn.clone();
        let (flag, expected) = match expected {
            Some(bytes) => ("1", bytes),
            None => ("0", &b""[..]),
        };
        let swapped: i64 = self
            .cas
            .key(key)
            .arg(flag)
            .arg(expected)
            .arg(&new[..])
            .arg(self.ttl_arg())
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error("compare_and_swap", key, e))?;
        Ok(swapped == 1)
    }
}

/// `WATCH key` and `GET key`, in one round trip.
async fn watch_get(
    conn: &mut MultiplexedConnection,
    key: &str,
) -> Result<Option<Vec<u8>>, RedisError> {
    let (current,): (Option<Vec<u8>>,) = redis::pipe()
        .cmd("WATCH")
        .arg(key)
        .ignore()
        .cmd("GET")
        .arg(key)
        .query_async(conn)
        .await?;
    Ok(current)
}

/// The first server error of a failed transaction (or `e` itself), so that a command's error maps
/// the same whether it was sent alone or in a `MULTI`/`EXEC`.
fn first_server_error(e: RedisError) -> RedisError {
    match e.clone().into_server_errors() {
        Some(errors) => match errors.first() {
            Some((_, first)) => first.clone().into(),
            None => e,
        },
        None => e,
    }
}

/// Whether `e` says the connection is gone (rather than slow, or the request wrong).
fn is_connection_lost(e: &RedisError) -> bool {
    !e.is_timeout() && (e.is_connection_dropped() || e.is_unrecoverable_error())
}

/// `current` (little-endian f32s; `None` = zeros) plus `delta`, element-wise in f32, as
/// little-endian bytes: exactly what [`EmbeddedState`](crate::EmbeddedState) stores.
fn add_le(key: &str, current: Option<&[u8]>, delta: &[f32]) -> Result<Vec<u8>, StateError> {
    let mut out = match current {
        None => vec![0u8; delta.len() * 4],
        Some(bytes) => {
            check_update_len(key, bytes.len(), delta.len())?;
            bytes.to_vec()
        }
    };
    add_le_in_place(&mut out, delta);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_le_is_the_embedded_f32_sum() {
        let current = [1.5f32, -0.0, 0.1, f32::MAX, 1e-45, -3.0];
        let delta = [0.25f32, -0.0, 0.2, f32::MAX, -1e-45, 3.0];
        let bytes: Vec<u8> = current.iter().flat_map(|v| v.to_le_bytes()).collect();
        let want: Vec<u8> = current
            .iter()
            .zip(&delta)
            .flat_map(|(c, d)| (c + d).to_le_bytes())
            .collect();
        assert_eq!(add_le("k", Some(&bytes), &delta).unwrap(), want);
        // Missing = zeros: +0.0 + -0.0 is +0.0, as in EmbeddedState.
        let fresh = add_le("k", None, &[-0.0, 2.0]).unwrap();
        assert_eq!(fresh, [0.0f32.to_le_bytes(), 2.0f32.to_le_bytes()].concat());
        let err = add_le("k", Some(&bytes), &delta[..2]).unwrap_err();
        assert!(matches!(err, StateError::WrongType { .. }), "{err}");
        assert!(err.to_string().contains("'k'"), "{err}");
        let err = add_le("k", Some(&bytes[..5]), &delta[..1]).unwrap_err();
        assert!(err.to_string().contains("5 bytes"), "{err}");
    }

    #[test]
    fn ttl_is_parsed_strictly_and_stripped_from_the_url() {
        let day = Some(24 * 3600 * 1000);
        let ok = |url: &str| split_ttl(url).unwrap();
        assert_eq!(ok("redis://h:1/0"), ("redis://h:1/0".to_string(), day));
        assert_eq!(
            ok("redis://h:1/0?ttl=60"),
            ("redis://h:1/0".to_string(), Some(60_000))
        );
        assert_eq!(ok("redis://h:1/?ttl=0"), ("redis://h:1/".to_string(), None));
        assert_eq!(
            ok("redis://h:1/?protocol=resp3&ttl=5&x=1"),
            ("redis://h:1/?protocol=resp3&x=1".to_string(), Some(5000))
        );
        assert_eq!(
            ok("redis://h:1/?protocol=2"),
            ("redis://h:1/?protocol=2".to_string(), day)
        );
        let max = MAX_TTL_SECS.to_string();
        assert_eq!(
            ok(&format!("redis://h/?ttl={max}")).1,
            Some(MAX_TTL_SECS * 1000)
        );
        for bad in [
            "",
            "-1",
            "+5",
            "1.5",
            "1h",
            " 1",
            "abc",
            "99999999999999999999999",
        ] {
            let err = split_ttl(&format!("redis://h:1/?ttl={bad}")).unwrap_err();
            assert!(err.contains(&format!("'{bad}'")), "{err}");
        }
        let err = split_ttl(&format!("redis://h/?ttl={}", MAX_TTL_SECS + 1)).unwrap_err();
        assert!(err.contains("bad ttl"), "{err}");
        let err = split_ttl("redis://h/?ttl=1&ttl=2").unwrap_err();
        assert!(err.contains("more than once"), "{err}");
    }

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(redact("redis://:pw@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }
}
