//! Hostile requests and crashes, against real processes: `faasml serve` workers over the
//! testkit's S3 server on 127.0.0.1, and `faasml run` processes killed with SIGKILL.
//!
//! Each crafted request is one the hardening issue saw succeed; each must now fail with a
//! clear error and leave the bucket exactly as it was (only the attacker's own run scratch may
//! change). The crash cases must leave state the next run (or `faasml gc`) recovers from.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use faasml_testkit::{S3Server, free_port};
use serde_json::{Value, json};

/// The key every worker of these tests is started with, and requests are signed with.
const KEY: &str = "hardening-test-key-0123456789abcdef";

/// A `faasml serve` child process, killed when dropped.
struct Worker {
    child: Child,
    port: u16,
}

impl Worker {
    fn start(dir: &Path, store: &str, env: &[(String, String)]) -> Self {
        let port = free_port();
        let mut child = faasml_command(dir, env)
            .args(["serve", "--host", "127.0.0.1", "--port", &port.to_string()])
            .args(["--store", store, "--concurrency", "4", "--quiet"])
            .env("FAASML_KEY", KEY)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("faasml serve starts");
        let deadline = Instant::now() + Duration::from_secs(60);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                panic!("the worker exited: {status}");
            }
            assert!(Instant::now() < deadline, "the worker never listened");
            std::thread::sleep(Duration::from_millis(20));
        }
        Self { child, port }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn faasml_command(dir: &Path, env: &[(String, String)]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_faasml"));
    cmd.current_dir(dir)
        .env_remove("FAASML_STORE")
        .env_remove("FAASML_GATEWAY")
        .env_remove("FAASML_PLATFORM")
        .env_remove("FAASML_KEY")
        .env_remove("FAASML_KEY_FILE")
        .env_remove("PORT")
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    cmd
}

fn faasml(dir: &Path, args: &[&str], env: &[(String, String)]) -> Output {
    faasml_command(dir, env)
        .args(args)
        .output()
        .expect("faasml runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn succeeded(out: &Output) {
    assert!(
        out.status.success(),
        "faasml failed: {}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
}

/// The signature headers of a request to a keyed worker.
fn signature(path: &str, run_id: Option<&str>, body: &[u8]) -> Vec<(String, String)> {
    let key = faasml_worker::Key::from_bytes(KEY.as_bytes()).expect("a valid key");
    let signature = key
        .sign("POST", path, run_id.unwrap_or(""), body)
        .expect("signing works");
    signature
        .to_headers()
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
}

/// POSTs `body` to `function` on the worker, signed, with `run_id` in the run-id header;
/// returns the status and the body.
fn post(worker: &Worker, function: &str, run_id: Option<&str>, body: &Value) -> (u16, Value) {
    let body = serde_json::to_vec(body).unwrap();
    let path = format!("/function/{function}");
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nhost: 127.0.0.1\r\nconnection: close\r\n\
         content-type: application/json\r\ncontent-length: {}\r\n",
        body.len()
    );
    if let Some(run_id) = run_id {
        request.push_str(&format!("x-faasml-run-id: {run_id}\r\n"));
    }
    for (name, value) in signature(&path, run_id, &body) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    let mut stream = TcpStream::connect(("127.0.0.1", worker.port)).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(300)))
        .unwrap();
    stream.write_all(request.as_bytes()).unwrap();
    stream.write_all(&body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).unwrap();
    let answer = text(&answer);
    let status: u16 = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line: {answer}"));
    let body = answer.split("\r\n\r\n").nth(1).unwrap_or("");
    let body = serde_json::from_str(body).unwrap_or(Value::String(body.to_string()));
    (status, body)
}

/// The error message of a failed invocation's envelope.
fn error_of(answer: &(u16, Value)) -> String {
    let (status, body) = answer;
    assert!(
        body["output"].is_null() || body.get("output").is_none(),
        "the crafted request succeeded (HTTP {status}): {body}"
    );
    body["error"]["error_message"]
        .as_str()
        .unwrap_or_else(|| panic!("no error in HTTP {status}: {body}"))
        .to_string()
}

/// Every file under the bucket except run scratch, with its bytes.
fn snapshot(bucket: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            let relative = path.strip_prefix(root).unwrap().to_path_buf();
            if relative.starts_with("runs") {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, out);
            } else {
                out.insert(relative, std::fs::read(&path).unwrap());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(bucket, bucket, &mut out);
    out
}

