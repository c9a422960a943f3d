//! The errors of manifest generation: bad options, never IO.

/// Why manifests could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    /// No function to deploy.
    #[error("no function to deploy")]
    NoFunctions,
    /// The image reference is empty or contains whitespace.
    #[error("bad image reference '{0}': expected e.g. registry.example.com/faasml:1")]
    BadImage(String),
    /// A name that must be a DNS label or subdomain is not one.
    #[error(
        "{what} name '{name}' is not a DNS-1123 name (lowercase letters, digits and '-', at most 63 characters)"
    )]
    BadName {
        /// What the name names (function, namespace, secret).
        what: &'static str,
        /// The name.
        name: String,
    },
    /// Two functions map to the same DNS name.
    #[error("functions '{first}' and '{second}' both deploy as '{name}'")]
    NameClash {
        /// The first function.
        first: String,
        /// The second function.
        second: String,
        /// The DNS name they share.
        name: String,
    },
    /// A store or state URL is malformed.
    #[error("bad {what} URL: {reason}")]
    BadUrl {
        /// Which URL (store, state, gateway).
        what: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A URL carries credentials, which must live in a secret.
    #[error(
        "the {what} URL carries credentials; manifests never hold secrets: put the URL in the secret (key FAASML_{}) and leave --{what} out",
        what.to_ascii_uppercase()
    )]
    SecretInUrl {
        /// Which URL (store, state).
        what: &'static str,
    },
    /// Scaling options contradict each other.
    #[error("bad scaling options: {0}")]
    BadScale(String),
    /// A memory size outside the platform's range.
    #[error("bad memory size: {0}")]
    BadMemory(String),
    /// Serialisation failed (a bug: the manifest types always serialise).
    #[error("cannot write YAML: {0}")]
    Yaml(String),
}
