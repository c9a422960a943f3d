//! `faasml run --platform http` against real `faasml serve` processes on 127.0.0.1 sharing an S3
//! store (the testkit's S3 server): the same accuracy as the embedded run, invocations spread
//! over the workers, a worker killed before and during a run, and every worker gone; and
//! downpour on workers sharing a real Redis parameter server, one of them killed mid-training;
//! workers with a key, which run only the requests of a driver holding it.

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, ChildStdout, Command, Output, Stdio};
use std::time::{Duration, Instant};

use faasml_testkit::{RedisServer, S3Server, free_port};
use serde_json::Value;

/// A `faasml serve` child process, killed when dropped.
struct WorkerProcess {
    child: Child,
    port: u16,
    /// Kept open so that the worker's later writes to stdout do not fail.
    _stdout: BufReader<ChildStdout>,
}

impl WorkerProcess {
    /// Starts a worker on `port` over `store`, sending nested invocations to `gateway`.
    fn start(dir: &Path, port: u16, store: &str, gateway: &str, env: &[(String, String)]) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_faasml"))
            .current_dir(dir)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--store", store, "--gateway", gateway, "--concurrency", "2"])
            .env_remove("FAASML_STORE")
            .env_remove("FAASML_PLATFORM")
            .env_remove("PORT")
            .env_remove("HOSTNAME")
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("faasml serve starts");
        let mut stdout = BufReader::new(child.stdout.take().expect("worker stdout"));
        let mut line = String::new();
        let read = stdout.read_line(&mut line).unwrap_or(0);
        if read == 0 || !line.contains("listening on") {
            let _ = child.kill();
            panic!("worker on port {port} did not start (its stderr is above): {line}");
        }
        assert!(line.contains(&format!("http://127.0.0.1:{port}")), "{line}");
        Self {
            child,
            port,
            _stdout: stdout,
        }
    }

    /// Kills the process (SIGKILL, as a crashed container) and waits for it.
    fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for WorkerProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs `faasml` to completion in `dir` with the S3 environment.
fn faasml(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    command(dir, args, env).output().expect("faasml runs")
}

fn command(dir: &Path, args: &[&str], env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faasml"));
    cmd.current_dir(dir)
        .args(args)
        .env_remove("FAASML_STORE")
        .env_remove("FAASML_GATEWAY")
        .env_remove("FAASML_PLATFORM")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The accuracy of a successful `--json` run.
fn accuracy(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "run failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let document: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON result ({e}): {}", text(&out.stdout)));
    assert!(document["run_id"].is_string(), "{document}");
    assert!(document["wall_seconds"].is_f64(), "{document}");
    let result = &document["result"];
    assert!(result["accuracy"].is_f64(), "{result}");
    result["accuracy"].clone()
}

/// The one report written under `dir/<report dir>`.
fn report(dir: &Path, report_dir: &str) -> Value {
    let runs: Vec<_> = std::fs::read_dir(dir.join(report_dir))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert_eq!(runs.len(), 1, "{runs:?}");
    serde_json::from_slice(&std::fs::read(runs[0].join("report.json")).unwrap()).unwrap()
}

fn training_args<'a>(store: &'a str, report_dir: &'a str) -> Vec<&'a str> {
    vec![
        "run",
        "ml-training",
        "--trees",
        "20",
        "--seed",
        "7",
        "--store",
        store,
        "--report-dir",
        report_dir,
        "--json",
    ]
}

/// The invocation records of a report.
fn invocations(report: &Value) -> &Vec<Value> {
    report["invocations"].as_array().expect("invocations")
}

fn on_port(records: &[Value], port: u16) -> usize {
    let suffix = format!(":{port}");
    records
        .iter()
        .filter(|r| r["instance"].as_str().unwrap_or("").ends_with(&suffix))
        .count()
}

/// The invocations a worker is running, from its `GET /healthz` (0 if it does not answer).
fn in_flight(port: u16) -> u64 {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) else {
        return 0;
    };
    let request = "GET /healthz HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n";
    let mut answer = String::new();
    if stream.write_all(request.as_bytes()).is_err() || stream.read_to_string(&mut answer).is_err()
    {
        return 0;
    }
    answer
        .split("\r\n\r\n")
        .nth(1)
        .and_then(|body| serde_json::from_str::<Value>(body).ok())
        .and_then(|health| health["in_flight"].as_u64())
        .unwrap_or(0)
}

