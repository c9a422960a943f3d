//! Models in the store: the one mapping between `faasml-ml`'s [`ModelTensors`] (named plain
//! tensors and metadata, what every model's [`Persist`] gives) and the store's safetensors
//! [`ArrayFile`]. Workflows store and load models only through here.

use faasml_ml::{ModelTensors, Persist, Tensor, TensorData};
use faasml_store::{ArrayData, ArrayFile, Path, Store};

use crate::error::{Result, WorkflowError};

/// The arrays and metadata of `tensors` (moved, not copied).
pub fn to_array_file(tensors: ModelTensors) -> Result<ArrayFile> {
    let mut file = ArrayFile::new();
    for (key, value) in tensors.meta {
        file.set_meta(key, value);
    }
    for (name, tensor) in tensors.tensors {
        let (shape, data) = tensor.into_parts();
        match data {
            TensorData::F32(v) => file.insert_f32(&name, shape, v)?,
            TensorData::U32(v) => file.insert_u32(&name, shape, v)?,
            TensorData::U8(v) => file.insert_u8(&name, shape, v)?,
        }
    }
    Ok(file)
}

/// The tensors and metadata of `file` (moved, not copied); an array of a type no model uses is
/// an error naming it.
pub fn from_array_file(file: ArrayFile) -> std::result::Result<ModelTensors, String> {
    let (meta, arrays) = file.into_arrays();
    let mut tensors = ModelTensors {
        meta,
        ..ModelTensors::default()
    };
    for (name, shape, data) in arrays {
        let data = match data {
            ArrayData::F32(v) => TensorData::F32(v),
            ArrayData::U32(v) => TensorData::U32(v),
            ArrayData::U8(v) => TensorData::U8(v),
            ArrayData::U16(_) => {
                return Err(format!("array '{name}' has type U16, no model stores it"));
            }
        };
        let tensor = Tensor::new(shape, data).map_err(|e| e.to_string())?;
        tensors.insert(name, tensor);
    }
    Ok(tensors)
}

/// Writes `tensors` to `key` as safetensors.
pub async fn put(store: &Store, key: &Path, tensors: ModelTensors) -> Result<()> {
    Ok(store.put_arrays(key, &to_array_file(tensors)?).await?)
}

/// Reads the tensors at `key`; bytes that are not a model are [`WorkflowError::CorruptModel`].
pub async fn get(store: &Store, key: &Path) -> Result<ModelTensors> {
    let file = store.get_arrays(key).await?;
    from_array_file(file).map_err(|reason| corrupt(store, key, reason))
}

/// `tensors` as the bytes of a safetensors file, for a model that travels in a payload.
pub fn to_bytes(tensors: ModelTensors) -> Result<Vec<u8>> {
    Ok(to_array_file(tensors)?.encode()?)
}

/// The tensors of safetensors `bytes`; `what` names them in the error when they are not a
/// model.
pub fn from_bytes(bytes: &[u8], what: &str) -> Result<ModelTensors> {
    let bad = |reason: String| WorkflowError::CorruptModel {
        store: "payload".to_string(),
        key: what.to_string(),
        reason,
    };
    let file = ArrayFile::decode(bytes).map_err(|e| bad(e.to_string()))?;
    from_array_file(file).map_err(bad)
}

/// SHA-256 (hex) of `tensors`' metadata and tensors in name order: the same model gives the
/// same digest (the safetensors file's metadata order is not fixed).
pub fn digest(tensors: &ModelTensors) -> String {
    let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
    for (k, v) in &tensors.meta {
        for part in [k.as_bytes(), b"=", v.as_bytes(), b"\n"] {
            ctx.update(part);
        }
    }
    for (name, tensor) in &tensors.tensors {
        ctx.update(name.as_bytes());
        for d in tensor.shape() {
            ctx.update(&(*d as u64).to_le_bytes());
        }
        match tensor.data() {
            TensorData::F32(v) => v.iter().for_each(|x| ctx.update(&x.to_le_bytes())),
            TensorData::U32(v) => v.iter().for_each(|x| ctx.update(&x.to_le_bytes())),
            TensorData::U8(v) => ctx.update(v),
        }
    }
    ctx.finish()
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Reads the model of type `P` at `key`, validated by its [`Persist::from_tensors`].
pub async fn load<P: Persist>(store: &Store, key: &Path) -> Result<P> {
    let tensors = get(store, key).await?;
    P::from_tensors(&tensors).map_err(|e| corrupt(store, key, e.to_string()))
}

/// The error of a model at `key` that does not read back.
pub fn corrupt(store: &Store, key: &Path, reason: String) -> WorkflowError {
    WorkflowError::CorruptModel {
        store: store.url().to_string(),
        key: key.to_string(),
        reason,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use faasml_ml::Matrix;
    use faasml_ml::pca::Pca;

    #[tokio::test]
    async fn a_model_round_trips_through_the_store_and_junk_is_corrupt() {
        let store = Store::open("memory://kit-persist").unwrap();
        let x = Matrix::new(6, 3, (0..18).map(|v| (v * v % 7) as f32).collect()).unwrap();
        let pca = Pca::params()
            .n_components(2)
            .check()
            .unwrap()
            .fit(x.view())
            .unwrap();
        let key = Path::from("models/p/pca.safetensors");
        let mut tensors = pca.to_tensors();
        tensors.set_meta("note", "kept");
        put(&store, &key, tensors.clone()).await.unwrap();
        let back = get(&store, &key).await.unwrap();
        assert_eq!(back, tensors);
        let loaded: faasml_ml::pca::PcaModel = load(&store, &key).await.unwrap();
        assert_eq!(loaded.mean(), pca.mean());

        let mut file = ArrayFile::new();
        file.insert_u16("odd", vec![1], vec![7]).unwrap();
        store.put_arrays(&key, &file).await.unwrap();
        let err = get(&store, &key).await.unwrap_err().to_string();
        assert!(
            err.contains("models/p/pca.safetensors") && err.contains("'odd'"),
            "{err}"
        );
        store.put(&key, b"junk".to_vec()).await.unwrap();
        let err = load::<faasml_ml::pca::PcaModel>(&store, &key)
            .await
            .unwrap_err();
        assert!(err.to_string().contains("corrupt"), "{err}");
    }
}
