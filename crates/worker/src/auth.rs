//! Signed invocations: the shared [`Key`], the request signature, and the worker's [`Verifier`].
//!
//! Every invocation a keyed worker accepts carries three headers:
//!
//! | header | value |
//! | --- | --- |
//! | `x-faasml-timestamp` | the signing time, in Unix seconds |
//! | `x-faasml-nonce` | 32 lowercase hex characters (128 random bits from the system's RNG) |
//! | `x-faasml-signature` | hex HMAC-SHA256 of the canonical string under the key |
//!
//! The canonical string binds everything that decides what runs and where its results go:
//!
//! ```text
//! faasml-v1\n{METHOD}\n{path}\n{timestamp}\n{nonce}\n{run id}\n{hex sha256(body)}
//! ```
//!
//! with the path as the worker receives it (`/function/ml-training.pca`, also behind an OpenFaaS
//! gateway, which strips its own `/function/<dns name>` prefix) and the run id header's value as
//! sent (empty when there is none). A Lambda event carries the same three values in its `auth` field,
//! signed with method `LAMBDA` and the function name as the path.
//!
//! The [`Verifier`] checks, in this order: the headers are there and well formed; the timestamp
//! is within the skew window (±300 s by default); the signature is right, compared in constant
//! time (`ring::hmac::verify`); the nonce was not seen within the window. Nonces are remembered
//! only after their signature checked, so only a key holder can fill the replay cache; it is
//! bounded, and a cache full of nonces that are still live refuses the request (503, retryable)
//! instead of growing or forgetting a nonce that could then be replayed.
//!
//! **Key.** [`Key::load`] looks, in order, at an explicit file (`--key-file`,
//! `FAASML_KEY_FILE`), the `FAASML_KEY` variable, the file `FAASML_KEY` under
//! `$FAASML_SECRETS_DIR`, and the OpenFaaS secret mount `/var/openfaas/secrets/faasml-key`. A key
//! file that exists but cannot be read, is empty or is too short is an error naming the file:
//! a broken secret never silently turns signing off.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use ring::rand::SecureRandom as _;
use ring::{digest, hmac};

/// Header carrying the signing time in Unix seconds.
pub const HEADER_TIMESTAMP: &str = "x-faasml-timestamp";
/// Header carrying the request's nonce (32 hex characters).
pub const HEADER_NONCE: &str = "x-faasml-nonce";
/// Header carrying the hex HMAC-SHA256 signature.
pub const HEADER_SIGNATURE: &str = "x-faasml-signature";
/// The shortest key accepted, in bytes.
pub const MIN_KEY_LEN: usize = 16;
/// The default clock-skew window, in seconds either way.
pub const DEFAULT_WINDOW_S: u64 = 300;
/// The default number of nonces the replay cache holds.
pub const DEFAULT_REPLAY_CAPACITY: usize = 500_000;
/// The environment variable naming a key file.
pub const KEY_FILE_ENV: &str = "FAASML_KEY_FILE";
/// The environment variable holding the key itself.
pub const KEY_ENV: &str = "FAASML_KEY";
/// Where OpenFaaS mounts the secret `faasml-key`.
pub const OPENFAAS_KEY_PATH: &str = "/var/openfaas/secrets/faasml-key";
/// The method a Lambda event is signed with.
pub const LAMBDA_METHOD: &str = "LAMBDA";
/// The first line of the canonical string, naming the scheme's version.
const SCHEME: &str = "faasml-v1";

