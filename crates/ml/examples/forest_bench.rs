//! Benchmark: random forest fit and predict on synthetic Gaussian-blob data.
//!
//! Run with `cargo run --release -p faasml-ml --example forest_bench`.
//! Set `RAYON_NUM_THREADS` to control the thread count.

use std::time::Instant;

use faasml_ml::Matrix;
use faasml_ml::forest::RandomForest;
use faasml_ml::metrics::accuracy;

/// Small deterministic generator (xorshift64*) for the benchmark data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }
    /// Standard normal via Box-Muller.
    fn normal(&mut self) -> f32 {
        let u1 = self.unit().max(1e-300);
        let u2 = self.unit();
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

/// Class-dependent Gaussian means: each class shifts a few features.
fn blobs(rows: usize, cols: usize, classes: usize, seed: u64) -> (Matrix, Vec<u8>) {
    let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let centers: Vec<f32> = (0..classes * cols).map(|_| g.normal() * 0.6).collect();
    let mut data = Vec::with_capacity(rows * cols);
    let mut y = Vec::with_capacity(rows);
    for _ in 0..rows {
        let c = (g.next() % classes as u64) as usize;
        y.push(c as u8);
        for f in 0..cols {
            data.push(centers[c * cols + f] + g.normal());
        }
    }
    (Matrix::new(rows, cols, data).expect("consistent shape"), y)
}

fn bench(train: usize, cols: usize, classes: usize, test: usize, reps: usize) {
    let (x, y) = blobs(train + test, cols, classes, 7);
    let (xtr, xte) = x.data().split_at(train * cols);
    let xtr = Matrix::new(train, cols, xtr.to_vec()).expect("shape");
    let xte = Matrix::new(test, cols, xte.to_vec()).expect("shape");
    let (ytr, yte) = y.split_at(train);
    let params = RandomForest::params()
        .n_trees(100)
        .max_depth(10)
        .min_samples_split(5)
        .seed(1)
        .check()
        .expect("valid params");
    let (mut fit_s, mut pred_s) = (f64::INFINITY, f64::INFINITY);
    let mut acc = 0.0;
    let mut nodes = 0;
    for _ in 0..reps {
        let t = Instant::now();
        let forest = params.fit(xtr.view(), ytr, classes).expect("fit");
        fit_s = fit_s.min(t.elapsed().as_secs_f64());
        let t = Instant::now();
        let pred = forest.predict_classes(xte.view()).expect("predict");
        pred_s = pred_s.min(t.elapsed().as_secs_f64());
        let truth: Vec<u32> = yte.iter().map(|&c| c as u32).collect();
        acc = accuracy(&pred, &truth);
        nodes = forest.to_parts().feature.len();
    }
    println!(
        "forest {train}x{cols}, {classes} classes, 100 trees depth 10: fit {fit_s:.4} s, \
         predict {test} rows {pred_s:.4} s (best of {reps}), threads={}, nodes={nodes}, held-out acc={acc:.3}",
        rayon::current_num_threads()
    );
}

fn main() {
    bench(7500, 50, 10, 10_000, 5);
    bench(1000, 10, 10, 10_000, 5);
    bench(250, 10, 10, 10_000, 5);
}
