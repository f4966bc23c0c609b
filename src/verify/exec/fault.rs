//! What went wrong with a program, said as it is. Every fault of a program over the protocol is
//! one [`ProcessFault`]; it becomes the verifier's [`Fault::Failed`] in one place.

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
    /// An answer line longer than the limit (it was not read).
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
        match self {
            ProcessFault::CannotStart { status, stderr } => {
                write!(f, "the command could not be started ({status})")?;
                write_stderr(f, stderr)
            }
            ProcessFault::Exited { status, stderr } => {
                write!(f, "the program exited ({status})")?;
                write_stderr(f, stderr)
            }
            ProcessFault::ChildKeptStdoutOpen { status, stderr } => {
                write!(
                    f,
                    "the program exited ({status}), but a child process kept its standard output open"
                )?;
                write_stderr(f, stderr)
            }
            ProcessFault::ClosedStdout => {
                write!(f, "the program closed its standard output but is still running")
            }
            ProcessFault::ClosedStdin => {
                write!(f, "the program closed its standard input but is still running")
            }
            ProcessFault::TimedOut { id, seconds } => {
                write!(f, "no answer within {seconds} s (request id {id})")
            }
            ProcessFault::StoppedAnswering { in_a_row, seconds } => write!(
                f,
                "the program stopped answering: {in_a_row} requests in a row got no answer within {seconds} s"
            ),
            ProcessFault::LineTooLong { bytes, limit } => write!(
                f,
                "the answer line has {bytes} bytes, more than the limit of {limit} bytes; it was not read"
            ),
            ProcessFault::Protocol(message) => f.write_str(message),
        }
    }
}

/// "; its last lines of standard error: …", or that it wrote none.
fn write_stderr(f: &mut fmt::Formatter<'_>, stderr: &[String]) -> fmt::Result {
    if stderr.is_empty() {
        return write!(f, " and wrote nothing to standard error");
    }
    write!(f, "; its last lines of standard error:")?;
    for line in stderr {
        write!(f, "\n      | {line}")?;
    }
    Ok(())
}

impl From<ProcessFault> for Fault {
    fn from(fault: ProcessFault) -> Fault {
        Fault::Failed(fault.to_string())
    }
}
