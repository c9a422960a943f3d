//! Regression tests of the hardening issue ("loaders that never abort"): inputs that declare
//! far more than they hold are typed errors, and no decoder makes a single allocation sized
//! from such a declaration.
//!
//! This test binary installs an allocator that records the largest single request, so each
//! case checks what the decoder actually asked for, not only its result. (The fuzz targets
//! under `fuzz/` enforce the same bound on arbitrary inputs; these are the cases they and the
//! issue found, kept where `cargo test` runs them without nightly.)

use std::alloc::{GlobalAlloc, Layout, System};
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};

use faasml_datasets::{DatasetError, idx, libsvm, png_image};
use flate2::Compression;
use flate2::write::GzEncoder;

/// The system allocator, recording the largest single request.
struct Recording;

static LARGEST: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged after recording the size.
unsafe impl GlobalAlloc for Recording {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LARGEST.fetch_max(layout.size(), Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LARGEST.fetch_max(new_size, Ordering::Relaxed);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Recording = Recording;

/// No test here needs more than this in one allocation (the inputs are at most ~1 MB, their
/// decoded forms ~2 MB); every case checks that the largest request stayed below it, so the
/// tests may share the one counter although they run in parallel.
const BOUND: usize = 32 << 20;

fn assert_small(what: &str) {
    let largest = LARGEST.load(Ordering::Relaxed);
    assert!(
        largest < BOUND,
        "{what}: a single allocation of {largest} bytes"
    );
}

fn gzip(bytes: &[u8], level: Compression) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), level);
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

fn be(values: &[u32]) -> Vec<u8> {
    values.iter().flat_map(|v| v.to_be_bytes()).collect()
}

/// A gzipped IDX whose header lies: a megabyte of stored (incompressible) pixels, so the
/// deflate bound admits a gigabyte, under a header declaring 1.2 million 28x28 images
/// (940 MB). The reader used to allocate the declared 940 MB up front; now memory follows
/// the stream, which ends early: `Truncated`, naming the declared length.
#[test]
fn gzipped_idx_with_a_lying_header_is_truncated_without_allocating_its_claim() {
    let mut images = be(&[0x803, 1_200_000, 28, 28]);
    images.extend((0..1_000_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8));
    let gz = gzip(&images, Compression::none());
    let e = idx::decode_images(&gz).unwrap_err();
    assert!(
        matches!(
            e,
            DatasetError::Truncated {
                expected: 940_800_016,
                actual: 1_000_016,
                ..
            }
        ),
        "{e}"
    );
    assert_small("gzipped IDX images with a lying count");

    let mut labels = be(&[0x801, 900_000_000]);
    labels.extend(std::iter::repeat_n(7u8, 1_000_000));
    let gz = gzip(&labels, Compression::none());
    assert!(matches!(
        idx::decode_labels(&gz),
        Err(DatasetError::Truncated { .. })
    ));
    assert_small("gzipped IDX labels with a lying count");
}

/// A gzip trailer whose size field (ISIZE) says 4 GiB: only a hint, never an allocation.
#[test]
fn a_lying_gzip_trailer_is_only_a_hint() {
    let mut gz = gzip(&[1, 2, 3], Compression::default());
    let n = gz.len();
    gz[n - 4..].copy_from_slice(&u32::MAX.to_le_bytes());
    // The CRC still matches; the size check fails, or the data comes back; never a panic.
    let _ = idx::gunzip_if_needed(&gz);
    assert_small("a gzip trailer declaring 4 GiB");
}

/// Truncated and oversized plain IDX headers.
#[test]
fn truncated_and_oversized_idx_headers_are_errors() {
    for cut in 0..16 {
        let header = be(&[0x803, 1, 28, 28]);
        assert!(idx::decode_images(&header[..cut]).is_err(), "cut {cut}");
    }
    let e = idx::decode_images(&be(&[0x803, u32::MAX, u32::MAX, u32::MAX])).unwrap_err();
    assert!(matches!(e, DatasetError::Truncated { .. }), "{e}");
    assert_small("oversized IDX headers");
}

/// A PNG header declaring 65535 x 65535 pixels in a 70-byte file.
#[test]
fn a_png_with_huge_dimensions_is_an_error() {
    let mut png = Vec::new();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut crc_input = kind.to_vec();
        crc_input.extend_from_slice(data);
        png.extend_from_slice(&crc_input);
        png.extend_from_slice(&crc32(&crc_input).to_be_bytes());
    };
    let mut ihdr = be(&[65_535, 65_535]);
    ihdr.extend_from_slice(&[8, 0, 0, 0, 0]);
    chunk(b"IHDR", &ihdr);
    // An empty zlib stream: the decoder reads the header up to the first IDAT.
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend_from_slice(&png);
    let e = png_image::decode_gray(&bytes).unwrap_err();
    assert!(e.to_string().contains("larger than the limit"), "{e}");
    assert_small("a PNG declaring 65535x65535 pixels");
}

/// CRC-32 (IEEE), bit by bit: enough for a test's two chunks.
fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// LIBSVM with absurd indices: `1 4294967295:1` is an error naming the index, and the most a
/// small text can declare (rows each naming the widest feature) is held to `MAX_CELLS`.
#[test]
fn libsvm_with_absurd_indices_is_an_error() {
    let e = libsvm::read_libsvm("1 4294967295:1\n", None).unwrap_err();
    assert!(e.to_string().contains("4294967295"), "{e}");
    let e = libsvm::read_libsvm("1 18446744073709551616:1\n", None).unwrap_err();
    assert!(e.to_string().contains("not a positive integer"), "{e}");
    let wide = format!("1 {}:1\n", libsvm::MAX_FEATURES);
    let e = libsvm::read_libsvm(&wide.repeat(65), None).unwrap_err();
    assert!(e.to_string().contains("too large a dense table"), "{e}");
    assert!(libsvm::read_libsvm("1 3:1\n", Some(usize::MAX)).is_err());
    assert_small("LIBSVM with absurd indices");
}

/// CSV rows are stored as they arrive: a short file makes a short table, whatever its header.
#[test]
fn csv_with_many_columns_is_bounded_by_its_bytes() {
    let header: Vec<String> = (0..10_000).map(|i| format!("c{i}")).collect();
    let text = format!("{},target\n", header.join(","));
    let table = faasml_datasets::csv_table::read_table(text.as_bytes(), "target").unwrap();
    assert_eq!((table.n_rows, table.n_cols), (0, 10_000));
    assert!(faasml_datasets::csv_table::read_table(&b"target\n1\n1,2\n"[..], "target").is_err());
    assert_small("CSV with many columns");
}
