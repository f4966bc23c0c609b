//! The processes of a program that left its process group (`setsid`, `setpgid`) where no PID
//! namespace holds them. Each program's environment carries a token of its own
//! ([`TOKEN_VAR`]`=<verifier pid>-<serial>`), inherited by everything it starts; at the end every
//! live process whose `/proc/PID/environ` holds the token is killed. Each is signalled through a
//! pidfd opened before its environment is read again, so a pid reused by a stranger in between
//! is never hit. A process that execs with a cleared environment escapes this; a PID namespace
//! has no such hole. Linux only (`/proc`, pidfds): elsewhere [`kill_carriers`] finds nothing.

#[cfg(target_os = "linux")]
use std::fs;
use std::sync::atomic::{AtomicU64, Ordering};

/// The environment variable that carries a program's token.
pub const TOKEN_VAR: &str = "GRADVERIFY_PROGRAM";
/// Scans of `/proc` at most: a process that forks during one is caught by the next.
#[cfg(target_os = "linux")]
const ROUNDS: usize = 4;

/// A token no other program of this verifier has.
pub fn new_token() -> String {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    format!("{}-{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed))
}

/// Kills every live process that carries `token`.
#[cfg(target_os = "linux")]
pub fn kill_carriers(token: &str) {
    let needle = format!("{TOKEN_VAR}={token}\0").into_bytes();
    for _ in 0..ROUNDS {
        let carriers = carriers(&needle);
        if carriers.is_empty() {
            return;
        }
        for pid in carriers {
            kill_if_carrier(pid, &needle);
        }
    }
}

/// Elsewhere than Linux there is no `/proc` to find the carriers in: nothing is killed.
#[cfg(not(target_os = "linux"))]
pub fn kill_carriers(_token: &str) {}

/// The pids whose environment holds `needle`.
#[cfg(target_os = "linux")]
fn carriers(needle: &[u8]) -> Vec<libc::pid_t> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<libc::pid_t>().ok())
        .filter(|&pid| carries(pid, needle))
        .collect()
}

#[cfg(target_os = "linux")]
fn carries(pid: libc::pid_t, needle: &[u8]) -> bool {
    fs::read(format!("/proc/{pid}/environ"))
        .is_ok_and(|environ| environ.windows(needle.len()).any(|w| w == needle))
}

/// SIGKILL to `pid` if, once pinned by a pidfd, it still carries `needle`.
#[cfg(target_os = "linux")]
fn kill_if_carrier(pid: libc::pid_t, needle: &[u8]) {
    // SAFETY: pidfd_open returns a new descriptor or -1; it is closed below.
    let pidfd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) } as libc::c_int;
    if pidfd < 0 {
        return;
    }
    if carries(pid, needle) {
        // SAFETY: signals the process the descriptor pins; no memory is passed.
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                pidfd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        }
    }
    // SAFETY: closes the descriptor opened above.
    unsafe {
        libc::close(pidfd);
    }
}