/// The files of the bucket that differ between two snapshots.
fn changed(before: &BTreeMap<PathBuf, Vec<u8>>, after: &BTreeMap<PathBuf, Vec<u8>>) -> Vec<String> {
    let mut out = Vec::new();
    for (path, bytes) in after {
        if before.get(path) != Some(bytes) {
            out.push(path.display().to_string());
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) {
            out.push(format!("{} (deleted)", path.display()));
        }
    }
    out
}

#[test]
fn crafted_requests_fail_clearly_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    let env = s3.env();
    let store = s3.url("");
    let bucket = s3.root().join(s3.bucket());
    // A real model, test set and training set in the bucket, published by a real run.
    succeeded(&faasml(
        dir.path(),
        &[
            "run",
            "ml-training",
            "--trees",
            "5",
            "--store",
            &store,
            "-q",
        ],
        &env,
    ));
    std::fs::write(bucket.join("secret.txt"), b"someone else's object").unwrap();
    let worker = Worker::start(dir.path(), &store, &env);

    // A live run as its driver declares it: its data, its test set and its model.
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros() as u64;
    std::fs::create_dir_all(bucket.join("runs/victim")).unwrap();
    std::fs::write(
        bucket.join("runs/victim/.faasml-run.json"),
        json!({"workflow": "ml-training", "datasets": ["mnist-2k", "mnist-test"],
               "model": "mnist-rf", "started_us": now_us, "heartbeat_us": now_us})
        .to_string(),
    )
    .unwrap();
    // Legitimate stages of that run give the attacker real inputs to start from.
    let (status, partition) = post(
        &worker,
        "ml-training.partition",
        Some("victim"),
        &json!({"data": "mnist-2k", "n_pca": 1, "n_rf": 2, "components": 10,
                "out": "runs/victim/partition"}),
    );
    assert_eq!(status, 200, "{partition}");
    let shard = partition["output"]["shards"][0].clone();
    let (_, pca) = post(
        &worker,
        "ml-training.pca",
        Some("victim"),
        &json!({"shard": shard, "components": 10, "slices": 2, "out": "runs/victim/pca-0"}),
    );
    let pca = &pca["output"];
    assert!(pca["basis"].is_string(), "{pca}");
    let before = snapshot(&bucket);

    let rf = |out: &str| {
        json!({"slice": pca["slices"][0], "basis": pca["basis"], "n_classes": 10, "trees": 2,
               "depth": 3, "min_samples_split": 2, "seed": 1, "out": out})
    };
    // An rf output key aimed at the held-out test labels, and at the published model.
    for target in [
        "mnist-test/mnist-test-labels-idx1-ubyte",
        "models/mnist-rf/model.safetensors",
    ] {
        let message = error_of(&post(
            &worker,
            "ml-training.rf",
            Some("victim"),
            &rf(target),
        ));
        assert!(
            message.contains(&format!("may not write '{target}'")),
            "{message}"
        );
    }
    // The publishing stage may write only the model its run declares.
    let forest = post(
        &worker,
        "ml-training.rf",
        Some("victim"),
        &rf("runs/victim/rf/forest-0.safetensors"),
    );
    assert_eq!(forest.0, 200, "{}", forest.1);
    let message = error_of(&post(
        &worker,
        "ml-training.validate",
        Some("victim"),
        &json!({"forests": [forest.1["output"]["forest"]], "test": "mnist-test",
                "model_key": "models/someone-elses/model.safetensors", "dataset": "mnist",
                "params": {}}),
    ));
    assert!(
        message.contains("may not write 'models/someone-elses/model.safetensors'"),
        "{message}"
    );
    // An inference stage whose labels key points at an arbitrary object.
    let message = error_of(&post(
        &worker,
        "ml-inference.predict",
        Some("victim"),
        &json!({"model_key": "models/mnist-rf/model.safetensors",
                "sources": [{"kind": "idx", "images": "mnist-test/mnist-test-images-idx3-ubyte",
                             "labels": "secret.txt", "start": 0, "end": 10, "gzip": false}]}),
    ));
    assert!(message.contains("may not read 'secret.txt'"), "{message}");
    assert!(!message.contains("someone else"), "{message}");
    // A stage of a run that declares nothing reads nothing outside its scratch.
    let message = error_of(&post(
        &worker,
        "ml-training.partition",
        Some("fresh-run"),
        &json!({"data": "mnist-2k", "n_pca": 1, "n_rf": 2, "components": 10,
                "out": "runs/fresh-run/partition"}),
    ));
    assert!(message.contains("may not read 'mnist-2k"), "{message}");
    // Another run's scratch is out of reach.
    let message = error_of(&post(
        &worker,
        "ml-training.rf",
        Some("other-run"),
        &rf("runs/other-run/forest"),
    ));
    assert!(message.contains("may not read 'runs/victim/"), "{message}");
    // Run ids that would name more than one run's prefix.
    for bad in ["/", "..", "runs/victim", "a b"] {
        let (status, body) = post(&worker, "faasml.noop", Some(bad), &json!(null));
        assert_eq!(status, 400, "run id {bad:?}: {body}");
        assert!(error_of(&(status, body)).contains("invalid run id"));
    }
    // Work beyond the limits is refused before it starts.
    let message = error_of(&post(
        &worker,
        "ml-training.driver",
        None,
        &json!({"trees": 1_000_000_000u64}),
    ));
    assert!(message.contains("above the limit"), "{message}");
    let message = error_of(&post(
        &worker,
        "ml-training.rf",
        Some("victim"),
        &json!({"slice": pca["slices"][0], "basis": pca["basis"], "n_classes": 10,
                "trees": 1_000_000_000u64, "depth": 3, "min_samples_split": 2, "seed": 1,
                "out": "runs/victim/x"}),
    ));
    assert!(
        message.contains("trees is 1000000000, above the limit"),
        "{message}"
    );
    let message = error_of(&post(
        &worker,
        "downpour.driver",
        None,
        &json!({"max_epochs": 1_000_000_000_000u64}),
    ));
    assert!(message.contains("above the limit"), "{message}");

    let after = snapshot(&bucket);
    assert!(
        changed(&before, &after).is_empty(),
        "crafted requests changed the bucket: {:?}",
        changed(&before, &after)
    );
    // The victim's scratch is intact, and nothing was written outside the attackers' own runs.
    assert!(bucket.join("runs/victim/.faasml-run.json").exists());
}

