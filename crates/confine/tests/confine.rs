//! Real children under real limits: an out-of-memory kill, a child within its limit, the CPU
//! quota, the rlimit fallback, and removal. The cgroup cases need root and the memory and cpu
//! controllers; without them they fail with the sandbox's fallback reason, unless
//! `FAASML_CONFINE_ALLOW_FALLBACK=1` is set, in which case they say so and pass.

use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use faasml_confine::{ConfineError, Limits, Mechanism, Outcome, Preference, Sandbox};

const MIB: u64 = 1024 * 1024;

/// The real Python interpreter (not a pyenv shim, whose bash start-up would count against a
/// small CPU quota).
fn python() -> &'static PathBuf {
    static PYTHON: OnceLock<PathBuf> = OnceLock::new();
    PYTHON.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3 must be installed for these tests");
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

fn py(code: &str) -> Command {
    let mut cmd = Command::new(python());
    cmd.args(["-c", code]).stdin(Stdio::null());
    cmd
}

/// True when the sandbox uses a cgroup; otherwise fails loudly with the reason, or, when the
/// environment allows the fallback, prints why the test is not checking anything.
fn uses_cgroup(sandbox: &Sandbox, test: &str) -> bool {
    if sandbox.mechanism() != Mechanism::Rlimit {
        return true;
    }
    let why = sandbox.fallback_reason().unwrap_or("no reason recorded");
    if std::env::var_os("FAASML_CONFINE_ALLOW_FALLBACK").is_some() {
        eprintln!("{test}: SKIPPED, cgroups unavailable: {why}");
        return false;
    }
    panic!(
        "{test} needs cgroups (root, and the memory and cpu controllers), but the sandbox fell \
         back to {}: {why}. Run as root, or set FAASML_CONFINE_ALLOW_FALLBACK=1 to skip.",
        sandbox.mechanism()
    );
}

/// Waits for one child and returns its status and the CPU time it used, in seconds.
fn wait_with_cpu(child: std::process::Child) -> (ExitStatus, f64) {
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our unwaited child; the pointers are valid.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4: {}", std::io::Error::last_os_error());
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (
        ExitStatus::from_raw(status),
        secs(usage.ru_utime) + secs(usage.ru_stime),
    )
}

#[test]
fn a_child_over_its_memory_is_killed_and_reported_as_out_of_memory() {
    let limits = Limits {
        memory_bytes: 64 * MIB,
        cpus: 1.0,
    };
    let sandbox = Sandbox::new("test-oom", limits).unwrap();
    if !uses_cgroup(&sandbox, "oom") {
        return;
    }
    let mut cmd = py("b = b'x' * (200 * 2**20); print(len(b))");
    cmd.stdout(Stdio::null()).stderr(Stdio::null());
    sandbox.confine(&mut cmd);
    let status = cmd.status().unwrap();
    assert_eq!(status.signal(), Some(libc::SIGKILL), "{status:?}");
    assert!(sandbox.oom_kills() >= 1);
    let outcome = sandbox.outcome(status);
    assert!(outcome.is_out_of_memory(), "{outcome:?}");
    let message = outcome.to_string();
    assert!(
        message.starts_with("Runtime exited with error: signal: killed"),
        "{message}"
    );
    assert!(message.contains("Memory Size: 64 MB"), "{message}");
    assert_eq!(outcome.error_type(), Some("Runtime.OutOfMemory"));
    let peak = sandbox.peak_memory_bytes().unwrap();
    assert!(peak <= 64 * MIB && peak > 32 * MIB, "peak {peak}");
}

#[test]
fn a_child_within_its_memory_exits_0_and_its_peak_is_measured() {
    let sandbox = Sandbox::new("test-fits", Limits::lambda(256)).unwrap();
    if !uses_cgroup(&sandbox, "fits") {
        return;
    }
    let mut cmd = py("b = b'x' * (20 * 2**20)");
    sandbox.confine(&mut cmd);
    let status = cmd.status().unwrap();
    assert_eq!(sandbox.outcome(status), Outcome::Success);
    assert_eq!(sandbox.oom_kills(), 0);
    let peak = sandbox.peak_memory_bytes().unwrap();
    assert!(peak > 20 * MIB && peak < 256 * MIB, "peak {peak}");
}

#[test]
fn the_cpu_quota_is_written_and_holds_a_busy_child_back() {
    let limits = Limits {
        memory_bytes: 256 * MIB,
        cpus: 0.1,
    };
    let sandbox = Sandbox::new("test-cpu", limits).unwrap();
    if !uses_cgroup(&sandbox, "cpu") {
        return;
    }
    let dirs = sandbox.cgroup_dirs();
    let cpu_dir = dirs.last().unwrap();
    let read = |f: &str| std::fs::read_to_string(cpu_dir.join(f)).unwrap();
    match sandbox.mechanism() {
        Mechanism::CgroupV1 => {
            assert_eq!(read("cpu.cfs_period_us").trim(), "100000");
            assert_eq!(read("cpu.cfs_quota_us").trim(), "10000");
            assert_eq!(
                std::fs::read_to_string(dirs[0].join("memory.limit_in_bytes"))
                    .unwrap()
                    .trim(),
                (256 * MIB).to_string()
            );
        }
        Mechanism::CgroupV2 => {
            assert_eq!(read("cpu.max").trim(), "10000 100000");
            assert_eq!(read("memory.max").trim(), (256 * MIB).to_string());
        }
        Mechanism::Rlimit => unreachable!(),
    }
    // Busy for one second of wall time: at 0.1 CPU it gets about 0.1 s.
    let mut cmd = py("import time\nt = time.time()\nwhile time.time() - t < 1.0: pass");
    sandbox.confine(&mut cmd);
    let (status, cpu) = wait_with_cpu(cmd.spawn().unwrap());
    assert!(status.success(), "{status:?}");
    assert!(
        cpu < 0.5,
        "a child under 0.1 CPU used {cpu:.3} s of CPU in 1 s"
    );
}

