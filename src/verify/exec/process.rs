//! Starting an untrusted program so that it cannot outlive the verifier or take the machine.
//!
//! Layers, each used where it works:
//! 1. **A process group.** The program (`sh -c CMD` and whatever it starts) runs in a group of its
//!    own, and the whole group gets SIGKILL (`kill(-pgid)`) when the verifier is done with it, when
//!    it stops answering, and on drop. dash forks a command instead of exec'ing it, so killing
//!    only `sh` would leave the program running; the group catches it. A process that calls
//!    `setsid` (or `setpgid`) leaves the group: layer 2 catches it, and without layer 2 the
//!    token in its environment does ([`super::stray`]).
//! 2. **A PID namespace** (what `unshare --pid --fork --kill-child` does, done here so that the
//!    processes that wait hold none of the program's pipes; root or unprivileged user
//!    namespaces needed; tried once at run time, silently skipped where refused). The started
//!    process unshares the namespace and forks a minimal init (process 1 of the namespace),
//!    which forks the program's shell; each waits for its child and passes the program's status
//!    up. Init gets SIGKILL when its parent dies, and when init dies the kernel kills every
//!    process in the namespace, `setsid` or not. `/proc` is not remounted: the program sees the
//!    host's process list.
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

use super::stray;

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
            Isolation::PidNamespace => *PID_NAMESPACE.get_or_init(|| {
                let limits = ProcessLimits::default();
                let spawn = Spawn {
                    command: "true",
                    dir: None,
                    env: &[],
                    limits: &limits,
                    isolation: Isolation::PidNamespace,
                };
                runs(command(&spawn, Path::new("/")))
            }),
            Isolation::Sandbox => *SANDBOX.get_or_init(|| {
                let prefix = bwrap_prefix(Path::new("/"));
                let mut command = Command::new(&prefix[0]);
                command.args(&prefix[1..]).arg("true");
                runs(command)
            }),
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

/// True when `command` runs and exits 0.
fn runs(mut command: Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
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
    /// The child's exit status, once seen (the child stays unreaped until [`Contained::kill`]).
    status: Option<ExitStatus>,
    /// The group has been killed and the child reaped.
    killed: bool,
    /// The token in the environment of everything the program starts ([`super::stray`]).
    token: String,
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
        let token = stray::new_token();
        let child = command(spawn, &dir).env(stray::TOKEN_VAR, &token).spawn()?;
        Ok(Contained {
            child,
            status: None,
            killed: false,
            token,
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
    /// still run. The process is not reaped, so its pid (the group's id) stays taken until
    /// [`Contained::kill`].
    pub fn status(&mut self) -> io::Result<Option<ExitStatus>> {
        if self.status.is_none() && !self.killed {
            self.status = peek_status(self.child.id() as libc::pid_t)?;
        }
        Ok(self.status)
    }

    /// Kills every process of the group (and with it, of the PID namespace) and reaps the child.
    pub fn kill(&mut self) {
        if self.killed {
            return;
        }
        // The group id is the child's pid, taken until the child is reaped below: the signal
        // cannot reach a stranger's group.
        let pgid = self.child.id() as libc::pid_t;
        // SAFETY: kill has no memory effects; a group that is gone gives ESRCH, ignored.
        unsafe {
            libc::kill(-pgid, libc::SIGKILL);
        }
        if self.isolation == Isolation::ProcessGroup {
            // Nothing holds a process that left the group but its token.
            stray::kill_carriers(&self.token);
        }
        if let Ok(status) = self.child.wait() {
            self.status.get_or_insert(status);
        }
        self.killed = true;
    }
}

impl Drop for Contained {
    fn drop(&mut self) {
        self.kill();
    }
}

/// The exit status of child `pid` if it has exited, without reaping it (waitid with WNOWAIT).
fn peek_status(pid: libc::pid_t) -> io::Result<Option<ExitStatus>> {
    use std::os::unix::process::ExitStatusExt;
    // SAFETY: waitid writes one siginfo_t into the zeroed struct it is given; the accessors
    // read the fields of a SIGCHLD siginfo, which waitid fills.
    unsafe {
        let mut info: libc::siginfo_t = std::mem::zeroed();
        let flags = libc::WEXITED | libc::WNOHANG | libc::WNOWAIT;
        if libc::waitid(libc::P_PID, pid as libc::id_t, &mut info, flags) != 0 {
            return Err(io::Error::last_os_error());
        }
        if info.si_pid() == 0 {
            return Ok(None);
        }
        // Back to a wait status: the code in the second byte, or the signal (0x80: core dumped).
        let raw = match info.si_code {
            libc::CLD_EXITED => (info.si_status() & 0xff) << 8,
            libc::CLD_DUMPED => info.si_status() | 0x80,
            _ => info.si_status(),
        };
        Ok(Some(ExitStatus::from_raw(raw)))
    }
}

/// The command for `spawn` in `dir`: piped streams, its own process group, the limits and the
/// isolation set up in the child before exec.
fn command(spawn: &Spawn, dir: &Path) -> Command {
    let mut argv = match spawn.isolation {
        Isolation::ProcessGroup | Isolation::PidNamespace => Vec::new(),
        Isolation::Sandbox => bwrap_prefix(dir),
    };
    argv.extend(["sh".into(), "-c".into(), spawn.command.to_owned()]);
    let mut command = Command::new(&argv[0]);
    command
        .args(&argv[1..])
        .current_dir(dir)
        .envs(spawn.env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    let limits = rlimits(spawn.limits);
    let pid_namespace = spawn.isolation == Isolation::PidNamespace;
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes system calls
    // (setrlimit, prctl, getppid, unshare, fork, close, waitpid, kill, _exit), which are
    // async-signal-safe; it allocates nothing.
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
            if pid_namespace {
                enter_pid_namespace()?;
            }
            Ok(())
        });
    }
    command
}

