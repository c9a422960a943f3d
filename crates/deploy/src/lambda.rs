//! AWS Lambda: a SAM template for one container-image function running `faasml lambda`, plus,
//! for a benchmark over memory sizes, one function per (faasml function, memory size), each
//! triggered by its own SNS topic ([`sam_template_with`]).
//!
//! The image is the worker image with `lambda` as its command; the function's role gives it S3,
//! so no `AWS_*` secret is needed. The key that signs invocations reaches the sandbox as
//! `FAASML_KEY` through a CloudFormation dynamic reference to the Secrets Manager secret
//! `faasml-key`, resolved at deploy time: the template holds the reference, never the key.

use serde_yaml_ng::{Mapping, Value};

use crate::{DeployError, KEY_ENV, KEY_SECRET, Worker};

/// The dynamic reference that gives the sandbox its key.
pub fn key_reference() -> String {
    format!("{{{{resolve:secretsmanager:{KEY_SECRET}:SecretString}}}}")
}

fn map<const N: usize>(entries: [(&str, Value); N]) -> Value {
    Value::Mapping(
        entries
            .into_iter()
            .map(|(k, v)| (Value::String(k.to_owned()), v))
            .collect::<Mapping>(),
    )
}

fn text(s: &str) -> Value {
    Value::String(s.to_owned())
}

/// The SAM template (YAML) deploying `worker`'s image as one Lambda function, with
/// `memory_mb` of memory and a `timeout_s` timeout.
pub fn sam_template(
    worker: &Worker,
    memory_mb: u32,
    timeout_s: u32,
) -> Result<String, DeployError> {
    sam_template_with(worker, memory_mb, timeout_s, &[])
}

/// One Lambda function serving one faasml function at one memory size, triggered by its own SNS
/// topic (the seed's layout: one function per algorithm and memory size, a publisher sending
/// each batch to a topic).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SizedFunction {
    /// The faasml function (`text-inference.k-means`).
    pub function: String,
    /// Its memory size, MB (128 to 10,240, Lambda's range).
    pub memory_mb: u32,
}

impl SizedFunction {
    /// The CloudFormation logical id: the function name in CamelCase plus the memory size,
    /// `TextInferenceKMeans128`.
    pub fn logical_id(&self) -> String {
        let mut id = String::new();
        for part in self.function.split(|c: char| !c.is_ascii_alphanumeric()) {
            let mut chars = part.chars();
            if let Some(first) = chars.next() {
                id.push(first.to_ascii_uppercase());
                id.extend(chars);
            }
        }
        format!("{id}{}", self.memory_mb)
    }
}

/// Lambda's memory range, MB.
pub const MEMORY_RANGE_MB: std::ops::RangeInclusive<u32> = 128..=10_240;

