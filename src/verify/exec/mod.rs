//! A program in any language as a [`Backward`], over the JSON Lines protocol of
//! `protocol-v1.md`.
//!
//! The program is started once through `sh -c`, contained ([`process`]: its own process group, a
//! PID namespace where the kernel allows, resource limits, optionally bubblewrap). A writer thread
//! feeds its standard input (so a program that stops reading cannot block the verifier), a reader
//! thread turns its standard output into lines (bytes, decoded lossily, at most
//! [`ANSWER_LINE_LIMIT`] bytes kept of one line) on a bounded channel read with a time limit, and
//! a third thread keeps the last lines of its standard error ([`stderr`]). Every fault fails the
//! case at hand with a message that says which ([`fault`]): not JSON, a missing key, the wrong
//! id, a non-number, a ragged matrix, a line too long, no answer in time, an exit, a child that
//! kept standard output open, a closed standard input. An answer that comes after its time limit
//! is recognised by its id and skipped. Once the program is gone or given up on, its whole
//! process group is killed and every remaining case fails at once with the same message.

pub mod fault;
pub mod limits;
mod namespace;
pub mod process;
pub mod stderr;
pub mod stray;

pub use fault::ProcessFault;
pub use limits::ProcessLimits;
pub use process::Isolation;

use std::io::{self, BufReader, Write};
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Backward, Fault};
use crate::catalogue::{Answer, Request};
use crate::protocol::lines::{Line, LineReader};
use crate::protocol::{UNSUPPORTED, answer_from_json, answer_numbers, request_to_json};
use process::{Contained, Spawn};
use stderr::StderrTail;

/// The longest answer line read, in bytes (64 MiB); a longer one is skipped, not buffered.
pub const ANSWER_LINE_LIMIT: usize = 64 << 20;
/// Lines of standard output read ahead of the verifier (each at most [`ANSWER_LINE_LIMIT`]).
const LINES_IN_FLIGHT: usize = 2;
/// How long an exited program is given to report its status.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How long the standard error of an exited program is given to close.
const STDERR_GRACE: Duration = Duration::from_millis(500);
/// How long a program whose standard input was closed is given to exit on its own.
const CLOSE_GRACE: Duration = Duration::from_millis(200);
/// How much of a line that is not an answer is quoted.
const QUOTE_CHARS: usize = 80;
/// Time-outs in a row after which the program is taken to have stopped answering.
const TIMEOUTS_IN_A_ROW: u32 = 2;
/// Exit statuses of `sh` for a command it cannot run: not executable, not found.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

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
        let mut process = Contained::start(&Spawn {
            command: &self.command,
            dir: self.dir.as_deref(),
            env: &self.env,
            limits: &self.limits,
            isolation,
        })?;
        let child = process.child();
        let mut stdin = child.stdin.take().expect("internal: piped stdin");
        let stdout = child.stdout.take().expect("internal: piped stdout");
        let stderr = child.stderr.take().expect("internal: piped stderr");

        // Bounded: a program that prints faster than it is asked blocks on its own standard
        // output instead of filling the verifier's memory.
        let (events, answers) = mpsc::sync_channel(LINES_IN_FLIGHT);
        let (requests, to_write) = mpsc::channel::<String>();
        let stdin_closed = events.clone();
        thread::spawn(move || {
            for line in to_write {
                if writeln!(stdin, "{line}").and_then(|()| stdin.flush()).is_err() {
                    let _ = stdin_closed.send(Event::StdinClosed);
                    break;
                }
            }
        });
        thread::spawn(move || {
            for line in LineReader::new(BufReader::new(stdout), ANSWER_LINE_LIMIT) {
                let Ok(line) = line else { break };
                if events.send(Event::Line(line)).is_err() {
                    return;
                }
            }
            let _ = events.send(Event::StdoutClosed);
        });
        Ok(ExecSubject {
            command: self.command.clone(),
            process,
            requests: Some(requests),
            answers,
            stderr: StderrTail::follow(stderr),
            timeout: self.timeout,
            next_id: 1,
            timeouts_in_a_row: 0,
            answered: false,
            stdin_closed: false,
            gone: None,
        })
    }
}

/// What the pipe threads report.
enum Event {
    /// A line of standard output.
    Line(Line),
    /// Standard output reached its end.
    StdoutClosed,
    /// Writing a request failed: the program's standard input is closed.
    StdinClosed,
}