/// Why a key could not be loaded or a request is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthError {
    /// A key file exists (or was named) but cannot be used.
    #[error("cannot use the key file {path}: {reason}")]
    KeyFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// The key is shorter than [`MIN_KEY_LEN`] bytes.
    #[error("the key from {from} is {len} bytes long; at least {MIN_KEY_LEN} are required")]
    KeyTooShort {
        /// Where it came from.
        from: String,
        /// Its length.
        len: usize,
    },
    /// The request carries no signature at all.
    #[error(
        "missing signature: this worker only runs signed requests (header {header} is absent; \
         give the caller the worker's key with --key-file or FAASML_KEY)"
    )]
    MissingSignature {
        /// The first absent header.
        header: &'static str,
    },
    /// A signature header does not parse.
    #[error("malformed signature header {header}: {reason}")]
    Malformed {
        /// The header (or Lambda `auth` field).
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// The signature does not match: another key, or a changed method, path, run id or body.
    #[error(
        "bad signature: the request was not signed with this worker's key, or its method, path, \
         run id or body changed on the way"
    )]
    BadSignature,
    /// The timestamp is too far from the worker's clock.
    #[error(
        "stale signature: timestamp {skew_s} s outside the ±{window_s} s window (check the clocks)"
    )]
    Stale {
        /// The signing time minus the worker's time, in seconds.
        skew_s: i64,
        /// The window.
        window_s: u64,
    },
    /// The nonce was already used within the window.
    #[error("nonce replayed: {nonce} was already used within the last {window_s} s")]
    Replayed {
        /// The nonce.
        nonce: String,
        /// The window.
        window_s: u64,
    },
    /// The replay cache is full of live nonces.
    #[error("the replay cache is full ({capacity} nonces within the window); retry later")]
    ReplayCacheFull {
        /// Its capacity.
        capacity: usize,
    },
    /// The system's random number generator failed.
    #[error("the system random number generator failed")]
    Random,
}

impl AuthError {
    /// Whether the request was refused for its credentials (HTTP 401) rather than for the
    /// worker's load (HTTP 503, [`AuthError::ReplayCacheFull`]).
    pub fn is_unauthorized(&self) -> bool {
        !matches!(self, Self::ReplayCacheFull { .. } | Self::Random)
    }

    /// The envelope error type: `unauthorized`, or `unavailable` for a full cache.
    pub fn error_type(&self) -> &'static str {
        if self.is_unauthorized() {
            "unauthorized"
        } else {
            "unavailable"
        }
    }
}

/// The shared secret that signs and verifies requests. Its `Debug` shows only its length.
#[derive(Clone)]
pub struct Key {
    hmac: hmac::Key,
    len: usize,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Key(<{} bytes, redacted>)", self.len)
    }
}

impl Key {
    /// A key of `bytes`, which must be at least [`MIN_KEY_LEN`] long.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, AuthError> {
        Self::checked(bytes, "the given bytes")
    }

    fn checked(bytes: &[u8], from: &str) -> Result<Self, AuthError> {
        if bytes.len() < MIN_KEY_LEN {
            return Err(AuthError::KeyTooShort {
                from: from.to_string(),
                len: bytes.len(),
            });
        }
        Ok(Self {
            hmac: hmac::Key::new(hmac::HMAC_SHA256, bytes),
            len: bytes.len(),
        })
    }

    /// A fresh random 32-byte key (for tests and benchmarks; deployments share one key).
    pub fn generate() -> Result<Self, AuthError> {
        let mut bytes = [0u8; 32];
        ring::rand::SystemRandom::new()
            .fill(&mut bytes)
            .map_err(|_| AuthError::Random)?;
        Self::from_bytes(&bytes)
    }

    /// The key this process is configured with, if any: `file` (`--key-file`) or
    /// `$FAASML_KEY_FILE`, else `$FAASML_KEY`, else `$FAASML_SECRETS_DIR/FAASML_KEY`, else the
    /// OpenFaaS mount [`OPENFAAS_KEY_PATH`]. A trailing newline is dropped.
    pub fn load(file: Option<&Path>) -> Result<Option<Self>, AuthError> {
        Self::load_from(
            file,
            |name| std::env::var_os(name).filter(|v| !v.is_empty()),
            Path::new(OPENFAAS_KEY_PATH),
        )
    }

    /// [`Key::load`] with the environment read through `var` and the OpenFaaS mount at `mount`.
    fn load_from(
        file: Option<&Path>,
        var: impl Fn(&str) -> Option<std::ffi::OsString>,
        mount: &Path,
    ) -> Result<Option<Self>, AuthError> {
        let named = file
            .map(Path::to_path_buf)
            .or_else(|| var(KEY_FILE_ENV).map(PathBuf::from));
        if let Some(path) = named {
            return Self::from_file(&path).map(Some);
        }
        if let Some(value) = var(KEY_ENV) {
            let value = value.to_string_lossy().into_owned();
            return Self::checked(trim_newline(value.as_bytes()), KEY_ENV).map(Some);
        }
        let in_secrets_dir = var("FAASML_SECRETS_DIR").map(|dir| PathBuf::from(dir).join(KEY_ENV));
        for path in in_secrets_dir.iter().map(PathBuf::as_path).chain([mount]) {
            // Only a file that is not there at all means "no key here".
            match std::fs::symlink_metadata(path) {
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                _ => return Self::from_file(path).map(Some),
            }
        }
        Ok(None)
    }

    /// The key held by the file at `path` (trailing newline dropped).
    pub fn from_file(path: &Path) -> Result<Self, AuthError> {
        let fail = |reason: String| AuthError::KeyFile {
            path: path.to_path_buf(),
            reason,
        };
        let bytes = std::fs::read(path).map_err(|e| fail(e.to_string()))?;
        let key = trim_newline(&bytes);
        if key.is_empty() {
            return Err(fail("it is empty".to_string()));
        }
        if key.len() < MIN_KEY_LEN {
            return Err(fail(format!(
                "the key is {} bytes long; at least {MIN_KEY_LEN} are required",
                key.len()
            )));
        }
        Self::checked(key, &path.display().to_string())
    }

    /// Signs a request now, with a fresh random nonce.
    pub fn sign(
        &self,
        method: &str,
        path: &str,
        run_id: &str,
        body: &[u8],
    ) -> Result<Signature, AuthError> {
        let nonce = fresh_nonce()?;
        Ok(self.sign_at(method, path, run_id, body, unix_now(), &hex(&nonce)))
    }

    /// Signs a request at `timestamp` with `nonce` (for tests and replays of a known request).
    pub fn sign_at(
        &self,
        method: &str,
        path: &str,
        run_id: &str,
        body: &[u8],
        timestamp: u64,
        nonce: &str,
    ) -> Signature {
        let canonical = canonical(method, path, timestamp, nonce, run_id, body);
        let tag = hmac::sign(&self.hmac, canonical.as_bytes());
        Signature {
            timestamp,
            nonce: nonce.to_string(),
            signature: hex(tag.as_ref()),
        }
    }
}

