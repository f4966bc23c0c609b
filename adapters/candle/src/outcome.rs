//! The verdict of one check, in four values: `OpCheck`'s pass, FAIL (with the diagnosis codes of
//! its findings) and inconclusive (with the reasons), and unsupported, which `OpCheck` itself
//! has no verdict for (its `Report` marks it `implemented: false`, read as a failure there).

use std::fmt;

use gradverify::verify::{Fault, Problem, Report};

/// What came of one check.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// Every compared gradient was certified somewhere and nothing failed.
    Pass,
    /// Something failed: per finding, `dL/dx0: wrong_values [sign]` (the problem, then the
    /// diagnosis codes if a pattern was recognised).
    Fail(Vec<String>),
    /// Nothing failed, nothing certified for these gradients: `dL/dx0: why`.
    Inconclusive(Vec<String>),
    /// candle cannot differentiate the function: why.
    Unsupported(String),
}

impl Outcome {
    /// True for [`Outcome::Pass`].
    pub fn is_pass(&self) -> bool {
        matches!(self, Outcome::Pass)
    }

    /// The outcome's word: `pass`, `FAIL`, `inconclusive`, `unsupported`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail(_) => "FAIL",
            Outcome::Inconclusive(_) => "inconclusive",
            Outcome::Unsupported(_) => "unsupported",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Pass => write!(f, "pass"),
            Outcome::Fail(items) | Outcome::Inconclusive(items) => {
                write!(f, "{} ({})", self.word(), items.join("; "))
            }
            Outcome::Unsupported(why) => write!(f, "unsupported ({why})"),
        }
    }
}

/// `OpCheck`'s report of a candle function, and why candle could not differentiate it, if not.
#[derive(Debug, Clone)]
pub struct CandleReport {
    /// The report (for an unsupported op, of the one case that found it out, marked
    /// `implemented: false`).
    pub report: Report,
    /// Why candle could not differentiate it.
    pub unsupported: Option<String>,
}

impl CandleReport {
    pub(crate) fn checked(report: Report) -> CandleReport {
        CandleReport {
            report,
            unsupported: None,
        }
    }

    pub(crate) fn unsupported(mut report: Report, why: String) -> CandleReport {
        report.implemented = false;
        CandleReport {
            report,
            unsupported: Some(why),
        }
    }

    /// The verdict.
    pub fn outcome(&self) -> Outcome {
        if let Some(why) = &self.unsupported {
            return Outcome::Unsupported(why.clone());
        }
        let report = &self.report;
        if !report.findings.is_empty() {
            return Outcome::Fail(
                report
                    .findings
                    .iter()
                    .map(|finding| {
                        let mut item =
                            format!("{}: {}", finding.what.label(), problem_code(&finding.problem));
                        if let Some(diagnosis) = &finding.diagnosis {
                            item.push_str(&format!(" [{}]", diagnosis.codes().join(", ")));
                        }
                        item
                    })
                    .collect(),
            );
        }
        if !report.inconclusive.is_empty() {
            return Outcome::Inconclusive(
                report
                    .inconclusive
                    .iter()
                    .map(|i| format!("dL/d{}: {}", i.gradient, i.reason))
                    .collect(),
            );
        }
        Outcome::Pass
    }
}

/// A stable word for a problem; a fault keeps its message.
fn problem_code(problem: &Problem) -> String {
    match problem {
        Problem::WrongValues => "wrong_values".to_owned(),
        Problem::WrongShape { got, expected } => format!("wrong_shape (got {got:?}, expected {expected:?})"),
        Problem::NonFinite => "non_finite".to_owned(),
        Problem::Fault(Fault::Failed(message)) => format!("fault: {message}"),
        Problem::Fault(fault) => format!("fault: {fault:?}"),
        Problem::NonDeterministic => "nondeterministic".to_owned(),
        Problem::NonZeroForZeroUpstream => "nonzero_for_zero_upstream".to_owned(),
        other => format!("{other:?}"),
    }
}

/// The outcome, then `OpCheck`'s whole report (or why candle cannot differentiate the op).
impl fmt::Display for CandleReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.unsupported {
            Some(why) => write!(f, "{}: unsupported: {why}", self.report.op),
            None => write!(f, "{}", self.report),
        }
    }
}
