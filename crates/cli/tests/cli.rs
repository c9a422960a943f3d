//! The `faasml` command end to end: a temp dir per test, the real binary, its output and files.

use std::path::Path;
use std::process::{Command, Output};

fn faasml(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir)
        .args(args)
        .env_remove("FAASML_STORE")
        .output()
        .expect("faasml runs")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

#[test]
fn run_ml_training_then_ml_inference_with_the_defaults_of_the_readme() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(dir.path(), &["run", "ml-training", "--trees", "20"]);
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("imported the bundled dataset 'mnist-2k' (2000 images)"));
    assert!(
        stderr.contains("ml-training.rf                    8"),
        "{stderr}"
    );
    let accuracy: f64 = stdout
        .split_whitespace()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or_else(|| panic!("no accuracy in {stdout}"));
    assert!(accuracy > 0.75, "{stdout}");
    assert!(
        dir.path()
            .join("store/models/mnist-rf/model.safetensors")
            .exists()
    );
    let runs: Vec<_> = std::fs::read_dir(dir.path().join("runs"))
        .unwrap()
        .collect();
    assert_eq!(runs.len(), 1);
    let run_dir = runs[0].as_ref().unwrap().path();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run_dir.join("report.json")).unwrap()).unwrap();
    assert_eq!(report["workflow"], "ml-training");
    // driver, partition, 2 pca, 8 rf, validate, and the first use's 2 imports of bundled data.
    assert_eq!(report["invocations"].as_array().unwrap().len(), 15);
    assert_eq!(report["result"]["n_test"], 10000);
    // Where the run came from.
    assert_eq!(report["meta"]["faasml_version"], env!("CARGO_PKG_VERSION"));
    assert!(report["meta"]["commit"].is_string());
    assert_eq!(report["meta"]["command"][1], "run");
    assert_eq!(report["meta"]["platform"]["store"], "file://./store");
    assert!(report["meta"]["host"]["cores"].as_u64().unwrap() >= 1);
    assert!(report["meta"]["host"]["memory_bytes"].as_u64().unwrap() > 0);
    let csv = std::fs::read_to_string(run_dir.join("invocations.csv")).unwrap();
    assert_eq!(csv.lines().count(), 16);
    assert!(csv.starts_with(
        "run_id,function,task,instance,parent,attempt,cold,submit_ms,start_ms,end_ms,queue_ms,\
         duration_ms,cpu_ms,peak_rss_bytes,"
    ));
    // Each forest is its fan-out's task, 0 to 7.
    let mut tasks: Vec<u32> = csv
        .lines()
        .filter(|l| l.contains(",ml-training.rf,"))
        .map(|l| l.split(',').nth(2).unwrap().parse().unwrap())
        .collect();
    tasks.sort_unstable();
    assert_eq!(tasks, (0..8).collect::<Vec<_>>());

    let out = faasml(dir.path(), &["run", "ml-inference", "--quiet"]);
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        stdout.contains(&format!("accuracy {accuracy:.4}")),
        "inference reproduces validation: {stdout}"
    );
}