/// The three values that sign a request.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Signature {
    /// Signing time, Unix seconds.
    pub timestamp: u64,
    /// 32 hex characters.
    pub nonce: String,
    /// Hex HMAC-SHA256.
    pub signature: String,
}

impl Signature {
    /// The signature as (header name, value) pairs.
    pub fn to_headers(&self) -> [(&'static str, String); 3] {
        [
            (HEADER_TIMESTAMP, self.timestamp.to_string()),
            (HEADER_NONCE, self.nonce.clone()),
            (HEADER_SIGNATURE, self.signature.clone()),
        ]
    }

    /// The signature in headers, `get` returning a header's value by (lowercase) name.
    pub fn from_headers<'a>(get: impl Fn(&str) -> Option<&'a str>) -> Result<Self, AuthError> {
        let header =
            |name: &'static str| get(name).ok_or(AuthError::MissingSignature { header: name });
        let signature = header(HEADER_SIGNATURE)?;
        let timestamp = header(HEADER_TIMESTAMP)?;
        let nonce = header(HEADER_NONCE)?;
        let timestamp = timestamp.parse::<u64>().map_err(|_| AuthError::Malformed {
            header: HEADER_TIMESTAMP,
            reason: "not a number of Unix seconds",
        })?;
        Ok(Self {
            timestamp,
            nonce: nonce.to_string(),
            signature: signature.to_string(),
        })
    }
}

/// The string a signature covers.
fn canonical(
    method: &str,
    path: &str,
    timestamp: u64,
    nonce: &str,
    run_id: &str,
    body: &[u8],
) -> String {
    let body_digest = digest::digest(&digest::SHA256, body);
    let mut out = String::with_capacity(160 + path.len() + run_id.len());
    let _ = write!(
        out,
        "{SCHEME}\n{method}\n{path}\n{timestamp}\n{nonce}\n{run_id}\n"
    );
    push_hex(&mut out, body_digest.as_ref());
    out
}

/// 16 random bytes from the system's RNG, drawn 4 KiB at a time: one `getrandom` call per 256
/// nonces instead of one per request. Each byte is handed out once and then zeroed.
fn fresh_nonce() -> Result<[u8; 16], AuthError> {
    struct Pool {
        bytes: [u8; 4096],
        used: usize,
    }
    static POOL: Mutex<Pool> = Mutex::new(Pool {
        bytes: [0; 4096],
        used: 4096,
    });
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if pool.used + 16 > pool.bytes.len() {
        ring::rand::SystemRandom::new()
            .fill(&mut pool.bytes)
            .map_err(|_| AuthError::Random)?;
        pool.used = 0;
    }
    let at = pool.used;
    let mut nonce = [0u8; 16];
    nonce.copy_from_slice(&pool.bytes[at..at + 16]);
    pool.bytes[at..at + 16].fill(0);
    pool.used = at + 16;
    Ok(nonce)
}

