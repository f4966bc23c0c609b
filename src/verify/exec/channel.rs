//! The transport to a contained program: one line out, one bounded line back within a budget.
//!
//! A [`Channel`] owns the started program ([`Contained`]) and three threads: a writer that feeds
//! its standard input (so a program that stops reading cannot block the verifier), a reader that
//! turns its standard output into lines (bytes, decoded lossily, at most [`ANSWER_LINE_LIMIT`]
//! bytes kept of one line) on a bounded channel, and the tail of its standard error
//! ([`StderrTail`]). It knows lines, not what they say: [`Channel::send`] writes one,
//! [`Channel::receive`] waits for one of at most a given length until a deadline and reports
//! every fault of the transport as it is (a line too long, no line in time, an exit, a closed
//! standard output, a child that kept it open, a closed standard input).
//!
//! A line too long fails the request at hand, whether it ended or is still unfinished at the
//! deadline (the bytes read of it are counted as they arrive: a `print` whose newline is never
//! flushed is a line too long, not silence); the end of an unfinished one that failed is skipped
//! when it comes. After [`TIMEOUTS_IN_A_ROW`] time-outs with no line that the protocol took as an
//! answer ([`Channel::heard`]) in between, or once the program is gone, its whole process group
//! is killed and every later call fails at once with the same fault: that it stopped answering,
//! or, where its last line was too long, that line (the silence followed from it).

