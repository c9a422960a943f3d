//! Forward and backward passes of the MLP over row-major minibatches, with
//! reusable buffers ([`Workspace`]) and faer GEMMs.

use faer::linalg::matmul::matmul;
use faer::{Accum, MatMut, MatRef, Par};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::{Activation, Mlp};
use crate::{MatrixView, MlError, Result};

/// Below this many destination rows a GEMM is never split across threads.
const MIN_SPLIT_ROWS: usize = 16;

/// Reusable buffers for [`Mlp::gradient_with`] / [`Mlp::train_step`]: after
/// the first call at a given batch size, a training step allocates nothing.
#[derive(Debug, Clone)]
pub struct Workspace {
    /// Layer sizes of the network this workspace serves.
    layers: Vec<usize>,
    /// Threads used per GEMM (row blocks run with `rayon::join`).
    threads: usize,
    /// Rows the buffers currently hold.
    cap_rows: usize,
    /// Per layer `l`: activation output (n x layers[l+1]); the last one holds the softmax.
    pub(crate) act: Vec<Vec<f32>>,
    /// Per hidden layer: dropout scale per unit (0 or `1/(1-p)`), n x layers[l+1].
    mask: Vec<Vec<f32>>,
    /// Per hidden layer: activation after dropout (input to the next layer).
    dropped: Vec<Vec<f32>>,
    /// Two ping-pong buffers for the backward deltas (n x max width).
    delta: [Vec<f32>; 2],
    /// The gradient of the last [`Mlp::gradient_with`] call.
    grad: Vec<f32>,
}

impl Workspace {
    /// Buffers for `mlp`, single-threaded GEMMs; they grow on first use to the batch size.
    pub fn new(mlp: &Mlp) -> Self {
        let l = mlp.layers().len() - 1;
        Self {
            layers: mlp.layers().to_vec(),
            threads: 1,
            cap_rows: 0,
            act: vec![Vec::new(); l],
            mask: vec![Vec::new(); l - 1],
            dropped: vec![Vec::new(); l - 1],
            delta: [Vec::new(), Vec::new()],
            grad: vec![0.0; mlp.n_params()],
        }
    }

    /// Sets the threads per GEMM (>= 1; row blocks via `rayon::join` on the global pool).
    ///
    /// Results are deterministic for a given thread count but may differ in the
    /// last bits between thread counts.
    pub fn with_threads(mut self, threads: usize) -> Self {
        self.threads = threads.max(1);
        self
    }

    /// Threads per GEMM.
    pub fn threads(&self) -> usize {
        self.threads
    }

    /// The gradient computed by the last [`Mlp::gradient_with`] call.
    pub fn grad(&self) -> &[f32] {
        &self.grad
    }

    /// Grows the buffers to hold `n` rows (no-op when they already do).
    fn reserve(&mut self, n: usize) {
        if n <= self.cap_rows {
            return;
        }
        let widths = &self.layers[1..];
        for (b, &w) in self.act.iter_mut().zip(widths) {
            b.resize(n * w, 0.0);
        }
        for (b, &w) in self.mask.iter_mut().zip(widths) {
            b.resize(n * w, 0.0);
        }
        for (b, &w) in self.dropped.iter_mut().zip(widths) {
            b.resize(n * w, 0.0);
        }
        let wmax = widths.iter().copied().max().unwrap_or(0);
        for d in &mut self.delta {
            d.resize(n * wmax, 0.0);
        }
        self.cap_rows = n;
    }
}

/// `dst (+)= lhs * rhs`, splitting `dst`'s rows into `threads` blocks run with `rayon::join`.
fn gemm(
    dst: MatMut<'_, f32>,
    accum: Accum,
    lhs: MatRef<'_, f32>,
    rhs: MatRef<'_, f32>,
    threads: usize,
) {
    let m = dst.nrows();
    if threads <= 1 || m < 2 * MIN_SPLIT_ROWS {
        matmul(dst, accum, lhs, rhs, 1.0f32, Par::Seq);
        return;
    }
    let half = m / 2;
    let (top, bottom) = dst.split_at_row_mut(half);
    let (lt, lb) = lhs.split_at_row(half);
    let t1 = threads / 2;
    rayon::join(
        || gemm(top, accum, lt, rhs, t1),
        || gemm(bottom, accum, lb, rhs, threads - t1),
    );
}

