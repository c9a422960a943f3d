//! `--trace otlp=URL` against a real OpenTelemetry collector (rotel, from PyPI) on loopback.

use std::io::Read as _;
use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The rotel-agent binary: $ROTEL_AGENT, or the one inside the `rotel` Python package.
fn rotel_agent() -> PathBuf {
    if let Some(path) = std::env::var_os("ROTEL_AGENT") {
        return PathBuf::from(path);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import os, rotel; print(os.path.join(os.path.dirname(rotel.__file__), 'rotel-agent'))",
        ])
        .output();
    match out {
        Ok(out) if out.status.success() => {
            PathBuf::from(String::from_utf8_lossy(&out.stdout).trim().to_string())
        }
        _ => panic!(
            "the OTLP collector rotel-agent is not installed: pip install rotel==0.0.1a15 \
             (or run .ci/run)"
        ),
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap()
}

struct Collector {
    child: Child,
    log: PathBuf,
}

impl Drop for Collector {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_collector(dir: &std::path::Path) -> (Collector, u16) {
    let http = free_port();
    let grpc = free_port();
    let log = dir.join("rotel.out");
    let child = Command::new(rotel_agent())
        .args([
            "start",
            "--otlp-http-endpoint",
            &format!("127.0.0.1:{http}"),
            "--otlp-grpc-endpoint",
            &format!("127.0.0.1:{grpc}"),
            "--exporter",
            "blackhole",
            "--debug-log",
            "traces",
            "--debug-log-verbosity",
            "detailed",
        ])
        .stdout(Stdio::from(std::fs::File::create(&log).unwrap()))
        .stderr(Stdio::null())
        .spawn()
        .expect("rotel-agent starts");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", http)).is_err() {
        assert!(
            Instant::now() < deadline,
            "rotel-agent did not listen on {http}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    (Collector { child, log }, http)
}

#[test]
fn a_run_exports_one_span_per_invocation_and_stage_to_an_otlp_collector() {
    let dir = tempfile::tempdir().unwrap();
    let (collector, port) = start_collector(dir.path());
    let out = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir.path())
        .args([
            "run",
            "ml-training",
            "--trees",
            "10",
            "--trace",
            &format!("otlp=http://127.0.0.1:{port}"),
        ])
        .env_remove("FAASML_STORE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("22 spans exported"),
        "run + 6 stages + 15 invocations (the first run imports mnist-2k and mnist-test): {stderr}"
    );
    let report_dir = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(report_dir.join("report.json")).unwrap()).unwrap();
    let run_id = report["run_id"].as_str().unwrap().to_string();
    let trace_id = report["trace_id"].as_str().unwrap().to_string();
    assert_eq!(trace_id.len(), 32);

    // The collector prints what it received.
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut seen = String::new();
    while Instant::now() < deadline {
        seen.clear();
        std::fs::File::open(&collector.log)
            .unwrap()
            .read_to_string(&mut seen)
            .unwrap();
        if seen.matches("Span #").count() >= 22 {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(seen.matches("Span #").count(), 22, "{seen}");
    for name in [
        "ml-training run",
        "stage ml-training.pca",
        "ml-training.rf",
        "ml-training.validate",
    ] {
        assert!(seen.contains(name), "span {name} missing:\n{seen}");
    }
    assert!(seen.contains(&run_id));
    assert!(seen.contains("faasml.bytes_read"));
    drop(collector);

    // A collector that is not there does not lose the finished run: the report is written, the
    // model published, and the failed export is a warning naming the collector.
    let out = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir.path())
        .args([
            "run",
            "ml-training",
            "--trees",
            "5",
            "--model",
            "traced-rf",
            "-q",
            "--trace",
            &format!("otlp=http://127.0.0.1:{}", free_port()),
        ])
        .env_remove("FAASML_STORE")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains("warning") && stderr.contains("cannot send traces"),
        "{stderr}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("accuracy"));
    assert_eq!(
        std::fs::read_dir(dir.path().join("runs")).unwrap().count(),
        2
    );
    assert!(
        dir.path()
            .join("store/models/traced-rf/model.safetensors")
            .exists()
    );
}
