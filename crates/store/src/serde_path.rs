//! Serde for store keys: an [`object_store::path::Path`] travels as its string and is parsed
//! back with `Path::parse`, so a key in a stage message is always a valid key (no empty or `..`
//! segments, no control characters) — a message is untrusted input.
//!
//! ```
//! use faasml_store::Path;
//! #[derive(serde::Serialize, serde::Deserialize)]
//! struct Input {
//!     #[serde(with = "faasml_store::serde_path")]
//!     shard: Path,
//!     #[serde(with = "faasml_store::serde_path::vec")]
//!     slices: Vec<Path>,
//! }
//! let input: Input = serde_json::from_str(r#"{"shard": "runs/r/a", "slices": ["b"]}"#).unwrap();
//! assert_eq!(input.shard.as_ref(), "runs/r/a");
//! assert!(serde_json::from_str::<Input>(r#"{"shard": "a//b", "slices": []}"#).is_err());
//! ```

use object_store::path::Path;
use serde::{Deserialize, Deserializer, Serializer};

/// Writes `path` as its string.
pub fn serialize<S: Serializer>(path: &Path, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(path.as_ref())
}

/// Reads a string and parses it as a key, rejecting invalid ones.
pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Path, D::Error> {
    let text = String::deserialize(deserializer)?;
    parse(&text)
}

fn parse<E: serde::de::Error>(text: &str) -> Result<Path, E> {
    Path::parse(text).map_err(|e| E::custom(format!("invalid store key '{text}': {e}")))
}

/// The same for `Vec<Path>`.
pub mod vec {
    use super::*;
    use serde::Serialize as _;

    /// Writes the keys as strings.
    pub fn serialize<S: Serializer>(paths: &[Path], serializer: S) -> Result<S::Ok, S::Error> {
        let texts: Vec<&str> = paths.iter().map(AsRef::as_ref).collect();
        texts.serialize(serializer)
    }

    /// Reads strings and parses each as a key.
    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Vec<Path>, D::Error> {
        let texts = Vec::<String>::deserialize(deserializer)?;
        texts.iter().map(|t| parse(t)).collect()
    }
}

/// The same for `Option<Path>`.
pub mod option {
    use super::*;
    use serde::Serialize as _;

    /// Writes the key as a string, or null.
    pub fn serialize<S: Serializer>(path: &Option<Path>, serializer: S) -> Result<S::Ok, S::Error> {
        path.as_ref()
            .map(AsRef::<str>::as_ref)
            .serialize(serializer)
    }

    /// Reads a string or null.
    pub fn deserialize<'de, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Path>, D::Error> {
        Option::<String>::deserialize(deserializer)?
            .map(|t| parse(&t))
            .transpose()
    }
}
