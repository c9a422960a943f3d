//! Function names with their input and output types, the registry of handlers, and the
//! deployment spec each registered function carries.

use std::collections::{BTreeMap, btree_map};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::confine::StoreAccess;
use crate::context::Ctx;
use crate::error::FunctionError;

/// A function's name, typed with its input `I` and output `O`.
///
/// Declared once as a `const` next to the handler, it is how callers invoke the function
/// ([`Ctx::invoke`], [`Ctx::map`]) and how the handler is registered, so the types of the two
/// sides cannot drift apart.
pub struct FunctionRef<I, O> {
    name: &'static str,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O> FunctionRef<I, O> {
    /// A reference to the function registered under `name`.
    pub const fn new(name: &'static str) -> Self {
        Self {
            name,
            _types: PhantomData,
        }
    }

    /// The function's name.
    pub const fn name(&self) -> &'static str {
        self.name
    }
}

impl<I, O> Clone for FunctionRef<I, O> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<I, O> Copy for FunctionRef<I, O> {}

impl<I, O> fmt::Debug for FunctionRef<I, O> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FunctionRef({})", self.name)
    }
}

/// The DNS-1123 form of a function name: lowercase, and every character other than `[a-z0-9-]`
/// (such as the `.` of `ml-training.pca`) replaced by `-`.
///
/// It names a function's Knative Service and replaces `{function}` in gateway templates, so the
/// manifests and the `http` platform agree by construction.
pub fn dns_name(function: &str) -> String {
    function
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '-' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '-',
        })
        .collect()
}

/// A type-erased function: JSON input bytes in, JSON output bytes out.
pub trait Handler: Send + Sync {
    /// Runs the function on a JSON payload.
    fn call(&self, payload: Bytes, ctx: Ctx) -> BoxFuture<'static, Result<Bytes, FunctionError>>;
}

/// Adapts a typed `async fn(I, Ctx) -> Result<O, E>` to a [`Handler`], converting `E` into a
/// [`FunctionError`] (which keeps its retryable/permanent verdict).
struct TypedHandler<I, O, E, F> {
    f: F,
    _types: PhantomData<fn(I) -> Result<O, E>>,
}

impl<I, O, E, F, Fut> Handler for TypedHandler<I, O, E, F>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    E: Into<FunctionError> + 'static,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, E>> + Send + 'static,
{
    fn call(&self, payload: Bytes, ctx: Ctx) -> BoxFuture<'static, Result<Bytes, FunctionError>> {
        let input: I = match serde_json::from_slice(&payload) {
            Ok(input) => input,
            Err(e) => {
                let err = FunctionError::permanent(
                    "bad-input",
                    format!("cannot parse the input of '{}': {e}", ctx.function()),
                );
                return Box::pin(async move { Err(err) });
            }
        };
        let fut = (self.f)(input, ctx);
        Box::pin(async move {
            let output = fut.await.map_err(Into::into)?;
            serde_json::to_vec(&output).map(Bytes::from).map_err(|e| {
                FunctionError::permanent("bad-output", format!("cannot encode the output: {e}"))
            })
        })
    }
}

/// How a function is deployed: what a platform or a manifest needs to know besides its code.
///
/// Every registered function has one ([`Registry::register`] returns it to be refined), so that
/// `deploy` and the benchmarks read timeouts and memory sizes from the workflows themselves
/// instead of a hard-coded list of names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSpec {
    /// The function's name.
    pub name: &'static str,
    /// Whether it is a workflow's driver (reachable from outside; runs as long as its run).
    pub driver: bool,
    /// Whether it may run as long as its whole workflow (a driver, a training loop): it gets the
    /// longest request timeout.
    pub long_running: bool,
    /// Memory the function needs, in MiB, if it has a requirement (a platform default otherwise).
    pub memory_mb: Option<u32>,
    /// Request timeout in seconds, if the function needs a specific one.
    pub timeout_s: Option<u32>,
    /// What it may touch in the store besides its run's scratch (see [`crate::confine`]).
    pub store_access: StoreAccess,
}

