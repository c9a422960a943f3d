//! Records the git commit the binary is built from (`FAASML_COMMIT`), for `--version` and run
//! reports. Outside a git checkout (a crates.io build) the commit is `unknown`.

use std::path::Path;
use std::process::Command;

fn main() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let git = root.join(".git");
    // Rebuild when HEAD moves: a checkout changes HEAD, a commit the branch it names. (In a
    // worktree .git is a file and nothing is watched; the commit is then read at each build of
    // this crate.)
    let head = git.join("HEAD");
    if head.is_file() {
        println!("cargo:rerun-if-changed={}", head.display());
        if let Ok(text) = std::fs::read_to_string(&head)
            && let Some(reference) = text.trim().strip_prefix("ref: ")
        {
            let path = git.join(reference);
            if path.exists() {
                println!("cargo:rerun-if-changed={}", path.display());
            }
        }
        let packed = git.join("packed-refs");
        if packed.exists() {
            println!("cargo:rerun-if-changed={}", packed.display());
        }
    }
    let commit = Command::new("git")
        .args(["rev-parse", "--short=12", "HEAD"])
        .current_dir(&root)
        .output()
        .ok()
        .filter(|out| out.status.success())
        .map(|out| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|c| !c.is_empty());
    let commit = commit.unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=FAASML_COMMIT={commit}");
}