use std::io::{self, BufReader, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::fault::ProcessFault;
use super::process::{Contained, Isolation};
use super::stderr::StderrTail;
use crate::protocol::lines::{Line, LineReader};
use crate::verify::Fault;

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
/// Time-outs in a row after which the program is taken to have stopped answering.
pub const TIMEOUTS_IN_A_ROW: u32 = 2;
/// Exit statuses of `sh` for a command it cannot run: not executable, not found.
const SHELL_CANNOT_RUN: [i32; 2] = [126, 127];

/// What the pipe threads report.
enum Event {
    /// A line of standard output.
    Line(Line),
    /// Standard output reached its end.
    StdoutClosed,
    /// Writing a line failed: the program's standard input is closed.
    StdinClosed,
}

/// How far the reader has read standard output: the lines it ended, and the bytes so far of
/// the one it is in.
#[derive(Debug, Default, Clone, Copy)]
struct Progress {
    ended: u64,
    unfinished: u64,
}

/// Lines to and from a running program.
pub struct Channel {
    process: Contained,
    lines_out: Option<Sender<String>>,
    lines_in: Receiver<Event>,
    /// Updated by the reader as bytes arrive.
    progress: Arc<Mutex<Progress>>,
    /// Lines received (the index of the next one).
    received: u64,
    /// The index of the unfinished line that already failed a request as too long.
    failed_unfinished: Option<u64>,
    /// The last line too long, while no answer came after it: the fault the program is given up
    /// with if it stops answering.
    too_long_unanswered: Option<ProcessFault>,
    stderr: StderrTail,
    /// How long a request waits for its answer.
    timeout: Duration,
    timeouts_in_a_row: u32,
    /// Some line came back (so the command did start).
    answered: bool,
    stdin_closed: bool,
    /// Why the program is gone or given up on; every later call fails with it.
    gone: Option<ProcessFault>,
}

impl Channel {
    /// The channel to `process`, whose standard streams are still piped, with `timeout` a
    /// request.
    pub fn open(mut process: Contained, timeout: Duration) -> Channel {
        let child = process.child();
        let stdin = child.stdin.take().expect("internal: piped stdin");
        let stdout = child.stdout.take().expect("internal: piped stdout");
        let stderr = child.stderr.take().expect("internal: piped stderr");
        // Bounded: a program that prints faster than it is asked blocks on its own standard
        // output instead of filling the verifier's memory.
        let (events, lines_in) = mpsc::sync_channel(LINES_IN_FLIGHT);
        let (lines_out, to_write) = mpsc::channel::<String>();
        let stdin_closed = events.clone();
        let progress = Arc::new(Mutex::new(Progress::default()));
        let counted = Counted {
            stdout,
            progress: Arc::clone(&progress),
        };
        thread::spawn(move || write_lines(stdin, to_write, stdin_closed));
        thread::spawn(move || read_lines(counted, events));
        Channel {
            process,
            lines_out: Some(lines_out),
            lines_in,
            progress,
            received: 0,
            failed_unfinished: None,
            too_long_unanswered: None,
            stderr: StderrTail::follow(stderr),
            timeout,
            timeouts_in_a_row: 0,
            answered: false,
            stdin_closed: false,
            gone: None,
        }
    }

    /// How long a request waits for its answer.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// The last lines the program wrote to standard error.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr.lines()
    }

    /// How the program is held apart.
    pub fn isolation(&self) -> Isolation {
        self.process.isolation()
    }

    /// Why the program is gone or given up on, if it is.
    pub fn gone(&self) -> Option<&ProcessFault> {
        self.gone.as_ref()
    }

    /// Whether the program wrote any line to its standard output.
    pub fn answered(&self) -> bool {
        self.answered
    }

    /// Sends one line (without its `\n`); the fault when the program can no longer read it.
    pub fn send(&mut self, line: String) -> Result<(), Fault> {
        if let Some(fault) = &self.gone {
            return Err(fault.clone().into());
        }
        if self.lines_out.as_ref().is_none_or(|w| w.send(line).is_err()) {
            // The writer stopped: the program closed its standard input, or exited.
            let fault = match self.process.status() {
                Ok(None) if self.stdin_closed => ProcessFault::ClosedStdin,
                _ => self.closed_stdout(),
            };
            return Err(self.give_up(fault));
        }
        Ok(())
    }

    /// The next line of standard output before `deadline`, of at most `limit` bytes (at most
    /// [`ANSWER_LINE_LIMIT`]); the fault of a line too long (ended, or unfinished at the deadline),
    /// or of the transport when none comes. `id` is the request waited for, for the time-out's
    /// message.
    pub fn receive(&mut self, deadline: Instant, id: u64, limit: usize) -> Result<String, Fault> {
        loop {
            // Checked here too: a program that floods lines always has one ready.
            let left = deadline.saturating_duration_since(Instant::now());
            let event = match left.is_zero() {
                true => Err(RecvTimeoutError::Timeout),
                false => self.lines_in.recv_timeout(left),
            };
            match event {
                Ok(Event::Line(line)) => {
                    let index = self.received;
                    self.received += 1;
                    // Else the end of a line that already failed, unfinished: skipped.
                    if self.failed_unfinished != Some(index) {
                        return self.whole(line, limit);
                    }
                }
                // Its answer will never come; wait for its exit or the time-out to tell a
                // program that exited from one that closed standard input and runs on.
                Ok(Event::StdinClosed) => self.stdin_closed = true,
                Ok(Event::StdoutClosed) | Err(RecvTimeoutError::Disconnected) => {
                    let fault = self.closed_stdout();
                    return Err(self.give_up(fault));
                }
                Err(RecvTimeoutError::Timeout) => return Err(self.no_line(id, limit)),
            }
        }
    }

    /// A line came that the protocol takes as an answer: the time-outs in a row start again.
    pub fn heard(&mut self) {
        self.timeouts_in_a_row = 0;
        self.too_long_unanswered = None;
    }

    /// The text of a line, or the fault of a line longer than `limit`.
    fn whole(&mut self, line: Line, limit: usize) -> Result<String, Fault> {
        self.answered = true;
        match too_long(line.len, limit) {
            Some(fault) => Err(self.line_too_long(fault)),
            None => Ok(line.text),
        }
    }

    /// The fault of request `id` at its deadline: the line under way if it is too long already,
    /// else no line in time.
    fn no_line(&mut self, id: u64, limit: usize) -> Fault {
        match self.unfinished_too_long(limit) {
            Some(fault) => self.line_too_long(fault),
            None => self.timed_out(id),
        }
    }

    /// The fault of the line under way, unfinished, where it is longer than `limit` already, every
    /// line before it was received, and it has not failed a request yet.
    fn unfinished_too_long(&mut self, limit: usize) -> Option<ProcessFault> {
        let progress = *self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        let index = progress.ended;
        if index != self.received || self.failed_unfinished == Some(index) {
            return None;
        }
        let fault = too_long(progress.unfinished, limit)?;
        self.failed_unfinished = Some(index);
        Some(fault)
    }

    /// A line too long fails the request at hand. The program did write, so the time-outs in a
    /// row start again; the line is kept as the reason to give up should it write nothing more.
    fn line_too_long(&mut self, fault: ProcessFault) -> Fault {
        self.answered = true;
        self.timeouts_in_a_row = 0;
        self.too_long_unanswered = Some(fault.clone());
        fault.into()
    }

    /// The fault of request `id`, which got no line in time; given up on when it is final or
    /// the time-outs ran [`TIMEOUTS_IN_A_ROW`] in a row.
    fn timed_out(&mut self, id: u64) -> Fault {
        let fault = self.no_answer(id);
        if fault.is_final() {
            return self.give_up(fault);
        }
        if self.timeouts_in_a_row >= TIMEOUTS_IN_A_ROW {
            // This request says it timed out; the later ones that it stopped, or the line too
            // long it stopped after.
            let stopped = self
                .too_long_unanswered
                .take()
                .unwrap_or(ProcessFault::StoppedAnswering {
                    in_a_row: TIMEOUTS_IN_A_ROW,
                    seconds: self.timeout.as_secs_f64(),
                });
            self.give_up(stopped);
        }
        fault.into()
    }

    /// Records a final fault and kills what is left of the program.
    fn give_up(&mut self, fault: ProcessFault) -> Fault {
        self.lines_out = None;
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
        let status = self.process.describe(status);
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
}

impl Drop for Channel {
    fn drop(&mut self) {
        // Closing standard input asks the program to finish; then the whole group is killed,
        // whatever it left running.
        self.lines_out = None;
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

/// The fault of a line of `bytes` bytes where it is longer than `limit` (at most
/// [`ANSWER_LINE_LIMIT`]), naming [`ANSWER_LINE_LIMIT`] where it passed that too (it was then not
/// even kept).
fn too_long(bytes: u64, limit: usize) -> Option<ProcessFault> {
    let limit = match bytes > ANSWER_LINE_LIMIT as u64 {
        true => ANSWER_LINE_LIMIT,
        false => limit,
    };
    (bytes > limit as u64).then_some(ProcessFault::LineTooLong { bytes, limit })
}

/// Standard output, with the reader's [`Progress`] kept as bytes arrive.
struct Counted<R> {
    stdout: R,
    progress: Arc<Mutex<Progress>>,
}

impl<R: io::Read> io::Read for Counted<R> {
    fn read(&mut self, buffer: &mut [u8]) -> io::Result<usize> {
        let read = self.stdout.read(buffer)?;
        let bytes = &buffer[..read];
        let mut progress = self.progress.lock().unwrap_or_else(PoisonError::into_inner);
        match bytes.iter().rposition(|&b| b == b'\n') {
            Some(last) => {
                progress.ended += bytes.iter().filter(|&&b| b == b'\n').count() as u64;
                progress.unfinished = (read - last - 1) as u64;
            }
            None => progress.unfinished += read as u64,
        }
        Ok(read)
    }
}

/// The writer thread: each line to `stdin`, until a write fails (reported) or the channel closes.
fn write_lines(mut stdin: impl Write, lines: Receiver<String>, events: mpsc::SyncSender<Event>) {
    for line in lines {
        if writeln!(stdin, "{line}").and_then(|()| stdin.flush()).is_err() {
            let _ = events.send(Event::StdinClosed);
            break;
        }
    }
}

/// The reader thread: each line of `stdout`, bounded, then its end.
fn read_lines(stdout: impl io::Read, events: mpsc::SyncSender<Event>) {
    for line in LineReader::new(BufReader::new(stdout), ANSWER_LINE_LIMIT) {
        let Ok(line) = line else { break };
        if events.send(Event::Line(line)).is_err() {
            return;
        }
    }
    let _ = events.send(Event::StdoutClosed);
}
