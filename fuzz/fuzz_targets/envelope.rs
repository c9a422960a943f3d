//! Fuzz target `envelope`: the worker's wire JSON — a response [`faasml_worker::Envelope`] and
//! a [`faasml_worker::LambdaRequest`] event — and the invocation metadata headers.
//!
//! The first byte picks the decoder. A body that parses must convert (to a platform response,
//! to request metadata) and re-encode without panicking.

#![no_main]

use faasml_worker::{Envelope, LambdaRequest, RequestMeta};
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            if let Ok(envelope) = serde_json::from_slice::<Envelope>(rest) {
                let bytes = envelope.to_bytes();
                let again: Envelope = serde_json::from_slice(&bytes).expect("re-encoded envelope");
                let _ = again.into_response("fuzz");
            }
        }
        1 => {
            if let Ok(request) = serde_json::from_slice::<LambdaRequest>(rest) {
                let meta = request.meta();
                let _ = meta.to_headers();
            }
        }
        _ => {
            // Header lines `name: value`, as a worker receives them.
            let Ok(text) = std::str::from_utf8(rest) else {
                return;
            };
            let headers: Vec<(String, &str)> = text
                .lines()
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v))
                .collect();
            let get = |name: &str| headers.iter().find(|(k, _)| k == name).map(|(_, v)| *v);
            if let Ok(meta) = RequestMeta::from_headers(get) {
                let _ = meta.to_headers();
            }
        }
    }
});
