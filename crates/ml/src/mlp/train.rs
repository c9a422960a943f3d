//! Training an [`Mlp`] on a [`Dataset`] in one process: plain minibatch SGD
//! over shuffled epochs, the [`crate::Fit`] of the `mlp` algorithm.
//!
//! The input and output sizes come from the dataset (its feature count and
//! its number of classes), so the settings name only the hidden layers.
//! Each epoch visits the rows in a fresh order drawn from
//! `Xoshiro256PlusPlus::seed_from_u64(seed ^ splitmix64(epoch))`; step `s`
//! (counted over all epochs) draws its dropout mask from seed `s`, so a fit
//! is a deterministic function of the settings and the data. The
//! distributed trainer (Downpour SGD in the workflows) drives
//! [`Mlp::train_step`] itself and does not use this.

use serde::{Deserialize, Serialize};

use super::{Activation, Mlp, Workspace};
use crate::tree::{tree_rng, uniform};
use crate::{Dataset, Fit, MatrixView, MlError, Result};

/// Unchecked hyperparameters for training an MLP classifier on a dataset;
/// see [`Mlp::train_params`] for the defaults.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct MlpTrainParams {
    /// Hidden layer sizes, input side first (may be empty: softmax regression).
    pub hidden: Vec<usize>,
    /// Hidden-layer activation.
    pub activation: Activation,
    /// Inverted-dropout rate on the hidden layers, in `[0, 1)`.
    pub dropout: f32,
    /// Passes over the data; at least 1.
    pub epochs: usize,
    /// Rows per SGD step; at least 1.
    pub batch_size: usize,
    /// SGD step size; finite and positive.
    pub learning_rate: f32,
    /// Seed of the initialisation, the epoch orders and the dropout masks.
    pub seed: u64,
}

impl Default for MlpTrainParams {
    fn default() -> Self {
        Self {
            hidden: vec![100],
            activation: Activation::Tanh,
            dropout: 0.2,
            epochs: 10,
            batch_size: 32,
            learning_rate: 0.1,
            seed: 0,
        }
    }
}

impl Mlp {
    /// Default (unchecked) training parameters: one hidden layer of 100
    /// tanh units, dropout 0.2, 10 epochs of batches of 32 at learning rate
    /// 0.1, seed 0.
    pub fn train_params() -> MlpTrainParams {
        MlpTrainParams::default()
    }
}

impl MlpTrainParams {
    /// Hidden layer sizes.
    pub fn hidden(mut self, sizes: &[usize]) -> Self {
        self.hidden = sizes.to_vec();
        self
    }
    /// Hidden-layer activation.
    pub fn activation(mut self, v: Activation) -> Self {
        self.activation = v;
        self
    }
    /// Dropout rate in `[0, 1)`.
    pub fn dropout(mut self, v: f32) -> Self {
        self.dropout = v;
        self
    }
    /// Number of epochs (>= 1).
    pub fn epochs(mut self, v: usize) -> Self {
        self.epochs = v;
        self
    }
    /// Batch size (>= 1).
    pub fn batch_size(mut self, v: usize) -> Self {
        self.batch_size = v;
        self
    }
    /// Learning rate (> 0).
    pub fn learning_rate(mut self, v: f32) -> Self {
        self.learning_rate = v;
        self
    }
    /// Seed.
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates what can be checked without data (the network's own
    /// checks run at fit time, when its input and output sizes are known).
    pub fn check(self) -> Result<MlpTrainValidParams> {
        let bad = |name, reason: &str| {
            Err(MlError::InvalidParameter {
                name,
                reason: reason.into(),
            })
        };
        if self.hidden.contains(&0) {
            return bad("hidden", "every hidden layer size must be at least 1");
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad("dropout", "must be in [0, 1)");
        }
        if self.epochs == 0 {
            return bad("epochs", "must be at least 1");
        }
        if self.batch_size == 0 {
            return bad("batch_size", "must be at least 1");
        }
        if !(self.learning_rate.is_finite() && self.learning_rate > 0.0) {
            return bad("learning_rate", "must be a finite number > 0");
        }
        Ok(MlpTrainValidParams(self))
    }
}

/// Validated MLP training hyperparameters; [`Fit`] trains an [`Mlp`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpTrainValidParams(MlpTrainParams);

impl MlpTrainValidParams {
    /// The validated settings.
    pub fn params(&self) -> &MlpTrainParams {
        &self.0
    }
}

impl Fit for MlpTrainValidParams {
    type Model = Mlp;

    fn fit(&self, data: &Dataset) -> Result<Mlp> {
        let p = &self.0;
        let (labels, n_classes) = data.require_classes(<Mlp as crate::Persist>::KIND)?;
        let (n, d) = (data.len(), data.n_features());
        if n == 0 {
            return Err(MlError::EmptyInput("MLP training needs rows".into()));
        }
        let mut layers = Vec::with_capacity(p.hidden.len() + 2);
        layers.push(d);
        layers.extend_from_slice(&p.hidden);
        layers.push(n_classes);
        // Checks the sizes, 2..=256 classes and the parameter count.
        let mut mlp = Mlp::params()
            .layers(&layers)
            .activation(p.activation)
            .dropout(p.dropout)
            .seed(p.seed)
            .check()?
            .build();
        // Labels are below n_classes <= 256 (checked by the dataset and above).
        let y: Vec<u8> = labels.iter().map(|&l| l as u8).collect();
        let x = data.records().data();
        let mut ws = Workspace::new(&mlp);
        let mut order: Vec<usize> = (0..n).collect();
        let mut xb: Vec<f32> = Vec::with_capacity(p.batch_size * d);
        let mut yb: Vec<u8> = Vec::with_capacity(p.batch_size);
        let mut step = 0u64;
        for epoch in 0..p.epochs {
            let mut rng = tree_rng(p.seed, epoch);
            for i in (1..n).rev() {
                order.swap(i, uniform(&mut rng, i + 1));
            }
            for batch in order.chunks(p.batch_size) {
                xb.clear();
                yb.clear();
                for &r in batch {
                    xb.extend_from_slice(&x[r * d..(r + 1) * d]);
                    yb.push(y[r]);
                }
                let view = MatrixView::new(batch.len(), d, &xb)?;
                mlp.train_step(&mut ws, view, &yb, p.learning_rate, step)?;
                step += 1;
            }
        }
        if let Some(i) = mlp.flat_params().iter().position(|v| !v.is_finite()) {
            return Err(MlError::Numerical(format!(
                "MLP training diverged: parameter {i} is {} (lower the learning rate)",
                mlp.flat_params()[i]
            )));
        }
        Ok(mlp)
    }
}
