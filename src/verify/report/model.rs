//! The report as data: what was checked, what is wrong with which gradient, why a call gave no
//! answer, and the verdict. Renderers ([`super::text`], [`super::json`]) read it; nothing here
//! knows how it is written.
//!
//! The verdict has three values: Fail if anything was found or the op is not implemented (as
//! before there was a third value), else Inconclusive if some gradient could not be judged, else
//! Pass.

use serde::Serialize;
use serde::ser::{SerializeMap, SerializeSeq, Serializer};

use crate::compare::{Element, Verdict};
use crate::error::Error;

use super::diagnosis::Diagnosis;

/// What a finding is about.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(tag = "kind", content = "input", rename_all = "snake_case")]
pub enum Subject {
    /// The gradient of one input (`W`, `a`, `x0`; `loss` is the network's loss itself).
    Gradient(String),
    /// Several gradients at once (a call-level problem seen in each of them).
    Gradients(Vec<String>),
    /// The call as a whole: it gave no gradients.
    Call,
    /// The shapes the op was given to check: they cannot be checked.
    Shapes,
}

impl Subject {
    /// How reports name it: `dL/dW` for an input, `the loss L` for the network's loss, `the
    /// call`, `the shapes`, or several gradients separated by commas.
    pub fn label(&self) -> String {
        match self {
            Subject::Gradient(input) => gradient_label(input),
            Subject::Gradients(inputs) => inputs
                .iter()
                .map(|i| gradient_label(i))
                .collect::<Vec<_>>()
                .join(", "),
            Subject::Call => "the call".to_owned(),
            Subject::Shapes => "the shapes".to_owned(),
        }
    }
}

/// Compares with a rendered label (`dL/dW`, `the call`): for code written when the subject was
/// a string.
impl PartialEq<&str> for Subject {
    fn eq(&self, label: &&str) -> bool {
        self.label() == *label
    }
}

/// How a custom op's forward outputs are named where they are compared with a reference's
/// (`forward y`), and shown (`the forward's y`).
pub const FORWARD_PREFIX: &str = "forward ";

/// `dL/dW` for input `W`, `the loss L` for the network's optional loss, `the forward's y` for
/// an output compared with a reference's.
pub(crate) fn gradient_label(input: &str) -> String {
    match input {
        "loss" => "the loss L".to_owned(),
        input => match input.strip_prefix(FORWARD_PREFIX) {
            Some(output) => format!("the forward's {output}"),
            None => format!("dL/d{input}"),
        },
    }
}

/// Why a backward gave no gradients for a request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Fault {
    /// The op is not implemented (protocol: `"error": "unsupported op"`).
    Unsupported,
    /// The function under test panicked with this message (Rust).
    Panicked(String),
    /// The function under test raised an exception (Python, checked in-process): the message
    /// says which, with its traceback (`your function raised ValueError: …`).
    Raised(String),
    /// No answer came within the time limit.
    TimedOut {
        /// The limit, in seconds.
        seconds: f64,
        /// The request that got no answer.
        request_id: u64,
    },
    /// Several requests in a row got no answer: the program is taken to have stopped.
    StoppedAnswering {
        /// How many requests in a row.
        requests: u32,
        /// The limit each had, in seconds.
        seconds: f64,
    },
    /// The program exited (or closed its standard output).
    Exited {
        /// Its exit status or signal, as the OS reports it.
        status: String,
        /// Its last lines of standard error.
        stderr_tail: Vec<String>,
    },
    /// The shell could not run the command (exit status 126 or 127 before any answer).
    CannotStart {
        /// The shell's exit status.
        status: String,
        /// Its last lines of standard error.
        stderr_tail: Vec<String>,
    },
    /// The program exited, but a process it started still holds its standard output.
    ChildKeptStdoutOpen {
        /// The program's exit status or signal.
        status: String,
        /// Its last lines of standard error.
        stderr_tail: Vec<String>,
    },
    /// The program closed its standard output and went on running.
    ClosedStdout,
    /// The program closed its standard input and went on running.
    ClosedStdin,
    /// An answer line longer than the limit (read through, not kept).
    LineTooLong {
        /// The line's length, as far as it was read.
        bytes: u64,
        /// The limit, in bytes.
        limit: usize,
    },
    /// The answer lacks the gradient of an input.
    MissingKey {
        /// The input's name.
        key: String,
    },
    /// The answer broke the protocol otherwise (not JSON, the wrong id, a ragged matrix): what
    /// was wrong.
    Protocol(String),
    /// Any other failure, described for the report.
    Failed(String),
    /// The program died in this op as often as it may be restarted: the op's remaining
    /// requests were not sent.
    GaveUp {
        /// How often it was restarted in this op.
        restarts: u32,
        /// The fault that ended it the last time.
        last: String,
    },
}

