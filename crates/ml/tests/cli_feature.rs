//! With the `cli` feature, the enums a command line takes parse as clap
//! values directly: `Activation` and `EigenSolver` derive `ValueEnum`, and
//! `MaxFeatures` parses through its `FromStr` (it has data-carrying
//! variants, which `ValueEnum` cannot express).
//!
//! Run with `cargo test -p faasml-ml --features cli`.

#![cfg(feature = "cli")]

use clap::{Parser, ValueEnum};
use faasml_ml::mlp::Activation;
use faasml_ml::pca::EigenSolver;
use faasml_ml::tree::MaxFeatures;

#[derive(Debug, Parser)]
struct Args {
    #[arg(long, value_enum, default_value_t = Activation::Tanh)]
    activation: Activation,
    #[arg(long, value_enum, default_value_t = EigenSolver::Auto)]
    solver: EigenSolver,
    #[arg(long, default_value_t = MaxFeatures::Sqrt)]
    max_features: MaxFeatures,
}

#[test]
fn command_line_values_parse_into_the_ml_types() {
    let names = |v: &[Activation]| -> Vec<String> {
        v.iter()
            .map(|a| a.to_possible_value().unwrap().get_name().to_string())
            .collect()
    };
    assert_eq!(names(Activation::value_variants()), ["tanh", "relu"]);
    let a = Args::try_parse_from(["x", "--activation", "relu", "--solver", "krylov"]).unwrap();
    assert_eq!(
        (a.activation, a.solver, a.max_features),
        (Activation::Relu, EigenSolver::Krylov, MaxFeatures::Sqrt)
    );
    let a = Args::try_parse_from(["x", "--max-features", "0.5"]).unwrap();
    assert_eq!(a.max_features, MaxFeatures::Fraction(0.5));
    let a = Args::try_parse_from(["x", "--max-features", "12"]).unwrap();
    assert_eq!(a.max_features, MaxFeatures::Count(12));
    assert!(Args::try_parse_from(["x", "--activation", "sigmoid"]).is_err());
    assert!(Args::try_parse_from(["x", "--max-features", "most"]).is_err());
}