/// A running program that answers protocol requests.
pub struct ExecSubject {
    command: String,
    process: Contained,
    requests: Option<Sender<String>>,
    answers: Receiver<Event>,
    stderr: StderrTail,
    timeout: Duration,
    next_id: u64,
    timeouts_in_a_row: u32,
    /// Some line came back (so the command did start).
    answered: bool,
    stdin_closed: bool,
    /// Why the program is gone or given up on; every later request fails with it.
    gone: Option<ProcessFault>,
}

impl ExecSubject {
    /// Starts `command` through `sh -c` with the default limits; each request waits at most
    /// `timeout` for its answer. See [`Program::start`].
    pub fn start(command: &str, timeout: Duration) -> io::Result<ExecSubject> {
        Program::new(command, timeout).start()
    }

    /// The last lines the program wrote to standard error.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// How the program is held apart.
    pub fn isolation(&self) -> Isolation {
        self.process.isolation()
    }

    /// The fault when the command could not be started at all (the shell exited 126 or 127
    /// before any answer): one message for the whole run, not one per case.
    pub fn cannot_start(&self) -> Option<&ProcessFault> {
        self.gone
            .as_ref()
            .filter(|f| matches!(f, ProcessFault::CannotStart { .. }))
    }

    /// Records a final fault and kills what is left of the program.
    fn give_up(&mut self, fault: ProcessFault) -> Fault {
        self.requests = None;
        self.process.kill();
        self.gone = Some(fault.clone());
        fault.into()
    }

    /// The fault of a program whose standard output closed: its exit, or that it still runs.
    fn closed_stdout(&mut self) -> ProcessFault {
        let start = Instant::now();
        let status = loop {
            match self.process.status() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < EXIT_GRACE => thread::sleep(Duration::from_millis(10)),
                Ok(None) => return ProcessFault::ClosedStdout,
                Err(e) => {
                    return ProcessFault::Exited {
                        status: format!("status unknown: {e}"),
                        stderr: self.stderr.lines_when_closed(STDERR_GRACE),
                    };
                }
            }
        };
        let stderr = self.stderr.lines_when_closed(STDERR_GRACE);
        let cannot_run = status.code().is_some_and(|c| SHELL_CANNOT_RUN.contains(&c));
        let status = status.to_string();
        if cannot_run && !self.answered {
            ProcessFault::CannotStart { status, stderr }
        } else {
            ProcessFault::Exited { status, stderr }
        }
    }

    /// The fault of a request that got no answer in time.
    fn no_answer(&mut self, id: u64) -> ProcessFault {
        if let Ok(Some(status)) = self.process.status() {
            // Exited, yet its standard output is open: a process it started holds it.
            return ProcessFault::ChildKeptStdoutOpen {
                status: status.to_string(),
                stderr: self.stderr.lines(),
            };
        }
        if self.stdin_closed {
            return ProcessFault::ClosedStdin;
        }
        self.timeouts_in_a_row += 1;
        ProcessFault::TimedOut {
            id,
            seconds: self.timeout.as_secs_f64(),
        }
    }

    /// Reads the answer to request `id`, skipping late answers to earlier requests.
    fn read_answer(&mut self, id: u64, request: &Request) -> Result<Answer, Fault> {
        let deadline = Instant::now() + self.timeout;
        loop {
            // Checked here too: a program that floods late answers always has a line ready.
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match left.is_zero() {
                true => Err(RecvTimeoutError::Timeout),
                false => self.answers.recv_timeout(left),
            };
            let line = match event {
                Ok(Event::Line(line)) => line,
                Ok(Event::StdinClosed) => {
                    // Its answer will never come; wait for its exit or the time-out to tell
                    // a program that exited from one that closed standard input and runs on.
                    self.stdin_closed = true;
                    continue;
                }
                Ok(Event::StdoutClosed) | Err(RecvTimeoutError::Disconnected) => {
                    let fault = self.closed_stdout();
                    return Err(self.give_up(fault));
                }
                Err(RecvTimeoutError::Timeout) => {
                    let fault = self.no_answer(id);
                    if fault.is_final() {
                        return Err(self.give_up(fault));
                    }
                    if self.timeouts_in_a_row >= TIMEOUTS_IN_A_ROW {
                        // This request says it timed out; the later ones that it stopped.
                        self.give_up(ProcessFault::StoppedAnswering {
                            in_a_row: TIMEOUTS_IN_A_ROW,
                            seconds: self.timeout.as_secs_f64(),
                        });
                    }
                    return Err(fault.into());
                }
            };
            self.answered = true;
            if line.cut {
                self.timeouts_in_a_row = 0;
                return Err(ProcessFault::LineTooLong {
                    bytes: line.len,
                    limit: ANSWER_LINE_LIMIT,
                }
                .into());
            }
            let line = line.text;
            // Parsed into a JSON tree, a line takes several times its length; a line far longer
            // than its gradients can need is refused before it is parsed.
            let budget = answer_budget(request);
            if line.len() > budget {
                self.timeouts_in_a_row = 0;
                return Err(ProcessFault::LineTooLong {
                    bytes: line.len() as u64,
                    limit: budget,
                }
                .into());
            }
            let value: Value = match crate::json::parse_lenient(&line) {
                Ok(value) => value,
                Err(e) => {
                    self.timeouts_in_a_row = 0;
                    return Err(protocol(format!(
                        "the answer is not JSON ({e}): {}",
                        quote(&line)
                    )));
                }
            };
            let found = value.get("id").and_then(Value::as_u64);
            if found.is_some_and(|earlier| earlier < id) {
                continue; // a late answer, skipped; it does not count as answering
            }
            self.timeouts_in_a_row = 0;
            return match found {
                Some(this) if this == id => parse_answer(&value, request),
                Some(other) => Err(protocol(format!("the answer has id {other}, expected {id}"))),
                None => Err(protocol(format!(
                    "the answer has no numeric `id` (expected {id}): {}",
                    quote(&line)
                ))),
            };
        }
    }
}