/// Every path under `dir` (empty when it does not exist).
fn walkdir(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            out.push(entry.path().display().to_string());
            if entry.path().is_dir() {
                out.extend(walkdir(&entry.path()));
            }
        }
    }
    out
}

/// Starts `faasml` with its output captured, without waiting for it.
fn spawn(dir: &Path, args: &[&str], env: &[(String, String)]) -> Child {
    faasml_command(dir, env)
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("faasml starts")
}

/// Waits (at most `secs`) for `path` to exist.
fn wait_for(path: &Path, secs: u64) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while !path.exists() {
        assert!(
            Instant::now() < deadline,
            "{} never appeared",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_live_runs_id_cannot_be_reused_and_the_live_run_finishes() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    let live = spawn(
        dir.path(),
        &[
            "run",
            "downpour",
            "--max-epochs",
            "2",
            "--run-id",
            "shared-id",
        ],
        &[("FAASML_STORE".to_string(), store.clone())],
    );
    wait_for(
        &dir.path().join("store/runs/shared-id/.faasml-run.json"),
        120,
    );
    let second = faasml(
        dir.path(),
        &[
            "run",
            "ml-training",
            "--trees",
            "2",
            "--run-id",
            "shared-id",
            "-q",
        ],
        &[("FAASML_STORE".to_string(), store.clone())],
    );
    assert_eq!(second.status.code(), Some(1), "{}", text(&second.stderr));
    let stderr = text(&second.stderr);
    assert!(
        stderr.contains("run id 'shared-id' is in use by a downpour run"),
        "{stderr}"
    );
    let live = live.wait_with_output().unwrap();
    succeeded(&live);
    let summary = text(&live.stdout);
    assert!(summary.contains("final accuracy"), "{summary}");
    // The finished run released its id: it can be used again.
    succeeded(&faasml(
        dir.path(),
        &[
            "run",
            "ml-training",
            "--trees",
            "2",
            "--run-id",
            "shared-id",
            "-q",
        ],
        &[("FAASML_STORE".to_string(), store)],
    ));
}

#[test]
fn a_killed_runs_scratch_is_named_and_removed_by_gc() {
    let dir = tempfile::tempdir().unwrap();
    let env = [(
        "FAASML_STORE".to_string(),
        format!("file://{}", dir.path().join("store").display()),
    )];
    // The bundled data first, so the killed run is killed in its stages.
    succeeded(&faasml(
        dir.path(),
        &["run", "ml-training", "--trees", "2", "-q"],
        &env,
    ));
    let mut victim = spawn(
        dir.path(),
        &["run", "ml-training", "--trees", "60", "--run-id", "doomed"],
        &env,
    );
    wait_for(&dir.path().join("store/runs/doomed/pca-0"), 120);
    victim.kill().unwrap();
    let _ = victim.wait();
    let scratch = dir.path().join("store/runs/doomed");
    assert!(scratch.exists());

    // Alive a moment ago: gc leaves it.
    let gc = faasml(dir.path(), &["gc"], &env);
    succeeded(&gc);
    assert!(
        text(&gc.stdout).contains("removed 0 of 1 runs"),
        "{}",
        text(&gc.stdout)
    );
    assert!(scratch.exists());
    // Ten minutes later (its heartbeat made old), the next run names it and gc removes it.
    let record = scratch.join(".faasml-run.json");
    let mut value: Value = serde_json::from_slice(&std::fs::read(&record).unwrap()).unwrap();
    value["heartbeat_us"] = json!(value["heartbeat_us"].as_u64().unwrap() - 700_000_000);
    std::fs::write(&record, value.to_string()).unwrap();
    let next = faasml(dir.path(), &["run", "ml-training", "--trees", "2"], &env);
    succeeded(&next);
    assert!(
        text(&next.stderr).contains("1 run(s) that are no longer running left"),
        "{}",
        text(&next.stderr)
    );
    let dry = faasml(dir.path(), &["gc", "--dry-run"], &env);
    assert!(
        text(&dry.stdout).contains("would remove doomed (ml-training"),
        "{}",
        text(&dry.stdout)
    );
    assert!(scratch.exists());
    let gc = faasml(dir.path(), &["gc"], &env);
    succeeded(&gc);
    assert!(
        text(&gc.stdout).contains("removed 1 of 1 runs"),
        "{}",
        text(&gc.stdout)
    );
    let left: Vec<String> = walkdir(&scratch);
    assert!(!scratch.exists(), "left behind: {left:?}");
    // A threshold that could catch a live run is refused.
    let refused = faasml(dir.path(), &["gc", "--older-than", "5s"], &env);
    assert_eq!(refused.status.code(), Some(2));
}

#[test]
fn an_import_killed_midway_on_s3_is_redone_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let s3 = S3Server::start();
    let env = s3.env();
    let store = s3.url("");
    let bucket = s3.root().join(s3.bucket());
    let args = [
        "run",
        "ml-training",
        "--train",
        "mnist",
        "--trees",
        "1",
        "--pca",
        "1",
        "--rf",
        "2",
        "--components",
        "5",
        "--store",
        &store,
        "--json",
    ];
    let mut first = spawn(dir.path(), &args, &env);
    let pending = bucket.join("mnist/.faasml-import-pending");
    let deadline = Instant::now() + Duration::from_secs(120);
    while !pending.exists() {
        if let Ok(Some(_)) = first.try_wait() {
            let out = first.wait_with_output().unwrap();
            panic!(
                "the first run ended before its import: {}",
                text(&out.stderr)
            );
        }
        assert!(Instant::now() < deadline, "the import never started");
        std::thread::sleep(Duration::from_millis(2));
    }
    first.kill().unwrap();
    let _ = first.wait();
    assert!(
        !bucket.join("mnist/.faasml-import.json").exists(),
        "the import finished before the kill"
    );
    let second = faasml(dir.path(), &args, &env);
    succeeded(&second);
    let document: Value = serde_json::from_slice(&second.stdout).unwrap();
    assert_eq!(document["result"]["n_train"], 60_000, "{document}");
    assert!(bucket.join("mnist/.faasml-import.json").exists());
}
