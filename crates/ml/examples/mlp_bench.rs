//! Benchmark: MLP training-step throughput and a 5-epoch MNIST run.
//!
//! Run with `cargo run --release -p faasml-ml --example mlp_bench`.
//! Threads here are GEMM row-block threads (`Workspace::with_threads`).
//! Set `MLP_RELU=1` to use relu instead of tanh for the hidden layer.

use std::time::Instant;

use faasml_ml::Matrix;
use faasml_ml::mlp::{Activation, Mlp, Workspace};

fn mnist(name: &str) -> (Matrix, Vec<u8>) {
    let set = faasml_datasets::bundled::load(name).expect("bundled MNIST");
    let x = set.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let d = set.pixels_per_image();
    (Matrix::new(set.len(), d, x).expect("shape"), set.labels)
}

/// Runs `epochs` epochs of SGD in order; returns the elapsed seconds.
fn train(mlp: &mut Mlp, threads: usize, x: &Matrix, y: &[u8], bs: usize, epochs: usize) -> f64 {
    let mut ws = Workspace::new(mlp).with_threads(threads);
    let t = Instant::now();
    let mut step = 0u64;
    for _ in 0..epochs {
        for s in (0..x.rows()).step_by(bs) {
            let e = (s + bs).min(x.rows());
            mlp.train_step(&mut ws, x.view().slice_rows(s, e), &y[s..e], 0.1, step)
                .expect("train step");
            step += 1;
        }
    }
    t.elapsed().as_secs_f64()
}

/// Hidden activation chosen by the `MLP_RELU` environment variable.
fn activation() -> Activation {
    if std::env::var_os("MLP_RELU").is_some() {
        Activation::Relu
    } else {
        Activation::Tanh
    }
}

fn build(layers: &[usize]) -> Mlp {
    Mlp::params()
        .layers(layers)
        .activation(activation())
        .seed(1)
        .check()
        .expect("params")
        .build()
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .ok();
    let act = activation();
    let (x, y) = mnist("mnist-10k");
    let (xt, yt) = mnist("mnist-test");
    println!(
        "training-step throughput (samples/s), {act:?}, dropout 0.2, 10k MNIST, best of 3 epochs"
    );
    println!(
        "{:<14} {:>5} {:>12} {:>12}",
        "net", "batch", "1 thread", "2 threads"
    );
    for layers in [[784usize, 100, 47], [784, 128, 10]] {
        for bs in [16, 32, 64, 128] {
            let mut rates = Vec::new();
            for threads in [1, 2] {
                let mut mlp = build(&layers);
                train(&mut mlp, threads, &x, &y, bs, 1); // warm-up
                let best = (0..3)
                    .map(|_| train(&mut mlp, threads, &x, &y, bs, 1))
                    .fold(f64::INFINITY, f64::min);
                rates.push(x.rows() as f64 / best);
            }
            let net = format!("{}-{}-{}", layers[0], layers[1], layers[2]);
            println!("{net:<14} {bs:>5} {:>12.0} {:>12.0}", rates[0], rates[1]);
        }
    }
    println!("\n5 epochs, 784-128-10 {act:?} dropout 0.2, lr 0.1, batch 64, 10k MNIST");
    for threads in [1, 2] {
        let mut mlp = build(&[784, 128, 10]);
        let secs = train(&mut mlp, threads, &x, &y, 64, 5);
        let acc = mlp.accuracy(xt.view(), &yt).expect("accuracy");
        println!("{threads} thread(s): {secs:.3} s, test accuracy {acc:.4}");
    }
}
