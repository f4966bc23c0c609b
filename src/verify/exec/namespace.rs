//! The PID namespace of a program: what `unshare --pid --fork --kill-child --mount-proc` does,
//! done here so that the processes that wait hold none of the program's pipes (closing its
//! standard input or output is then seen as the program's own doing). Root or unprivileged user
//! namespaces are needed; [`super::process::Isolation::available`] tries it once at run time.
//!
//! ```text
//! verifier ── waiter (outside; exits like the program) ── init (process 1) ── sh -c CMD ── …
//! ```
//! Init gets SIGKILL when the waiter dies, and when init dies the kernel kills every process in
//! the namespace, `setsid` or not.
//!
//! With [`Proc::Own`], init also makes a mount namespace of its own, private (nothing mounted in
//! it reaches the host), with a fresh `/proc`: the program sees only the processes of its
//! namespace, not the verifier's command line or environment. Init is a fork of the verifier, not
//! an exec, so it wipes its copy of the verifier's command line and environment (and is not
//! dumpable): its `/proc/1/cmdline` and `/proc/1/environ` read as NUL bytes. A program running as
//! root can still read init's memory, a copy of the verifier's at the fork; only `--sandbox`
//! (capabilities dropped) takes that away. Where the kernel refuses the mount namespace or the
//! mount (some containers), [`Proc::Host`] keeps the host's `/proc`: the program then sees every
//! process of the machine, with their command lines, and the environments of its own user's
//! (the verifier's among them). Everything here runs between fork and exec, so it only makes
//! system calls.

use std::io;

/// What a program in the namespace sees in `/proc`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Proc {
    /// A `/proc` of its own: the processes of the namespace only. Init wipes these memory areas
    /// of its own (the verifier's, as read before the fork).
    Own(Areas),
    /// The host's `/proc`: every process of the machine.
    Host,
}

/// Where the verifier's command line and environment strings lie in its memory (as a fork's
/// too): `[start, end)` of each, from `/proc/self/stat`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Areas {
    command_line: (usize, usize),
    environment: (usize, usize),
}

impl Areas {
    /// The verifier's own areas, from fields 48 to 51 of `/proc/self/stat` (arg_start, arg_end,
    /// env_start, env_end); `None` where they cannot be read.
    pub(super) fn of_verifier() -> Option<Areas> {
        let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
        // Field 2, the command name, may hold spaces and parentheses: fields 3 on follow the last ')'.
        let (_, after_name) = stat.rsplit_once(')')?;
        let fields: Vec<usize> = after_name
            .split_whitespace()
            .skip(48 - 3)
            .take(4)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        let [arg_start, arg_end, env_start, env_end] = fields[..] else {
            return None;
        };
        let valid = 0 < arg_start && arg_start <= arg_end && 0 < env_start && env_start <= env_end;
        valid.then_some(Areas {
            command_line: (arg_start, arg_end),
            environment: (env_start, env_end),
        })
    }

    /// Overwrites both areas with zeros.
    ///
    /// # Safety
    /// Only in a fork that runs no more Rust code that reads its arguments or environment (init),
    /// with the areas of its own memory.
    unsafe fn wipe(self) {
        for (start, end) in [self.command_line, self.environment] {
            // SAFETY: the kernel's record of this process's argument and environment strings,
            // mapped writable at the top of its stack since exec; the caller reads neither.
            unsafe { std::ptr::write_bytes(start as *mut u8, 0, end - start) };
        }
    }
}

/// In the child before exec: unshares a PID namespace and forks twice. This process (outside
/// the namespace) waits and exits like the program; the first fork is process 1 of the
/// namespace, a minimal init that (for [`Proc::Own`]) mounts a `/proc` of its own and waits for
/// the second fork, which returns to exec the program. The program is not process 1, so its
/// signals work as anywhere (process 1 ignores signals it has no handler for, SIGXCPU included).
/// Init reports the program's status over a pipe; each waiter holds no other descriptor, so the
/// program's pipes close when its own do.
///
/// # Safety
/// Only between fork and exec, in a single-threaded child.
pub(super) unsafe fn enter(proc: Proc) -> io::Result<()> {
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
                let own = match proc {
                    Proc::Own(areas) => Some(mount_own_proc().map(|()| areas)?),
                    Proc::Host => None,
                };
                match libc::fork() {
                    -1 => Err(io::Error::last_os_error()),
                    0 => Ok(()),
                    program => {
                        if let Some(areas) = own {
                            hide(areas);
                        }
                        init(program, to_waiter)
                    }
                }
            }
            init => wait_and_exit_like(init, from_init),
        }
    }
}

/// What `--mount-proc` does: a mount namespace of its own, private all the way down (so that
/// nothing mounted here propagates to the host), with a fresh `/proc` of this PID namespace.
///
/// # Safety
/// Only between fork and exec, in process 1 of a new PID namespace.
unsafe fn mount_own_proc() -> io::Result<()> {
    let none = std::ptr::null();
    // SAFETY: system calls with static C strings or null, as mount(2) allows.
    unsafe {
        if libc::unshare(libc::CLONE_NEWNS) != 0
            || libc::mount(
                none,
                c"/".as_ptr(),
                none,
                libc::MS_REC | libc::MS_PRIVATE,
                none.cast(),
            ) != 0
            || libc::mount(
                c"proc".as_ptr(),
                c"/proc".as_ptr(),
                c"proc".as_ptr(),
                libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC,
                none.cast(),
            ) != 0
        {
            return Err(io::Error::last_os_error());
        }
    }
    Ok(())
}

/// Makes init show nothing of the verifier it was forked from: not dumpable (its `/proc` files
/// then belong to root and need ptrace rights), and its copy of the verifier's command line and
/// environment wiped.
///
/// # Safety
/// Only in init, between fork and exec.
unsafe fn hide(areas: Areas) {
    // SAFETY: prctl has no memory effects; init reads neither area (see `Areas::wipe`).
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0);
        areas.wipe();
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