impl Fault {
    /// True for faults of the program as a whole (it exited, stopped answering, could not start,
    /// …), which have nothing to do with the case's shape: a report shows no smallest shape for
    /// them. A panic, a protocol error, a missing key or one slow answer may depend on the shape.
    pub fn is_of_the_process(&self) -> bool {
        matches!(
            self,
            Fault::Unsupported
                | Fault::StoppedAnswering { .. }
                | Fault::Exited { .. }
                | Fault::CannotStart { .. }
                | Fault::ChildKeptStdoutOpen { .. }
                | Fault::ClosedStdout
                | Fault::ClosedStdin
                | Fault::LineTooLong { .. }
                | Fault::GaveUp { .. }
        )
    }

    /// The fault of an answer whose `grads` could not be read.
    pub fn of_answer(error: Error) -> Fault {
        match error {
            Error::MissingKey { key, .. } => Fault::MissingKey { key },
            other => Fault::Protocol(format!("the answer's {other}")),
        }
    }
}

/// What went wrong with one gradient, or with the call as a whole.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "kind", content = "detail", rename_all = "snake_case")]
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
    /// The call gave no gradients.
    Fault(Fault),
    /// Two calls on the same input gave different gradients.
    NonDeterministic,
    /// A zero upstream gradient gave a non-zero gradient.
    NonZeroForZeroUpstream,
    /// The gradient is not linear in the upstream gradient: `VJP(αu + βv) ≠ α·VJP(u) +
    /// β·VJP(v)` (see `verify::custom`'s linearity test).
    NonLinearInUpstream,
    /// The backward wrote into an array it was given (an input or the upstream gradient, named
    /// as the call names it: `grad_out`, `a`): the caller's array changed. Only a function checked
    /// in-process (Python) can; a program gets copies.
    MutatedInput {
        /// The argument that changed, by its name in the call.
        argument: String,
    },
}

/// One problem, with the evidence a student needs to find it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The gradient, the call or the shapes.
    pub what: Subject,
    /// What is wrong.
    pub problem: Problem,
    /// In how many cases.
    pub failed: usize,
    /// The smallest shape found where it happens, e.g. `B=1 Din=2 Dout=2`.
    pub smallest_shape: String,
    /// The worst elements in that smallest case (at most three).
    #[serde(serialize_with = "elements")]
    pub worst: Vec<Element>,
    /// The whole gradient in that smallest case, expected and got (for a picture of it; none
    /// when the shapes differ or it is too large to show).
    #[serde(skip)]
    pub values: Option<CaseValues>,
    /// The recognised bug, if any.
    pub diagnosis: Option<Diagnosis>,
    /// Every failing case has B > 1 and a case with B = 1 passed.
    pub only_batch_of_one: bool,
}

/// One gradient in one case, whole: the reference's values and the ones under test, in the
/// same (row-major) order.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseValues {
    /// The gradient's shape.
    pub shape: Vec<usize>,
    /// The reference's values.
    pub expected: Vec<f64>,
    /// The values under test.
    pub actual: Vec<f64>,
}

impl CaseValues {
    /// The most elements a report keeps (a 32 × 32 matrix, drawn as about 3000 cells): a shrunk
    /// case is far smaller.
    pub const MAX_ELEMENTS: usize = 1024;
}

/// A gradient that could be neither certified nor failed, and what to try instead.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Inconclusive {
    /// The input whose gradient could not be judged (`x0`).
    pub gradient: String,
    /// Why not.
    pub reason: String,
    /// What to try next (another point, a step, a tolerance).
    pub try_next: String,
}

/// The verdict on one op's backward.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Whose backward, e.g. `linear_backward` or `python3 student.py`.
    pub subject: String,
    /// The op, as in the notes.
    pub op: String,
    /// Cases run (not counting the shrinking).
    pub cases: usize,
    /// The cases are points the user gave (`.points(…)`), not random draws.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub given_points: bool,
    /// False when the program answered "unsupported op".
    pub implemented: bool,
    /// The problems, most fundamental first.
    pub findings: Vec<Finding>,
    /// The gradients that could not be judged.
    pub inconclusive: Vec<Inconclusive>,
    /// Remarks that are not failures (a subgradient convention, ...).
    pub notes: Vec<String>,
}

