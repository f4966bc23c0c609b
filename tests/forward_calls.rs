//! How many forward evaluations a full check of a custom op costs: on smooth functions the first
//! look (two central quotients at a short step) certifies every element of a right gradient, so
//! a check costs 4 forwards per element (a little more where an element cancels, and 2 per case); a wrong gradient still gets the whole sequence.

use std::cell::Cell;

use gradverify::check::OpCheck;
use gradverify::compare::Verdict;
use ndarray::{ArrayD, Axis};

type Arrays = [ArrayD<f64>];
type Array = ArrayD<f64>;
type Backward = fn(&Arrays, &ArrayD<f64>) -> Vec<ArrayD<f64>>;
/// An op of the test: its name, its input's shape, its forward and its backward.
type Op = (&'static str, &'static [usize], fn(&Arrays) -> Array, Backward);

/// Softmax over the last axis of a matrix.
fn softmax(x: &Arrays) -> ArrayD<f64> {
    let mut s = x[0].clone();
    for mut row in s.axis_iter_mut(Axis(0)) {
        let top = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        row.mapv_inplace(|v| (v - top).exp());
        let total = row.sum();
        row /= total;
    }
    s
}

fn softmax_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    let s = softmax(x);
    let inner = (&s * g).sum_axis(Axis(1)).insert_axis(Axis(1));
    vec![&s * &(g - &inner)]
}

/// Log-sum-exp of each row.
fn logsumexp(x: &Arrays) -> ArrayD<f64> {
    x[0].map_axis(Axis(1), |row| {
        let top = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        top + row.mapv(|v| (v - top).exp()).sum().ln()
    })
}

fn logsumexp_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![softmax(x) * &g.clone().insert_axis(Axis(1))]
}

fn sin(x: &Arrays) -> ArrayD<f64> {
    x[0].mapv(f64::sin)
}

fn sin_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g * &x[0].mapv(f64::cos)]
}

/// The verdict and the forward evaluations per element of a full check of `cases` cases.
fn forwards_per_element(
    shape: &[usize],
    forward: fn(&Arrays) -> ArrayD<f64>,
    backward: &dyn Fn(&Arrays, &ArrayD<f64>) -> Vec<Array>,
) -> (Verdict, f64) {
    let calls = Cell::new(0_usize);
    let counted = |x: &Arrays| {
        calls.set(calls.get() + 1);
        forward(x)
    };
    let cases = 10;
    let report = OpCheck::new("op", &[shape], counted, backward).cases(cases).run();
    let elements = cases * shape.iter().product::<usize>();
    (report.verdict(), calls.get() as f64 / elements as f64)
}

#[test]
fn a_right_gradient_of_a_smooth_op_costs_four_forwards_per_element_and_a_wrong_one_more() {
    let ops: [Op; 3] = [
        ("softmax", &[16, 32], softmax, softmax_vjp),
        ("logsumexp", &[16, 32], logsumexp, logsumexp_vjp),
        ("sin", &[8, 16], sin, sin_vjp),
    ];
    for (name, shape, forward, backward) in ops {
        let (verdict, per_element) = forwards_per_element(shape, forward, &backward);
        assert_eq!(verdict, Verdict::Pass, "{name}");
        // Four per element (the few whose gradient cancels far below the terms subtracted run
        // the whole sequence), and two per case: its own forward and its output check.
        assert!(per_element <= 4.05, "{name}: {per_element} forwards per element");
        let doubled = |x: &Arrays, g: &ArrayD<f64>| vec![backward(x, g)[0].mapv(|v| 2.0 * v)];
        let (verdict, per_element) = forwards_per_element(shape, forward, &doubled);
        assert_eq!(verdict, Verdict::Fail, "{name}, doubled");
        assert!(
            per_element > 8.0,
            "{name}, doubled: {per_element} forwards per element"
        );
    }
}
