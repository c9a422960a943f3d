//! Named arrays with string metadata, stored as safetensors: the format faasml uses for every
//! array and model it keeps in a store.
//!
//! safetensors is a standard, zero-copy-friendly layout (a JSON header, then the raw
//! little-endian tensors, 8-byte aligned) that Python, Rust and C++ tooling read directly.

use std::collections::{BTreeMap, HashMap};

use safetensors::SafeTensors;
pub use safetensors::tensor::Dtype;
use safetensors::tensor::TensorView;

use crate::{Result, StoreError};

/// An array's element type, shape and raw little-endian bytes.
#[derive(Debug, Clone, PartialEq)]
struct RawArray {
    dtype: Dtype,
    shape: Vec<usize>,
    bytes: Vec<u8>,
}

/// A borrowed array: shape and elements.
pub type ArrayRef<'a, T> = (&'a [usize], &'a [T]);

/// A set of named arrays with string metadata, encoded as one safetensors file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ArrayFile {
    metadata: BTreeMap<String, String>,
    arrays: BTreeMap<String, RawArray>,
    /// Decoded element copies, so typed accessors can hand out aligned slices.
    f32s: BTreeMap<String, Vec<f32>>,
    u16s: BTreeMap<String, Vec<u16>>,
    u32s: BTreeMap<String, Vec<u32>>,
}

/// The elements of one array, owned (see [`ArrayFile::into_arrays`]).
#[derive(Debug, Clone, PartialEq)]
pub enum ArrayData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// Bytes.
    U8(Vec<u8>),
    /// 16-bit unsigned integers.
    U16(Vec<u16>),
    /// 32-bit unsigned integers.
    U32(Vec<u32>),
}

/// An array moved out of an [`ArrayFile`]: its name, shape and elements.
pub type NamedArray = (String, Vec<usize>, ArrayData);

/// Why bytes are not an [`ArrayFile`] (the store turns it into [`StoreError::Corrupt`], naming
/// the object).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct DecodeError(pub(crate) String);

impl ArrayFile {
    /// An empty file.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets a metadata entry.
    pub fn set_meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.metadata.insert(key.into(), value.into());
    }

    /// A metadata entry, if present.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// All metadata entries.
    pub fn metadata(&self) -> &BTreeMap<String, String> {
        &self.metadata
    }

    /// Names of the arrays, sorted.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.arrays.keys().map(String::as_str)
    }

    /// The metadata and every array with its shape and elements, moved out (no copy of the
    /// elements: large models are converted without doubling their memory).
    pub fn into_arrays(self) -> (BTreeMap<String, String>, Vec<NamedArray>) {
        let Self {
            metadata,
            arrays,
            mut f32s,
            mut u16s,
            mut u32s,
        } = self;
        let arrays = arrays
            .into_iter()
            .map(|(name, raw)| {
                let data = match raw.dtype {
                    Dtype::F32 => ArrayData::F32(f32s.remove(&name).unwrap_or_default()),
                    Dtype::U16 => ArrayData::U16(u16s.remove(&name).unwrap_or_default()),
                    Dtype::U32 => ArrayData::U32(u32s.remove(&name).unwrap_or_default()),
                    _ => ArrayData::U8(raw.bytes),
                };
                (name, raw.shape, data)
            })
            .collect();
        (metadata, arrays)
    }

    /// The element type of array `name`, if there is one.
    pub fn dtype(&self, name: &str) -> Option<Dtype> {
        self.arrays.get(name).map(|raw| raw.dtype)
    }

    /// Adds an f32 array of the given shape.
    pub fn insert_f32(&mut self, name: &str, shape: Vec<usize>, data: Vec<f32>) -> Result<()> {
        check_len(name, &shape, data.len())?;
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.put_raw(name, Dtype::F32, shape, bytes);
        self.f32s.insert(name.to_string(), data);
        Ok(())
    }

    /// Adds a u8 array of the given shape.
    pub fn insert_u8(&mut self, name: &str, shape: Vec<usize>, data: Vec<u8>) -> Result<()> {
        check_len(name, &shape, data.len())?;
        self.put_raw(name, Dtype::U8, shape, data);
        Ok(())
    }

    /// Adds a u16 array of the given shape.
    pub fn insert_u16(&mut self, name: &str, shape: Vec<usize>, data: Vec<u16>) -> Result<()> {
        check_len(name, &shape, data.len())?;
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.put_raw(name, Dtype::U16, shape, bytes);
        self.u16s.insert(name.to_string(), data);
        Ok(())
    }

    /// Adds a u32 array of the given shape.
    pub fn insert_u32(&mut self, name: &str, shape: Vec<usize>, data: Vec<u32>) -> Result<()> {
        check_len(name, &shape, data.len())?;
        let bytes = data.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.put_raw(name, Dtype::U32, shape, bytes);
        self.u32s.insert(name.to_string(), data);
        Ok(())
    }

    fn put_raw(&mut self, name: &str, dtype: Dtype, shape: Vec<usize>, bytes: Vec<u8>) {
        self.arrays.insert(
            name.to_string(),
            RawArray {
                dtype,
                shape,
                bytes,
            },
        );
    }

    fn raw(&self, name: &str, dtype: Dtype) -> std::result::Result<&RawArray, String> {
        let raw = self
            .arrays
            .get(name)
            .ok_or_else(|| format!("array '{name}' is missing"))?;
        if raw.dtype != dtype {
            return Err(format!(
                "array '{name}' has type {:?}, expected {dtype:?}",
                raw.dtype
            ));
        }
        Ok(raw)
    }

    /// The f32 array `name`; an error string says what is missing or mistyped.
    pub fn f32(&self, name: &str) -> std::result::Result<ArrayRef<'_, f32>, String> {
        let raw = self.raw(name, Dtype::F32)?;
        let data = self.f32s.get(name).ok_or("internal: f32 cache")?;
        Ok((&raw.shape, data))
    }

    /// The u8 array `name`.
    pub fn u8(&self, name: &str) -> std::result::Result<ArrayRef<'_, u8>, String> {
        let raw = self.raw(name, Dtype::U8)?;
        Ok((&raw.shape, &raw.bytes))
    }

    /// The u16 array `name`.
    pub fn u16(&self, name: &str) -> std::result::Result<ArrayRef<'_, u16>, String> {
        let raw = self.raw(name, Dtype::U16)?;
        let data = self.u16s.get(name).ok_or("internal: u16 cache")?;
        Ok((&raw.shape, data))
    }

    /// The u32 array `name`.
    pub fn u32(&self, name: &str) -> std::result::Result<ArrayRef<'_, u32>, String> {
        let raw = self.raw(name, Dtype::U32)?;
        let data = self.u32s.get(name).ok_or("internal: u32 cache")?;
        Ok((&raw.shape, data))
    }

    /// Encodes the arrays and metadata as safetensors bytes.
    pub fn encode(&self) -> Result<Vec<u8>> {
        let views = self
            .arrays
            .iter()
            .map(|(name, raw)| {
                TensorView::new(raw.dtype, raw.shape.clone(), &raw.bytes)
                    .map(|view| (name.clone(), view))
                    .map_err(|e| StoreError::Encode(format!("array '{name}': {e}")))
            })
            .collect::<Result<Vec<_>>>()?;
        let metadata: HashMap<String, String> = self
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        let metadata = (!metadata.is_empty()).then_some(metadata);
        safetensors::serialize(views, metadata).map_err(|e| StoreError::Encode(e.to_string()))
    }

    /// Decodes safetensors bytes; every array's length is checked against its shape.
    ///
    /// The safetensors crate checks the header length against the bytes present and every
    /// array's byte range against its shape and the data section before anything is copied,
    /// so each allocation here is at most the size of `bytes`.
    pub fn decode(bytes: &[u8]) -> std::result::Result<Self, DecodeError> {
        let tensors = SafeTensors::deserialize(bytes)
            .map_err(|e| DecodeError(format!("not a valid safetensors file: {e}")))?;
        let (_, header) = SafeTensors::read_metadata(bytes)
            .map_err(|e| DecodeError(format!("bad safetensors header: {e}")))?;
        let mut file = Self::new();
        if let Some(meta) = header.metadata() {
            file.metadata = meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
        }
        for (name, view) in tensors.iter() {
            let shape = view.shape().to_vec();
            let data = view.data();
            match view.dtype() {
                Dtype::F32 => {
                    let values = data
                        .chunks_exact(4)
                        .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    file.f32s.insert(name.to_string(), values);
                }
                Dtype::U16 => {
                    let values = data
                        .chunks_exact(2)
                        .map(|c| u16::from_le_bytes([c[0], c[1]]))
                        .collect();
                    file.u16s.insert(name.to_string(), values);
                }
                Dtype::U32 => {
                    let values = data
                        .chunks_exact(4)
                        .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                        .collect();
                    file.u32s.insert(name.to_string(), values);
                }
                Dtype::U8 => {}
                other => {
                    return Err(DecodeError(format!(
                        "array '{name}' has unsupported type {other:?}"
                    )));
                }
            }
            file.put_raw(name, view.dtype(), shape, data.to_vec());
        }
        Ok(file)
    }
}

