//! The mutation suite: deliberately buggy backward functions, each of which the verifier must
//! catch with the right diagnosis, and correct variants (loops, the h > 0 mask, the a ≥ 0
//! subgradient) that it must pass.
//!
//! One file per op (`linear`, `relu`, `sqerr`, the network in `mlp`), with the helpers they
//! share here: a new op's mutations are a new file and a `mod` line below. `custom` checks a
//! library author's own op, `tolerances` what the tolerances excuse.

use gradverify::verify::{Diagnosis, Fault, Problem, Report, Subject};
use ndarray::{Array1, Array2, Axis};

mod course;
mod custom;
mod linear;
mod mlp;
mod relu;
mod sqerr;
mod tolerances;

type LinearGrads = (Array2<f64>, Array2<f64>, Array1<f64>);

/// The finding for `what` (a gradient, the call, …), failing the test with the report if none.
#[track_caller]
fn finding<'r>(report: &'r Report, what: &Subject) -> &'r gradverify::verify::Finding {
    report
        .findings
        .iter()
        .find(|f| &f.what == what)
        .unwrap_or_else(|| panic!("no finding for {what:?}:\n{report}"))
}

/// Some finding of the report has this problem.
fn has_problem(report: &Report, problem: &Problem) -> bool {
    report.findings.iter().any(|f| &f.problem == problem)
}

/// The gradient of `input`.
fn gradient(input: &str) -> Subject {
    Subject::Gradient(input.to_owned())
}

/// A fault with this message, as the custom-op checker reports it.
fn failed(message: &str) -> Problem {
    Problem::Fault(Fault::Failed(message.to_owned()))
}

/// The input's gradient has a finding with this diagnosis.
#[track_caller]
fn assert_diagnosed(report: &Report, input: &str, diagnosis: Diagnosis) {
    assert!(!report.passed(), "a buggy backward passed:\n{report}");
    let found = finding(report, &gradient(input));
    assert_eq!(found.diagnosis.as_ref(), Some(&diagnosis), "{report}");
}

fn step(a: &Array2<f64>) -> Array2<f64> {
    a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

fn linear_right(g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>) -> LinearGrads {
    (g.dot(&w.t()), h.t().dot(g), g.sum_axis(Axis(0)))
}

/// The code of `input`'s diagnosis and the dims of its example (`B=2 D=3` → [2, 3]).
#[track_caller]
fn code_and_example(report: &Report, input: &str) -> (&'static str, Vec<usize>) {
    let found = finding(report, &gradient(input));
    let code = found
        .diagnosis
        .as_ref()
        .map(Diagnosis::code)
        .unwrap_or_else(|| panic!("no diagnosis for {input}:\n{report}"));
    let dims = found
        .smallest_shape
        .split_whitespace()
        .filter_map(|t| t.split_once('=')?.1.parse().ok())
        .collect();
    (code, dims)
}
