//! A program (over protocol v1 or the ops protocol) restarted when it dies, so that one crash or hang costs the case at hand and not
//! every later one: when the program has exited, crashed or stopped answering, the next request
//! starts it again, up to [`RESTARTS_PER_OP`] times an op ([`Restarting::begin_op`] counts
//! afresh); after that the op's remaining requests fail at once with
//! [`Fault::GaveUp`](crate::verify::Fault::GaveUp), naming the last fault. A command that cannot
//! start at all is not restarted.

use std::io;

use serde_json::Value;

use super::fault::ProcessFault;
use super::{ExecSubject, Program};
use crate::catalogue::{Answer, Request};
use crate::verify::program_ops::Exchange;
use crate::verify::{Backward, Fault};

/// How often one op may restart the program.
pub const RESTARTS_PER_OP: u32 = 3;

/// A program over the protocol, started again where it died.
pub struct Restarting {
    program: Program,
    current: ExecSubject,
    restarts: u32,
    answered_before: bool,
    last_stderr: Vec<String>,
}

impl Restarting {
    /// Starts `program`; an I/O error as [`Program::start`].
    pub fn start(program: Program) -> io::Result<Restarting> {
        let current = program.start()?;
        Ok(Restarting {
            program,
            current,
            restarts: 0,
            answered_before: false,
            last_stderr: Vec::new(),
        })
    }

    /// A new op begins: it may restart the program [`RESTARTS_PER_OP`] times of its own.
    pub fn begin_op(&mut self) {
        self.restarts = 0;
    }

    /// The fault when the command could not be started at all (see
    /// [`ExecSubject::cannot_start`]).
    pub fn cannot_start(&self) -> Option<&ProcessFault> {
        self.current.cannot_start()
    }

    /// The last lines of standard error of the running program, or of the last one that died.
    pub fn stderr_tail(&self) -> Vec<String> {
        let tail = self.current.stderr_tail();
        if tail.is_empty() {
            self.last_stderr.clone()
        } else {
            tail
        }
    }

    /// A fresh program where the current one has ended; the fault to answer with where it may
    /// not be restarted.
    fn revive(&mut self) -> Result<(), Fault> {
        let Some(fault) = self.current.gone() else {
            return Ok(());
        };
        if self.current.cannot_start().is_some() {
            return Err(fault.clone().into());
        }
        if self.restarts >= RESTARTS_PER_OP {
            return Err(Fault::GaveUp {
                restarts: self.restarts,
                last: headline(fault),
            });
        }
        let fresh = self
            .program
            .start()
            .map_err(|e| Fault::Failed(format!("the program could not be started again: {e}")))?;
        self.answered_before |= self.current.has_answered();
        self.last_stderr = self.current.stderr_tail();
        self.current = fresh;
        self.restarts += 1;
        Ok(())
    }
}

impl Backward for Restarting {
    fn label(&self) -> String {
        self.current.label()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        self.revive()?;
        self.current.answer(request)
    }

    fn has_answered(&self) -> bool {
        self.answered_before || self.current.has_answered()
    }
}

impl Exchange for Restarting {
    fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
        self.revive()?;
        self.current.exchange(request)
    }
}

/// A fault's first line, without the lead-in to the standard error that follows it.
fn headline(fault: &ProcessFault) -> String {
    let text = fault.to_string();
    let first = text.lines().next().unwrap_or_default();
    first
        .split_once("; its last lines of standard error")
        .map_or(first, |(head, _)| head)
        .to_owned()
}
