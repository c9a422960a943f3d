//! Benchmark: logistic regression and the linear SVC fitted on a bag-of-words
//! ([`CsrMatrix`]) train split and scored on a held-out split, with fit time and held-out
//! accuracy.
//!
//! Run with `cargo run --release -p faasml-ml --example sparse_linear_bench -- TRAIN TEST`,
//! where each file holds one split as five lines of whitespace-separated numbers:
//! `n_rows n_cols nnz`, then the CSR `indptr`, `indices` and `values`, then the labels
//! (`0..n_classes`). Both splits must share the vocabulary (same `n_cols`). `REPS` sets how
//! many fits are timed (default 3; the best is printed).

use std::time::Instant;

use faasml_ml::CsrMatrix;
use faasml_ml::linear::{LinearSvc, LogisticRegression};
use faasml_ml::metrics::accuracy;

type Split = (CsrMatrix, Vec<u32>);

fn numbers<T: std::str::FromStr>(line: Option<&str>, what: &str) -> Result<Vec<T>, String> {
    line.ok_or(format!("missing line: {what}"))?
        .split_whitespace()
        .map(|t| t.parse().map_err(|_| format!("bad number `{t}` in {what}")))
        .collect()
}

fn read_split(path: &str) -> Result<Split, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{path}: {e}"))?;
    let mut lines = text.lines();
    let header: Vec<usize> = numbers(lines.next(), "header")?;
    let [_, n_cols, _] = header[..] else {
        return Err(format!("{path}: header must be `n_rows n_cols nnz`"));
    };
    let indptr = numbers(lines.next(), "indptr")?;
    let indices = numbers(lines.next(), "indices")?;
    let values = numbers(lines.next(), "values")?;
    let labels = numbers(lines.next(), "labels")?;
    let x = CsrMatrix::new(n_cols, indptr, indices, values).map_err(|e| e.to_string())?;
    Ok((x, labels))
}

fn timed<T>(reps: usize, mut f: impl FnMut() -> T) -> (T, f64) {
    let mut best = f64::INFINITY;
    let mut out = None;
    for _ in 0..reps.max(1) {
        let t = Instant::now();
        out = Some(f());
        best = best.min(t.elapsed().as_secs_f64());
    }
    match out {
        Some(v) => (v, best),
        None => unreachable!("at least one repetition runs"),
    }
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let [_, train, test] = &args[..] else {
        return Err("usage: sparse_linear_bench TRAIN TEST".into());
    };
    let reps: usize = std::env::var("REPS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let (x, y) = read_split(train)?;
    let (xt, yt) = read_split(test)?;
    let n_classes = y.iter().chain(&yt).max().map_or(0, |&m| m as usize + 1);
    println!(
        "train {} x {} ({} stored), test {} rows, {n_classes} classes",
        x.n_rows(),
        x.n_cols(),
        x.nnz(),
        xt.n_rows()
    );

    let params = LogisticRegression::params().check()?;
    let (model, secs) = timed(reps, || params.fit_sparse(&x, &y, n_classes));
    let model = model?;
    let pred = model.predict_sparse(&xt)?.classes().unwrap_or_default();
    println!(
        "ours LogisticRegression: held-out accuracy {:.4}, fit {:.0} ms (best of {reps}), n_iter {}",
        accuracy(&pred, &yt),
        secs * 1e3,
        model.n_iter()
    );

    let params = LinearSvc::params().check()?;
    let (model, secs) = timed(reps, || params.fit_sparse(&x, &y, n_classes));
    let model = model?;
    let pred = model.predict_classes_sparse(&xt)?;
    println!(
        "ours LinearSvc: held-out accuracy {:.4}, fit {:.0} ms (best of {reps}), n_iter {}",
        accuracy(&pred, &yt),
        secs * 1e3,
        model.n_iter()
    );
    Ok(())
}
