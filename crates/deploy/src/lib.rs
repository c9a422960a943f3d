//! Deployment manifests for `faasml serve` workers, as typed values and YAML strings.
//!
//! - [`knative`]: one Knative `serving.knative.dev/v1` `Service` per function;
//! - [`openfaas`]: an OpenFaaS `stack.yml` with one function per faasml function;
//! - [`dockerfile`]: the worker image's Dockerfile (also committed as `deploy/Dockerfile`);
//! - [`lambda`]: a SAM template running the same image as one Lambda function.
//!
//! Every function is deployed under its DNS-safe name ([`dns_name`]: lowercase, `.` -> `-`),
//! the same name the HTTP platform substitutes for `{function}` in a gateway template. What a
//! function needs besides its name — driver or stage, long-running or not, a memory size or a
//! timeout — comes from its [`FunctionSpec`], which the workflow declares where it registers the
//! function; this crate knows no workflow. Secrets are only ever referenced by name, never
//! carried as values: a URL with a password is refused, and the key that signs invocations
//! ([`KEY_SECRET`]) reaches the workers by secret reference only. This crate does no IO; it returns
//! values and strings.
//!
//! ```
//! use faasml_deploy::{FunctionSpec, Worker, knative::{self, KnativeOptions}};
//!
//! let mut driver = FunctionSpec::stage("ml-training.driver");
//! driver.driver();
//! let functions = [driver, FunctionSpec::stage("ml-training.pca")];
//! let worker = Worker::new("registry.example.com/faasml:1").store("s3://bucket/prefix");
//! let yaml = knative::to_yaml(&functions, &KnativeOptions::new(worker)).unwrap();
//! assert!(yaml.contains("name: ml-training-pca"));
//! ```

pub mod dockerfile;
mod error;
pub mod knative;
pub mod lambda;
pub mod openfaas;

pub use error::DeployError;

/// The port `faasml serve` listens on inside the container (`$PORT`, default 8080).
pub const PORT: u16 = 8080;
/// The Secret (Kubernetes) or OpenFaaS secret holding the S3 credentials, by default.
pub const DEFAULT_SECRET: &str = "faasml-s3";
/// The Secret (Kubernetes) or OpenFaaS secret holding the key that signs invocations.
pub const KEY_SECRET: &str = "faasml-key";
/// The entry of the Kubernetes Secret [`KEY_SECRET`] that holds the key.
pub const KEY_SECRET_KEY: &str = "key";
/// The environment variable a worker reads its key from (Knative, Lambda).
pub const KEY_ENV: &str = "FAASML_KEY";
/// The path of the readiness endpoint of `faasml serve`.
pub const READY_PATH: &str = "/readyz";
/// The path of the liveness endpoint of `faasml serve`.
pub const HEALTH_PATH: &str = "/healthz";
/// The environment variables a worker reads its S3 configuration from (provided by the secret).
pub const S3_ENV: [&str; 5] = [
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_ALLOW_HTTP",
];

pub use faasml_core::{FunctionSpec, dns_name};

/// Whether `name` is an RFC 1123 DNS label: 1..=63 characters of `[a-z0-9-]`, starting and
/// ending with an alphanumeric character.
pub fn is_dns_label(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-')
        && bytes.first().is_some_and(u8::is_ascii_alphanumeric)
        && bytes.last().is_some_and(u8::is_ascii_alphanumeric)
}

/// Whether `name` is an RFC 1123 DNS subdomain (the rule for Secret names): at most 253
/// characters, dot-separated DNS labels.
pub fn is_dns_subdomain(name: &str) -> bool {
    name.len() <= 253 && name.split('.').all(is_dns_label)
}

/// What every worker container gets, whatever the platform: its image and its configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Worker {
    /// The image, e.g. `registry.example.com/faasml:1`.
    pub image: String,
    /// The object store URL (`FAASML_STORE`), e.g. `s3://bucket/prefix`.
    pub store: Option<String>,
    /// The state store URL (`FAASML_STATE`), e.g. `redis://redis.faasml:6379/`.
    pub state: Option<String>,
    /// The secret holding the `AWS_*` variables, referenced by name only.
    pub secret: String,
}

impl Worker {
    /// A worker running `image`, with no store or state configured and the default secret.
    pub fn new(image: impl Into<String>) -> Self {
        Self {
            image: image.into(),
            store: None,
            state: None,
            secret: DEFAULT_SECRET.to_owned(),
        }
    }

    /// Sets the object store URL.
    pub fn store(mut self, url: impl Into<String>) -> Self {
        self.store = Some(url.into());
        self
    }

    /// Sets the state store URL.
    pub fn state(mut self, url: impl Into<String>) -> Self {
        self.state = Some(url.into());
        self
    }

