//! The error type of the store crate: every variant names the store and the key involved.

/// What went wrong while talking to a store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    /// The store URL could not be understood.
    #[error("invalid store URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given.
        url: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The object does not exist.
    #[error("object '{key}' not found in {store}")]
    NotFound {
        /// The store URL.
        store: String,
        /// The missing key.
        key: String,
    },
    /// The object exists but its bytes are not what the reader expects.
    #[error("object '{key}' in {store} is corrupt: {reason}")]
    Corrupt {
        /// The store URL.
        store: String,
        /// The key of the corrupt object.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The backend failed.
    #[error("{op} '{key}' on {store} failed: {source}")]
    Backend {
        /// The store URL.
        store: String,
        /// The operation that failed (`get`, `put`, `list`, ...).
        op: &'static str,
        /// The key or prefix involved.
        key: String,
        /// The backend's error.
        #[source]
        source: Box<object_store::Error>,
    },
    /// The store cannot be reached or used at all (wrong credentials, missing bucket, endpoint
    /// down), as found by [`Store::check`](crate::Store::check).
    #[error("cannot access store {store}: {reason}")]
    Unavailable {
        /// The store URL.
        store: String,
        /// What went wrong, with the backend's message.
        reason: String,
    },
    /// The handle is confined and the operation is outside what it may touch (see
    /// [`Store::confined`](crate::Store::confined)); nothing was read or changed.
    #[error("access denied on {store}: {reason}")]
    Denied {
        /// The store URL.
        store: String,
        /// The key refused.
        key: String,
        /// Who was refused what, and what it may touch.
        reason: String,
    },
    /// Arrays could not be encoded.
    #[error("cannot encode arrays: {0}")]
    Encode(String),
}
