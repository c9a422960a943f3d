//! `faasml deploy`: runs the real binary and checks its manifests with independent validators:
//! Knative Services with `@kubernetes-models/knative` (`deploy/validate/knative.mjs`) and their
//! pods with `kubernetes-validate --strict`; the OpenFaaS stack.yml against strict serde types
//! of faas-cli's stack schema; the Dockerfile against `deploy/Dockerfile`. A missing validator
//! fails the test (run `.ci/validators.sh`); nothing is skipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde::Deserialize;

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn faasml(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_faasml"))
        .args(args)
        .env_remove("FAASML_STORE")
        .env_remove("FAASML_STATE")
        .env_remove("FAASML_GATEWAY")
        .output()
        .expect("run faasml")
}

fn stdout_of(args: &[&str]) -> String {
    let out = faasml(args);
    assert!(
        out.status.success(),
        "faasml {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 output")
}

/// Runs a validator; a validator that is not installed fails the test with the fix.
fn validator(program: &str, args: &[&Path]) -> Output {
    let knative = root().join("deploy/validate/node_modules/@kubernetes-models/knative");
    if program == "node" && !knative.is_dir() {
        panic!(
            "{} is missing: run .ci/validators.sh to install the validators",
            knative.display()
        );
    }
    let out = Command::new(program)
        .args(args)
        .current_dir(root())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program} ({e}): run .ci/validators.sh"));
    let stderr = String::from_utf8_lossy(&out.stderr);
    if stderr.contains("No module named kubernetes_validate") {
        panic!("kubernetes-validate is not installed: run .ci/validators.sh");
    }
    out
}

fn node_knative(file: &Path, pods: Option<&Path>) -> Output {
    let script = root().join("deploy/validate/knative.mjs");
    let mut args = vec![script.as_path(), file];
    if let Some(pods) = pods {
        args.push(Path::new("--pods"));
        args.push(pods);
    }
    validator("node", &args)
}

fn kubernetes_validate(file: &Path) -> Output {
    let args = [
        Path::new("-m"),
        Path::new("kubernetes_validate"),
        Path::new("--strict"),
        file,
    ];
    validator("python3", &args)
}

