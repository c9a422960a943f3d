//! The inference benchmark through the real binary: `faasml bench inference` trains the missing
//! models, starts confined `faasml serve` workers (cgroups here, as root; the address-space
//! fallback with `--confine rlimit`), and writes the seed's CSV, the summary and the box plots.
//! The neural model cannot load within 128 MB: its rows carry Lambda's out-of-memory error and
//! the bench goes on. `text-train` and `text-inference` refuse bad parameters with one message.

use std::path::Path;
use std::process::{Command, Output};

fn faasml(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faasml"))
        .args(args)
        .current_dir(dir)
        .env_remove("FAASML_STORE")
        .env_remove("FAASML_KEY")
        .output()
        .expect("run faasml")
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// A store directory with every 10th of the first 2,000 VADER sentences at `texts/small/`.
fn small_store(dir: &Path) -> String {
    let corpus = faasml_datasets::bundled::lookup_corpus("vader").unwrap();
    let gz = corpus.read().unwrap();
    let csv = faasml_datasets::idx::gunzip_if_needed(&gz).unwrap();
    let table = faasml_datasets::text_table::read_text_table(&csv[..], "text", "label").unwrap();
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["text", "label"]).unwrap();
    for i in (0..table.texts.len()).step_by(10).take(200) {
        w.write_record([table.texts[i].as_str(), &table.labels[i].to_string()])
            .unwrap();
    }
    let store = dir.join("store");
    std::fs::create_dir_all(store.join("texts/small")).unwrap();
    std::fs::write(store.join("texts/small/small.csv"), w.into_inner().unwrap()).unwrap();
    format!("file://{}", store.display())
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Row {
    function_name: String,
    batch_size: usize,
    is_cold_start: bool,
    initialization_start: f64,
    initialization_end: f64,
    initialization_time: f64,
    processing_time: f64,
    lambda_duration: f64,
    lambda_billed_duration: u64,
    lambda_memory_size: u64,
    lambda_max_memory_used: u64,
    cpu_count: usize,
    error: String,
}

fn read_rows(path: &Path) -> Vec<Row> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(
        header[..17],
        [
            "messageId",
            "lambdaName",
            "functionName",
            "functionInstanceId",
            "batchSize",
            "isColdStart",
            "initializationStart",
            "initializationEnd",
            "processingStart",
            "processingEnd",
            "initializationTime",
            "processingTime",
            "lambdaDuration",
            "lambdaBilledDuration",
            "lambdaMemorySize",
            "lambdaMaxMemoryUsed",
            "cpuCount"
        ],
        "the seed's columns, in its order"
    );
    r.deserialize().map(|row| row.unwrap()).collect()
}

