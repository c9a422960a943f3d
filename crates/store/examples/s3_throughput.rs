//! Throughput of 1 MiB puts and gets against the loopback S3 test server (`faasml-testkit`), a
//! `file://` store and a `memory://` store, in MB/s. A measurement, not a test:
//! `cargo run --release -p faasml-store --example s3_throughput [OBJECTS] [CONCURRENCY]`.

use std::time::Instant;

use faasml_store::{Path, S3Options, Store};
use faasml_testkit::S3Server;
use futures::StreamExt;

const SIZE: usize = 1024 * 1024;

/// Puts then gets `n` objects of 1 MiB with `conc` requests in flight; returns (put, get) MB/s.
async fn measure(store: &Store, n: usize, conc: usize) -> (f64, f64) {
    let data = bytes::Bytes::from(vec![7u8; SIZE]);
    let mb = (n * SIZE) as f64 / 1e6;
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| {
            let data = data.clone();
            async move { store.put(&Path::from(format!("tp/{i}")), data).await }
        })
        .buffer_unordered(conc)
        .for_each(|r| async move { r.expect("put") })
        .await;
    let put = mb / start.elapsed().as_secs_f64();
    let start = Instant::now();
    futures::stream::iter(0..n)
        .map(|i| async move { store.get(&Path::from(format!("tp/{i}"))).await })
        .buffer_unordered(conc)
        .for_each(|r| async move { assert_eq!(r.expect("get").len(), SIZE) })
        .await;
    let get = mb / start.elapsed().as_secs_f64();
    store
        .delete_prefix(&Path::from("tp"))
        .await
        .expect("delete");
    (put, get)
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(200);
    let conc: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(1);
    let server = S3Server::start();
    let dir = tempfile::tempdir().expect("tempdir");
    let stores = [
        (
            "s3 (loopback s3s-fs)",
            Store::open_with(&server.url("bench"), &S3Options::from_vars(server.env()))
                .expect("open s3"),
        ),
        (
            "file://",
            Store::open(&format!("file://{}", dir.path().display())).expect("open file"),
        ),
        (
            "memory://",
            Store::open("memory://bench").expect("open memory"),
        ),
    ];
    println!("{n} objects of 1 MiB, {conc} in flight");
    println!("{:<22} {:>12} {:>12}", "store", "put MB/s", "get MB/s");
    for (name, store) in &stores {
        store.check().await.expect("check");
        measure(store, n.min(10), conc).await; // warm-up
        let (put, get) = measure(store, n, conc).await;
        println!("{name:<22} {put:>12.1} {get:>12.1}");
    }
}
