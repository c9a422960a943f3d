//! AWS Lambda: a SAM template for one container-image function running `faasml lambda`.
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
    worker.check()?;
    let mut variables = vec![(KEY_ENV, text(&key_reference()))];
    if let Some(store) = &worker.store {
        variables.push(("FAASML_STORE", text(store)));
    }
    if let Some(state) = &worker.state {
        variables.push(("FAASML_STATE", text(state)));
    }
    let variables = Value::Mapping(
        variables
            .into_iter()
            .map(|(k, v)| (text(k), v))
            .collect::<Mapping>(),
    );
    let function = map([
        ("Type", text("AWS::Serverless::Function")),
        (
            "Properties",
            map([
                ("PackageType", text("Image")),
                ("ImageUri", text(&worker.image)),
                (
                    "ImageConfig",
                    map([("Command", Value::Sequence(vec![text("lambda")]))]),
                ),
                ("MemorySize", Value::Number(memory_mb.into())),
                ("Timeout", Value::Number(timeout_s.into())),
                ("Environment", map([("Variables", variables)])),
            ]),
        ),
    ]);
    let template = map([
        ("AWSTemplateFormatVersion", text("2010-09-09")),
        ("Transform", text("AWS::Serverless-2016-10-31")),
        (
            "Description",
            text("faasml functions behind the Lambda runtime API (faasml lambda)"),
        ),
        ("Resources", map([("Faasml", function)])),
    ]);
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
}
