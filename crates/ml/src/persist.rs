//! Models as plain named tensors plus string metadata ([`ModelTensors`]),
//! and the [`Persist`] trait every model implements.
//!
//! This is the whole storage contract of the crate, and it does no IO: a
//! store maps a [`ModelTensors`] to its file format once (the workflows
//! use safetensors, whose header holds the metadata) and back. A model's
//! `meta["kind"]` names it (the same string as its [`crate::Algorithm`]
//! name), so [`crate::Algorithm::load`] can rebuild any model.
//!
//! Loading trusts nothing: [`Tensor::new`] checks that the shape's product
//! (computed with `checked_mul`) equals the data length, and every
//! [`Persist::from_tensors`] checks names, dtypes, shapes and values and
//! returns [`MlError::CorruptModel`] — never a panic, and never an
//! allocation sized from a stored number that was not checked against
//! data actually present.
//!
//! Models nest: [`ModelTensors::insert_nested`] stores another model under
//! a prefix (`m0.pca.mean`, `m0.forest.values`, meta `m0.pca.kind`, ...)
//! and [`ModelTensors::nested`] takes it back out.

use std::collections::{BTreeMap, BTreeSet};

use crate::{MlError, Result};

/// The element data of a tensor.
#[derive(Debug, Clone, PartialEq)]
pub enum TensorData {
    /// 32-bit floats.
    F32(Vec<f32>),
    /// 32-bit unsigned integers.
    U32(Vec<u32>),
    /// Bytes.
    U8(Vec<u8>),
}

impl TensorData {
    /// Number of elements.
    pub fn len(&self) -> usize {
        match self {
            TensorData::F32(v) => v.len(),
            TensorData::U32(v) => v.len(),
            TensorData::U8(v) => v.len(),
        }
    }

    /// Whether there are no elements.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The dtype's name: `"f32"`, `"u32"` or `"u8"`.
    pub fn dtype(&self) -> &'static str {
        match self {
            TensorData::F32(_) => "f32",
            TensorData::U32(_) => "u32",
            TensorData::U8(_) => "u8",
        }
    }
}

/// A dense row-major tensor whose shape always matches its data length.
#[derive(Debug, Clone, PartialEq)]
pub struct Tensor {
    shape: Vec<usize>,
    data: TensorData,
}

/// The product of `shape`, or `None` on overflow.
fn shape_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |acc, &d| acc.checked_mul(d))
}

impl Tensor {
    /// A tensor of `shape` over `data`; [`MlError::CorruptModel`] unless the
    /// product of the shape (without overflow) is the data length.
    pub fn new(shape: Vec<usize>, data: TensorData) -> Result<Self> {
        match shape_len(&shape) {
            Some(n) if n == data.len() => Ok(Self { shape, data }),
            _ => Err(MlError::CorruptModel(format!(
                "tensor shape {shape:?} does not match its {} {} elements",
                data.len(),
                data.dtype()
            ))),
        }
    }

    /// A one-dimensional `f32` tensor.
    pub fn f32_vector(data: Vec<f32>) -> Self {
        Self {
            shape: vec![data.len()],
            data: TensorData::F32(data),
        }
    }

    /// A one-dimensional `u32` tensor.
    pub fn u32_vector(data: Vec<u32>) -> Self {
        Self {
            shape: vec![data.len()],
            data: TensorData::U32(data),
        }
    }

    /// A one-dimensional `u8` tensor.
    pub fn u8_vector(data: Vec<u8>) -> Self {
        Self {
            shape: vec![data.len()],
            data: TensorData::U8(data),
        }
    }

    /// An `f32` tensor of a shape that matches its data by construction;
    /// should it not, the data is stored one-dimensional, which loading
    /// then rejects as a wrong shape.
    pub(crate) fn f32_shaped(shape: Vec<usize>, data: Vec<f32>) -> Self {
        if shape_len(&shape) == Some(data.len()) {
            Self {
                shape,
                data: TensorData::F32(data),
            }
        } else {
            Self::f32_vector(data)
        }
    }

    /// The shape (row-major).
    pub fn shape(&self) -> &[usize] {
        &self.shape
    }

    /// The elements.
    pub fn data(&self) -> &TensorData {
        &self.data
    }

    /// The shape and the elements.
    pub fn into_parts(self) -> (Vec<usize>, TensorData) {
        (self.shape, self.data)
    }
}

/// A model as named tensors and string metadata.
///
/// Names are free-form; nested models use `prefix.name` (see
/// [`Self::insert_nested`]). `meta["kind"]` names the model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelTensors {
    /// String metadata (`kind`, and whatever a model needs besides numbers).
    pub meta: BTreeMap<String, String>,
    /// The tensors by name.
    pub tensors: BTreeMap<String, Tensor>,
}

/// The metadata key naming a model's kind.
pub const KIND_KEY: &str = "kind";

fn corrupt<T>(msg: String) -> Result<T> {
    Err(MlError::CorruptModel(msg))
}

