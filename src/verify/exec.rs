//! A program in any language as a [`Backward`], over the JSON Lines protocol of
//! `protocol-v1.md`.
//!
//! The program is started once through `sh -c`. A writer thread feeds its standard input (so a
//! program that stops reading cannot block the verifier), a reader thread turns its standard
//! output into lines on a channel that is read with a time limit, and a third thread keeps the last
//! lines of its standard error for the reports. Every fault of the protocol fails the case at hand
//! with a message that says which: not JSON, a missing key, the wrong id, a non-number, a ragged
//! matrix, no answer in time, an exit. An answer that comes after its time limit is recognised by
//! its id and skipped. After the program has exited, every remaining case fails at once with the
//! exit status and the last lines of standard error.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::{Backward, Fault};
use crate::protocol::{Answer, OpKind, Request, UNSUPPORTED, reference_answer};

/// How many lines of the program's standard error are kept.
const STDERR_LINES: usize = 8;
/// How long an exited program is given to report its status.
const EXIT_GRACE: Duration = Duration::from_secs(2);
/// How much of a line that is not an answer is quoted.
const QUOTE_CHARS: usize = 80;
/// Time-outs in a row after which the program is taken to have stopped answering.
const TIMEOUTS_IN_A_ROW: u32 = 2;

/// A running program that answers protocol requests.
pub struct ExecSubject {
    command: String,
    child: Child,
    requests: Option<Sender<String>>,
    answers: Receiver<Option<String>>,
    stderr: Arc<Mutex<VecDeque<String>>>,
    timeout: Duration,
    next_id: u64,
    timeouts_in_a_row: u32,
    exited: Option<Fault>,
}

impl ExecSubject {
    /// Starts `command` through `sh -c`; each request waits at most `timeout` for its answer.
    /// A shell that cannot be started is an I/O error; a command that does not exist starts a
    /// shell that exits at once, and every case then fails with its message.
    pub fn start(command: &str, timeout: Duration) -> std::io::Result<ExecSubject> {
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(command)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let mut stdin = child.stdin.take().expect("internal: piped stdin");
        let stdout = child.stdout.take().expect("internal: piped stdout");
        let stderr = child.stderr.take().expect("internal: piped stderr");

        let (requests, to_write) = mpsc::channel::<String>();
        thread::spawn(move || {
            for line in to_write {
                if writeln!(stdin, "{line}").and_then(|()| stdin.flush()).is_err() {
                    break;
                }
            }
        });
        let (answered, answers) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if answered.send(Some(line)).is_err() {
                    return;
                }
            }
            let _ = answered.send(None);
        });
        let tail = Arc::new(Mutex::new(VecDeque::new()));
        let keep = Arc::clone(&tail);
        thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                let mut tail = keep.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_LINES {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(ExecSubject {
            command: command.to_owned(),
            child,
            requests: Some(requests),
            answers,
            stderr: tail,
            timeout,
            next_id: 1,
            timeouts_in_a_row: 0,
            exited: None,
        })
    }

    /// The last lines the program wrote to standard error.
    pub fn stderr_tail(&self) -> Vec<String> {
        self.stderr
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .cloned()
            .collect()
    }

    /// The fault of an exited program: its status and its last lines of standard error.
    fn exit_fault(&mut self) -> Fault {
        let start = Instant::now();
        let status = loop {
            match self.child.try_wait() {
                Ok(Some(status)) => break status.to_string(),
                Ok(None) if start.elapsed() < EXIT_GRACE => thread::sleep(Duration::from_millis(10)),
                Ok(None) => break "closed its standard output but is still running".to_owned(),
                Err(e) => break format!("status unknown: {e}"),
            }
        };
        // Give the stderr thread a moment to read what the program wrote before it exited.
        thread::sleep(Duration::from_millis(50));
        let stderr_tail = self.stderr_tail();
        Fault::Exited { status, stderr_tail }
    }

    /// Reads the answer to request `id`, skipping late answers to earlier requests.
    fn read_answer(&mut self, id: u64, request: &Request) -> Result<Answer, Fault> {
        let deadline = Instant::now() + self.timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.answers.recv_timeout(left) {
                Ok(Some(line)) => line,
                Ok(None) | Err(RecvTimeoutError::Disconnected) => {
                    let fault = self.exit_fault();
                    self.exited = Some(fault.clone());
                    return Err(fault);
                }
                Err(RecvTimeoutError::Timeout) => {
                    self.timeouts_in_a_row += 1;
                    let seconds = self.timeout.as_secs_f64();
                    if self.timeouts_in_a_row >= TIMEOUTS_IN_A_ROW {
                        self.exited = Some(Fault::StoppedAnswering {
                            requests: TIMEOUTS_IN_A_ROW,
                            seconds,
                        });
                    }
                    return Err(Fault::TimedOut {
                        seconds,
                        request_id: id,
                    });
                }
            };
            self.timeouts_in_a_row = 0;
            let value: Value = serde_json::from_str(&line)
                .map_err(|e| Fault::Protocol(format!("the answer is not JSON ({e}): {}", quote(&line))))?;
            match value.get("id").and_then(Value::as_u64) {
                Some(earlier) if earlier < id => continue,
                Some(this) if this == id => return parse_answer(&value, request),
                Some(other) => {
                    return Err(Fault::Protocol(format!(
                        "the answer has id {other}, expected {id}"
                    )));
                }
                None => {
                    return Err(Fault::Protocol(format!(
                        "the answer has no numeric `id` (expected {id}): {}",
                        quote(&line)
                    )));
                }
            }
        }
    }
}

impl Backward for ExecSubject {
    fn label(&self) -> String {
        self.command.clone()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        if let Some(fault) = &self.exited {
            return Err(fault.clone());
        }
        let id = self.next_id;
        self.next_id += 1;
        let line = request.to_json(id).to_string();
        if self.requests.as_ref().is_none_or(|r| r.send(line).is_err()) {
            let fault = self.exit_fault();
            self.exited = Some(fault.clone());
            return Err(fault);
        }
        self.read_answer(id, request)
    }
}

impl Drop for ExecSubject {
    fn drop(&mut self) {
        // Closing standard input asks the program to finish; one that does not is killed.
        self.requests = None;
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(200) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The gradients of an answer line, or the fault it shows.
fn parse_answer(value: &Value, request: &Request) -> Result<Answer, Fault> {
    if let Some(error) = value.get("error") {
        return match error.as_str() {
            Some(UNSUPPORTED) => Err(Fault::Unsupported),
            Some(text) => Err(Fault::Failed(format!(
                "the program answered with an error: {text}"
            ))),
            None => Err(Fault::Failed(format!(
                "the program answered with an error: {error}"
            ))),
        };
    }
    let Some(grads) = value.get("grads") else {
        return Err(Fault::Protocol(
            "the answer has neither `grads` nor `error`".to_owned(),
        ));
    };
    let like = reference_answer(request).expect("internal: generated requests fit");
    let optional: &[&str] = if request.kind() == OpKind::Mlp {
        &["x", "loss"]
    } else {
        &[]
    };
    Answer::from_json(grads, &like, optional).map_err(Fault::of_answer)
}

/// The first characters of a line, for messages.
fn quote(line: &str) -> String {
    let mut quoted: String = line.chars().take(QUOTE_CHARS).collect();
    if line.chars().count() > QUOTE_CHARS {
        quoted.push('…');
    }
    format!("`{quoted}`")
}
