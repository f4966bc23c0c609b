//! A program in any language as a [`Backward`], over the JSON Lines protocol of
//! `protocol-v1.md`: protocol v1 ([`v1`]: request lines, answers checked against their request
//! and id) on top of a transport ([`channel`]: one line out, one bounded, lossy line back within
//! a time budget).
//!
//! The program is started once through `sh -c`, contained ([`process`]: its own process group, a
//! PID namespace where the kernel allows, resource limits, optionally bubblewrap). The channel
//! feeds its standard input from a writer thread (so a program that stops reading cannot block
//! the verifier), turns its standard output into lines (bytes, decoded lossily, at most
//! [`ANSWER_LINE_LIMIT`] bytes kept of one line) on a bounded channel read with a time limit, and
//! keeps the last lines of its standard error ([`stderr`]). Every fault fails the case at hand
//! with a message that says which ([`fault`]): not JSON, a missing key, the wrong id, a
//! non-number, a ragged matrix, a line too long (longer than the request's gradients can need,
//! ended or not by the time limit), no answer in time, an exit, a child that kept standard
//! output open, a closed standard input. An answer that comes after its time limit is
//! recognised by its id and skipped. Once the program is gone or given up on, its whole process
//! group is killed and every remaining case fails at once with the same message (for a program
//! that went silent after a line too long, that line's).

pub mod channel;
mod exchange;
pub mod fault;
pub mod limits;
#[cfg(target_os = "linux")]
mod namespace;
pub mod process;
pub mod restarting;
pub mod stderr;
pub mod stray;
mod v1;

pub use channel::ANSWER_LINE_LIMIT;
pub use fault::ProcessFault;
pub use limits::ProcessLimits;
pub use process::Isolation;
pub use restarting::{RESTARTS_PER_OP, Restarting};

use std::io;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::{Backward, Fault};
use crate::catalogue::{Answer, Request};
use channel::Channel;
use process::{Contained, Spawn};
use v1::Reading;

/// A program to run, and how.
#[derive(Debug, Clone)]
pub struct Program {
    /// Run through `sh -c`.
    pub command: String,
    /// How long each request waits for its answer.
    pub timeout: Duration,
    /// Resource limits and the sandbox switch.
    pub limits: ProcessLimits,
    /// The working directory (default: the verifier's).
    pub dir: Option<PathBuf>,
    /// Extra environment variables.
    pub env: Vec<(String, String)>,
    /// How the program is held apart (default: [`Isolation::for_limits`]).
    pub isolation: Option<Isolation>,
}

impl Program {
    /// `command` with `timeout` a request, the default limits, in the current folder.
    pub fn new(command: &str, timeout: Duration) -> Program {
        Program {
            command: command.to_owned(),
            timeout,
            limits: ProcessLimits::default(),
            dir: None,
            env: Vec::new(),
            isolation: None,
        }
    }

    /// Starts the program. A shell that cannot be started, a folder that does not exist or an
    /// isolation that is not available here is an I/O error; a command that does not exist starts
    /// a shell that exits at once with 127, which [`ExecSubject::cannot_start`] then tells.
    pub fn start(&self) -> io::Result<ExecSubject> {
        let isolation = self
            .isolation
            .unwrap_or_else(|| Isolation::for_limits(&self.limits));
        let process = Contained::start(&Spawn {
            command: &self.command,
            dir: self.dir.as_deref(),
            env: &self.env,
            limits: &self.limits,
            isolation,
        })?;
        Ok(ExecSubject {
            command: self.command.clone(),
            channel: Channel::open(process, self.timeout),
            next_id: 1,
        })
    }
}

/// A running program that answers protocol requests.
pub struct ExecSubject {
    command: String,
    channel: Channel,
    next_id: u64,
}

impl ExecSubject {
    /// Starts `command` through `sh -c` with the default limits; each request waits at most
    /// `timeout` for its answer. See [`Program::start`].
    pub fn start(command: &str, timeout: Duration) -> io::Result<ExecSubject> {
        Program::new(command, timeout).start()
    }

    /// The last lines the program wrote to standard error.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.channel.stderr_tail()
    }

    /// How the program is held apart.
    pub fn isolation(&self) -> Isolation {
        self.channel.isolation()
    }

    /// The fault when the command could not be started at all (the shell exited 126 or 127
    /// before any answer): one message for the whole run, not one per case.
    pub fn cannot_start(&self) -> Option<&ProcessFault> {
        self.channel
            .gone()
            .filter(|f| matches!(f, ProcessFault::CannotStart { .. }))
    }

    /// The fault that ended the program (it exited, or was given up on), if it has ended.
    pub fn gone(&self) -> Option<&ProcessFault> {
        self.channel.gone()
    }

    /// Reads the answer to request `id`, skipping late answers to earlier requests; they do not
    /// extend its time.
    fn read_answer(&mut self, id: u64, request: &Request) -> Result<Answer, Fault> {
        let deadline = Instant::now() + self.channel.timeout();
        let limit = v1::answer_budget(request);
        loop {
            let line = self.channel.receive(deadline, id, limit)?;
            if let Reading::Answer(answer) = v1::read(&line, id, request) {
                self.channel.heard();
                return answer;
            }
        }
    }
}

/// A program that was started (and is restarted where it dies, as in [`Restarting`]), or the
/// reason it could not be: in a parallel run, a start that fails on one worker (out of processes or file descriptors) fails that worker's requests with
/// the reason instead of ending the run.
pub enum Started {
    /// The program, running, and started again where it dies.
    Running(Box<Restarting>),
    /// The program could not be started.
    Failed {
        /// The command, for reports.
        command: String,
        /// Why it could not start.
        why: String,
    },
}

impl Program {
    /// [`Program::start`], with a failure kept as a [`Started::Failed`] subject.
    pub fn start_or_fault(&self) -> Started {
        match Restarting::start(self.clone()) {
            Ok(subject) => Started::Running(Box::new(subject)),
            Err(e) => Started::Failed {
                command: self.command.clone(),
                why: format!("the program could not be started: {e}"),
            },
        }
    }
}

impl Backward for Started {
    fn label(&self) -> String {
        match self {
            Started::Running(subject) => subject.label(),
            Started::Failed { command, .. } => command.clone(),
        }
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        match self {
            Started::Running(subject) => subject.answer(request),
            Started::Failed { why, .. } => Err(Fault::Failed(why.clone())),
        }
    }

    fn has_answered(&self) -> bool {
        matches!(self, Started::Running(subject) if subject.has_answered())
    }
}

impl Backward for ExecSubject {
    fn label(&self) -> String {
        self.command.clone()
    }

    fn has_answered(&self) -> bool {
        self.channel.answered()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        if let Some(fault) = self.channel.gone() {
            return Err(fault.clone().into());
        }
        let id = self.next_id;
        self.next_id += 1;
        self.channel.send(v1::request_line(request, id))?;
        self.read_answer(id, request)
    }
}
