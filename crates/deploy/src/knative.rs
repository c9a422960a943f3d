//! Knative Serving: one `serving.knative.dev/v1` `Service` per function.
//!
//! Each Service runs the worker image with `args: ["serve"]` on port 8080 (`http1`), is reached
//! in-cluster at `http://<dns name>.<namespace>.svc.cluster.local`, and gets that address
//! pattern as `FAASML_GATEWAY`, so the functions a driver invokes go straight to their own
//! Services. The `AWS_*` variables come from a Secret through `envFrom` (by name; never values),
//! and `FAASML_KEY`, the key that signs invocations, from the Secret `faasml-key` (entry `key`)
//! through `valueFrom.secretKeyRef`.
//! The types model the subset of the Knative and core PodSpec schemas faasml uses, with the
//! upstream field names.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::{DeployError, FunctionSpec, HEALTH_PATH, PORT, READY_PATH, Worker, is_dns_label};

/// The API version of a Knative Service.
pub const API_VERSION: &str = "serving.knative.dev/v1";
/// The kind of a Knative Service.
pub const KIND: &str = "Service";
/// Knative's default `max-revision-timeout-seconds`: the longest request timeout a revision
/// may ask for unless the cluster's `config-defaults` raises it.
pub const MAX_REVISION_TIMEOUT_SECONDS: u32 = 600;
/// The annotation recording the faasml function a Service runs.
pub const FUNCTION_ANNOTATION: &str = "faasml.dev/function";

/// Options of [`services`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KnativeOptions {
    /// Image, store, state and secret of the workers.
    pub worker: Worker,
    /// The namespace the Services go to.
    pub namespace: String,
    /// `autoscaling.knative.dev/min-scale` (0: scale to zero).
    pub min_scale: u32,
    /// `autoscaling.knative.dev/max-scale` (0: unbounded).
    pub max_scale: u32,
    /// `containerConcurrency`: invocations one instance serves at once (0: unbounded).
    pub concurrency: u32,
    /// `autoscaling.knative.dev/target` (default: the concurrency, or 100 when unbounded).
    pub target: Option<u32>,
    /// `timeoutSeconds` of ordinary functions.
    pub timeout_seconds: u32,
    /// `timeoutSeconds` of drivers (`*.driver`) and training loops, which last as long as their
    /// workflow.
    pub driver_timeout_seconds: u32,
    /// Make every function except drivers reachable only inside the cluster.
    pub private_stages: bool,
}

impl KnativeOptions {
    /// Defaults: namespace `faasml`, scale 0..=10, one invocation per instance, timeouts
    /// 300 s and (drivers) 600 s.
    pub fn new(worker: Worker) -> Self {
        Self {
            worker,
            namespace: "faasml".to_owned(),
            min_scale: 0,
            max_scale: 10,
            concurrency: 1,
            target: None,
            timeout_seconds: 300,
            driver_timeout_seconds: MAX_REVISION_TIMEOUT_SECONDS,
            private_stages: false,
        }
    }

    /// The gateway template the workers use for their own invocations.
    pub fn gateway_template(&self) -> String {
        format!("http://{{function}}.{}.svc.cluster.local", self.namespace)
    }

    fn check(&self) -> Result<(), DeployError> {
        self.worker.check()?;
        if !is_dns_label(&self.namespace) {
            return Err(DeployError::BadName {
                what: "namespace",
                name: self.namespace.clone(),
            });
        }
        if self.max_scale != 0 && self.min_scale > self.max_scale {
            return Err(DeployError::BadScale(format!(
                "min-scale {} is above max-scale {}",
                self.min_scale, self.max_scale
            )));
        }
        if self.target == Some(0) {
            return Err(DeployError::BadScale(
                "target must be at least 1".to_owned(),
            ));
        }
        if self.timeout_seconds == 0 || self.driver_timeout_seconds == 0 {
            return Err(DeployError::BadScale(
                "timeouts must be at least 1 second".to_owned(),
            ));
        }
        Ok(())
    }
}

