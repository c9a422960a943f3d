//! The store conformance suite: one set of `async fn` checks over `&Store`, run against the
//! memory, file and S3 backends (a real S3 server from `faasml-testkit` on 127.0.0.1), plus the
//! S3-only failure modes (wrong secret, missing bucket, closed port) and their timing.

use std::sync::Arc;
use std::time::{Duration, Instant};

use faasml_store::{ArrayFile, ByteCounter, Path, S3Options, Store, StoreError};
use faasml_testkit::S3Server;

async fn basic_objects(store: &Store) {
    let key = Path::from("a/b/one.bin");
    assert!(!store.exists(&key).await.unwrap());
    let err = store.get(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound { .. }), "{err}");
    assert!(err.to_string().contains("a/b/one.bin"), "{err}");
    store.put(&key, b"hello".to_vec()).await.unwrap();
    store
        .put(&Path::from("a/b/two.bin"), b"x".to_vec())
        .await
        .unwrap();
    store
        .put(&Path::from("a/bc/three.bin"), b"y".to_vec())
        .await
        .unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(&store.get(&key).await.unwrap()[..], b"hello");
    assert_eq!(&store.get_range(&key, 1..3).await.unwrap()[..], b"el");
    let err = store.get_range(&key, 3..30).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("one.bin"), "{err}");
    // Overwrite replaces the whole object.
    store.put(&key, b"HELLO!".to_vec()).await.unwrap();
    assert_eq!(&store.get(&key).await.unwrap()[..], b"HELLO!");
}

async fn listing_is_sorted_with_segment_prefixes(store: &Store) {
    // (No object `l/b` beside `l/b/...`: a file-backed store cannot hold both.)
    for name in ["l/b/2", "l/a/1", "l/b/1", "l/bc/1", "l/b.txt"] {
        store
            .put(&Path::from(name), name.as_bytes().to_vec())
            .await
            .unwrap();
    }
    let keys = |v: Vec<faasml_store::ObjectMeta>| {
        v.into_iter()
            .map(|m| m.location.to_string())
            .collect::<Vec<_>>()
    };
    // `l/b` is a segment prefix: it matches `l/b/...`, not `l/bc/...` nor `l/b.txt`.
    assert_eq!(
        keys(store.list(&Path::from("l/b")).await.unwrap()),
        vec!["l/b/1", "l/b/2"]
    );
    assert_eq!(
        keys(store.list(&Path::from("l")).await.unwrap()),
        vec!["l/a/1", "l/b.txt", "l/b/1", "l/b/2", "l/bc/1"]
    );
    assert!(store.list(&Path::from("nothing")).await.unwrap().is_empty());
    assert_eq!(store.delete_prefix(&Path::from("l/b")).await.unwrap(), 2);
    assert_eq!(
        keys(store.list(&Path::from("l")).await.unwrap()),
        vec!["l/a/1", "l/b.txt", "l/bc/1"]
    );
    assert_eq!(store.delete_prefix(&Path::from("l")).await.unwrap(), 3);
    assert!(store.list(&Path::from("l")).await.unwrap().is_empty());
}

async fn json_and_arrays(store: &Store) {
    let key = Path::from("j/value.json");
    store
        .put_json(&key, &serde_json::json!({"a": [1, 2]}))
        .await
        .unwrap();
    let back: serde_json::Value = store.get_json(&key).await.unwrap();
    assert_eq!(back["a"][1], 2);
    let mut arrays = ArrayFile::new();
    arrays
        .insert_f32("w", vec![2, 3], vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
        .unwrap();
    arrays.insert_u8("y", vec![3], vec![7, 8, 9]).unwrap();
    arrays.set_meta("kind", "test");
    let key = Path::from("j/model.safetensors");
    store.put_arrays(&key, &arrays).await.unwrap();
    let back = store.get_arrays(&key).await.unwrap();
    assert_eq!(back.f32("w").unwrap().1, &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]);
    assert_eq!(back.u8("y").unwrap().1, &[7, 8, 9]);
    assert_eq!(back.meta("kind"), Some("test"));
}

async fn corrupt_objects_name_the_key(store: &Store) {
    let key = Path::from("c/bad.json");
    store.put(&key, b"{not json".to_vec()).await.unwrap();
    let err = store
        .get_json::<serde_json::Value>(&key)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("c/bad.json") && err.contains("corrupt"),
        "{err}"
    );
    let key = Path::from("c/bad.safetensors");
    store
        .put(&key, b"\xff\0\0\0\0\0\0\0{}".to_vec())
        .await
        .unwrap();
    let err = store.get_arrays(&key).await.unwrap_err();
    assert!(matches!(err, StoreError::Corrupt { .. }), "{err}");
    assert!(err.to_string().contains("c/bad.safetensors"), "{err}");
}

/// A deterministic pattern, different per `seed`, so a mixed-up part shows.
fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u32).wrapping_mul(2_654_435_761).to_le_bytes()[1] ^ seed)
        .collect()
}

