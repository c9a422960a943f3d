//! Persistence: every `Persist` model round-trips through `ModelTensors`
//! and predicts bit-identically afterwards, and every kind of damage to
//! the stored tensors (a missing tensor, a wrong dtype, rank or length, a
//! NaN, a wrong kind, a huge declared size, a broken tree) is
//! `MlError::CorruptModel` — never a panic or an allocation sized from a
//! stored number.

mod common;

use faasml_ml::forest::{RandomForest, RandomForestRegressor};
use faasml_ml::mlp::Mlp;
use faasml_ml::pca::{Pca, PcaModel};
use faasml_ml::tree::{DecisionTree, DecisionTreeRegressor};
use faasml_ml::{
    Dataset, Fit, Matrix, MlError, ModelTensors, Persist, Predict, Tensor, TensorData,
};

fn iris() -> Dataset {
    let (x, y, k) = common::load("iris.csv");
    Dataset::from_u8_labels(x, &y, k).unwrap()
}

fn diabetes() -> Dataset {
    let (x, y) = common::load_regression("diabetes.csv");
    Dataset::regression(x, y).unwrap()
}

fn forest() -> RandomForest {
    let p = RandomForest::params().n_trees(7).seed(3).check().unwrap();
    Fit::fit(&p, &iris()).unwrap()
}

fn forest_regressor() -> RandomForestRegressor {
    let p = RandomForestRegressor::params().n_trees(5).max_depth(4);
    Fit::fit(&p.check().unwrap(), &diabetes()).unwrap()
}

fn tree() -> DecisionTree {
    Fit::fit(&DecisionTree::params().check().unwrap(), &iris()).unwrap()
}

fn tree_regressor() -> DecisionTreeRegressor {
    let p = DecisionTreeRegressor::params()
        .max_depth(5)
        .min_samples_leaf(3);
    Fit::fit(&p.check().unwrap(), &diabetes()).unwrap()
}

fn pca() -> PcaModel {
    Fit::fit(&Pca::params().n_components(3).check().unwrap(), &iris()).unwrap()
}

fn mlp() -> Mlp {
    let p = Mlp::train_params().hidden(&[8]).epochs(3).dropout(0.1);
    Fit::fit(&p.check().unwrap(), &iris()).unwrap()
}

/// Round trip: equal model, bit-identical predictions, same tensors again.
fn round_trip<M: Persist + Predict + PartialEq + std::fmt::Debug>(m: &M, x: &Matrix) {
    let t = m.to_tensors();
    assert_eq!(t.kind(), Some(M::KIND));
    let back = M::from_tensors(&t).unwrap();
    assert_eq!(&back, m);
    assert_eq!(
        back.predict(x.view()).unwrap(),
        m.predict(x.view()).unwrap()
    );
    assert_eq!(back.to_tensors(), t);
}

#[test]
fn every_model_round_trips() {
    let (xi, xd) = (iris().records().clone(), diabetes().records().clone());
    round_trip(&forest(), &xi);
    round_trip(&forest_regressor(), &xd);
    round_trip(&tree(), &xi);
    round_trip(&tree_regressor(), &xd);
    round_trip(&pca(), &xi);
    round_trip(&mlp(), &xi);
}

fn expect_corrupt<M: Persist + std::fmt::Debug>(t: &ModelTensors, what: &str) {
    match M::from_tensors(t) {
        Err(MlError::CorruptModel(msg)) => assert!(!msg.is_empty(), "{what}"),
        other => panic!(
            "{} with {what}: expected CorruptModel, got {other:?}",
            M::KIND
        ),
    }
}

/// The same elements as another dtype (f32 <-> u32, u8 -> u32).
fn other_dtype(t: &Tensor) -> Tensor {
    let data = match t.data() {
        TensorData::F32(v) => TensorData::U32(v.iter().map(|x| x.to_bits()).collect()),
        TensorData::U32(v) => TensorData::F32(v.iter().map(|&x| x as f32).collect()),
        TensorData::U8(v) => TensorData::U32(v.iter().map(|&x| x as u32).collect()),
    };
    Tensor::new(t.shape().to_vec(), data).unwrap()
}