#[test]
fn bad_parameters_exit_non_zero_with_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &["run", "ml-training", "--pca", "3", "--rf", "8"],
    );
    assert_eq!(
        out.status.code(),
        Some(2),
        "parameter mistakes are usage errors"
    );
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("n_rf (8) must be a multiple of n_pca (3)"),
        "{stderr}"
    );
    assert!(!dir.path().join("store").exists(), "nothing written");

    let out = faasml(dir.path(), &["run", "ml-training", "--train", "nope", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("no images under 'nope'"), "{stderr}");

    let out = faasml(dir.path(), &["run", "ml-training", "--store", "ftp://x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("unsupported scheme 'ftp'"));

    let out = faasml(dir.path(), &["run", "ml-training", "--pca", "two"]);
    assert_eq!(out.status.code(), Some(2), "usage errors exit 2");

    // Range mistakes are usage errors too (they exited 1, or were silently raised to 1).
    for (args, says) in [
        (&["run", "ml-training", "--attempts", "0"][..], "--attempts"),
        (
            &["run", "ml-training", "--run-id", "a/b"][..],
            "invalid run id",
        ),
        (
            &["run", "ml-training", "--trees", "100000"][..],
            "above the limit of 10000",
        ),
        (
            &["run", "downpour", "--max-epochs", "1000000000"][..],
            "above the limit",
        ),
        (&["bench", "ml-training", "--repeats", "0"][..], "--repeats"),
        (&["gc", "--older-than", "1s"][..], "--older-than"),
        (
            &["run", "stacking", "--trainers", "0"][..],
            "--trainers must be at least 1",
        ),
        (
            &["run", "stacking", "--models", "lasso,boosted-magic"][..],
            "--models entry 'boosted-magic'",
        ),
        (
            &["run", "stacking", "--models", "knn-regressor:k=0"][..],
            "--models entry 'knn-regressor:k=0'",
        ),
        (&["run", "stacking", "--holdout", "1"][..], "--holdout"),
        (
            &["run", "stacking", "--payload-limit", "6 parsecs"][..],
            "size unit",
        ),
    ] {
        let out = faasml(dir.path(), args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            text(&out.stderr)
        );
        assert!(
            text(&out.stderr).contains(says),
            "{args:?}: {}",
            text(&out.stderr)
        );
    }
}

/// Regression: an unknown test set was found only after every forest was trained.
#[test]
fn an_unknown_test_set_fails_before_any_training() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &[
            "run",
            "ml-training",
            "--test",
            "no-such-test-set",
            "--report-dir",
            "reports",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("no images under 'no-such-test-set'"),
        "{stderr}"
    );
    let run = std::fs::read_dir(dir.path().join("reports"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let csv = std::fs::read_to_string(run.join("invocations.csv")).unwrap();
    for stage in ["ml-training.partition", "ml-training.pca", "ml-training.rf"] {
        assert!(!csv.contains(stage), "{stage} ran: {csv}");
    }
}

#[test]
fn data_import_writes_one_png_object_per_image_that_trains() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "mnist-2k",
            "--to",
            "file://./store/images/mnist-600",
            "--limit",
            "600",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("imported 600 images"));
    let pngs = walk(&dir.path().join("store/images/mnist-600"));
    assert_eq!(pngs, 600);
    let out = faasml(
        dir.path(),
        &[
            "run",
            "ml-training",
            "--train",
            "images/mnist-600",
            "--test",
            "mnist-test",
            "--rf",
            "4",
            "--trees",
            "20",
            "-q",
        ],
    );
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("600 training images"));

    let out = faasml(dir.path(), &["data", "list"]);
    assert!(text(&out.stdout).contains("fashion-mnist-test"));

    let out = faasml(
        dir.path(),
        &[
            "data",
            "import",
            "mnist",
            "./missing-dir",
            "--to",
            "file://./x",
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("missing-dir"));
}

fn walk(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let path = e.unwrap().path();
            if path.is_dir() { walk(&path) } else { 1 }
        })
        .sum()
}

#[test]
fn run_downpour_reaches_the_target_and_publishes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &[
            "run",
            "downpour",
            "--data",
            "mnist-10k",
            "--test",
            "mnist-test",
            "--workers",
            "2",
            "--evals-per-epoch",
            "2",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("downpour.train                    2"),
        "{stderr}"
    );
    assert!(stdout.contains("reached 0.75 test accuracy in"), "{stdout}");
    // The headline says how the time to accuracy is measured.
    assert!(
        stdout.contains("the first of 2 test-set evaluation(s) per epoch at or above the target"),
        "{stdout}"
    );
    assert!(
        stdout.contains("MLP 784-100-10 (79510 parameters)"),
        "{stdout}"
    );
    assert!(
        dir.path()
            .join("store/models/mnist-mlp/mlp.safetensors")
            .exists()
    );
}

#[test]
fn bad_downpour_options_exit_non_zero_with_one_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    for (args, expected, code) in [
        (
            &["--mode", "single", "--workers", "2"][..],
            "mode single trains in one function",
            2,
        ),
        (&["--inject-failure", "3"][..], "is not W:N", 2),
        (
            &["--workers", "4", "--concurrency", "2"][..],
            "--concurrency 2 is too low for this downpour run",
            2,
        ),
        (
            &["--target-accuracy", "75"][..],
            "a fraction between 0 and 1",
            2,
        ),
        (
            &["--state", "redis://127.0.0.1:1"][..],
            "redis://127.0.0.1:1",
            1,
        ),
    ] {
        let mut all = vec!["run", "downpour", "--data", "mnist-2k", "-q"];
        all.extend(args);
        let out = faasml(dir.path(), &all);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
}

#[test]
fn bench_downpour_writes_the_table_csv_files_and_charts() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &[
            "bench",
            "downpour",
            "--data",
            "mnist-2k",
            "--batch-size",
            "64",
            "--workers",
            "1,2",
            "--n-fetch",
            "10",
            "--max-epochs",
            "3",
            "--out",
            "bd",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("[2/2] workers 2: time_to_target_s"),
        "{stderr}"
    );
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.trim_start().starts_with("64 "))
        .collect();
    assert_eq!(rows.len(), 2, "{stdout}");
    let csv = std::fs::read_to_string(dir.path().join("bd/downpour.csv")).unwrap();
    assert_eq!(csv.lines().count(), 3, "{csv}");
    let evals = std::fs::read_to_string(dir.path().join("bd/downpour-series.csv")).unwrap();
    assert!(evals.lines().count() >= 3, "{evals}");
    assert!(
        evals.starts_with(
            "point,batch-size,workers,n-fetch,data,max-epochs,repeat,median,elapsed_s,accuracy"
        ),
        "{evals}"
    );
    let svg = std::fs::read_to_string(dir.path().join("bd/downpour-series.svg")).unwrap();
    assert!(svg.contains("workers 2"), "chart legend");
    for chart in [
        "downpour-series",
        "downpour-time_to_target_s",
        "downpour-end_to_end_s",
    ] {
        let png = std::fs::read(dir.path().join(format!("bd/{chart}.png"))).unwrap();
        assert!(
            png.starts_with(b"\x89PNG\r\n\x1a\n"),
            "{chart}.png is a PNG"
        );
    }
}

