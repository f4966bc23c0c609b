//! Starting an untrusted program so that it cannot outlive the verifier or take the machine.
//!
//! Layers, each used where it works:
//! 1. **A process group.** The program (`sh -c CMD` and whatever it starts) runs in a group of its
//!    own, and the whole group gets SIGKILL (`kill(-pgid)`) when the verifier is done with it, when
//!    it stops answering, and on drop. dash forks a command instead of exec'ing it, so killing
//!    only `sh` would leave the program running; the group catches it. A process that calls
//!    `setsid` (or `setpgid`) leaves the group: layer 2 catches it, and without layer 2 the
//!    token in its environment does ([`super::stray`]).
//! 2. **A PID namespace** where the kernel allows ([`super::namespace`]): everything the program
//!    starts dies with it, `setsid` or not. With it, where the kernel allows that too, a mount
//!    namespace and a `/proc` of its own: the program sees only its own processes, not the
//!    verifier's command line or environment ([`Isolation::sees_only_its_own_processes`]).
//!    Where that is refused it keeps the host's `/proc`, and sees every process of the machine
//!    and the environments of its user's, the verifier's among them.
//! 3. **Resource limits** ([`super::limits`]): memory, CPU time, file size.
//! 4. **`--sandbox`**: bubblewrap (`bwrap`), where installed and allowed to make user namespaces:
//!    no network, a new PID namespace and session, and a read-only view of the whole file system
//!    except the program's folder (and an empty `/tmp`). Asked for and not available, it is an
//!    error, never a silent downgrade.
//!
//! Each child also gets PR_SET_PDEATHSIG = SIGKILL, so a verifier that is itself killed (Ctrl-C
//! does not reach a child in its own group) takes its children with it. The kernel sends it
//! when the *thread* that started the child ends: keep a subject on the thread that made it.
//!
//! Layers 2 and 4 and the death signal are Linux's (`cfg(target_os = "linux")`). On macOS and
//! the other Unix systems a program gets layers 1 and 3: a PID namespace is never available,
//! `--sandbox` is an error that says it needs Linux, a process that leaves the group is not
//! found (there is no `/proc` to find its token in), and a program whose verifier is killed
//! outright is left running until it reads the end of its standard input. The module needs
//! Unix (`fork`, process groups, `setrlimit`): elsewhere (Windows) [`super`] refuses to start
//! a program at all.

use std::io;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;

#[cfg(unix)]
use std::os::unix::process::CommandExt;

use super::limits::ProcessLimits;
#[cfg(unix)]
use super::limits::rlimits;
#[cfg(target_os = "linux")]
use super::namespace::{self, Areas, Proc};
use super::stray;

/// Where there are no PID namespaces (macOS): none is ever made.
#[cfg(not(target_os = "linux"))]
#[derive(Debug, Clone, Copy)]
enum Proc {}

/// How a program is held apart from the verifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Isolation {
    /// A process group of its own, killed as a whole.
    ProcessGroup,
    /// A process group and a PID namespace (made in-process, as `unshare --pid --fork` would),
    /// with a `/proc` of its own where the kernel allows (as with `--mount-proc`).
    PidNamespace,
    /// bubblewrap: PID and network namespaces, a read-only file system but its folder.
    Sandbox,
}

impl Isolation {
    /// True when this kind of isolation can be used on this machine (tried once, then cached).
    pub fn available(self) -> bool {
        static SANDBOX: OnceLock<bool> = OnceLock::new();
        match self {
            Isolation::ProcessGroup => cfg!(unix),
            Isolation::PidNamespace => pid_namespace().is_some(),
            Isolation::Sandbox if !cfg!(target_os = "linux") => false,
            Isolation::Sandbox => *SANDBOX.get_or_init(|| {
                let prefix = bwrap_prefix(Path::new("/"));
                let mut command = Command::new(&prefix[0]);
                command.args(&prefix[1..]).arg("true");
                runs(command)
            }),
        }
    }

