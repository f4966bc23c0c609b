//! `OpCheck::second_order`, gradgradcheck for any op: the backward's own derivative along a
//! direction, `d/dt VJP(x + t·d, v)`, against finite differences of the backward. A right
//! second-order product passes and a wrong one fails for functions that are hard for finite
//! differences: badly scaled (exp(10x)), with large higher derivatives (sin(50x)), near a domain
//! bound (ln and sqrt near 0); and for softplus, whose σ(1 − σ) is easily written σ.

use gradverify::check::{Domain, OpCheck};
use gradverify::verify::{Fault, Problem, Report, Subject};
use ndarray::{ArrayD, IxDyn};

type Arrays = [ArrayD<f64>];
/// f, f′ and f″ of an elementwise function.
type Scalar = fn(f64) -> f64;

/// The elementwise op f with backward `v f′(x)`, and the check of `second(x)` as its second
/// derivative (the product `v f″(x) d`).
fn elementwise<'a>(name: &str, shape: &[usize], f: Scalar, df: Scalar, second: Scalar) -> OpCheck<'a> {
    let forward = move |x: &Arrays| x[0].mapv(f);
    let backward = move |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(df)];
    let product = move |x: &Arrays, v: &Arrays, d: &Arrays| vec![&v[0] * &x[0].mapv(second) * &d[0]];
    OpCheck::new(name, &[shape], forward, backward).second_order(product)
}

const SECOND: &str = "dL/dx0 (second order)";

/// The right one passes with the second order certified; the wrong one fails on the second
/// order only (its first order is right).
#[track_caller]
fn right_passes_and_wrong_fails(right: Report, wrong: Report) {
    right.assert_correct();
    assert!(
        right
            .notes
            .iter()
            .any(|n| n.starts_with(SECOND) && !n.starts_with(&format!("{SECOND}: 0 of"))),
        "{right}"
    );
    assert!(!wrong.passed(), "{wrong}");
    let finding = wrong
        .findings
        .iter()
        .find(|f| f.what == SECOND)
        .unwrap_or_else(|| panic!("{wrong}"));
    assert_eq!(finding.problem, Problem::WrongValues, "{wrong}");
    assert_eq!(finding.failed, wrong.cases, "every case fails\n{wrong}");
    assert!(
        wrong.findings.iter().all(|f| f.what != "dL/dx0"),
        "the first order is right\n{wrong}"
    );
}