/// The tensor with its first dimension one shorter (or, if it is a
/// scalar-like `[1]`, empty).
fn truncated(t: &Tensor) -> Tensor {
    let mut shape = t.shape().to_vec();
    shape[0] -= 1;
    let len: usize = shape.iter().product();
    let data = match t.data() {
        TensorData::F32(v) => TensorData::F32(v[..len].to_vec()),
        TensorData::U32(v) => TensorData::U32(v[..len].to_vec()),
        TensorData::U8(v) => TensorData::U8(v[..len].to_vec()),
    };
    Tensor::new(shape, data).unwrap()
}

/// The tensor with a trailing dimension of 1 (same elements, wrong rank).
fn extra_dim(t: &Tensor) -> Tensor {
    let mut shape = t.shape().to_vec();
    shape.push(1);
    Tensor::new(shape, t.data().clone()).unwrap()
}

/// Damage that every model must reject, applied to each of its tensors.
fn generic_corruptions<M: Persist + std::fmt::Debug>(good: &ModelTensors) {
    assert!(M::from_tensors(good).is_ok());
    let mut t = good.clone();
    t.set_meta("kind", "something-else");
    expect_corrupt::<M>(&t, "a wrong kind");
    expect_corrupt::<M>(&ModelTensors::new(M::KIND), "no tensors");
    for name in good.tensors.keys() {
        let tensor = &good.tensors[name];
        let mut t = good.clone();
        t.tensors.remove(name);
        expect_corrupt::<M>(&t, &format!("`{name}` missing"));
        let mut t = good.clone();
        t.insert(name.clone(), other_dtype(tensor));
        expect_corrupt::<M>(&t, &format!("`{name}` of another dtype"));
        let mut t = good.clone();
        t.insert(name.clone(), extra_dim(tensor));
        expect_corrupt::<M>(&t, &format!("`{name}` with an extra dimension"));
        let mut t = good.clone();
        t.insert(name.clone(), truncated(tensor));
        expect_corrupt::<M>(&t, &format!("`{name}` one row short"));
        if let TensorData::F32(v) = tensor.data() {
            let mut v = v.clone();
            v[0] = f32::NAN;
            let mut t = good.clone();
            t.insert(
                name.clone(),
                Tensor::new(tensor.shape().to_vec(), TensorData::F32(v)).unwrap(),
            );
            expect_corrupt::<M>(&t, &format!("a NaN in `{name}`"));
        }
    }
}

#[test]
fn damaged_tensors_are_corrupt_models() {
    generic_corruptions::<RandomForest>(&forest().to_tensors());
    generic_corruptions::<RandomForestRegressor>(&forest_regressor().to_tensors());
    generic_corruptions::<DecisionTree>(&tree().to_tensors());
    generic_corruptions::<DecisionTreeRegressor>(&tree_regressor().to_tensors());
    generic_corruptions::<PcaModel>(&pca().to_tensors());
    generic_corruptions::<Mlp>(&mlp().to_tensors());
}

/// Edits a one-dimensional `u32` tensor in place.
fn set_u32(t: &mut ModelTensors, name: &str, f: impl FnOnce(&mut Vec<u32>)) {
    let mut data = t.u32_vec(name).unwrap().to_vec();
    f(&mut data);
    t.insert(name, Tensor::u32_vector(data));
}

