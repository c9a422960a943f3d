//! Run a child process under a memory limit and a CPU quota, the way AWS Lambda confines a
//! function: memory is a hard limit, and the CPU share grows with memory (one full vCPU at
//! 1,769 MB, so 128 MB gets about 0.072 of a CPU).
//!
//! A [`Sandbox`] is one cgroup (a uniquely named directory under a `faasml/` parent) with the
//! limits written into it; [`Sandbox::confine`] makes a [`std::process::Command`]'s child join it
//! before `exec`, so the child is confined from its first instruction. Dropping the sandbox
//! kills whatever is still in it and removes the cgroup.
//!
//! ```no_run
//! use faasml_confine::{Limits, Sandbox};
//!
//! let sandbox = Sandbox::new("kmeans-128", Limits::lambda(128))?;
//! if let Some(why) = sandbox.fallback_reason() {
//!     eprintln!("warning: confined by {}: {why}", sandbox.mechanism());
//! }
//! let mut cmd = std::process::Command::new("faasml");
//! cmd.arg("serve");
//! sandbox.confine(&mut cmd);
//! let status = cmd.status()?;
//! let outcome = sandbox.outcome(status);
//! if !outcome.is_success() {
//!     eprintln!("{outcome}"); // Runtime exited with error: signal: killed (out of memory: ...)
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! # Mechanisms
//!
//! [`Sandbox::new`] takes the best mechanism that works and never fails merely because cgroups
//! are unavailable:
//!
//! 1. **cgroup v2**: `memory.max`, `memory.swap.max` 0, `memory.oom.group` 1, `cpu.max`.
//! 2. **cgroup v1**: `memory.limit_in_bytes` and `memory.memsw.limit_in_bytes` (so swap cannot
//!    hide the limit), `memory.swappiness` 0, `cpu.cfs_period_us` 100000 and
//!    `cpu.cfs_quota_us` = cpus × period (at least 1000).
//! 3. **rlimit**: `RLIMIT_AS` set in the child before `exec`. Address space, not resident
//!    memory; CPU not limited. Used when not root, not on Linux, or without the controllers.
//!
//! [`Sandbox::mechanism`] says which was used and [`Sandbox::fallback_reason`] why the better
//! ones were not, so the caller can print a warning.
//!
//! The key design decision: the sandbox cgroup goes under the calling process's *own* cgroup
//! when the kernel allows it, so that limits set around the caller (a CI job's, a container's)
//! still hold for its children; it goes under the hierarchy's root only when that fails (cgroup
//! v2 will not delegate controllers below a non-root cgroup that holds processes).
//!
//! That puts a `faasml/` directory inside the caller's cgroup while sandboxes exist; the last
//! sandbox to go removes it, and a sandbox made later sweeps away empty ones left by a caller
//! that died without dropping its sandboxes (killed, or `std::process::exit`).
//!
//! # Use for cold starts
//!
//! Make one sandbox per worker process and drop it when the worker is done: the counters
//! ([`Sandbox::oom_kills`], [`Sandbox::peak_memory_bytes`]) cover the sandbox's whole life, so
//! a fresh sandbox for each cold start gives each worker its own numbers. Dropping the sandbox
//! kills a worker still running but does not reap it; wait for the [`std::process::Child`] as
//! usual. [`Sandbox::outcome`] turns the worker's exit status into an [`Outcome`] whose
//! `Display` is Lambda's message, for an error row rather than a crash.
//!
//! This crate is Unix-only; on other systems it is empty.

#![cfg(unix)]
#![warn(missing_docs, unreachable_pub)]

#[cfg(target_os = "linux")]
mod cgroup;
mod error;
#[cfg(target_os = "linux")]
mod fs;
#[cfg(target_os = "linux")]
mod host;
mod outcome;
mod rlimit;

use std::ffi::CString;
use std::fmt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicU64, Ordering};

pub use error::ConfineError;
pub use outcome::{Outcome, classify};

/// Lambda's memory size that buys one full vCPU, in MB.
pub const MB_PER_VCPU: f64 = 1769.0;

/// What a sandbox allows: memory in bytes, CPU as a share of cores (0.5 = half of one core).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Limits {
    /// The hard memory limit, in bytes.
    pub memory_bytes: u64,
    /// The CPU quota, in cores; may be fractional.
    pub cpus: f64,
}

impl Limits {
    /// Lambda's limits for a memory size in MB (Lambda's MB are MiB): `memory_mb` MiB of memory
    /// and `memory_mb / 1769` of a CPU, capped at this host's available cores.
    pub fn lambda(memory_mb: u64) -> Self {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
        Limits {
            memory_bytes: memory_mb.saturating_mul(1024 * 1024),
            cpus: (memory_mb as f64 / MB_PER_VCPU).min(cores),
        }
    }

