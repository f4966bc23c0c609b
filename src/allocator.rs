//! glibc's allocator, told to keep what is freed.
//!
//! By default glibc serves every allocation above 128 KiB (a 256×1024 f64 matrix is 2 MiB) with
//! its own `mmap`, unmaps it when it is freed, and hands the top of each heap back to the OS past
//! 128 KiB free: a loop that allocates and frees the same buffers on every iteration (a
//! forward+backward, a sweep's cases) then pays a system call and a page fault per page, every
//! time, which doubled the time of a forward+backward here. [`keep_freed_memory`] raises both
//! thresholds, so freed buffers stay in the process and are reused, as mimalloc would do, with no
//! allocator to compile.

/// Allocations below 32 MiB (glibc's largest threshold on 64-bit) come from the heap, and a heap
/// gives back memory only past 128 MiB free (a `serve` that parsed a 64 MiB line still returns
/// it: above 32 MiB glibc maps and unmaps as before). Call it first in `main`; elsewhere than
/// glibc it does nothing.
pub fn keep_freed_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets two of glibc's tuning parameters, under the allocator's own lock
    // (it may be called from any thread); both values are within the ranges glibc accepts (32 MiB
    // is its largest mmap threshold on 64-bit).
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 32 << 20);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 << 20);
    }
}
