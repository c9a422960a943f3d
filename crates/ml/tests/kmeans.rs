//! k-means against scikit-learn 1.9.1's `KMeans(n_clusters=3)` on iris'
//! four raw features, from the bundled `data/reference/classic-ml.json`
//! (case `kmeans_iris`, the global optimum's inertia and centres).
//!
//! Tolerances are stated per check; the reached agreement is printed by
//! `cargo test -- --nocapture`.

use faasml_ml::kmeans::KMeans;
use faasml_ml::{Algorithm, Dataset, Fit, Matrix, Persist, Predict};
use serde_json::Value;

fn reference(case: &str) -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../data/reference/classic-ml.json"
    );
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {path}: {e}"));
    let all: Value = serde_json::from_str(&text).expect("reference JSON");
    all["cases"][case].clone()
}

/// Iris' four raw features, targets dropped.
fn iris() -> Dataset {
    let path = format!("{}/../../data/tabular/iris.csv", env!("CARGO_MANIFEST_DIR"));
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    let t = faasml_datasets::csv_table::read_table(file, "target").expect("table");
    Dataset::unsupervised(Matrix::new(t.n_rows, t.n_cols, t.features).unwrap()).unwrap()
}

#[test]
fn kmeans_matches_scikit_learn_on_iris() {
    let r = reference("kmeans_iris");
    let data = iris();
    let model = KMeans::params().k(3).check().unwrap().fit(&data).unwrap();
    let want_inertia = r["inertia"].as_f64().unwrap();
    let inertia_err = (model.inertia() - want_inertia).abs() / want_inertia;
    // Centres sorted by their first feature, as the reference lists them.
    let mut centers: Vec<&[f32]> = model.centers().data().chunks_exact(4).collect();
    centers.sort_by(|a, b| a[0].total_cmp(&b[0]));
    let got: Vec<f64> = centers.concat().iter().map(|&v| f64::from(v)).collect();
    let want: Vec<f64> = r["centers_sorted_by_first_feature"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    let center_err = got
        .iter()
        .zip(&want)
        .map(|(g, w)| (g - w).abs())
        .fold(0f64, f64::max);
    println!(
        "k-means iris: inertia {} (want {want_inertia}, rel err {inertia_err:.2e}), \
         centre max abs err {center_err:.2e}, {} iterations",
        model.inertia(),
        model.n_iter()
    );
    assert!(inertia_err < 1e-3, "{}", model.inertia());
    assert_eq!(got.len(), want.len());
    // The reference centres are rounded to 4-5 significant digits.
    assert!(center_err < 1e-3, "{got:?}");
    // Cluster sizes of the optimum: 50, 62 and 38.
    let labels = model.labels(data.view()).unwrap();
    let mut sizes = [0usize; 3];
    for &l in &labels {
        sizes[l as usize] += 1;
    }
    sizes.sort_unstable();
    assert_eq!(sizes, [38, 50, 62]);
    assert_eq!(
        model.predict(data.view()).unwrap().classes().unwrap(),
        labels
    );
}

#[test]
fn kmeans_is_seeded_and_round_trips() {
    let data = iris();
    let fit = |seed| {
        KMeans::params()
            .k(4)
            .n_init(3)
            .seed(seed)
            .check()
            .unwrap()
            .fit(&data)
            .unwrap()
    };
    assert_eq!(fit(7), fit(7));
    let model = fit(7);
    let stored = Persist::to_tensors(&model);
    let back = Algorithm::load(&stored).unwrap();
    assert_eq!(back.kind(), "k-means");
    assert_eq!(
        back.predict(data.view()).unwrap(),
        model.predict(data.view()).unwrap()
    );
    // More starts never end worse than the first alone, with one seed.
    let one = KMeans::params().k(4).n_init(1).seed(7).check().unwrap();
    let ten = KMeans::params().k(4).n_init(10).seed(7).check().unwrap();
    assert!(ten.fit(&data).unwrap().inertia() <= one.fit(&data).unwrap().inertia());
}