fn text(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

const FUNCTIONS: [&str; 37] = [
    "downpour-driver",
    "downpour-epoch",
    "downpour-setup",
    "downpour-single",
    "downpour-train",
    "faasml-import",
    "faasml-noop",
    "gbdt-driver",
    "gbdt-worker",
    "ml-inference-driver",
    "ml-inference-predict",
    "ml-training-driver",
    "ml-training-gbdt",
    "ml-training-orion-combine",
    "ml-training-partition",
    "ml-training-pca",
    "ml-training-rf",
    "ml-training-validate",
    "mllib-driver",
    "mllib-gbt",
    "mllib-worker",
    "stacking-driver",
    "stacking-inference-driver",
    "stacking-inference-score",
    "stacking-metatrainer",
    "stacking-reducer",
    "stacking-trainer",
    "text-inference-driver",
    "text-inference-gaussian-mixture",
    "text-inference-k-means",
    "text-inference-linear-svm",
    "text-inference-logistic-regression",
    "text-inference-minilm",
    "text-inference-pca",
    "text-inference-random-forest",
    "text-train-driver",
    "text-train-fit",
];

#[test]
fn knative_services_pass_the_knative_and_core_validators() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = stdout_of(&[
        "deploy",
        "knative",
        "--image",
        "x/faasml:1",
        "--store",
        "s3://bucket/prefix",
        "--state",
        "redis://redis.faasml:6379/",
        "--namespace",
        "ml",
        "--min-scale",
        "1",
        "--max-scale",
        "5",
        "--concurrency",
        "2",
    ]);
    for name in FUNCTIONS {
        assert!(
            yaml.contains(&format!("\n  name: {name}\n")),
            "{name} missing"
        );
    }
    assert!(yaml.contains("value: http://{function}.ml.svc.cluster.local\n"));
    assert!(!yaml.contains("AWS_SECRET_ACCESS_KEY"));
    // The signing key comes from the Secret faasml-key by reference, in every Service.
    assert_eq!(
        yaml.matches("- name: FAASML_KEY\n").count(),
        FUNCTIONS.len()
    );
    assert_eq!(yaml.matches("secretKeyRef:").count(), FUNCTIONS.len());
    assert!(yaml.contains("name: faasml-key\n"), "{yaml}");

    let file = dir.path().join("knative.yaml");
    let pods = dir.path().join("pods.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = node_knative(&file, Some(&pods));
    assert!(
        out.status.success(),
        "knative.mjs rejected it:\n{}",
        text(&out)
    );
    assert!(
        text(&out).contains(&format!("{} valid Knative Service(s)", FUNCTIONS.len())),
        "{}",
        text(&out)
    );

    let out = kubernetes_validate(&pods);
    assert!(
        out.status.success(),
        "kubernetes-validate --strict rejected the pods:\n{}",
        text(&out)
    );
}

#[test]
fn the_knative_validator_rejects_broken_manifests() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = stdout_of(&["deploy", "knative", "--image", "x/faasml:1"]);
    let broken = [
        (
            "a port that is not a number",
            yaml.replace("containerPort: 8080", "containerPort: eighty"),
        ),
        (
            "a bad name",
            yaml.replacen("name: faasml-noop", "name: Faasml_Noop", 1),
        ),
        (
            "an unknown field",
            yaml.replacen("spec:\n  template:", "spec:\n  bogus: 1\n  template:", 1),
        ),
        (
            "an env var without name",
            yaml.replacen("- name: FAASML_GATEWAY\n", "- ", 1),
        ),
        ("no document", String::new()),
    ];
    for (what, manifest) in broken {
        assert_ne!(manifest, yaml, "{what}: the replacement did not apply");
        let file = dir.path().join("broken.yaml");
        std::fs::write(&file, &manifest).unwrap();
        let out = node_knative(&file, None);
        assert!(
            !out.status.success(),
            "{what} was accepted:\n{}",
            text(&out)
        );
        assert!(text(&out).contains("invalid"), "{what}: {}", text(&out));
    }

    let pods = dir.path().join("pods.yaml");
    std::fs::write(dir.path().join("ok.yaml"), &yaml).unwrap();
    let out = node_knative(&dir.path().join("ok.yaml"), Some(&pods));
    assert!(out.status.success(), "{}", text(&out));
    let broken_pods = std::fs::read_to_string(&pods).unwrap().replacen(
        "image: x/faasml:1",
        "image: x/faasml:1\n    imagePullPolicee: Always",
        1,
    );
    std::fs::write(&pods, broken_pods).unwrap();
    let out = kubernetes_validate(&pods);
    assert!(
        !out.status.success(),
        "kubernetes-validate --strict accepted an unknown field:\n{}",
        text(&out)
    );
}

