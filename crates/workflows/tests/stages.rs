//! Each ml-training stage on its own: invoked directly with hand-made inputs, its outputs read
//! back from the store and checked. The stages run in run `stage-test`, whose record declares
//! the data they read and the model they publish (what a driver would have written), and write
//! under its scratch prefix.

use faasml_core::confine::run_record_key;
use faasml_core::{EmbeddedConfig, EmbeddedPlatform, FunctionRef, RunOptions, RunRecord, run};
use faasml_datasets::bundled;
use faasml_ml::Persist;
use faasml_ml::pca::PcaModel;
use faasml_store::Store;
use faasml_workflows::data::images::{self, ImageSource, ImportFormat};
use faasml_workflows::kit::persist;
use faasml_workflows::ml_training::{
    PARTITION, PCA, PartitionInput, PcaInput, RF, RfInput, VALIDATE, ValidateInput,
};
use faasml_workflows::model::{self, EnsembleModel};
use serde::Serialize;
use serde::de::DeserializeOwned;

async fn call<I: Serialize, O: Serialize + DeserializeOwned>(
    store: &Store,
    f: FunctionRef<I, O>,
    input: I,
) -> O {
    let platform = EmbeddedPlatform::new(
        faasml_workflows::registry(),
        store.clone(),
        EmbeddedConfig::default(),
    );
    run(
        platform,
        f,
        input,
        RunOptions::new("stage-test").with_run_id("stage-test"),
    )
    .await
    .output
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_stage_reads_and_writes_what_the_next_one_needs() {
    let store = Store::open("memory://stages").unwrap();
    let train = bundled::load("mnist-2k").unwrap().take(600);
    images::import(&store, "train", "train", &train, ImportFormat::Png, &|_| {})
        .await
        .unwrap();
    images::ensure_bundled(&store, "mnist-test").await.unwrap();
    let record = RunRecord {
        workflow: "ml-training".into(),
        datasets: vec!["train".into(), "mnist-test".into()],
        model: Some("stage-test".into()),
        started_us: 1,
        heartbeat_us: 1,
        driver: "test".into(),
    };
    store
        .put_json(&run_record_key("stage-test"), &record)
        .await
        .unwrap();

    // partition: 600 PNG keys dealt round-robin into 3 shard files of 200.
    let part = call(
        &store,
        PARTITION,
        PartitionInput {
            data: "train".into(),
            n_pca: 3,
            n_rf: 6,
            components: 10,
            out: "runs/stage-test/partition".into(),
        },
    )
    .await;
    assert_eq!((part.total, part.sizes.clone()), (600, vec![200, 200, 200]));
    let shard: Vec<ImageSource> = store.get_json(&part.shards[1]).await.unwrap();
    let ImageSource::Png { keys } = &shard[0] else {
        panic!("PNG sources expected: {shard:?}");
    };
    assert_eq!(keys.len(), 200);

    // pca: a basis of 10 components and 2 slices of 100 projected rows.
    let pca = call(
        &store,
        PCA,
        PcaInput {
            shard: part.shards[0].clone(),
            components: 10,
            slices: 2,
            out: "runs/stage-test/pca-0".into(),
        },
    )
    .await;
    assert_eq!((pca.rows, pca.n_classes, pca.slices.len()), (200, 10, 2));
    assert!(pca.variance_kept > 0.3 && pca.variance_kept < 0.8);
    let basis = persist::get(&store, &pca.basis).await.unwrap();
    let basis = PcaModel::from_tensors(&basis.nested("pca")).unwrap();
    assert_eq!((basis.n_components(), basis.n_features()), (10, 784));
    let slice = store.get_arrays(&pca.slices[1]).await.unwrap();
    assert_eq!(slice.f32("features").unwrap().0, &[100, 10]);
    assert_eq!(slice.u8("labels").unwrap().0, &[100]);

    // rf: a forest over the slice's 10 features, stored with its basis.
    let rf = call(
        &store,
        RF,
        RfInput {
            slice: pca.slices[0].clone(),
            basis: pca.basis.clone(),
            n_classes: 10,
            trees: 15,
            depth: 8,
            min_samples_split: 5,
            seed: 1,
            out: "runs/stage-test/rf/forest-0.safetensors".into(),
        },
    )
    .await;
    assert_eq!(rf.rows, 100);
    let stored = persist::get(&store, &rf.forest).await.unwrap();
    let member = model::Member::from_tensors(&stored).unwrap();
    assert_eq!(member.forest.n_trees(), 15);
    assert_eq!(member.forest.n_features(), 10);

    // validate: accuracy on the real test set, and a loadable published model.
    let validated = call(
        &store,
        VALIDATE,
        ValidateInput {
            forests: vec![rf.forest.clone()],
            test: "mnist-test".into(),
            model_key: "models/stage-test/model.safetensors".into(),
            dataset: "mnist".into(),
            params: serde_json::json!({"note": "stage test"}),
        },
    )
    .await;
    assert_eq!(validated.n_test, 10_000);
    // One forest of 15 trees on 100 images is weak, but far better than chance.
    assert!(validated.accuracy > 0.45, "{}", validated.accuracy);
    assert_eq!(validated.forest_accuracy, vec![validated.accuracy]);
    let published = store.get_arrays(&validated.model_key).await.unwrap();
    assert_eq!(published.meta("format"), Some(model::MODEL_FORMAT));
    let ensemble = EnsembleModel::from_arrays(&published).unwrap();
    assert_eq!((ensemble.members.len(), ensemble.n_pixels), (1, 784));
}
