//! The PID namespace of a program: what `unshare --pid --fork --kill-child` does, done here so
//! that the processes that wait hold none of the program's pipes (closing its standard input or
//! output is then seen as the program's own doing). Root or unprivileged user namespaces are
//! needed; [`super::process::Isolation::available`] tries it once at run time.
//!
//! ```text
//! verifier ── waiter (outside; exits like the program) ── init (process 1) ── sh -c CMD ── …
//! ```
//! Init gets SIGKILL when the waiter dies, and when init dies the kernel kills every process in
//! the namespace, `setsid` or not. `/proc` is not remounted: the program sees the host's process
//! list. Everything here runs between fork and exec, so it only makes system calls.

use std::io;

/// In the child before exec: unshares a PID namespace and forks twice. This process (outside
/// the namespace) waits and exits like the program; the first fork is process 1 of the
/// namespace, a minimal init that waits for the second fork, which returns to exec the program.
/// The program is not process 1, so its signals work as anywhere (process 1 ignores signals it
/// has no handler for, SIGXCPU included). Init reports the program's status over a pipe; each
/// waiter holds no other descriptor, so the program's pipes close when its own do.
///
/// # Safety
/// Only between fork and exec, in a single-threaded child.
pub(super) unsafe fn enter() -> io::Result<()> {
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
