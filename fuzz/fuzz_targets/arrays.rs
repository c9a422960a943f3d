//! Fuzz target `arrays`: safetensors bytes into an [`faasml_store::ArrayFile`], then into a
//! model's tensors.
//!
//! Decoding must be `Ok` or an error; a decoded file must hand out every array through its
//! typed accessor and convert to `ModelTensors` (or say which array no model stores).

#![no_main]

use faasml_store::{ArrayFile, Dtype};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = ArrayFile::decode(data) else {
        return;
    };
    let names: Vec<String> = file.names().map(str::to_string).collect();
    for name in &names {
        let ok = match file.dtype(name) {
            Some(Dtype::F32) => file.f32(name).is_ok(),
            Some(Dtype::U16) => file.u16(name).is_ok(),
            Some(Dtype::U32) => file.u32(name).is_ok(),
            Some(Dtype::U8) => file.u8(name).is_ok(),
            _ => false,
        };
        assert!(ok, "array {name} decoded but cannot be read");
    }
    let _ = file.encode();
    let _ = faasml_workflows::kit::persist::from_array_file(file);
});
