//! The S3 backend: `object_store`'s `AmazonS3` configured from `AWS_*` variables, with bounded
//! retries and timeouts so that a misconfigured store fails once, quickly, with a clear message.
//!
//! The transport is reqwest with rustls; both TLS and request signing use `ring` (no aws-lc-rs C
//! build). rustls needs a process-wide crypto provider before the first client is built, which
//! [`build`] installs (the `ring` one, unless the process already chose one).

use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

use crate::{Result, StoreError};

/// Settings of an S3 backend, named like the standard AWS environment variables.
///
/// Recognised: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`
/// (or `AWS_DEFAULT_REGION`; default `us-east-1`), `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or
/// `AWS_ENDPOINT` (a custom endpoint such as MinIO; addressed path-style), `AWS_ALLOW_HTTP=true`,
/// and every other `AWS_*` setting `object_store` understands (container credentials, ...).
#[derive(Clone, Default)]
pub struct S3Options {
    vars: BTreeMap<String, String>,
}

impl fmt::Debug for S3Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: BTreeMap<&str, &str> = self
            .vars
            .iter()
            .map(|(k, v)| {
                let secret = k.contains("SECRET") || k.contains("TOKEN");
                (k.as_str(), if secret { "<redacted>" } else { v.as_str() })
            })
            .collect();
        f.debug_struct("S3Options").field("vars", &shown).finish()
    }
}

impl S3Options {
    /// The `AWS_*` variables of the process environment.
    pub fn from_env() -> Self {
        Self::from_vars(std::env::vars())
    }

    /// Explicit variables (same names as the environment), e.g. a test server's; names not
    /// starting with `AWS_` are ignored.
    pub fn from_vars<K: Into<String>, V: Into<String>>(
        vars: impl IntoIterator<Item = (K, V)>,
    ) -> Self {
        let vars = vars
            .into_iter()
            .map(|(k, v)| (k.into().to_ascii_uppercase(), v.into()))
            .filter(|(k, _)| k.starts_with("AWS_"))
            .collect();
        Self { vars }
    }

    /// Sets one variable, overriding what was there.
    pub fn with_var(mut self, name: &str, value: impl Into<String>) -> Self {
        self.vars.insert(name.to_ascii_uppercase(), value.into());
        self
    }

    fn var(&self, name: &str) -> Option<&str> {
        self.vars
            .get(name)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }

    /// The region: `AWS_REGION`, else `AWS_DEFAULT_REGION`, else `us-east-1`.
    pub fn region(&self) -> &str {
        self.var("AWS_REGION")
            .or_else(|| self.var("AWS_DEFAULT_REGION"))
            .unwrap_or("us-east-1")
    }

    /// A custom endpoint: `AWS_ENDPOINT_URL_S3`, `AWS_ENDPOINT_URL` or `AWS_ENDPOINT`.
    pub fn endpoint(&self) -> Option<&str> {
        self.var("AWS_ENDPOINT_URL_S3")
            .or_else(|| self.var("AWS_ENDPOINT_URL"))
            .or_else(|| self.var("AWS_ENDPOINT"))
    }
}

/// Few retries with short backoff: transient errors heal, configuration errors surface at once.
fn retry_config() -> RetryConfig {
    RetryConfig {
        backoff: BackoffConfig {
            init_backoff: Duration::from_millis(100),
            max_backoff: Duration::from_secs(1),
            base: 2.0,
        },
        max_retries: 2,
        retry_timeout: Duration::from_secs(10),
    }
}

/// Installs rustls' `ring` provider as the process default unless one is installed already.
///
/// Every HTTPS client in faasml (S3, HTTP workers, trace export) is reqwest built without a
/// bundled provider, so each calls this before building one.
pub fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race to another installer is fine: some provider is then installed.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

/// Builds the S3 client for `bucket` (`url` is used in messages).
pub(crate) fn build(url: &str, bucket: &str, options: &S3Options) -> Result<AmazonS3> {
    ensure_crypto_provider();
    let allow_http = options
        .var("AWS_ALLOW_HTTP")
        .is_some_and(|v| v.eq_ignore_ascii_case("true") || v == "1");
    let mut builder = AmazonS3Builder::new()
        .with_retry(retry_config())
        .with_client_options(
            ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(3))
                .with_timeout(Duration::from_secs(120))
                .with_allow_http(allow_http),
        );
    for (key, value) in &options.vars {
        if let Ok(config_key) = key.to_ascii_lowercase().parse::<AmazonS3ConfigKey>() {
            builder = builder.with_config(config_key, value.clone());
        }
    }
    builder = builder
        .with_bucket_name(bucket)
        .with_region(options.region());
    if let Some(endpoint) = options.endpoint() {
        builder = builder
            .with_endpoint(endpoint.trim_end_matches('/'))
            .with_virtual_hosted_style_request(false);
    }
    builder.build().map_err(|e| StoreError::InvalidUrl {
        url: url.to_string(),
        reason: format!("cannot configure S3: {e}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_read_region_and_endpoint_with_fallbacks() {
        let o = S3Options::from_vars([("AWS_DEFAULT_REGION", "eu-west-1"), ("HOME", "/x")]);
        assert_eq!(o.region(), "eu-west-1");
        assert_eq!(o.endpoint(), None);
        let o = o
            .with_var("AWS_REGION", "us-west-2")
            .with_var("AWS_ENDPOINT", "http://a:1");
        assert_eq!(o.region(), "us-west-2");
        assert_eq!(o.endpoint(), Some("http://a:1"));
        let o = o.with_var("AWS_ENDPOINT_URL", "http://b:2");
        assert_eq!(o.endpoint(), Some("http://b:2"));
        assert_eq!(S3Options::default().region(), "us-east-1");
    }

    #[test]
    fn debug_redacts_secrets() {
        let o = S3Options::from_vars([
            ("AWS_SECRET_ACCESS_KEY", "hunter2"),
            ("AWS_SESSION_TOKEN", "tok"),
            ("AWS_ACCESS_KEY_ID", "AKID"),
        ]);
        let shown = format!("{o:?}");
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok\""),
            "{shown}"
        );
        assert!(shown.contains("AKID"), "{shown}");
    }
}
