//! The real bundled MNIST and Fashion-MNIST files, and loading EMNIST-style directories.

use std::path::Path;

use faasml_datasets::bundled::{self, Split, data_dir, load, load_idx_dir};
use faasml_datasets::{DatasetError, idx};

const MNIST_TRAIN_COUNTS: [usize; 10] =
    [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949];
const MNIST_TEST_COUNTS: [usize; 10] = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009];

#[test]
fn data_dir_holds_the_bundled_files() {
    let dir = data_dir();
    for family in ["mnist", "fashion-mnist"] {
        for file in [
            "train-images-idx3-ubyte.gz",
            "train-labels-idx1-ubyte.gz",
            "t10k-images-idx3-ubyte.gz",
            "t10k-labels-idx1-ubyte.gz",
        ] {
            assert!(dir.join(family).join(file).is_file(), "{family}/{file}");
        }
    }
}

#[test]
fn mnist_train() {
    let set = load("mnist").unwrap();
    assert_eq!(set.len(), 60_000);
    assert_eq!((set.rows, set.cols), (28, 28));
    assert_eq!(set.pixels.len(), 60_000 * 784);
    assert_eq!(&set.labels[..10], &[5, 0, 4, 1, 9, 2, 1, 3, 1, 4]);
    assert_eq!(set.class_counts(), MNIST_TRAIN_COUNTS);
    assert_eq!(set.n_classes(), 10);
    // The first image is a 5 with ink in the middle and a blank border.
    let first = set.image(0);
    assert!(first[..28].iter().all(|&p| p == 0));
    assert!(first.contains(&255));

    let small = load("mnist-2k").unwrap();
    assert_eq!(small.len(), 2000);
    assert_eq!(small.labels[..], set.labels[..2000]);
    assert_eq!(small.pixels[..], set.pixels[..2000 * 784]);
    let ten = load("mnist-10k").unwrap();
    assert_eq!(ten.len(), 10_000);
    assert_eq!(ten, set.take(10_000));
}

#[test]
fn mnist_test() {
    let set = load("mnist-test").unwrap();
    assert_eq!(set.len(), 10_000);
    assert_eq!((set.rows, set.cols), (28, 28));
    assert_eq!(set.class_counts(), MNIST_TEST_COUNTS);
}

#[test]
fn fashion_mnist() {
    let set = load("fashion-mnist").unwrap();
    assert_eq!(set.len(), 60_000);
    assert_eq!((set.rows, set.cols), (28, 28));
    assert_eq!(set.class_counts(), vec![6000; 10]);
    let test = load("fashion-mnist-test").unwrap();
    assert_eq!(test.class_counts(), vec![1000; 10]);
    assert_eq!(load("fashion-mnist-2k").unwrap().len(), 2000);
    assert_eq!(load("fashion-mnist-10k").unwrap().len(), 10_000);
}

#[test]
fn unknown_name() {
    match load("emnist-balanced") {
        Err(DatasetError::UnknownDataset { name, known }) => {
            assert_eq!(name, "emnist-balanced");
            assert!(known.contains("mnist-2k"), "{known}");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(bundled::catalog().len(), 8);
}

fn copy(from: &Path, to: &Path) {
    std::fs::copy(from, to).unwrap();
}

#[test]
fn emnist_style_names() {
    let mnist = data_dir().join("mnist");
    let tmp = tempfile::tempdir().unwrap();
    copy(
        &mnist.join("t10k-images-idx3-ubyte.gz"),
        &tmp.path().join("emnist-balanced-test-images-idx3-ubyte.gz"),
    );
    copy(
        &mnist.join("t10k-labels-idx1-ubyte.gz"),
        &tmp.path().join("emnist-balanced-test-labels-idx1-ubyte.gz"),
    );
    std::fs::write(tmp.path().join("emnist-balanced-mapping.txt"), "0 48\n").unwrap();
    let set = load_idx_dir(tmp.path(), Split::Test, None).unwrap();
    assert_eq!(set, load("mnist-test").unwrap());
    let limited = load_idx_dir(tmp.path(), Split::Test, Some(5)).unwrap();
    assert_eq!(limited.len(), 5);

    // No train files: a NotFound naming the directory and what was looked for.
    let e = load_idx_dir(tmp.path(), Split::Train, None).unwrap_err();
    match &e {
        DatasetError::NotFound { path, what } => {
            assert_eq!(path, tmp.path());
            assert!(what.contains("train") && what.contains("images"), "{what}");
        }
        other => panic!("unexpected {other}"),
    }
    assert!(e.to_string().contains(&tmp.path().display().to_string()));

    // Uncompressed files work too.
    let plain = tempfile::tempdir().unwrap();
    let labels = std::fs::read(mnist.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    std::fs::write(
        plain.path().join("emnist-digits-test-labels-idx1-ubyte"),
        idx::gunzip_if_needed(&labels).unwrap(),
    )
    .unwrap();
    copy(
        &mnist.join("t10k-images-idx3-ubyte.gz"),
        &plain.path().join("emnist-digits-test-images-idx3-ubyte.gz"),
    );
    let set2 = load_idx_dir(plain.path(), Split::Test, None).unwrap();
    assert_eq!(set2, set);
}

#[test]
fn missing_directory_and_mismatched_files() {
    let tmp = tempfile::tempdir().unwrap();
    let missing = tmp.path().join("nope");
    assert!(matches!(
        load_idx_dir(&missing, Split::Train, None),
        Err(DatasetError::NotFound { .. })
    ));
    let mnist = data_dir().join("mnist");
    copy(
        &mnist.join("train-images-idx3-ubyte.gz"),
        &tmp.path().join("train-images-idx3-ubyte.gz"),
    );
    copy(
        &mnist.join("t10k-labels-idx1-ubyte.gz"),
        &tmp.path().join("train-labels-idx1-ubyte.gz"),
    );
    assert!(matches!(
        load_idx_dir(tmp.path(), Split::Train, Some(10)),
        Err(DatasetError::Mismatch {
            images: 60_000,
            labels: 10_000
        })
    ));
}