/// A Knative Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Service {
    /// `serving.knative.dev/v1`.
    pub api_version: String,
    /// `Service`.
    pub kind: String,
    /// Name, namespace, labels, annotations.
    pub metadata: ObjectMeta,
    /// The revision template.
    pub spec: ServiceSpec,
}

/// Kubernetes object metadata (the fields faasml sets).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ObjectMeta {
    /// Object name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Annotations.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

/// The spec of a Knative Service.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServiceSpec {
    /// The template of every revision.
    pub template: RevisionTemplate,
}

/// A revision template: metadata (autoscaling annotations) and the revision spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionTemplate {
    /// Labels and autoscaling annotations of the revisions.
    pub metadata: ObjectMeta,
    /// The pod spec plus Knative's revision fields.
    pub spec: RevisionSpec,
}

/// A Knative revision spec.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RevisionSpec {
    /// Requests one instance serves at once (0: unbounded).
    pub container_concurrency: u32,
    /// Longest time a request may take.
    pub timeout_seconds: u32,
    /// The one container.
    pub containers: Vec<Container>,
}

/// A container (the core `Container` fields faasml sets).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Container {
    /// Container name.
    pub name: String,
    /// Image reference.
    pub image: String,
    /// Arguments to the image's entrypoint.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub args: Vec<String>,
    /// The one port Knative routes to.
    pub ports: Vec<ContainerPort>,
    /// Plain environment variables.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env: Vec<EnvVar>,
    /// Variables imported from Secrets.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub env_from: Vec<EnvFromSource>,
    /// Readiness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub readiness_probe: Option<Probe>,
    /// Liveness probe.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub liveness_probe: Option<Probe>,
    /// Security settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_context: Option<SecurityContext>,
    /// Memory requested and limited, for functions whose spec names a size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
}

/// Compute resources of a container (`memory` only, from a function's spec).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResourceRequirements {
    /// What the scheduler reserves.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub requests: BTreeMap<String, String>,
    /// What the container may not exceed.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub limits: BTreeMap<String, String>,
}

/// A container port.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ContainerPort {
    /// `http1` or `h2c` (how Knative talks to the container).
    pub name: String,
    /// The port number.
    pub container_port: u16,
}

/// An environment variable: a literal value, or a reference to one key of a Secret.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVar {
    /// Variable name.
    pub name: String,
    /// Literal value (never a secret: secrets come by reference).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// Where the value comes from instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value_from: Option<EnvVarSource>,
}

/// The source of an environment variable's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvVarSource {
    /// One key of a Secret.
    pub secret_key_ref: SecretKeySelector,
}

/// One key of a Secret, by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretKeySelector {
    /// Secret name.
    pub name: String,
    /// The key within it.
    pub key: String,
}

/// A source of environment variables.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnvFromSource {
    /// The Secret whose keys become variables.
    pub secret_ref: SecretEnvSource,
}

/// A reference to a Secret by name.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecretEnvSource {
    /// Secret name.
    pub name: String,
}

/// A probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Probe {
    /// The HTTP GET the kubelet (or Knative's queue-proxy) makes.
    pub http_get: HttpGetAction,
    /// Seconds between probes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period_seconds: Option<u32>,
    /// Failures before the probe counts as failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_threshold: Option<u32>,
}

/// An HTTP GET probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HttpGetAction {
    /// Path.
    pub path: String,
    /// Port: the container port (required by the core schema; Knative accepts only that one).
    pub port: u16,
}

/// The container security settings Knative allows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SecurityContext {
    /// Refuse to start as root (the image runs as uid 10001).
    pub run_as_non_root: bool,
    /// No setuid escalation.
    pub allow_privilege_escalation: bool,
}

/// One Knative Service per function, in the order given: drivers and long-running functions
/// get the driver timeout, a function with its own timeout or memory need gets it.
pub fn services(
    functions: &[FunctionSpec],
    options: &KnativeOptions,
) -> Result<Vec<Service>, DeployError> {
    options.check()?;
    let names = crate::deployed_names(functions)?;
    let gateway = options.gateway_template();
    let target = options.target.unwrap_or(if options.concurrency == 0 {
        100
    } else {
        options.concurrency
    });
    Ok(names
        .into_iter()
        .map(|(spec, name)| service(spec, name, options, &gateway, target))
        .collect())
}