fn check_len(name: &str, shape: &[usize], len: usize) -> Result<()> {
    let expected: usize = shape.iter().product();
    if expected != len {
        return Err(StoreError::Encode(format!(
            "array '{name}' has {len} elements but shape {shape:?} needs {expected}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ArrayFile {
        let mut file = ArrayFile::new();
        file.set_meta("format", "test");
        file.insert_f32("x", vec![2, 3], vec![1.0, -2.0, 3.5, 0.0, 1e-9, 7.0])
            .unwrap();
        file.insert_u8("labels", vec![2], vec![3, 9]).unwrap();
        file.insert_u16("feature", vec![1], vec![65535]).unwrap();
        file.insert_u32("left", vec![3], vec![1, 2, 4_000_000_000])
            .unwrap();
        file
    }

    #[test]
    fn round_trips_every_type_and_the_metadata() {
        let file = sample();
        let bytes = file.encode().unwrap();
        let back = ArrayFile::decode(&bytes).unwrap();
        assert_eq!(back, file);
        assert_eq!(back.meta("format"), Some("test"));
        assert_eq!(back.f32("x").unwrap().0, &[2, 3]);
    }

    #[test]
    fn rejects_a_shape_that_does_not_match_the_data() {
        let mut file = ArrayFile::new();
        assert!(file.insert_f32("x", vec![2, 2], vec![1.0]).is_err());
    }

    #[test]
    fn truncated_or_garbage_bytes_are_an_error_not_a_panic() {
        let bytes = sample().encode().unwrap();
        for cut in [0, 1, 7, 8, 20, bytes.len() / 2, bytes.len() - 1] {
            assert!(ArrayFile::decode(&bytes[..cut]).is_err(), "cut at {cut}");
        }
        assert!(ArrayFile::decode(b"definitely not safetensors").is_err());
    }

    #[test]
    fn typed_access_names_the_problem() {
        let file = sample();
        assert!(file.f32("nope").unwrap_err().contains("missing"));
        assert!(file.f32("labels").unwrap_err().contains("type"));
    }
}
