//! Points and scores for graders: each op is worth some points (`--points linear=2,relu=1`,
//! 1 each by default), and scores all of them or nothing.
//!
//! An op's score is `points(op)` when its report's verdict is Pass, else 0: a failing op,
//! an op the program does not implement and an op that could not be judged (inconclusive) all
//! score 0, each with the reason in [`OpScore::reason`]. A program's score is the sum over its
//! ops, out of the sum of their points. The renderers for autograders
//! ([`super::gradescope`], [`super::junit`]) read a [`Scorecard`].

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::compare::Verdict;
use crate::error::{Error, Result};

use super::model::{Fault, Finding, Problem, Report};
use super::text;

/// Points per op, keyed by the op's name (a built-in op or one a spec describes); an op not
/// named is worth [`Points::DEFAULT`].
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Points {
    named: Vec<(String, f64)>,
}

impl Points {
    /// What an op not named is worth.
    pub const DEFAULT: f64 = 1.0;

    /// What `op` is worth.
    pub fn of(&self, op: &str) -> f64 {
        self.named
            .iter()
            .find(|(name, _)| name == op)
            .map_or(Points::DEFAULT, |&(_, p)| p)
    }

    /// An error naming the first op given points that is not among the `checked` ones (a typo,
    /// or an op not checked: its points would silently count for nothing).
    pub fn only_for(&self, checked: &[&str]) -> Result<()> {
        match self
            .named
            .iter()
            .find(|(name, _)| !checked.contains(&name.as_str()))
        {
            None => Ok(()),
            Some((name, _)) => Err(Error::Config {
                arg: "points".into(),
                value: name.clone(),
                expected: format!("points only for the ops checked ({})", checked.join(", ")),
            }),
        }
    }
}

/// The most points one op may carry: any sum of them over a course's ops stays a finite,
/// exactly printed number (`1e308` twice would be infinite, and JSON has no infinity).
pub const MAX_POINTS: f64 = 1e6;

/// `linear=2,relu=1,…`: each op at most once, points finite and from 0 to [`MAX_POINTS`]; which
/// names are ops is [`Points::only_for`]'s to say, once the ops checked are known.
impl FromStr for Points {
    type Err = Error;
    fn from_str(s: &str) -> Result<Points> {
        let bad = |value: &str, expected: &str| Error::Config {
            arg: "points".into(),
            value: value.into(),
            expected: expected.into(),
        };
        let mut named: Vec<(String, f64)> = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (op, points) = item
                .split_once('=')
                .ok_or_else(|| bad(item, "OP=POINTS, e.g. linear=2"))?;
            let op = op.trim();
            if op.is_empty() {
                return Err(bad(item, "OP=POINTS with an op's name, e.g. linear=2"));
            }
            let points = points
                .trim()
                .parse::<f64>()
                .ok()
                .filter(|p| (0.0..=MAX_POINTS).contains(p))
                .ok_or_else(|| bad(item, "a number of points from 0 to 1000000, e.g. linear=2"))?;
            if named.iter().any(|(k, _)| *k == op) {
                return Err(bad(item, "each op at most once"));
            }
            named.push((op.to_owned(), points));
        }
        Ok(Points { named })
    }
}

/// How one op came out, for graders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Every case agreed with the reference.
    Pass,
    /// Something was found.
    Fail,
    /// The program answered "unsupported op".
    NotImplemented,
    /// Some gradient could not be judged.
    Inconclusive,
    /// Not checked: the program could not be started, or its time ran out before this op.
    NotRun,
}

