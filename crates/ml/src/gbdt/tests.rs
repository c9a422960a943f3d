//! Whole-fit tests: the split search against brute force, loss decrease, shards that end with
//! bit-identical models, resuming, and persistence.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};

use super::*;
use crate::{Matrix, MatrixView, Persist};

/// Contributions per tag, one slot per rank.
type Board = Arc<(Mutex<HashMap<String, Vec<Option<Vec<u8>>>>>, Condvar)>;

/// Shards as threads of one process, meeting in a shared map.
#[derive(Clone)]
struct Threads {
    rank: usize,
    size: usize,
    board: Board,
}

impl Collective for Threads {
    fn rank(&self) -> usize {
        self.rank
    }
    fn size(&self) -> usize {
        self.size
    }
    fn all_gather(&mut self, tag: Tag, local: Vec<u8>) -> crate::Result<Vec<Vec<u8>>> {
        let (lock, cv) = &*self.board;
        let mut map = lock.lock().unwrap();
        let slot = map
            .entry(tag.to_string())
            .or_insert_with(|| vec![None; self.size]);
        slot[self.rank] = Some(local);
        cv.notify_all();
        loop {
            let slot = &map[&tag.to_string()];
            if slot.iter().all(Option::is_some) {
                return Ok(slot.iter().map(|s| s.clone().unwrap()).collect());
            }
            map = cv.wait(map).unwrap();
        }
    }

    /// Sums only this rank's block and the tail: the rest keeps this rank's own values, as a
    /// real reduce-scatter leaves it, so that a learner that read another rank's block would
    /// go wrong.
    fn reduce_scatter(
        &mut self,
        tag: Tag,
        values: &mut [f32],
        blocks: &[std::ops::Range<usize>],
        tail: usize,
    ) -> crate::Result<()> {
        let mut sum = values.to_vec();
        gather_and_sum(self, tag, &mut sum)?;
        let keep = blocks[self.rank].clone();
        let n = values.len();
        for (i, v) in values.iter_mut().enumerate() {
            if keep.contains(&i) || i >= n - tail {
                *v = sum[i];
            }
        }
        Ok(())
    }
}

