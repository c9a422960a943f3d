//! Benchmark: a full-covariance Gaussian mixture on bag-of-words counts (the VADER
//! tweets/reviews set: column `text`), fitted and applied on the sparse rows.
//!
//! Run with `cargo run --release -p faasml-ml --example gmm_text_bench -- PATH [MODEL_OUT]`,
//! `PATH` a `.csv` or `.csv.gz`: counts of the 3,000 most frequent words (scikit-learn's
//! `CountVectorizer(stop_words='english', max_features=3000)`), `GaussianMixture(2)` with
//! seed 42 fitted by `fit_sparse` on the first 18,642 texts, then `predict_sparse` on
//! batches of 1, 10, 100 and 1000 held-out texts (median of 20), and the dense `predict`
//! (GEMM E-step) of batches of 100 and 1000 densified (median of 3). With `MODEL_OUT` the
//! fitted weights, means and covariances are written there (raw little-endian `u32` k, d,
//! then `f32`s). `gmm_text_bench --load PATH MODEL` instead rebuilds the model from such a
//! file through [`Persist::from_tensors`], predicts one batch of 1000 and prints the
//! process's peak RSS (Linux `VmHWM`).
//!
//! Measured 2026-12-05 on the shared 2-core build machine (loaded), release build, one after
//! the other in the same session: 112,285 stored counts in the 18,642 training rows
//! (scikit-learn's vectoriser: 112,326). `fit_sparse`: 5.6–6.9 s, 2 iterations, converged
//! (scikit-learn 1.9.1 `GaussianMixture(n_components=2, covariance_type='full',
//! random_state=42)` on the dense counts: 101 s, 2 iterations; it ends in another optimum,
//! its k-means initialisation differing from ours). `predict_sparse` medians of 20: batch 1
//! 0.016–0.019 ms, 10 0.20 ms, 100 1.7–1.9 ms, 1000 15.5–17.3 ms (scikit-learn `predict` on
//! dense batches: 26.8, 31.2, 114, 772 ms); the dense GEMM `predict` here: batch 100 89 ms,
//! 1000 847 ms, the same classes. `--load`: factoring the stored model 1.1 s, peak
//! RSS 312 MB, 175 MB resident once loaded (scikit-learn's process: 2.3 GB after its fit).

use std::time::Instant;

use faasml_datasets::idx::gunzip_if_needed;
use faasml_datasets::text_table::read_text_table;
use faasml_ml::mixture::{GaussianMixture, GaussianMixtureModel};
use faasml_ml::text::VectorizerParams;
use faasml_ml::{CsrMatrix, ModelTensors, Persist, Predict, Tensor, TensorData};

const N_TRAIN: usize = 18_642;

fn peak_rss_mb() -> f64 {
    status_mb("VmHWM:")
}

fn status_mb(key: &str) -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(key))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

