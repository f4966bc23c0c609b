//! One submission's program as a [`Backward`] (the built-in ops' protocol) and an [`Exchange`]
//! (the ops a spec describes) with a wall-clock budget, and the faults that end
//! its grading early.
//!
//! The budget is checked before each request: once it is spent, the program is stopped (the
//! [`ExecSubject`] is dropped, which kills it) and every later request fails at once with a
//! fault that says so. A request already sent when it runs out still waits for its own time
//! limit, so a submission takes at most its budget plus one `--timeout` and the few seconds of grace
//! an exiting program is given (to exit, to flush its standard error, to close).
//!
//! The program is [`Restarting`]: a crash or a hang in one op costs that op's cases, and the next
//! op starts it again.
//!
//! A command that cannot start is told apart from a program that fails: the exec subject says so
//! ([`Fault::CannotStart`]: the shell exited with 126 or 127 before any answer).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::catalogue::{Answer, Request};
use crate::verify::exec::Restarting;
use crate::verify::program_ops::Exchange;
use crate::verify::{Backward, Fault};

/// A submission's program, stopped when its budget is spent.
pub(super) struct Budgeted {
    label: String,
    subject: Option<Restarting>,
    deadline: Instant,
    budget: Duration,
    refused: bool,
    not_started: Option<String>,
    stderr_tail: Vec<String>,
}

impl Budgeted {
    /// `subject`, labelled `label` in reports, with `budget` from now.
    pub(super) fn new(label: &str, subject: Restarting, budget: Duration) -> Budgeted {
        Budgeted {
            label: label.to_owned(),
            subject: Some(subject),
            deadline: Instant::now() + budget,
            budget,
            refused: false,
            not_started: None,
            stderr_tail: Vec::new(),
        }
    }

    /// A new op begins: the program, restarted where it died, may be restarted afresh.
    pub(super) fn begin_op(&mut self) {
        if let Some(subject) = &mut self.subject {
            subject.begin_op();
        }
    }

    /// True once the budget is spent.
    pub(super) fn out_of_time(&self) -> bool {
        Instant::now() >= self.deadline
    }

    /// The budget's fault, e.g. "the submission's time budget of 120 s ran out".
    pub(super) fn budget_spent(&self) -> String {
        format!(
            "the submission's time budget of {} s ran out",
            self.budget.as_secs_f64()
        )
    }

    /// True once a request was refused because the budget was spent; cleared by reading it.
    pub(super) fn take_refused(&mut self) -> bool {
        std::mem::take(&mut self.refused)
    }

    /// Why the command could not start (the shell's message), if it could not.
    pub(super) fn not_started(&self) -> Option<&str> {
        self.not_started.as_deref()
    }

    /// The program's last lines of standard error.
    pub(super) fn stderr_tail(&self) -> Vec<String> {
        match &self.subject {
            Some(subject) => subject.stderr_tail(),
            None => self.stderr_tail.clone(),
        }
    }

    /// Stops the program, keeping its last lines of standard error.
    fn stop(&mut self) {
        if let Some(subject) = self.subject.take() {
            self.stderr_tail = subject.stderr_tail();
        }
    }
}

impl Budgeted {
    /// `call` on the program while the budget lasts; once it is spent, the program is stopped
    /// and the call refused with the budget's fault.
    fn within_budget<T>(
        &mut self,
        call: impl FnOnce(&mut Restarting) -> Result<T, Fault>,
    ) -> Result<T, Fault> {
        if self.out_of_time() {
            self.stop();
        }
        let Some(subject) = self.subject.as_mut() else {
            self.refused = true;
            return Err(Fault::Failed(self.budget_spent()));
        };
        let result = call(subject);
        if let Err(Fault::CannotStart { status, stderr_tail }) = &result {
            self.not_started = Some(match stderr_tail.last() {
                Some(line) => format!("the command could not start ({status}): {line}"),
                None => format!("the command could not start ({status})"),
            });
        }
        result
    }
}

impl Backward for Budgeted {
    fn label(&self) -> String {
        self.label.clone()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        self.within_budget(|subject| subject.answer(request))
    }

    fn has_answered(&self) -> bool {
        self.subject.as_ref().is_some_and(Restarting::has_answered)
    }
}

impl Exchange for Budgeted {
    fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
        self.within_budget(|subject| subject.exchange(request))
    }
}