impl Outcome {
    /// The outcome's name in tables and files: `pass`, `fail`, `not_implemented`, ….
    pub fn name(self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "fail",
            Outcome::NotImplemented => "not_implemented",
            Outcome::Inconclusive => "inconclusive",
            Outcome::NotRun => "not_run",
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// One op's score, with why it scored 0 and its text report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OpScore {
    /// The op's name.
    pub op: String,
    /// How it came out.
    pub outcome: Outcome,
    /// `max_score` on a pass, else 0.
    pub score: f64,
    /// What the op is worth.
    pub max_score: f64,
    /// Why it scored 0, in one line (none on a pass).
    pub reason: Option<String>,
    /// The diagnosis codes of its findings, and the kind of each fault (`exited`, `timed_out`).
    pub codes: Vec<String>,
    /// The op's text report (or, when it was not run, why not).
    pub text: String,
}

impl OpScore {
    /// The score of the report of the op named `op`.
    pub fn of(report: &Report, op: &str, points: &Points) -> OpScore {
        let max_score = points.of(op);
        let outcome = match report.verdict() {
            _ if !report.implemented => Outcome::NotImplemented,
            Verdict::Pass => Outcome::Pass,
            Verdict::Fail => Outcome::Fail,
            Verdict::Inconclusive => Outcome::Inconclusive,
        };
        OpScore {
            op: op.to_owned(),
            outcome,
            score: if outcome == Outcome::Pass { max_score } else { 0.0 },
            max_score,
            reason: reason(report, outcome),
            codes: codes(report),
            text: report.to_string(),
        }
    }

    /// This op, failed because the program's time ran out while it was checked (`why`): the
    /// report is kept, the reason and the code (`out_of_time`) say what happened.
    pub fn out_of_time(self, why: &str) -> OpScore {
        OpScore {
            outcome: Outcome::Fail,
            score: 0.0,
            reason: Some(why.to_owned()),
            codes: vec!["out_of_time".to_owned()],
            ..self
        }
    }

    /// An op that was not checked, for `why`.
    pub fn not_run(op: &str, points: &Points, why: &str) -> OpScore {
        OpScore {
            op: op.to_owned(),
            outcome: Outcome::NotRun,
            score: 0.0,
            max_score: points.of(op),
            reason: Some(why.to_owned()),
            codes: Vec::new(),
            text: format!("{op}: NOT RUN: {why}"),
        }
    }
}

/// Why a report scored 0, in one line: each finding's first line, or each gradient not judged.
fn reason(report: &Report, outcome: Outcome) -> Option<String> {
    let parts: Vec<String> = match outcome {
        Outcome::Pass | Outcome::NotRun => return None,
        Outcome::NotImplemented => {
            return Some("not implemented (the program answered \"unsupported op\")".to_owned());
        }
        Outcome::Fail => report
            .findings
            .iter()
            .map(|f| format!("{}: {}", f.what.label(), short(f, report.cases)))
            .collect(),
        Outcome::Inconclusive => report
            .inconclusive
            .iter()
            .map(|i| format!("dL/d{}: inconclusive: {}", i.gradient, i.reason))
            .collect(),
    };
    Some(parts.join("; "))
}

/// A finding's problem in one line: an exit with its status and last line of standard error,
/// anything else as the first line of its text.
fn short(finding: &Finding, cases: usize) -> String {
    if let Problem::Fault(Fault::Exited { status, stderr_tail }) = &finding.problem {
        return match stderr_tail.last() {
            Some(line) => format!("the program exited ({status}): {}", line.trim()),
            None => format!("the program exited ({status})"),
        };
    }
    let text = text::finding(finding, cases);
    let first = text.lines().next().unwrap_or_default().trim();
    let label = format!("{}: ", finding.what.label());
    first.strip_prefix(&label).unwrap_or(first).to_owned()
}

/// The diagnosis codes and fault kinds of a report's findings, each once, in order.
fn codes(report: &Report) -> Vec<String> {
    let mut codes: Vec<String> = Vec::new();
    for finding in &report.findings {
        // Every code a diagnosis stands for (`loss_factor` with `mse_convention` beside it), as
        // the report prints them.
        let found: Vec<String> = match (&finding.diagnosis, &finding.problem) {
            (Some(d), _) => d.codes().into_iter().map(str::to_owned).collect(),
            (None, Problem::Fault(fault)) => serde_json::to_value(fault)
                .ok()
                .and_then(|v| v["kind"].as_str().map(str::to_owned))
                .into_iter()
                .collect(),
            _ => Vec::new(),
        };
        for code in found {
            if !codes.contains(&code) {
                codes.push(code);
            }
        }
    }
    codes
}

/// One program's (or submission's) scores.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Scorecard {
    /// The program's command, or the submission's name.
    pub name: String,
    /// One per op checked, in order.
    pub ops: Vec<OpScore>,
    /// What went wrong with the program as a whole (it could not start, its time ran out).
    pub fault: Option<String>,
    /// The text for the program as a whole: a summary, its last lines of standard error.
    pub output: String,
}

