//! [`RedisState`]: the state store on a Redis server (`redis://host:port[/db]`).
//!
//! Every operation is one atomic server-side step: `INCRBY` for counters, and Lua scripts for
//! the element-wise f32 add and for compare-and-swap, so concurrent writers never lose an update.
//! Values use the same bytes as [`EmbeddedState`](crate::EmbeddedState): f32 vectors
//! little-endian, counters as decimal strings.
//!
//! The connection is a `ConnectionManager` (one multiplexed connection, reconnected on failure)
//! with connection and response timeouts and few reconnection attempts, so a server that is down
//! or goes away mid-run is a [`StateError::Backend`] naming the URL within seconds, never a hang.

use std::fmt;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::{ErrorKind, RedisError, Script, ServerErrorKind};

use crate::{StateError, StateStore, decode_f32};

/// Adds ARGV[1] (little-endian f32s) element-wise to the vector under KEYS[1] (missing = zeros).
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
redis.call('SET', KEYS[1], table.concat(out))
return count
"#;

/// Sets KEYS[1] to ARGV[3] if its value is ARGV[2] (ARGV[1] = '1') or it is absent (ARGV[1] = '0').
const CAS_LUA: &str = r#"
local cur = redis.call('GET', KEYS[1])
if ARGV[1] == '1' then
  if cur ~= ARGV[2] then return 0 end
elseif cur then
  return 0
end
redis.call('SET', KEYS[1], ARGV[3])
return 1
"#;

/// How long connecting may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long one command may wait for its reply.
const RESPONSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A [`StateStore`] on a Redis server.
#[derive(Clone)]
pub struct RedisState {
    url: String,
    conn: ConnectionManager,
    add_f32: Script,
    cas: Script,
}

impl fmt::Debug for RedisState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisState")
            .field("url", &self.url)
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

impl RedisState {
    /// Connects to `redis://host:port[/db]` (also `rediss://` is parsed, but TLS is not built in).
    ///
    /// Fails within a few seconds with [`StateError::Backend`] naming the URL when the server
    /// does not answer.
    pub async fn connect(url: &str) -> Result<Self, StateError> {
        let shown = redact(url);
        let backend = |reason: String| StateError::Backend {
            url: shown.clone(),
            reason,
        };
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
        })
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
        redis::cmd("SET")
            .arg(key)
            .arg(&value[..])
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

    async fn incr(&self, key: &str, by: i64) -> Result<i64, StateError> {
        let mut conn = self.conn.clone();
        redis::cmd("INCRBY")
            .arg(key)
            .arg(by)
            .query_async(&mut conn)
            .await
            .map_err(|e| self.error("incr", key, e))
    }

    async fn add_f32(&self, key: &str, delta: &[f32]) -> Result<(), StateError> {
        let mut conn = self.conn.clone();
        let bytes: Vec<u8> = delta.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.add_f32
            .key(key)
            .arg(bytes)
            .invoke_async::<i64>(&mut conn)
            .await
            .map(|_| ())
            .map_err(|e| self.error("add_f32", key, e))
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
            .invoke_async(&mut conn)
            .await
            .map_err(|e| self.error("compare_and_swap", key, e))?;
        Ok(swapped == 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redact_hides_passwords() {
        assert_eq!(redact("redis://:pw@h:1/0"), "redis://***@h:1/0");
        assert_eq!(redact("redis://127.0.0.1:6379/"), "redis://127.0.0.1:6379/");
    }
}
