//! OpenFaaS: a `stack.yml` (version 1.0) with one function per faasml function.
//!
//! The image is deployed as is, without the of-watchdog: `faasml serve` is itself the HTTP
//! server on port 8080 that OpenFaaS asks of a workload. The gateway forwards
//! `POST /function/<deployed name>/<rest>` to the container's `/<rest>`, so workers invoke each
//! other through the gateway template `http://<gateway>/function/{function}`: the HTTP platform
//! appends `/function/<faasml name>`, which is the path `faasml serve` answers on (see
//! `deploy/README.md`). OpenFaaS mounts secrets as files under `/var/openfaas/secrets/`;
//! `FAASML_SECRETS_DIR` tells the worker where to read the `AWS_*` values from, and the secret
//! `faasml-key`, mounted as `/var/openfaas/secrets/faasml-key`, is the key that signs invocations.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DeployError, FunctionSpec, HEALTH_PATH, READY_PATH, Worker};

/// The stack file version faas-cli reads.
pub const VERSION: &str = "1.0";
/// Where OpenFaaS mounts a function's secrets.
pub const SECRETS_DIR: &str = "/var/openfaas/secrets";
/// The gateway as seen from inside the cluster (the `openfaas` namespace's `gateway` Service).
pub const IN_CLUSTER_GATEWAY: &str = "http://gateway.openfaas:8080";

/// Options of [`stack`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OpenFaasOptions {
    /// Image, store, state and secret of the workers.
    pub worker: Worker,
    /// The gateway faas-cli deploys to (`provider.gateway`).
    pub gateway: String,
    /// The gateway the workers reach each other through, from inside the cluster.
    pub in_cluster_gateway: String,
    /// `com.openfaas.scale.min`.
    pub min_scale: u32,
    /// `com.openfaas.scale.max`.
    pub max_scale: u32,
    /// The function namespace, if not the default `openfaas-fn`.
    pub namespace: Option<String>,
}

impl OpenFaasOptions {
    /// Defaults: gateway `http://127.0.0.1:8080`, scale 1..=10, namespace `openfaas-fn`.
    pub fn new(worker: Worker) -> Self {
        Self {
            worker,
            gateway: "http://127.0.0.1:8080".to_owned(),
            in_cluster_gateway: IN_CLUSTER_GATEWAY.to_owned(),
            min_scale: 1,
            max_scale: 10,
            namespace: None,
        }
    }

    /// The gateway template the workers use for their own invocations.
    pub fn gateway_template(&self) -> String {
        format!(
            "{}/function/{{function}}",
            self.in_cluster_gateway.trim_end_matches('/')
        )
    }

    fn check(&self) -> Result<(), DeployError> {
        self.worker.check()?;
        for (what, url) in [
            ("gateway", &self.gateway),
            ("in-cluster gateway", &self.in_cluster_gateway),
        ] {
            if !(url.starts_with("http://") || url.starts_with("https://"))
                || url.chars().any(char::is_whitespace)
            {
                return Err(DeployError::BadUrl {
                    what,
                    reason: format!("'{url}' is not an http(s) URL"),
                });
            }
            crate::check_url(what, url)?;
        }
        if let Some(namespace) = &self.namespace
            && !crate::is_dns_label(namespace)
        {
            return Err(DeployError::BadName {
                what: "namespace",
                name: namespace.clone(),
            });
        }
        if self.min_scale == 0 || self.min_scale > self.max_scale {
            return Err(DeployError::BadScale(format!(
                "need 1 <= min-scale <= max-scale (got {}..{}); OpenFaaS scales to zero only with its Pro idler",
                self.min_scale, self.max_scale
            )));
        }
        Ok(())
    }
}

/// An OpenFaaS stack file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Stack {
    /// `1.0`.
    pub version: String,
    /// Where faas-cli deploys.
    pub provider: Provider,
    /// The functions, by deployed name.
    pub functions: BTreeMap<String, Function>,
}

/// The provider section.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provider {
    /// Always `openfaas`.
    pub name: String,
    /// The gateway URL.
    pub gateway: String,
}

/// One function of a stack file (the fields faasml sets, with faas-cli's names).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Function {
    /// The prebuilt image.
    pub image: String,
    /// The image is prebuilt: `faas-cli up` must not try to build it.
    pub skip_build: bool,
    /// The function namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Plain environment variables (never secret values).
    pub environment: BTreeMap<String, String>,
    /// Secrets mounted under `/var/openfaas/secrets/`.
    pub secrets: Vec<String>,
    /// Labels: scaling bounds and identification.
    pub labels: BTreeMap<String, String>,
    /// Annotations: the faasml function name and the probe paths.
    pub annotations: BTreeMap<String, String>,
    /// Resource limits (memory), for functions whose spec names a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limits: Option<Resources>,
    /// Resource requests (memory), for functions whose spec names a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<Resources>,
}

/// A stack file's resource block: `memory: 512Mi`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Memory, e.g. `512Mi`.
    pub memory: String,
}