    fn check(&self) -> Result<(), ConfineError> {
        if self.memory_bytes == 0 {
            return Err(ConfineError::InvalidLimits("memory_bytes is 0".into()));
        }
        if !(self.cpus.is_finite() && self.cpus > 0.0) {
            return Err(ConfineError::InvalidLimits(format!(
                "cpus is {}, not a positive number",
                self.cpus
            )));
        }
        Ok(())
    }
}

/// How a sandbox confines its children, best first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// A cgroup in the unified hierarchy: memory and CPU limited, memory measured.
    CgroupV2,
    /// Cgroups in the v1 memory and cpu hierarchies: memory and CPU limited, memory measured.
    CgroupV1,
    /// `RLIMIT_AS`: address space limited, CPU not limited, nothing measured.
    Rlimit,
}

impl fmt::Display for Mechanism {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mechanism::CgroupV2 => "cgroup v2",
            Mechanism::CgroupV1 => "cgroup v1",
            Mechanism::Rlimit => "RLIMIT_AS (CPU not limited)",
        })
    }
}

/// Which mechanisms [`Sandbox::with_preference`] may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Preference {
    /// The best that works: cgroup v2, then cgroup v1, then rlimit.
    Best,
    /// The rlimit fallback only, even where cgroups work (for tests and comparisons).
    Rlimit,
}

