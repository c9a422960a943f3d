//! `faasml deploy`: print deployment manifests (Knative Services, an OpenFaaS stack.yml) for
//! every registered function, and the worker Dockerfile, to stdout.

use std::io::Write;

use anyhow::{Context, Result};
use clap::{Args, Subcommand};
use faasml_deploy::knative::{self, KnativeOptions};
use faasml_deploy::openfaas::{self, OpenFaasOptions};
use faasml_deploy::{DEFAULT_SECRET, Worker, dockerfile};

/// `deploy` subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum DeployCommand {
    /// One Knative Service per function, as multi-document YAML (pipe to `kubectl apply -f -`).
    Knative(KnativeArgs),
    /// An OpenFaaS stack.yml with one function per faasml function (for `faas-cli deploy`).
    Openfaas(OpenFaasArgs),
    /// An AWS SAM template: one function serving every faasml function, plus one function per
    /// (inference function, memory size), each triggered by its own SNS topic.
    Lambda(LambdaArgs),
    /// The worker image's Dockerfile (the same as deploy/Dockerfile).
    Dockerfile,
}

/// What every worker gets, on any platform.
#[derive(Debug, Args)]
pub(crate) struct WorkerArgs {
    /// Worker image, e.g. registry.example.com/faasml:1 (build it with deploy/Dockerfile).
    #[arg(long)]
    image: String,
    /// Object store of the workers (FAASML_STORE), e.g. s3://bucket/prefix.
    #[arg(long)]
    store: Option<String>,
    /// State store of the workers (FAASML_STATE), e.g. redis://redis.faasml:6379/.
    #[arg(long)]
    state: Option<String>,
    /// Secret holding AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_ENDPOINT_URL, AWS_REGION...
    #[arg(long, default_value = DEFAULT_SECRET)]
    secret: String,
}

impl WorkerArgs {
    fn worker(&self) -> Worker {
        let mut worker = Worker::new(&self.image).secret(&self.secret);
        worker.store = self.store.clone();
        worker.state = self.state.clone();
        worker
    }

    fn warn(&self) {
        if self.store.is_none() {
            eprintln!(
                "warning: no --store: the workers use FAASML_STORE from the secret '{}' if it has one, else a local directory no other pod sees",
                self.secret
            );
        }
    }
}

/// Options of `deploy knative`.
#[derive(Debug, Args)]
pub(crate) struct KnativeArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Namespace of the Services.
    #[arg(long, default_value = "faasml")]
    namespace: String,
    /// Fewest instances per function (0: scale to zero).
    #[arg(long, default_value_t = 0)]
    min_scale: u32,
    /// Most instances per function (0: unbounded).
    #[arg(long, default_value_t = 10)]
    max_scale: u32,
    /// Invocations one instance serves at once (containerConcurrency; 0: unbounded).
    #[arg(long, default_value_t = 1)]
    concurrency: u32,
    /// Autoscaling target of concurrent requests per instance (default: --concurrency).
    #[arg(long)]
    target: Option<u32>,
    /// Request timeout of the functions, in seconds.
    #[arg(long, default_value_t = 300)]
    timeout: u32,
    /// Request timeout of the drivers, in seconds (above 600 needs max-revision-timeout-seconds
    /// raised in Knative's config-defaults).
    #[arg(long, default_value_t = knative::MAX_REVISION_TIMEOUT_SECONDS)]
    driver_timeout: u32,
    /// Make every function but the drivers reachable only inside the cluster.
    #[arg(long)]
    private_stages: bool,
}

/// Options of `deploy openfaas`.
#[derive(Debug, Args)]
pub(crate) struct OpenFaasArgs {
    #[command(flatten)]
    worker: WorkerArgs,
    /// Gateway faas-cli deploys to (provider.gateway).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    gateway: String,
    /// Gateway the workers call each other through, from inside the cluster.
    #[arg(long, default_value = openfaas::IN_CLUSTER_GATEWAY)]
    in_cluster_gateway: String,
    /// Function namespace (default: OpenFaaS's openfaas-fn).
    #[arg(long)]
    namespace: Option<String>,
    /// com.openfaas.scale.min.
    #[arg(long, default_value_t = 1)]
    min_scale: u32,
    /// com.openfaas.scale.max.
    #[arg(long, default_value_t = 10)]
    max_scale: u32,
}