    /// Sets the name of the secret holding the S3 credentials.
    pub fn secret(mut self, name: impl Into<String>) -> Self {
        self.secret = name.into();
        self
    }

    /// Checks the image, the URLs (no embedded password) and the secret name.
    pub(crate) fn check(&self) -> Result<(), DeployError> {
        if self.image.is_empty()
            || self
                .image
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(DeployError::BadImage(self.image.clone()));
        }
        for (what, url) in [("store", &self.store), ("state", &self.state)] {
            if let Some(url) = url {
                check_url(what, url)?;
            }
        }
        if !is_dns_subdomain(&self.secret) {
            return Err(DeployError::BadName {
                what: "secret",
                name: self.secret.clone(),
            });
        }
        Ok(())
    }
}

/// Refuses an empty URL and one carrying a password (`scheme://user:password@host`): manifests
/// reference secrets, they never contain them.
fn check_url(what: &'static str, url: &str) -> Result<(), DeployError> {
    if url.is_empty() || url.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(DeployError::BadUrl {
            what,
            reason: "empty or contains whitespace".to_owned(),
        });
    }
    let Some((_, rest)) = url.split_once("://") else {
        return Err(DeployError::BadUrl {
            what,
            reason: format!("'{url}' has no scheme (expected e.g. s3://, redis://)"),
        });
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(DeployError::SecretInUrl { what });
    }
    Ok(())
}

/// The deployed name of every function, checked to be a DNS label and unique.
pub(crate) fn deployed_names(
    functions: &[FunctionSpec],
) -> Result<Vec<(&FunctionSpec, String)>, DeployError> {
    if functions.is_empty() {
        return Err(DeployError::NoFunctions);
    }
    let mut seen = std::collections::BTreeMap::new();
    let mut out = Vec::with_capacity(functions.len());
    for spec in functions {
        let name = dns_name(spec.name);
        if !is_dns_label(&name) {
            return Err(DeployError::BadName {
                what: "function",
                name: spec.name.to_owned(),
            });
        }
        if let Some(other) = seen.insert(name.clone(), spec.name) {
            return Err(DeployError::NameClash {
                first: other.to_owned(),
                second: spec.name.to_owned(),
                name,
            });
        }
        out.push((spec, name));
    }
    Ok(out)
}

/// Specs of the named functions for tests: `*.driver` is a driver, `downpour.train` runs long.
#[cfg(test)]
pub(crate) fn test_specs(names: &[&'static str]) -> Vec<FunctionSpec> {
    names
        .iter()
        .map(|&name| {
            let mut spec = FunctionSpec::stage(name);
            if name.ends_with(".driver") {
                spec.driver();
            } else if name == "downpour.train" {
                spec.long_running();
            }
            spec
        })
        .collect()
}

/// Serialises one value as a YAML document.
pub(crate) fn yaml<T: serde::Serialize>(value: &T) -> Result<String, DeployError> {
    serde_yaml_ng::to_string(value).map_err(|e| DeployError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names() {
        assert!(is_dns_label(&dns_name("ml-training.pca")));
        assert!(!is_dns_label("-a"));
        assert!(!is_dns_label("a-"));
        assert!(!is_dns_label(""));
        assert!(!is_dns_label("a.b"));
        assert!(!is_dns_label(&"a".repeat(64)));
        assert!(is_dns_label(&"a".repeat(63)));
        assert!(is_dns_subdomain("faasml-s3"));
        assert!(is_dns_subdomain("s3.creds"));
        assert!(!is_dns_subdomain("S3"));
    }

    #[test]
    fn urls_with_passwords_are_refused() {
        assert!(check_url("state", "redis://redis.faasml:6379/").is_ok());
        assert!(check_url("store", "s3://bucket/prefix@v1").is_ok());
        assert!(matches!(
            check_url("state", "redis://:hunter2@redis:6379/"),
            Err(DeployError::SecretInUrl { what: "state" })
        ));
        assert!(check_url("store", "bucket/prefix").is_err());
    }

    #[test]
    fn names_are_checked_and_unique() {
        assert!(matches!(deployed_names(&[]), Err(DeployError::NoFunctions)));
        let deployed_names = |names: &[&'static str]| {
            let specs = test_specs(names);
            deployed_names(&specs).map(|n| n.len())
        };
        assert!(matches!(
            deployed_names(&["a.b", "a-b"]),
            Err(DeployError::NameClash { .. })
        ));
        // Invalid even in DNS form: a leading '-', and more than 63 characters.
        assert!(matches!(
            deployed_names(&[".hidden"]),
            Err(DeployError::BadName { .. })
        ));
        let long: &'static str = Box::leak("f".repeat(64).into_boxed_str());
        assert!(matches!(
            deployed_names(&[long]),
            Err(DeployError::BadName { .. })
        ));
    }
}
