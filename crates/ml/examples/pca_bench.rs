//! Benchmark: exact PCA fit + transform with both eigensolvers, on MNIST
//! images and on MNIST-shaped pseudo-random data.
//!
//! Run with `cargo run --release -p faasml-ml --example pca_bench`.
//! Set `RAYON_NUM_THREADS` to control the thread count.

use std::time::Instant;

use faasml_ml::Matrix;
use faasml_ml::pca::{EigenSolver, Pca};

/// Deterministic pseudo-random "pixels" in [0, 1] with some low-rank structure.
///
/// Nine class directions over a flat noise floor: the eigenvalues past the
/// ninth form a dense Marchenko–Pastur bulk, the hardest case for a Krylov
/// solver (it falls back to the full decomposition when k reaches the bulk).
fn pixels(rows: usize, cols: usize, seed: u64) -> Matrix {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut next = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut data = Vec::with_capacity(rows * cols);
    for _ in 0..rows {
        let class = (next() % 10) as usize;
        for c in 0..cols {
            // class-dependent blob plus noise, quantized to u8 like an image
            let blob = if (c * 7 + class * 13) % 10 < 3 {
                160.0
            } else {
                0.0
            };
            let noise = (next() % 96) as f32;
            let v = (blob + noise).min(255.0) as u8;
            data.push(v as f32 / 255.0);
        }
    }
    Matrix::new(rows, cols, data).expect("shape is consistent")
}

/// The first `rows` images of the bundled MNIST training set, scaled to [0, 1].
fn mnist(rows: usize) -> Matrix {
    let set = faasml_datasets::bundled::load("mnist").expect("bundled MNIST");
    let d = 784;
    let data = set.pixels[..rows * d]
        .iter()
        .map(|&p| p as f32 / 255.0)
        .collect();
    Matrix::new(rows, d, data).expect("shape is consistent")
}

fn bench(name: &str, x: &Matrix, k: usize, reps: usize) {
    for solver in [EigenSolver::Full, EigenSolver::Auto] {
        let params = Pca::params()
            .n_components(k)
            .solver(solver)
            .check()
            .expect("valid params");
        let mut best_fit = f64::INFINITY;
        let mut best_tr = f64::INFINITY;
        let mut model = None;
        for _ in 0..reps {
            let t = Instant::now();
            let m = params.fit(x.view()).expect("fit");
            best_fit = best_fit.min(t.elapsed().as_secs_f64());
            let t = Instant::now();
            let z = m.transform(x.view()).expect("transform");
            best_tr = best_tr.min(t.elapsed().as_secs_f64());
            assert_eq!(z.rows(), x.rows());
            model = Some(m);
        }
        let m = model.expect("at least one rep");
        let ev: f32 = m.explained_variance().iter().sum();
        println!(
            "pca {name} {}x{} k={k} {solver:?}: fit {best_fit:.4} s, transform {best_tr:.4} s \
             (best of {reps}), threads={}, top ev={:.4}, sum ev={ev:.4}",
            x.rows(),
            x.cols(),
            rayon::current_num_threads(),
            m.explained_variance()[0]
        );
    }
}

fn main() {
    bench("mnist", &mnist(1000), 10, 7);
    bench("mnist", &mnist(10_000), 50, 3);
    bench("mnist", &mnist(30_000), 50, 3);
    bench("synthetic", &pixels(1000, 784, 42), 10, 5);
    bench("synthetic", &pixels(30_000, 784, 42), 50, 3);
}
