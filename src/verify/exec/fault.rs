//! What went wrong with a program, said as it is. Every fault of a program over the protocol is
//! one [`ProcessFault`]; it becomes the report model's typed [`Fault`] in one place, which also
//! words it.

use std::fmt;

use crate::verify::Fault;

/// A fault of a program: of the process, or of one answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ProcessFault {
    /// The shell could not run the command (exit status 126 or 127 before any answer).
    CannotStart { status: String, stderr: Vec<String> },
    /// The program exited.
    Exited { status: String, stderr: Vec<String> },
    /// The program exited, but a process it started still holds its standard output.
    ChildKeptStdoutOpen { status: String, stderr: Vec<String> },
    /// The program closed its standard output and went on running.
    ClosedStdout,
    /// The program closed its standard input and went on running.
    ClosedStdin,
    /// No answer to request `id` within `seconds`.
    TimedOut { id: u64, seconds: f64 },
    /// Several requests in a row got no answer in time.
    StoppedAnswering { in_a_row: u32, seconds: f64 },
    /// An answer line longer than the limit (read through, not kept).
    LineTooLong { bytes: u64, limit: usize },
    /// An answer that breaks the protocol: not JSON, the wrong id, a missing key, …
    Protocol(String),
}

impl ProcessFault {
    /// True when the program is gone (or given up on): later requests fail at once.
    pub fn is_final(&self) -> bool {
        !matches!(
            self,
            ProcessFault::TimedOut { .. } | ProcessFault::LineTooLong { .. } | ProcessFault::Protocol(_)
        )
    }
}

impl fmt::Display for ProcessFault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        Fault::from(self.clone()).fmt(f)
    }
}

impl From<ProcessFault> for Fault {
    fn from(fault: ProcessFault) -> Fault {
        match fault {
            ProcessFault::CannotStart { status, stderr } => Fault::CannotStart {
                status,
                stderr_tail: stderr,
            },
            ProcessFault::Exited { status, stderr } => Fault::Exited {
                status,
                stderr_tail: stderr,
            },
            ProcessFault::ChildKeptStdoutOpen { status, stderr } => Fault::ChildKeptStdoutOpen {
                status,
                stderr_tail: stderr,
            },
            ProcessFault::ClosedStdout => Fault::ClosedStdout,
            ProcessFault::ClosedStdin => Fault::ClosedStdin,
            ProcessFault::TimedOut { id, seconds } => Fault::TimedOut {
                seconds,
                request_id: id,
            },
            ProcessFault::StoppedAnswering { in_a_row, seconds } => Fault::StoppedAnswering {
                requests: in_a_row,
                seconds,
            },
            ProcessFault::LineTooLong { bytes, limit } => Fault::LineTooLong { bytes, limit },
            ProcessFault::Protocol(message) => Fault::Protocol(message),
        }
    }
}
