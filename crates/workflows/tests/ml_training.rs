//! The ml-training and ml-inference workflows end to end on the embedded platform, against the
//! real MNIST test images, plus the bad inputs a user can give them.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use faasml_core::{EmbeddedConfig, EmbeddedPlatform, RetryPolicy, RunOptions, RunOutcome, run};
use faasml_datasets::{bundled, idx, png_image};
use faasml_store::{Path, Store};
use faasml_workflows::data::images::{self, ImportFormat};
use faasml_workflows::ml_inference::{self, InferenceParams};
use faasml_workflows::ml_training::{self, OrionModel, Pipeline, TrainingParams, TrainingResult};

static STORES: AtomicUsize = AtomicUsize::new(0);

/// A fresh in-memory store with the first `n` training images and the full test set imported.
async fn store_with(n: usize, format: ImportFormat) -> Store {
    let id = STORES.fetch_add(1, Ordering::SeqCst);
    let store = Store::open(&format!("memory://ml-training-{id}")).unwrap();
    let train = bundled::load("mnist-2k").unwrap().take(n);
    images::import(&store, "train", "train", &train, format, &|_| {})
        .await
        .unwrap();
    assert_eq!(
        images::ensure_bundled(&store, "mnist-test").await.unwrap(),
        Some(10_000)
    );
    store
}

fn small_params() -> TrainingParams {
    TrainingParams {
        data: "train".into(),
        test: Some("mnist-test".into()),
        // The data prefix "train" names no dataset family: name the model as inference expects.
        model: Some("mnist-rf".into()),
        n_pca: 2,
        n_rf: 4,
        trees: 30,
        ..TrainingParams::default()
    }
}

async fn train(store: &Store, params: TrainingParams) -> RunOutcome<TrainingResult> {
    let platform = EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    );
    let options = RunOptions::new("ml-training").with_retry(RetryPolicy {
        max_attempts: 2,
        backoff_ms: 1,
        timeout_ms: None,
    });
    run(platform, ml_training::DRIVER, params, options).await
}