#[test]
fn broken_trees_and_huge_sizes_are_corrupt_models() {
    let good = forest().to_tensors();
    let root_children = |t: &mut ModelTensors, side: &str, v: u32| set_u32(t, side, |d| d[0] = v);

    let mut t = good.clone();
    root_children(&mut t, "left", 1_000_000);
    expect_corrupt::<RandomForest>(&t, "a child out of range");
    let mut t = good.clone();
    root_children(&mut t, "right", 0);
    expect_corrupt::<RandomForest>(&t, "a cycle");
    let mut t = good.clone();
    set_u32(&mut t, "feature", |d| d[0] = 4);
    expect_corrupt::<RandomForest>(&t, "a feature out of range");
    let mut t = good.clone();
    set_u32(&mut t, "tree_offsets", |d| d[1] = d[0]);
    expect_corrupt::<RandomForest>(&t, "an empty tree");
    // Declared sizes far beyond the data: rejected by comparing with the
    // tensors present, before anything is allocated from them.
    let mut t = good.clone();
    set_u32(&mut t, "shape", |d| d[1] = u32::MAX);
    expect_corrupt::<RandomForest>(&t, "n_classes u32::MAX");
    let mut t = good.clone();
    set_u32(&mut t, "shape", |d| d[0] = u32::MAX);
    expect_corrupt::<RandomForest>(&t, "n_features u32::MAX");
    let mut t = good.clone();
    set_u32(&mut t, "tree_offsets", |d| {
        *d.last_mut().unwrap() = u32::MAX
    });
    expect_corrupt::<RandomForest>(&t, "a last offset of u32::MAX");
    // Found by the `model` fuzz target: offsets that end at the node count but pass it on
    // the way ([0, n + 1, ..., n]) indexed past the nodes (a panic, not an error).
    let mut t = good.clone();
    set_u32(&mut t, "tree_offsets", |d| d[1] = *d.last().unwrap() + 1);
    expect_corrupt::<RandomForest>(&t, "an offset beyond the node count");

    // A forest is not a tree, and a classifier is not a regressor, even
    // without a kind to tell them apart.
    let mut t = good.clone();
    t.meta.clear();
    expect_corrupt::<DecisionTree>(&t, "seven trees");
    expect_corrupt::<RandomForestRegressor>(&t, "three values per node");
    let mut t = forest_regressor().to_tensors();
    t.meta.clear();
    assert!(RandomForestRegressor::from_tensors(&t).is_ok());
    expect_corrupt::<DecisionTreeRegressor>(&t, "five trees");

    let mut t = mlp().to_tensors();
    set_u32(&mut t, "layers", |d| d[1] = u32::MAX);
    expect_corrupt::<Mlp>(&t, "a hidden layer of u32::MAX units");
    let mut t = mlp().to_tensors();
    set_u32(&mut t, "layers", |d| *d = vec![4, 300]);
    expect_corrupt::<Mlp>(&t, "300 classes");
    let mut t = mlp().to_tensors();
    t.set_meta("activation", "sigmoid");
    expect_corrupt::<Mlp>(&t, "an unknown activation");
    let mut t = mlp().to_tensors();
    t.insert("dropout", Tensor::f32_vector(vec![1.0]));
    expect_corrupt::<Mlp>(&t, "dropout 1");

    let mut t = pca().to_tensors();
    let (_, c) = t.f32_tensor("components").unwrap();
    let c = c.to_vec();
    t.insert(
        "components",
        Tensor::new(vec![4, 3], TensorData::F32(c)).unwrap(),
    );
    expect_corrupt::<PcaModel>(&t, "transposed components");
}

/// The hardening issue's abort: a stored "tree" whose node `i` sends both ways to node `i + 1`
/// passes children-after-parent, and the forest's breadth-first traversal layout unfolded it
/// into 2^depth nodes: 33 nodes made 2^32 16-byte records, a 68 GB allocation that aborted the
/// process. Sharing a child is now `CorruptModel`, found before any layout is built.
#[test]
fn a_child_with_two_parents_is_a_corrupt_model_not_a_68_gb_allocation() {
    let n = 40u32;
    let chain = |kind: &str| {
        let mut t = ModelTensors::new(kind);
        let inner = n - 1;
        let mut feature = vec![0u32; inner as usize];
        feature.push(u32::MAX);
        let mut next: Vec<u32> = (1..n).collect();
        next.push(0);
        t.insert("shape", Tensor::u32_vector(vec![1, 1]));
        t.insert("tree_offsets", Tensor::u32_vector(vec![0, n]));
        t.insert("feature", Tensor::u32_vector(feature));
        t.insert("threshold", Tensor::f32_vector(vec![0.0; n as usize]));
        t.insert("left", Tensor::u32_vector(next.clone()));
        t.insert("right", Tensor::u32_vector(next));
        t.insert(
            "values",
            Tensor::new(vec![n as usize, 1], TensorData::F32(vec![1.0; n as usize])).unwrap(),
        );
        t
    };
    for kind in [RandomForest::KIND, DecisionTree::KIND] {
        let err = faasml_ml::Algorithm::load(&chain(kind)).unwrap_err();
        assert!(
            err.to_string().contains("already has a parent"),
            "{kind}: {err}"
        );
    }
    expect_corrupt::<RandomForestRegressor>(&chain(RandomForestRegressor::KIND), "a shared child");
    expect_corrupt::<DecisionTreeRegressor>(&chain(DecisionTreeRegressor::KIND), "a shared child");

    // One corrupt field of a real model: the root's right child made its left one.
    let mut t = forest().to_tensors();
    let left = t.u32_vec("left").unwrap()[0];
    set_u32(&mut t, "right", |d| d[0] = left);
    expect_corrupt::<RandomForest>(&t, "the root's two children the same node");
}