impl FunctionSpec {
    /// The spec of an ordinary stage: short-running, platform defaults.
    pub const fn stage(name: &'static str) -> Self {
        Self {
            name,
            driver: false,
            long_running: false,
            memory_mb: None,
            timeout_s: None,
            store_access: StoreAccess::Stage,
        }
    }

    /// Marks the function as a driver (which is also long-running).
    pub fn driver(&mut self) -> &mut Self {
        self.driver = true;
        self.long_running = true;
        self.store_access = StoreAccess::Driver;
        self
    }

    /// Marks the function as the stage that publishes its run's model (`models/<the run's
    /// declared model>/`) and results (`results/<run id>/`).
    pub fn publishes(&mut self) -> &mut Self {
        self.store_access = StoreAccess::Publisher;
        self
    }

    /// Marks the function as the stage that imports its run's declared datasets into the store.
    pub fn imports(&mut self) -> &mut Self {
        self.store_access = StoreAccess::Importer;
        self
    }

    /// Marks the function as running as long as its whole workflow.
    pub fn long_running(&mut self) -> &mut Self {
        self.long_running = true;
        self
    }

    /// Sets the memory the function needs, in MiB.
    pub fn memory_mb(&mut self, mb: u32) -> &mut Self {
        self.memory_mb = Some(mb);
        self
    }

    /// Sets the function's request timeout, in seconds.
    pub fn timeout_s(&mut self, seconds: u32) -> &mut Self {
        self.timeout_s = Some(seconds);
        self
    }
}

#[derive(Clone)]
struct Entry {
    handler: Arc<dyn Handler>,
    spec: FunctionSpec,
}

/// The functions a platform can run, by name, each with its [`FunctionSpec`].
#[derive(Clone, Default)]
pub struct Registry {
    entries: BTreeMap<&'static str, Entry>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` as the implementation of `function`, replacing any previous one, and
    /// returns its spec (an ordinary stage until refined) for the caller to adjust.
    ///
    /// The handler may return any error that converts into a [`FunctionError`] (a workflow's
    /// own error type keeps its retryable/permanent verdict that way), so `async fn`s register
    /// as they are: `registry.register(PCA, pca::run)`.
    pub fn register<I, O, E, F, Fut>(
        &mut self,
        function: FunctionRef<I, O>,
        handler: F,
    ) -> &mut FunctionSpec
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        E: Into<FunctionError> + 'static,
        F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, E>> + Send + 'static,
    {
        let typed = TypedHandler {
            f: handler,
            _types: PhantomData,
        };
        let entry = Entry {
            handler: Arc::new(typed),
            spec: FunctionSpec::stage(function.name()),
        };
        let slot = match self.entries.entry(function.name()) {
            btree_map::Entry::Occupied(mut occupied) => {
                occupied.insert(entry);
                occupied.into_mut()
            }
            btree_map::Entry::Vacant(vacant) => vacant.insert(entry),
        };
        &mut slot.spec
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Handler>> {
        self.entries.get(name).map(|e| &e.handler)
    }

    /// The spec of the function registered under `name`.
    pub fn spec(&self, name: &str) -> Option<&FunctionSpec> {
        self.entries.get(name).map(|e| &e.spec)
    }

    /// The specs of every registered function, sorted by name.
    pub fn specs(&self) -> impl Iterator<Item = &FunctionSpec> + '_ {
        self.entries.values().map(|e| &e.spec)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.entries.keys().copied()
    }

    /// The registered names as one comma-separated string, for messages.
    pub fn names_joined(&self) -> String {
        self.names().collect::<Vec<_>>().join(", ")
    }

    /// Adds every function of `other`, replacing same-named ones.
    pub fn extend(&mut self, other: Registry) {
        self.entries.extend(other.entries);
    }
}

impl fmt::Debug for Registry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_lowercase_labels() {
        assert_eq!(dns_name("ml-training.pca"), "ml-training-pca");
        assert_eq!(dns_name("ML_Inference.Predict"), "ml-inference-predict");
        assert_eq!(dns_name("faasml.noop"), "faasml-noop");
    }
}
