//! [`StoreBuilder`]: the one way every part of faasml opens a store, object_store style: a URL,
//! the settings of its backend, and decorators layered over the backend.
//!
//! `Store::open` and friends are shorthands for it. A decorator that wraps every store a process
//! opens (encryption, latency injection for experiments, ...) is a type implementing
//! `ObjectStore` around an inner store, plus one builder option that layers it: see
//! [`StoreBuilder::with_layer`].

use std::fmt;
use std::sync::Arc;

use object_store::ObjectStore;

use crate::Result;
use crate::s3::S3Options;
use crate::store::Store;
use crate::url::StoreUrl;

/// A function that wraps a backend in a decorator.
type Layer = Arc<dyn Fn(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> + Send + Sync>;

/// Builds a [`Store`] from a URL (`file://DIR`, a plain directory, `memory://NAME[/PREFIX]`,
/// `s3://BUCKET[/PREFIX]`), backend settings and decorators.
///
/// ```
/// use faasml_store::StoreBuilder;
/// let store = StoreBuilder::new("memory://builder-doc").build().unwrap();
/// assert_eq!(store.url(), "memory://builder-doc");
/// ```
#[derive(Clone)]
pub struct StoreBuilder {
    url: String,
    s3: S3Options,
    layers: Vec<(&'static str, Layer)>,
}

impl fmt::Debug for StoreBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoreBuilder")
            .field("url", &self.url)
            .field("s3", &self.s3)
            .field(
                "layers",
                &self
                    .layers
                    .iter()
                    .map(|(name, _)| *name)
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl StoreBuilder {
    /// A builder for `url` with no S3 settings (an `s3://` URL then needs
    /// [`StoreBuilder::with_s3_options`] or [`StoreBuilder::from_env`]).
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            s3: S3Options::default(),
            layers: Vec::new(),
        }
    }

    /// A builder for `url` whose S3 settings come from the process's `AWS_*` environment.
    pub fn from_env(url: impl Into<String>) -> Self {
        Self::new(url).with_s3_options(S3Options::from_env())
    }

    /// Uses `options` for an `s3://` URL (ignored by other schemes).
    pub fn with_s3_options(mut self, options: S3Options) -> Self {
        self.s3 = options;
        self
    }

    /// Sets one S3 setting by its `AWS_*` name, over what the options hold.
    pub fn with_s3_var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.s3 = self.s3.with_var(name, value);
        self
    }

    /// Wraps the backend in a decorator: `layer` receives the store built so far (the backend,
    /// or the previous layer) and returns the decorated one. `name` appears in `Debug` output.
    /// Layers apply in the order they are added, the first one innermost.
    pub fn with_layer(
        mut self,
        name: &'static str,
        layer: impl Fn(Arc<dyn ObjectStore>) -> Arc<dyn ObjectStore> + Send + Sync + 'static,
    ) -> Self {
        self.layers.push((name, Arc::new(layer)));
        self
    }

    /// The URL this builder opens.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Opens the store. No network IO happens here; [`Store::check`] probes a remote store.
    pub fn build(&self) -> Result<Store> {
        let parsed = StoreUrl::parse(&self.url)?;
        let local_root = match &parsed {
            StoreUrl::File { dir } => crate::store::absolute_dir(dir).ok(),
            _ => None,
        };
        let mut inner = crate::store::backend(&self.url, parsed, &self.s3)?;
        for (_, layer) in &self.layers {
            inner = layer(inner);
        }
        Ok(Store::from_object_store(inner, &self.url).with_local_root(local_root))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::counting::{ByteCounter, CountingStore};
    use object_store::path::Path;

    #[tokio::test]
    async fn layers_wrap_the_backend_in_order() {
        let counter = Arc::new(ByteCounter::default());
        let seen = Arc::clone(&counter);
        let store = StoreBuilder::new("memory://builder-layers")
            .with_layer("count", move |inner| {
                Arc::new(CountingStore::new(inner, Arc::clone(&seen)))
            })
            .build()
            .unwrap();
        store.put(&Path::from("a"), vec![1u8, 2, 3]).await.unwrap();
        assert_eq!(counter.written(), 3);
        assert!(
            format!("{:?}", StoreBuilder::new("x").with_layer("count", |s| s)).contains("count")
        );
    }

    #[test]
    fn bad_urls_and_s3_without_a_bucket_are_errors() {
        let err = StoreBuilder::new("ftp://x").build().unwrap_err();
        assert!(err.to_string().contains("unsupported scheme"), "{err}");
        let err = StoreBuilder::new("s3://").build().unwrap_err();
        assert!(err.to_string().contains("bucket"), "{err}");
    }
}