fn trim_newline(bytes: &[u8]) -> &[u8] {
    let mut end = bytes.len();
    while end > 0 && matches!(bytes[end - 1], b'\n' | b'\r') {
        end -= 1;
    }
    &bytes[..end]
}

fn push_hex(out: &mut String, bytes: &[u8]) {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    for b in bytes {
        out.push(DIGITS[usize::from(b >> 4)] as char);
        out.push(DIGITS[usize::from(b & 0xf)] as char);
    }
}

fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(2 * bytes.len());
    push_hex(&mut out, bytes);
    out
}

fn unhex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    };
    text.as_bytes()
        .chunks(2)
        .map(|pair| Some(digit(pair[0])? << 4 | digit(pair[1])?))
        .collect()
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// Checks signatures with a key, a clock-skew window and a bounded replay cache.
pub struct Verifier {
    key: Key,
    window_s: u64,
    capacity: usize,
    seen: Mutex<Seen>,
}

impl std::fmt::Debug for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Verifier")
            .field("key", &self.key)
            .field("window_s", &self.window_s)
            .field("capacity", &self.capacity)
            .finish_non_exhaustive()
    }
}

/// The nonces seen within the window, with when each may be forgotten.
#[derive(Default)]
struct Seen {
    nonces: HashSet<u128>,
    expiries: BinaryHeap<Reverse<(u64, u128)>>,
}

impl Verifier {
    /// A verifier with `key`, the default ±300 s window and replay cache capacity.
    pub fn new(key: Key) -> Self {
        Self {
            key,
            window_s: DEFAULT_WINDOW_S,
            capacity: DEFAULT_REPLAY_CAPACITY,
            seen: Mutex::new(Seen::default()),
        }
    }

    /// With a clock-skew window of `seconds` either way.
    pub fn window_s(mut self, seconds: u64) -> Self {
        self.window_s = seconds;
        self
    }

    /// With a replay cache of at most `nonces` entries.
    pub fn replay_capacity(mut self, nonces: usize) -> Self {
        self.capacity = nonces;
        self
    }

    /// The key it checks against.
    pub fn key(&self) -> &Key {
        &self.key
    }

    /// Checks `signature` over a request now.
    pub fn verify(
        &self,
        method: &str,
        path: &str,
        run_id: &str,
        body: &[u8],
        signature: &Signature,
    ) -> Result<(), AuthError> {
        self.verify_at(unix_now(), method, path, run_id, body, signature)
    }

    /// Checks `signature` over a request as if the time were `now` (Unix seconds).
    pub fn verify_at(
        &self,
        now: u64,
        method: &str,
        path: &str,
        run_id: &str,
        body: &[u8],
        signature: &Signature,
    ) -> Result<(), AuthError> {
        let nonce = (signature.nonce.len() == 32)
            .then(|| u128::from_str_radix(&signature.nonce, 16).ok())
            .flatten()
            .filter(|_| signature.nonce.bytes().all(|b| b.is_ascii_hexdigit()))
            .ok_or(AuthError::Malformed {
                header: HEADER_NONCE,
                reason: "not 32 hex characters",
            })?;
        let tag = unhex(&signature.signature)
            .filter(|t| t.len() == digest::SHA256_OUTPUT_LEN)
            .ok_or(AuthError::Malformed {
                header: HEADER_SIGNATURE,
                reason: "not 64 hex characters",
            })?;
        let skew = i128::from(signature.timestamp) - i128::from(now);
        if skew.unsigned_abs() > u128::from(self.window_s) {
            return Err(AuthError::Stale {
                skew_s: i64::try_from(skew).unwrap_or(i64::MAX),
                window_s: self.window_s,
            });
        }
        let canonical = canonical(
            method,
            path,
            signature.timestamp,
            &signature.nonce,
            run_id,
            body,
        );
        hmac::verify(&self.key.hmac, canonical.as_bytes(), &tag)
            .map_err(|_| AuthError::BadSignature)?;
        self.remember(now, signature.timestamp, nonce)
    }

