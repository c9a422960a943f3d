//! Fuzz target `csv_table`: the numeric CSV reader and the labelled-text CSV reader.
//!
//! The first byte picks the reader; the rest is the file. Columns are looked up by the names
//! the seeds use (`target`, `text`, `label`), so the fuzzer reaches the row parsing.

#![no_main]

use faasml_datasets::{csv_table, text_table};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    if mode % 2 == 0 {
        if let Ok(table) = csv_table::read_table(rest, "target") {
            assert_eq!(table.features.len(), table.n_rows * table.n_cols);
            let _ = table.class_labels();
        }
    } else {
        let _ = text_table::read_text_table(rest, "text", "label");
    }
});
