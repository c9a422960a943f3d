//! The embedded platform: functions run in this process on tokio tasks, at most `concurrency`
//! instances at a time, with instances reused warm across invocations.
//!
//! **Cancellation.** Each function runs on its own tokio task (so that a panic fails one
//! invocation, not its caller), and that task is aborted when the future of
//! [`Platform::invoke`] is dropped: dropping an invocation cancels the function and, through the
//! futures it was awaiting, everything it invoked (its fan-out, retries and backoff sleeps). A
//! detached task would go on running, and retrying, after its caller has gone.
//!
//! **Counts.** [`EmbeddedPlatform::in_flight`] counts the invocations of this platform from their
//! submission until their function has stopped, those queued for a concurrency slot
//! ([`EmbeddedPlatform::queued`]) included; a worker reports them on `/healthz`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};

use async_trait::async_trait;
use faasml_store::{ByteCounter, Store};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

use crate::compute::panic_message;
use crate::context::{Ctx, CtxParts, InstanceState, Slot};
use crate::error::{FunctionError, InvokeError};
use crate::function::Registry;
use crate::invoker::Invoker;
use crate::platform::{Event, InvocationRequest, InvocationResponse, Observer, Platform};
use crate::record::{InvocationRecord, Outcome, ProcessUsage, now_micros};
use faasml_state::{EmbeddedState, StateStore};

/// Settings of the [`EmbeddedPlatform`].
#[derive(Clone)]
pub struct EmbeddedConfig {
    /// Most instances running at once (default: the number of cores).
    pub concurrency: usize,
    /// Whether finished instances are kept warm for later invocations (default: yes).
    pub reuse_instances: bool,
    /// The state store (default: an in-process [`EmbeddedState`]).
    pub state: Arc<dyn StateStore>,
    /// Receives start/finish events, e.g. for a progress display.
    pub observer: Option<Observer>,
    /// Where the invocations made by functions go (default: this platform). A worker that
    /// serves functions over HTTP sets it to the gateway, so fan-out reaches every worker.
    pub nested: Option<Arc<dyn Platform>>,
    /// The id of the process this platform runs in, if several run one workflow: instance ids
    /// are then `<instance>@<worker_id>`, unique across workers.
    pub worker_id: Option<String>,
    /// The largest invocation payload accepted, in bytes (default: no limit).
    pub payload_limit: Option<u64>,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        Self {
            concurrency: std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1),
            reuse_instances: true,
            state: Arc::new(EmbeddedState::new()),
            observer: None,
            nested: None,
            worker_id: None,
            payload_limit: None,
        }
    }
}

impl std::fmt::Debug for EmbeddedConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedConfig")
            .field("concurrency", &self.concurrency)
            .field("reuse_instances", &self.reuse_instances)
            .field("state", &self.state.url())
            .finish_non_exhaustive()
    }
}

/// The state store as invocation `function` of run `run_id` sees it: only keys under
/// `runs/<run id>/` (the run id is checked, so the prefix is exactly one run's).
fn confined_state(
    state: &Arc<dyn StateStore>,
    run_id: &str,
    function: &str,
) -> Arc<dyn StateStore> {
    let prefix = crate::confine::concat(&[crate::confine::RUNS, "/", run_id, "/"]);
    let who = crate::confine::concat(&["function '", function, "' of run '", run_id, "'"]);
    match faasml_state::ConfinedState::new(Arc::clone(state), prefix, who.clone()) {
        Ok(confined) => Arc::new(confined),
        // Unreachable with a checked run id (the prefix ends in '/'); a handle that can touch
        // nothing (no key starts with a NUL) is the safe answer all the same.
        Err(_) => match faasml_state::ConfinedState::new(Arc::clone(state), "\0/", who) {
            Ok(nothing) => Arc::new(nothing),
            Err(_) => Arc::clone(state),
        },
    }
}

/// An instance of a function: an id and the state it keeps while warm.
struct Instance {
    id: String,
    state: Arc<InstanceState>,
}

