//! Benchmark: exact PCA fit + transform on MNIST-shaped pseudo-random data.
//!
//! Run with `cargo run --release -p faasml-ml --example pca_bench`.

use std::time::Instant;

use faasml_ml::Matrix;
use faasml_ml::pca::Pca;

/// Deterministic pseudo-random "pixels" in [0, 1] with some low-rank structure.
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

fn bench(rows: usize, cols: usize, k: usize, reps: usize) {
    let x = pixels(rows, cols, 42);
    let params = Pca::params().n_components(k).check().expect("valid params");
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
        assert_eq!(z.rows(), rows);
        model = Some(m);
    }
    let m = model.expect("at least one rep");
    let ratio: f32 = m.explained_variance_ratio().iter().sum();
    println!(
        "pca {rows}x{cols} k={k}: fit {best_fit:.4} s, transform {best_tr:.4} s (best of {reps}), \
         threads={}, top ev={:.4}, sum ratio={ratio:.4}",
        rayon::current_num_threads(),
        m.explained_variance()[0]
    );
}

fn main() {
    bench(1000, 784, 10, 5);
    bench(10000, 784, 50, 3);
    bench(30000, 784, 50, 3);
}
