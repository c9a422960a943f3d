//! Parsing of store URLs (`file://DIR`, `memory://NAME`, `s3://BUCKET`) into a backend and a root
//! prefix.

use std::path::PathBuf;

use crate::{Result, StoreError};

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StoreUrl {
    /// A local directory; relative paths are resolved against the current directory.
    File {
        /// The directory that holds the objects.
        dir: PathBuf,
    },
    /// A process-wide in-memory store; the same name opens the same store.
    Memory {
        /// The store name (may be empty).
        name: String,
        /// A key prefix inside the store.
        prefix: String,
    },
    /// An S3 bucket (AWS or any S3-compatible server), reached as the `AWS_*` settings say.
    S3 {
        /// The bucket name.
        bucket: String,
        /// A key prefix inside the bucket (no leading or trailing `/`).
        prefix: String,
    },
}

impl StoreUrl {
    /// Parses `file://DIR`, a plain directory path, `memory://NAME[/PREFIX]` or
    /// `s3://BUCKET[/PREFIX]`.
    pub fn parse(url: &str) -> Result<Self> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = url.strip_prefix("file://") {
            if rest.is_empty() {
                return Err(invalid(
                    "a file:// URL needs a directory, e.g. file://./store",
                ));
            }
            return Ok(Self::File {
                dir: PathBuf::from(rest),
            });
        }
        if let Some(rest) = url.strip_prefix("memory://") {
            let (name, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            return Ok(Self::Memory {
                name: name.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(invalid(
                    "an s3:// URL needs a bucket, e.g. s3://bucket/prefix",
                ));
            }
            return Ok(Self::S3 {
                bucket: bucket.to_string(),
                prefix: prefix.trim_matches('/').to_string(),
            });
        }
        if let Some((scheme, _)) = url.split_once("://") {
            return Err(invalid(&format!(
                "unsupported scheme '{scheme}' (supported: file://, memory://, s3://)"
            )));
        }
        if url.is_empty() {
            return Err(invalid("empty URL"));
        }
        Ok(Self::File {
            dir: PathBuf::from(url),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_supported_schemes() {
        assert_eq!(
            StoreUrl::parse("file://./store/images").unwrap(),
            StoreUrl::File {
                dir: PathBuf::from("./store/images")
            }
        );
        assert_eq!(
            StoreUrl::parse("/tmp/x").unwrap(),
            StoreUrl::File {
                dir: PathBuf::from("/tmp/x")
            }
        );
        assert_eq!(
            StoreUrl::parse("memory://a/b/c/").unwrap(),
            StoreUrl::Memory {
                name: "a".into(),
                prefix: "b/c".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("s3://bucket/runs/x/").unwrap(),
            StoreUrl::S3 {
                bucket: "bucket".into(),
                prefix: "runs/x".into()
            }
        );
        assert_eq!(
            StoreUrl::parse("s3://bucket").unwrap(),
            StoreUrl::S3 {
                bucket: "bucket".into(),
                prefix: String::new()
            }
        );
        assert!(StoreUrl::parse("s3://").is_err());
        assert!(StoreUrl::parse("s3:///x").is_err());
    }

    #[test]
    fn rejects_unknown_schemes_with_the_supported_list() {
        let err = StoreUrl::parse("gopher://x").unwrap_err().to_string();
        assert!(err.contains("gopher") && err.contains("file://"), "{err}");
        assert!(StoreUrl::parse("file://").is_err());
    }
}