/// The stack file for `functions`; a function whose spec names a memory size gets it as its
/// limit and request.
pub fn stack(functions: &[FunctionSpec], options: &OpenFaasOptions) -> Result<Stack, DeployError> {
    options.check()?;
    let names = crate::deployed_names(functions)?;
    let worker = &options.worker;
    let mut environment = BTreeMap::new();
    if let Some(store) = &worker.store {
        environment.insert("FAASML_STORE".to_owned(), store.clone());
    }
    if let Some(state) = &worker.state {
        environment.insert("FAASML_STATE".to_owned(), state.clone());
    }
    environment.insert("FAASML_GATEWAY".to_owned(), options.gateway_template());
    environment.insert("FAASML_SECRETS_DIR".to_owned(), SECRETS_DIR.to_owned());
    let functions = names
        .into_iter()
        .map(|(spec, name)| {
            let function = spec.name;
            let labels = BTreeMap::from([
                (
                    "com.openfaas.scale.min".to_owned(),
                    options.min_scale.to_string(),
                ),
                (
                    "com.openfaas.scale.max".to_owned(),
                    options.max_scale.to_string(),
                ),
                ("app.kubernetes.io/name".to_owned(), "faasml".to_owned()),
            ]);
            let annotations = BTreeMap::from([
                (
                    crate::knative::FUNCTION_ANNOTATION.to_owned(),
                    function.to_owned(),
                ),
                (
                    "com.openfaas.health.http.path".to_owned(),
                    HEALTH_PATH.to_owned(),
                ),
                (
                    "com.openfaas.ready.http.path".to_owned(),
                    READY_PATH.to_owned(),
                ),
            ]);
            let f = Function {
                image: worker.image.clone(),
                skip_build: true,
                namespace: options.namespace.clone(),
                environment: environment.clone(),
                // The signing key is mounted at /var/openfaas/secrets/faasml-key, where the
                // worker's key lookup finds it.
                secrets: vec![worker.secret.clone(), crate::KEY_SECRET.to_owned()],
                labels,
                annotations,
                limits: spec.memory_mb.map(|mb| Resources {
                    memory: format!("{mb}Mi"),
                }),
                requests: spec.memory_mb.map(|mb| Resources {
                    memory: format!("{mb}Mi"),
                }),
            };
            (name, f)
        })
        .collect();
    Ok(Stack {
        version: VERSION.to_owned(),
        provider: Provider {
            name: "openfaas".to_owned(),
            gateway: options.gateway.clone(),
        },
        functions,
    })
}

/// The stack file as YAML.
pub fn to_yaml(
    functions: &[FunctionSpec],
    options: &OpenFaasOptions,
) -> Result<String, DeployError> {
    crate::yaml(&stack(functions, options)?)
}

/// Parses a stack file written by [`to_yaml`].
pub fn from_yaml(yaml: &str) -> Result<Stack, DeployError> {
    serde_yaml_ng::from_str(yaml).map_err(|e| DeployError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 3] = ["faasml.noop", "ml-training.driver", "ml-training.pca"];

    fn functions() -> Vec<FunctionSpec> {
        crate::test_specs(&NAMES)
    }

    fn options() -> OpenFaasOptions {
        let mut options = OpenFaasOptions::new(
            Worker::new("registry.example.com/faasml:1")
                .store("s3://bucket/prefix")
                .state("redis://redis.openfaas-fn:6379/"),
        );
        options.gateway = "https://faas.example.com".to_owned();
        options
    }

    #[test]
    fn stack_structure() {
        let stack = stack(&functions(), &options()).unwrap();
        assert_eq!(stack.version, "1.0");
        assert_eq!(stack.provider.name, "openfaas");
        assert_eq!(stack.provider.gateway, "https://faas.example.com");
        let names: Vec<&str> = stack.functions.keys().map(String::as_str).collect();
        assert_eq!(
            names,
            ["faasml-noop", "ml-training-driver", "ml-training-pca"]
        );
        let pca = &stack.functions["ml-training-pca"];
        assert_eq!(pca.image, "registry.example.com/faasml:1");
        assert_eq!(pca.secrets, ["faasml-s3", "faasml-key"]);
        assert!(
            pca.environment.keys().all(|k| k != "FAASML_KEY"),
            "the key is mounted, never inlined"
        );
        assert_eq!(pca.labels["com.openfaas.scale.min"], "1");
        assert_eq!(pca.labels["com.openfaas.scale.max"], "10");
        assert_eq!(pca.annotations["faasml.dev/function"], "ml-training.pca");
        assert_eq!(pca.environment["FAASML_STORE"], "s3://bucket/prefix");
        assert_eq!(
            pca.environment["FAASML_STATE"],
            "redis://redis.openfaas-fn:6379/"
        );
        assert_eq!(
            pca.environment["FAASML_GATEWAY"],
            "http://gateway.openfaas:8080/function/{function}"
        );
        assert_eq!(
            pca.environment["FAASML_SECRETS_DIR"],
            "/var/openfaas/secrets"
        );
        for var in crate::S3_ENV {
            assert!(!pca.environment.contains_key(var));
        }
    }

    #[test]
    fn yaml_round_trips() {
        let yaml = to_yaml(&functions(), &options()).unwrap();
        assert_eq!(
            from_yaml(&yaml).unwrap(),
            stack(&functions(), &options()).unwrap()
        );
        assert!(yaml.starts_with("version: '1.0'\n"), "{yaml}");
        assert!(!yaml.contains("AWS_SECRET_ACCESS_KEY"));
    }

    #[test]
    fn bad_options() {
        let mut opts = options();
        opts.min_scale = 0;
        assert!(matches!(
            stack(&functions(), &opts),
            Err(DeployError::BadScale(_))
        ));
        let mut opts = options();
        opts.gateway = "gateway:8080".to_owned();
        assert!(matches!(
            stack(&functions(), &opts),
            Err(DeployError::BadUrl { .. })
        ));
        let mut opts = options();
        opts.gateway = "https://admin:pw@faas.example.com".to_owned();
        assert!(matches!(
            stack(&functions(), &opts),
            Err(DeployError::SecretInUrl { .. })
        ));
    }
}
