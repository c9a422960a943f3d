//! cgroup v1: one directory in the `memory` hierarchy and one in the `cpu` hierarchy (the same
//! one when they are co-mounted), with `memory.limit_in_bytes` (and `memory.memsw.limit_in_bytes`
//! so that swap cannot hide the limit) and a CFS quota.

use std::path::{Path, PathBuf};

use super::{Cgroup, PARENT, discard, make_unique, sweep_stale};
use crate::host::{self, CgroupMount};
use crate::{ConfineError, Limits, fs};

/// The CFS period written to `cpu.cfs_period_us`, in microseconds.
pub(crate) const PERIOD_US: u64 = 100_000;

/// Makes the sandbox cgroup, or says why it could not.
pub(crate) fn create(unique: &str, limits: &Limits) -> Result<Cgroup, String> {
    let mounts = host::cgroup_mounts();
    let memory = mounts
        .iter()
        .find(|m| m.has_controller("memory"))
        .ok_or("no cgroup v1 hierarchy with the memory controller is mounted")?;
    let cpu = mounts
        .iter()
        .find(|m| m.has_controller("cpu"))
        .ok_or("no cgroup v1 hierarchy with the cpu controller is mounted")?;
    let mut cgroup = Cgroup {
        dirs: Vec::new(),
        parents: Vec::new(),
        v2: false,
    };
    let memory_limit = limits.memory_bytes.to_string();
    let set_memory = |dir: &Path| -> Result<(), ConfineError> {
        fs::write(&dir.join("memory.limit_in_bytes"), &memory_limit)?;
        let memsw = dir.join("memory.memsw.limit_in_bytes");
        if memsw.exists() {
            fs::write(&memsw, &memory_limit)?;
        }
        // Not every kernel lets a non-root cgroup set swappiness; the memsw limit is what
        // matters, so a refusal here is not an error.
        let _ = fs::write(&dir.join("memory.swappiness"), "0");
        Ok(())
    };
    let quota = quota_us(limits.cpus).to_string();
    let set_cpu = |dir: &Path| -> Result<(), ConfineError> {
        fs::write(&dir.join("cpu.cfs_period_us"), &PERIOD_US.to_string())?;
        fs::write(&dir.join("cpu.cfs_quota_us"), &quota)
    };
    if memory.point == cpu.point {
        let both = |dir: &Path| set_memory(dir).and_then(|()| set_cpu(dir));
        place(memory, "memory", unique, &both, &mut cgroup)?;
    } else {
        place(memory, "memory", unique, &set_memory, &mut cgroup)?;
        place(cpu, "cpu", unique, &set_cpu, &mut cgroup)?;
    }
    Ok(cgroup)
}

/// The CFS quota for a CPU share: `cpus` periods' worth, at least the kernel's 1 ms minimum.
pub(crate) fn quota_us(cpus: f64) -> u64 {
    ((cpus * PERIOD_US as f64).round() as u64).max(1000)
}

/// Makes and configures the sandbox directory in one hierarchy, trying the caller's own cgroup
/// first and the hierarchy's root second. On success it is added to `cgroup` (which removes it
/// on drop); on failure the reasons for every base are returned.
fn place(
    mount: &CgroupMount,
    controller: &str,
    unique: &str,
    configure: &dyn Fn(&Path) -> Result<(), ConfineError>,
    cgroup: &mut Cgroup,
) -> Result<(), String> {
    let own = host::own_cgroup(Some(controller));
    let mut reasons = Vec::new();
    for base in host::bases(mount, own.as_deref()) {
        let parent: PathBuf = base.join(PARENT);
        if base != mount.point {
            sweep_stale(&parent);
        }
        let made =
            make_unique(&parent, unique, &|_| Ok(())).and_then(|dir| match configure(&dir) {
                Ok(()) => Ok(dir),
                Err(e) => {
                    discard(&dir, &parent);
                    Err(e)
                }
            });
        match made {
            Ok(dir) => {
                cgroup.dirs.push(dir);
                cgroup.parents.push(parent);
                return Ok(());
            }
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(format!("cgroup v1 {controller}: {}", reasons.join("; ")))
}
