//! Reading and writing cgroup control files, with errors that name the file.

use std::path::Path;

use crate::ConfineError;

/// Writes `value` to a control file in one `write` (cgroup files want the whole value at once).
pub(crate) fn write(path: &Path, value: &str) -> Result<(), ConfineError> {
    std::fs::write(path, value).map_err(|e| ConfineError::io("write", path, e))
}

/// Reads a control file as text.
pub(crate) fn read(path: &Path) -> Result<String, ConfineError> {
    std::fs::read_to_string(path).map_err(|e| ConfineError::io("read", path, e))
}

/// Reads a control file holding one unsigned number ("max" is not one).
pub(crate) fn read_u64(path: &Path) -> Result<u64, ConfineError> {
    let text = read(path)?;
    text.trim().parse().map_err(|_| ConfineError::Parse {
        path: path.to_owned(),
        content: text.trim().to_owned(),
    })
}

/// Finds `key value` in a flat-keyed file such as `memory.events` or `memory.oom_control`.
/// `Ok(None)` when the key is absent (older kernels lack `oom_kill`).
pub(crate) fn read_key(path: &Path, key: &str) -> Result<Option<u64>, ConfineError> {
    let text = read(path)?;
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(key) {
            let value = words.next().unwrap_or("");
            return value.parse().map(Some).map_err(|_| ConfineError::Parse {
                path: path.to_owned(),
                content: line.trim().to_owned(),
            });
        }
    }
    Ok(None)
}

/// The process ids listed in a `cgroup.procs` file.
pub(crate) fn read_pids(path: &Path) -> Result<Vec<i32>, ConfineError> {
    let text = read(path)?;
    text.split_whitespace()
        .map(|w| {
            w.parse().map_err(|_| ConfineError::Parse {
                path: path.to_owned(),
                content: w.to_owned(),
            })
        })
        .collect()
}
