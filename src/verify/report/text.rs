//! The text report, written for the person who wrote the backward: per gradient, how often it
//! was wrong, the smallest shape where it is, the worst elements with their indices and a
//! diagnosis when the pattern is recognisable. It is the `Display` of [`Report`].

use std::fmt;

use super::diagnosis::Diagnosis;
use super::model::{Fault, Finding, Problem, Report, gradient_label};
use super::unsigned;

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let head = format!("{} ({})", self.op, self.subject);
        if !self.implemented {
            return write!(
                f,
                "{head}: NOT IMPLEMENTED (the program answered \"unsupported op\")"
            );
        }
        if self.findings.is_empty() && self.inconclusive.is_empty() {
            write!(f, "{head}: pass, {}", cases(self))?;
        } else if self.findings.is_empty() {
            let n = self.inconclusive.len();
            write!(
                f,
                "{head}: INCONCLUSIVE, {n} gradient{} not judged in {}",
                if n == 1 { "" } else { "s" },
                cases(self)
            )?;
        } else {
            let n = self.findings.len();
            write!(
                f,
                "{head}: FAIL, {n} problem{} in {}",
                if n == 1 { "" } else { "s" },
                cases(self)
            )?;
        }
        for finding in &self.findings {
            write!(f, "\n{}", Indented(finding, self.cases))?;
        }
        for item in &self.inconclusive {
            write!(
                f,
                "\n  {}: inconclusive: {}\n    try: {}",
                gradient_label(&item.gradient),
                item.reason,
                item.try_next
            )?;
        }
        for note in &self.notes {
            write!(f, "\n  note: {note}")?;
        }
        Ok(())
    }
}

/// What the cases were: `40 random cases`, or `2 given points` when the user gave them.
fn cases(report: &Report) -> String {
    match (report.given_points, report.cases) {
        (true, 1) => "1 given point".to_owned(),
        (true, n) => format!("{n} given points"),
        (false, n) => format!("{n} random cases"),
    }
}

/// One finding as the report writes it (indented, several lines), out of `cases` cases.
pub fn finding(finding: &Finding, cases: usize) -> String {
    Indented(finding, cases).to_string()
}

struct Indented<'a>(&'a Finding, usize);

