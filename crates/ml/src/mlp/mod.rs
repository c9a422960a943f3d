//! Multilayer perceptron classifier for data-parallel (Downpour) SGD.
//!
//! The model of the `downpour` workflow: workers pull the parameters from a
//! parameter server, compute a minibatch gradient, and push it back. So the
//! network keeps **all** its parameters in one contiguous `Vec<f32>`
//! ([`Mlp::flat_params`], [`Mlp::set_params`]) and [`Mlp::gradient`] returns a
//! vector of the same layout.
//!
//! # Parameter layout
//!
//! For layer sizes `[d_0, d_1, ..., d_L]` (input first, classes last), layer
//! `l` (0-based, mapping `d_l -> d_{l+1}`) contributes, in order:
//! - `W_l`: `d_l x d_{l+1}` weights, row-major (`W_l[i][j]` connects input `i`
//!   to unit `j`), then
//! - `b_l`: `d_{l+1}` biases,
//!
//! and layers follow each other: `[W_0, b_0, W_1, b_1, ...]`, `sum (d_l + 1) *
//! d_{l+1}` values ([`Mlp::n_params`]). The forward pass of a batch `X` (n x
//! d_0, row-major) is `Z_l = A_l W_l + b_l`, with `A_0 = X`, `A_{l+1} =
//! dropout(act(Z_l))` for hidden layers and `softmax(Z_{L-1})` at the output.
//!
//! # Training semantics
//!
//! The loss is the mean cross-entropy over the minibatch. Hidden layers use
//! *inverted* dropout: at train time a unit is kept with probability `1 - p`
//! and scaled by `1 / (1 - p)`; at inference ([`Mlp::predict_proba`]) nothing
//! is dropped or scaled. The mask is drawn from
//! `Xoshiro256PlusPlus::seed_from_u64(dropout_seed)`, so a gradient is a
//! deterministic function of (parameters, batch, seed).
//!
//! # Two defects of the seed implementation, avoided here
//!
//! 1. **Double averaging.** The seed divided the gradient by the batch size
//!    twice (once in the output delta and again when forming the weight
//!    gradient), so its effective learning rate shrank with the batch size.
//!    Here `1/n` is applied exactly once, to the output delta `(softmax -
//!    onehot) / n`; every later product sums over rows. The tests check that
//!    a batch gradient equals the mean of the per-example gradients.
//! 2. **Mismatched dropout masks.** The seed drew a fresh mask in the
//!    backward pass, so the gradient was not the gradient of the loss that
//!    the forward pass computed. Here the forward pass stores its mask in the
//!    [`Workspace`] and the backward pass multiplies the hidden deltas by that
//!    same mask (scale included). The tests check the analytic gradient
//!    against finite differences with dropout on.
//!
//! # Performance
//!
//! GEMMs are faer's `matmul` on row-major views, `Par::Seq`, optionally split
//! into row blocks across threads with `rayon::join`
//! ([`Workspace::with_threads`]). A [`Workspace`] keeps every intermediate
//! buffer, so [`Mlp::train_step`] allocates nothing once the workspace has
//! seen the batch size.

mod hyperparams;
mod network;
mod train;

pub use hyperparams::{Activation, MlpParams, MlpValidParams};
pub use network::Workspace;
pub use train::{MlpTrainParams, MlpTrainValidParams};

use rayon::prelude::*;

use crate::model::argmax_rows;
use crate::persist::{ModelTensors, Persist, Tensor};
use crate::{Matrix, MatrixView, MlError, Predict, Prediction, Result};

/// Rows per block in [`Mlp::predict_proba`].
const PREDICT_BLOCK: usize = 256;

/// A multilayer perceptron with softmax output and all parameters in one flat vector.
#[derive(Debug, Clone, PartialEq)]
pub struct Mlp {
    layers: Vec<usize>,
    activation: Activation,
    dropout: f32,
    /// Flat parameters; see the module docs for the layout.
    params: Vec<f32>,
    /// Per layer: offsets of `W_l` and of `b_l` in `params`.
    offsets: Vec<(usize, usize)>,
}

impl Mlp {
    /// Default (unchecked) parameters: layers 784 -> 100 -> 47, tanh, dropout 0.2, seed 0.
    pub fn params() -> MlpParams {
        MlpParams::default()
    }

