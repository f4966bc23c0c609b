//! Starting an untrusted program so that it cannot outlive the verifier or take the machine.
//!
//! Layers, each used where it works:
//! 1. **A process group.** The program (`sh -c CMD` and whatever it starts) runs in a group of its
//!    own, and the whole group gets SIGKILL (`kill(-pgid)`) when the verifier is done with it, when
//!    it stops answering, and on drop. dash forks a command instead of exec'ing it, so killing
//!    only `sh` would leave the program running; the group catches it. A process that calls
//!    `setsid` (or `setpgid`) leaves the group: layer 2 catches it.
//! 2. **A PID namespace** (`unshare --pid --fork --kill-child`, root or unprivileged user
//!    namespaces needed; tried once at run time, silently skipped where refused). The program's
//!    shell is process 1 of a namespace of its own; when it dies the kernel kills every process
//!    in the namespace, `setsid` or not.
//! 3. **Resource limits** (setrlimit, set in the child before exec and inherited by everything it
//!    starts): address space (`--memory-mb`), CPU seconds (`--cpu-seconds`: SIGXCPU, then
//!    SIGKILL a second later), the size of a file it writes (`--file-mb`: SIGXFSZ), no core
//!    files. No process-count limit: RLIMIT_NPROC counts every process of the *user*, not of the
//!    program, and is ignored for root, so it would either limit nothing or the verifier itself.
//!    A fork bomb is stopped by the PID namespace's death at the end, not during the run.
//! 4. **`--sandbox`**: bubblewrap (`bwrap`), where installed and allowed to make user namespaces:
//!    no network, a new PID namespace and session, and a read-only view of the whole file system
//!    except the program's folder (and an empty `/tmp`). Asked for and not available, it is an
//!    error, never a silent downgrade.
//!
//! Each child also gets PR_SET_PDEATHSIG = SIGKILL, so a verifier that is itself killed (Ctrl-C
//! does not reach a child in its own group) takes its children with it. The kernel sends it
//! when the *thread* that started the child ends: keep a subject on the thread that made it.

use std::io;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;

use std::os::unix::process::CommandExt;

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

/// How a program is held apart from the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A process group of its own, killed as a whole.
    ProcessGroup,
    /// A process group and a PID namespace (`unshare --pid --fork`).
    PidNamespace,
    /// bubblewrap: PID and network namespaces, a read-only file system but its folder.
    Sandbox,
}

impl Isolation {
    /// True when this kind of isolation can be used on this machine (tried once, then cached).
    pub fn available(self) -> bool {
        static PID_NAMESPACE: OnceLock<bool> = OnceLock::new();
        static SANDBOX: OnceLock<bool> = OnceLock::new();
        match self {
            Isolation::ProcessGroup => true,
            Isolation::PidNamespace => *PID_NAMESPACE.get_or_init(|| runs(&unshare_prefix())),
            Isolation::Sandbox => *SANDBOX.get_or_init(|| runs(&bwrap_prefix(Path::new("/")))),
        }
    }

    /// The isolation for `limits`: the sandbox if asked for, else the strongest that works.
    pub fn for_limits(limits: &ProcessLimits) -> Isolation {
        if limits.sandbox {
            Isolation::Sandbox
        } else if Isolation::PidNamespace.available() {
            Isolation::PidNamespace
        } else {
            Isolation::ProcessGroup
        }
    }
}

/// True when `prefix true` runs and exits 0.
fn runs(prefix: &[String]) -> bool {
    Command::new(&prefix[0])
        .args(&prefix[1..])
        .arg("true")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn unshare_prefix() -> Vec<String> {
    ["unshare", "--pid", "--fork", "--kill-child", "--mount-proc"]
        .map(String::from)
        .to_vec()
}

fn bwrap_prefix(dir: &Path) -> Vec<String> {
    let dir = dir.to_string_lossy().into_owned();
    let mut prefix: Vec<String> = [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
    ]
    .map(String::from)
    .to_vec();
    if dir != "/" {
        prefix.extend(["--bind".into(), dir.clone(), dir.clone()]);
    }
    prefix.extend(
        [
            "--chdir",
            &dir,
            "--unshare-net",
            "--unshare-pid",
            "--unshare-ipc",
            "--new-session",
            "--die-with-parent",
        ]
        .map(String::from),
    );
    prefix
}

/// What to start, where, and how held.
#[derive(Debug, Clone)]
pub struct Spawn<'a> {
    /// Run through `sh -c`.
    pub command: &'a str,
    /// The working directory (default: the verifier's).
    pub dir: Option<&'a Path>,
    /// Extra environment variables.
    pub env: &'a [(String, String)],
    /// Its resource limits.
    pub limits: &'a ProcessLimits,
    /// How it is held apart.
    pub isolation: Isolation,
}

