//! The fallback: an address-space limit (`RLIMIT_AS`) set in the child between fork and exec.
//!
//! It limits virtual memory, not resident memory, so it is cruder than a cgroup: an allocation
//! past the limit fails (the child sees `ENOMEM`, and most runtimes then abort or raise) rather
//! than the kernel killing the process, and a program that reserves much more address space
//! than it touches fails early. glibc reserves 64 MiB of address space per malloc arena, so
//! [`Sandbox::confine`](crate::Sandbox::confine) sets `MALLOC_ARENA_MAX=2` in the child unless
//! the caller set it. CPU is not limited at all.

use std::io;

/// Lowers the child's address-space limit to `bytes` (never raising a lower hard limit).
///
/// Runs between fork and exec, so it calls only async-signal-safe functions (getrlimit,
/// setrlimit, errno) and does not allocate.
pub(crate) fn limit_address_space(bytes: u64) -> io::Result<()> {
    let mut current = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `current` is a valid, writable rlimit.
    if unsafe { libc::getrlimit(libc::RLIMIT_AS, &mut current) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let wanted = libc::rlim_t::try_from(bytes).unwrap_or(libc::RLIM_INFINITY);
    let max = if current.rlim_max == libc::RLIM_INFINITY {
        wanted
    } else {
        wanted.min(current.rlim_max)
    };
    let new = libc::rlimit {
        rlim_cur: max,
        rlim_max: max,
    };
    // SAFETY: `new` is a valid rlimit.
    if unsafe { libc::setrlimit(libc::RLIMIT_AS, &new) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