fn service(
    spec: &FunctionSpec,
    name: String,
    options: &KnativeOptions,
    gateway: &str,
    target: u32,
) -> Service {
    let function = spec.name;
    let worker = &options.worker;
    let mut env = Vec::new();
    let mut push = |name: &str, value: &str| {
        env.push(EnvVar {
            name: name.to_owned(),
            value: Some(value.to_owned()),
            value_from: None,
        })
    };
    if let Some(store) = &worker.store {
        push("FAASML_STORE", store);
    }
    if let Some(state) = &worker.state {
        push("FAASML_STATE", state);
    }
    push("FAASML_GATEWAY", gateway);
    // The signing key, by reference to its Secret: the worker checks every request with it and
    // signs the invocations it makes.
    env.push(EnvVar {
        name: crate::KEY_ENV.to_owned(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: SecretKeySelector {
                name: crate::KEY_SECRET.to_owned(),
                key: crate::KEY_SECRET_KEY.to_owned(),
            },
        }),
    });

    let labels = BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), "faasml".to_owned()),
        ("app.kubernetes.io/component".to_owned(), name.clone()),
    ]);
    let mut service_labels = labels.clone();
    if options.private_stages && !spec.driver {
        service_labels.insert(
            "networking.knative.dev/visibility".to_owned(),
            "cluster-local".to_owned(),
        );
    }
    let template_annotations = BTreeMap::from([
        (
            "autoscaling.knative.dev/min-scale".to_owned(),
            options.min_scale.to_string(),
        ),
        (
            "autoscaling.knative.dev/max-scale".to_owned(),
            options.max_scale.to_string(),
        ),
        (
            "autoscaling.knative.dev/target".to_owned(),
            target.to_string(),
        ),
    ]);
    let probe = |path: &str| Probe {
        http_get: HttpGetAction {
            path: path.to_owned(),
            port: PORT,
        },
        period_seconds: Some(10),
        failure_threshold: Some(3),
    };
    Service {
        api_version: API_VERSION.to_owned(),
        kind: KIND.to_owned(),
        metadata: ObjectMeta {
            name: Some(name),
            namespace: Some(options.namespace.clone()),
            labels: service_labels,
            annotations: BTreeMap::from([(FUNCTION_ANNOTATION.to_owned(), function.to_owned())]),
        },
        spec: ServiceSpec {
            template: RevisionTemplate {
                metadata: ObjectMeta {
                    labels,
                    annotations: template_annotations,
                    ..ObjectMeta::default()
                },
                spec: RevisionSpec {
                    container_concurrency: options.concurrency,
                    timeout_seconds: spec.timeout_s.unwrap_or(if spec.long_running {
                        options.driver_timeout_seconds
                    } else {
                        options.timeout_seconds
                    }),
                    containers: vec![Container {
                        name: "faasml".to_owned(),
                        image: worker.image.clone(),
                        args: vec!["serve".to_owned()],
                        ports: vec![ContainerPort {
                            name: "http1".to_owned(),
                            container_port: PORT,
                        }],
                        env,
                        env_from: vec![EnvFromSource {
                            secret_ref: SecretEnvSource {
                                name: worker.secret.clone(),
                            },
                        }],
                        readiness_probe: Some(probe(READY_PATH)),
                        liveness_probe: Some(probe(HEALTH_PATH)),
                        security_context: Some(SecurityContext {
                            run_as_non_root: true,
                            allow_privilege_escalation: false,
                        }),
                        resources: spec.memory_mb.map(|mb| {
                            let memory = BTreeMap::from([("memory".to_owned(), format!("{mb}Mi"))]);
                            ResourceRequirements {
                                requests: memory.clone(),
                                limits: memory,
                            }
                        }),
                    }],
                },
            },
        },
    }
}

