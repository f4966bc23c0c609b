//! Other checkers' own tests, ported to `check::op` where they apply to real f64 ops (PyTorch's
//! `test_gradcheck_*` in `test/test_autograd.py`, HIPS/autograd's `test_tests.py`, Stan Math's
//! `test_ad_test.cpp`), each with the peer's verdict; and the faults that must never panic or be
//! dropped.

use std::cell::Cell;

use gradverify::check;
use gradverify::compare::Verdict;
use gradverify::verify::{Config, Fault, Problem, Report};
use ndarray::ArrayD;

fn sin(x: &[ArrayD<f64>]) -> ArrayD<f64> {
    x[0].mapv(f64::sin)
}

fn sin_vjp(x: &[ArrayD<f64>], g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g * &x[0].mapv(f64::cos)]
}

#[track_caller]
fn has_problem(report: &Report, what: &str, pred: impl Fn(&Problem) -> bool) {
    assert!(
        report.findings.iter().any(|f| f.what == what && pred(&f.problem)),
        "no such finding on {what}:\n{report}"
    );
}

/// PyTorch `test_gradcheck_undefined_grad` / `check_undefined_grad`: a backward that cannot take
/// a zero (undefined) upstream gradient fails the check.
#[test]
fn a_backward_that_panics_on_a_zero_upstream_fails() {
    let fragile = |x: &[ArrayD<f64>], g: &ArrayD<f64>| {
        assert!(g.iter().any(|v| *v != 0.0), "no gradient to propagate");
        sin_vjp(x, g)
    };
    let report = check::op("sin", &[&[2, 3]], sin, fragile);
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    has_problem(
        &report,
        "dL/dx0",
        |p| matches!(p, Problem::Fault(Fault::Failed(m)) if m.contains("no gradient to propagate") && m.contains("upstream gradient all zeros")),
    );
}

/// PyTorch `test_gradcheck_nondeterministic`: a backward with noise fails; one within the
/// tolerance (here one ulp, the built-in verifier's 1e-12 relative) passes.
#[test]
fn a_nondeterministic_backward_fails_and_one_ulp_of_jitter_passes() {
    for (jitter, verdict) in [(1e-7, Verdict::Fail), (f64::EPSILON, Verdict::Pass)] {
        let calls = Cell::new(0_u32);
        let noisy = |x: &[ArrayD<f64>], g: &ArrayD<f64>| {
            calls.set(calls.get() + 1);
            let factor = if calls.get().is_multiple_of(2) {
                1.0 + jitter
            } else {
                1.0
            };
            vec![(g * &x[0].mapv(f64::cos)) * factor]
        };
        let report = check::op("sin", &[&[2, 3]], sin, noisy);
        assert_eq!(report.verdict(), verdict, "jitter {jitter}:\n{report}");
        if verdict == Verdict::Fail {
            has_problem(&report, "dL/dx0", |p| *p == Problem::NonDeterministic);
        }
    }
}

/// PyTorch `test_gradcheck_backward_mul_by_grad_output`: a backward that ignores grad_output.
#[test]
fn a_backward_not_multiplied_by_the_upstream_gradient_fails() {
    let ignores = |x: &[ArrayD<f64>], _g: &ArrayD<f64>| vec![x[0].mapv(f64::cos)];
    let report = check::op("sin", &[&[2, 3]], sin, ignores);
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    has_problem(&report, "dL/dx0", |p| *p == Problem::NonZeroForZeroUpstream);
    has_problem(&report, "dL/dx0", |p| *p == Problem::WrongValues);
}

/// PyTorch `test_gradcheck_jacobian_mismatch` (a backward that doubles), HIPS/autograd
/// `test_check_vjp_2nd_order_fail`-style wrong derivatives: fail.
#[test]
fn a_jacobian_mismatch_fails() {
    let doubled = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::cos) * 2.0];
    let report = check::op("sin", &[&[2, 3]], sin, doubled);
    has_problem(&report, "dL/dx0", |p| *p == Problem::WrongValues);
    // Two inputs, the second's gradient wrong: only it is named.
    let product = |x: &[ArrayD<f64>]| &x[0] * &x[1];
    let half_wrong = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[1], g * &x[1]];
    let report = check::op("x·y", &[&[3], &[3]], product, half_wrong);
    has_problem(&report, "dL/dx1", |p| *p == Problem::WrongValues);
    assert!(report.findings.iter().all(|f| f.what != "dL/dx0"), "{report}");
}