#[test]
fn the_benchmark_confines_workers_records_cold_warm_and_out_of_memory_rows() {
    let dir = tempfile::tempdir().unwrap();
    let store = small_store(dir.path());
    let out = dir.path().join("out");
    let args = [
        "bench",
        "inference",
        "--algorithms",
        "logistic-regression,minilm",
        "--memory",
        "128,512",
        "--batch-sizes",
        "1,10",
        "--messages",
        "2",
        "--cold",
        "1",
        "--data",
        "texts/small",
        "--store",
        &store,
        "--out",
        out.to_str().unwrap(),
    ];
    let run = faasml(dir.path(), &args);
    assert!(run.status.success(), "{}", text(&run));
    let said = text(&run);
    assert!(
        said.contains("training logistic-regression, minilm"),
        "{said}"
    );
    assert!(said.contains("confined by cgroup"), "{said}");
    let rows = read_rows(&out.join("inference.csv"));
    let of = |f: &str, m: u64| -> Vec<&Row> {
        rows.iter()
            .filter(|r| r.function_name == f && r.lambda_memory_size == m)
            .collect()
    };
    for memory in [128, 512] {
        let lr = of("text-inference.logistic-regression", memory);
        // 2 cold (one per batch size), 2 x 2 warm.
        assert_eq!(lr.len(), 6, "{lr:?}");
        for r in &lr {
            assert!(r.error.is_empty(), "{r:?}");
            assert_eq!(r.lambda_billed_duration, r.lambda_duration.ceil() as u64);
            assert!(r.lambda_max_memory_used > 0 && r.lambda_max_memory_used < memory);
            assert!(r.processing_time > 0.0);
            if r.is_cold_start {
                // Process start to model loaded, as Lambda's Init Duration.
                assert!(r.initialization_time > 0.0);
                let span = r.initialization_end - r.initialization_start;
                assert!((span - r.initialization_time).abs() < 0.01, "{r:?}");
            } else {
                assert_eq!(r.initialization_time, 0.0);
            }
        }
        assert_eq!(lr.iter().filter(|r| r.is_cold_start).count(), 2);
        assert_eq!(lr.iter().filter(|r| r.batch_size == 10).count(), 3);
    }
    // A CPU quota of 128/1769 of a core: one CPU as the process sees it.
    assert!(
        of("text-inference.logistic-regression", 128)
            .iter()
            .all(|r| r.cpu_count == 1)
    );
    // The encoder (about 90 MB of weights, read and converted) does not fit in 128 MB.
    let killed = of("text-inference.minilm", 128);
    assert!(!killed.is_empty());
    for r in &killed {
        assert!(
            r.error.contains("signal: killed") && r.error.contains("out of memory"),
            "{r:?}"
        );
    }
    let fits = of("text-inference.minilm", 512);
    assert!(fits.iter().all(|r| r.error.is_empty()), "{fits:?}");
    assert_eq!(fits.len(), 6);
    for name in [
        "inference-summary.csv",
        "inference-logistic-regression.png",
        "inference-logistic-regression.svg",
        "inference-minilm.png",
    ] {
        assert!(out.join(name).is_file(), "{name}");
    }
    let summary = std::fs::read_to_string(out.join("inference-summary.csv")).unwrap();
    assert!(summary.starts_with("function,memory_mb,batch_size,start,n,errors"));
    assert!(
        summary.contains("text-inference.minilm,128,1,cold,"),
        "{summary}"
    );

    // Where cgroups are unavailable (forced here) the workers run under an address-space limit,
    // with a warning that CPU is not scaled.
    let out2 = dir.path().join("out2");
    let mut args2 = args.to_vec();
    args2[3] = "logistic-regression";
    args2[5] = "256";
    let last = args2.len() - 1;
    args2[last] = out2.to_str().unwrap();
    args2.extend(["--confine", "rlimit"]);
    let run = faasml(dir.path(), &args2);
    assert!(run.status.success(), "{}", text(&run));
    assert!(text(&run).contains("CPU is not scaled"), "{}", text(&run));
    assert!(
        read_rows(&out2.join("inference.csv"))
            .iter()
            .all(|r| r.error.is_empty())
    );
}

#[test]
fn bad_parameters_exit_with_one_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = format!("file://{}", dir.path().join("store").display());
    for (args, says) in [
        (
            vec![
                "run",
                "text-train",
                "--algorithm",
                "naive-bayes",
                "--store",
                &store,
            ],
            "logistic-regression",
        ),
        (
            vec![
                "run",
                "text-train",
                "--test-fraction",
                "1.5",
                "--store",
                &store,
            ],
            "test_fraction",
        ),
        (
            vec![
                "bench",
                "inference",
                "--algorithms",
                "svm",
                "--store",
                &store,
            ],
            "linear-svm",
        ),
        (
            vec!["bench", "inference", "--memory", "8", "--store", &store],
            "--memory 8",
        ),
        (
            vec![
                "bench",
                "inference",
                "--compare",
                "torch",
                "--store",
                &store,
            ],
            "sklearn",
        ),
    ] {
        let out = faasml(dir.path(), &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(says), "{args:?}: {}", text(&out));
    }
    // No model published yet: refused like a parameter (2), saying how to make one.
    let out = faasml(
        dir.path(),
        &[
            "run",
            "text-inference",
            "--algorithm",
            "pca",
            "--store",
            &store,
        ],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("faasml run text-train"),
        "{}",
        text(&out)
    );
}