/// Options of `deploy lambda`.
#[derive(Debug, Args)]
pub(crate) struct LambdaArgs {
    /// Worker image in ECR, e.g. 123456789012.dkr.ecr.us-east-1.amazonaws.com/faasml:1.
    #[arg(long)]
    image: String,
    /// Object store of the functions (FAASML_STORE), e.g. s3://bucket/prefix.
    #[arg(long)]
    store: Option<String>,
    /// State store of the functions (FAASML_STATE).
    #[arg(long)]
    state: Option<String>,
    /// Memory sizes in MB: one function per (sized function, memory size).
    #[arg(long, value_delimiter = ',', default_value = "128,256,512")]
    memory: Vec<u32>,
    /// The functions deployed once per memory size: names, or prefixes ending with `*`.
    #[arg(long, value_delimiter = ',', default_value = "text-inference.*")]
    functions: Vec<String>,
    /// Memory of the function serving everything else (drivers, training), MB.
    #[arg(long, default_value_t = 2048)]
    default_memory: u32,
    /// Timeout of every function, seconds (Lambda allows up to 900).
    #[arg(long, default_value_t = 900)]
    timeout: u32,
}

/// The registered stage functions `patterns` name (`name`, or `prefix*`), drivers excluded.
fn sized_functions(
    functions: &[faasml_deploy::FunctionSpec],
    patterns: &[String],
    memory: &[u32],
) -> Result<Vec<faasml_deploy::lambda::SizedFunction>> {
    let mut out = Vec::new();
    for pattern in patterns {
        let matched: Vec<&faasml_deploy::FunctionSpec> = functions
            .iter()
            .filter(|f| !f.driver)
            .filter(|f| match pattern.strip_suffix('*') {
                Some(prefix) => f.name.starts_with(prefix),
                None => f.name == pattern,
            })
            .collect();
        if matched.is_empty() {
            return Err(crate::UsageError(format!(
                "--functions {pattern}: no registered function matches (see `faasml serve` or the \
                 README's function list)"
            ))
            .into());
        }
        for f in matched {
            for &memory_mb in memory {
                out.push(faasml_deploy::lambda::SizedFunction {
                    function: f.name.to_string(),
                    memory_mb,
                });
            }
        }
    }
    Ok(out)
}

pub(crate) async fn run(command: DeployCommand) -> Result<()> {
    let registry = crate::registry();
    let functions: Vec<faasml_deploy::FunctionSpec> = registry.specs().cloned().collect();
    let text = match command {
        DeployCommand::Knative(args) => {
            args.worker.warn();
            let mut options = KnativeOptions::new(args.worker.worker());
            options.namespace = args.namespace;
            options.min_scale = args.min_scale;
            options.max_scale = args.max_scale;
            options.concurrency = args.concurrency;
            options.target = args.target;
            options.timeout_seconds = args.timeout;
            options.driver_timeout_seconds = args.driver_timeout;
            options.private_stages = args.private_stages;
            knative::to_yaml(&functions, &options)?
        }
        DeployCommand::Openfaas(args) => {
            args.worker.warn();
            let mut options = OpenFaasOptions::new(args.worker.worker());
            options.gateway = args.gateway;
            options.in_cluster_gateway = args.in_cluster_gateway;
            options.namespace = args.namespace;
            options.min_scale = args.min_scale;
            options.max_scale = args.max_scale;
            openfaas::to_yaml(&functions, &options)?
        }
        DeployCommand::Lambda(args) => {
            let mut worker = Worker::new(&args.image);
            worker.store = args.store.clone();
            worker.state = args.state.clone();
            let sized = sized_functions(&functions, &args.functions, &args.memory)?;
            faasml_deploy::lambda::sam_template_with(
                &worker,
                args.default_memory,
                args.timeout,
                &sized,
            )
            .map_err(|e| crate::UsageError(e.to_string()))?
        }
        DeployCommand::Dockerfile => dockerfile::DOCKERFILE.to_owned(),
    };
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("cannot write to stdout")
}
