//! A library author's own op, through `check::op`: a wrong derivative, a wrong number of
//! gradients, a panicking forward and shapes with nothing to check.

use gradverify::check;
use gradverify::verify::{Diagnosis, Fault, Problem, Subject};

use super::{assert_diagnosed, failed, finding, has_problem};

fn sin_forward(x: &[ndarray::ArrayD<f64>]) -> ndarray::ArrayD<f64> {
    x[0].mapv(f64::sin)
}

#[test]
fn a_custom_op_with_the_right_derivative_passes_and_with_a_wrong_one_fails() {
    let right = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
    check::op("sin", &[&[2, 3]], sin_forward, right).assert_correct();
    let negated = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![-(g * &x[0].mapv(f64::cos))];
    assert_diagnosed(
        &check::op("sin", &[&[2, 3]], sin_forward, negated),
        "x0",
        Diagnosis::SignFlipped,
    );
    let ignores_upstream = |x: &[ndarray::ArrayD<f64>], _g: &ndarray::ArrayD<f64>| vec![x[0].mapv(f64::cos)];
    let report = check::op("sin", &[&[2, 3]], sin_forward, ignores_upstream);
    assert!(has_problem(&report, &Problem::NonZeroForZeroUpstream), "{report}");
}

#[test]
fn a_custom_op_returning_the_wrong_number_of_gradients_or_panicking_fails_with_a_message() {
    let two_inputs = |x: &[ndarray::ArrayD<f64>]| &x[0] * &x[1];
    let one_gradient = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[1]];
    let report = check::op("product", &[&[3], &[3]], two_inputs, one_gradient);
    let call = finding(&report, &Subject::Call);
    assert_eq!(
        call.problem,
        failed("the backward returned 1 gradients for 2 inputs")
    );

    let panicking =
        |_x: &[ndarray::ArrayD<f64>]| -> ndarray::ArrayD<f64> { panic!("shape mismatch in forward") };
    let any = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0]];
    let report = check::op("broken", &[&[2]], panicking, any);
    assert_eq!(
        finding(&report, &Subject::Call).problem,
        failed("the forward panicked: shape mismatch in forward")
    );
}

#[test]
fn a_custom_op_with_no_usable_shape_says_so() {
    let any = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0]];
    let report = check::op("empty", &[&[0, 3]], sin_forward, any);
    let found = finding(&report, &Subject::Shapes);
    assert!(
        matches!(&found.problem, Problem::Fault(Fault::Failed(message)) if message.contains("[[0, 3]]") && message.contains("at least 1")),
        "{report}"
    );
}