/// Row-major `rows x cols` view of `s[..rows * cols]`.
fn view(s: &[f32], rows: usize, cols: usize) -> MatRef<'_, f32> {
    MatRef::from_row_major_slice(&s[..rows * cols], rows, cols)
}

/// Row-major `rows x cols` mutable view of `s[..rows * cols]`.
fn view_mut(s: &mut [f32], rows: usize, cols: usize) -> MatMut<'_, f32> {
    MatMut::from_row_major_slice_mut(&mut s[..rows * cols], rows, cols)
}

impl Mlp {
    /// Checks `x` and `y` against the network; returns the number of rows.
    pub(crate) fn check_batch(&self, x: MatrixView<'_>, y: Option<&[u8]>) -> Result<usize> {
        if x.cols() != self.layers[0] {
            return Err(MlError::ShapeMismatch {
                what: "number of features".into(),
                expected: self.layers[0],
                got: x.cols(),
            });
        }
        if let Some(y) = y {
            if y.len() != x.rows() {
                return Err(MlError::ShapeMismatch {
                    what: "number of labels".into(),
                    expected: x.rows(),
                    got: y.len(),
                });
            }
            let k = self.n_classes();
            if let Some(row) = y.iter().position(|&c| c as usize >= k) {
                return Err(MlError::LabelOutOfRange {
                    label: y[row] as u32,
                    row,
                    n_classes: k,
                });
            }
        }
        Ok(x.rows())
    }

    /// Checks that `ws` was made for this network's shape.
    pub(crate) fn check_workspace(&self, ws: &Workspace) -> Result<()> {
        if ws.layers != self.layers {
            return Err(MlError::ShapeMismatch {
                what: "workspace layer count or sizes (made for another network)".into(),
                expected: self.n_params(),
                got: ws.grad.len(),
            });
        }
        Ok(())
    }

    /// Forward pass of `x` (checked) into `ws.act`; the last layer holds softmax
    /// probabilities. With `dropout_seed`, hidden layers apply inverted dropout with a
    /// mask drawn from `Xoshiro256PlusPlus::seed_from_u64(seed)` (row-major, layer by layer).
    pub(crate) fn forward(&self, ws: &mut Workspace, x: MatrixView<'_>, dropout_seed: Option<u64>) {
        let n = x.rows();
        ws.reserve(n);
        let n_layers = self.layers.len() - 1;
        let drop = dropout_seed.filter(|_| self.dropout > 0.0);
        let mut rng = drop.map(Xoshiro256PlusPlus::seed_from_u64);
        let keep_scale = 1.0 / (1.0 - self.dropout);
        // Keep a unit when a uniform u32 is >= p * 2^32.
        let threshold = (f64::from(self.dropout) * 4_294_967_296.0) as u64;
        let threads = ws.threads;
        for l in 0..n_layers {
            let (fi, fo) = (self.layers[l], self.layers[l + 1]);
            let (w, b) = self.layer_params(l);
            let (prev, rest) = ws.act.split_at_mut(l);
            let input: &[f32] = if l == 0 {
                x.data()
            } else if drop.is_some() {
                &ws.dropped[l - 1]
            } else {
                &prev[l - 1]
            };
            let out = &mut rest[0][..n * fo];
            for row in out.chunks_exact_mut(fo) {
                row.copy_from_slice(b);
            }
            gemm(
                view_mut(out, n, fo),
                Accum::Add,
                view(input, n, fi),
                view(w, fi, fo),
                threads,
            );
            let out = &mut ws.act[l][..n * fo];
            if l + 1 < n_layers {
                match self.activation {
                    Activation::Tanh => out.iter_mut().for_each(|v| *v = v.tanh()),
                    Activation::Relu => out.iter_mut().for_each(|v| *v = v.max(0.0)),
                }
                if let Some(rng) = rng.as_mut() {
                    let mask = &mut ws.mask[l][..n * fo];
                    let dropped = &mut ws.dropped[l][..n * fo];
                    for ((m, d), &h) in mask.iter_mut().zip(dropped.iter_mut()).zip(out.iter()) {
                        *m = if u64::from(rng.next_u32()) >= threshold {
                            keep_scale
                        } else {
                            0.0
                        };
                        *d = h * *m;
                    }
                }
            } else {
                for row in out.chunks_exact_mut(fo) {
                    let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                    let mut sum = 0f32;
                    for v in row.iter_mut() {
                        *v = (*v - max).exp();
                        sum += *v;
                    }
                    let inv = 1.0 / sum;
                    row.iter_mut().for_each(|v| *v *= inv);
                }
            }
        }
    }