impl fmt::Display for Indented<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Indented(finding, cases) = *self;
        let problem = match &finding.problem {
            Problem::WrongValues => "wrong values".to_owned(),
            Problem::WrongShape { got, expected } => format!("shape {got:?}, expected {expected:?}"),
            Problem::NonFinite => "NaN or infinity".to_owned(),
            Problem::Fault(fault) => fault.to_string(),
            Problem::NonDeterministic => {
                "a second call on the same input gave a different answer (stateful or random backward)"
                    .to_owned()
            }
            Problem::NonZeroForZeroUpstream => {
                "non-zero for a zero upstream gradient: something in it does not scale with dL/d(output)"
                    .to_owned()
            }
            Problem::NonLinearInUpstream => {
                "not linear in the upstream gradient: VJP(αu + βv) differs from α·VJP(u) + β·VJP(v) (expected below is the right side, got the left)"
                    .to_owned()
            }
            Problem::MutatedInput { argument } => {
                format!(
                    "the backward changed its argument `{argument}` in place: the caller's array is not what it passed"
                )
            }
        };
        write!(
            f,
            "  {}: {problem}\n    in {} of {cases} cases",
            finding.what.label(),
            finding.failed,
        )?;
        if !matches!(&finding.problem, Problem::Fault(fault) if fault.is_of_the_process()) {
            write!(f, "; smallest: {}", finding.smallest_shape)?;
        }
        if let Some(d) = &finding.diagnosis {
            write!(f, "\n    diagnosis: [{}] {d}", d.codes().join(", "))?;
        }
        // A diagnosis that explains why B = 1 passes says so itself (or says the truth: an
        // overwritten fan-out of dL/dh fails at B = 1 too).
        if finding.only_batch_of_one
            && !(finding.diagnosis.as_ref()).is_some_and(Diagnosis::says_batch_of_one_passes)
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
                e.index,
                unsigned(e.expected),
                unsigned(e.actual)
            )?;
        }
        Ok(())
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Fault::Unsupported => write!(f, "the program answered \"unsupported op\""),
            Fault::Panicked(message) => write!(f, "panicked: {message}"),
            Fault::TimedOut { seconds, request_id } => {
                write!(f, "no answer within {seconds} s (request id {request_id})")
            }
            Fault::StoppedAnswering { requests, seconds } => write!(
                f,
                "the program stopped answering: {requests} requests in a row got no answer within {seconds} s"
            ),
            Fault::Exited { status, stderr_tail } => {
                write!(f, "the program exited ({status})")?;
                write_stderr(f, stderr_tail)
            }
            Fault::CannotStart { status, stderr_tail } => {
                write!(f, "the command could not be started ({status})")?;
                write_stderr(f, stderr_tail)
            }
            Fault::ChildKeptStdoutOpen { status, stderr_tail } => {
                write!(
                    f,
                    "the program exited ({status}), but a child process kept its standard output open"
                )?;
                write_stderr(f, stderr_tail)
            }
            Fault::ClosedStdout => {
                write!(f, "the program closed its standard output but is still running")
            }
            Fault::ClosedStdin => {
                write!(f, "the program closed its standard input but is still running")
            }
            Fault::LineTooLong { bytes, limit } => write!(
                f,
                "the answer line has {bytes} bytes, more than the limit of {limit} bytes; it was read through, not kept"
            ),
            Fault::MissingKey { key } => write!(f, "the answer's grads: missing key `{key}`"),
            Fault::Raised(message) | Fault::Protocol(message) | Fault::Failed(message) => {
                f.write_str(message)
            }
            Fault::GaveUp { restarts, last } => write!(
                f,
                "not asked: the program was restarted {restarts} times in this op and ended again ({last})"
            ),
        }
    }
}

