//! Repository hygiene: every Rust file opens with a `//!` doc; ARCHITECTURE.md names every crate
//! of the workspace; a workflow module uses the common ground, never a sibling workflow; and the
//! stated minimum Rust version is what the locked dependencies need.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() && entry.file_name() != "target" {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn every_rust_file_opens_with_a_module_doc() {
    let mut files = Vec::new();
    rust_files(&root().join("crates"), &mut files);
    rust_files(&root().join("examples"), &mut files);
    // The fuzz targets are a workspace of their own, but the same house rule holds.
    rust_files(&root().join("fuzz"), &mut files);
    assert!(files.len() > 20, "found only {} files", files.len());
    let missing: Vec<String> = files
        .iter()
        .filter(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            !text.trim_start().starts_with("//!")
        })
        .map(|f| f.display().to_string())
        .collect();
    assert!(missing.is_empty(), "files without a //! doc: {missing:#?}");
}

#[test]
fn architecture_md_names_every_crate() {
    let architecture = std::fs::read_to_string(root().join("ARCHITECTURE.md")).unwrap();
    let mut crates: Vec<String> = std::fs::read_dir(root().join("crates"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    crates.sort();
    for name in crates {
        assert!(
            architecture.contains(&format!("crates/{name}")),
            "ARCHITECTURE.md does not describe crates/{name}"
        );
    }
}

/// The workflow modules of `crates/workflows/src`: every module that is not the common ground.
fn workflow_modules() -> Vec<String> {
    const COMMON: [&str; 5] = ["data", "kit", "error", "model", "lib"];
    let src = root().join("crates/workflows/src");
    let mut modules: Vec<String> = std::fs::read_dir(&src)
        .unwrap()
        .flatten()
        .map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.trim_end_matches(".rs").to_string()
        })
        .filter(|name| !COMMON.contains(&name.as_str()))
        .collect();
    modules.sort();
    modules
}

#[test]
fn a_workflow_module_never_imports_a_sibling_workflow() {
    let src = root().join("crates/workflows/src");
    let modules = workflow_modules();
    assert!(
        modules.len() >= 3,
        "expected ml_training, ml_inference, downpour: {modules:?}"
    );
    let mut violations = Vec::new();
    for module in &modules {
        let mut files = Vec::new();
        let dir = src.join(module);
        if dir.is_dir() {
            rust_files(&dir, &mut files);
        } else {
            files.push(src.join(format!("{module}.rs")));
        }
        for file in files {
            let text = std::fs::read_to_string(&file).unwrap();
            for sibling in modules.iter().filter(|m| *m != module) {
                for pattern in [
                    format!("crate::{sibling}"),
                    format!("super::{sibling}"),
                    format!("faasml_workflows::{sibling}"),
                ] {
                    if text.contains(&pattern) {
                        violations.push(format!("{} uses {pattern}", file.display()));
                    }
                }
            }
        }
    }
    assert!(
        violations.is_empty(),
        "workflow modules must use the common ground (data, kit, model), not each other: \
         {violations:#?}"
    );
}

/// `1.89` or `1.89.0` as comparable numbers (missing parts are 0).
fn version(text: &str) -> [u64; 3] {
    let mut parts = text.split('.').map(|p| p.parse().unwrap_or(0));
    [(); 3].map(|()| parts.next().unwrap_or(0))
}

#[test]
fn the_minimum_rust_version_covers_the_locked_dependencies() {
    let out = std::process::Command::new(env!("CARGO"))
        .current_dir(root())
        .args([
            "metadata",
            "--format-version",
            "1",
            "--locked",
            "--filter-platform",
            "x86_64-unknown-linux-gnu",
        ])
        .output()
        .expect("cargo metadata runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let packages: std::collections::HashMap<&str, (&str, &str)> = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap(),
                (
                    p["name"].as_str().unwrap(),
                    p["rust_version"].as_str().unwrap_or("0"),
                ),
            )
        })
        .collect();
    let nodes: std::collections::HashMap<&str, Vec<(&str, bool)>> = metadata["resolve"]["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| {
            let deps = n["deps"]
                .as_array()
                .unwrap()
                .iter()
                .map(|d| {
                    let dev_only = d["dep_kinds"]
                        .as_array()
                        .unwrap()
                        .iter()
                        .all(|k| k["kind"] == "dev");
                    (d["pkg"].as_str().unwrap(), dev_only)
                })
                .collect();
            (n["id"].as_str().unwrap(), deps)
        })
        .collect();
    let mut problems = Vec::new();
    for member in metadata["workspace_members"].as_array().unwrap() {
        let member = member.as_str().unwrap();
        let (name, stated) = packages[member];
        // Everything the member needs to build: dev-dependencies are left out at every level
        // (other workspace members list theirs too).
        let mut stack: Vec<&str> = nodes[member]
            .iter()
            .filter(|(_, dev_only)| !dev_only)
            .map(|(id, _)| *id)
            .collect();
        let mut seen = std::collections::HashSet::new();
        while let Some(id) = stack.pop() {
            if !seen.insert(id) {
                continue;
            }
            let (dep, needs) = packages[id];
            if version(needs) > version(stated) {
                problems.push(format!("{name} states {stated} but {dep} needs {needs}"));
            }
            stack.extend(
                nodes[id]
                    .iter()
                    .filter(|(_, dev_only)| !dev_only)
                    .map(|(id, _)| *id),
            );
        }
    }
    assert!(problems.is_empty(), "{problems:#?}");
}

#[test]
fn only_the_store_crate_depends_on_object_store() {
    let mut offenders = Vec::new();
    for dir in ["crates", "examples"] {
        for entry in std::fs::read_dir(root().join(dir)).unwrap().flatten() {
            let manifest = entry.path().join("Cargo.toml");
            let Ok(text) = std::fs::read_to_string(&manifest) else {
                continue;
            };
            let name = entry.file_name().to_string_lossy().into_owned();
            let depends = text
                .lines()
                .any(|l| l.trim_start().starts_with("object_store"));
            if depends && name != "store" {
                offenders.push(manifest.display().to_string());
            }
        }
    }
    assert!(
        offenders.is_empty(),
        "use faasml_store (its Path, Store and builder) instead of object_store: {offenders:?}"
    );
}
