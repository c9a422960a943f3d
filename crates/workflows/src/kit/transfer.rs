//! Passing bulk data from one stage to another: inline in the invocation payload, by key through
//! the object store, or by key through the state store — chosen per run, transparent to the
//! stage that reads it.
//!
//! The writer calls [`Transfer::send`] with the run's [`TransferMode`] and a key under the run's
//! scratch; the reader calls [`Transfer::receive`]. Stored values are JSON; they live under the
//! run's scratch prefix, so the kit deletes them with the run.

use faasml_core::Ctx;
use faasml_store::Path;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::{Result, WorkflowError};

/// How bulk data travels between stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "cli", derive(clap::ValueEnum))]
#[serde(rename_all = "kebab-case")]
pub enum TransferMode {
    /// In the invocation payloads themselves (no store round trip; payload limits apply).
    Inline,
    /// Through the object store, by key.
    #[default]
    Store,
    /// Through the state store (Redis in production), by key.
    State,
}

impl TransferMode {
    /// The mode's name on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Inline => "inline",
            Self::Store => "store",
            Self::State => "state",
        }
    }
}

/// A value handed from one stage to another, inline or by key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "via", rename_all = "kebab-case")]
pub enum Transfer<T> {
    /// The value itself.
    Inline {
        /// The value.
        value: T,
    },
    /// A key in the object store holding the value as JSON.
    Store {
        /// The key.
        #[serde(with = "faasml_store::serde_path")]
        key: Path,
    },
    /// A key in the state store holding the value as JSON.
    State {
        /// The key.
        key: String,
    },
}

impl<T: Serialize + DeserializeOwned> Transfer<T> {
    /// Hands `value` on as `mode` says, storing it under `key` unless inline.
    pub async fn send(ctx: &Ctx, mode: TransferMode, key: Path, value: T) -> Result<Self> {
        match mode {
            TransferMode::Inline => Ok(Self::Inline { value }),
            TransferMode::Store => {
                ctx.store().put_json(&key, &value).await?;
                Ok(Self::Store { key })
            }
            TransferMode::State => {
                let bytes = serde_json::to_vec(&value).map_err(|e| {
                    WorkflowError::InvalidParams(format!("cannot encode '{key}': {e}"))
                })?;
                let key = key.to_string();
                ctx.state().put(&key, bytes.into()).await?;
                Ok(Self::State { key })
            }
        }
    }

    /// The value, fetched if it was stored.
    pub async fn receive(self, ctx: &Ctx) -> Result<T> {
        match self {
            Self::Inline { value } => Ok(value),
            Self::Store { key } => Ok(ctx.store().get_json(&key).await?),
            Self::State { key } => {
                let bytes = ctx.state().get(&key).await?.ok_or_else(|| {
                    WorkflowError::Coordination(format!(
                        "state key '{key}' is missing from {}",
                        ctx.state().url()
                    ))
                })?;
                serde_json::from_slice(&bytes).map_err(|e| {
                    WorkflowError::Coordination(format!(
                        "state key '{key}' in {} is corrupt: {e}",
                        ctx.state().url()
                    ))
                })
            }
        }
    }

    /// The mode this value travels by.
    pub fn mode(&self) -> TransferMode {
        match self {
            Self::Inline { .. } => TransferMode::Inline,
            Self::Store { .. } => TransferMode::Store,
            Self::State { .. } => TransferMode::State,
        }
    }
}