/// A program that was started, or the reason it could not be: in a parallel run, a start that
/// fails on one worker (out of processes or file descriptors) fails that worker's requests with
/// the reason instead of ending the run.
pub enum Started {
    /// The program, running.
    Running(ExecSubject),
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
        match self.start() {
            Ok(subject) => Started::Running(subject),
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
}

impl Backward for ExecSubject {
    fn label(&self) -> String {
        self.command.clone()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        if let Some(fault) = &self.gone {
            return Err(fault.clone().into());
        }
        let id = self.next_id;
        self.next_id += 1;
        let line = request_to_json(request, id).to_string();
        if self.requests.as_ref().is_none_or(|r| r.send(line).is_err()) {
            // The writer stopped: the program closed its standard input, or exited.
            let fault = match self.process.status() {
                Ok(None) if self.stdin_closed => ProcessFault::ClosedStdin,
                _ => self.closed_stdout(),
            };
            return Err(self.give_up(fault));
        }
        self.read_answer(id, request)
    }
}

impl Drop for ExecSubject {
    fn drop(&mut self) {
        // Closing standard input asks the program to finish; then the whole group is killed,
        // whatever it left running.
        self.requests = None;
        let start = Instant::now();
        while start.elapsed() < CLOSE_GRACE {
            if let Ok(Some(_)) = self.process.status() {
                break;
            }
            thread::sleep(Duration::from_millis(5));
        }
        self.process.kill();
    }
}

/// A protocol fault, as the verifier's fault.
fn protocol(message: String) -> Fault {
    ProcessFault::Protocol(message).into()
}

/// The gradients of an answer line, keyed and shaped as `request`'s op says, or the fault it
/// shows.
fn parse_answer(value: &Value, request: &Request) -> Result<Answer, Fault> {
    if let Some(error) = value.get("error") {
        return match error.as_str() {
            Some(UNSUPPORTED) => Err(Fault::Unsupported),
            Some(text) => Err(protocol(format!("the program answered with an error: {text}"))),
            None => Err(protocol(format!("the program answered with an error: {error}"))),
        };
    }
    let Some(grads) = value.get("grads") else {
        return Err(protocol("the answer has neither `grads` nor `error`".to_owned()));
    };
    answer_from_json(grads, request).map_err(Fault::of_answer)
}

/// Bytes a JSON number may take in an answer, generously (`-1.2345678901234567e-308, `).
const BYTES_PER_NUMBER: usize = 64;
/// Bytes for everything in an answer line but its numbers (keys, brackets, white space).
const ANSWER_OVERHEAD: usize = 1 << 20;

/// The longest answer line that gradients shaped `like` these can need (at most
/// [`ANSWER_LINE_LIMIT`]).
fn answer_budget(request: &Request) -> usize {
    answer_numbers(request)
        .saturating_mul(BYTES_PER_NUMBER)
        .saturating_add(ANSWER_OVERHEAD)
        .min(ANSWER_LINE_LIMIT)
}

/// The first characters of a line, for messages.
fn quote(line: &str) -> String {
    let mut quoted: String = line.chars().take(QUOTE_CHARS).collect();
    if line.chars().count() > QUOTE_CHARS {
        quoted.push('…');
    }
    format!("`{quoted}`")
}
