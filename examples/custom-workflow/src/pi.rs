//! The `monte-carlo-pi` workflow, written against the workflow kit: a driver deals `samples`
//! random points among `functions` sampling functions, each counts the points inside the unit
//! quarter circle, and the driver turns the counts into an estimate of π.
//!
//! Everything `faasml` offers for a workflow comes from this one `impl Workflow`: `faasml run
//! monte-carlo-pi` (its flags are the fields of [`PiParams`], their doc comments the help),
//! `faasml bench monte-carlo-pi` (the grid, the metrics), `faasml serve` and `faasml deploy`
//! (the functions and their specs).

use faasml_core::{Ctx, FunctionRef, Registry};
use faasml_workflows::WorkflowError;
use faasml_workflows::kit::{BenchSpec, Metric, Workflow};
use rand_core::{Rng, SeedableRng};
use rand_xoshiro::Xoshiro256PlusPlus;
use serde::{Deserialize, Serialize};

/// The workflow.
pub(crate) struct MonteCarloPi;

/// Its parameters: serde for the wire, clap for the command line, defaults in `Default`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, clap::Args)]
#[serde(default)]
pub(crate) struct PiParams {
    /// Random points in all.
    #[arg(long, default_value_t = PiParams::default().samples)]
    pub(crate) samples: u64,
    /// Sampling functions the points are dealt to.
    #[arg(long, default_value_t = PiParams::default().functions)]
    pub(crate) functions: usize,
    /// Seed of the points; each function draws from its own stream.
    #[arg(long, default_value_t = PiParams::default().seed)]
    pub(crate) seed: u64,
}

impl Default for PiParams {
    fn default() -> Self {
        Self {
            samples: 1_000_000,
            functions: 4,
            seed: 1,
        }
    }
}

/// What a run produces.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PiResult {
    /// The estimate of π.
    pub(crate) estimate: f64,
    /// Its distance to π.
    pub(crate) abs_error: f64,
    /// Points drawn.
    pub(crate) samples: u64,
    /// Points inside the quarter circle.
    pub(crate) inside: u64,
}

/// One sampling function's share.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Share {
    /// Points to draw.
    pub(crate) points: u64,
    /// The seed of this share's stream.
    pub(crate) seed: u64,
}

const DRIVER: FunctionRef<PiParams, PiResult> = FunctionRef::new("monte-carlo-pi.driver");
const SAMPLE: FunctionRef<Share, u64> = FunctionRef::new("monte-carlo-pi.sample");

/// Counts the points of `share` inside the unit quarter circle (CPU work: on the compute pool).
async fn sample(share: Share, ctx: Ctx) -> Result<u64, WorkflowError> {
    ctx.compute(move || {
        let mut rng = Xoshiro256PlusPlus::seed_from_u64(share.seed);
        let unit = |v: u64| (v >> 11) as f64 / (1u64 << 53) as f64;
        (0..share.points)
            .filter(|_| {
                let (x, y) = (unit(rng.next_u64()), unit(rng.next_u64()));
                x * x + y * y <= 1.0
            })
            .count() as u64
    })
    .await
    .map_err(WorkflowError::Compute)
}

impl Workflow for MonteCarloPi {
    const NAME: &'static str = "monte-carlo-pi";
    const ABOUT: &'static str = "Estimate pi from random points, sampled by many functions.";
    type Params = PiParams;
    type Output = PiResult;
    const DRIVER: FunctionRef<PiParams, PiResult> = DRIVER;

    async fn drive(params: PiParams, ctx: Ctx) -> Result<PiResult, WorkflowError> {
        let n = params.functions as u64;
        let shares = (0..n)
            .map(|i| Share {
                points: params.samples * (i + 1) / n - params.samples * i / n,
                seed: params.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ i,
            })
            .collect();
        let inside: u64 = ctx.map(SAMPLE, shares).await?.into_iter().sum();
        let estimate = 4.0 * inside as f64 / params.samples as f64;
        Ok(PiResult {
            estimate,
            abs_error: (estimate - std::f64::consts::PI).abs(),
            samples: params.samples,
            inside,
        })
    }

    fn register(registry: &mut Registry) {
        registry.register(SAMPLE, sample);
    }

    fn validate(params: &PiParams) -> Result<(), WorkflowError> {
        if params.functions == 0 || params.samples < params.functions as u64 {
            return Err(WorkflowError::InvalidParams(format!(
                "{} samples cannot be dealt to {} functions: give at least one each",
                params.samples, params.functions
            )));
        }
        Ok(())
    }

    fn datasets(_params: &PiParams) -> Vec<String> {
        Vec::new()
    }

    fn expected_invocations(params: &PiParams) -> Option<u64> {
        Some(1 + params.functions as u64)
    }

    fn summary(_params: &PiParams, result: &PiResult) -> String {
        format!(
            "pi is about {:.6} ({} of {} points inside; off by {:.2e})",
            result.estimate, result.inside, result.samples, result.abs_error
        )
    }

    fn bench() -> BenchSpec<PiResult> {
        BenchSpec {
            axes: vec![("functions", "1,2,4,8")],
            metrics: vec![Metric {
                name: "abs_error",
                unit: "",
                value: |r| Some(r.abs_error),
            }],
            ..BenchSpec::basic()
        }
    }
}