#[test]
fn lambda_limits_scale_cpu_with_memory() {
    let l = Limits::lambda(128);
    assert_eq!(l.memory_bytes, 128 * MIB);
    assert!((l.cpus - 128.0 / 1769.0).abs() < 1e-9);
    let cores = std::thread::available_parallelism().unwrap().get() as f64;
    assert!(Limits::lambda(10240).cpus <= cores);
}

#[test]
fn the_rlimit_fallback_makes_a_large_allocation_fail() {
    let limits = Limits {
        memory_bytes: 128 * MIB,
        cpus: 1.0,
    };
    let sandbox = Sandbox::with_preference("test-rlimit", limits, Preference::Rlimit).unwrap();
    assert_eq!(sandbox.mechanism(), Mechanism::Rlimit);
    assert!(sandbox.fallback_reason().is_some());
    assert!(sandbox.cgroup_dirs().is_empty());
    let mut cmd = py("b = b'x' * (200 * 2**20)");
    sandbox.confine(&mut cmd);
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("MemoryError"), "stderr: {stderr}");
    assert_eq!(sandbox.outcome(out.status), Outcome::Exit(1));
    // The same child without the limit succeeds, so it was the limit that failed it.
    assert!(py("b = b'x' * (200 * 2**20)").status().unwrap().success());
}

#[test]
fn dropping_the_sandbox_kills_its_children_and_removes_the_cgroup() {
    let sandbox = Sandbox::new("test-drop", Limits::lambda(128)).unwrap();
    if !uses_cgroup(&sandbox, "drop") {
        return;
    }
    let dirs = sandbox.cgroup_dirs().to_vec();
    assert!(dirs.iter().all(|d| d.is_dir()));
    let mut cmd = Command::new("sleep");
    cmd.arg("30");
    sandbox.confine(&mut cmd);
    let mut child = cmd.spawn().unwrap();
    let procs = std::fs::read_to_string(dirs[0].join("cgroup.procs")).unwrap();
    assert!(
        procs
            .split_whitespace()
            .any(|p| p == child.id().to_string()),
        "{procs}"
    );
    let start = std::time::Instant::now();
    drop(sandbox);
    assert!(start.elapsed() < Duration::from_secs(2));
    for d in &dirs {
        assert!(!d.exists(), "{} still exists", d.display());
    }
    assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGKILL));

    let sandbox = Sandbox::new("test-close", Limits::lambda(128)).unwrap();
    let dirs = sandbox.cgroup_dirs().to_vec();
    sandbox.close().unwrap();
    assert!(dirs.iter().all(|d| !d.exists()));
}

#[test]
fn invalid_names_and_limits_are_refused() {
    let ok = Limits::lambda(128);
    for name in ["", "a/b", "..", "x y"] {
        assert!(
            matches!(
                Sandbox::new(name, ok),
                Err(ConfineError::InvalidName { .. })
            ),
            "{name:?}"
        );
    }
    for limits in [
        Limits {
            memory_bytes: 0,
            cpus: 1.0,
        },
        Limits {
            memory_bytes: MIB,
            cpus: 0.0,
        },
        Limits {
            memory_bytes: MIB,
            cpus: f64::NAN,
        },
    ] {
        assert!(matches!(
            Sandbox::new("x", limits),
            Err(ConfineError::InvalidLimits(_))
        ));
    }
}

#[test]
fn a_dead_callers_empty_sandbox_is_swept_away() {
    let first = Sandbox::new("test-sweep", Limits::lambda(128)).unwrap();
    if !uses_cgroup(&first, "sweep") {
        return;
    }
    // Sweeping happens only under the caller's own cgroup when that is not a hierarchy's root.
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap();
    let controller = if first.mechanism() == Mechanism::CgroupV2 {
        ""
    } else {
        "memory"
    };
    let nested = own.lines().any(|l| {
        let mut p = l.splitn(3, ':').skip(1);
        let (c, path) = (p.next().unwrap_or(""), p.next().unwrap_or("/"));
        (c == controller || c.split(',').any(|x| x == controller)) && path != "/"
    });
    if !nested {
        eprintln!("sweep: this process's memory cgroup is a root; nothing is swept there");
        return;
    }
    let mut dead = Command::new("true").spawn().unwrap();
    let dead_pid = dead.id();
    dead.wait().unwrap();
    let parent = first.cgroup_dirs()[0].parent().unwrap().to_owned();
    let stale = parent.join(format!("test-stale-{dead_pid}-0"));
    std::fs::create_dir(&stale).unwrap();
    let second = Sandbox::new("test-sweep", Limits::lambda(128)).unwrap();
    assert!(!stale.exists(), "{} was not swept", stale.display());
    assert!(first.cgroup_dirs()[0].exists() && second.cgroup_dirs()[0].exists());
}

#[test]
fn sandboxes_made_and_dropped_concurrently_all_get_a_cgroup() {
    let probe = Sandbox::new("test-churn", Limits::lambda(128)).unwrap();
    if !uses_cgroup(&probe, "churn") {
        return;
    }
    drop(probe);
    // Drops remove the shared parent when it empties while other threads make sandboxes in it.
    let threads: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(|| {
                for _ in 0..25 {
                    let s = Sandbox::new("test-churn", Limits::lambda(128)).unwrap();
                    assert_ne!(
                        s.mechanism(),
                        Mechanism::Rlimit,
                        "{:?}",
                        s.fallback_reason()
                    );
                    s.close().unwrap();
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
}
