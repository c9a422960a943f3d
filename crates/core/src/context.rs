//! The invocation context a function receives: identity, store, state, invoker, instance state.

use std::any::{Any, TypeId};
use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::{Arc, Mutex};

use faasml_store::Store;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::error::{FunctionError, InvokeError};
use crate::function::FunctionRef;
use crate::invoker::Invoker;
use faasml_state::StateStore;

/// Everything a running function can reach.
///
/// Cheap to clone. Invocations made through it ([`Ctx::invoke`], [`Ctx::map`]) release this
/// instance's concurrency slot while they wait, so a driver waiting on its fan-out never holds a
/// slot its children need.
#[derive(Clone)]
pub struct Ctx {
    inner: Arc<CtxInner>,
}

struct CtxInner {
    run_id: String,
    function: String,
    instance: String,
    attempt: u32,
    cold: bool,
    store: Store,
    state: Arc<dyn StateStore>,
    invoker: Invoker,
    slot: Option<Slot>,
    instance_state: Arc<InstanceState>,
}

/// The parts a platform assembles into a [`Ctx`].
pub(crate) struct CtxParts {
    pub(crate) run_id: String,
    pub(crate) function: String,
    pub(crate) instance: String,
    pub(crate) attempt: u32,
    pub(crate) cold: bool,
    pub(crate) store: Store,
    pub(crate) state: Arc<dyn StateStore>,
    pub(crate) invoker: Invoker,
    pub(crate) slot: Option<Slot>,
    pub(crate) instance_state: Arc<InstanceState>,
}

impl Ctx {
    pub(crate) fn from_parts(parts: CtxParts) -> Self {
        let CtxParts {
            run_id,
            function,
            instance,
            attempt,
            cold,
            store,
            state,
            invoker,
            slot,
            instance_state,
        } = parts;
        Self {
            inner: Arc::new(CtxInner {
                run_id,
                function,
                instance,
                attempt,
                cold,
                store,
                state,
                invoker,
                slot,
                instance_state,
            }),
        }
    }

    /// The run this invocation belongs to.
    pub fn run_id(&self) -> &str {
        &self.inner.run_id
    }

    /// The name of the running function.
    pub fn function(&self) -> &str {
        &self.inner.function
    }

    /// The id of the instance running it.
    pub fn instance(&self) -> &str {
        &self.inner.instance
    }

    /// 1 for the first attempt, 2 for the first retry, ...
    pub fn attempt(&self) -> u32 {
        self.inner.attempt
    }

    /// Whether this invocation started a new instance.
    pub fn is_cold(&self) -> bool {
        self.inner.cold
    }

    /// The object store; reads and writes through it are counted in this invocation's record.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// The state store (key-value, counters, f32 vectors).
    pub fn state(&self) -> &Arc<dyn StateStore> {
        &self.inner.state
    }

    /// State kept by this instance across warm invocations (caches, loaded models).
    pub fn instance_state(&self) -> &InstanceState {
        &self.inner.instance_state
    }

    /// The invoker. Not public: functions invoke through [`Ctx::invoke`] and [`Ctx::map`], which
    /// release this instance's concurrency slot while they wait (the no-deadlock invariant).
    ///
    /// ```compile_fail
    /// fn bypass(ctx: &faasml_core::Ctx) {
    ///     let _ = ctx.invoker(); // private: a call through it would keep the slot while waiting
    /// }
    /// ```
    pub(crate) fn invoker(&self) -> &Invoker {
        &self.inner.invoker
    }

    /// Invokes another function and waits for its output.
    pub async fn invoke<I: Serialize, O: DeserializeOwned>(
        &self,
        function: FunctionRef<I, O>,
        input: &I,
    ) -> Result<O, InvokeError> {
        self.suspended(self.inner.invoker.invoke(function, input))
            .await
    }

    /// Whether the invocations this function makes leave its process (a worker whose fan-out goes
    /// to a gateway, Lambda), so that state shared with them must live in a shared state store.
    pub fn fans_out_remotely(&self) -> bool {
        self.inner.invoker.platform().name() != "embedded"
    }

    /// The largest payload an invocation this function makes may carry (`None`: no limit); see
    /// [`Platform::payload_limit`](crate::Platform::payload_limit).
    pub fn payload_limit(&self) -> Option<u64> {
        self.inner.invoker.platform().payload_limit()
    }

    /// Invokes a function once per input concurrently; outputs come back in input order, and
    /// each invocation's record carries its index in `inputs` as its task number.
    pub async fn map<I: Serialize, O: DeserializeOwned>(
        &self,
        function: FunctionRef<I, O>,
        inputs: Vec<I>,
    ) -> Result<Vec<O>, InvokeError> {
        self.suspended(self.inner.invoker.map(function, inputs))
            .await
    }

