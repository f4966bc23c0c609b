//! What the verifier found, written for the person who wrote the backward: per gradient, how
//! often it was wrong, the smallest shape where it is, the worst elements with their indices and
//! a diagnosis when the pattern is recognisable.

use std::fmt;

use crate::compare::{Element, Verdict};

use super::diagnose::Diagnosis;

/// What went wrong with one gradient, or with the call as a whole.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Problem {
    /// The values disagree with the reference.
    WrongValues,
    /// The gradient's shape is not its input's.
    WrongShape {
        /// The shape returned.
        got: Vec<usize>,
        /// The input's shape.
        expected: Vec<usize>,
    },
    /// The gradient holds NaN or infinity.
    NonFinite,
    /// The call gave no gradients: a panic, an error, a protocol fault, a time-out, an exit.
    Fault(String),
    /// Two calls on the same input gave different gradients.
    NonDeterministic,
    /// A zero upstream gradient gave a non-zero gradient.
    NonZeroForZeroUpstream,
}

/// One problem, with the evidence a student needs to find it.
#[derive(Debug, Clone, PartialEq)]
pub struct Finding {
    /// The gradient (`dL/dW`), or `the call` for a fault.
    pub what: String,
    /// What is wrong.
    pub problem: Problem,
    /// In how many cases.
    pub failed: usize,
    /// The smallest shape found where it happens, e.g. `B=1 Din=2 Dout=2`.
    pub smallest_shape: String,
    /// The worst elements in that smallest case (at most three).
    pub worst: Vec<Element>,
    /// The recognised bug, if any.
    pub diagnosis: Option<Diagnosis>,
    /// Every failing case has B > 1 and a case with B = 1 passed.
    pub only_batch_of_one: bool,
}

/// The verdict on one op's backward.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// Whose backward, e.g. `linear_backward` or `python3 student.py`.
    pub subject: String,
    /// The op, as in the notes.
    pub op: String,
    /// Random cases run (not counting the shrinking).
    pub cases: usize,
    /// False when the program answered "unsupported op".
    pub implemented: bool,
    /// The problems, most fundamental first.
    pub findings: Vec<Finding>,
    /// Remarks that are not failures (a subgradient convention, ...).
    pub notes: Vec<String>,
    /// Gradients on which nothing could be certified, and nothing failed either.
    pub inconclusive: Vec<Inconclusive>,
}

/// A gradient the checker could neither certify nor fault, with the reason and what to try.
#[derive(Debug, Clone, PartialEq)]
pub struct Inconclusive {
    /// The gradient, e.g. `dL/dx0`.
    pub gradient: String,
    /// Why nothing could be certified.
    pub reason: String,
    /// What to try next (other points, a domain, another scale).
    pub try_next: String,
}

impl Report {
    /// Fail if anything was found (or the op is not implemented), else inconclusive if some
    /// gradient could not be certified, else pass.
    pub fn verdict(&self) -> Verdict {
        if !self.implemented || !self.findings.is_empty() {
            Verdict::Fail
        } else if !self.inconclusive.is_empty() {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        }
    }

    /// True only for [`Verdict::Pass`].
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Pass
    }

    /// Panics with the whole report unless it passed: the one line a `#[test]` needs.
    #[track_caller]
    pub fn assert_correct(&self) {
        assert!(self.passed(), "\n{self}");
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!("{} ({})", self.op, self.subject);
        if !self.implemented {
            return write!(
                f,
                "{head}: NOT IMPLEMENTED (the program answered \"unsupported op\")"
            );
        }
        if self.findings.is_empty() && !self.inconclusive.is_empty() {
            write!(f, "{head}: INCONCLUSIVE, {} random cases", self.cases)?;
        } else if self.findings.is_empty() {
            write!(f, "{head}: pass, {} random cases", self.cases)?;
        } else {
            let n = self.findings.len();
            write!(
                f,
                "{head}: FAIL, {n} problem{} in {} random cases",
                if n == 1 { "" } else { "s" },
                self.cases
            )?;
        }
        for finding in &self.findings {
            write!(f, "\n{}", Indented(finding, self.cases))?;
        }
        for i in &self.inconclusive {
            write!(
                f,
                "\n  {}: inconclusive: {}\n    try: {}",
                i.gradient, i.reason, i.try_next
            )?;
        }
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

struct Indented<'a>(&'a Finding, usize);

impl fmt::Display for Indented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Indented(finding, cases) = *self;
        let problem = match &finding.problem {
            Problem::WrongValues => "wrong values".to_owned(),
            Problem::WrongShape { got, expected } => format!("shape {got:?}, expected {expected:?}"),
            Problem::NonFinite => "NaN or infinity".to_owned(),
            Problem::Fault(message) => message.clone(),
            Problem::NonDeterministic => {
                "a second call on the same input gave a different answer (stateful or random backward)"
                    .to_owned()
            }
            Problem::NonZeroForZeroUpstream => {
                "non-zero for a zero upstream gradient: something in it does not scale with dL/d(output)"
                    .to_owned()
            }
        };
        write!(
            f,
            "  {}: {problem}\n    in {} of {cases} cases; smallest: {}",
            finding.what, finding.failed, finding.smallest_shape
        )?;
        if let Some(d) = &finding.diagnosis {
            write!(f, "\n    diagnosis: {d}")?;
        }
        if finding.only_batch_of_one
            && !matches!(
                finding.diagnosis,
                Some(Diagnosis::MeanOverBatch | Diagnosis::BiasNotSummed)
            )
        {
            write!(
                f,
                "\n    correct only when B = 1: every failing case has several data points"
            )?;
        }
        for e in &finding.worst {
            write!(
                f,
                "\n    at {:?}: expected {:.6}, got {:.6}",
                e.index, e.expected, e.actual
            )?;
        }
        Ok(())
    }
}
