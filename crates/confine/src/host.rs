//! Where this host keeps its cgroups: the cgroup mounts (`/proc/self/mountinfo`) and the
//! calling process's own cgroup in each hierarchy (`/proc/self/cgroup`).

use std::path::{Path, PathBuf};

/// One cgroup file system mount.
#[derive(Debug, Clone)]
pub(crate) struct CgroupMount {
    /// The cgroup this mount shows at its mount point, as seen by this process ("/" normally).
    pub(crate) root: String,
    /// Where it is mounted.
    pub(crate) point: PathBuf,
    /// True for the unified hierarchy (`cgroup2`), false for a v1 hierarchy.
    pub(crate) v2: bool,
    /// For v1, the super options, which name the controllers ("rw", "cpu", "cpuacct").
    pub(crate) options: Vec<String>,
}

impl CgroupMount {
    /// True when this v1 hierarchy carries the named controller.
    pub(crate) fn has_controller(&self, controller: &str) -> bool {
        !self.v2 && self.options.iter().any(|o| o == controller)
    }

    /// The directory of the cgroup `own` (a path from `/proc/self/cgroup`) under this mount,
    /// or `None` when that cgroup is not visible through this mount.
    pub(crate) fn dir_of(&self, own: &str) -> Option<PathBuf> {
        let rel = own.strip_prefix(self.root.trim_end_matches('/'))?;
        let rel = rel.trim_start_matches('/');
        let dir = if rel.is_empty() {
            self.point.clone()
        } else {
            self.point.join(rel)
        };
        dir.is_dir().then_some(dir)
    }
}

/// The cgroup mounts of this process's mount namespace. Empty when `/proc` cannot be read.
pub(crate) fn cgroup_mounts() -> Vec<CgroupMount> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .map(|text| parse_mountinfo(&text))
        .unwrap_or_default()
}

/// Parses mountinfo lines: `id parent dev root point opts [tags...] - fstype source superopts`.
fn parse_mountinfo(text: &str) -> Vec<CgroupMount> {
    let mut mounts = Vec::new();
    for line in text.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let left: Vec<&str> = left.split(' ').collect();
        let right: Vec<&str> = right.split(' ').collect();
        let (Some(root), Some(point), Some(fstype)) = (left.get(3), left.get(4), right.first())
        else {
            continue;
        };
        let v2 = match *fstype {
            "cgroup2" => true,
            "cgroup" => false,
            _ => continue,
        };
        let options = right
            .get(2)
            .map(|o| o.split(',').map(str::to_owned).collect())
            .unwrap_or_default();
        mounts.push(CgroupMount {
            root: unescape(root),
            point: PathBuf::from(unescape(point)),
            v2,
            options,
        });
    }
    mounts
}

/// Undoes mountinfo's octal escapes (`\040` for a space).
fn unescape(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .filter(|d| bytes[i] == b'\\' && d.iter().all(|b| (b'0'..=b'7').contains(b)));
        if let Some(d) = octal {
            let v =
                u32::from(d[0] - b'0') * 64 + u32::from(d[1] - b'0') * 8 + u32::from(d[2] - b'0');
            out.push(v as u8);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// This process's cgroup in the hierarchy that carries `controller` (v1), or in the unified
/// hierarchy when `controller` is `None`. Read from `/proc/self/cgroup`.
pub(crate) fn own_cgroup(controller: Option<&str>) -> Option<String> {
    let text = std::fs::read_to_string("/proc/self/cgroup").ok()?;
    own_cgroup_in(&text, controller)
}

fn own_cgroup_in(text: &str, controller: Option<&str>) -> Option<String> {
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (Some(_id), Some(controllers), Some(path)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let matches = match controller {
            None => controllers.is_empty(),
            Some(c) => controllers.split(',').any(|x| x == c),
        };
        if matches {
            return Some(path.to_owned());
        }
    }
    None
}

/// The directories under which a sandbox's cgroup may go, best first: the calling process's
/// own cgroup (so that limits set around the caller still hold for its children), then the
/// root of the hierarchy.
pub(crate) fn bases(mount: &CgroupMount, own: Option<&str>) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(dir) = own.and_then(|own| mount.dir_of(own)) {
        out.push(dir);
    }
    if !out.iter().any(|d| d == Path::new(&mount.point)) {
        out.push(mount.point.clone());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const MOUNTINFO: &str = "\
30 23 0:26 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755
31 30 0:27 / /sys/fs/cgroup/unified rw,nosuid shared:10 - cgroup2 cgroup2 rw,nsdelegate
35 30 0:31 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:15 - cgroup cgroup rw,cpu,cpuacct
36 30 0:32 / /sys/fs/cgroup/memory rw,nosuid shared:16 - cgroup cgroup rw,memory
37 30 0:33 /docker/abc /sys/fs/cgroup/with\\040space rw - cgroup cgroup rw,pids
";

    #[test]
    fn mountinfo_finds_cgroup_mounts_and_controllers() {
        let mounts = parse_mountinfo(MOUNTINFO);
        assert_eq!(mounts.len(), 4);
        assert!(mounts[0].v2);
        assert!(mounts[1].has_controller("cpu"));
        assert!(!mounts[1].has_controller("cpuset"));
        assert!(mounts[2].has_controller("memory"));
        assert_eq!(mounts[3].point, PathBuf::from("/sys/fs/cgroup/with space"));
        assert_eq!(mounts[3].root, "/docker/abc");
    }

    #[test]
    fn own_cgroup_reads_v1_and_v2_lines() {
        let text = "4:memory:/process_api/e4\n1:cpu,cpuacct:/\n0::/user.slice\n";
        assert_eq!(
            own_cgroup_in(text, Some("memory")).as_deref(),
            Some("/process_api/e4")
        );
        assert_eq!(own_cgroup_in(text, Some("cpu")).as_deref(), Some("/"));
        assert_eq!(own_cgroup_in(text, Some("cpuacct")).as_deref(), Some("/"));
        assert_eq!(own_cgroup_in(text, None).as_deref(), Some("/user.slice"));
        assert_eq!(own_cgroup_in(text, Some("pids")), None);
    }
}