    /// Mean cross-entropy (in f64) of the probabilities left in `ws` by [`Self::forward`].
    pub(crate) fn cross_entropy(&self, ws: &Workspace, y: &[u8]) -> f64 {
        let k = self.n_classes();
        let probs = &ws.act[self.layers.len() - 2];
        let sum: f64 = y
            .iter()
            .enumerate()
            .map(|(i, &c)| -f64::from(probs[i * k + c as usize].max(f32::MIN_POSITIVE)).ln())
            .sum();
        sum / y.len().max(1) as f64
    }

    /// Backward pass after a training-mode [`Self::forward`]: writes the gradient of
    /// the mean cross-entropy into `ws.grad`. The `1/n` of the mean is applied once, to
    /// the output delta; the hidden deltas reuse the forward pass's dropout mask.
    pub(crate) fn backward(&self, ws: &mut Workspace, x: MatrixView<'_>, y: &[u8], dropout: bool) {
        let n = x.rows();
        let n_layers = self.layers.len() - 1;
        let k = self.n_classes();
        let inv_n = 1.0 / n as f32;
        let Workspace {
            act,
            mask,
            dropped,
            delta,
            grad,
            threads,
            ..
        } = ws;
        let threads = *threads;
        let [mut cur, mut next] = std::mem::take(delta);
        // Output delta: (softmax - onehot) / n.
        for ((d, p), &c) in cur[..n * k]
            .chunks_exact_mut(k)
            .zip(act[n_layers - 1].chunks_exact(k))
            .zip(y)
        {
            for (dv, &pv) in d.iter_mut().zip(p) {
                *dv = pv * inv_n;
            }
            d[c as usize] -= inv_n;
        }
        for l in (0..n_layers).rev() {
            let (fi, fo) = (self.layers[l], self.layers[l + 1]);
            let (woff, boff) = self.offsets[l];
            let input: &[f32] = if l == 0 {
                x.data()
            } else if dropout {
                &dropped[l - 1]
            } else {
                &act[l - 1]
            };
            let dz = view(&cur, n, fo);
            // dW = input^T dZ (fi x fo).
            let (gw, gb) = grad[woff..boff + fo].split_at_mut(fi * fo);
            gemm(
                view_mut(gw, fi, fo),
                Accum::Replace,
                view(input, n, fi).transpose(),
                dz,
                threads,
            );
            // db = column sums of dZ.
            gb.fill(0.0);
            for row in cur[..n * fo].chunks_exact(fo) {
                gb.iter_mut().zip(row).for_each(|(g, &d)| *g += d);
            }
            if l == 0 {
                break;
            }
            // dA = dZ W^T (n x fi), then through dropout (same mask) and the activation.
            let w = view(&self.params[woff..woff + fi * fo], fi, fo);
            gemm(
                view_mut(&mut next, n, fi),
                Accum::Replace,
                dz,
                w.transpose(),
                threads,
            );
            let h = &act[l - 1][..n * fi];
            let da = &mut next[..n * fi];
            if dropout {
                da.iter_mut()
                    .zip(&mask[l - 1][..n * fi])
                    .for_each(|(d, &m)| *d *= m);
            }
            match self.activation {
                Activation::Tanh => da
                    .iter_mut()
                    .zip(h)
                    .for_each(|(d, &hv)| *d *= 1.0 - hv * hv),
                Activation::Relu => da
                    .iter_mut()
                    .zip(h)
                    .for_each(|(d, &hv)| *d = if hv > 0.0 { *d } else { 0.0 }),
            }
            std::mem::swap(&mut cur, &mut next);
        }
        *delta = [cur, next];
    }
}
