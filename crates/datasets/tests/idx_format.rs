//! IDX encoding and decoding: round trips, gzip, and corrupt or truncated input.

use std::io::Write;

use faasml_datasets::idx::{self, ImagesHeader};
use faasml_datasets::{DatasetError, ImageSet};
use flate2::Compression;
use flate2::write::GzEncoder;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn sample() -> (Vec<u8>, Vec<u8>) {
    let pixels: Vec<u8> = (0..3 * 4 * 5).map(|i| (i * 7 % 256) as u8).collect();
    let images = idx::encode_images(4, 5, &pixels).unwrap();
    let labels = idx::encode_labels(&[3, 1, 4]);
    (images, labels)
}

#[test]
fn round_trip_plain_and_gzip() {
    let (images, labels) = sample();
    assert_eq!(images.len(), idx::IMAGES_HEADER_LEN + 60);
    assert_eq!(&images[..4], &[0, 0, 8, 3]);
    assert_eq!(&labels[..4], &[0, 0, 8, 1]);
    for (im, lb) in [
        (images.clone(), labels.clone()),
        (gzip(&images), gzip(&labels)),
    ] {
        let (h, px) = idx::decode_images(&im).unwrap();
        assert_eq!(
            h,
            ImagesHeader {
                count: 3,
                rows: 4,
                cols: 5
            }
        );
        assert_eq!(px, &images[16..]);
        assert_eq!(idx::decode_labels(&lb).unwrap(), vec![3, 1, 4]);
        let set = idx::read_pair(&im, &lb).unwrap();
        assert_eq!(set.len(), 3);
        assert_eq!((set.rows, set.cols), (4, 5));
        assert_eq!(set.image(2), &images[16 + 40..]);
        assert_eq!(idx::gunzip_if_needed(&im).unwrap().as_ref(), &images[..]);
        let two = idx::read_pair_limit(&im, &lb, Some(2)).unwrap();
        assert_eq!(two.labels, vec![3, 1]);
        assert_eq!(two.pixels, &images[16..56]);
    }
}

#[test]
fn encode_image_set_round_trips() {
    let set = ImageSet::new(2, 2, vec![1, 2, 3, 4, 5, 6, 7, 8], vec![9, 0]).unwrap();
    let (im, lb) = idx::encode_image_set(&set).unwrap();
    assert_eq!(idx::read_pair(&im, &lb).unwrap(), set);
}

#[test]
fn gunzip_borrows_plain_input() {
    let (images, _) = sample();
    assert!(matches!(
        idx::gunzip_if_needed(&images).unwrap(),
        std::borrow::Cow::Borrowed(_)
    ));
}

#[test]
fn truncated_plain_file_is_an_error() {
    let (images, labels) = sample();
    for cut in [0, 1, 3, 4, 7, 8, 15, 16, 17, 40, images.len() - 1] {
        let e = idx::decode_images(&images[..cut]).unwrap_err();
        assert!(
            matches!(e, DatasetError::Truncated { .. }),
            "cut {cut}: {e}"
        );
    }
    for cut in [0, 2, 4, 7, 8, labels.len() - 1] {
        let e = idx::decode_labels(&labels[..cut]).unwrap_err();
        assert!(
            matches!(e, DatasetError::Truncated { .. }),
            "cut {cut}: {e}"
        );
    }
    let e = idx::decode_images(&images[..40]).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::Truncated {
                expected: 76,
                actual: 40,
                ..
            }
        ),
        "{e}"
    );
}

#[test]
fn truncated_gzip_file_is_an_error() {
    let (images, labels) = sample();
    let gz = gzip(&images);
    for cut in [
        2,
        5,
        10,
        11,
        15,
        20,
        gz.len() / 2,
        gz.len() - 8,
        gz.len() - 1,
    ] {
        let e = idx::decode_images(&gz[..cut]).unwrap_err();
        assert!(
            matches!(e, DatasetError::Truncated { .. } | DatasetError::Gzip(_)),
            "cut {cut}: {e}"
        );
    }
    let gz = gzip(&labels);
    for cut in 2..gz.len() {
        assert!(idx::decode_labels(&gz[..cut]).is_err(), "cut {cut}");
    }
}