/// A forward whose output shape depends on the values (PyTorch raises on such outputs): a fail
/// that names the input moved, never a panic.
#[test]
fn an_output_shape_depending_on_the_values_fails_naming_the_input() {
    let positives = |x: &[ArrayD<f64>]| {
        let kept: Vec<f64> = x[0].iter().copied().filter(|v| *v > 0.0).collect();
        ArrayD::from_shape_vec(vec![kept.len()], kept).unwrap()
    };
    let any = |x: &[ArrayD<f64>], _g: &ArrayD<f64>| vec![x[0].mapv(|_| 0.0)];
    let config = Config::default().cases(10).seed(3);
    let report = check::op_with(config, "keep positives", &[&[6]], positives, any);
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    has_problem(
        &report,
        "the call",
        |p| matches!(p, Problem::Fault(Fault::Failed(m)) if m.contains("changed shape") && m.contains("x0[")),
    );
}

/// PyTorch: "gradcheck expects at least one input tensor to require gradient": with no input,
/// the check fails with a message.
#[test]
fn no_differentiable_input_fails_with_a_message() {
    let constant = |_x: &[ArrayD<f64>]| ArrayD::zeros(vec![2]);
    let none = |_x: &[ArrayD<f64>], _g: &ArrayD<f64>| Vec::new();
    let report = check::op("constant", &[], constant, none);
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    has_problem(
        &report,
        "the shapes",
        |p| matches!(p, Problem::Fault(Fault::Failed(m)) if m.contains("at least one input")),
    );
}

/// Shapes that cannot be allocated: a finding, not a panic inside ndarray.
#[test]
fn shapes_that_cannot_be_allocated_are_a_finding() {
    let report = check::op("huge", &[&[usize::MAX, 2]], sin, sin_vjp);
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    has_problem(
        &report,
        "the shapes",
        |p| matches!(p, Problem::Fault(Fault::Failed(m)) if m.contains("cannot be checked")),
    );
}

/// Stan's `expect_ad` skips inputs where the function is not finite: a forward NaN at the drawn
/// inputs is drawn again, and a case that stays NaN is inconclusive with the reason, never a
/// wrong gradient.
#[test]
fn a_forward_nan_at_the_drawn_inputs_is_drawn_again_or_inconclusive() {
    let sqrt = |x: &[ArrayD<f64>]| x[0].mapv(f64::sqrt);
    let sqrt_vjp = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| 0.5 / v.sqrt())];
    // One element: positive in half the draws, so five draws almost always find one.
    let report = check::op("sqrt", &[&[1]], sqrt, sqrt_vjp);
    assert_eq!(report.verdict(), Verdict::Pass, "{report}");
    // Twelve elements: all positive in 1 of 4,096 draws.
    let report = check::op("sqrt", &[&[3, 4]], sqrt, sqrt_vjp);
    assert_eq!(report.verdict(), Verdict::Inconclusive, "{report}");
    assert!(
        report.inconclusive[0].reason.contains("NaN or infinite"),
        "{report}"
    );
    let text = report.to_string();
    assert!(text.contains("INCONCLUSIVE") && text.contains("try:"), "{text}");
    assert!(!report.passed());
}

/// A function f64 cannot differentiate by differences at these inputs: inconclusive, with what
/// to try; the wrong gradient still fails where the estimate resolves it.
#[test]
fn an_unresolvable_derivative_is_inconclusive_with_what_to_try() {
    let shifted = |x: &[ArrayD<f64>]| x[0].mapv(|v| v + 1e12);
    let right = |_x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g.clone()];
    let report = check::op("x + 1e12", &[&[3, 4]], shifted, right);
    assert_eq!(report.verdict(), Verdict::Inconclusive, "{report}");
    assert!(report.inconclusive[0].try_next.contains("scale"), "{report}");
}

/// The Taylor test rides along as a note: rate 2 for a right gradient, "exact to rounding" for
/// an affine function, and it never changes the verdict.
#[test]
fn the_taylor_test_is_a_note_beside_the_verdict() {
    let report = check::op("sin", &[&[2, 3]], sin, sin_vjp);
    assert!(report.passed(), "{report}");
    let note = report
        .notes
        .iter()
        .find(|n| n.starts_with("Taylor"))
        .expect("a Taylor note");
    assert!(note.contains("rates"), "{note}");
    let affine = |x: &[ArrayD<f64>]| x[0].mapv(|v| 3.0 * v - 1.0);
    let affine_vjp = |_x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * 3.0];
    let report = check::op("3x − 1", &[&[2, 3]], affine, affine_vjp);
    assert!(report.passed(), "{report}");
    assert!(
        report.notes.iter().any(|n| n.contains("exact to rounding")),
        "{report}"
    );
}