impl Scorecard {
    /// The card of `name`'s reports, one per op of `ops` (their names) in order; its output is
    /// the summary and, unless every op passed, the program's last lines of standard error.
    pub fn of(
        name: &str,
        ops: &[&str],
        reports: &[Report],
        points: &Points,
        stderr_tail: &[String],
    ) -> Scorecard {
        let mut card = Scorecard {
            name: name.to_owned(),
            ops: ops
                .iter()
                .zip(reports)
                .map(|(op, report)| OpScore::of(report, op, points))
                .collect(),
            fault: None,
            output: String::new(),
        };
        card.output = card.summary();
        if !reports.iter().all(Report::passed) && !stderr_tail.is_empty() {
            card.output.push_str(&format!(
                "\nthe program's last lines of standard error:\n  | {}",
                stderr_tail.join("\n  | ")
            ));
        }
        card
    }

    /// The sum of the ops' scores.
    pub fn score(&self) -> f64 {
        self.ops.iter().map(|o| o.score).sum()
    }

    /// The sum of what the ops are worth.
    pub fn max_score(&self) -> f64 {
        self.ops.iter().map(|o| o.max_score).sum()
    }

    /// `N of M ops pass, score S / T`.
    pub fn summary(&self) -> String {
        let passed = self.ops.iter().filter(|o| o.outcome == Outcome::Pass).count();
        format!(
            "{passed} of {} ops pass, score {} / {}",
            self.ops.len(),
            self.score(),
            self.max_score()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Bug;
    use crate::verify::report::{Diagnosis, Inconclusive, Subject};

    fn finding(problem: Problem, diagnosis: Option<Diagnosis>) -> Finding {
        Finding {
            what: Subject::Gradient("b".to_owned()),
            problem,
            failed: 3,
            smallest_shape: "B=2 Din=1 Dout=1".to_owned(),
            worst: Vec::new(),
            values: None,
            diagnosis,
            only_batch_of_one: false,
        }
    }

    #[test]
    fn points_parse_with_a_default_of_one_and_clear_errors() {
        let points: Points = "linear=2, relu=0.5".parse().unwrap();
        assert_eq!(points.of("linear"), 2.0);
        assert_eq!(points.of("relu"), 0.5);
        assert_eq!(points.of("mlp"), 1.0);
        assert_eq!("".parse::<Points>().unwrap(), Points::default());
        for (bad, says) in [
            ("linear", "OP=POINTS"),
            ("linear=-1", "from 0 to 1000000"),
            ("linear=NaN", "from 0 to 1000000"),
            ("linear=1e308,relu=1e308", "from 0 to 1000000"),
            ("linear=2,linear=3", "at most once"),
            ("=2", "an op's name"),
        ] {
            let message = bad.parse::<Points>().unwrap_err().to_string();
            assert!(message.contains(says), "{bad}: {message}");
        }
        let message = points.only_for(&["linear"]).unwrap_err().to_string();
        assert!(message.contains("`points` is relu"), "{message}");
        assert!(points.only_for(&["relu", "linear"]).is_ok());
    }

    #[test]
    fn every_code_of_a_diagnosis_is_scored_not_only_its_first() {
        use crate::verify::hypotheses::network::LossFactor;
        use crate::verify::hypotheses::shape_factor::ShapeFactor;
        let fit = ShapeFactor {
            code: "mse_convention",
            c: (2, 1),
            p: -1,
            q: vec![("D3".to_owned(), -1)],
            formula: "2/(B·D3)".to_owned(),
            sentence: String::new(),
            example: Some(0),
        };
        let loss = LossFactor {
            factors: vec![Some(0.5)],
            fit: Some(fit),
            example: 0,
            sentence: String::new(),
        };
        let mut report = Report::new("p", "mlp", 4);
        report
            .findings
            .push(finding(Problem::WrongValues, Some(Diagnosis::LossFactor(loss))));
        let score = OpScore::of(&report, "mlp", &Points::default());
        assert_eq!(score.codes, ["loss_factor", "mse_convention"]);
    }

    /// A passing linear, a linear with a wrong dL/db and an exit, and a relu not implemented.
    fn passing_failing_and_missing(points: &Points) -> [OpScore; 3] {
        let pass = OpScore::of(&Report::new("p", "linear", 4), "linear", points);
        let mut wrong = Report::new("p", "linear", 4);
        const BIAS: Bug = Bug {
            code: "bias_not_summed",
            summary: "",
            explain: "",
            parameter: None,
        };
        wrong
            .findings
            .push(finding(Problem::WrongValues, Some(Diagnosis::Bug(&BIAS))));
        let exited = Fault::Exited {
            status: "exit status: 1".to_owned(),
            stderr_tail: vec!["Traceback".to_owned()],
        };
        wrong.findings.push(finding(Problem::Fault(exited), None));
        let fail = OpScore::of(&wrong, "linear", points);
        let unsupported = Report {
            implemented: false,
            ..Report::new("p", "relu", 4)
        };
        let missing = OpScore::of(&unsupported, "relu", points);
        [pass, fail, missing]
    }

    #[test]
    fn an_op_scores_its_points_only_when_it_passes() {
        let points: Points = "linear=2".parse().unwrap();
        let [pass, fail, missing] = passing_failing_and_missing(&points);
        assert_eq!(
            (pass.outcome, pass.score, pass.max_score),
            (Outcome::Pass, 2.0, 2.0)
        );
        assert_eq!(pass.reason, None);
        assert_eq!(
            (fail.outcome, fail.score, fail.max_score),
            (Outcome::Fail, 0.0, 2.0)
        );
        assert_eq!(fail.codes, ["bias_not_summed", "exited"]);
        assert_eq!(
            fail.reason.as_deref(),
            Some("dL/db: wrong values; dL/db: the program exited (exit status: 1): Traceback")
        );
        assert_eq!((missing.outcome, missing.score), (Outcome::NotImplemented, 0.0));
        assert!(missing.reason.as_deref().unwrap().contains("not implemented"));

        let card = Scorecard {
            name: "p".to_owned(),
            ops: vec![
                pass,
                fail,
                missing,
                OpScore::not_run("mlp", &points, "no time left"),
            ],
            fault: None,
            output: String::new(),
        };
        assert_eq!((card.score(), card.max_score()), (2.0, 6.0));
        assert_eq!(card.summary(), "1 of 4 ops pass, score 2 / 6");
    }

    #[test]
    fn an_inconclusive_op_or_one_out_of_time_scores_nothing_and_says_why() {
        let points: Points = "linear=2".parse().unwrap();
        let mut unsure = Report::new("p", "relu", 4);
        unsure.inconclusive.push(Inconclusive {
            gradient: "a".to_owned(),
            reason: "every element lies at a kink".to_owned(),
            try_next: "another seed".to_owned(),
        });
        let inconclusive = OpScore::of(&unsure, "relu", &points);
        assert_eq!(
            (inconclusive.outcome, inconclusive.score),
            (Outcome::Inconclusive, 0.0)
        );
        assert_eq!(
            inconclusive.reason.as_deref(),
            Some("dL/da: inconclusive: every element lies at a kink")
        );

        let late = OpScore::of(&Report::new("p", "relu", 4), "relu", &points).out_of_time("no time");
        assert_eq!(
            (late.outcome, late.score, late.max_score),
            (Outcome::Fail, 0.0, 1.0)
        );
        assert_eq!(
            (late.reason.as_deref(), &late.codes[..]),
            (Some("no time"), &["out_of_time".to_owned()][..])
        );
    }
}