/// The Services of [`services`] as one multi-document YAML stream (`---` between documents).
pub fn to_yaml(
    functions: &[FunctionSpec],
    options: &KnativeOptions,
) -> Result<String, DeployError> {
    let services = services(functions, options)?;
    let mut out = String::new();
    for service in &services {
        out.push_str("---\n");
        out.push_str(&crate::yaml(service)?);
    }
    Ok(out)
}

/// Parses a multi-document YAML stream of Services (the inverse of [`to_yaml`]).
pub fn from_yaml(yaml: &str) -> Result<Vec<Service>, DeployError> {
    serde_yaml_ng::Deserializer::from_str(yaml)
        .map(|doc| Service::deserialize(doc).map_err(|e| DeployError::Yaml(e.to_string())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAMES: [&str; 9] = [
        "downpour.train",
        "faasml.noop",
        "ml-inference.driver",
        "ml-inference.predict",
        "ml-training.driver",
        "ml-training.partition",
        "ml-training.pca",
        "ml-training.rf",
        "ml-training.validate",
    ];

    fn functions() -> Vec<FunctionSpec> {
        crate::test_specs(&NAMES)
    }

    fn options() -> KnativeOptions {
        KnativeOptions::new(
            Worker::new("registry.example.com/faasml:1")
                .store("s3://bucket/prefix")
                .state("redis://redis.faasml:6379/")
                .secret("s3-creds"),
        )
    }

    fn env(service: &Service) -> BTreeMap<&str, &str> {
        service.spec.template.spec.containers[0]
            .env
            .iter()
            .filter_map(|e| Some((e.name.as_str(), e.value.as_deref()?)))
            .collect()
    }

    #[test]
    fn every_function_gets_a_service_with_a_dns_label_name() {
        let services = services(&functions(), &options()).unwrap();
        assert_eq!(services.len(), NAMES.len());
        for (service, function) in services.iter().zip(NAMES) {
            let name = service.metadata.name.as_deref().unwrap();
            assert!(is_dns_label(name), "{name}");
            assert_eq!(name, crate::dns_name(function));
            assert_eq!(service.metadata.annotations[FUNCTION_ANNOTATION], function);
            assert_eq!(service.metadata.namespace.as_deref(), Some("faasml"));
        }
        assert_eq!(
            services[6].metadata.name.as_deref(),
            Some("ml-training-pca")
        );
    }

    #[test]
    fn env_wiring_and_secret_by_reference() {
        let opts = options();
        for service in services(&functions(), &opts).unwrap() {
            let env = env(&service);
            assert_eq!(env["FAASML_STORE"], "s3://bucket/prefix");
            assert_eq!(env["FAASML_STATE"], "redis://redis.faasml:6379/");
            assert_eq!(
                env["FAASML_GATEWAY"],
                "http://{function}.faasml.svc.cluster.local"
            );
            for var in crate::S3_ENV {
                assert!(!env.contains_key(var), "{var} must come from the secret");
            }
            let container = &service.spec.template.spec.containers[0];
            assert_eq!(container.env_from[0].secret_ref.name, "s3-creds");
            assert_eq!(container.args, ["serve"]);
            assert_eq!(container.ports[0].container_port, 8080);
            assert_eq!(container.ports[0].name, "http1");
            assert_eq!(
                container.readiness_probe.as_ref().unwrap().http_get.path,
                "/readyz"
            );
            assert_eq!(
                container.liveness_probe.as_ref().unwrap().http_get.path,
                "/healthz"
            );
        }
    }

    #[test]
    fn store_and_state_are_optional() {
        let opts = KnativeOptions::new(Worker::new("x/faasml:1"));
        let service = &services(&crate::test_specs(&["faasml.noop"]), &opts).unwrap()[0];
        let env = env(service);
        assert!(!env.contains_key("FAASML_STORE"));
        assert!(!env.contains_key("FAASML_STATE"));
        assert!(env.contains_key("FAASML_GATEWAY"));
    }

    #[test]
    fn scaling_and_timeouts() {
        let mut opts = options();
        opts.min_scale = 1;
        opts.max_scale = 7;
        opts.concurrency = 4;
        opts.private_stages = true;
        let services = services(&functions(), &opts).unwrap();
        for service in &services {
            let template = &service.spec.template;
            let a = &template.metadata.annotations;
            assert_eq!(a["autoscaling.knative.dev/min-scale"], "1");
            assert_eq!(a["autoscaling.knative.dev/max-scale"], "7");
            assert_eq!(a["autoscaling.knative.dev/target"], "4");
            assert_eq!(template.spec.container_concurrency, 4);
            let function = &service.metadata.annotations[FUNCTION_ANNOTATION];
            let private = service
                .metadata
                .labels
                .get("networking.knative.dev/visibility");
            let driver = function.ends_with(".driver");
            let long = driver || function == "downpour.train";
            let timeout = if long { 600 } else { 300 };
            assert_eq!(template.spec.timeout_seconds, timeout, "{function}");
            if driver {
                assert_eq!(private, None);
            } else {
                assert_eq!(private.map(String::as_str), Some("cluster-local"));
            }
        }
        opts.min_scale = 8;
        assert!(matches!(
            super::services(&functions(), &opts),
            Err(DeployError::BadScale(_))
        ));
    }

    #[test]
    fn specs_set_timeouts_and_memory() {
        let mut spec = FunctionSpec::stage("inference.predict");
        spec.memory_mb(512).timeout_s(42);
        let service = &services(&[spec], &options()).unwrap()[0];
        let template = &service.spec.template.spec;
        assert_eq!(template.timeout_seconds, 42);
        let resources = template.containers[0].resources.as_ref().unwrap();
        assert_eq!(resources.limits["memory"], "512Mi");
        assert_eq!(resources.requests["memory"], "512Mi");
        let plain = &services(&crate::test_specs(&["a.b"]), &options()).unwrap()[0];
        assert_eq!(plain.spec.template.spec.containers[0].resources, None);
    }

    #[test]
    fn bad_options_are_errors() {
        let mut opts = options();
        opts.namespace = "Bad_NS".to_owned();
        assert!(matches!(
            services(&functions(), &opts),
            Err(DeployError::BadName {
                what: "namespace",
                ..
            })
        ));
        let opts = KnativeOptions::new(Worker::new("x/faasml:1").state("redis://u:pw@redis:6379"));
        let err = services(&functions(), &opts).unwrap_err();
        assert!(matches!(err, DeployError::SecretInUrl { what: "state" }));
        assert!(!err.to_string().contains("pw@"));
        let opts = KnativeOptions::new(Worker::new(""));
        assert!(matches!(
            services(&functions(), &opts),
            Err(DeployError::BadImage(_))
        ));
    }

    #[test]
    fn yaml_round_trips_and_holds_no_secret_value() {
        let opts = options();
        let yaml = to_yaml(&functions(), &opts).unwrap();
        assert_eq!(yaml.matches("---\n").count(), NAMES.len());
        let parsed = from_yaml(&yaml).unwrap();
        assert_eq!(parsed, services(&functions(), &opts).unwrap());
        for var in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            assert!(!yaml.contains(var), "{var} in\n{yaml}");
        }
        assert!(yaml.contains("secretRef:\n"));
        // The signing key only by reference, once per Service, and never as a value.
        assert_eq!(yaml.matches("secretKeyRef:").count(), NAMES.len(), "{yaml}");
        assert!(
            yaml.contains("name: faasml-key") && yaml.contains("key: key"),
            "{yaml}"
        );
        for service in &parsed {
            let key = service.spec.template.spec.containers[0]
                .env
                .iter()
                .find(|e| e.name == "FAASML_KEY")
                .unwrap();
            assert!(key.value.is_none(), "the key is never inlined");
        }
        // Scale annotations are strings, as Kubernetes requires.
        assert!(
            yaml.contains("autoscaling.knative.dev/min-scale: '0'"),
            "{yaml}"
        );
    }
}
