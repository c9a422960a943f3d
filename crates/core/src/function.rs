//! Function names with their input and output types, and the registry of handlers.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use futures::future::BoxFuture;
use serde::Serialize;
use serde::de::DeserializeOwned;

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

/// Adapts a typed `async fn(I, Ctx) -> Result<O, FunctionError>` to a [`Handler`].
struct TypedHandler<I, O, F> {
    f: F,
    _types: PhantomData<fn(I) -> O>,
}

impl<I, O, F, Fut> Handler for TypedHandler<I, O, F>
where
    I: DeserializeOwned + Send + 'static,
    O: Serialize + Send + 'static,
    F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, FunctionError>> + Send + 'static,
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
            let output = fut.await?;
            serde_json::to_vec(&output).map(Bytes::from).map_err(|e| {
                FunctionError::permanent("bad-output", format!("cannot encode the output: {e}"))
            })
        })
    }
}

/// The functions a platform can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    handlers: BTreeMap<&'static str, Arc<dyn Handler>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `handler` as the implementation of `function`, replacing any previous one.
    pub fn register<I, O, F, Fut>(&mut self, function: FunctionRef<I, O>, handler: F) -> &mut Self
    where
        I: DeserializeOwned + Send + 'static,
        O: Serialize + Send + 'static,
        F: Fn(I, Ctx) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<O, FunctionError>> + Send + 'static,
    {
        let typed = TypedHandler {
            f: handler,
            _types: PhantomData,
        };
        self.handlers.insert(function.name(), Arc::new(typed));
        self
    }

    /// The handler registered under `name`.
    pub fn get(&self, name: &str) -> Option<&Arc<dyn Handler>> {
        self.handlers.get(name)
    }

    /// The registered names, sorted.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.handlers.keys().copied()
    }

    /// The registered names as one comma-separated string, for messages.
    pub fn names_joined(&self) -> String {
        self.names().collect::<Vec<_>>().join(", ")
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