/// Starts three workers on free loopback ports over `store`; returns them and the gateway that
/// lists them all (round-robin), which is also where each sends its nested invocations.
fn start_workers(
    dir: &Path,
    store: &str,
    env: &[(String, String)],
) -> (Vec<WorkerProcess>, String) {
    let ports = [free_port(), free_port(), free_port()];
    let gateway = ports
        .iter()
        .map(|p| format!("http://127.0.0.1:{p}"))
        .collect::<Vec<_>>()
        .join(",");
    let workers = ports
        .iter()
        .map(|&p| WorkerProcess::start(dir, p, store, &gateway, env))
        .collect();
    (workers, gateway)
}

/// Starts `faasml` in `dir` with its output captured, without waiting for it.
fn spawn_run(dir: &Path, args: &[&str], env: &[(String, String)]) -> Child {
    command(dir, args, env)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faasml run starts")
}

/// Starts `faasml` with `args` in `dir`, kills `worker` (SIGKILL) once it has been running an
/// invocation for `after`, and waits for the run to end.
fn run_killing(
    dir: &Path,
    args: &[&str],
    env: &[(String, String)],
    worker: &mut WorkerProcess,
    after: Duration,
) -> Output {
    let run = spawn_run(dir, args, env);
    wait_until_busy(worker);
    std::thread::sleep(after);
    worker.kill();
    run.wait_with_output().unwrap()
}

