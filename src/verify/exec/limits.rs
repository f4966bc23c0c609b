//! Per-program resource limits, set with setrlimit in the child before exec and inherited by
//! everything it starts: address space (`--memory-mb`), CPU seconds (`--cpu-seconds`: SIGXCPU,
//! then SIGKILL a second later), the size of a file it writes (`--file-mb`: SIGXFSZ), no core
//! files. No process-count limit: RLIMIT_NPROC counts every process of the *user*, not of the
//! program, and is ignored for root, so it would either limit nothing or the verifier itself; a
//! fork bomb is stopped when the program is killed, not during the run.

/// Per-program resource limits and the sandbox switch, as command-line options.
#[derive(Debug, Clone, PartialEq, Eq, clap::Args)]
pub struct ProcessLimits {
    /// Address-space limit of each program, in MiB (a program past it fails to allocate).
    #[arg(long, default_value_t = 2048, value_parser = clap::value_parser!(u64).range(16..=1 << 20))]
    pub memory_mb: u64,
    /// CPU time limit of each program, in seconds (past it the program is killed).
    #[arg(long, default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=86_400))]
    pub cpu_seconds: u64,
    /// Largest file a program may write, in MiB.
    #[arg(long, default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    pub file_mb: u64,
    /// Run each program under bubblewrap: no network, everything read-only but its own folder.
    #[arg(long)]
    pub sandbox: bool,
}

impl Default for ProcessLimits {
    fn default() -> Self {
        ProcessLimits {
            memory_mb: 2048,
            cpu_seconds: 60,
            file_mb: 1024,
            sandbox: false,
        }
    }
}

#[cfg(all(unix, target_env = "gnu"))]
pub(super) type Resource = libc::__rlimit_resource_t;
#[cfg(all(unix, not(target_env = "gnu")))]
pub(super) type Resource = libc::c_int;

/// (resource, soft, hard) for each limit, never above the verifier's own hard limits (a process
/// may lower its hard limits, not raise them). Unix only: elsewhere no program is started.
#[cfg(unix)]
pub(super) fn rlimits(limits: &ProcessLimits) -> [(Resource, libc::rlim_t, libc::rlim_t); 4] {
    let mib = |n: u64| n.saturating_mul(1 << 20) as libc::rlim_t;
    let cpu = limits.cpu_seconds as libc::rlim_t;
    [
        (libc::RLIMIT_AS, mib(limits.memory_mb), mib(limits.memory_mb)),
        // SIGXCPU at the soft limit, SIGKILL at the hard one for a program that ignores it.
        (libc::RLIMIT_CPU, cpu, cpu.saturating_add(1)),
        (libc::RLIMIT_FSIZE, mib(limits.file_mb), mib(limits.file_mb)),
        (libc::RLIMIT_CORE, 0, 0),
    ]
    .map(|(resource, soft, hard)| {
        let ceiling = own_hard_limit(resource);
        (resource, soft.min(ceiling), hard.min(ceiling))
    })
}

/// The verifier's hard limit of `resource` (RLIM_INFINITY when it cannot be read).
#[cfg(unix)]
fn own_hard_limit(resource: Resource) -> libc::rlim_t {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: libc::RLIM_INFINITY,
    };
    // SAFETY: getrlimit writes one rlimit into the struct it is given.
    if unsafe { libc::getrlimit(resource, &mut limit) } != 0 {
        return libc::RLIM_INFINITY;
    }
    limit.rlim_max
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn limits_are_in_mib_cpu_gets_a_second_of_grace_and_none_exceeds_the_verifiers_own() {
        let limits = ProcessLimits {
            memory_mb: 300,
            cpu_seconds: 7,
            file_mb: 2,
            sandbox: false,
        };
        let set = rlimits(&limits);
        let expected = [
            (libc::RLIMIT_AS, 300 << 20, 300 << 20),
            (libc::RLIMIT_CPU, 7, 8),
            (libc::RLIMIT_FSIZE, 2 << 20, 2 << 20),
            (libc::RLIMIT_CORE, 0, 0),
        ];
        for ((resource, soft, hard), (r, s, h)) in set.into_iter().zip(expected) {
            let ceiling = own_hard_limit(r);
            assert_eq!(resource, r);
            assert_eq!((soft, hard), (s.min(ceiling), h.min(ceiling)), "resource {r}");
        }
    }
}