/// "; its last lines of standard error: …", or that it wrote none.
fn write_stderr(f: &mut fmt::Formatter<'_>, stderr_tail: &[String]) -> fmt::Result {
    if stderr_tail.is_empty() {
        return write!(f, " and wrote nothing to standard error");
    }
    write!(f, "; its last lines of standard error:")?;
    for line in stderr_tail {
        write!(f, "\n      | {line}")?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Bug;
    use crate::compare::Element;
    use crate::verify::report::{Inconclusive, Subject};

    #[test]
    fn negative_zero_prints_as_zero() {
        // A relu backward that returns -0.0 everywhere: every worst element's got is -0.0.
        let report = crate::check::relu(|g, _| g.mapv(|_| -0.0));
        let text = report.to_string();
        let worst = &report.findings[0].worst;
        assert!(
            !worst.is_empty() && worst.iter().all(|e| e.actual.is_sign_negative()),
            "{worst:?}"
        );
        assert!(text.contains(", got 0.000000"), "{text}");
        assert!(!text.contains("-0.000000"), "{text}");
    }

    #[test]
    fn a_report_reads_as_it_always_has() {
        let mut report = Report::new("linear_backward", "linear", 40);
        report.findings.push(Finding {
            what: Subject::Gradient("b".to_owned()),
            problem: Problem::WrongValues,
            failed: 30,
            smallest_shape: "B=2 Din=1 Dout=1".to_owned(),
            worst: vec![Element {
                index: vec![0],
                expected: 1.5,
                actual: 0.5,
                rel_err: 2.0 / 3.0,
            }],
            values: None,
            diagnosis: Some(Diagnosis::Bug(&Bug {
                code: "bias_not_summed",
                summary: "bias gradient not summed over the batch: you return the first data point's (or image's) gradient; b is shared by every row, so dL/db = Σ_rows dL/da (Eq. 74), and conv2d's by every position of every image; correct only when B = 1",
                explain: "",
                parameter: None,
            })),
            only_batch_of_one: true,
        });
        report.findings.push(Finding {
            what: Subject::Call,
            problem: Problem::Fault(Fault::TimedOut {
                seconds: 0.5,
                request_id: 7,
            }),
            failed: 1,
            smallest_shape: "B=1 Din=1 Dout=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis: None,
            only_batch_of_one: false,
        });
        report.notes.push("a remark".to_owned());
        assert_eq!(
            report.to_string(),
            "linear (linear_backward): FAIL, 2 problems in 40 random cases
  dL/db: wrong values
    in 30 of 40 cases; smallest: B=2 Din=1 Dout=1
    diagnosis: [bias_not_summed] bias gradient not summed over the batch: you return the first data point's (or image's) gradient; b is shared by every row, so dL/db = Σ_rows dL/da (Eq. 74), and conv2d's by every position of every image; correct only when B = 1
    at [0]: expected 1.500000, got 0.500000
  the call: no answer within 0.5 s (request id 7)
    in 1 of 40 cases; smallest: B=1 Din=1 Dout=1
  note: a remark"
        );
    }

    #[test]
    fn a_fault_of_the_whole_program_shows_no_smallest_shape() {
        let finding = |problem| Finding {
            what: Subject::Call,
            problem,
            failed: 40,
            smallest_shape: "B=1 Din=1 Dout=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis: None,
            only_batch_of_one: false,
        };
        let exited = Fault::Exited {
            status: "exit status: 1".to_owned(),
            stderr_tail: Vec::new(),
        };
        let text = Indented(&finding(Problem::Fault(exited)), 40).to_string();
        assert!(text.ends_with("in 40 of 40 cases"), "{text}");
        let panicked = Fault::Panicked("index out of bounds".to_owned());
        let text = Indented(&finding(Problem::Fault(panicked)), 40).to_string();
        assert!(text.ends_with("smallest: B=1 Din=1 Dout=1"), "{text}");
    }

    #[test]
    fn a_finding_only_at_several_data_points_says_so_unless_its_diagnosis_does() {
        let finding = |diagnosis| Finding {
            what: Subject::Gradient("h".to_owned()),
            problem: Problem::WrongValues,
            failed: 2,
            smallest_shape: "B=2 Din=1 Dout=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis,
            only_batch_of_one: true,
        };
        assert_eq!(
            super::finding(&finding(None), 4),
            "  dL/dh: wrong values
    in 2 of 4 cases; smallest: B=2 Din=1 Dout=1
    correct only when B = 1: every failing case has several data points"
        );
        assert!(
            !super::finding(&finding(Some(Diagnosis::MeanOverBatch)), 4)
                .contains("correct only when B = 1: every failing case")
        );
    }

    #[test]
    fn an_inconclusive_gradient_says_why_and_what_to_try() {
        let mut report = Report::new("your forward and backward", "kinky", 10);
        report.inconclusive.push(Inconclusive {
            gradient: "x0".to_owned(),
            reason: "every element lies within a step of a kink".to_owned(),
            try_next: "inputs away from the kinks".to_owned(),
        });
        assert_eq!(
            report.to_string(),
            "kinky (your forward and backward): INCONCLUSIVE, 1 gradient not judged in 10 random cases
  dL/dx0: inconclusive: every element lies within a step of a kink
    try: inputs away from the kinks"
        );
    }

    #[test]
    fn an_exited_program_shows_its_status_and_last_lines() {
        let fault = Fault::Exited {
            status: "exit status: 3".to_owned(),
            stderr_tail: vec!["oops".to_owned(), "more".to_owned()],
        };
        assert_eq!(
            fault.to_string(),
            "the program exited (exit status: 3); its last lines of standard error:\n      | oops\n      | more"
        );
        let silent = Fault::Exited {
            status: "exit status: 0".to_owned(),
            stderr_tail: Vec::new(),
        };
        assert_eq!(
            silent.to_string(),
            "the program exited (exit status: 0) and wrote nothing to standard error"
        );
    }
}