impl Report {
    /// An empty report on `subject`'s `op` over `cases` cases, implemented.
    pub fn new(subject: impl Into<String>, op: impl Into<String>, cases: usize) -> Report {
        Report {
            subject: subject.into(),
            op: op.into(),
            cases,
            given_points: false,
            implemented: true,
            findings: Vec::new(),
            inconclusive: Vec::new(),
            notes: Vec::new(),
        }
    }

    /// Fail if anything was found or the op is not implemented; else Inconclusive if a
    /// gradient could not be judged; else Pass.
    pub fn verdict(&self) -> Verdict {
        if !self.implemented || !self.findings.is_empty() {
            Verdict::Fail
        } else if !self.inconclusive.is_empty() {
            Verdict::Inconclusive
        } else {
            Verdict::Pass
        }
    }

    /// True only when the verdict is Pass.
    pub fn passed(&self) -> bool {
        self.verdict() == Verdict::Pass
    }

    /// Panics with the whole report unless it passed: the one line a `#[test]` needs.
    #[track_caller]
    pub fn assert_correct(&self) {
        assert!(self.passed(), "\n{self}");
    }
}

/// The worst elements, each as `{"index", "expected", "actual", "rel_err"}`.
fn elements<S: Serializer>(elements: &[Element], serializer: S) -> Result<S::Ok, S::Error> {
    let mut seq = serializer.serialize_seq(Some(elements.len()))?;
    for e in elements {
        seq.serialize_element(&ElementJson(e))?;
    }
    seq.end()
}

struct ElementJson<'a>(&'a Element);

impl serde::Serialize for ElementJson<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(4))?;
        map.serialize_entry("index", &self.0.index)?;
        map.serialize_entry("expected", &self.0.expected)?;
        map.serialize_entry("actual", &self.0.actual)?;
        map.serialize_entry("rel_err", &self.0.rel_err)?;
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding() -> Finding {
        Finding {
            what: Subject::Gradient("W".to_owned()),
            problem: Problem::WrongValues,
            failed: 1,
            smallest_shape: "B=1 Din=1 Dout=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis: None,
            only_batch_of_one: false,
        }
    }

    #[test]
    fn the_verdict_is_fail_over_inconclusive_over_pass() {
        let mut report = Report::new("f", "op", 3);
        assert_eq!(report.verdict(), Verdict::Pass);
        assert!(report.passed());
        report.inconclusive.push(Inconclusive {
            gradient: "x0".to_owned(),
            reason: "every element lies within a step of a kink".to_owned(),
            try_next: "another seed".to_owned(),
        });
        assert_eq!(report.verdict(), Verdict::Inconclusive);
        assert!(!report.passed());
        report.findings.push(finding());
        assert_eq!(report.verdict(), Verdict::Fail);
        let unimplemented = Report {
            implemented: false,
            ..Report::new("f", "op", 3)
        };
        assert_eq!(unimplemented.verdict(), Verdict::Fail);
    }

    #[test]
    fn an_answer_without_a_gradient_is_a_missing_key_and_other_faults_are_the_protocols() {
        let one = || ndarray::ArrayD::zeros(vec![1, 1]);
        let relu = crate::catalogue::Request::new(
            crate::verify::ops::relu::KIND,
            vec![one()],
            Vec::new(),
            Some(one()),
        );
        let read = |grads| crate::protocol::answer_from_json(&grads, &relu).unwrap_err();
        let missing = Fault::of_answer(read(serde_json::json!({"b": [[1.0]]})));
        assert_eq!(missing, Fault::MissingKey { key: "a".to_owned() });
        assert_eq!(missing.to_string(), "the answer's grads: missing key `a`");
        let ragged = Fault::of_answer(read(serde_json::json!({"a": [[1.0], [1.0, 2.0]]})));
        assert!(
            matches!(&ragged, Fault::Protocol(message) if message.starts_with("the answer's grads.a")),
            "{ragged:?}"
        );
    }

    #[test]
    fn subjects_are_labelled_as_the_notes_write_gradients() {
        assert_eq!(Subject::Gradient("W".to_owned()).label(), "dL/dW");
        assert_eq!(Subject::Gradient("loss".to_owned()).label(), "the loss L");
        assert_eq!(
            Subject::Gradients(vec!["h".to_owned(), "b".to_owned()]).label(),
            "dL/dh, dL/db"
        );
        assert_eq!(Subject::Call.label(), "the call");
        assert_eq!(Subject::Shapes.label(), "the shapes");
        assert!(Subject::Call == "the call" && Subject::Call != "the shapes");
    }
}