#[test]
fn forest_and_pca_tensors_keep_the_published_layout() {
    // The names, dtypes and shapes the workflows' `faasml.pca-forest-ensemble`
    // version 1 files use, so those files load through `Persist`.
    let f = forest();
    let t = f.to_tensors();
    let p = f.to_parts();
    let n = p.feature.len();
    let layout: Vec<(&str, &str, Vec<usize>)> = t
        .tensors
        .iter()
        .map(|(k, v)| (k.as_str(), v.data().dtype(), v.shape().to_vec()))
        .collect();
    assert_eq!(
        layout,
        [
            ("feature", "u32", vec![n]),
            ("left", "u32", vec![n]),
            ("right", "u32", vec![n]),
            ("shape", "u32", vec![2]),
            ("threshold", "f32", vec![n]),
            ("tree_offsets", "u32", vec![8]),
            ("values", "f32", vec![n, 3]),
        ]
    );
    assert_eq!(t.u32_vec("shape").unwrap(), [4, 3]);
    let t = pca().to_tensors();
    let layout: Vec<(&str, Vec<usize>)> = t
        .tensors
        .iter()
        .map(|(k, v)| (k.as_str(), v.shape().to_vec()))
        .collect();
    assert_eq!(
        layout,
        [
            ("components", vec![3, 4]),
            ("explained_variance", vec![3]),
            ("explained_variance_ratio", vec![3]),
            ("mean", vec![4]),
        ]
    );
    // Files written before kinds existed have none: a typed load accepts that.
    let mut t = forest().to_tensors();
    t.meta.clear();
    assert_eq!(RandomForest::from_tensors(&t).unwrap(), forest());
}

#[test]
fn an_ensemble_nests_members() {
    // The published ensemble's shape: per member a PCA basis and the
    // forest trained on its projections, stored as m<i>.pca.* / m<i>.forest.*.
    let data = iris();
    let mut stored = ModelTensors::new("pca-forest-ensemble");
    let mut members = Vec::new();
    for i in 0..2 {
        let pca = Fit::fit(&Pca::params().n_components(2 + i).check().unwrap(), &data).unwrap();
        let projected = pca.transform(data.view()).unwrap();
        let labels = data.labels().unwrap().to_vec();
        let train = Dataset::classification(projected, labels, 3).unwrap();
        let forest = Fit::fit(
            &RandomForest::params()
                .n_trees(3)
                .seed(i as u64)
                .check()
                .unwrap(),
            &train,
        )
        .unwrap();
        stored.insert_nested(&format!("m{i}.pca"), pca.to_tensors());
        stored.insert_nested(&format!("m{i}.forest"), forest.to_tensors());
        members.push((pca, forest));
    }
    assert_eq!(
        stored.nested_prefixes().into_iter().collect::<Vec<_>>(),
        ["m0", "m1"]
    );
    assert_eq!(stored.meta["m1.forest.kind"], "random-forest");
    for (i, (pca, forest)) in members.iter().enumerate() {
        let member = stored.nested(&format!("m{i}"));
        assert_eq!(&PcaModel::from_tensors(&member.nested("pca")).unwrap(), pca);
        assert_eq!(
            &RandomForest::from_tensors(&member.nested("forest")).unwrap(),
            forest
        );
        // A member's PCA is not a forest.
        expect_corrupt::<RandomForest>(&member.nested("pca"), "a PCA basis");
    }
}