    /// Records `nonce` (signed at `timestamp`) as used, refusing one already used.
    fn remember(&self, now: u64, timestamp: u64, nonce: u128) -> Result<(), AuthError> {
        // A poisoned lock only means another request panicked while holding it; the set is
        // still consistent (each change is one insert or one remove).
        let mut seen = self
            .seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let Seen { nonces, expiries } = &mut *seen;
        while let Some(Reverse((expiry, old))) = expiries.peek().copied() {
            if expiry >= now {
                break;
            }
            expiries.pop();
            nonces.remove(&old);
        }
        if nonces.contains(&nonce) {
            return Err(AuthError::Replayed {
                nonce: format!("{nonce:032x}"),
                window_s: self.window_s,
            });
        }
        if nonces.len() >= self.capacity {
            return Err(AuthError::ReplayCacheFull {
                capacity: self.capacity,
            });
        }
        // The signature stays acceptable until `timestamp + window`; after that the timestamp
        // check refuses it, so the nonce can be forgotten.
        nonces.insert(nonce);
        expiries.push(Reverse((timestamp.saturating_add(self.window_s), nonce)));
        Ok(())
    }
}

/// Checks an HTTP invocation on a keyed worker: the method, the path as received, the run id
/// header as received and the body. Returns the response that refuses it, if it fails: 401 (503
/// for a full replay cache) with an envelope whose error says what is wrong.
pub(crate) fn refusal_of(
    verifier: &Verifier,
    method: &axum::http::Method,
    uri: &axum::http::Uri,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Option<axum::response::Response> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let run_id = get(crate::protocol::HEADER_RUN_ID).unwrap_or("");
    Signature::from_headers(get)
        .and_then(|signature| {
            verifier.verify(method.as_str(), uri.path(), run_id, body, &signature)
        })
        .err()
        .map(refusal)
}

/// The 401 for a request to a keyed worker whose signature headers are missing, malformed or
/// outside the clock window: checked before the worker admits the request and reads its body,
/// so that unsigned requests cannot hold admission slots or body bytes.
pub(crate) fn early_refusal_of(
    verifier: &Verifier,
    headers: &axum::http::HeaderMap,
) -> Option<axum::response::Response> {
    let get = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let signature = match Signature::from_headers(get) {
        Ok(signature) => signature,
        Err(error) => return Some(refusal(error)),
    };
    let skew = i128::from(signature.timestamp) - i128::from(unix_now());
    (skew.unsigned_abs() > u128::from(verifier.window_s)).then(|| {
        refusal(AuthError::Stale {
            skew_s: i64::try_from(skew).unwrap_or(i64::MAX),
            window_s: verifier.window_s,
        })
    })
}

