//! Fuzz target `png`: greyscale decoding of PNG images ([`faasml_datasets::png_image::decode_gray`]).
//!
//! Any PNG (any colour type, depth, interlacing, or garbage) must decode to `rows x cols`
//! grey pixels or fail with a `DatasetError`; a header declaring huge dimensions must be
//! rejected before the frame buffer is allocated.

#![no_main]

use faasml_datasets::png_image;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    if let Ok((rows, cols, pixels)) = png_image::decode_gray(data) {
        assert_eq!(pixels.len() as u64, u64::from(rows) * u64::from(cols));
    }
});
