//! The example workflow through the real binary: `run`, `bench` and `deploy` know it with
//! nothing in faasml edited, and the built-in workflows are still there.

use std::path::Path;
use std::process::{Command, Output};

fn example(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faasml-example"))
        .current_dir(dir)
        .args(args)
        .env_remove("FAASML_STORE")
        .output()
        .expect("faasml-example runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_bench_and_deploy_know_the_added_workflow() {
    let dir = tempfile::tempdir().unwrap();
    let out = example(
        dir.path(),
        &["run", "monte-carlo-pi", "--samples", "400000", "--json"],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let document: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let estimate = document["result"]["estimate"].as_f64().unwrap();
    assert!((estimate - std::f64::consts::PI).abs() < 0.02, "{estimate}");
    let calls: u64 = document["stages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["invocations"].as_u64().unwrap())
        .sum();
    assert_eq!(calls, 5, "the driver and 4 sampling functions");

    let out = example(
        dir.path(),
        &["run", "monte-carlo-pi", "--functions", "0", "-q"],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("cannot be dealt to 0 functions"));

    let out = example(
        dir.path(),
        &[
            "bench",
            "monte-carlo-pi",
            "--functions",
            "1,2",
            "--samples",
            "50000",
            "--repeats",
            "2",
            "--out",
            "bench-out",
            "--record-to",
            "results/pi.csv",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("abs_error"), "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("bench-out/monte-carlo-pi.csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 2, "a row per run: {csv}");
    for file in [
        "monte-carlo-pi-end_to_end_s.svg",
        "monte-carlo-pi-end_to_end_s.png",
    ] {
        assert!(dir.path().join("bench-out").join(file).exists(), "{file}");
    }

    let out = example(dir.path(), &["deploy", "knative", "--image", "r/x:1"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let yaml = text(&out.stdout);
    assert!(yaml.contains("name: monte-carlo-pi-sample"), "{yaml}");
    assert!(yaml.contains("name: monte-carlo-pi-driver"));
    assert!(yaml.contains("name: ml-training-pca"), "built-ins stay");

    let out = example(dir.path(), &["run", "--help"]);
    let help = text(&out.stdout);
    assert!(
        help.contains("monte-carlo-pi") && help.contains("ml-training"),
        "{help}"
    );
}
