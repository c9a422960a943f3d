//! Benchmark: fit and 5-fold `cross_val_predict` of the stacking base
//! models (Lasso, elastic net, linear SVR, k-NN regression; fitted on the
//! 0/1 labels as reals, as the stacking seed does) and logistic regression,
//! on `make_classification(stacking_seed())` data at 300 and 20,000 rows of
//! 1,024 features.
//!
//! Run with `cargo run --release -p faasml-ml --example linear_bench`.
//! Prints the median of `REPS` runs (default 3 at 300 rows, 1 at 20,000).
//! Set `RAYON_NUM_THREADS` to control the thread count, `ONLY` to a
//! comma-separated list of algorithm names and `SIZES` to a comma-separated
//! list of row counts to run a subset (e.g. `ONLY=linear-svr SIZES=20000`).

use std::time::Instant;

use faasml_ml::linear::{ElasticNet, Lasso, LinearSvr, LogisticRegression};
use faasml_ml::model_selection::cross_val_predict;
use faasml_ml::synthetic::{MakeClassification, make_classification};
use faasml_ml::{Algorithm, Dataset, Model};

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

/// Solver iterations of a fitted model, where it has them.
fn n_iter(model: &dyn Model) -> Option<usize> {
    let any = model.as_any();
    any.downcast_ref::<Lasso>()
        .map(Lasso::n_iter)
        .or_else(|| any.downcast_ref::<ElasticNet>().map(ElasticNet::n_iter))
        .or_else(|| any.downcast_ref::<LinearSvr>().map(LinearSvr::n_iter))
        .or_else(|| {
            any.downcast_ref::<LogisticRegression>()
                .map(LogisticRegression::n_iter)
        })
}

fn bench(data: &Dataset, name: &str, reps: usize) {
    let algorithm = Algorithm::from_name(name).expect("known algorithm");
    let mut fits = Vec::new();
    let mut cvs = Vec::new();
    let mut iters = None;
    for _ in 0..reps {
        let t = Instant::now();
        let model = algorithm.fit(data).expect("fit");
        fits.push(t.elapsed().as_secs_f64());
        iters = n_iter(model.as_ref());
        let t = Instant::now();
        let oof = cross_val_predict(&algorithm, data, 5).expect("cross_val_predict");
        cvs.push(t.elapsed().as_secs_f64());
        assert_eq!(oof.len(), data.len());
    }
    let iters = iters.map_or_else(|| "-".to_string(), |n| n.to_string());
    println!(
        "{name:<20} {:>6} x {:<5} fit {:>8.3} s  cv5 {:>8.3} s  n_iter {iters}",
        data.len(),
        data.n_features(),
        median(fits),
        median(cvs),
    );
}

fn main() {
    let reps_env = std::env::var("REPS").ok().and_then(|v| v.parse().ok());
    let only = std::env::var("ONLY").ok();
    let sizes = std::env::var("SIZES").ok();
    let listed = |list: &Option<String>, item: &str| {
        list.as_deref()
            .is_none_or(|l| l.split(',').any(|x| x.trim() == item))
    };
    for (n_samples, default_reps) in [(300, 3), (20_000, 1)] {
        if !listed(&sizes, &n_samples.to_string()) {
            continue;
        }
        let data = make_classification(&MakeClassification {
            n_samples,
            ..MakeClassification::stacking_seed()
        })
        .expect("synthetic data");
        let reps = reps_env.unwrap_or(default_reps);
        for name in [
            "lasso",
            "elastic-net",
            "linear-svr",
            "knn-regressor",
            "logistic-regression",
        ] {
            if !listed(&only, name) {
                continue;
            }
            bench(&data, name, reps);
        }
    }
}
