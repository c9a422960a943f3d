//! Gradient-boosted decision trees, LightGBM-style, single-process or data-parallel.
//!
//! Trees grow leaf-wise (best gain first, up to `num_leaves`) over gradient/hessian histograms
//! of pre-binned features (at most 256 bins per feature), with LightGBM's regularisation knobs,
//! feature fraction and bagging, and the objectives squared error, binary log-loss and softmax.
//!
//! Data-parallel training is LightGBM's `tree_learner=data`: each participant holds a shard of
//! the rows, the shards agree on bins from merged sketches, and every histogram is summed across
//! shards through a [`Collective`] before the split search — so every participant grows the same
//! trees and ends with a bit-identical model. One process is the [`Solo`] collective.
//!
//! ```
//! use faasml_ml::Matrix;
//! use faasml_ml::gbdt::{Features, GbdtParams, Objective, Solo, train};
//! // y = 1 when x0 > 0.5.
//! let x: Vec<f32> = (0..200).map(|i| (i % 100) as f32 / 100.0).collect();
//! let y: Vec<f32> = x.iter().map(|&v| f32::from(u8::from(v > 0.5))).collect();
//! let x = Matrix::new(200, 1, x).unwrap();
//! let p = GbdtParams { objective: Objective::Binary, n_iterations: 20, ..Default::default() };
//! let model = train(&p, Features::Dense(x.view()), &y, &mut Solo, None, &mut |_, _| Ok(())).unwrap();
//! let m = model.evaluate(Features::Dense(x.view()), &y).unwrap();
//! assert_eq!(m.accuracy, Some(1.0));
//! ```

mod bins;
mod booster;
mod collective;
mod learner;
mod objective;
mod params;
mod tree;

pub use bins::{BinMapper, BinnedShard, FeatureSketch, Features, SKETCH_POINTS, Sketches};
pub use booster::{GbdtModel, IterationReport, train};
pub use collective::{Collective, Solo, Tag, WireValue, gather_and_sum, sum_in_rank_order};
pub use learner::GrowStats;
pub use objective::{Metrics, evaluate};
pub use params::{GbdtParams, Objective};
pub use tree::Tree;

#[cfg(test)]
mod tests;