/// In the child before exec: unshares a PID namespace and forks twice. This process (outside
/// the namespace) waits and exits like the program; the first fork is process 1 of the
/// namespace, a minimal init that waits for the second fork, which returns to exec the program.
/// The program is not process 1, so its signals work as anywhere (process 1 ignores signals it
/// has no handler for, SIGXCPU included). Init reports the program's status over a pipe; each
/// waiter holds no other descriptor, so the program's pipes close when its own do.
///
/// # Safety
/// Only between fork and exec, in a single-threaded child.
unsafe fn enter_pid_namespace() -> io::Result<()> {
    // SAFETY: system calls only; see the caller.
    unsafe {
        if libc::unshare(libc::CLONE_NEWPID) != 0
            && libc::unshare(libc::CLONE_NEWUSER | libc::CLONE_NEWPID) != 0
        {
            return Err(io::Error::last_os_error());
        }
        let mut report = [0; 2];
        if libc::pipe2(report.as_mut_ptr(), libc::O_CLOEXEC) != 0 {
            return Err(io::Error::last_os_error());
        }
        let [from_init, to_waiter] = report;
        match libc::fork() {
            -1 => Err(io::Error::last_os_error()),
            0 => {
                // Process 1: dies with the waiter, and takes the namespace with it.
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                match libc::fork() {
                    -1 => Err(io::Error::last_os_error()),
                    0 => Ok(()),
                    program => init(program, to_waiter),
                }
            }
            init => wait_and_exit_like(init, from_init),
        }
    }
}

/// Process 1 of the namespace: reaps every process until `program` ends, writes its status
/// (exit code or signal) to `report`, and exits, which kills what is left in the namespace.
///
/// # Safety
/// Only between fork and exec.
unsafe fn init(program: libc::pid_t, report: libc::c_int) -> ! {
    // SAFETY: system calls only; see the caller.
    unsafe {
        close_all_but(report);
        let mut status = 0;
        loop {
            let reaped = libc::waitpid(-1, &mut status, 0);
            if reaped == program {
                break;
            }
            if reaped == -1 && io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                libc::_exit(1);
            }
        }
        let message: [u8; 2] = if libc::WIFSIGNALED(status) {
            [SIGNALLED, libc::WTERMSIG(status) as u8]
        } else {
            [EXITED, libc::WEXITSTATUS(status) as u8]
        };
        libc::write(report, message.as_ptr().cast(), 2);
        libc::_exit(0)
    }
}

/// The program exited with the code that follows.
const EXITED: u8 = 1;
/// The program died of the signal that follows.
const SIGNALLED: u8 = 2;

/// Waits for `init`, then exits with the program's code or dies of its signal as read from
/// `report` (init killed before it could say: exits like init).
///
/// # Safety
/// Only between fork and exec.
unsafe fn wait_and_exit_like(init: libc::pid_t, report: libc::c_int) -> ! {
    // SAFETY: system calls only; see the caller.
    unsafe {
        close_all_but(report);
        let mut status = 0;
        while libc::waitpid(init, &mut status, 0) != init {
            if io::Error::last_os_error().raw_os_error() != Some(libc::EINTR) {
                libc::_exit(1);
            }
        }
        let mut message = [0u8; 2];
        let (kind, value) = if libc::read(report, message.as_mut_ptr().cast(), 2) == 2 {
            (message[0], libc::c_int::from(message[1]))
        } else if libc::WIFSIGNALED(status) {
            (SIGNALLED, libc::WTERMSIG(status))
        } else {
            (EXITED, libc::WEXITSTATUS(status))
        };
        if kind == SIGNALLED {
            libc::signal(value, libc::SIG_DFL);
            libc::kill(libc::getpid(), value);
            libc::_exit(128 + value);
        }
        libc::_exit(value)
    }
}

/// Closes every descriptor but `keep`.
///
/// # Safety
/// Only between fork and exec.
unsafe fn close_all_but(keep: libc::c_int) {
    let keep = keep as libc::c_uint;
    // SAFETY: closing descriptors has no memory effects.
    unsafe {
        let below = keep == 0 || libc::syscall(libc::SYS_close_range, 0, keep - 1, 0) == 0;
        let above = libc::syscall(libc::SYS_close_range, keep + 1, libc::c_uint::MAX, 0) == 0;
        if !(below && above) {
            for fd in (0..4096).filter(|&fd| fd != keep as libc::c_int) {
                libc::close(fd);
            }
        }
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
