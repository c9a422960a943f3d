//! cgroup v2 (the unified hierarchy): one directory with `memory.max`, `memory.swap.max` 0,
//! `memory.oom.group` 1 and `cpu.max`. Every cgroup above it must delegate the memory and cpu
//! controllers (`+memory +cpu` in `cgroup.subtree_control`), which the kernel refuses for a
//! non-root cgroup that holds processes, so the caller's own cgroup often cannot serve as a
//! base and the hierarchy's root is tried next.

use std::path::Path;

use super::{Cgroup, PARENT, discard, make_unique, sweep_stale};
use crate::host;
use crate::{ConfineError, Limits, fs};

/// The period written to `cpu.max`, in microseconds.
const PERIOD_US: u64 = super::v1::PERIOD_US;

/// Makes the sandbox cgroup, or says why it could not.
pub(crate) fn create(unique: &str, limits: &Limits) -> Result<Cgroup, String> {
    let mounts = host::cgroup_mounts();
    let mount = mounts
        .iter()
        .find(|m| m.v2)
        .ok_or("no cgroup2 file system is mounted")?;
    let available = controllers(&mount.point.join("cgroup.controllers"))
        .map_err(|e| format!("cgroup v2: {e}"))?;
    if !has_both(&available) {
        return Err(format!(
            "the cgroup2 hierarchy at {} offers controllers [{}], not memory and cpu \
             (on a hybrid host they are bound to cgroup v1)",
            mount.point.display(),
            available.join(" ")
        ));
    }
    let own = host::own_cgroup(None);
    let memory_max = limits.memory_bytes.to_string();
    let cpu_max = format!("{} {PERIOD_US}", super::v1::quota_us(limits.cpus));
    let mut reasons = Vec::new();
    for base in host::bases(mount, own.as_deref()) {
        let parent = base.join(PARENT);
        if base != mount.point {
            sweep_stale(&parent);
        }
        let made = delegate(&base)
            .and_then(|()| make_unique(&parent, unique, &delegate))
            .and_then(|dir| match configure(&dir, &memory_max, &cpu_max) {
                Ok(()) => Ok(dir),
                Err(e) => {
                    discard(&dir, &parent);
                    Err(e)
                }
            });
        match made {
            Ok(dir) => {
                return Ok(Cgroup {
                    dirs: vec![dir],
                    parents: vec![parent],
                    v2: true,
                });
            }
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(format!("cgroup v2: {}", reasons.join("; ")))
}

fn configure(dir: &Path, memory_max: &str, cpu_max: &str) -> Result<(), ConfineError> {
    // A directory made under a parent without delegation has no memory.max: say so plainly.
    let present = controllers(&dir.join("cgroup.controllers"))?;
    if !has_both(&present) {
        return Err(ConfineError::Parse {
            path: dir.join("cgroup.controllers"),
            content: present.join(" "),
        });
    }
    fs::write(&dir.join("memory.max"), memory_max)?;
    let swap = dir.join("memory.swap.max");
    if swap.exists() {
        fs::write(&swap, "0")?;
    }
    // Kill the whole sandbox on an out-of-memory kill, as Lambda ends the whole runtime.
    let group = dir.join("memory.oom.group");
    if group.exists() {
        let _ = fs::write(&group, "1");
    }
    fs::write(&dir.join("cpu.max"), cpu_max)
}

/// Makes the memory and cpu controllers available to the children of `dir`.
fn delegate(dir: &Path) -> Result<(), ConfineError> {
    let file = dir.join("cgroup.subtree_control");
    let enabled = controllers(&file)?;
    for c in ["memory", "cpu"] {
        if !enabled.iter().any(|e| e == c) {
            fs::write(&file, &format!("+{c}"))?;
        }
    }
    Ok(())
}

fn controllers(file: &Path) -> Result<Vec<String>, ConfineError> {
    Ok(fs::read(file)?
        .split_whitespace()
        .map(str::to_owned)
        .collect())
}

fn has_both(controllers: &[String]) -> bool {
    ["memory", "cpu"]
        .iter()
        .all(|c| controllers.iter().any(|x| x == c))
}
