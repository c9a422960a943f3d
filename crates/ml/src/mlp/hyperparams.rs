//! MLP hyperparameters in the linfa "param guard" style: [`MlpParams`]
//! (unchecked builder) and [`MlpValidParams`] (validated, builds an [`Mlp`]).

use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;

use super::Mlp;
use crate::{MlError, Result};

/// Activation of the hidden layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
pub enum Activation {
    /// Hyperbolic tangent (the default).
    #[default]
    Tanh,
    /// Rectified linear unit, `max(0, z)`.
    Relu,
}

impl Activation {
    /// The name used in configs and stored models: `tanh` or `relu`.
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
        }
    }
}

impl std::fmt::Display for Activation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Activation {
    type Err = MlError;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "tanh" => Ok(Activation::Tanh),
            "relu" => Ok(Activation::Relu),
            other => Err(MlError::InvalidParameter {
                name: "activation",
                reason: format!("`{other}` is not `tanh` or `relu`"),
            }),
        }
    }
}

/// Unchecked MLP hyperparameters (builder); see [`Mlp::params`].
#[derive(Debug, Clone, PartialEq)]
pub struct MlpParams {
    layers: Vec<usize>,
    activation: Activation,
    dropout: f32,
    seed: u64,
}

/// Validated MLP hyperparameters; [`MlpValidParams::build`] initialises a network.
#[derive(Debug, Clone, PartialEq)]
pub struct MlpValidParams {
    layers: Vec<usize>,
    activation: Activation,
    dropout: f32,
    seed: u64,
}

impl Default for MlpParams {
    fn default() -> Self {
        Self {
            layers: vec![784, 100, 47],
            activation: Activation::Tanh,
            dropout: 0.2,
            seed: 0,
        }
    }
}

impl MlpParams {
    /// Layer sizes, input first and classes last (default `[784, 100, 47]`).
    pub fn layers(mut self, sizes: &[usize]) -> Self {
        self.layers = sizes.to_vec();
        self
    }
    /// Hidden-layer activation (default tanh).
    pub fn activation(mut self, v: Activation) -> Self {
        self.activation = v;
        self
    }
    /// Inverted-dropout rate on every hidden layer, in `[0, 1)` (default 0.2).
    pub fn dropout(mut self, v: f32) -> Self {
        self.dropout = v;
        self
    }
    /// Seed of the Glorot-uniform initialisation (default 0).
    pub fn seed(mut self, v: u64) -> Self {
        self.seed = v;
        self
    }
    /// Validates the parameters.
    pub fn check(self) -> Result<MlpValidParams> {
        let bad = |name, reason: &str| {
            Err(MlError::InvalidParameter {
                name,
                reason: reason.into(),
            })
        };
        if self.layers.len() < 2 {
            return bad("layers", "needs at least an input and an output size");
        }
        if self.layers.contains(&0) {
            return bad("layers", "every layer size must be at least 1");
        }
        let k = self.layers[self.layers.len() - 1];
        if !(2..=256).contains(&k) {
            return bad("layers", "the number of classes must be in 2..=256");
        }
        if param_count(&self.layers).is_none() {
            return bad("layers", "the number of parameters overflows usize");
        }
        if !(self.dropout >= 0.0 && self.dropout < 1.0) {
            return bad("dropout", "must be in [0, 1)");
        }
        Ok(MlpValidParams {
            layers: self.layers,
            activation: self.activation,
            dropout: self.dropout,
            seed: self.seed,
        })
    }
}

/// Total number of weights and biases for `layers`, or `None` on overflow.
pub(crate) fn param_count(layers: &[usize]) -> Option<usize> {
    layers.windows(2).try_fold(0usize, |acc, w| {
        w[0].checked_add(1)?.checked_mul(w[1])?.checked_add(acc)
    })
}

impl MlpValidParams {
    /// Layer sizes, input first and classes last.
    pub fn layers(&self) -> &[usize] {
        &self.layers
    }
    /// Hidden-layer activation.
    pub fn activation(&self) -> Activation {
        self.activation
    }
    /// Dropout rate on the hidden layers.
    pub fn dropout(&self) -> f32 {
        self.dropout
    }
    /// Initialisation seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Builds a network: weights Glorot-uniform `U(-a, a)`, `a = sqrt(6 / (fan_in + fan_out))`,
    /// drawn in parameter order from `Xoshiro256PlusPlus::seed_from_u64(seed)`; biases zero.
    pub fn build(&self) -> Mlp {
        let n = param_count(&self.layers).unwrap_or(0);
        let mut params = vec![0f32; n];
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(self.seed);
        let mut off = 0;
        for w in self.layers.windows(2) {
            let (fi, fo) = (w[0], w[1]);
            let a = (6.0 / (fi + fo) as f64).sqrt() as f32;
            for p in &mut params[off..off + fi * fo] {
                let u = (rng.next_u32() >> 8) as f32 * (1.0 / (1u32 << 24) as f32);
                *p = (2.0 * u - 1.0) * a;
            }
            off += (fi + 1) * fo;
        }
        Mlp::from_valid(self, params)
    }
}