/// Runs functions in-process; the default platform.
pub struct EmbeddedPlatform {
    me: Weak<EmbeddedPlatform>,
    registry: Registry,
    store: Store,
    config: EmbeddedConfig,
    limit: Arc<Semaphore>,
    idle: Mutex<HashMap<String, Vec<Instance>>>,
    started: Mutex<HashMap<String, u64>>,
    in_flight: Arc<AtomicUsize>,
    queued: Arc<AtomicUsize>,
}

/// Counts one invocation in a counter until dropped.
struct Counted(Arc<AtomicUsize>);

impl Counted {
    fn enter(counter: &Arc<AtomicUsize>) -> Self {
        counter.fetch_add(1, Ordering::Relaxed);
        Self(Arc::clone(counter))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A task that is aborted when its handle is dropped, so that it cannot outlive the invocation
/// that awaits it.
struct AbortOnDrop<T>(JoinHandle<T>);

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl std::fmt::Debug for EmbeddedPlatform {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EmbeddedPlatform")
            .field("functions", &self.registry)
            .field("store", &self.store.url())
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl EmbeddedPlatform {
    /// A platform running the functions of `registry` against `store`.
    pub fn new(registry: Registry, store: Store, config: EmbeddedConfig) -> Arc<Self> {
        let permits = config.concurrency.max(1);
        Arc::new_cyclic(|me| Self {
            me: me.clone(),
            registry,
            store,
            limit: Arc::new(Semaphore::new(permits)),
            config,
            idle: Mutex::default(),
            started: Mutex::default(),
            in_flight: Arc::default(),
            queued: Arc::default(),
        })
    }

    /// Invocations submitted to this platform whose function has not stopped yet, queued ones
    /// included; a cancelled invocation leaves the count when its task has been aborted.
    pub fn in_flight(&self) -> usize {
        self.in_flight.load(Ordering::Relaxed)
    }

    /// Invocations waiting for a concurrency slot.
    pub fn queued(&self) -> usize {
        self.queued.load(Ordering::Relaxed)
    }

    /// The store functions see.
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The registered functions.
    pub fn registry(&self) -> &Registry {
        &self.registry
    }

    /// Takes a warm instance of `function`, or starts a new (cold) one.
    fn checkout(&self, function: &str) -> (Instance, bool) {
        if self.config.reuse_instances {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(instance) = idle.get_mut(function).and_then(Vec::pop) {
                return (instance, false);
            }
        }
        let mut started = self.started.lock().unwrap_or_else(|p| p.into_inner());
        let n = started.entry(function.to_string()).or_insert(0);
        *n += 1;
        let short = function.rsplit('.').next().unwrap_or(function);
        let id = match &self.config.worker_id {
            Some(worker) => format!("{short}-{n}@{worker}"),
            None => format!("{short}-{n}"),
        };
        let instance = Instance {
            id,
            state: Arc::default(),
        };
        (instance, true)
    }

    fn checkin(&self, function: &str, instance: Instance) {
        if self.config.reuse_instances {
            let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
            idle.entry(function.to_string()).or_default().push(instance);
        }
    }

    fn notify(&self, event: &Event<'_>) {
        if let Some(observer) = &self.config.observer {
            observer(event);
        }
    }
}

#[async_trait]
impl Platform for EmbeddedPlatform {
    fn name(&self) -> &str {
        "embedded"
    }

    fn payload_limit(&self) -> Option<u64> {
        self.config.payload_limit
    }

    async fn invoke(&self, request: InvocationRequest) -> Result<InvocationResponse, InvokeError> {
        let handler = self
            .registry
            .get(&request.function)
            .cloned()
            .ok_or_else(|| InvokeError::UnknownFunction {
                function: request.function.clone(),
                known: self.registry.names_joined(),
            })?;
        // The run id names the store prefixes the invocation is confined to: it is checked
        // here, on every platform's path, whatever a transport checked before.
        crate::run_id::check_run_id(&request.run_id).map_err(|e| InvokeError::BadRequest {
            function: request.function.clone(),
            reason: e.to_string(),
        })?;
        let store_access = self
            .registry
            .spec(&request.function)
            .map(|spec| spec.store_access)
            .unwrap_or_default();
        let nested: Arc<dyn Platform> = match &self.config.nested {
            Some(platform) => Arc::clone(platform),
            None => self.me.upgrade().ok_or_else(|| InvokeError::Platform {
                function: request.function.clone(),
                reason: "the embedded platform was shut down".to_string(),
            })?,
        };
        let submit_us = now_micros();
        let counted = Counted::enter(&self.in_flight);
        let queued = Counted::enter(&self.queued);
        let permit =
            Arc::clone(&self.limit)
                .acquire_owned()
                .await
                .map_err(|e| InvokeError::Platform {
                    function: request.function.clone(),
                    reason: e.to_string(),
                })?;
        drop(queued);
        let (instance, cold) = self.checkout(&request.function);
        let counter = Arc::new(ByteCounter::default());
        let ctx = Ctx::from_parts(CtxParts {
            run_id: request.run_id.clone(),
            function: request.function.clone(),
            instance: instance.id.clone(),
            attempt: request.attempt,
            cold,
            store: self.store.counted(Arc::clone(&counter)).confined(
                crate::confine::function_access(
                    &self.store,
                    &request.run_id,
                    &request.function,
                    store_access,
                ),
            ),
            state: confined_state(&self.config.state, &request.run_id, &request.function),
            invoker: Invoker::for_instance(nested, &request.run_id, &instance.id, request.retry),
            slot: Some(Slot::new(Arc::clone(&self.limit), permit)),
            instance_state: Arc::clone(&instance.state),
        });
        self.notify(&Event::Started {
            function: &request.function,
            instance: &instance.id,
        });
        let payload_in = request.payload.len() as u64;
        let usage_before = ProcessUsage::now();
        let start_us = now_micros();
        let call = handler.call(request.payload, ctx.clone());
        // The count moves into the task: it ends when the function really stops, aborted or not.
        let mut task = AbortOnDrop(tokio::spawn(async move {
            let _counted = counted;
            call.await
        }));
        let result = match (&mut task.0).await {
            Ok(result) => result,
            // A panic is a bug in the function or a state it cannot handle; running the same
            // input again panics again, so it is not retried.
            Err(join) if join.is_panic() => Err(FunctionError::permanent(
                "panic",
                format!("function panicked: {}", panic_message(&*join.into_panic())),
            )),
            Err(_) => Err(FunctionError::new(
                "cancelled",
                "the invocation was cancelled",
            )),
        };
        let end_us = now_micros();
        let usage_after = ProcessUsage::now();
        if let Some(slot) = ctx.slot() {
            slot.release();
        }
        let nested = ctx.invoker().take_records();
        drop(ctx);
        let record = InvocationRecord {
            function: request.function.clone(),
            instance: instance.id.clone(),
            parent: request.parent,
            attempt: request.attempt,
            cold,
            task: request.task,
            submit_us,
            start_us,
            end_us,
            bytes_read: counter.read(),
            bytes_written: counter.written(),
            payload_in,
            payload_out: result.as_ref().map(|b| b.len() as u64).unwrap_or(0),
            cpu_us: usage_after.cpu_us.saturating_sub(usage_before.cpu_us),
            peak_rss_bytes: usage_after.peak_rss_bytes,
            outcome: match &result {
                Ok(_) => Outcome::Ok,
                Err(e) => Outcome::Error {
                    error_type: e.error_type.clone(),
                    error_message: e.error_message.clone(),
                },
            },
        };
        // A failed instance is not trusted again, as a crashed container would not be.
        if result.is_ok() {
            self.checkin(&request.function, instance);
        }
        self.notify(&Event::Finished(&record));
        Ok(InvocationResponse {
            result,
            record,
            nested,
        })
    }
}
