//! The base models of a stacking run: the seed's four (round-robin over the trainers) or a
//! `--models` list, each entry an algorithm name with optional settings:
//!
//! ```text
//! linear-svr,lasso:alpha=0.05,random-forest-regressor:n_trees=8:max_depth=4,knn-regressor:k=10
//! ```
//!
//! An entry is `name[:key=value]...`; values are numbers, `true`/`false`, or text. Trainer `i`
//! fits entry `i mod len`. Every entry is parsed into a [`faasml_ml::Algorithm`] and checked
//! (known name, known settings, valid values, within [`crate::kit::limits`]) where the
//! parameters enter, so a bad entry fails before any training.

use faasml_ml::{Algorithm, Task};
use serde_json::{Map, Value};

use crate::error::{Result, WorkflowError};
use crate::kit::limits;

/// The seed's base models, in its order: LinearSVR (C 1, epsilon 0, tol 1e-6), Lasso (alpha
/// 0.1), random-forest regressor (2 trees, depth 2, min split 2, min leaf 2), k-nearest
/// neighbours (k 20).
pub const SEED_MODELS: &str = "linear-svr:c=1:epsilon=0:tol=0.000001,lasso:alpha=0.1,\
random-forest-regressor:n_trees=2:max_depth=2:min_samples_split=2:min_samples_leaf=2:seed=42,\
knn-regressor:k=20";

/// One entry of a models list as JSON (`{"algorithm": name, settings...}`).
fn entry_json(entry: &str) -> Result<Value> {
    let mut parts = entry.split(':');
    let name = parts.next().unwrap_or_default().trim();
    if name.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "--models entry '{entry}' has no algorithm name (known: {})",
            Algorithm::names().join(", ")
        )));
    }
    let mut object = Map::new();
    object.insert("algorithm".into(), Value::String(name.to_string()));
    for setting in parts {
        let Some((key, value)) = setting.split_once('=') else {
            return Err(WorkflowError::InvalidParams(format!(
                "--models entry '{entry}': setting '{setting}' is not key=value"
            )));
        };
        let value = value.trim();
        let parsed = serde_json::from_str::<Value>(value)
            .ok()
            .filter(|v| v.is_number() || v.is_boolean())
            .unwrap_or_else(|| Value::String(value.to_string()));
        object.insert(key.trim().to_string(), parsed);
    }
    Ok(Value::Object(object))
}

/// Checks the settings that scale an algorithm's work against [`limits`].
fn check_limits(entry: &str, json: &Value) -> Result<()> {
    let number = |key: &str| json.get(key).and_then(Value::as_u64);
    let bounded = [
        ("n_trees", limits::TREES),
        ("max_depth", limits::DEPTH),
        ("max_iter", limits::ITERATIONS),
        ("epochs", limits::EPOCHS),
        ("batch_size", limits::BATCH),
    ];
    for (key, max) in bounded {
        if let Some(v) = number(key) {
            limits::at_most(&format!("{key} of '{entry}'"), v as usize, max)?;
        }
    }
    if let Some(hidden) = json.get("hidden").and_then(Value::as_array) {
        for width in hidden.iter().filter_map(Value::as_u64) {
            limits::at_most(
                &format!("a hidden layer of '{entry}'"),
                width as usize,
                limits::LAYER_WIDTH,
            )?;
        }
    }
    Ok(())
}

/// Checks an algorithm a stage received (a request may name any settings): valid, and within
/// [`limits`].
pub fn check_received(algorithm: &Algorithm) -> Result<()> {
    let json = serde_json::to_value(algorithm).map_err(|e| {
        WorkflowError::InvalidParams(format!("cannot read the algorithm's settings: {e}"))
    })?;
    check_limits(algorithm.name(), &json)?;
    algorithm.check()?;
    Ok(())
}

/// Parses and checks a models list.
pub fn parse(list: &str) -> Result<Vec<Algorithm>> {
    let entries: Vec<&str> = list
        .split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .collect();
    if entries.is_empty() {
        return Err(WorkflowError::InvalidParams(format!(
            "--models is empty: give at least one algorithm (known: {})",
            Algorithm::names().join(", ")
        )));
    }
    entries
        .into_iter()
        .map(|entry| {
            let json = entry_json(entry)?;
            check_limits(entry, &json)?;
            let algorithm: Algorithm = serde_json::from_value(json).map_err(|e| {
                WorkflowError::InvalidParams(format!(
                    "--models entry '{entry}': {e} (known algorithms: {})",
                    Algorithm::names().join(", ")
                ))
            })?;
            algorithm.check().map_err(|e| {
                WorkflowError::InvalidParams(format!("--models entry '{entry}': {e}"))
            })?;
            if !matches!(algorithm.task(), Task::Regression | Task::Classification) {
                return Err(WorkflowError::InvalidParams(format!(
                    "--models entry '{entry}': {} transforms or clusters rows and predicts no \
                     target; a base model must be a regressor or a binary classifier",
                    algorithm.name()
                )));
            }
            Ok(algorithm)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_parse_with_settings_and_fail_clearly() {
        let models = parse("random-forest-regressor:n_trees=3:max_depth=2, decision-tree").unwrap();
        assert_eq!(models.len(), 2);
        assert_eq!(models[0].name(), "random-forest-regressor");
        let json = serde_json::to_value(&models[0]).unwrap();
        assert_eq!(json["n_trees"], 3);
        assert_eq!(models[1].name(), "decision-tree");

        let err = parse("gradient-magic").unwrap_err().to_string();
        assert!(
            err.contains("gradient-magic") && err.contains("known"),
            "{err}"
        );
        let err = parse("random-forest-regressor:n_tree=3")
            .unwrap_err()
            .to_string();
        assert!(err.contains("n_tree"), "{err}");
        let err = parse("random-forest-regressor:n_trees=0")
            .unwrap_err()
            .to_string();
        assert!(err.contains("n_trees"), "{err}");
        let err = parse("random-forest-regressor:n_trees")
            .unwrap_err()
            .to_string();
        assert!(err.contains("not key=value"), "{err}");
        let err = parse("random-forest-regressor:n_trees=1000000000")
            .unwrap_err()
            .to_string();
        assert!(err.contains("above the limit"), "{err}");
        for name in ["pca", "k-means"] {
            let err = parse(name).unwrap_err().to_string();
            assert!(err.contains("predicts no target"), "{err}");
        }
        assert!(parse(" , ").unwrap_err().to_string().contains("empty"));

        // What a stage receives is checked the same way, whoever sent it.
        let crafted: Algorithm = serde_json::from_str(
            r#"{"algorithm": "random-forest-regressor", "n_trees": 1000000000}"#,
        )
        .unwrap();
        let err = check_received(&crafted).unwrap_err().to_string();
        assert!(err.contains("above the limit"), "{err}");
        check_received(&parse(SEED_MODELS).unwrap()[2]).unwrap();
    }
}