fn fit_shards(p: &GbdtParams, x: &Matrix, y: &[f32], w: usize) -> Vec<GbdtModel> {
    let board: Board = Arc::new((Mutex::new(HashMap::new()), Condvar::new()));
    let n = x.rows();
    let d = x.cols();
    std::thread::scope(|s| {
        let handles: Vec<_> = (0..w)
            .map(|rank| {
                let (lo, hi) = (rank * n / w, (rank + 1) * n / w);
                let xs = MatrixView::new(hi - lo, d, &x.data()[lo * d..hi * d]).unwrap();
                let ys = &y[lo..hi];
                let mut c = Threads {
                    rank,
                    size: w,
                    board: board.clone(),
                };
                s.spawn(move || train(p, Features::Dense(xs), ys, &mut c, None, &mut |_, _| Ok(())))
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap().unwrap())
            .collect()
    })
}

/// A small table with signal in two features and noise in a third.
fn table(n: usize, seed: u64) -> (Matrix, Vec<f32>) {
    let mut s = seed | 1;
    let mut next = || {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        (s % 10_000) as f32 / 10_000.0
    };
    let mut x = Vec::new();
    let mut y = Vec::new();
    for _ in 0..n {
        let (a, b, c) = (next(), (next() * 20.0).floor(), next());
        x.extend_from_slice(&[a, b, c]);
        let p = if a + b / 20.0 > 1.0 { 0.9 } else { 0.15 };
        y.push(f32::from(u8::from(next() < p)));
    }
    (Matrix::new(n, 3, x).unwrap(), y)
}

/// One process's fit of `y` on `f`, with no resume and no progress callback.
fn fit(p: &GbdtParams, f: Features<'_>, y: &[f32]) -> GbdtModel {
    train(p, f, y, &mut Solo, None, &mut |_, _| Ok(())).unwrap()
}

#[test]
fn the_first_split_is_the_brute_force_best() {
    let (x, y) = table(120, 7);
    let p = GbdtParams {
        objective: Objective::Regression,
        n_iterations: 1,
        num_leaves: 2,
        min_data_in_leaf: 5,
        learning_rate: 1.0,
        max_bin: 256,
        min_data_in_bin: 1,
        ..Default::default()
    };
    let model = fit(&p, Features::Dense(x.view()), &y);
    let tree = &model.trees()[0];
    // Brute force: every feature, every midpoint between distinct values, gradients s - y.
    let mean = y.iter().map(|&v| v as f64).sum::<f64>() / y.len() as f64;
    let g: Vec<f64> = y.iter().map(|&v| mean - v as f64).collect();
    let score = |idx: &[usize]| {
        let s: f64 = idx.iter().map(|&i| g[i]).sum();
        s * s / idx.len() as f64
    };
    let all: Vec<usize> = (0..y.len()).collect();
    let (mut best, mut at) = (0.0, (0usize, 0f32));
    for f in 0..3 {
        let mut vals: Vec<f32> = (0..y.len()).map(|i| x.row(i)[f]).collect();
        vals.sort_by(f32::total_cmp);
        vals.dedup();
        for w in vals.windows(2) {
            let t = w[0] + (w[1] - w[0]) / 2.0;
            let (l, r): (Vec<usize>, Vec<usize>) = all.iter().partition(|&&i| x.row(i)[f] <= t);
            if l.len() < 5 || r.len() < 5 {
                continue;
            }
            let gain = score(&l) + score(&r) - score(&all);
            if gain > best + 1e-9 {
                best = gain;
                at = (f, t);
            }
        }
    }
    assert_eq!((tree.feature[0] as usize, tree.threshold[0]), at);
    // Leaf values are the means of the residuals on each side.
    let left: Vec<usize> = all
        .iter()
        .copied()
        .filter(|&i| x.row(i)[at.0] <= at.1)
        .collect();
    let want = -left.iter().map(|&i| g[i]).sum::<f64>() / left.len() as f64;
    assert!(
        (tree.leaf_value[0] - want).abs() < 1e-6,
        "{} vs {want}",
        tree.leaf_value[0]
    );
}

#[test]
fn loss_decreases_every_iteration() {
    let (x, y) = table(600, 3);
    let p = GbdtParams {
        n_iterations: 30,
        num_leaves: 7,
        min_data_in_leaf: 10,
        ..Default::default()
    };
    let mut losses = Vec::new();
    let f = Features::Dense(x.view());
    train(&p, f, &y, &mut Solo, None, &mut |r, m| {
        assert_eq!(r.iteration + 1, m.n_iterations());
        losses.push(m.evaluate(f, &y)?.logloss.unwrap());
        Ok(())
    })
    .unwrap();
    assert_eq!(losses.len(), 30);
    assert!(losses.windows(2).all(|w| w[1] < w[0]), "{losses:?}");
}

#[test]
fn shards_end_with_bit_identical_models_close_to_one_process() {
    let (x, y) = table(900, 11);
    let p = GbdtParams {
        n_iterations: 15,
        num_leaves: 8,
        min_data_in_leaf: 10,
        feature_fraction: 0.67,
        bagging_fraction: 0.8,
        bagging_freq: 2,
        ..Default::default()
    };
    let solo = fit_shards(&p, &x, &y, 1).remove(0);
    for w in [2, 3] {
        let models = fit_shards(&p, &x, &y, w);
        for m in &models[1..] {
            assert_eq!(m, &models[0], "{w} shards");
            assert_eq!(m.to_tensors(), models[0].to_tensors());
        }
        let f = Features::Dense(x.view());
        let (a, b) = (
            solo.evaluate(f, &y).unwrap(),
            models[0].evaluate(f, &y).unwrap(),
        );
        assert!(
            (a.accuracy.unwrap() - b.accuracy.unwrap()).abs() < 0.03,
            "{a:?} vs {b:?}"
        );
    }
}

#[test]
fn a_resumed_fit_grows_the_same_trees() {
    let (x, y) = table(400, 5);
    let p = GbdtParams {
        objective: Objective::Multiclass { n_classes: 2 },
        n_iterations: 8,
        num_leaves: 5,
        min_data_in_leaf: 5,
        bagging_fraction: 0.7,
        bagging_freq: 3,
        ..Default::default()
    };
    let f = Features::Dense(x.view());
    let full = fit(&p, f, &y);
    let resumed = train(
        &p,
        f,
        &y,
        &mut Solo,
        Some(full.truncated(4)),
        &mut |_, _| Ok(()),
    )
    .unwrap();
    assert_eq!(full, resumed);
}

#[test]
fn models_survive_persistence_and_corruption_is_refused() {
    let (x, y) = table(300, 9);
    let p = GbdtParams {
        n_iterations: 5,
        num_leaves: 6,
        min_data_in_leaf: 5,
        ..Default::default()
    };
    let m = fit(&p, Features::Dense(x.view()), &y);
    let t = m.to_tensors();
    assert_eq!(GbdtModel::from_tensors(&t).unwrap(), m);
    let mut bad = t.clone();
    bad.insert(
        "left",
        crate::Tensor::u32_vector(vec![7; m.trees().iter().map(|t| t.feature.len()).sum()]),
    );
    assert!(GbdtModel::from_tensors(&bad).is_err());
    let mut bad = t;
    bad.insert(
        "nodes_per_tree",
        crate::Tensor::u32_vector(vec![u32::MAX; 5]),
    );
    assert!(GbdtModel::from_tensors(&bad).is_err());
}

#[test]
fn sparse_rows_fit_the_same_model_as_dense_ones() {
    let (x, y) = table(300, 13);
    let mut csr = crate::CsrMatrix::empty(3);
    for i in 0..x.rows() {
        let e: Vec<(u32, f32)> = x
            .row(i)
            .iter()
            .enumerate()
            .filter(|(_, v)| **v != 0.0)
            .map(|(j, &v)| (j as u32, v))
            .collect();
        csr.push_row(&e).unwrap();
    }
    let p = GbdtParams {
        n_iterations: 6,
        num_leaves: 6,
        min_data_in_leaf: 5,
        ..Default::default()
    };
    let a = fit(&p, Features::Dense(x.view()), &y);
    let b = fit(&p, Features::Sparse(&csr), &y);
    assert_eq!(a, b);
    assert_eq!(
        a.predict_raw(Features::Sparse(&csr)).unwrap(),
        a.predict_raw(Features::Dense(x.view())).unwrap()
    );
}
