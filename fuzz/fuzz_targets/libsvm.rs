//! Fuzz target `libsvm`: the LIBSVM/SVMlight reader, with and without a fixed width.
//!
//! The first byte chooses the width (none, or 0..=254 features); the rest is the text. A
//! crafted index (`1 4294967295:1`) must be an error, never a dense table sized from it.

#![no_main]

use faasml_datasets::libsvm;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    let Some((&width, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let width = (width != 255).then_some(usize::from(width));
    if let Ok(table) = libsvm::read_libsvm(text, width) {
        assert_eq!(table.features.len(), table.n_rows * table.n_cols);
    }
});