    /// Wraps validated hyperparameters and a parameter vector of the right length.
    pub(crate) fn from_valid(p: &MlpValidParams, params: Vec<f32>) -> Self {
        let mut offsets = Vec::with_capacity(p.layers().len() - 1);
        let mut off = 0;
        for w in p.layers().windows(2) {
            offsets.push((off, off + w[0] * w[1]));
            off += (w[0] + 1) * w[1];
        }
        Self {
            layers: p.layers().to_vec(),
            activation: p.activation(),
            dropout: p.dropout(),
            params,
            offsets,
        }
    }

    /// Layer sizes, input first and classes last.
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }

    /// Number of input features.
    pub fn n_features(&self) -> usize {
        self.layers[0]
    }

    /// Number of classes.
    pub fn n_classes(&self) -> usize {
        self.layers[self.layers.len() - 1]
    }

    /// Hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }

    /// Dropout rate of the hidden layers (train time only).
    pub fn dropout(&self) -> f32 {
        self.dropout
    }

    /// Total number of weights and biases.
    pub fn n_params(&self) -> usize {
        self.params.len()
    }

    /// All parameters, flat (layout in the module docs). Named `flat_params`
    /// because `Mlp::params()` is the hyperparameter builder.
    pub fn flat_params(&self) -> &[f32] {
        &self.params
    }

    /// All parameters, flat and mutable.
    pub fn params_mut(&mut self) -> &mut [f32] {
        &mut self.params
    }

    /// Replaces all parameters; errors if `p.len() != n_params()`.
    pub fn set_params(&mut self, p: &[f32]) -> Result<()> {
        self.check_len("parameter vector length", p.len())?;
        self.params.copy_from_slice(p);
        Ok(())
    }

    /// `(W_l, b_l)` of layer `l`.
    pub(crate) fn layer_params(&self, l: usize) -> (&[f32], &[f32]) {
        let (w, b) = self.offsets[l];
        (&self.params[w..b], &self.params[b..b + self.layers[l + 1]])
    }

    fn check_len(&self, what: &str, got: usize) -> Result<()> {
        if got != self.params.len() {
            return Err(MlError::ShapeMismatch {
                what: what.into(),
                expected: self.params.len(),
                got,
            });
        }
        Ok(())
    }

    /// Mean cross-entropy loss and its gradient (flat, same layout as the parameters)
    /// on the minibatch `x`, `y`, with the dropout mask drawn from `dropout_seed`.
    pub fn gradient(
        &self,
        x: MatrixView<'_>,
        y: &[u8],
        dropout_seed: u64,
    ) -> Result<(f32, Vec<f32>)> {
        let mut ws = Workspace::new(self);
        let loss = self.gradient_with(&mut ws, x, y, dropout_seed)?;
        Ok((loss, ws.grad().to_vec()))
    }

    /// Like [`Self::gradient`] but reusing `ws`; the gradient is left in [`Workspace::grad`].
    pub fn gradient_with(
        &self,
        ws: &mut Workspace,
        x: MatrixView<'_>,
        y: &[u8],
        dropout_seed: u64,
    ) -> Result<f32> {
        self.check_workspace(ws)?;
        let n = self.check_batch(x, Some(y))?;
        if n == 0 {
            return Err(MlError::EmptyInput("gradient of an empty minibatch".into()));
        }
        self.forward(ws, x, Some(dropout_seed));
        let loss = self.cross_entropy(ws, y);
        self.backward(ws, x, y, self.dropout > 0.0);
        Ok(loss as f32)
    }

    /// One SGD step on the minibatch: `gradient_with`, then `params -= lr * grad`; returns the loss.
    pub fn train_step(
        &mut self,
        ws: &mut Workspace,
        x: MatrixView<'_>,
        y: &[u8],
        lr: f32,
        dropout_seed: u64,
    ) -> Result<f32> {
        let loss = self.gradient_with(ws, x, y, dropout_seed)?;
        self.sgd_step(ws.grad(), lr)?;
        Ok(loss)
    }

    /// `params -= lr * grad`; errors if `grad.len() != n_params()`.
    pub fn sgd_step(&mut self, grad: &[f32], lr: f32) -> Result<()> {
        self.check_len("gradient length", grad.len())?;
        self.params
            .iter_mut()
            .zip(grad)
            .for_each(|(p, &g)| *p -= lr * g);
        Ok(())
    }

    /// Mean cross-entropy on `x`, `y`: inference mode when `dropout_seed` is `None`,
    /// else with the training-time dropout mask of that seed (as in [`Self::gradient`]).
    pub fn loss(&self, x: MatrixView<'_>, y: &[u8], dropout_seed: Option<u64>) -> Result<f64> {
        let n = self.check_batch(x, Some(y))?;
        if n == 0 {
            return Err(MlError::EmptyInput("loss of an empty batch".into()));
        }
        let mut ws = Workspace::new(self);
        self.forward(&mut ws, x, dropout_seed);
        Ok(self.cross_entropy(&ws, y))
    }

    /// Class probabilities (n x n_classes), inference mode (no dropout).
    pub fn predict_proba(&self, x: MatrixView<'_>) -> Result<Matrix> {
        let n = self.check_batch(x, None)?;
        let (d, k) = (self.n_features(), self.n_classes());
        let mut out = vec![0f32; n * k];
        out.par_chunks_mut(PREDICT_BLOCK * k)
            .zip(x.data().par_chunks(PREDICT_BLOCK * d))
            .for_each_init(
                || Workspace::new(self),
                |ws, (o, xs)| {
                    let rows = xs.len() / d;
                    if let Ok(xv) = MatrixView::new(rows, d, xs) {
                        self.forward(ws, xv, None);
                        o.copy_from_slice(&ws.act[self.layers.len() - 2][..rows * k]);
                    }
                },
            );
        Matrix::new(n, k, out)
    }

    /// Most probable class per row (ties to the lowest class).
    pub fn predict_classes(&self, x: MatrixView<'_>) -> Result<Vec<u32>> {
        Ok(argmax_rows(&self.predict_proba(x)?))
    }

    /// Fraction of rows of `x` whose predicted class equals `y`.
    pub fn accuracy(&self, x: MatrixView<'_>, y: &[u8]) -> Result<f64> {
        self.check_batch(x, Some(y))?;
        let pred = self.predict_classes(x)?;
        let truth: Vec<u32> = y.iter().map(|&c| c as u32).collect();
        Ok(crate::metrics::accuracy(&pred, &truth))
    }
}