async fn large_multipart_round_trip(store: &Store) {
    let len = 2 * Store::PART_SIZE + 12_345; // three parts, the last one short
    assert!(len > Store::MULTIPART_THRESHOLD);
    let data = pattern(len, 7);
    let key = Path::from("big/object.bin");
    store.put(&key, data.clone()).await.unwrap();
    assert_eq!(store.head(&key).await.unwrap().size, len as u64);
    let back = store.get(&key).await.unwrap();
    assert!(back[..] == data[..], "multipart object differs");
    let mid = Store::PART_SIZE as u64 - 10;
    let range = store.get_range(&key, mid..mid + 20).await.unwrap();
    assert_eq!(&range[..], &data[mid as usize..mid as usize + 20]);
    assert_eq!(store.delete_prefix(&Path::from("big")).await.unwrap(), 1);
}

async fn concurrent_writers_leave_one_whole_object(store: &Store) {
    let key = Path::from("race/one.bin");
    let len = 256 * 1024;
    let writers: Vec<_> = (0..8u8)
        .map(|seed| {
            let store = store.clone();
            let key = key.clone();
            tokio::spawn(async move { store.put(&key, pattern(len, seed)).await })
        })
        .collect();
    for writer in writers {
        writer.await.unwrap().unwrap();
    }
    let back = store.get(&key).await.unwrap();
    assert!(
        (0..8u8).any(|seed| back[..] == pattern(len, seed)[..]),
        "the object is a mix of writers"
    );
}

async fn counted_stores_count_payload_bytes(store: &Store) {
    let counter = Arc::new(ByteCounter::default());
    let counted = store.counted(Arc::clone(&counter));
    let key = Path::from("count/k");
    counted.put(&key, vec![0u8; 100]).await.unwrap();
    counted.get(&key).await.unwrap();
    counted.get_range(&key, 10..20).await.unwrap();
    counted.head(&key).await.unwrap();
    assert_eq!((counter.read(), counter.written()), (110, 100));
}

/// The whole suite, on one store.
async fn conformance(store: &Store) {
    store.check().await.unwrap();
    basic_objects(store).await;
    listing_is_sorted_with_segment_prefixes(store).await;
    json_and_arrays(store).await;
    corrupt_objects_name_the_key(store).await;
    large_multipart_round_trip(store).await;
    concurrent_writers_leave_one_whole_object(store).await;
    counted_stores_count_payload_bytes(store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_store_conforms() {
    conformance(&Store::open("memory://conformance/p").unwrap()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn file_store_conforms() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("file://{}", dir.path().join("nested/store").display());
    conformance(&Store::open(&url).unwrap()).await;
}

fn s3_options(server: &S3Server) -> S3Options {
    S3Options::from_vars(server.env())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_store_conforms() {
    let server = S3Server::start();
    let options = s3_options(&server);
    conformance(&Store::open_with(&server.url("conformance/run"), &options).unwrap()).await;
    // A prefix-less store over the same bucket sees the objects under the prefix.
    let root = Store::open_with(&server.url(""), &options).unwrap();
    assert!(
        root.exists(&Path::from("conformance/run/a/b/one.bin"))
            .await
            .unwrap()
    );
}

/// Runs `op`, asserting that it fails within `limit`, and returns the message.
async fn fails_fast<T: std::fmt::Debug>(
    limit: Duration,
    op: impl std::future::Future<Output = Result<T, StoreError>>,
) -> String {
    let start = Instant::now();
    let err = op.await.unwrap_err().to_string();
    let took = start.elapsed();
    assert!(took < limit, "took {took:?} to fail: {err}");
    eprintln!("failed in {took:?}: {err}");
    err
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_wrong_secret_is_one_fast_clear_error() {
    let server = S3Server::start();
    let url = server.url("p");
    let options = S3Options::from_vars(server.env_with_secret("not-the-secret"));
    let store = Store::open_with(&url, &options).unwrap();
    let err = fails_fast(Duration::from_secs(5), store.check()).await;
    assert!(err.contains(&url), "{err}");
    assert!(
        err.contains("SignatureDoesNotMatch") || err.contains("403"),
        "{err}"
    );
    let err = fails_fast(
        Duration::from_secs(5),
        store.put(&Path::from("k"), b"x".to_vec()),
    )
    .await;
    assert!(err.contains(&url) && err.contains("'k'"), "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_missing_bucket_is_a_clear_error() {
    let server = S3Server::start();
    let url = "s3://no-such-bucket/p";
    let store = Store::open_with(url, &s3_options(&server)).unwrap();
    let err = fails_fast(Duration::from_secs(5), store.check()).await;
    assert!(err.contains(url), "{err}");
    assert!(
        err.contains("does not exist") || err.contains("NoSuchBucket"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_unreachable_endpoint_is_a_fast_clear_error() {
    let port = faasml_testkit::free_port(); // bound then released: nothing listens there
    let options = S3Options::from_vars([
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_ENDPOINT_URL", &format!("http://127.0.0.1:{port}")),
        ("AWS_ALLOW_HTTP", "true"),
    ]);
    let url = "s3://bucket/p";
    let store = Store::open_with(url, &options).unwrap();
    let err = fails_fast(Duration::from_secs(5), store.check()).await;
    assert!(err.contains(url), "{err}");
    let err = fails_fast(Duration::from_secs(5), store.get(&Path::from("k"))).await;
    assert!(err.contains(url) && err.contains("'k'"), "{err}");
}