async fn objects_under(store: &Store, prefix: &str) -> usize {
    store.list(&Path::from(prefix)).await.unwrap().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trains_validates_on_the_real_test_set_and_publishes_a_model() {
    let store = store_with(2000, ImportFormat::Idx).await;
    let outcome = train(&store, small_params()).await;
    let result = outcome.output.unwrap();
    assert_eq!(result.n_train, 2000);
    assert_eq!(result.n_test, 10_000);
    // scikit-learn reaches 0.81 with 8 forests of 100 trees; 4 forests of 30 trees land near.
    assert!(result.accuracy > 0.76, "accuracy {}", result.accuracy);
    assert_eq!(result.forest_accuracy.len(), 4);
    assert!(
        result
            .forest_accuracy
            .iter()
            .all(|&a| a > 0.55 && a < result.accuracy + 0.05)
    );
    assert_eq!(result.confusion.len(), 10);
    let total: u64 = result.confusion.iter().flatten().sum();
    assert_eq!(total, 10_000);
    assert!(result.pca_variance_kept.iter().all(|&v| v > 0.3 && v < 0.7));
    // One invocation per stage instance: driver, partition, 2 pca, 4 rf, validate.
    let report = outcome.report;
    let calls: Vec<(&str, u32)> = report
        .stages
        .iter()
        .map(|s| (s.function.as_str(), s.invocations))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("ml-training.driver", 1),
            ("ml-training.partition", 1),
            ("ml-training.pca", 2),
            ("ml-training.rf", 4),
            ("ml-training.validate", 1)
        ]
    );
    assert!(report.stages[2].bytes_read >= 2000 * 784);
    // The model is published; the scratch objects are gone.
    assert!(
        store
            .exists(&Path::from(result.model_key.as_str()))
            .await
            .unwrap()
    );
    assert_eq!(objects_under(&store, "runs").await, 0);

    // ml-inference with the published model reproduces the validation accuracy exactly: each
    // forest projects the images with its own PCA basis.
    let platform = EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    );
    let params = InferenceParams {
        batch_size: 2500,
        ..InferenceParams::default()
    };
    let inference = run(
        platform,
        ml_inference::DRIVER,
        params,
        RunOptions::new("ml-inference"),
    )
    .await;
    let predicted = inference.output.unwrap();
    assert_eq!(predicted.n, 10_000);
    assert_eq!(predicted.accuracy, result.accuracy);
    assert_eq!(inference.report.stages[1].invocations, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fixed_seed_gives_the_same_model_and_accuracy() {
    let store = store_with(600, ImportFormat::Idx).await;
    let params = TrainingParams {
        trees: 10,
        ..small_params()
    };
    let first = train(&store, params.clone()).await.output.unwrap();
    let key = Path::from(first.model_key.as_str());
    let mut model_a = store.get_arrays(&key).await.unwrap();
    let second = train(&store, params.clone()).await.output.unwrap();
    let mut model_b = store.get_arrays(&key).await.unwrap();
    assert_eq!(first.accuracy, second.accuracy);
    assert_eq!(first.forest_accuracy, second.forest_accuracy);
    // The models differ only in the run id; every array is identical.
    assert_ne!(model_a.meta("run_id"), model_b.meta("run_id"));
    model_a.set_meta("run_id", "");
    model_b.set_meta("run_id", "");
    assert_eq!(model_a, model_b);
    let ensemble = faasml_workflows::model::EnsembleModel::from_arrays(&model_a).unwrap();
    assert_eq!(ensemble.members.len(), 4);
    let other_seed = train(&store, TrainingParams { seed: 7, ..params })
        .await
        .output
        .unwrap();
    assert_ne!(other_seed.forest_accuracy, first.forest_accuracy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trains_from_one_png_object_per_image_as_the_seed_stores_them() {
    let store = store_with(600, ImportFormat::Png).await;
    assert_eq!(objects_under(&store, "train").await, 600);
    let result = train(&store, small_params()).await.output.unwrap();
    assert_eq!(result.n_train, 600);
    assert!(result.accuracy > 0.65, "accuracy {}", result.accuracy);
}

async fn failure(store: &Store, params: TrainingParams) -> String {
    let outcome = train(store, params).await;
    assert!(
        objects_under(store, "runs").await == 0,
        "scratch left behind"
    );
    outcome.output.unwrap_err().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_inputs_fail_with_one_clear_message_and_leave_nothing_behind() {
    let store = store_with(300, ImportFormat::Png).await;

    let err = failure(
        &store,
        TrainingParams {
            data: "no/such/prefix".into(),
            ..small_params()
        },
    )
    .await;
    assert!(err.contains("no images under 'no/such/prefix'"), "{err}");
    assert!(
        err.contains("mnist-2k"),
        "lists the bundled datasets: {err}"
    );

    let err = failure(
        &store,
        TrainingParams {
            n_pca: 3,
            n_rf: 8,
            ..small_params()
        },
    )
    .await;
    assert!(
        err.contains("n_rf (8) must be a multiple of n_pca (3)"),
        "{err}"
    );
    assert!(
        err.contains("after 1 attempt"),
        "invalid input is not retried: {err}"
    );

    let err = failure(
        &store,
        TrainingParams {
            n_pca: 2,
            n_rf: 2,
            components: 200,
            ..small_params()
        },
    )
    .await;
    assert!(err.contains("too small"), "{err}");

    // A corrupt image fails the run, naming the object.
    let bad_key = "train/3/99999.png";
    store
        .put(&Path::from(bad_key), b"\x89PNG\r\n\x1a\n garbage".to_vec())
        .await
        .unwrap();
    let err = failure(&store, small_params()).await;
    assert!(err.contains(bad_key) && err.contains("corrupt"), "{err}");
    assert!(
        !store
            .exists(&Path::from("models/mnist-rf/model.safetensors"))
            .await
            .unwrap()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_and_truncated_idx_datasets_are_clear_errors() {
    let store = Store::open("memory://ml-training-idx-errors").unwrap();
    images::ensure_bundled(&store, "mnist-test").await.unwrap();
    store
        .put(
            &Path::from("empty/x-images-idx3-ubyte"),
            idx::encode_images(28, 28, &[]).unwrap(),
        )
        .await
        .unwrap();
    store
        .put(
            &Path::from("empty/x-labels-idx1-ubyte"),
            idx::encode_labels(&[]),
        )
        .await
        .unwrap();
    let err = failure(
        &store,
        TrainingParams {
            data: "empty".into(),
            ..small_params()
        },
    )
    .await;
    assert!(err.contains("holds no images"), "{err}");

    let set = bundled::load("mnist-2k").unwrap().take(500);
    let (images_idx, labels_idx) = idx::encode_image_set(&set).unwrap();
    let cut = images_idx.len() - 1000;
    store
        .put(
            &Path::from("cut/x-images-idx3-ubyte"),
            images_idx[..cut].to_vec(),
        )
        .await
        .unwrap();
    store
        .put(&Path::from("cut/x-labels-idx1-ubyte"), labels_idx)
        .await
        .unwrap();
    let err = failure(
        &store,
        TrainingParams {
            data: "cut".into(),
            ..small_params()
        },
    )
    .await;
    assert!(
        err.contains("cut/x-images-idx3-ubyte") && err.contains("truncated"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_without_a_model_or_with_a_corrupt_one_is_a_clear_error() {
    let store = Store::open("memory://ml-inference-errors").unwrap();
    images::ensure_bundled(&store, "mnist-test").await.unwrap();
    let platform = EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    );
    let missing = run(
        Arc::clone(&platform) as Arc<dyn faasml_core::Platform>,
        ml_inference::DRIVER,
        InferenceParams::default(),
        RunOptions::new("ml-inference"),
    )
    .await;
    let err = missing.output.unwrap_err().to_string();
    assert!(err.contains("no model 'mnist-rf'"), "{err}");

    store
        .put(
            &Path::from("models/mnist-rf/model.safetensors"),
            b"not a model".to_vec(),
        )
        .await
        .unwrap();
    let corrupt = run(
        platform,
        ml_inference::DRIVER,
        InferenceParams::default(),
        RunOptions::new("ml-inference"),
    )
    .await;
    let err = corrupt.output.unwrap_err().to_string();
    assert!(
        err.contains("models/mnist-rf/model.safetensors") && err.contains("corrupt"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn png_and_idx_imports_of_the_same_images_train_the_same_model() {
    // Both layouts list images in dataset order and deal them round-robin, so the shards, their
    // order and hence every forest are the same.
    let png = train(&store_with(600, ImportFormat::Png).await, small_params()).await;
    let idx = train(&store_with(600, ImportFormat::Idx).await, small_params()).await;
    let (png, idx) = (png.output.unwrap(), idx.output.unwrap());
    assert_eq!(png.accuracy, idx.accuracy);
    assert_eq!(png.forest_accuracy, idx.forest_accuracy);
}

/// A store with the bundled MNIST test files, gzipped as shipped, under `gz/`.
async fn gzipped_test_set(name: &str) -> Store {
    let store = Store::open(&format!("memory://{name}")).unwrap();
    let dir = bundled::data_dir().join("mnist");
    for file in ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"] {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        store
            .put(&Path::from(format!("gz/{file}")), bytes)
            .await
            .unwrap();
    }
    store
}

#[tokio::test]
async fn gzipped_idx_pairs_are_listed_and_loaded() {
    let store = gzipped_test_set("gzipped-idx").await;
    let sources = images::list(&store, "gz").await.unwrap();
    assert_eq!(images::count(&sources), 10_000);
    let loaded = images::load(&store, &images::take(&sources, 5))
        .await
        .unwrap();
    let test = bundled::load("mnist-test").unwrap().take(5);
    assert_eq!((loaded.pixels, loaded.labels), (test.pixels, test.labels));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dealt_idx_shards_load_their_own_rows_plain_and_gzipped() {
    let store = gzipped_test_set("dealt-idx").await;
    images::ensure_bundled(&store, "plain/mnist-test")
        .await
        .unwrap();
    let test = bundled::load("mnist-test").unwrap();
    for prefix in ["gz", "plain/mnist-test"] {
        let sources = images::list(&store, prefix).await.unwrap();
        let shards = images::deal(&sources, 3);
        for (i, shard) in shards.iter().enumerate() {
            let set = images::load(&store, shard).await.unwrap();
            let rows: Vec<usize> = (i..test.len()).step_by(3).collect();
            assert_eq!(set.len(), rows.len(), "{prefix} shard {i}");
            for (k, &row) in rows.iter().enumerate() {
                assert_eq!(
                    set.label(k),
                    test.label(row),
                    "{prefix} shard {i} row {row}"
                );
                assert_eq!(
                    set.image(k),
                    test.image(row),
                    "{prefix} shard {i} row {row}"
                );
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shard_spanning_more_than_one_read_loads_its_own_rows() {
    // Half of the 60k training rows span 47 MB, read in several range requests.
    let store = Store::open("memory://dealt-60k").unwrap();
    images::ensure_bundled(&store, "mnist").await.unwrap();
    let all = bundled::load("mnist").unwrap();
    let sources = images::list(&store, "mnist").await.unwrap();
    let shard = &images::deal(&sources, 2)[1];
    let set = images::load(&store, shard).await.unwrap();
    assert_eq!(set.len(), 30_000);
    for (k, row) in (1..all.len()).step_by(2).enumerate() {
        assert_eq!(set.label(k), all.label(row), "row {row}");
        assert_eq!(set.image(k), all.image(row), "row {row}");
    }
}

#[tokio::test]
async fn png_labels_come_from_the_directory_name() {
    let store = store_with(50, ImportFormat::Png).await;
    let sources = images::list(&store, "train").await.unwrap();
    let loaded = images::load(&store, &sources).await.unwrap();
    let original = bundled::load("mnist-2k").unwrap().take(50);
    let mut a: Vec<(u8, &[u8])> = (0..50)
        .map(|i| (loaded.label(i), loaded.image(i)))
        .collect();
    let mut b: Vec<(u8, &[u8])> = (0..50)
        .map(|i| (original.label(i), original.image(i)))
        .collect();
    a.sort();
    b.sort();
    assert_eq!(a, b);
    assert_eq!(png_image::label_from_key("train/7/00001.png").unwrap(), 7);
}

/// Regression: a model used on another family's images (the README's next command after training
/// on Fashion-MNIST used to score a digit model on clothes, 0.10, silently) is a warning; the
/// default model follows the data's family.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inference_on_another_family_warns_and_defaults_follow_the_data() {
    let store = store_with(600, ImportFormat::Idx).await;
    let params = TrainingParams {
        trees: 10,
        ..small_params()
    };
    let trained = train(&store, params).await.output.unwrap();
    assert_eq!(trained.model_key, "models/mnist-rf/model.safetensors");
    images::ensure_bundled(&store, "fashion-mnist-test")
        .await
        .unwrap();
    let platform = EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    );
    let infer = |data: &str, model: Option<&str>| {
        let params = InferenceParams {
            data: data.into(),
            model: model.map(Into::into),
            batch_size: 5000,
        };
        let platform = Arc::clone(&platform) as Arc<dyn faasml_core::Platform>;
        async move {
            run(
                platform,
                ml_inference::DRIVER,
                params,
                RunOptions::new("ml-inference"),
            )
            .await
            .output
        }
    };
    // The default model of Fashion-MNIST data is fashion-mnist-rf, which does not exist.
    let err = infer("fashion-mnist-test", None)
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("no model 'fashion-mnist-rf'"), "{err}");
    let mismatched = infer("fashion-mnist-test", Some("mnist-rf")).await.unwrap();
    // The training data was the prefix "train", which names no family: no warning can be given
    // from it, so this model records "train"...
    assert_eq!(mismatched.model_dataset.as_deref(), Some("train"));
    assert!(mismatched.warnings.is_empty(), "{:?}", mismatched.warnings);
    // ... while a model trained on a known family warns on another one.
    let params = TrainingParams {
        data: "mnist-2k".into(),
        model: Some("digits".into()),
        trees: 10,
        ..small_params()
    };
    let digits = train(&store, params).await.output.unwrap();
    assert_eq!(digits.model_key, "models/digits/model.safetensors");
    let mismatched = infer("fashion-mnist-test", Some("digits")).await.unwrap();
    assert_eq!(mismatched.model_dataset.as_deref(), Some("mnist"));
    assert_eq!(mismatched.warnings.len(), 1, "{:?}", mismatched.warnings);
    assert!(mismatched.warnings[0].contains("fashion-mnist"));
    let matched = infer("mnist-test", Some("digits")).await.unwrap();
    assert!(matched.warnings.is_empty(), "{:?}", matched.warnings);
}

fn orion_params() -> TrainingParams {
    TrainingParams {
        data: "mnist-2k".into(),
        pipeline: Pipeline::Orion,
        // Orion's 100 components, cut to keep the test cheap.
        components: 20,
        ..TrainingParams::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orion_fits_the_grid_keeps_the_best_and_publishes_their_average() {
    let store = Store::open("memory://ml-training-orion").unwrap();
    let params = orion_params();
    let outcome = train(&store, params.clone()).await;
    let result = outcome.output.unwrap();
    assert_eq!(result.pipeline, Pipeline::Orion);
    assert_eq!(result.n_train, 2000);
    assert_eq!(result.n_test, 10_000);
    // 20% of the rows held out, by the fixed rule.
    let held_out = (0..2000)
        .filter(|&i| ml_training::is_validation_row(params.seed, i, params.validation))
        .count();
    assert_eq!(result.n_validation, held_out);
    assert!((300..500).contains(&held_out), "{held_out}");

    // The 16 grid points, each setting once, in grid order.
    let settings: Vec<(f64, usize)> = result
        .grid
        .iter()
        .map(|p| (p.feature_fraction, p.trees))
        .collect();
    assert_eq!(settings, ml_training::orion_grid());
    assert_eq!(settings.len(), 16);
    assert!(
        result
            .grid
            .iter()
            .all(|p| p.validation_accuracy > 0.5 && p.fit_s > 0.0)
    );

    // Exactly `keep` kept, and none left out beats a kept one.
    let kept: Vec<_> = result.grid.iter().filter(|p| p.kept).collect();
    assert_eq!(kept.len(), params.keep);
    let worst_kept = kept
        .iter()
        .map(|p| p.validation_accuracy)
        .fold(f64::MAX, f64::min);
    assert!(
        result
            .grid
            .iter()
            .filter(|p| !p.kept)
            .all(|p| p.validation_accuracy <= worst_kept),
        "{:?}",
        result.grid
    );
    assert!(
        result
            .grid
            .iter()
            .all(|p| p.kept == p.test_accuracy.is_some())
    );

    // The average beats 0.8 on the 10k test images and is at least as good as the median member.
    let mut members: Vec<f64> = kept.iter().filter_map(|p| p.test_accuracy).collect();
    members.sort_by(f64::total_cmp);
    let median = members[members.len() / 2];
    assert!(result.accuracy > 0.8, "accuracy {}", result.accuracy);
    assert!(
        result.accuracy >= median,
        "accuracy {} below the median member's {median}",
        result.accuracy
    );
    let total: u64 = result.confusion.iter().flatten().sum();
    assert_eq!(total, 10_000);

    // Driver, partition, one pca, 16 gbdt, orion-combine.
    let calls: Vec<(&str, u32)> = outcome
        .report
        .stages
        .iter()
        .filter(|s| s.function.starts_with("ml-training."))
        .map(|s| (s.function.as_str(), s.invocations))
        .collect();
    assert_eq!(
        calls,
        vec![
            ("ml-training.driver", 1),
            ("ml-training.partition", 1),
            ("ml-training.pca", 1),
            ("ml-training.gbdt", 16),
            ("ml-training.orion-combine", 1)
        ]
    );

    // One published object; it reloads and reproduces the accuracy; no scratch is left.
    assert_eq!(result.model_key, "models/mnist-orion/orion.safetensors");
    assert_eq!(objects_under(&store, "models/mnist-orion").await, 1);
    assert_eq!(objects_under(&store, "runs").await, 0);
    let tensors =
        faasml_workflows::kit::persist::get(&store, &Path::from(result.model_key.as_str()))
            .await
            .unwrap();
    let model = OrionModel::from_tensors(&tensors).unwrap();
    assert_eq!(model.members.len(), params.keep);
    assert_eq!(model.pca.n_components(), 20);
    let test_sources = images::list(&store, "mnist-test").await.unwrap();
    let test = images::load(&store, &test_sources).await.unwrap();
    let x = images::pixels_matrix(&test).unwrap();
    let probs = model.predict_proba(x.view()).unwrap();
    let predicted = faasml_workflows::model::argmax_rows(&probs);
    let right = predicted
        .iter()
        .zip(&test.labels)
        .filter(|(p, t)| p == t)
        .count();
    assert_eq!(right as f64 / 10_000.0, result.accuracy);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orion_keep_outside_the_grid_is_a_clear_error() {
    let store = Store::open("memory://ml-training-orion-bad").unwrap();
    for keep in [0, 17] {
        let err = failure(
            &store,
            TrainingParams {
                keep,
                ..orion_params()
            },
        )
        .await;
        assert!(
            err.contains("--keep must be between 1 and 16") && err.contains(&format!("got {keep}")),
            "{err}"
        );
    }
    let err = failure(
        &store,
        TrainingParams {
            validation: 1.0,
            ..orion_params()
        },
    )
    .await;
    assert!(err.contains("--validation"), "{err}");
    assert_eq!(objects_under(&store, "models").await, 0);
}