/// One confinement: a cgroup with the limits written in, or the rlimit fallback. Removed on
/// drop (remaining processes are killed); [`Sandbox::close`] does the same and reports errors.
#[derive(Debug)]
pub struct Sandbox {
    name: String,
    limits: Limits,
    mechanism: Mechanism,
    fallback_reason: Option<String>,
    #[cfg(target_os = "linux")]
    cgroup: Option<cgroup::Cgroup>,
    /// The `cgroup.procs` files the child writes itself into, prepared as C strings so that
    /// the code between fork and exec does not allocate.
    join: Vec<CString>,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl Sandbox {
    /// Makes a sandbox with the best mechanism that works. `name` (letters, digits, `.`, `_`,
    /// `-`; at most 64) begins the cgroup's name, which the process id and a counter make
    /// unique.
    ///
    /// Fails only for invalid limits or an invalid name: when cgroups cannot be used it falls
    /// back and records why ([`Sandbox::fallback_reason`]).
    pub fn new(name: &str, limits: Limits) -> Result<Sandbox, ConfineError> {
        Sandbox::with_preference(name, limits, Preference::Best)
    }

    /// Like [`Sandbox::new`], restricted to the mechanisms `preference` allows.
    pub fn with_preference(
        name: &str,
        limits: Limits,
        preference: Preference,
    ) -> Result<Sandbox, ConfineError> {
        limits.check()?;
        check_name(name)?;
        let unique = format!(
            "{name}-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let mut sandbox = Sandbox {
            name: unique,
            limits,
            mechanism: Mechanism::Rlimit,
            fallback_reason: None,
            #[cfg(target_os = "linux")]
            cgroup: None,
            join: Vec::new(),
        };
        match preference {
            Preference::Rlimit => {
                sandbox.fallback_reason = Some("the caller asked for the rlimit fallback".into());
            }
            Preference::Best => sandbox.pick()?,
        }
        Ok(sandbox)
    }

    #[cfg(target_os = "linux")]
    fn pick(&mut self) -> Result<(), ConfineError> {
        let v2 = match cgroup::v2::create(&self.name, &self.limits) {
            Ok(cg) => return self.adopt(cg, Mechanism::CgroupV2),
            Err(why) => why,
        };
        let v1 = match cgroup::v1::create(&self.name, &self.limits) {
            Ok(cg) => {
                self.fallback_reason = Some(v2);
                return self.adopt(cg, Mechanism::CgroupV1);
            }
            Err(why) => why,
        };
        // Try even when not root (a delegated cgroup v2 subtree may be writable), but say
        // plainly when that is the likely cause.
        // SAFETY: geteuid has no preconditions.
        let root = unsafe { libc::geteuid() } == 0;
        let prefix = if root {
            ""
        } else {
            "not running as root, so cgroups are most likely not writable (run as root for \
             memory and CPU limits like Lambda's); "
        };
        self.fallback_reason = Some(format!("{prefix}{v2}; {v1}"));
        Ok(())
    }

    #[cfg(not(target_os = "linux"))]
    fn pick(&mut self) -> Result<(), ConfineError> {
        self.fallback_reason = Some("cgroups exist only on Linux".into());
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn adopt(&mut self, cg: cgroup::Cgroup, mechanism: Mechanism) -> Result<(), ConfineError> {
        use std::os::unix::ffi::OsStringExt;
        for file in cg.procs_files() {
            let bytes = file.clone().into_os_string().into_vec();
            let c = CString::new(bytes).map_err(|_| ConfineError::Parse {
                path: file,
                content: "a NUL byte in the path".into(),
            })?;
            self.join.push(c);
        }
        self.cgroup = Some(cg);
        self.mechanism = mechanism;
        Ok(())
    }

    /// The sandbox's unique name (the cgroup directory's name).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The limits it enforces.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// The mechanism in use.
    pub fn mechanism(&self) -> Mechanism {
        self.mechanism
    }

    /// Why a better mechanism than [`Sandbox::mechanism`] was not used; `None` for cgroup v2.
    pub fn fallback_reason(&self) -> Option<&str> {
        self.fallback_reason.as_deref()
    }

    /// The sandbox's cgroup directories (the memory one first); empty for the rlimit fallback.
    pub fn cgroup_dirs(&self) -> &[PathBuf] {
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.cgroup {
            return &cg.dirs;
        }
        &[]
    }

    /// Makes `cmd`'s child confined: between fork and exec it joins the cgroup (writes `0`, its
    /// own pid, into `cgroup.procs`) or lowers its `RLIMIT_AS`. If that fails, spawning fails
    /// with the error. May be called on many commands; each child joins the same sandbox.
    ///
    /// For the rlimit fallback it also sets `MALLOC_ARENA_MAX=2` unless `cmd` or this process
    /// has it, since glibc's per-thread arenas reserve address space far beyond what is used.
    pub fn confine(&self, cmd: &mut Command) {
        if self.mechanism == Mechanism::Rlimit {
            let already = std::env::var_os("MALLOC_ARENA_MAX").is_some()
                || cmd.get_envs().any(|(k, _)| k == "MALLOC_ARENA_MAX");
            if !already {
                cmd.env("MALLOC_ARENA_MAX", "2");
            }
            let bytes = self.limits.memory_bytes;
            // SAFETY: the closure calls only async-signal-safe functions and does not allocate.
            unsafe { cmd.pre_exec(move || rlimit::limit_address_space(bytes)) };
        } else {
            let files = self.join.clone();
            // SAFETY: the closure calls only open, write and close on prepared C strings, reads
            // errno, and does not allocate.
            unsafe {
                cmd.pre_exec(move || {
                    for file in &files {
                        join(file)?;
                    }
                    Ok(())
                })
            };
        }
    }

    /// The most memory the sandbox's processes have used together, in bytes
    /// (v1 `memory.max_usage_in_bytes`, v2 `memory.peak`); `None` for the rlimit fallback or
    /// a kernel without the file.
    pub fn peak_memory_bytes(&self) -> Option<u64> {
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.cgroup {
            let file = if cg.v2 {
                "memory.peak"
            } else {
                "memory.max_usage_in_bytes"
            };
            return fs::read_u64(&cg.memory_dir().join(file)).ok();
        }
        None
    }

    /// How many processes the kernel has killed in this sandbox for exceeding its memory
    /// (v1 `memory.oom_control`, v2 `memory.events`, the `oom_kill` line); 0 for the rlimit
    /// fallback, or when the kernel does not count (v1 before Linux 4.13).
    pub fn oom_kills(&self) -> u64 {
        #[cfg(target_os = "linux")]
        if let Some(cg) = &self.cgroup {
            let file = if cg.v2 {
                "memory.events"
            } else {
                "memory.oom_control"
            };
            return fs::read_key(&cg.memory_dir().join(file), "oom_kill")
                .ok()
                .flatten()
                .unwrap_or(0);
        }
        0
    }

    /// Classifies how a child of this sandbox ended (see [`classify`]).
    pub fn outcome(&self, status: ExitStatus) -> Outcome {
        classify(
            status,
            self.oom_kills(),
            self.limits.memory_bytes,
            self.peak_memory_bytes(),
        )
    }

    /// Kills whatever is still in the sandbox and removes its cgroup, reporting failures that
    /// dropping it would ignore.
    pub fn close(mut self) -> Result<(), ConfineError> {
        #[cfg(target_os = "linux")]
        if let Some(mut cg) = self.cgroup.take() {
            return cg.remove();
        }
        Ok(())
    }
}

fn check_name(name: &str) -> Result<(), ConfineError> {
    let reason = if name.is_empty() {
        "it is empty"
    } else if name.len() > 64 {
        "it is longer than 64 bytes"
    } else if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        "only letters, digits, '.', '_' and '-' are allowed"
    } else if name.starts_with('.') {
        "it starts with '.'"
    } else {
        return Ok(());
    };
    Err(ConfineError::InvalidName {
        name: name.to_owned(),
        reason,
    })
}

/// Writes this process into a `cgroup.procs` file. Runs between fork and exec: only
/// async-signal-safe calls, no allocation.
fn join(file: &std::ffi::CStr) -> std::io::Result<()> {
    // SAFETY: `file` is a valid NUL-terminated string.
    let fd = unsafe { libc::open(file.as_ptr(), libc::O_WRONLY | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: the buffer is one valid byte; `fd` is open.
    let written = unsafe { libc::write(fd, b"0".as_ptr().cast(), 1) };
    let error = std::io::Error::last_os_error();
    // SAFETY: `fd` is open and ours.
    unsafe { libc::close(fd) };
    if written == 1 { Ok(()) } else { Err(error) }
}