/// Waits (at most two minutes) until `worker` runs an invocation.
fn wait_until_busy(worker: &WorkerProcess) {
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_flight(worker.port) == 0 {
        assert!(
            Instant::now() < deadline,
            "the worker on port {} never got an invocation",
            worker.port
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

#[test]
fn three_workers_reproduce_the_embedded_run_and_share_its_invocations() {
    let s3 = S3Server::start();
    let env = s3.env();
    let store = s3.url("shared");
    let dir = tempfile::tempdir().unwrap();

    let embedded = accuracy(&faasml(
        dir.path(),
        &training_args(&store, "runs-embedded"),
        &env,
    ));

    let (workers, gateway) = start_workers(dir.path(), &store, &env);
    let mut args = training_args(&store, "runs-http");
    args.extend(["--platform", "http", "--gateway", &gateway]);
    let http = accuracy(&faasml(dir.path(), &args, &env));
    assert_eq!(
        http, embedded,
        "the same seed and store give the same model"
    );

    let report = report(dir.path(), "runs-http");
    assert_eq!(report["platform"], "http");
    let records = invocations(&report);
    assert_eq!(
        records.len(),
        13,
        "driver, partition, 2 pca, 8 rf, validate"
    );
    assert!(records.iter().all(|r| r["outcome"]["status"] == "ok"));
    for port in workers.iter().map(|w| w.port) {
        assert!(
            on_port(records, port) > 0,
            "no invocation on the worker at port {port}: {records:#?}"
        );
    }
    // Every child names its parent by its qualified instance id, which is the driver's.
    let driver = records
        .iter()
        .find(|r| r["function"] == "ml-training.driver")
        .unwrap();
    assert!(driver["instance"].as_str().unwrap().contains('@'));
    for r in records
        .iter()
        .filter(|r| r["function"] != "ml-training.driver")
    {
        assert_eq!(r["parent"], driver["instance"], "{r}");
    }
}

#[test]
fn runs_survive_workers_killed_before_and_during_and_fail_clearly_without_any() {
    let s3 = S3Server::start();
    let env = s3.env();
    let store = s3.url("kill");
    let dir = tempfile::tempdir().unwrap();
    let embedded = accuracy(&faasml(
        dir.path(),
        &training_args(&store, "runs-embedded"),
        &env,
    ));

    let (mut workers, gateway) = start_workers(dir.path(), &store, &env);

    // Killed before the run: its share goes to the others (the refused connection is skipped).
    workers[2].kill();
    let mut args = training_args(&store, "runs-before");
    args.extend(["--platform", "http", "--gateway", &gateway]);
    assert_eq!(accuracy(&faasml(dir.path(), &args, &env)), embedded);
    let report_before = report(dir.path(), "runs-before");
    assert_eq!(on_port(invocations(&report_before), workers[2].port), 0);

    // Killed during the run, while it runs an invocation (the CLI's first round-robin turn puts
    // the driver on worker 0, which stays up; worker 1 gets one of the PCA functions): the
    // invocation cut off is retried on the surviving worker.
    let mut args = training_args(&store, "runs-during");
    args.extend(["--platform", "http", "--gateway", &gateway]);
    let out = run_killing(dir.path(), &args, &env, &mut workers[1], Duration::ZERO);
    assert_eq!(accuracy(&out), embedded, "{}", text(&out.stderr));
    let report_during = report(dir.path(), "runs-during");
    let records = invocations(&report_during);
    let cut_off: Vec<&Value> = records
        .iter()
        .filter(|r| r["outcome"]["status"] == "error")
        .collect();
    assert!(
        !cut_off.is_empty(),
        "killing a worker mid-run cut no invocation off: {records:#?}"
    );
    for failed in &cut_off {
        assert_eq!(failed["outcome"]["error_type"], "delivery", "{failed}");
        let retried = records.iter().any(|r| {
            r["function"] == failed["function"]
                && r["outcome"]["status"] == "ok"
                && r["attempt"].as_u64() > failed["attempt"].as_u64()
        });
        assert!(retried, "{failed} was not retried successfully");
    }
    eprintln!(
        "killing a worker mid-run cut off {} invocation(s), all retried on the survivor",
        cut_off.len()
    );

    // Every worker gone: a clear error naming the function, exit status 1.
    workers[0].kill();
    let mut args = training_args(&store, "runs-none");
    args.extend([
        "--platform",
        "http",
        "--gateway",
        &gateway,
        "--attempts",
        "2",
    ]);
    let out = faasml(dir.path(), &args, &env);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("function 'ml-training.driver' failed after 2 attempt(s)")
            && stderr.contains("no worker could be reached"),
        "{stderr}"
    );
}

/// Downpour on three worker processes with Redis as the parameter server: one process is killed
/// (SIGKILL) while it trains; its workers are re-invoked on the others, resume from Redis, and
/// the run completes every epoch with a trained model.
#[test]
fn downpour_survives_a_worker_process_killed_mid_training() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let env = vec![("FAASML_STATE".to_string(), redis.url().to_string())];
    let (mut workers, gateway) = start_workers(dir.path(), &store, &env);
    let args = [
        "run",
        "downpour",
        "--data",
        "mnist",
        "--limit",
        "12000",
        "--workers",
        "3",
        "--target-accuracy",
        "0",
        "--max-epochs",
        "3",
        "--evals-per-epoch",
        "2",
        "--platform",
        "http",
        "--gateway",
        &gateway,
        "--attempts",
        "4",
        "--store",
        &store,
        "--report-dir",
        "runs",
        "--json",
    ];
    // Worker 0 hosts the driver (the CLI's first round-robin turn); kill worker 1 once it has
    // been training for a moment.
    let out = run_killing(
        dir.path(),
        &args,
        &env,
        &mut workers[1],
        Duration::from_millis(300),
    );
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &document["result"];
    assert!(result["accuracy"].as_f64().unwrap() > 0.85, "{result}");
    assert_eq!(
        result["evals"].as_array().unwrap().len(),
        6,
        "every evaluation: {result}"
    );
    let report = report(dir.path(), "runs");
    let cut_off = invocations(&report)
        .iter()
        .filter(|r| r["outcome"]["status"] == "error")
        .count();
    assert!(cut_off > 0, "the kill cut no invocation off");
    let restarts: u64 = result["workers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["progress"]["restarts"].as_u64().unwrap())
        .sum();
    eprintln!(
        "downpour: {cut_off} invocation(s) cut off by the kill, {restarts} worker restart(s), \
         final accuracy {}",
        result["accuracy"]
    );
}

/// gbdt on three worker processes sharing Redis and a store: the process holding one shard is
/// killed (SIGKILL) mid-training; the shard's worker is re-invoked on another process, reads the
/// checkpoint, rejoins, and the run ends with exactly the model of an undisturbed embedded run.
#[test]
fn gbdt_survives_a_worker_process_killed_mid_training_with_the_same_model() {
    let redis = RedisServer::start();
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let env = vec![("FAASML_STATE".to_string(), redis.url().to_string())];
    let common = [
        "run",
        "gbdt",
        "--data",
        "mnist-2k",
        "--workers",
        "2",
        "--iterations",
        "40",
        "--leaves",
        "15",
        "--store",
        &store,
        "--json",
    ];
    let mut embedded = common.to_vec();
    embedded.extend(["--report-dir", "runs-embedded"]);
    let undisturbed = faasml(dir.path(), &embedded, &[]);
    assert!(
        undisturbed.status.success(),
        "{}",
        text(&undisturbed.stderr)
    );
    let undisturbed: Value = serde_json::from_slice(&undisturbed.stdout).unwrap();
    let digest = undisturbed["result"]["model_digest"]
        .as_str()
        .unwrap()
        .to_string();

    let (mut workers, gateway) = start_workers(dir.path(), &store, &env);
    let mut args = common.to_vec();
    args.extend([
        "--platform",
        "http",
        "--gateway",
        &gateway,
        "--attempts",
        "4",
        "--report-dir",
        "runs",
    ]);
    // Worker 0 hosts the driver (the CLI's first round-robin turn); worker 1 holds a shard.
    let out = run_killing(
        dir.path(),
        &args,
        &env,
        &mut workers[1],
        Duration::from_millis(1500),
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let document: Value = serde_json::from_slice(&out.stdout).unwrap();
    let result = &document["result"];
    assert_eq!(
        result["model_digest"].as_str(),
        Some(digest.as_str()),
        "{result}"
    );
    assert_eq!(result["rejoined"].as_u64(), Some(1), "{result}");
    assert_eq!(result["accuracy"], undisturbed["result"]["accuracy"]);
    let report = report(dir.path(), "runs");
    let cut_off = invocations(&report)
        .iter()
        .filter(|r| r["function"] == "gbdt.worker" && r["outcome"]["status"] == "error")
        .count();
    assert_eq!(cut_off, 1, "the kill cut one worker off");
    eprintln!(
        "gbdt: worker rejoined at iteration(s) {:?}, model {}",
        result["worker_reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w["started_at"].clone())
            .collect::<Vec<_>>(),
        &digest[..16]
    );
}

#[test]
fn the_http_platform_needs_a_gateway() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &["run", "ml-training", "--platform", "http", "-q"],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "a command-line mistake");
    assert!(
        text(&out.stderr).contains("--platform http needs --gateway"),
        "{}",
        text(&out.stderr)
    );
}

/// `GET path` on a worker; returns the status line and the body.
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("worker answers");
    let request = format!("GET {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

#[test]
fn openfaas_style_secrets_files_and_probe_paths_configure_a_worker() {
    let s3 = S3Server::start();
    let dir = tempfile::tempdir().unwrap();
    let secrets = dir.path().join("secrets");
    std::fs::create_dir(&secrets).unwrap();
    // OpenFaaS mounts each secret as a file named by its key; the process has no AWS_* at all.
    for (key, value) in s3.env() {
        std::fs::write(secrets.join(&key), format!("{value}\n")).unwrap();
    }
    let store = s3.url("from-secrets");
    std::fs::write(secrets.join("FAASML_STORE"), &store).unwrap();
    std::fs::write(secrets.join("not-a-setting"), "ignored").unwrap();
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir.path())
        .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("FAASML_SECRETS_DIR", &secrets)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("faasml serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut banner = String::new();
    stdout.read_line(&mut banner).unwrap();
    stdout.read_line(&mut banner).unwrap();
    assert!(banner.contains(&format!("store {store}")), "{banner}");
    let (status, body) = http_get(port, "/_/ready");
    assert!(status.contains("200"), "{status} {body}");
    let (status, _) = http_get(port, "/_/health");
    assert!(status.contains("200"), "{status}");
    let _ = child.kill();
    let _ = child.wait();
}

/// A `faasml serve` process with its stderr captured, for the drain tests.
fn spawn_serve(dir: &Path, port: u16, extra: &[&str]) -> (Child, BufReader<ChildStdout>) {
    let store = format!("file://{}", dir.join("store").display());
    // Nothing listens at the gateway: every nested invocation is refused and retried after the
    // backoff the request asks for, which keeps the driver busy for as long as a test needs.
    let gateway = format!("http://127.0.0.1:{}", free_port());
    let mut child = command(dir, &["serve"], &[])
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .args(["--store", &store, "--gateway", &gateway])
        .args(extra)
        .env_remove("PORT")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faasml serve starts");
    let mut stdout = BufReader::new(child.stdout.take().expect("worker stdout"));
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap_or(0);
    assert!(line.contains("listening on"), "{line}");
    (child, stdout)
}

/// Sends `POST /function/ml-training.driver` with `{}` and the retry headers, on a thread that
/// returns the raw answer.
fn post_driver(port: u16, backoff_ms: u64, attempts: u32) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("worker answers");
        let request = format!(
            "POST /function/ml-training.driver HTTP/1.1\r\nhost: 127.0.0.1\r\n\
             x-faasml-backoff-ms: {backoff_ms}\r\nx-faasml-max-attempts: {attempts}\r\n\
             content-length: 2\r\nconnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = stream.read_to_string(&mut answer);
        answer
    })
}

/// Sends SIGTERM to `child` and waits (at most `limit`) for it to exit; returns its stderr.
fn terminate(mut child: Child, limit: Duration) -> String {
    let status = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + limit;
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            assert!(status.success(), "{status}");
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("the worker did not exit within {limit:?} of SIGTERM");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .unwrap();
    stderr
}

/// Issue: "after SIGTERM a busy worker said 'stopped' and kept running". A worker busy past its
/// `--drain-timeout` cancels the invocation at the deadline, answers it 503 `cancelled`, says so
/// and exits; one whose invocation ends within the deadline lets it finish first.
#[test]
fn sigterm_drains_in_flight_invocations_then_cancels_the_rest_and_exits() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let (child, _stdout) = spawn_serve(dir.path(), port, &["--drain-timeout", "2"]);
    // The driver's import is refused and would be retried after 30 s.
    let answer = post_driver(port, 30_000, 3);
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_flight(port) == 0 {
        assert!(Instant::now() < deadline, "the driver never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let started = Instant::now();
    let stderr = terminate(child, Duration::from_secs(2 + 30));
    assert!(
        stderr.contains("stopped: cancelled 1 invocation(s) after 2 s"),
        "{stderr}"
    );
    assert!(started.elapsed() >= Duration::from_millis(1900), "{stderr}");
    let answer = answer.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(answer.contains("\"error_type\":\"cancelled\""), "{answer}");

    let port = free_port();
    let (child, _stdout) = spawn_serve(dir.path(), port, &[]);
    // Refused, retried once after 3 s, refused again: the driver fails well within 30 s.
    let answer = post_driver(port, 3_000, 2);
    let deadline = Instant::now() + Duration::from_secs(120);
    while in_flight(port) == 0 {
        assert!(Instant::now() < deadline, "the driver never ran");
        std::thread::sleep(Duration::from_millis(5));
    }
    let stderr = terminate(child, Duration::from_secs(30 + 30));
    assert!(
        stderr.contains("stopped: drained 1 in-flight invocation(s)"),
        "{stderr}"
    );
    let answer = answer.join().unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("failed after 2 attempt(s)"), "{answer}");
}

/// The `--trees 4` training run over `store`, sent to `gateway`, with `env` (and `args`).
fn small_http_run(
    dir: &Path,
    store: &str,
    gateway: &str,
    env: &[(String, String)],
    extra: &[&str],
) -> Output {
    let mut args = vec![
        "run",
        "ml-training",
        "--trees",
        "4",
        "--seed",
        "7",
        "--store",
        store,
        "--json",
        "-q",
        "--platform",
        "http",
        "--gateway",
        gateway,
        "--attempts",
        "1",
    ];
    args.extend_from_slice(extra);
    faasml(dir, &args, env)
}

#[test]
fn keyed_workers_run_only_signed_invocations() {
    let s3 = S3Server::start();
    let store = s3.url("signed");
    let dir = tempfile::tempdir().unwrap();
    let key = "0123456789abcdef-a-shared-test-key";
    let mut env = s3.env();
    env.push(("FAASML_KEY".to_string(), key.to_string()));
    let (workers, gateway) = start_workers(dir.path(), &store, &env);

    // The driver holds the key (from a file here): the run, fan-out included, works.
    let key_file = dir.path().join("key");
    std::fs::write(&key_file, format!("{key}\n")).unwrap();
    let key_arg = key_file.to_str().unwrap();
    let signed = small_http_run(
        dir.path(),
        &store,
        &gateway,
        &s3.env(),
        &["--key-file", key_arg],
    );
    accuracy(&signed);

    // Without the key, or with another one: refused, saying why.
    let wrong_file = dir.path().join("wrong");
    std::fs::write(&wrong_file, "not-the-key-but-long-enough").unwrap();
    for (extra, reason) in [
        (vec![], "missing signature"),
        (
            vec!["--key-file", wrong_file.to_str().unwrap()],
            "bad signature",
        ),
    ] {
        let out = small_http_run(dir.path(), &store, &gateway, &s3.env(), &extra);
        assert!(!out.status.success(), "{}", text(&out.stdout));
        let stderr = text(&out.stderr);
        assert!(
            stderr.contains("401") && stderr.contains(reason),
            "{stderr}"
        );
    }
    // A key file that is too short is an error naming it, not a silent unsigned run.
    let short_file = dir.path().join("short");
    std::fs::write(&short_file, "short\n").unwrap();
    let out = small_http_run(
        dir.path(),
        &store,
        &gateway,
        &s3.env(),
        &["--key-file", short_file.to_str().unwrap()],
    );
    let stderr = text(&out.stderr);
    assert!(
        !out.status.success() && stderr.contains("short") && stderr.contains("at least 16"),
        "{stderr}"
    );

    // The probes stay open on a keyed worker.
    let (status, _) = http_get(workers[0].port, "/healthz");
    assert!(status.contains("200"), "{status}");
}

#[test]
fn serve_without_a_key_stays_on_loopback_unless_insecure() {
    let dir = tempfile::tempdir().unwrap();
    let serve = |args: &[&str]| {
        let mut cmd = command(
            dir.path(),
            &["serve", "--port", "0", "--store", "memory://serve-key"],
            &[],
        );
        cmd.args(args)
            .env_remove("FAASML_KEY")
            .env_remove("FAASML_KEY_FILE")
            .env_remove("FAASML_SECRETS_DIR")
            .env_remove("FAASML_HOST");
        cmd
    };
    let out = serve(&["--host", "0.0.0.0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--insecure") && stderr.contains("no key"),
        "{stderr}"
    );

    // The default host is loopback, and the worker says that it accepts unsigned requests.
    for (args, expected) in [
        (
            &[][..],
            "no key: accepting unsigned requests on loopback only",
        ),
        (
            &["--host", "0.0.0.0", "--insecure"][..],
            "accepting unsigned requests from anyone",
        ),
    ] {
        let mut child = serve(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let _ = child.kill();
        let _ = child.wait();
        assert!(line.contains(expected), "{line}");
        if args.is_empty() {
            assert!(line.contains("http://127.0.0.1:"), "{line}");
        }
    }
}

/// The stacking workflow's result (`--json`) of a successful run.
fn stacking_result(out: &Output) -> Value {
    assert!(
        out.status.success(),
        "run failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let document: Value = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("no JSON result ({e}): {}", text(&out.stdout)));
    document["result"].clone()
}

#[test]
fn stacking_runs_unchanged_on_workers_with_s3_and_redis_in_every_transfer_mode() {
    let s3 = S3Server::start();
    let redis = RedisServer::start();
    let mut env = s3.env();
    env.push(("FAASML_STATE".to_string(), redis.url().to_string()));
    let store = s3.url("stacking");
    let dir = tempfile::tempdir().unwrap();
    let args = |extra: &[&str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "run",
            "stacking",
            "--features",
            "64",
            "--mode",
            "concurrent",
            "--store",
            &store,
            "--report-dir",
            "runs",
            "--json",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run = |extra: &[&str]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        faasml(dir.path(), &args, &env)
    };
    let embedded = stacking_result(&run(&[]));
    let (workers, gateway) = start_workers(dir.path(), &store, &env);
    for transfer in ["store", "state", "inline"] {
        let http = stacking_result(&run(&[
            "--platform",
            "http",
            "--gateway",
            &gateway,
            "--transfer",
            transfer,
        ]));
        for key in ["meta_oof_auc", "holdout_auc", "base_oof_auc", "models"] {
            assert_eq!(http[key], embedded[key], "{transfer}: {key}");
        }
    }
    // Inline data above the workers' payload limit (their 32 MiB body cap by default) is
    // refused before any trainer runs: 8000 x 1024 floats are 44 MB in a payload.
    let out = faasml(
        dir.path(),
        &[
            "run",
            "stacking",
            "--samples",
            "8000",
            "--transfer",
            "inline",
            "--store",
            &store,
            "--platform",
            "http",
            "--gateway",
            &gateway,
            "--report-dir",
            "runs-limit",
        ],
        &env,
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("payload limit of 33554432 bytes") && stderr.contains("--transfer store"),
        "{stderr}"
    );
    assert_eq!(out.status.code(), Some(2), "a usage error: no trainer ran");
    drop(workers);
}
