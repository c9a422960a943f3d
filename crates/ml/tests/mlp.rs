//! MLP integration tests: finite-difference gradient checks, the batch-mean
//! loss, MNIST training, determinism and input validation.

use faasml_ml::mlp::{Activation, Mlp, Workspace};
use faasml_ml::{Matrix, MlError};

/// Small deterministic generator (xorshift64*) for test data.
struct Gen(u64);

impl Gen {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn sym(&mut self) -> f32 {
        ((self.next() >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0
    }
}

fn random_batch(n: usize, d: usize, k: usize, seed: u64) -> (Matrix, Vec<u8>) {
    let mut g = Gen(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let x: Vec<f32> = (0..n * d).map(|_| g.sym() * 1.5).collect();
    let y: Vec<u8> = (0..n).map(|_| (g.next() % k as u64) as u8).collect();
    (Matrix::new(n, d, x).unwrap(), y)
}

/// Max over parameters of |analytic - numeric| / max(|analytic|, |numeric|, floor).
fn gradcheck(act: Activation, dropout: f32, seed: u64) -> f64 {
    let mut mlp = Mlp::params()
        .layers(&[6, 5, 3])
        .activation(act)
        .dropout(dropout)
        .seed(seed)
        .check()
        .unwrap()
        .build();
    // Non-zero biases so relu units are not all at their kink.
    let mut g = Gen(seed + 99);
    for p in mlp.params_mut() {
        *p += 0.1 * g.sym();
    }
    let (x, y) = random_batch(4, 6, 3, seed);
    let dseed = 1234;
    let (loss, grad) = mlp.gradient(x.view(), &y, dseed).unwrap();
    let l64 = mlp.loss(x.view(), &y, Some(dseed)).unwrap();
    assert!((f64::from(loss) - l64).abs() < 1e-5);
    let eps = 1e-2f32;
    let mut worst = 0f64;
    for (i, &g) in grad.iter().enumerate() {
        let p0 = mlp.flat_params()[i];
        let (hi, lo) = (p0 + eps, p0 - eps);
        mlp.params_mut()[i] = hi;
        let fp = mlp.loss(x.view(), &y, Some(dseed)).unwrap();
        mlp.params_mut()[i] = lo;
        let fm = mlp.loss(x.view(), &y, Some(dseed)).unwrap();
        mlp.params_mut()[i] = p0;
        let num = (fp - fm) / (f64::from(hi) - f64::from(lo));
        let ana = f64::from(g);
        let rel = (ana - num).abs() / ana.abs().max(num.abs()).max(1e-3);
        worst = worst.max(rel);
    }
    worst
}

#[test]
fn gradient_matches_finite_differences() {
    for act in [Activation::Tanh, Activation::Relu] {
        for dropout in [0.0, 0.3] {
            for seed in [1, 2, 3] {
                let rel = gradcheck(act, dropout, seed);
                println!("{act:?} dropout {dropout} seed {seed}: max rel err {rel:.2e}");
                assert!(rel < 1e-2, "{act:?} dropout {dropout} seed {seed}: {rel}");
            }
        }
    }
}

#[test]
fn dropout_changes_the_gradient_only_through_the_seed() {
    let mlp = Mlp::params()
        .layers(&[6, 5, 3])
        .dropout(0.5)
        .check()
        .unwrap()
        .build();
    let (x, y) = random_batch(8, 6, 3, 5);
    let a = mlp.gradient(x.view(), &y, 1).unwrap();
    let b = mlp.gradient(x.view(), &y, 1).unwrap();
    let c = mlp.gradient(x.view(), &y, 2).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.1, c.1);
}

#[test]
fn batch_gradient_is_the_mean_of_example_gradients() {
    for act in [Activation::Tanh, Activation::Relu] {
        let mlp = Mlp::params()
            .layers(&[6, 5, 4, 3])
            .activation(act)
            .dropout(0.0)
            .seed(3)
            .check()
            .unwrap()
            .build();
        let n = 8;
        let (x, y) = random_batch(n, 6, 3, 11);
        let (loss, grad) = mlp.gradient(x.view(), &y, 0).unwrap();
        let mut mean = vec![0f64; mlp.n_params()];
        let mut mean_loss = 0f64;
        for i in 0..n {
            let xi = x.view().slice_rows(i, i + 1);
            let (li, gi) = mlp.gradient(xi, &y[i..i + 1], 0).unwrap();
            mean_loss += f64::from(li) / n as f64;
            mean.iter_mut()
                .zip(&gi)
                .for_each(|(m, &g)| *m += f64::from(g) / n as f64);
        }
        assert!((f64::from(loss) - mean_loss).abs() < 1e-5);
        let scale = mean.iter().fold(0f64, |a, v| a.max(v.abs()));
        for (g, m) in grad.iter().zip(&mean) {
            assert!((f64::from(*g) - m).abs() <= 1e-5 * scale, "{g} vs {m}");
        }
    }
}

fn mnist(name: &str, limit: usize) -> (Matrix, Vec<u8>) {
    let set = faasml_datasets::bundled::load(name).unwrap().take(limit);
    let x = set.pixels.iter().map(|&p| f32::from(p) / 255.0).collect();
    let d = set.pixels_per_image();
    (Matrix::new(set.len(), d, x).unwrap(), set.labels)
}

/// Trains `epochs` epochs of minibatch SGD in order (no shuffling), seed per step.
fn train(mlp: &mut Mlp, x: &Matrix, y: &[u8], bs: usize, lr: f32, epochs: usize) {
    let mut ws = Workspace::new(mlp);
    let mut step = 0u64;
    for _ in 0..epochs {
        for s in (0..x.rows()).step_by(bs) {
            let e = (s + bs).min(x.rows());
            mlp.train_step(&mut ws, x.view().slice_rows(s, e), &y[s..e], lr, step)
                .unwrap();
            step += 1;
        }
    }
}

#[test]
fn mnist_training_reaches_85_percent() {
    let (x, y) = mnist("mnist-10k", 10_000);
    let (xt, yt) = mnist("mnist-test", 10_000);
    let mut mlp = Mlp::params()
        .layers(&[784, 100, 10])
        .dropout(0.2)
        .seed(7)
        .check()
        .unwrap()
        .build();
    let t = std::time::Instant::now();
    train(&mut mlp, &x, &y, 32, 0.1, 1);
    let acc = mlp.accuracy(xt.view(), &yt).unwrap();
    println!("mnist 1 epoch: test accuracy {acc:.4} in {:?}", t.elapsed());
    assert!(acc >= 0.85, "accuracy {acc}");
}

#[test]
fn training_is_deterministic() {
    let (x, y) = mnist("mnist-10k", 512);
    let build = || {
        Mlp::params()
            .layers(&[784, 32, 10])
            .activation(Activation::Relu)
            .seed(3)
            .check()
            .unwrap()
            .build()
    };
    let (mut a, mut b) = (build(), build());
    assert_eq!(a, b);
    train(&mut a, &x, &y, 32, 0.1, 1);
    train(&mut b, &x, &y, 32, 0.1, 1);
    assert_eq!(a.flat_params(), b.flat_params());
    assert_ne!(a.flat_params(), build().flat_params());
    assert_eq!(
        a.predict_classes(x.view()).unwrap(),
        b.predict_classes(x.view()).unwrap()
    );
}

#[test]
fn params_round_trip_and_validation() {
    let mut mlp = Mlp::params().check().unwrap().build();
    assert_eq!(mlp.layers(), &[784, 100, 47]);
    assert_eq!(mlp.n_params(), 785 * 100 + 101 * 47);
    let p: Vec<f32> = (0..mlp.n_params()).map(|i| i as f32 * 1e-6).collect();
    mlp.set_params(&p).unwrap();
    assert_eq!(mlp.flat_params(), &p[..]);
    assert!(matches!(
        mlp.set_params(&p[1..]),
        Err(MlError::ShapeMismatch { .. })
    ));
    assert!(mlp.sgd_step(&p[1..], 0.1).is_err());

    let bad = |r: Result<_, MlError>| assert!(matches!(r, Err(MlError::InvalidParameter { .. })));
    bad(Mlp::params().layers(&[784]).check());
    bad(Mlp::params().layers(&[784, 0, 10]).check());
    bad(Mlp::params().layers(&[784, 10, 1]).check());
    bad(Mlp::params().dropout(1.0).check());
    bad(Mlp::params().dropout(f32::NAN).check());

    let small = Mlp::params().layers(&[6, 5, 3]).check().unwrap().build();
    let (x, mut y) = random_batch(4, 6, 3, 1);
    y[2] = 3;
    assert!(matches!(
        small.gradient(x.view(), &y, 0),
        Err(MlError::LabelOutOfRange { row: 2, .. })
    ));
    assert!(small.gradient(x.view(), &y[..3], 0).is_err());
    assert!(mlp.predict_classes(x.view()).is_err());
    let mut ws = Workspace::new(&mlp);
    assert!(
        small
            .gradient_with(&mut ws, x.view(), &[0, 1, 2, 0], 0)
            .is_err()
    );
    let empty = Matrix::new(0, 6, vec![]).unwrap();
    assert!(small.gradient(empty.view(), &[], 0).is_err());
    assert_eq!(
        small.predict_classes(empty.view()).unwrap(),
        Vec::<u32>::new()
    );
}

#[test]
fn predict_proba_rows_sum_to_one_and_threads_agree() {
    let mlp = Mlp::params().layers(&[6, 40, 3]).check().unwrap().build();
    let (x, y) = random_batch(600, 6, 3, 9);
    let p = mlp.predict_proba(x.view()).unwrap();
    for i in 0..p.rows() {
        assert!((p.row(i).iter().sum::<f32>() - 1.0).abs() < 1e-5);
    }
    let mut w1 = Workspace::new(&mlp);
    let mut w2 = Workspace::new(&mlp).with_threads(2);
    let l1 = mlp.gradient_with(&mut w1, x.view(), &y, 5).unwrap();
    let l2 = mlp.gradient_with(&mut w2, x.view(), &y, 5).unwrap();
    assert!((l1 - l2).abs() < 1e-5);
    for (a, b) in w1.grad().iter().zip(w2.grad()) {
        assert!((a - b).abs() < 1e-5, "{a} vs {b}");
    }
}
