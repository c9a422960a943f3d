//! Shared by every fuzz target: an allocator that makes an oversized allocation a finding.
//!
//! libFuzzer's `-malloc_limit_mb` only sees allocations through a sanitizer's malloc hooks,
//! and `calloc` of a few gigabytes often succeeds lazily on Linux, so an allocation sized
//! from a forged header could go unnoticed. [`CappedAlloc`] wraps the system allocator and
//! aborts — a crash libFuzzer records with its input — on any single request above
//! [`MAX_ALLOCATION`], with or without a sanitizer. Each target installs it with
//! `#[global_allocator]`.

use std::alloc::{GlobalAlloc, Layout, System};

/// The largest single allocation a decoder may make on fuzz inputs (256 MiB, the same as
/// `-malloc_limit_mb=256`): inputs are at most a few megabytes, so anything larger was sized
/// from a stored number rather than from the bytes present.
pub const MAX_ALLOCATION: usize = 256 << 20;

/// The system allocator, aborting on requests above [`MAX_ALLOCATION`].
pub struct CappedAlloc;

impl CappedAlloc {
    fn check(size: usize) {
        if size > MAX_ALLOCATION {
            // No allocation may happen here: write the message with a fixed buffer.
            let msg = b"faasml-fuzz: allocation above MAX_ALLOCATION (256 MiB)\n";
            // SAFETY: writes a static buffer to stderr; the result is irrelevant.
            unsafe {
                libc_write(2, msg.as_ptr(), msg.len());
            }
            std::process::abort();
        }
    }
}

unsafe extern "C" {
    #[link_name = "write"]
    fn libc_write(fd: i32, buf: *const u8, count: usize) -> isize;
}

// SAFETY: every method forwards to `System` unchanged after a size check.
unsafe impl GlobalAlloc for CappedAlloc {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        Self::check(layout.size());
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        Self::check(new_size);
        // SAFETY: forwarded with the caller's guarantees.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