#[test]
fn deploy_refuses_credentials_in_urls() {
    let out = faasml(&[
        "deploy",
        "knative",
        "--image",
        "x/faasml:1",
        "--state",
        "redis://:hunter2@redis:6379/",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("carries credentials"), "{stderr}");
    assert!(!stderr.contains("hunter2"), "{stderr}");
}

// The OpenFaaS stack file format, after faas-cli's `stack/schema.go` (`Services`, `Provider`,
// `Function`): every field faas-cli knows, and nothing else (deny_unknown_fields).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StackFile {
    version: String,
    provider: StackProvider,
    functions: BTreeMap<String, StackFunction>,
    configuration: Option<serde_yaml_ng::Value>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StackProvider {
    name: String,
    gateway: String,
    network: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StackFunction {
    lang: Option<String>,
    handler: Option<String>,
    image: String,
    registry_auth: Option<String>,
    fprocess: Option<String>,
    #[serde(default)]
    environment: BTreeMap<String, String>,
    #[serde(default)]
    secrets: Vec<String>,
    skip_build: Option<bool>,
    constraints: Option<Vec<String>>,
    environment_file: Option<Vec<String>>,
    #[serde(default)]
    labels: BTreeMap<String, String>,
    limits: Option<StackResources>,
    requests: Option<StackResources>,
    readonly_root_filesystem: Option<bool>,
    build_options: Option<Vec<String>>,
    build_args: Option<BTreeMap<String, String>>,
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    namespace: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
struct StackResources {
    memory: Option<String>,
    cpu: Option<String>,
}

fn is_dns_label(name: &str) -> bool {
    let ok_chars = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    ok_chars && (1..=63).contains(&name.len()) && !name.starts_with('-') && !name.ends_with('-')
}

#[test]
fn openfaas_stack_matches_the_stack_schema() {
    let yaml = stdout_of(&[
        "deploy",
        "openfaas",
        "--image",
        "x/faasml:1",
        "--gateway",
        "https://faas.example.com",
        "--store",
        "s3://bucket/prefix",
        "--secret",
        "s3-creds",
    ]);
    let stack: StackFile = serde_yaml_ng::from_str(&yaml)
        .unwrap_or_else(|e| panic!("not a valid stack.yml: {e}\n{yaml}"));
    assert_eq!(stack.version, "1.0");
    assert_eq!(stack.provider.name, "openfaas");
    assert_eq!(stack.provider.gateway, "https://faas.example.com");
    let names: Vec<&str> = stack.functions.keys().map(String::as_str).collect();
    assert_eq!(names, FUNCTIONS);
    for (name, f) in &stack.functions {
        assert!(is_dns_label(name), "{name}");
        assert_eq!(f.image, "x/faasml:1");
        // The signing key is mounted from the secret faasml-key, never inlined.
        assert_eq!(f.secrets, ["s3-creds", "faasml-key"]);
        assert!(!f.environment.contains_key("FAASML_KEY"));
        let min: u32 = f.labels["com.openfaas.scale.min"].parse().unwrap();
        let max: u32 = f.labels["com.openfaas.scale.max"].parse().unwrap();
        assert!(1 <= min && min <= max);
        assert_eq!(f.environment["FAASML_STORE"], "s3://bucket/prefix");
        assert_eq!(
            f.environment["FAASML_GATEWAY"],
            "http://gateway.openfaas:8080/function/{function}"
        );
        assert_eq!(f.environment["FAASML_SECRETS_DIR"], "/var/openfaas/secrets");
        assert!(f.environment.keys().all(|k| !k.starts_with("AWS_")));
        assert_eq!(f.annotations["com.openfaas.ready.http.path"], "/readyz");
        assert_eq!(f.annotations["com.openfaas.health.http.path"], "/healthz");
        assert_eq!(
            faasml_like_dns(&f.annotations["faasml.dev/function"]),
            *name
        );
    }
    // The strict types really are strict.
    let typo = yaml.replacen("skip_build:", "skip_biuld:", 1);
    assert!(serde_yaml_ng::from_str::<StackFile>(&typo).is_err());
}

fn faasml_like_dns(function: &str) -> String {
    function.to_ascii_lowercase().replace('.', "-")
}

#[test]
fn dockerfile_output_is_the_committed_dockerfile() {
    let printed = stdout_of(&["deploy", "dockerfile"]);
    let committed = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    assert_eq!(
        printed, committed,
        "deploy/Dockerfile differs from `faasml deploy dockerfile`: regenerate it with `faasml deploy dockerfile > deploy/Dockerfile`"
    );
}

#[test]
fn the_lambda_template_has_a_function_and_topic_per_memory_size_and_passes_cfn_lint() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = stdout_of(&[
        "deploy",
        "lambda",
        "--image",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/faasml:1",
        "--store",
        "s3://bench-bucket/faasml",
        "--memory",
        "128,256,512",
    ]);
    let parsed: serde_yaml_ng::Value = serde_yaml_ng::from_str(&yaml).unwrap();
    let resources = parsed["Resources"].as_mapping().unwrap();
    // The general function, plus one function and one topic per (inference function, size).
    let functions = resources
        .values()
        .filter(|r| r["Type"] == "AWS::Serverless::Function")
        .count();
    let topics = resources
        .values()
        .filter(|r| r["Type"] == "AWS::SNS::Topic")
        .count();
    assert!(
        functions > 3 * 6,
        "{functions} functions: one general, then 3 per inference function"
    );
    assert_eq!(topics, functions - 1);
    let kmeans = &parsed["Resources"]["TextInferenceKMeans256"]["Properties"];
    assert_eq!(kmeans["MemorySize"].as_u64(), Some(256));
    assert_eq!(
        kmeans["Environment"]["Variables"]["FAASML_FUNCTION"].as_str(),
        Some("text-inference.k-means")
    );
    let file = dir.path().join("template.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let out = Command::new("cfn-lint")
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run cfn-lint ({e}): run .ci/validators.sh"));
    assert!(out.status.success(), "cfn-lint: {}{}", text(&out), yaml);
    // Below Lambda's range, or a pattern that matches nothing: a usage error.
    let small = faasml(&["deploy", "lambda", "--image", "r/f:1", "--memory", "64"]);
    assert_eq!(small.status.code(), Some(2), "{}", text(&small));
    assert!(text(&small).contains("64 MB"), "{}", text(&small));
    let none = faasml(&[
        "deploy",
        "lambda",
        "--image",
        "r/f:1",
        "--functions",
        "nope.*",
    ]);
    assert_eq!(none.status.code(), Some(2), "{}", text(&none));
}