fn sigma(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

#[test]
fn softplus_without_its_second_derivative_term_fails() {
    let softplus = |x: f64| x.exp().ln_1p();
    let right = elementwise("softplus", &[3, 4], softplus, sigma, |x| {
        sigma(x) * (1.0 - sigma(x))
    });
    // σ where σ′ = σ(1 − σ) belongs: the derivative of the backward's factor forgotten.
    let wrong = elementwise("softplus", &[3, 4], softplus, sigma, sigma);
    right_passes_and_wrong_fails(right.cases(20).run(), wrong.cases(20).run());
}

#[test]
fn badly_scaled_exp_10x_is_judged_at_its_own_scale() {
    let f = |x: f64| (10.0 * x).exp();
    let df = |x: f64| 10.0 * (10.0 * x).exp();
    let right = elementwise("exp10", &[3, 4], f, df, |x| 100.0 * (10.0 * x).exp());
    // The inner factor 10 taken once, not twice.
    let wrong = elementwise("exp10", &[3, 4], f, df, df);
    right_passes_and_wrong_fails(right.cases(20).run(), wrong.cases(20).run());
}

#[test]
fn sin_50x_with_its_large_higher_derivatives_is_judged() {
    let f = |x: f64| (50.0 * x).sin();
    let df = |x: f64| 50.0 * (50.0 * x).cos();
    let right = elementwise("sin50", &[3, 4], f, df, |x| -2500.0 * (50.0 * x).sin());
    let wrong = elementwise("sin50", &[3, 4], f, df, |x| -50.0 * (50.0 * x).sin());
    right_passes_and_wrong_fails(right.cases(20).run(), wrong.cases(20).run());
}

/// Points at 1e-6 to 1 of the bound of x > 0, in one array: the steps stay inside.
fn near_zero() -> Vec<Vec<ArrayD<f64>>> {
    let values = [1e-6, 3e-5, 1e-3, 0.02, 0.5, 1.0];
    (0..4)
        .map(|shift| {
            let mut v = values.to_vec();
            v.rotate_left(shift);
            vec![ArrayD::from_shape_vec(IxDyn(&[6]), v).unwrap()]
        })
        .collect()
}

#[test]
fn ln_and_sqrt_next_to_their_bound_are_judged() {
    let right = elementwise("ln", &[6], f64::ln, |x| 1.0 / x, |x| -1.0 / (x * x)).domain(0, Domain::Positive);
    let wrong = elementwise("ln", &[6], f64::ln, |x| 1.0 / x, |x| -1.0 / x).domain(0, Domain::Positive);
    right_passes_and_wrong_fails(right.points(near_zero()).run(), wrong.points(near_zero()).run());

    let df = |x: f64| 0.5 / x.sqrt();
    let right =
        elementwise("sqrt", &[6], f64::sqrt, df, |x| -0.25 / (x * x.sqrt())).domain(0, Domain::Positive);
    let wrong =
        elementwise("sqrt", &[6], f64::sqrt, df, |x| -0.5 / (x * x.sqrt())).domain(0, Domain::Positive);
    right_passes_and_wrong_fails(right.points(near_zero()).run(), wrong.points(near_zero()).run());
    // And drawn at random (log-normal, some draws near 0.01).
    let right =
        elementwise("sqrt", &[3, 4], f64::sqrt, df, |x| -0.25 / (x * x.sqrt())).domain(0, Domain::Positive);
    right.cases(20).run().assert_correct();
}

#[test]
fn a_product_with_cross_terms_needs_both_of_them() {
    let forward = |x: &Arrays| &x[0] * &x[1];
    let backward = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[1], v * &x[0]];
    // d/dt of (v·b, v·a) along (da, db) is (v·db, v·da).
    let right = |_: &Arrays, v: &Arrays, d: &Arrays| vec![&v[0] * &d[1], &v[0] * &d[0]];
    let report = OpCheck::new("mul", &[&[4], &[4]], forward, backward)
        .second_order(right)
        .cases(10)
        .run();
    report.assert_correct();
    let missing = |x: &Arrays, _: &Arrays, _: &Arrays| {
        vec![ArrayD::zeros(x[0].raw_dim()), ArrayD::zeros(x[1].raw_dim())]
    };
    let report = OpCheck::new("mul", &[&[4], &[4]], forward, backward)
        .second_order(missing)
        .cases(10)
        .run();
    assert!(!report.passed(), "{report}");
    for name in [SECOND, "dL/dx1 (second order)"] {
        assert!(report.findings.iter().any(|f| f.what == name), "{name}\n{report}");
    }
    // A no_grad input has no second order compared, and its direction is zero.
    let only_a = |_: &Arrays, v: &Arrays, d: &Arrays| {
        assert!(d[1].iter().all(|&x| x == 0.0), "no_grad's direction is zero");
        vec![&v[0] * &d[1], ArrayD::zeros(d[1].raw_dim())]
    };
    let report = OpCheck::new("mul", &[&[4], &[4]], forward, backward)
        .no_grad(1)
        .second_order(only_a)
        .cases(5)
        .run();
    assert!(
        report.findings.iter().all(|f| f.what != "dL/dx1 (second order)"),
        "{report}"
    );
    // d/dt (v·b) along (da, 0) is exactly 0, and the backwards along d say so exactly.
    report.assert_correct();
}

#[test]
fn a_product_of_the_wrong_arity_or_shape_or_that_fails_is_said_so() {
    let forward = |x: &Arrays| x[0].mapv(f64::sin);
    let backward = |x: &Arrays, v: &ArrayD<f64>| vec![v * &x[0].mapv(f64::cos)];
    let none = |_: &Arrays, _: &Arrays, _: &Arrays| Vec::new();
    let report = OpCheck::new("sin", &[&[3]], forward, backward)
        .second_order(none)
        .cases(2)
        .run();
    let finding = report
        .findings
        .iter()
        .find(|f| f.what == SECOND)
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        finding.problem,
        Problem::Fault(Fault::Failed(
            "the second-order product returned 0 arrays for 1 inputs".to_owned()
        ))
    );

    let flat = |_: &Arrays, _: &Arrays, _: &Arrays| vec![ArrayD::zeros(IxDyn(&[1, 3]))];
    let report = OpCheck::new("sin", &[&[3]], forward, backward)
        .second_order(flat)
        .cases(2)
        .run();
    let finding = report
        .findings
        .iter()
        .find(|f| f.what == SECOND)
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        finding.problem,
        Problem::WrongShape {
            got: vec![1, 3],
            expected: vec![3]
        }
    );

    let unwritten = |_: &Arrays, _: &Arrays, _: &Arrays| Err(Fault::Failed("not written".to_owned()));
    let report = OpCheck::new("sin", &[&[3]], forward, backward)
        .try_second_order(unwritten)
        .cases(2)
        .run();
    let finding = report
        .findings
        .iter()
        .find(|f| f.what == SECOND)
        .unwrap_or_else(|| panic!("{report}"));
    assert_eq!(
        finding.problem,
        Problem::Fault(Fault::Failed(
            "the second-order product failed: not written".to_owned()
        ))
    );
    // The first order stands: only the second order is at fault.
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.what != Subject::Call && f.what != "dL/dx0"),
        "{report}"
    );
}