    /// Runs CPU-heavy `work` on the shared compute pool (see [`crate::compute`]).
    pub async fn compute<T, F>(&self, work: F) -> Result<T, FunctionError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        crate::compute::compute(work).await
    }

    pub(crate) fn slot(&self) -> Option<&Slot> {
        self.inner.slot.as_ref()
    }

    async fn suspended<F: Future>(&self, fut: F) -> F::Output {
        match &self.inner.slot {
            Some(slot) => slot.suspended(fut).await,
            None => fut.await,
        }
    }
}

impl fmt::Debug for Ctx {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Ctx")
            .field("run_id", &self.inner.run_id)
            .field("function", &self.inner.function)
            .field("instance", &self.inner.instance)
            .field("attempt", &self.inner.attempt)
            .finish_non_exhaustive()
    }
}

/// A concurrency slot held by a running instance, released while it waits on other functions.
pub(crate) struct Slot {
    semaphore: Arc<Semaphore>,
    held: Mutex<SlotState>,
}

struct SlotState {
    /// Invocations this instance is currently waiting on.
    waiting: usize,
    permit: Option<OwnedSemaphorePermit>,
    /// The invocation has ended; the slot must not be taken again.
    ended: bool,
}

impl Slot {
    pub(crate) fn new(semaphore: Arc<Semaphore>, permit: OwnedSemaphorePermit) -> Self {
        Self {
            semaphore,
            held: Mutex::new(SlotState {
                waiting: 0,
                permit: Some(permit),
                ended: false,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.held.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Gives the slot back for good (the invocation ended).
    pub(crate) fn release(&self) {
        let mut state = self.lock();
        state.permit = None;
        state.ended = true;
    }

    async fn suspended<F: Future>(&self, fut: F) -> F::Output {
        let released = {
            let mut state = self.lock();
            state.waiting += 1;
            state.permit.take()
        };
        drop(released);
        let output = fut.await;
        let last = {
            let mut state = self.lock();
            state.waiting -= 1;
            state.waiting == 0 && !state.ended
        };
        if last {
            // Take the slot back before running on; a semaphore is never closed here.
            if let Ok(permit) = Arc::clone(&self.semaphore).acquire_owned().await {
                let mut state = self.lock();
                if state.waiting == 0 && state.permit.is_none() && !state.ended {
                    state.permit = Some(permit);
                }
            }
        }
        output
    }
}

/// Values an instance keeps between warm invocations, by type.
#[derive(Default)]
pub struct InstanceState {
    values: Mutex<HashMap<TypeId, Arc<dyn Any + Send + Sync>>>,
}

impl InstanceState {
    /// The value of type `T` this instance keeps, if any.
    pub fn get<T: Any + Send + Sync>(&self) -> Option<Arc<T>> {
        let values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values
            .get(&TypeId::of::<T>())
            .and_then(|v| Arc::clone(v).downcast::<T>().ok())
    }

    /// Keeps `value` for later warm invocations on this instance.
    pub fn insert<T: Any + Send + Sync>(&self, value: Arc<T>) {
        let mut values = self.values.lock().unwrap_or_else(|p| p.into_inner());
        values.insert(TypeId::of::<T>(), value);
    }

    /// The `T` this instance keeps for `key`, or else the one `load` gives, which it then keeps
    /// instead (one `T` per instance: a model, a dataset).
    pub async fn get_or_load<T, E, F, Fut>(&self, key: &str, load: F) -> Result<Arc<T>, E>
    where
        T: Any + Send + Sync,
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        if let Some(kept) = self.get::<Keyed<T>>()
            && kept.key == key
        {
            return Ok(Arc::clone(&kept.value));
        }
        let value = Arc::new(load().await?);
        self.insert(Arc::new(Keyed {
            key: key.to_string(),
            value: Arc::clone(&value),
        }));
        Ok(value)
    }
}

/// A value kept by [`InstanceState::get_or_load`] with the key it was loaded for.
struct Keyed<T> {
    key: String,
    value: Arc<T>,
}

impl fmt::Debug for InstanceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InstanceState").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn get_or_load_keeps_one_value_per_type_and_reloads_for_another_key() {
        let state = InstanceState::default();
        let loads = std::sync::atomic::AtomicUsize::new(0);
        let load = |v: u32| {
            loads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async move { Ok::<_, String>(v) }
        };
        assert_eq!(*state.get_or_load("a", || load(1)).await.unwrap(), 1);
        assert_eq!(
            *state.get_or_load("a", || load(2)).await.unwrap(),
            1,
            "kept"
        );
        assert_eq!(
            *state.get_or_load("b", || load(3)).await.unwrap(),
            3,
            "reloaded"
        );
        assert_eq!(*state.get_or_load("b", || load(4)).await.unwrap(), 3);
        let err = state.get_or_load::<u32, _, _, _>("c", || async { Err("no".to_string()) });
        assert_eq!(err.await.unwrap_err(), "no");
        assert_eq!(
            *state.get_or_load("b", || load(5)).await.unwrap(),
            3,
            "a failed load keeps the old value"
        );
        assert_eq!(loads.load(std::sync::atomic::Ordering::SeqCst), 2);
    }
}
