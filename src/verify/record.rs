//! The record of one checked case: its dims and shape, the request and the gradients it should
//! get, and what came back (the answer's problems per input, or the fault that kept it from
//! answering), as the findings, the shrinker and the many-case hypotheses read it.

use super::report::{Fault, Problem, Subject};
use crate::catalogue::{Answer, Request};

/// One case, checked.
#[derive(Debug, Clone)]
pub(crate) struct CaseRecord {
    /// The dimensions the case was drawn with (what shrinking reduces).
    pub(crate) dims: Vec<usize>,
    /// The shape for reports, e.g. `B=2 Din=3 Dout=3`.
    pub(crate) shape: String,
    /// The batch size, where the op has one.
    pub(crate) batch: Option<usize>,
    /// The protocol request, for the protocol's ops.
    pub(crate) request: Option<Request>,
    /// What the gradients should be.
    pub(crate) expected: Answer,
    /// The answer's problems, or the fault that kept it from answering.
    pub(crate) outcome: Result<Checked, Fault>,
}

/// The problems of one answered case.
#[derive(Debug, Clone, Default)]
pub(crate) struct Checked {
    pub(crate) actual: Answer,
    /// Per input: what is wrong.
    pub(crate) wrong: Vec<(String, Problem)>,
    pub(crate) nondeterministic: Vec<String>,
    /// The fault of the second call on the same input, where it gave no answer at all.
    pub(crate) second_call: Option<Fault>,
    pub(crate) nonzero_for_zero_upstream: Vec<String>,
    /// The note on the other valid subgradient at a kink, when the backward took it (relu's
    /// Θ(0) = 1).
    pub(crate) other_subgradient: Option<&'static str>,
    /// The inputs whose gradient had at least one element certified (not merely excused).
    pub(crate) certified: Vec<String>,
}

impl CaseRecord {
    /// The problem of `what` (an input's gradient, or the call) in this case, if any.
    pub(crate) fn problem(&self, what: &Subject) -> Option<Problem> {
        match (&self.outcome, what) {
            (Err(fault), Subject::Call) => Some(Problem::Fault(fault.clone())),
            (Ok(checked), Subject::Gradient(input)) => checked
                .wrong
                .iter()
                .find(|(n, _)| n == input)
                .map(|(_, p)| p.clone()),
            _ => None,
        }
    }
}