/// The HTTP answer to a request that `error` refuses.
fn refusal(error: AuthError) -> axum::response::Response {
    use axum::http::{StatusCode, header};
    use axum::response::IntoResponse as _;
    let status = if error.is_unauthorized() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let failure = if error.is_unauthorized() {
        faasml_core::FunctionError::permanent(error.error_type(), error.to_string())
    } else {
        faasml_core::FunctionError::new(error.error_type(), error.to_string())
    };
    let body = crate::protocol::Envelope::failure(failure).to_bytes();
    (status, [(header::CONTENT_TYPE, "application/json")], body).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PATH: &str = "/function/t.echo";

    fn key(byte: u8) -> Key {
        Key::from_bytes(&[byte; 32]).unwrap()
    }

    fn nonce(i: u32) -> String {
        format!("{i:032x}")
    }

    #[test]
    fn a_good_signature_verifies_once() {
        let key = key(1);
        let verifier = Verifier::new(key.clone());
        let signature = key.sign("POST", PATH, "run-1", b"{}").unwrap();
        assert_eq!(signature.nonce.len(), 32);
        assert_eq!(signature.signature.len(), 64);
        verifier
            .verify("POST", PATH, "run-1", b"{}", &signature)
            .unwrap();
        let err = verifier
            .verify("POST", PATH, "run-1", b"{}", &signature)
            .unwrap_err();
        assert!(matches!(err, AuthError::Replayed { .. }), "{err}");
        assert!(err.to_string().contains("nonce replayed"), "{err}");
        // Two signings of the same request differ (fresh nonces) and both pass.
        let again = key.sign("POST", PATH, "run-1", b"{}").unwrap();
        assert_ne!(again.nonce, signature.nonce);
        verifier
            .verify("POST", PATH, "run-1", b"{}", &again)
            .unwrap();
    }

    #[test]
    fn a_wrong_key_or_a_changed_request_is_a_bad_signature() {
        let verifier = Verifier::new(key(1));
        let now = 1_000_000;
        let signed = |key: &Key, i| key.sign_at("POST", PATH, "run-1", b"{}", now, &nonce(i));
        let check = |method, path, run_id, body: &[u8], s: &Signature| {
            verifier.verify_at(now, method, path, run_id, body, s)
        };
        let bad = [
            check("POST", PATH, "run-1", b"{}", &signed(&key(2), 1)),
            check("POST", PATH, "run-1", b"{ }", &signed(&key(1), 2)),
            check(
                "POST",
                "/function/t.fail",
                "run-1",
                b"{}",
                &signed(&key(1), 3),
            ),
            check("POST", PATH, "run-2", b"{}", &signed(&key(1), 4)),
            check("GET", PATH, "run-1", b"{}", &signed(&key(1), 5)),
        ];
        for err in bad {
            assert_eq!(err, Err(AuthError::BadSignature));
        }
        let mut tampered = signed(&key(1), 6);
        tampered.timestamp += 1;
        assert_eq!(
            check("POST", PATH, "run-1", b"{}", &tampered),
            Err(AuthError::BadSignature)
        );
        // A refused request does not burn its nonce: the genuine one still passes.
        check("POST", PATH, "run-1", b"{}", &signed(&key(1), 2)).unwrap();
        let message = AuthError::BadSignature.to_string();
        assert!(message.contains("bad signature"), "{message}");
    }

    #[test]
    fn stale_and_future_timestamps_are_refused_with_their_skew() {
        let key = key(1);
        let verifier = Verifier::new(key.clone());
        let now: u64 = 1_000_000;
        for (offset, ok) in [(-301i64, false), (-300, true), (300, true), (301, false)] {
            let ts = now.checked_add_signed(offset).unwrap();
            let s = key.sign_at(
                "POST",
                PATH,
                "",
                b"",
                ts,
                &nonce(offset.unsigned_abs() as u32 + u32::from(offset > 0) * 1000),
            );
            let result = verifier.verify_at(now, "POST", PATH, "", b"", &s);
            assert_eq!(result.is_ok(), ok, "{offset}: {result:?}");
            if !ok {
                let message = result.unwrap_err().to_string();
                assert!(
                    message.contains(&format!("timestamp {offset} s outside the ±300 s window")),
                    "{message}"
                );
            }
        }
    }

    #[test]
    fn nonces_are_forgotten_after_the_window_and_a_full_cache_refuses() {
        let key = key(1);
        let verifier = Verifier::new(key.clone()).window_s(10).replay_capacity(2);
        let sign = |ts, i| key.sign_at("POST", PATH, "r", b"x", ts, &nonce(i));
        verifier
            .verify_at(100, "POST", PATH, "r", b"x", &sign(100, 1))
            .unwrap();
        verifier
            .verify_at(100, "POST", PATH, "r", b"x", &sign(100, 2))
            .unwrap();
        let full = verifier.verify_at(105, "POST", PATH, "r", b"x", &sign(105, 3));
        assert_eq!(full, Err(AuthError::ReplayCacheFull { capacity: 2 }));
        assert!(!full.unwrap_err().is_unauthorized());
        // At 111 the first two are past their window: room again, and replaying them is
        // refused by the timestamp check instead.
        verifier
            .verify_at(111, "POST", PATH, "r", b"x", &sign(111, 3))
            .unwrap();
        let stale = verifier.verify_at(111, "POST", PATH, "r", b"x", &sign(100, 1));
        assert!(
            matches!(stale, Err(AuthError::Stale { skew_s: -11, .. })),
            "{stale:?}"
        );
    }

    #[test]
    fn missing_and_malformed_headers_say_what_is_wrong() {
        let err = Signature::from_headers(|_| None).unwrap_err();
        assert!(err.to_string().starts_with("missing signature"), "{err}");
        let headers = [
            (HEADER_SIGNATURE, "00"),
            (HEADER_TIMESTAMP, "soon"),
            (HEADER_NONCE, "n"),
        ];
        let get = |name: &str| headers.iter().find(|(h, _)| *h == name).map(|(_, v)| *v);
        let err = Signature::from_headers(get).unwrap_err();
        assert!(err.to_string().contains(HEADER_TIMESTAMP), "{err}");
        let verifier = Verifier::new(key(1));
        let mut s = key(1).sign("POST", PATH, "", b"").unwrap();
        s.nonce = "xyz".into();
        let err = verifier.verify("POST", PATH, "", b"", &s).unwrap_err();
        assert!(err.to_string().contains(HEADER_NONCE), "{err}");
        let round = key(1).sign("POST", PATH, "", b"").unwrap();
        let headers = round.to_headers();
        let get = |name: &str| {
            headers
                .iter()
                .find(|(h, _)| *h == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(Signature::from_headers(get).unwrap(), round);
    }

    #[test]
    fn keys_load_in_order_and_bad_files_are_errors() {
        let dir = tempfile::tempdir().unwrap();
        let good = dir.path().join("good");
        std::fs::write(&good, "0123456789abcdef0123\n").unwrap();
        let short = dir.path().join("short");
        std::fs::write(&short, "tiny\n").unwrap();
        let empty = dir.path().join("empty");
        std::fs::write(&empty, "\n").unwrap();
        let absent = dir.path().join("absent");
        let secrets = dir.path().join("secrets");
        std::fs::create_dir(&secrets).unwrap();
        let none = |_: &str| None;
        let env = |pairs: Vec<(&'static str, std::ffi::OsString)>| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| *k == name)
                    .map(|(_, v)| v.clone())
            }
        };

        // Nothing anywhere: no key.
        assert!(Key::load_from(None, none, &absent).unwrap().is_none());
        // The explicit file wins over everything.
        let key = Key::load_from(Some(&good), env(vec![(KEY_ENV, "x".into())]), &absent)
            .unwrap()
            .unwrap();
        assert_eq!(key.len, 20, "the newline is dropped");
        // FAASML_KEY_FILE, then FAASML_KEY.
        assert!(
            Key::load_from(
                None,
                env(vec![(KEY_FILE_ENV, good.clone().into())]),
                &absent
            )
            .unwrap()
            .is_some()
        );
        let from_env = Key::load_from(None, env(vec![(KEY_ENV, "k".repeat(16).into())]), &absent)
            .unwrap()
            .unwrap();
        assert_eq!(from_env.len, 16);
        let err = Key::load_from(None, env(vec![(KEY_ENV, "short".into())]), &absent).unwrap_err();
        assert!(err.to_string().contains("FAASML_KEY is 5 bytes"), "{err}");
        // The secrets directory, then the OpenFaaS mount.
        std::fs::write(secrets.join(KEY_ENV), "s".repeat(24)).unwrap();
        let k = Key::load_from(
            None,
            env(vec![("FAASML_SECRETS_DIR", secrets.clone().into())]),
            &good,
        )
        .unwrap()
        .unwrap();
        assert_eq!(k.len, 24);
        assert_eq!(Key::load_from(None, none, &good).unwrap().unwrap().len, 20);
        // Files that exist but cannot serve are errors naming them, never "no key".
        for (path, reason) in [
            (&short, "at least 16"),
            (&empty, "empty"),
            (&absent, "No such file"),
        ] {
            let err = Key::load_from(Some(path), none, &absent).unwrap_err();
            let message = err.to_string();
            assert!(
                message.contains(&path.display().to_string()) && message.contains(reason),
                "{message}"
            );
        }
        let err = Key::load_from(None, none, &short).unwrap_err();
        assert!(err.to_string().contains("short"), "{err}");
        // A directory where the key file should be is unreadable, not absent.
        let err = Key::load_from(None, none, dir.path()).unwrap_err();
        assert!(matches!(err, AuthError::KeyFile { .. }), "{err}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = Key::from_bytes(b"super-secret-key-material").unwrap();
        let shown = format!("{key:?} {:?}", Verifier::new(key.clone()));
        assert!(!shown.contains("super-secret"), "{shown}");
        assert!(shown.contains("25 bytes"), "{shown}");
        assert!(Key::from_bytes(b"short").is_err());
    }
}
