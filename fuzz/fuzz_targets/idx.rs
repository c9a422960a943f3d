//! Fuzz target `idx`: the IDX decoders (images, labels, an image/label pair), plain and gzipped.
//!
//! The first byte picks the entry point and a limit; the rest is the file (for a pair, split at
//! the second byte's fraction). Every outcome must be `Ok` or a `DatasetError`; no panic, and
//! no allocation beyond what the bytes present (or their deflate bound) can fill.

#![no_main]

use faasml_datasets::idx;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let limit = (mode & 0x10 != 0).then_some(usize::from(mode >> 5));
    match mode % 4 {
        0 => {
            if let Ok((header, pixels)) = idx::decode_images_limit(rest, limit) {
                assert_eq!(
                    pixels.len() as u64,
                    u64::from(header.count) * u64::from(header.rows) * u64::from(header.cols)
                );
            }
        }
        1 => {
            let _ = idx::decode_labels_limit(rest, limit);
        }
        2 => {
            let Some((&cut, rest)) = rest.split_first() else {
                return;
            };
            let at = rest.len() * usize::from(cut) / 256;
            let (images, labels) = rest.split_at(at);
            if let Ok(set) = idx::read_pair_limit(images, labels, limit) {
                assert_eq!(set.pixels.len(), set.len() * set.pixels_per_image());
            }
        }
        _ => {
            let _ = idx::gunzip_if_needed(rest);
        }
    }
});
