//! Fuzz target `model`: stored model bytes (safetensors) through every loader.
//!
//! The bytes become an `ArrayFile`, then `ModelTensors`, then a model through
//! [`faasml_ml::Algorithm::load`] (every kind: forests, trees, PCA, MLP, by `meta["kind"]`)
//! and through the workflows' published ensemble reader. A model that loads must then
//! predict two rows of zeros without panicking; a corrupt one must be an error, never a
//! panic or an allocation sized from a stored number (the 68 GB abort of the hardening issue).

#![no_main]

use faasml_ml::{Algorithm, Matrix};
use faasml_store::ArrayFile;
use faasml_workflows::model::EnsembleModel;
use libfuzzer_sys::fuzz_target;

#[global_allocator]
static ALLOCATOR: faasml_fuzz::CappedAlloc = faasml_fuzz::CappedAlloc;

/// Widest input predicted on after a successful load (prediction itself is not under test).
const MAX_PREDICT_FEATURES: usize = 4096;

fuzz_target!(|data: &[u8]| {
    let Ok(file) = ArrayFile::decode(data) else {
        return;
    };
    let Ok(tensors) = faasml_workflows::kit::persist::from_array_file(file) else {
        return;
    };
    if let Ok(model) = Algorithm::load(&tensors) {
        let d = model.n_features();
        if d <= MAX_PREDICT_FEATURES {
            if let Ok(x) = Matrix::new(2, d, vec![0.0; 2 * d]) {
                let _ = model.predict(x.view());
            }
        }
        let _ = Algorithm::load(&model.to_tensors()).expect("a loaded model reloads");
    }
    if let Ok(ensemble) = EnsembleModel::from_tensors(&tensors) {
        if ensemble.n_pixels <= MAX_PREDICT_FEATURES {
            let _ = ensemble.predict_proba_pixels(&vec![0u8; ensemble.n_pixels], 1);
        }
    }
});