/// Regression: `bench ml-training` printed scikit-learn figures from another machine as if
/// measured. A peer runs only when asked, live, and says what it needs when it cannot.
#[test]
fn bench_prints_only_what_it_measured_and_peers_say_what_they_need() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(
        dir.path(),
        &[
            "bench",
            "ml-training",
            "--train",
            "mnist-2k",
            "--trees",
            "5",
            "--repeats",
            "1",
        ],
    );
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert!(out.status.success(), "{stderr}");
    assert!(!stdout.to_lowercase().contains("sklearn"), "{stdout}");
    assert!(stdout.contains("accuracy"), "{stdout}");
    // By default the output goes under the report directory, never over tracked files.
    let bench = std::fs::read_dir(dir.path().join("runs/bench"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    assert!(
        bench
            .file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with("ml-training-")
    );
    for file in [
        "ml-training.csv",
        "ml-training-end_to_end_s.svg",
        "ml-training-end_to_end_s.png",
    ] {
        assert!(bench.join(file).exists(), "{file}");
    }

    let empty = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir.path())
        .args([
            "bench",
            "ml-training",
            "--train",
            "mnist-2k",
            "--compare",
            "sklearn",
        ])
        .env("PATH", empty.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("--compare sklearn needs python3 with numpy and scikit-learn"),
        "{stderr}"
    );
    let out = faasml(
        dir.path(),
        &["bench", "ml-training", "--compare", "pytorch"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("known: sklearn"));
}

/// An installed binary finds the data at run time, not through the clone's path; a listing
/// piped into `head` ends quietly.
#[test]
fn data_install_copies_the_datasets_where_faasml_finds_them() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(dir.path(), &["data", "install", "--to", "copied"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("copied"));
    assert!(
        dir.path()
            .join("copied/mnist/t10k-labels-idx1-ubyte.gz")
            .exists()
    );
    assert!(dir.path().join("copied/SHA256SUMS").exists());
    let out = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir.path())
        .args(["data", "list"])
        .env("FAASML_DATA_DIR", dir.path().join("copied"))
        .output()
        .unwrap();
    assert!(text(&out.stdout).contains(&format!(
        "data directory: {}",
        dir.path().join("copied").display()
    )));
    let out = faasml(
        dir.path(),
        &["data", "install", "--from", "nowhere", "--to", "x"],
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("holds no bundled datasets"));

    // `faasml data list | head -1`: the reader goes away after one line.
    closed_stdout_is_a_quiet_exit(dir.path(), &["data", "list"]);
}

/// Runs faasml with a stdout whose reader has gone (`faasml ... | head -0`): the command ends
/// quietly, with status 0 or killed by SIGPIPE (a shell's 141) as `cat` would be, and nothing
/// on stderr — no "failed printing to stdout" panic.
fn closed_stdout_is_a_quiet_exit(dir: &Path, args: &[&str]) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_faasml"))
        .current_dir(dir)
        .args(args)
        .env_remove("FAASML_STORE")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    #[cfg(unix)]
    let by_sigpipe = std::os::unix::process::ExitStatusExt::signal(&out.status) == Some(13);
    #[cfg(not(unix))]
    let by_sigpipe = false;
    assert!(
        out.status.success() || by_sigpipe,
        "{args:?}: {:?}",
        out.status
    );
    assert!(out.stderr.is_empty(), "{args:?}: {}", text(&out.stderr));
}

/// Hardening issue: `faasml data list | head -1` panicked on the closed pipe, and so did every
/// other `println!` of a command (here `data install`'s closing line).
#[test]
fn a_closed_stdout_is_a_quiet_exit_for_every_printing_command() {
    let dir = tempfile::tempdir().unwrap();
    closed_stdout_is_a_quiet_exit(dir.path(), &["data", "list"]);
    closed_stdout_is_a_quiet_exit(dir.path(), &["data", "install", "--to", "copied"]);
    assert!(dir.path().join("copied/SHA256SUMS").exists());
}

/// Every workflow's help starts with its own description, then lists its parameters.
#[test]
fn workflow_help_describes_the_workflow_and_its_parameters() {
    let dir = tempfile::tempdir().unwrap();
    let out = faasml(dir.path(), &["run", "ml-training", "--help"]);
    let help = text(&out.stdout);
    assert!(
        help.starts_with("partition -> PCA -> random forests"),
        "{help}"
    );
    assert!(
        help.contains("--pca <N_PCA>") && help.contains("[default: 2]"),
        "{help}"
    );
    let out = faasml(dir.path(), &["bench", "downpour", "--help"]);
    let help = text(&out.stdout);
    assert!(help.starts_with("Train an MLP by Downpour SGD"), "{help}");
    assert!(help.contains("comma-separated list"), "{help}");
}