    /// True when a program under this isolation sees in `/proc` only its own processes (and none
    /// of the verifier's command line or environment); false for a process group, and for a PID
    /// namespace where the kernel refuses it a `/proc` of its own.
    pub fn sees_only_its_own_processes(self) -> bool {
        match self {
            Isolation::ProcessGroup => false,
            Isolation::PidNamespace => own_proc(),
            Isolation::Sandbox => true,
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

/// Whether this machine's PID namespace has a `/proc` of its own.
#[cfg(target_os = "linux")]
fn own_proc() -> bool {
    matches!(pid_namespace(), Some(Proc::Own(_)))
}

/// Elsewhere than Linux there is no PID namespace, so no `/proc` of its own.
#[cfg(not(target_os = "linux"))]
fn own_proc() -> bool {
    false
}

/// Elsewhere than Linux there is no PID namespace.
#[cfg(not(target_os = "linux"))]
fn pid_namespace() -> Option<Proc> {
    None
}

/// The PID namespace this machine allows (tried once, then cached): with a `/proc` of its own
/// where it can, else with the host's; `None` where the kernel refuses one.
#[cfg(target_os = "linux")]
fn pid_namespace() -> Option<Proc> {
    static PID_NAMESPACE: OnceLock<Option<Proc>> = OnceLock::new();
    *PID_NAMESPACE.get_or_init(|| {
        let limits = ProcessLimits::default();
        let spawn = Spawn {
            command: "true",
            dir: None,
            env: &[],
            limits: &limits,
            isolation: Isolation::PidNamespace,
        };
        let own = Areas::of_verifier().map(Proc::Own);
        own.into_iter()
            .chain([Proc::Host])
            .find(|&proc| runs(command(&spawn, Path::new("/"), Some(proc))))
    })
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
            // As root, bwrap would keep every capability: a program could remount / read-write.
            "--cap-drop",
            "ALL",
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

/// Why no program starts without Unix.
const NEEDS_UNIX: &str = "running a program (verify --exec, sweep --exec, grade) needs Unix (Linux or macOS): its process group and resource limits hold it there, and Windows has neither; run gradverify under WSL";

/// A started program with its pipes, killed with its whole process group on drop.
#[cfg_attr(
    not(unix),
    allow(dead_code, reason = "never made without Unix: Contained::start refuses")
)]
pub struct Contained {
    child: Child,
    /// The child's exit status, once seen (the child stays unreaped until [`Contained::kill`]).
    status: Option<ExitStatus>,
    /// The group has been killed and the child reaped.
    killed: bool,
    /// The token in the environment of everything the program starts ([`super::stray`]).
    token: String,
    isolation: Isolation,
    cpu_seconds: u64,
}

impl Contained {
    /// Starts `spawn.command` with piped standard streams. An isolation that is not available
    /// here is an error that names it.
    pub fn start(spawn: &Spawn) -> io::Result<Contained> {
        if !spawn.isolation.available() {
            return Err(io::Error::other(match spawn.isolation {
                _ if !cfg!(unix) => NEEDS_UNIX,
                Isolation::Sandbox if !cfg!(target_os = "linux") => {
                    "--sandbox needs Linux (bubblewrap and namespaces); this system has neither, so run without --sandbox (a process group and resource limits hold the program) or on Linux"
                }
                Isolation::Sandbox => {
                    "--sandbox needs bubblewrap (`bwrap`, Debian package bubblewrap) allowed to create namespaces; it is missing or refused here"
                }
                _ if !cfg!(target_os = "linux") => "a PID namespace needs Linux; this system has none",
                _ => "this machine refuses a new PID namespace",
            }));
        }
        Contained::start_contained(spawn)
    }

    /// Without Unix no isolation is available, so [`Contained::start`] has refused already.
    #[cfg(not(unix))]
    fn start_contained(_: &Spawn) -> io::Result<Contained> {
        Err(io::Error::other(NEEDS_UNIX))
    }

    /// [`Contained::start`] once its isolation is known to be available.
    #[cfg(unix)]
    fn start_contained(spawn: &Spawn) -> io::Result<Contained> {
        let dir: std::path::PathBuf = match spawn.dir {
            Some(dir) => dir
                .canonicalize()
                .map_err(|e| io::Error::new(e.kind(), format!("the folder {}: {e}", dir.display())))?,
            None => std::env::current_dir()?,
        };
        let token = stray::new_token();
        let namespace = match spawn.isolation {
            Isolation::PidNamespace => pid_namespace(),
            Isolation::ProcessGroup | Isolation::Sandbox => None,
        };
        let child = command(spawn, &dir, namespace)
            .env(stray::TOKEN_VAR, &token)
            .spawn()?;
        Ok(Contained {
            child,
            status: None,
            killed: false,
            token,
            isolation: spawn.isolation,
            cpu_seconds: spawn.limits.cpu_seconds,
        })
    }

    /// The exit status as the OS says it, with the limit that caused it where a signal names
    /// one: SIGXCPU (or a shell's 152) is the CPU limit, SIGKILL (or 137) its hard limit a second
    /// later, unless the system killed it.
    #[cfg(unix)]
    pub fn describe(&self, status: ExitStatus) -> String {
        use std::os::unix::process::ExitStatusExt;
        let signal = status
            .signal()
            .or_else(|| status.code().filter(|c| *c > 128).map(|c| c - 128));
        let cpu = self.cpu_seconds;
        match signal {
            Some(libc::SIGXCPU) => format!("{status}: the CPU limit of {cpu} s, --cpu-seconds"),
            Some(libc::SIGKILL) => format!(
                "{status}: killed, at the hard CPU limit of {} s (--cpu-seconds {cpu}) or by the system",
                cpu + 1
            ),
            _ => status.to_string(),
        }
    }

    /// The exit status as the OS says it.
    #[cfg(not(unix))]
    pub fn describe(&self, status: ExitStatus) -> String {
        status.to_string()
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
            #[cfg(unix)]
            {
                self.status = peek_status(self.child.id() as libc::pid_t)?;
            }
            #[cfg(not(unix))]
            {
                self.status = self.child.try_wait()?;
            }
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
        #[cfg(unix)]
        // SAFETY: kill has no memory effects; a group that is gone gives ESRCH, ignored.
        unsafe {
            libc::kill(-(self.child.id() as libc::pid_t), libc::SIGKILL);
        }
        #[cfg(not(unix))]
        let _ = self.child.kill();
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
#[cfg(unix)]
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
/// isolation set up in the child before exec (in a PID namespace with `namespace`'s `/proc`,
/// where given).
#[cfg(unix)]
fn command(spawn: &Spawn, dir: &Path, namespace: Option<Proc>) -> Command {
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
    #[cfg(target_os = "linux")]
    let parent = std::process::id() as libc::pid_t;
    // SAFETY: the closure runs in the forked child before exec and only makes system calls
    // (setrlimit, prctl, getppid, unshare, mount, fork, close, waitpid, kill, _exit), which are
    // async-signal-safe, and writes zeros over init's own memory; it allocates nothing.
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
            #[cfg(target_os = "linux")]
            {
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                    return Err(io::Error::last_os_error());
                }
                // The verifier died between fork and prctl: the signal will never come.
                if libc::getppid() != parent {
                    return Err(io::Error::from_raw_os_error(libc::ESRCH));
                }
                if let Some(proc) = namespace {
                    namespace::enter(proc)?;
                }
            }
            #[cfg(not(target_os = "linux"))]
            if let Some(proc) = namespace {
                match proc {}
            }
            Ok(())
        });
    }
    command
}