#[test]
fn every_prefix_fails_without_panicking() {
    let (images, labels) = sample();
    let gz_images = gzip(&images);
    let gz_labels = gzip(&labels);
    for file in [&images, &gz_images] {
        for cut in 0..file.len() {
            assert!(idx::decode_images(&file[..cut]).is_err());
            assert!(idx::read_pair(&file[..cut], &labels).is_err());
        }
    }
    for file in [&labels, &gz_labels] {
        for cut in 0..file.len() {
            assert!(idx::decode_labels(&file[..cut]).is_err());
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    let (images, labels) = sample();
    let gz = gzip(&images);
    for file in [images, labels, gz] {
        for i in 0..file.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut bad = file.clone();
                bad[i] ^= flip;
                let _ = idx::decode_images(&bad);
                let _ = idx::decode_labels(&bad);
            }
        }
    }
}

#[test]
fn bad_magic() {
    let (images, labels) = sample();
    let e = idx::decode_images(&labels).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::BadMagic {
                expected: 0x803,
                found: 0x801,
                ..
            }
        ),
        "{e}"
    );
    let e = idx::decode_labels(&images).unwrap_err();
    assert!(
        matches!(e, DatasetError::BadMagic { found: 0x803, .. }),
        "{e}"
    );
    let mut bad = images.clone();
    bad[2] = 9;
    assert!(matches!(
        idx::decode_images(&bad),
        Err(DatasetError::BadMagic { found: 0x903, .. })
    ));
    // A gzipped file handed to the header parser gets a hint in the message.
    let e = idx::parse_images_header(&gzip(&images)).unwrap_err();
    assert!(e.to_string().contains("gzip"), "{e}");
}

#[test]
fn count_mismatch() {
    let (images, _) = sample();
    let labels = idx::encode_labels(&[1, 2]);
    let e = idx::read_pair(&images, &labels).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::Mismatch {
                images: 3,
                labels: 2
            }
        ),
        "{e}"
    );
    let e = idx::read_pair(&gzip(&images), &gzip(&labels)).unwrap_err();
    assert!(matches!(e, DatasetError::Mismatch { .. }), "{e}");
}

#[test]
fn trailing_bytes_are_rejected() {
    let (mut images, mut labels) = sample();
    images.push(0);
    labels.extend_from_slice(&[0, 0]);
    assert!(matches!(
        idx::decode_images(&images),
        Err(DatasetError::TrailingData { extra: 1, .. })
    ));
    assert!(matches!(
        idx::decode_labels(&gzip(&labels)),
        Err(DatasetError::TrailingData { extra: 2, .. })
    ));
}

#[test]
fn lying_header_fails_without_allocating() {
    // 4 billion 28x28 images declared in a 100-byte buffer.
    let mut images = Vec::new();
    for v in [0x803u32, 4_000_000_000, 28, 28] {
        images.extend_from_slice(&v.to_be_bytes());
    }
    images.resize(100, 0);
    let e = idx::decode_images(&images).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::Truncated {
                expected: 3_136_000_000_016,
                actual: 100,
                ..
            }
        ),
        "{e}"
    );
    // Also when gzipped, and when only a prefix is asked for.
    assert!(matches!(
        idx::decode_images(&gzip(&images)),
        Err(DatasetError::Truncated { .. })
    ));
    assert!(matches!(
        idx::decode_images_limit(&gzip(&images), Some(1_000_000)),
        Err(DatasetError::Truncated { .. })
    ));
    // Dimensions whose product overflows u64.
    let mut huge = Vec::new();
    for v in [0x803u32, u32::MAX, u32::MAX, u32::MAX] {
        huge.extend_from_slice(&v.to_be_bytes());
    }
    assert!(matches!(
        idx::decode_images(&huge),
        Err(DatasetError::Truncated { .. })
    ));
    let mut labels = Vec::new();
    for v in [0x801u32, u32::MAX] {
        labels.extend_from_slice(&v.to_be_bytes());
    }
    labels.resize(100, 0);
    assert!(matches!(
        idx::decode_labels(&labels),
        Err(DatasetError::Truncated { .. })
    ));
    assert!(matches!(
        idx::decode_labels(&gzip(&labels)),
        Err(DatasetError::Truncated { .. })
    ));
}

#[test]
fn empty_sets() {
    let images = idx::encode_images(28, 28, &[]).unwrap();
    let labels = idx::encode_labels(&[]);
    let set = idx::read_pair(&images, &labels).unwrap();
    assert!(set.is_empty());
    assert_eq!(set.pixels_per_image(), 784);
}