impl ModelTensors {
    /// An empty model of kind `kind`.
    pub fn new(kind: &str) -> Self {
        let mut t = Self::default();
        t.meta.insert(KIND_KEY.into(), kind.into());
        t
    }

    /// The stored kind, if any.
    pub fn kind(&self) -> Option<&str> {
        self.meta.get(KIND_KEY).map(String::as_str)
    }

    /// Checks that the stored kind is `expected`. A missing kind is
    /// accepted (the caller asked for a specific type; models written
    /// before kinds existed have none); a different one is
    /// [`MlError::CorruptModel`].
    pub fn check_kind(&self, expected: &str) -> Result<()> {
        match self.kind() {
            None => Ok(()),
            Some(k) if k == expected => Ok(()),
            Some(k) => corrupt(format!("model kind is `{k}`, expected `{expected}`")),
        }
    }

    /// Adds (or replaces) a tensor.
    pub fn insert(&mut self, name: impl Into<String>, tensor: Tensor) {
        self.tensors.insert(name.into(), tensor);
    }

    /// Adds an `f32` tensor whose shape matches its data by construction.
    pub(crate) fn insert_checked(&mut self, name: &str, shape: Vec<usize>, data: Vec<f32>) {
        self.insert(name, Tensor::f32_shaped(shape, data));
    }

    /// Sets a metadata entry.
    pub fn set_meta(&mut self, key: impl Into<String>, value: impl Into<String>) {
        self.meta.insert(key.into(), value.into());
    }

    /// A metadata entry, or [`MlError::CorruptModel`] naming the missing key.
    pub fn meta_str(&self, key: &str) -> Result<&str> {
        match self.meta.get(key) {
            Some(v) => Ok(v),
            None => corrupt(format!("missing metadata `{key}`")),
        }
    }

    /// A tensor, or [`MlError::CorruptModel`] naming the missing one.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        match self.tensors.get(name) {
            Some(t) => Ok(t),
            None => corrupt(format!("missing tensor `{name}`")),
        }
    }

    /// Shape and data of an `f32` tensor of any shape.
    pub fn f32_tensor(&self, name: &str) -> Result<(&[usize], &[f32])> {
        let t = self.get(name)?;
        match &t.data {
            TensorData::F32(v) => Ok((&t.shape, v)),
            other => corrupt(format!(
                "tensor `{name}` is {}, expected f32",
                other.dtype()
            )),
        }
    }

    /// Shape and data of a `u32` tensor of any shape.
    pub fn u32_tensor(&self, name: &str) -> Result<(&[usize], &[u32])> {
        let t = self.get(name)?;
        match &t.data {
            TensorData::U32(v) => Ok((&t.shape, v)),
            other => corrupt(format!(
                "tensor `{name}` is {}, expected u32",
                other.dtype()
            )),
        }
    }

    /// Shape and data of a `u8` tensor of any shape.
    pub fn u8_tensor(&self, name: &str) -> Result<(&[usize], &[u8])> {
        let t = self.get(name)?;
        match &t.data {
            TensorData::U8(v) => Ok((&t.shape, v)),
            other => corrupt(format!("tensor `{name}` is {}, expected u8", other.dtype())),
        }
    }

    /// The data of a one-dimensional `f32` tensor.
    pub fn f32_vec(&self, name: &str) -> Result<&[f32]> {
        let (shape, v) = self.f32_tensor(name)?;
        check_rank(name, shape, 1)?;
        Ok(v)
    }

    /// The data of a one-dimensional `u32` tensor.
    pub fn u32_vec(&self, name: &str) -> Result<&[u32]> {
        let (shape, v) = self.u32_tensor(name)?;
        check_rank(name, shape, 1)?;
        Ok(v)
    }

    /// The data of an `f32` tensor of exactly `shape`.
    pub fn f32_shaped(&self, name: &str, shape: &[usize]) -> Result<&[f32]> {
        let (s, v) = self.f32_tensor(name)?;
        check_shape(name, s, shape)?;
        Ok(v)
    }

    /// The data of a `u32` tensor of exactly `shape`.
    pub fn u32_shaped(&self, name: &str, shape: &[usize]) -> Result<&[u32]> {
        let (s, v) = self.u32_tensor(name)?;
        check_shape(name, s, shape)?;
        Ok(v)
    }

    /// A one-dimensional `u32` tensor of exactly `N` elements, as an array.
    pub fn u32_array<const N: usize>(&self, name: &str) -> Result<[u32; N]> {
        let v = self.u32_shaped(name, &[N])?;
        let mut out = [0u32; N];
        out.copy_from_slice(v);
        Ok(out)
    }

    /// A one-element `f32` tensor's value.
    pub fn f32_scalar(&self, name: &str) -> Result<f32> {
        Ok(self.f32_shaped(name, &[1])?[0])
    }

    /// Stores `other` under `prefix`: its tensor `x` becomes `prefix.x` and
    /// its metadata key `k` becomes `prefix.k`.
    pub fn insert_nested(&mut self, prefix: &str, other: ModelTensors) {
        for (k, v) in other.meta {
            self.meta.insert(format!("{prefix}.{k}"), v);
        }
        for (k, v) in other.tensors {
            self.tensors.insert(format!("{prefix}.{k}"), v);
        }
    }

    /// The model stored under `prefix` by [`Self::insert_nested`] (copied
    /// out, prefix removed); empty if there is none.
    pub fn nested(&self, prefix: &str) -> ModelTensors {
        let p = format!("{prefix}.");
        let strip = |k: &String| k.strip_prefix(&p).map(str::to_string);
        ModelTensors {
            meta: self
                .meta
                .iter()
                .filter_map(|(k, v)| Some((strip(k)?, v.clone())))
                .collect(),
            tensors: self
                .tensors
                .iter()
                .filter_map(|(k, v)| Some((strip(k)?, v.clone())))
                .collect(),
        }
    }

    /// The first name segments that have something nested under them
    /// (`m0`, `m1` for `m0.pca.mean`, `m1.forest.values`), sorted.
    pub fn nested_prefixes(&self) -> BTreeSet<String> {
        self.meta
            .keys()
            .chain(self.tensors.keys())
            .filter_map(|k| k.split_once('.').map(|(p, _)| p.to_string()))
            .collect()
    }
}