/// A started program with its pipes, killed with its whole process group on drop.
pub struct Contained {
    child: Child,
    status: Option<ExitStatus>,
    isolation: Isolation,
}

impl Contained {
    /// Starts `spawn.command` with piped standard streams. An isolation that is not available
    /// here is an error that names it.
    pub fn start(spawn: &Spawn) -> io::Result<Contained> {
        if !spawn.isolation.available() {
            return Err(io::Error::other(match spawn.isolation {
                Isolation::Sandbox => {
                    "--sandbox needs bubblewrap (`bwrap`, Debian package bubblewrap) allowed to create namespaces; it is missing or refused here"
                }
                _ => "this machine refuses a PID namespace (`unshare --pid --fork`)",
            }));
        }
        let dir: PathBuf = match spawn.dir {
            Some(dir) => dir
                .canonicalize()
                .map_err(|e| io::Error::new(e.kind(), format!("the folder {}: {e}", dir.display())))?,
            None => std::env::current_dir()?,
        };
        let mut argv = match spawn.isolation {
            Isolation::ProcessGroup => Vec::new(),
            Isolation::PidNamespace => unshare_prefix(),
            Isolation::Sandbox => bwrap_prefix(&dir),
        };
        argv.extend(["sh".into(), "-c".into(), spawn.command.to_owned()]);
        let mut command = Command::new(&argv[0]);
        command
            .args(&argv[1..])
            .current_dir(&dir)
            .envs(spawn.env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .process_group(0);
        let limits = rlimits(spawn.limits);
        // SAFETY: the closure runs in the forked child before exec and only makes system calls
        // (setrlimit, prctl, getppid), which are async-signal-safe; it allocates nothing.
        let parent = std::process::id() as libc::pid_t;
        unsafe {
            command.pre_exec(move || {
                for &(resource, soft, hard) in &limits {
                    let limit = libc::rlimit {
                        rlim_cur: soft,
                        rlim_max: hard,
                    };
                    if libc::setrlimit(resource, &limit) != 0 {
                        return Err(io::Error::last_os_error());
                    }
                }
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The verifier died between fork and prctl: the signal will never come.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                Ok(())
            });
        }
        let child = command.spawn()?;
        Ok(Contained {
            child,
            status: None,
            isolation: spawn.isolation,
        })
    }

    /// The isolation the program runs under.
    pub fn isolation(&self) -> Isolation {
        self.isolation
    }

    /// The child's standard streams (each `Some` once).
    pub fn child(&mut self) -> &mut Child {
        &mut self.child
    }

    /// The exit status of the started process, if it has exited. Other processes of the group may
    /// still run.
    pub fn status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() {
            self.status = self.child.try_wait()?;
        }
        Ok(self.status)
    }

    /// Kills every process of the group (and with it, of the PID namespace) and reaps the child.
    pub fn kill(&mut self) {
        // The group id is the child's pid; it cannot be reused while the child is unreaped or a
        // member of the group lives.
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill has no memory effects; a group that is gone gives ESRCH, ignored.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        if let Ok(status) = self.child.wait() {
            self.status.get_or_insert(status);
        }
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        self.kill();
    }
}

#[cfg(target_env = "gnu")]
type Resource = libc::__rlimit_resource_t;
#[cfg(not(target_env = "gnu"))]
type Resource = libc::c_int;

/// (resource, soft, hard) for each limit, never above the verifier's own hard limits (a process
/// may lower its hard limits, not raise them).
fn rlimits(limits: &ProcessLimits) -> [(Resource, libc::rlim_t, libc::rlim_t); 4] {
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
