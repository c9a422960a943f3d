//! A sandbox's cgroup, in either version of the cgroup file system: making its directory,
//! reading what the kernel measured, and killing what is left and removing it at the end.

pub(crate) mod v1;
pub(crate) mod v2;

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::{ConfineError, fs};

/// The parent directory, under a base cgroup, that holds every sandbox's cgroup.
pub(crate) const PARENT: &str = "faasml";

/// How long removal waits for killed processes to leave the cgroup.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// One sandbox's cgroup: one directory (v2, or v1 with memory and cpu co-mounted) or two
/// (v1: one in the memory hierarchy, one in the cpu hierarchy).
#[derive(Debug)]
pub(crate) struct Cgroup {
    /// The sandbox's directories; the first one carries the memory controller.
    pub(crate) dirs: Vec<PathBuf>,
    /// The `faasml/` parents, removed when the last sandbox in them goes.
    pub(crate) parents: Vec<PathBuf>,
    /// True for cgroup v2.
    pub(crate) v2: bool,
}

impl Cgroup {
    /// The memory controller's directory.
    pub(crate) fn memory_dir(&self) -> &Path {
        // `dirs` is never empty: both constructors push the memory directory first.
        self.dirs.first().map_or(Path::new("/nonexistent"), |d| d)
    }

    /// The `cgroup.procs` files a child writes itself into, one per hierarchy.
    pub(crate) fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs.iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// Kills every process in the cgroup, waits for them to leave, removes the directories,
    /// then the parents if they are empty. Tries every directory even after a failure and
    /// reports the first failure.
    pub(crate) fn remove(&mut self) -> Result<(), ConfineError> {
        let mut first_error = None;
        for dir in self.dirs.drain(..) {
            if let Err(e) = kill_and_remove(&dir, self.v2) {
                first_error.get_or_insert(e);
            }
        }
        for parent in self.parents.drain(..) {
            // Another sandbox may still live there (EBUSY, ENOTEMPTY): that is fine.
            let _ = std::fs::remove_dir(&parent);
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = self.remove();
    }
}

fn kill_and_remove(dir: &Path, v2: bool) -> Result<(), ConfineError> {
    let kill_file = dir.join("cgroup.kill");
    if v2 && kill_file.exists() {
        let _ = fs::write(&kill_file, "1");
    }
    let procs = dir.join("cgroup.procs");
    let start = Instant::now();
    let me = std::process::id();
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {
                if start.elapsed() > KILL_WAIT {
                    return Err(ConfineError::Busy {
                        path: dir.to_owned(),
                        waited_ms: start.elapsed().as_millis() as u64,
                    });
                }
                for pid in fs::read_pids(&procs).unwrap_or_default() {
                    if pid > 0 && pid as u32 != me {
                        // SAFETY: kill has no memory-safety preconditions.
                        unsafe { libc::kill(pid, libc::SIGKILL) };
                    }
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => return Err(ConfineError::io("remove directory", dir, e)),
        }
    }
}

/// Creates `dir` unless it exists.
pub(crate) fn ensure_dir(dir: &Path) -> Result<(), ConfineError> {
    match std::fs::create_dir(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(ConfineError::io("create directory", dir, e)),
    }
}

/// Creates the sandbox directory `parent/unique`, creating `parent` too. Retries when another
/// sandbox removed the empty parent in between, and removes a stale empty directory of the
/// same name (left by a process that died with the same pid).
pub(crate) fn make_unique(
    parent: &Path,
    unique: &str,
    prepare_parent: &dyn Fn(&Path) -> Result<(), ConfineError>,
) -> Result<PathBuf, ConfineError> {
    let dir = parent.join(unique);
    let mut last = None;
    for _ in 0..10 {
        ensure_dir(parent)?;
        match prepare_parent(parent) {
            Ok(()) => {}
            // Removed by another sandbox's drop between the two calls: go round again.
            Err(ConfineError::Io { source, .. }) if source.kind() == io::ErrorKind::NotFound => {
                last = Some(source);
                continue;
            }
            Err(e) => return Err(e),
        }
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::NotFound => last = Some(e),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                let _ = std::fs::remove_dir(&dir);
                last = Some(e);
            }
            Err(e) => return Err(ConfineError::io("create directory", &dir, e)),
        }
    }
    Err(ConfineError::io(
        "create directory",
        &dir,
        last.unwrap_or_else(|| io::Error::other("gave up")),
    ))
}

/// Removes a half-made sandbox directory after its setup failed.
pub(crate) fn discard(dir: &Path, parent: &Path) {
    let _ = std::fs::remove_dir(dir);
    let _ = std::fs::remove_dir(parent);
}

/// Removes sandbox directories under `parent` whose owner (the pid in the name
/// `NAME-PID-N`) no longer exists and which hold no process (the kernel refuses to remove one
/// that does), left by a caller that died without dropping its sandboxes, so that they do not
/// keep the cgroup around the caller from being removed.
///
/// Call it only under the caller's own, non-root cgroup: everything there shares this
/// process's pid namespace, so a missing `/proc/PID` means the owner is dead. Under a
/// hierarchy's root, another container's live sandbox could look dead.
pub(crate) fn sweep_stale(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner_pid) else {
            continue;
        };
        if !Path::new("/proc").join(pid.to_string()).exists() {
            let _ = std::fs::remove_dir(entry.path());
        }
    }
}

/// The pid in a sandbox directory name `NAME-PID-N`.
fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.rsplitn(3, '-');
    parts.next()?.parse::<u64>().ok()?;
    let pid = parts.next()?.parse().ok()?;
    parts.next().filter(|n| !n.is_empty())?;
    Some(pid)
}

#[cfg(test)]
mod tests {
    use super::owner_pid;

    #[test]
    fn owner_pid_reads_the_pid_from_a_sandbox_name() {
        assert_eq!(owner_pid("kmeans-128-4242-7"), Some(4242));
        assert_eq!(owner_pid("x-1-0"), Some(1));
        assert_eq!(owner_pid("-1-0"), None);
        assert_eq!(owner_pid("memory.limit_in_bytes"), None);
        assert_eq!(owner_pid("a-b-0"), None);
    }
}