impl Predict for Mlp {
    fn n_features(&self) -> usize {
        self.layers[0]
    }

    fn predict(&self, x: MatrixView<'_>) -> Result<Prediction> {
        self.predict_proba(x).map(Prediction::Proba)
    }
}

/// Stored as `layers` (`u32 [L]`), `params` (`f32`, the flat parameters
/// in the layout of the module docs) and `dropout` (`f32 [1]`), with the
/// activation's name in `meta["activation"]`.
impl Persist for Mlp {
    const KIND: &'static str = "mlp";

    fn to_tensors(&self) -> ModelTensors {
        let mut t = ModelTensors::new(Self::KIND);
        t.insert(
            "layers",
            Tensor::u32_vector(self.layers.iter().map(|&l| l as u32).collect()),
        );
        t.insert("params", Tensor::f32_vector(self.params.clone()));
        t.insert("dropout", Tensor::f32_vector(vec![self.dropout]));
        t.set_meta("activation", self.activation.as_str());
        t
    }

    fn from_tensors(t: &ModelTensors) -> Result<Self> {
        t.check_kind(Self::KIND)?;
        let corrupt = |e: MlError| MlError::CorruptModel(format!("MLP: {e}"));
        let layers: Vec<usize> = t.u32_vec("layers")?.iter().map(|&l| l as usize).collect();
        let activation: Activation = t.meta_str("activation")?.parse().map_err(corrupt)?;
        let valid = Mlp::params()
            .layers(&layers)
            .activation(activation)
            .dropout(t.f32_scalar("dropout")?)
            .check()
            .map_err(corrupt)?;
        // `check` computed the parameter count with overflow checks; compare
        // it with the stored vector before copying anything.
        let params = t.f32_vec("params")?;
        let expected = hyperparams::param_count(&layers).unwrap_or(usize::MAX);
        if params.len() != expected {
            return Err(MlError::CorruptModel(format!(
                "MLP params has {} values, layers {layers:?} need {expected}",
                params.len()
            )));
        }
        if let Some(i) = params.iter().position(|v| !v.is_finite()) {
            return Err(MlError::CorruptModel(format!(
                "MLP parameter {i} is {}, not finite",
                params[i]
            )));
        }
        Ok(Mlp::from_valid(&valid, params.to_vec()))
    }
}
