//! Object-store access for faasml: one [`Store`] handle over `file://`, `memory://` and `s3://`
//! URLs (AWS S3 or any S3-compatible server, configured by [`S3Options`] from the `AWS_*`
//! environment), byte counting, and the binary formats faasml keeps in a store.
//!
//! The key design decision is to build on the `object_store` crate's [`ObjectStore`] trait
//! instead of a home-made one: every backend, and every decorator faasml adds (such as
//! [`CountingStore`], which measures the bytes an invocation moves), implements that one trait, so
//! a new backend is a configuration, not a rewrite.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use faasml_store::{ArrayFile, Path, Store};
//! let store = Store::open("memory://doc-example").unwrap();
//! let mut arrays = ArrayFile::new();
//! arrays.insert_f32("x", vec![2, 2], vec![1.0, 2.0, 3.0, 4.0]).unwrap();
//! store.put_arrays(&Path::from("data/x.safetensors"), &arrays).await.unwrap();
//! let back = store.get_arrays(&Path::from("data/x.safetensors")).await.unwrap();
//! assert_eq!(back.f32("x").unwrap().1, &[1.0, 2.0, 3.0, 4.0]);
//! # });
//! ```

pub mod access;
mod arrays;
mod builder;
mod counting;
mod error;
mod s3;
pub mod serde_path;
mod store;
mod url;

pub use access::{Access, LazyPrefixes, Rules};
pub use arrays::{ArrayData, ArrayFile, ArrayRef, DecodeError, Dtype, NamedArray};
pub use builder::StoreBuilder;
pub use counting::{ByteCounter, CountingStore};
pub use error::StoreError;
pub use object_store::path::Path;
pub use object_store::{ObjectMeta, ObjectStore};
pub use s3::{S3Options, ensure_crypto_provider};
pub use store::Store;
pub use url::StoreUrl;

/// Result type of this crate.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;
