//! Training-step throughput (samples/s) of the Downpour MLP, the counterpart of
//! `bench/torch_mlp.py` (PyTorch CPU, same network, data and loop).
//!
//! Network: 784 -> 100 tanh -> dropout 0.2 -> 47 softmax, mean cross-entropy, plain SGD with
//! lr 0.1 ([`Mlp::train_step`]). Data: the 60,000 bundled MNIST training images scaled to
//! [0, 1] (labels 0..9). For each batch size (16, 32, 64, 128) and GEMM thread count (1 and 2,
//! [`Workspace::with_threads`] on a 2-thread rayon pool) a fresh network runs 200 warm-up steps,
//! then 3 timed passes of `60000 / batch` full batches taken in order as contiguous row slices
//! of the f32 matrix. Reported: samples/s of the median pass, min and max in brackets.
//!
//! Run with `cargo run -p faasml-ml --release --example mlp_step`; append `-- BATCH THREADS`
//! to measure only that one row.

use std::time::Instant;

use faasml_ml::Matrix;
use faasml_ml::mlp::{Activation, Mlp, Workspace};

const BATCHES: [usize; 4] = [16, 32, 64, 128];
const THREADS: [usize; 2] = [1, 2];
const REPEATS: usize = 3;
const WARMUP: usize = 200;
const LR: f32 = 0.1;

/// State of one training run: the network, its workspace and the next row and dropout seed.
struct Run {
    mlp: Mlp,
    ws: Workspace,
    row: usize,
    step: u64,
}

impl Run {
    fn new(threads: usize) -> Self {
        let mlp = Mlp::params()
            .layers(&[784, 100, 47])
            .activation(Activation::Tanh)
            .dropout(0.2)
            .seed(1)
            .check()
            .expect("valid hyperparameters")
            .build();
        let ws = Workspace::new(&mlp).with_threads(threads);
        Self {
            mlp,
            ws,
            row: 0,
            step: 0,
        }
    }

    /// `steps` SGD steps over consecutive `bs`-row slices of `x`, `y`; returns the elapsed seconds.
    fn steps(&mut self, x: &Matrix, y: &[u8], bs: usize, steps: usize) -> f64 {
        let t = Instant::now();
        for _ in 0..steps {
            if self.row + bs > x.rows() {
                self.row = 0;
            }
            let (s, e) = (self.row, self.row + bs);
            self.mlp
                .train_step(
                    &mut self.ws,
                    x.view().slice_rows(s, e),
                    &y[s..e],
                    LR,
                    self.step,
                )
                .expect("train step");
            self.row = e;
            self.step += 1;
        }
        t.elapsed().as_secs_f64()
    }
}

fn main() {
    rayon::ThreadPoolBuilder::new()
        .num_threads(2)
        .build_global()
        .ok();
    let set = faasml_datasets::bundled::load("mnist").expect("bundled MNIST");
    let d = set.pixels_per_image();
    let pixels = set.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let x = Matrix::new(set.len(), d, pixels).expect("shape");
    let y = set.labels;
    let n = x.rows();
    println!("faasml Mlp, {n} MNIST images, 784-100-47 tanh, dropout 0.2, SGD lr {LR}");
    println!(
        "samples/s: median of {REPEATS} passes of n / batch steps after {WARMUP} warm-up steps"
    );
    println!(
        "{:>5} {:>7} {:>10}  [min, max]",
        "batch", "threads", "samples/s"
    );
    let args: Vec<usize> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("usage: mlp_step [BATCH THREADS]"))
        .collect();
    let (batches, threads_list) = match args[..] {
        [bs, threads] => (vec![bs], vec![threads]),
        _ => (BATCHES.to_vec(), THREADS.to_vec()),
    };
    for &bs in &batches {
        let steps = n / bs;
        for &threads in &threads_list {
            let mut run = Run::new(threads);
            run.steps(&x, &y, bs, WARMUP);
            let mut rates: Vec<f64> = (0..REPEATS)
                .map(|_| (steps * bs) as f64 / run.steps(&x, &y, bs, steps))
                .collect();
            rates.sort_by(f64::total_cmp);
            println!(
                "{bs:>5} {threads:>7} {:>10.0}  [{:.0}, {:.0}]",
                rates[REPEATS / 2],
                rates[0],
                rates[REPEATS - 1]
            );
        }
    }
}