/// [`sam_template`] plus one function, SNS topic and subscription per entry of `sized`; each such
/// function has `FAASML_FUNCTION` set, so it serves only its faasml function.
pub fn sam_template_with(
    worker: &Worker,
    memory_mb: u32,
    timeout_s: u32,
    sized: &[SizedFunction],
) -> Result<String, DeployError> {
    worker.check()?;
    for m in std::iter::once(memory_mb).chain(sized.iter().map(|s| s.memory_mb)) {
        if !MEMORY_RANGE_MB.contains(&m) {
            return Err(DeployError::BadMemory(format!(
                "memory size {m} MB is outside Lambda's {}..={} MB",
                MEMORY_RANGE_MB.start(),
                MEMORY_RANGE_MB.end()
            )));
        }
    }
    let variables = |only: Option<&str>| {
        let mut variables = vec![(KEY_ENV, text(&key_reference()))];
        if let Some(store) = &worker.store {
            variables.push(("FAASML_STORE", text(store)));
        }
        if let Some(state) = &worker.state {
            variables.push(("FAASML_STATE", text(state)));
        }
        if let Some(only) = only {
            variables.push(("FAASML_FUNCTION", text(only)));
        }
        Value::Mapping(
            variables
                .into_iter()
                .map(|(k, v)| (text(k), v))
                .collect::<Mapping>(),
        )
    };
    let function = |memory: u32, only: Option<&str>, events: Option<Value>| {
        let mut properties = vec![
            ("PackageType", text("Image")),
            ("ImageUri", text(&worker.image)),
            (
                "ImageConfig",
                map([("Command", Value::Sequence(vec![text("lambda")]))]),
            ),
            ("MemorySize", Value::Number(memory.into())),
            ("Timeout", Value::Number(timeout_s.into())),
            ("Environment", map([("Variables", variables(only))])),
        ];
        if let Some(events) = events {
            properties.push(("Events", events));
        }
        map([
            ("Type", text("AWS::Serverless::Function")),
            (
                "Properties",
                Value::Mapping(
                    properties
                        .into_iter()
                        .map(|(k, v)| (text(k), v))
                        .collect::<Mapping>(),
                ),
            ),
        ])
    };
    let mut resources = Mapping::new();
    resources.insert(text("Faasml"), function(memory_mb, None, None));
    let mut outputs = Mapping::new();
    for s in sized {
        let id = s.logical_id();
        let topic = format!("{id}Topic");
        resources.insert(
            text(&topic),
            map([
                ("Type", text("AWS::SNS::Topic")),
                ("Properties", map([("TopicName", text(&topic))])),
            ]),
        );
        let events = map([(
            "Batches",
            map([
                ("Type", text("SNS")),
                ("Properties", map([("Topic", map([("Ref", text(&topic))]))])),
            ]),
        )]);
        resources.insert(
            text(&id),
            function(s.memory_mb, Some(&s.function), Some(events)),
        );
        outputs.insert(
            text(&topic),
            map([
                (
                    "Description",
                    text(&format!(
                        "publish batches for {} at {} MB here",
                        s.function, s.memory_mb
                    )),
                ),
                ("Value", map([("Ref", text(&topic))])),
            ]),
        );
    }
    let mut template = vec![
        ("AWSTemplateFormatVersion", text("2010-09-09")),
        ("Transform", text("AWS::Serverless-2016-10-31")),
        (
            "Description",
            text("faasml functions behind the Lambda runtime API (faasml lambda)"),
        ),
        ("Resources", Value::Mapping(resources)),
    ];
    if !outputs.is_empty() {
        template.push(("Outputs", Value::Mapping(outputs)));
    }
    let template = Value::Mapping(
        template
            .into_iter()
            .map(|(k, v)| (text(k), v))
            .collect::<Mapping>(),
    );
    serde_yaml_ng::to_string(&template).map_err(|e| DeployError::Yaml(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_key_is_a_secrets_manager_reference_never_a_value() {
        let worker = Worker::new("123.dkr.ecr.us-east-1.amazonaws.com/faasml:1").store("s3://b/p");
        let yaml = sam_template(&worker, 2048, 900).unwrap();
        let parsed: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let variables = &parsed["Resources"]["Faasml"]["Properties"]["Environment"]["Variables"];
        assert_eq!(
            variables["FAASML_KEY"].as_str(),
            Some("{{resolve:secretsmanager:faasml-key:SecretString}}")
        );
        assert_eq!(variables["FAASML_STORE"].as_str(), Some("s3://b/p"));
        assert_eq!(
            parsed["Resources"]["Faasml"]["Properties"]["ImageConfig"]["Command"][0].as_str(),
            Some("lambda")
        );
        assert!(!yaml.contains("AWS_SECRET_ACCESS_KEY"));
        assert!(sam_template(&Worker::new("bad image"), 128, 3).is_err());
    }

    #[test]
    fn sized_functions_get_their_memory_topic_and_function() {
        let worker = Worker::new("123.dkr.ecr.us-east-1.amazonaws.com/faasml:1");
        let sized: Vec<SizedFunction> = [128, 512]
            .into_iter()
            .map(|memory_mb| SizedFunction {
                function: "text-inference.k-means".into(),
                memory_mb,
            })
            .collect();
        assert_eq!(sized[0].logical_id(), "TextInferenceKMeans128");
        let yaml = sam_template_with(&worker, 1024, 60, &sized).unwrap();
        let parsed: Value = serde_yaml_ng::from_str(&yaml).unwrap();
        let f = &parsed["Resources"]["TextInferenceKMeans512"]["Properties"];
        assert_eq!(f["MemorySize"].as_u64(), Some(512));
        assert_eq!(
            f["Environment"]["Variables"]["FAASML_FUNCTION"].as_str(),
            Some("text-inference.k-means")
        );
        assert_eq!(
            f["Events"]["Batches"]["Properties"]["Topic"]["Ref"].as_str(),
            Some("TextInferenceKMeans512Topic")
        );
        assert_eq!(
            parsed["Resources"]["TextInferenceKMeans512Topic"]["Type"].as_str(),
            Some("AWS::SNS::Topic")
        );
        let small = SizedFunction {
            function: "f".into(),
            memory_mb: 64,
        };
        let e = sam_template_with(&worker, 1024, 60, &[small]).unwrap_err();
        assert!(e.to_string().contains("64 MB"), "{e}");
    }
}