fn check_rank(name: &str, shape: &[usize], rank: usize) -> Result<()> {
    if shape.len() != rank {
        return corrupt(format!(
            "tensor `{name}` has shape {shape:?}, expected {rank} dimension(s)"
        ));
    }
    Ok(())
}

fn check_shape(name: &str, got: &[usize], want: &[usize]) -> Result<()> {
    if got != want {
        return corrupt(format!(
            "tensor `{name}` has shape {got:?}, expected {want:?}"
        ));
    }
    Ok(())
}

/// A model that can be taken apart into [`ModelTensors`] and rebuilt.
///
/// `from_tensors(&m.to_tensors())` gives back a model that predicts
/// exactly as `m` does.
pub trait Persist: Sized {
    /// The model's kind, stored as `meta["kind"]` (the [`crate::Algorithm`] name).
    const KIND: &'static str;

    /// The model as tensors and metadata, `meta["kind"] = KIND` included.
    fn to_tensors(&self) -> ModelTensors;

    /// Rebuilds a model, validating everything; a wrong kind, a missing or
    /// mis-shaped tensor or an inconsistent value is
    /// [`MlError::CorruptModel`].
    fn from_tensors(t: &ModelTensors) -> Result<Self>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tensor_shape_must_match_data() {
        assert!(Tensor::new(vec![2, 3], TensorData::F32(vec![0.0; 6])).is_ok());
        assert!(matches!(
            Tensor::new(vec![2, 3], TensorData::U32(vec![0; 5])),
            Err(MlError::CorruptModel(_))
        ));
        // An overflowing shape product is rejected, not wrapped.
        assert!(matches!(
            Tensor::new(vec![usize::MAX, 2], TensorData::U8(vec![])),
            Err(MlError::CorruptModel(_))
        ));
        assert_eq!(
            Tensor::new(vec![], TensorData::U8(vec![7]))
                .unwrap()
                .shape(),
            &[] as &[usize]
        );
    }

    #[test]
    fn typed_getters_check_dtype_and_shape() {
        let mut t = ModelTensors::new("x");
        t.insert("a", Tensor::f32_vector(vec![1.0, 2.0]));
        t.insert("b", Tensor::u32_vector(vec![3, 4]));
        assert_eq!(t.f32_vec("a").unwrap(), &[1.0, 2.0]);
        assert_eq!(t.u32_array::<2>("b").unwrap(), [3, 4]);
        assert!(matches!(t.u32_vec("a"), Err(MlError::CorruptModel(_))));
        assert!(matches!(
            t.f32_shaped("a", &[1, 2]),
            Err(MlError::CorruptModel(_))
        ));
        assert!(matches!(
            t.u32_array::<3>("b"),
            Err(MlError::CorruptModel(_))
        ));
        assert!(matches!(t.get("c"), Err(MlError::CorruptModel(_))));
        assert!(t.check_kind("x").is_ok());
        assert!(t.check_kind("y").is_err());
        assert!(ModelTensors::default().check_kind("y").is_ok());
    }

    #[test]
    fn nesting_round_trips() {
        let mut inner = ModelTensors::new("pca");
        inner.insert("mean", Tensor::f32_vector(vec![0.5]));
        let mut outer = ModelTensors::new("ensemble");
        outer.insert_nested("m0.pca", inner.clone());
        outer.insert_nested("m1.pca", inner.clone());
        assert!(outer.tensors.contains_key("m0.pca.mean"));
        assert_eq!(outer.meta["m1.pca.kind"], "pca");
        assert_eq!(outer.nested("m0.pca"), inner);
        assert_eq!(outer.nested("m0").nested("pca"), inner);
        assert_eq!(outer.nested("m2"), ModelTensors::default());
        let prefixes: Vec<String> = outer.nested_prefixes().into_iter().collect();
        assert_eq!(prefixes, ["m0", "m1"]);
    }
}