fn counts(path: &str) -> Result<(Vec<String>, CsrMatrix), Box<dyn std::error::Error>> {
    let bytes = std::fs::read(path)?;
    let table = read_text_table(&gunzip_if_needed(&bytes)?[..], "text", "label")?;
    let texts: Vec<&str> = table.texts.iter().map(String::as_str).collect();
    let v = VectorizerParams::default()
        .max_features(Some(3000))
        .fit(&texts)?;
    let x = v.transform(&texts);
    Ok((table.texts.clone(), x))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--load") {
        let (path, model) = (
            args.get(1).ok_or("--load PATH MODEL")?,
            args.get(2).ok_or("--load PATH MODEL")?,
        );
        let (_, x) = counts(path)?;
        let before = peak_rss_mb();
        let bytes = std::fs::read(model)?;
        let word = |i: usize| -> Result<usize, Box<dyn std::error::Error>> {
            let b = bytes.get(4 * i..4 * i + 4).ok_or("short model file")?;
            Ok(u32::from_le_bytes(b.try_into()?) as usize)
        };
        let (k, d) = (word(0)?, word(1)?);
        let floats = |a: usize, b: usize| -> Vec<f32> {
            bytes[8 + 4 * a..8 + 4 * b]
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect()
        };
        let mut t = ModelTensors::new("gaussian-mixture");
        t.insert("weights", Tensor::f32_vector(floats(0, k)));
        let means = TensorData::F32(floats(k, k + k * d));
        t.insert("means", Tensor::new(vec![k, d], means)?);
        let covs = TensorData::F32(floats(k + k * d, k + k * d + k * d * d));
        drop(bytes);
        t.insert("covariances", Tensor::new(vec![k, d, d], covs)?);
        t.insert("lower_bound", Tensor::f32_vector(vec![0.0]));
        t.insert("fit_info", Tensor::u32_vector(vec![1, 1]));
        let start = Instant::now();
        let m = GaussianMixtureModel::from_tensors(&t)?;
        let load_s = start.elapsed().as_secs_f64();
        drop(t);
        let batch = x.select_rows(&(N_TRAIN..N_TRAIN + 1000).collect::<Vec<_>>());
        let start = Instant::now();
        let p = m.predict_sparse(&batch)?;
        println!(
            "load (factor) {:.2} s, predict 1000 {:.2} ms, {} rows; peak RSS {:.0} MB \
             ({:.0} MB before the model), RSS with the model loaded {:.0} MB",
            load_s,
            start.elapsed().as_secs_f64() * 1e3,
            p.len(),
            peak_rss_mb(),
            before,
            status_mb("VmRSS:")
        );
        return Ok(());
    }
    let path = args
        .first()
        .ok_or("usage: gmm_text_bench PATH.csv[.gz] [MODEL_OUT]")?;
    let (texts, x) = counts(path)?;
    let n = texts.len();
    let train = x.select_rows(&(0..N_TRAIN.min(n)).collect::<Vec<_>>());
    println!(
        "{n} texts, {} features; training rows {}, nnz {}",
        x.n_cols(),
        train.n_rows(),
        train.nnz()
    );
    let p = GaussianMixture::params().n_components(2).seed(42).check()?;
    let start = Instant::now();
    let m = p.fit_sparse(&train)?;
    let fit_s = start.elapsed().as_secs_f64();
    println!(
        "fit_sparse: {:.2} s, {} iterations, converged {}, lower bound {:.4}, weights {:?}",
        fit_s,
        m.n_iter(),
        m.converged(),
        m.lower_bound(),
        m.weights()
    );
    let labels = m.predict_sparse(&train)?.classes().unwrap_or_default();
    let ones = labels.iter().filter(|&&c| c == 1).count();
    println!("training labels: {} / {ones}", labels.len() - ones);
    let held: Vec<usize> = (N_TRAIN.min(n)..n).collect();
    for batch in [1usize, 10, 100, 1000] {
        let mut times = Vec::new();
        for r in 0..20 {
            let rows: Vec<usize> = (0..batch)
                .map(|i| held[(r * batch + i) % held.len()])
                .collect();
            let xb = x.select_rows(&rows);
            let start = Instant::now();
            let pred = m.predict_sparse(&xb)?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            assert_eq!(pred.len(), batch);
        }
        times.sort_by(f64::total_cmp);
        println!(
            "predict_sparse batch {batch}: median {:.3} ms (min {:.3}, max {:.3})",
            times[10], times[0], times[19]
        );
    }
    for batch in [100usize, 1000] {
        // The dense E-step (GEMM) on the same rows densified, for comparison.
        let mut times = Vec::new();
        for r in 0..3 {
            let rows: Vec<usize> = (0..batch)
                .map(|i| held[(r * batch + i) % held.len()])
                .collect();
            let xb = x.select_rows(&rows);
            let dense = xb.to_dense();
            let start = Instant::now();
            let pred = m.predict(dense.view())?;
            times.push(start.elapsed().as_secs_f64() * 1e3);
            assert_eq!(pred.classes(), m.predict_sparse(&xb)?.classes());
        }
        times.sort_by(f64::total_cmp);
        println!(
            "dense predict batch {batch}: median of 3 {:.1} ms",
            times[1]
        );
    }
    println!("peak RSS {:.0} MB", peak_rss_mb());
    if let Some(out) = args.get(1) {
        let (k, d) = (m.n_components(), m.n_features());
        let mut bytes = Vec::new();
        bytes.extend((k as u32).to_le_bytes());
        bytes.extend((d as u32).to_le_bytes());
        for v in m
            .weights()
            .iter()
            .chain(m.means().data())
            .chain(m.covariances())
        {
            bytes.extend(v.to_le_bytes());
        }
        std::fs::write(out, bytes)?;
        println!("model written to {out}");
    }
    Ok(())
}
