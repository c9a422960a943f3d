//! Real servers for faasml tests, started on 127.0.0.1 and stopped on drop.
//!
//! - [`S3Server`]: an S3 server (`s3s` over `s3s-fs`) running in-process on its own thread and
//!   runtime, with access-key authentication, so it also serves other processes (workers a test
//!   spawns get its [`S3Server::env`]).
//! - [`RedisServer`]: a `redis-server` child process on a free port, or the server named by
//!   `FAASML_TEST_REDIS_URL`.
//!
//! Tests use real servers, never mocks, and never skip silently: a missing `redis-server`
//! binary is a panic that says how to install it.

use std::net::{SocketAddr, TcpListener as StdListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The access key id the test S3 server accepts.
pub const S3_ACCESS_KEY: &str = "AKIDFAASMLTEST";
/// The secret key the test S3 server accepts.
pub const S3_SECRET_KEY: &str = "faasml-test-secret-key";
/// The bucket every test S3 server creates.
pub const S3_BUCKET: &str = "faasml-test";

/// An S3 server on 127.0.0.1 backed by a temporary directory; stops when dropped.
#[derive(Debug)]
pub struct S3Server {
    addr: SocketAddr,
    root: tempfile::TempDir,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl S3Server {
    /// Starts a server on a free port with the bucket [`S3_BUCKET`] and the fixed test keys.
    ///
    /// Works from sync and async tests alike: the server runs on its own thread and runtime.
    pub fn start() -> Self {
        let root = tempfile::tempdir().expect("create a temporary directory for the S3 server");
        std::fs::create_dir_all(root.path().join(S3_BUCKET)).expect("create the test bucket");
        let listener = StdListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0 for S3");
        listener
            .set_nonblocking(true)
            .expect("make the S3 listener non-blocking");
        let addr = listener.local_addr().expect("S3 listener address");
        let fs = s3s_fs::FileSystem::new(root.path()).expect("open the S3 server root");
        let service = {
            let mut builder = s3s::service::S3ServiceBuilder::new(fs);
            builder.set_auth(s3s::auth::SimpleAuth::from_single(
                S3_ACCESS_KEY,
                S3_SECRET_KEY,
            ));
            builder.build()
        };
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name(format!("s3-server-{}", addr.port()))
            .spawn(move || serve(listener, service, rx))
            .expect("spawn the S3 server thread");
        wait_for_port(addr, Duration::from_secs(10), "the S3 server");
        Self {
            addr,
            root,
            shutdown: Some(tx),
            thread: Some(thread),
        }
    }

    /// The endpoint URL, e.g. `http://127.0.0.1:41234`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bucket name.
    pub fn bucket(&self) -> &str {
        S3_BUCKET
    }

    /// A store URL in the test bucket: `s3://faasml-test/PREFIX`.
    pub fn url(&self, prefix: &str) -> String {
        let prefix = prefix.trim_matches('/');
        if prefix.is_empty() {
            format!("s3://{S3_BUCKET}")
        } else {
            format!("s3://{S3_BUCKET}/{prefix}")
        }
    }

    /// The `AWS_*` variables a client (or a child process) needs to reach this server.
    pub fn env(&self) -> Vec<(String, String)> {
        self.env_with_secret(S3_SECRET_KEY)
    }

    /// Like [`S3Server::env`] but with another secret key, for authentication-failure tests.
    pub fn env_with_secret(&self, secret: &str) -> Vec<(String, String)> {
        [
            ("AWS_ACCESS_KEY_ID", S3_ACCESS_KEY.to_string()),
            ("AWS_SECRET_ACCESS_KEY", secret.to_string()),
            ("AWS_REGION", "us-east-1".to_string()),
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ALLOW_HTTP", "true".to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The directory holding the buckets (one sub-directory per bucket).
    pub fn root(&self) -> &Path {
        self.root.path()
    }
}

impl Drop for S3Server {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Accepts connections until `stop` fires, then drops the runtime and every connection.
fn serve(
    listener: StdListener,
    service: s3s::service::S3Service,
    mut stop: tokio::sync::oneshot::Receiver<()>,
) {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("s3-server-worker")
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("S3 test server: cannot build a runtime: {e}");
            return;
        }
    };
    runtime.block_on(async move {
        let listener = match tokio::net::TcpListener::from_std(listener) {
            Ok(listener) => listener,
            Err(e) => {
                eprintln!("S3 test server: cannot use the listener: {e}");
                return;
            }
        };
        let http =
            hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
        loop {
            let socket = tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((socket, _)) => socket,
                    Err(_) => continue,
                },
                _ = &mut stop => break,
            };
            let _ = socket.set_nodelay(true);
            let conn = http
                .serve_connection(hyper_util::rt::TokioIo::new(socket), service.clone())
                .into_owned();
            tokio::spawn(async move {
                let _ = conn.await;
            });
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
}

/// Waits until `addr` accepts TCP connections; panics after `limit`.
fn wait_for_port(addr: SocketAddr, limit: Duration, what: &str) {
    let start = Instant::now();
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            start.elapsed() < limit,
            "{what} did not start listening on {addr} within {limit:?}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A free TCP port on 127.0.0.1 for a server a test starts (bound, then released).
///
/// The port is drawn from 20000..32767, below Linux's ephemeral range (32768..60999), so the
/// kernel does not hand it to an outgoing connection meanwhile, and no port is returned twice in
/// one process, so tests running in parallel do not pick the same one. (Ports from `bind(0)`
/// come from the ephemeral range and collided with client connections in CI.)
pub fn free_port() -> u16 {
    use std::collections::HashSet;
    use std::sync::Mutex;
    static GIVEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);
    let mut given = GIVEN.lock().unwrap_or_else(|p| p.into_inner());
    let given = given.get_or_insert_with(HashSet::new);
    // A start that differs between processes (test binaries may run side by side).
    let seed = std::process::id() as u64
        ^ u64::from(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.subsec_nanos())
                .unwrap_or(0),
        );
    let span = 32767 - 20000;
    for i in 0..span {
        let port = 20000 + ((seed + i * 7919) % span) as u16;
        if given.contains(&port) {
            continue;
        }
        if StdListener::bind(("127.0.0.1", port)).is_ok() {
            given.insert(port);
            return port;
        }
    }
    StdListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("find a free port on 127.0.0.1")
}

/// A Redis server for one test: a `redis-server` child on a free port (killed on drop), or the
/// external server named by `FAASML_TEST_REDIS_URL`.
#[derive(Debug)]
pub struct RedisServer {
    url: String,
    child: Option<Child>,
    dir: Option<tempfile::TempDir>,
}

/// The message a test fails with when `redis-server` is missing.
pub const REDIS_MISSING: &str =
    "redis-server not found: apt-get install redis-server (or run .ci/run)";

impl RedisServer {
    /// Starts `redis-server` on a free port (or uses `FAASML_TEST_REDIS_URL` when set) and waits
    /// until it answers `PING`.
    ///
    /// Panics with [`REDIS_MISSING`] when the binary is not on `PATH`.
    pub fn start() -> Self {
        match std::env::var("FAASML_TEST_REDIS_URL") {
            Ok(url) if !url.is_empty() => Self {
                url,
                child: None,
                dir: None,
            },
            _ => Self::spawn(),
        }
    }

    /// Always spawns a private `redis-server` child, ignoring `FAASML_TEST_REDIS_URL` (for
    /// tests that stop the server).
    pub fn spawn() -> Self {
        let dir = tempfile::tempdir().expect("create a temporary directory for redis-server");
        let mut last_error = String::new();
        for _ in 0..5 {
            let port = free_port();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
                .arg("--dir")
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn();
            let mut child = match child {
                Ok(child) => child,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => panic!("{REDIS_MISSING}"),
                Err(e) => panic!("cannot start redis-server: {e}"),
            };
            let addr = SocketAddr::from(([127, 0, 0, 1], port));
            match wait_for_redis(addr, &mut child, Duration::from_secs(10)) {
                Ok(()) => {
                    return Self {
                        url: format!("redis://{addr}/"),
                        child: Some(child),
                        dir: Some(dir),
                    };
                }
                Err(e) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    last_error = e;
                }
            }
        }
        panic!("redis-server did not start: {last_error}");
    }

    /// The server URL, e.g. `redis://127.0.0.1:40123/`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Kills the server now (for "server goes away" tests). A no-op for an external server.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Whether this is a private child process (and [`RedisServer::stop`] really stops it).
    pub fn is_owned(&self) -> bool {
        self.child.is_some()
    }

    /// The temporary directory of a private server.
    pub fn dir(&self) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.path().to_path_buf())
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Waits until the server at `addr` answers `PING` with `+PONG`.
fn wait_for_redis(addr: SocketAddr, child: &mut Child, limit: Duration) -> Result<(), String> {
    use std::io::{Read, Write};
    let start = Instant::now();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            return Err(format!("redis-server on {addr} exited: {status}"));
        }
        if let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(200)) {
            let _ = stream.set_read_timeout(Some(Duration::from_millis(500)));
            let mut reply = [0u8; 7];
            if stream.write_all(b"PING\r\n").is_ok()
                && stream.read_exact(&mut reply).is_ok()
                && &reply == b"+PONG\r\n"
            {
                return Ok(());
            }
        }
        if start.elapsed() > limit {
            return Err(format!("no PONG from {addr} within {limit:?}"));
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}
