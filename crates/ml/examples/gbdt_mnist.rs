//! Benchmark: gradient-boosted trees on MNIST (LightGBM's settings: multiclass, 100 iterations,
//! 31 leaves, learning rate 0.1), fit time and held-out accuracy.
//!
//! `cargo run --release -p faasml-ml --example gbdt_mnist -- [TRAIN_ROWS] [ITERATIONS]`

use std::time::Instant;

use faasml_datasets::idx::{decode_images_limit, decode_labels_limit, gunzip_if_needed};
use faasml_ml::Matrix;
use faasml_ml::gbdt::{Features, GbdtParams, Objective, Solo, train};

fn load(name: &str, limit: usize) -> (Matrix, Vec<f32>) {
    let dir = format!("{}/../../data/mnist", env!("CARGO_MANIFEST_DIR"));
    let read = |f: String| std::fs::read(format!("{dir}/{f}")).expect("read MNIST");
    let img = read(format!("{name}-images-idx3-ubyte.gz"));
    let lab = read(format!("{name}-labels-idx1-ubyte.gz"));
    let (h, px) =
        decode_images_limit(&gunzip_if_needed(&img).expect("gunzip"), Some(limit)).expect("images");
    let y =
        decode_labels_limit(&gunzip_if_needed(&lab).expect("gunzip"), Some(limit)).expect("labels");
    let d = (h.rows * h.cols) as usize;
    let n = px.len() / d;
    let x = Matrix::new(n, d, px.iter().map(|&p| p as f32).collect()).expect("shape");
    (x, y.iter().map(|&l| l as f32).collect())
}

fn main() {
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("a count"))
        .collect();
    let rows = args.first().copied().unwrap_or(10_000);
    let iterations = args.get(1).copied().unwrap_or(100);
    let (x, y) = load("train", rows);
    let (xt, yt) = load("t10k", 10_000);
    let p = GbdtParams {
        objective: Objective::Multiclass { n_classes: 10 },
        n_iterations: iterations,
        ..Default::default()
    };
    let t = Instant::now();
    let (mut compute, mut wait) = (0.0, 0.0);
    let model = train(
        &p,
        Features::Dense(x.view()),
        &y,
        &mut Solo,
        None,
        &mut |r, _| {
            compute += r.compute.as_secs_f64();
            wait += r.collective.as_secs_f64();
            Ok(())
        },
    )
    .expect("fit");
    let fit = t.elapsed().as_secs_f64();
    let m = model
        .evaluate(Features::Dense(xt.view()), &yt)
        .expect("evaluate");
    println!(
        "rows {} iterations {iterations} threads {} fit {fit:.2} s (trees {compute:.2} s) test accuracy {:.4} logloss {:.4}",
        x.rows(),
        rayon::current_num_threads(),
        m.accuracy.unwrap_or(f64::NAN),
        m.logloss.unwrap_or(f64::NAN)
    );
}
