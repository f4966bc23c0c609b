//! `check::op` on hard functions, both directions: every right VJP passes (or, where f64 cannot
//! resolve the derivative, is inconclusive with a reason), and no wrong VJP (1 % off, a factor
//! missing, zeros) ever passes. The functions are elementwise, `f(x) = φ(x)` with `φ′` known.

use gradverify::check;
use gradverify::compare::Verdict;
use gradverify::verify::Report;
use ndarray::ArrayD;

/// An elementwise function and its derivative.
struct Family {
    name: String,
    phi: Box<dyn Fn(f64) -> f64>,
    dphi: Box<dyn Fn(f64) -> f64>,
    /// The factor a careless backward forgets (k in sin(kx)), if any.
    factor: Option<f64>,
    /// f64 cannot resolve the derivative at standard-normal inputs: inconclusive is honest.
    may_be_inconclusive: bool,
}

fn family(name: &str, phi: impl Fn(f64) -> f64 + 'static, dphi: impl Fn(f64) -> f64 + 'static) -> Family {
    Family {
        name: name.to_owned(),
        phi: Box::new(phi),
        dphi: Box::new(dphi),
        factor: None,
        may_be_inconclusive: false,
    }
}

fn families() -> Vec<Family> {
    let mut all = Vec::new();
    for k in [1.0, 3.0, 10.0, 20.0, 30.0, 50.0, 100.0, 300.0, 1000.0] {
        let f = family(
            &format!("sin({k}x)"),
            move |x| (k * x).sin(),
            move |x| k * (k * x).cos(),
        );
        all.push(Family { factor: Some(k), ..f });
    }
    for k in [1.0, 3.0, 10.0, 30.0] {
        let f = family(
            &format!("exp({k}x)"),
            move |x| (k * x).exp(),
            move |x| k * (k * x).exp(),
        );
        all.push(Family { factor: Some(k), ..f });
    }
    all.push(family("x³", |x| x * x * x, |x| 3.0 * x * x));
    all.push(family("x³ − 3x", |x| x * x * x - 3.0 * x, |x| 3.0 * x * x - 3.0));
    all.push(family("x + 1e8", |x| x + 1e8, |_| 1.0));
    all.push(Family {
        may_be_inconclusive: true,
        ..family("x + 1e12", |x| x + 1e12, |_| 1.0)
    });
    all.push(family("1e-8·x²", |x| 1e-8 * x * x, |x| 2e-8 * x));
    all
}

fn run(f: &Family, derivative: impl Fn(f64) -> f64) -> Report {
    let phi = &f.phi;
    check::op(
        &f.name,
        &[&[3, 4]],
        |x: &[ArrayD<f64>]| x[0].mapv(phi),
        |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(&derivative)],
    )
}

#[test]
fn every_right_vjp_passes_or_is_honestly_inconclusive() {
    for f in families() {
        let report = run(&f, |x| (f.dphi)(x));
        match report.verdict() {
            Verdict::Pass => {}
            Verdict::Inconclusive if f.may_be_inconclusive => {
                assert!(!report.inconclusive[0].reason.is_empty(), "{report}");
            }
            _ => panic!("{}: the right VJP did not pass:\n{report}", f.name),
        }
    }
}

#[test]
fn no_wrong_vjp_ever_passes() {
    for f in families() {
        let off = run(&f, |x| 1.01 * (f.dphi)(x));
        assert_eq!(off.verdict(), Verdict::Fail, "{}: 1 % off passed:\n{off}", f.name);
        let zeros = run(&f, |_| 0.0);
        assert_eq!(
            zeros.verdict(),
            Verdict::Fail,
            "{}: zeros passed:\n{zeros}",
            f.name
        );
        if let Some(k) = f.factor {
            let missing = run(&f, |x| (f.dphi)(x) / k);
            let expected = if k == 1.0 { Verdict::Pass } else { Verdict::Fail };
            assert_eq!(
                missing.verdict(),
                expected,
                "{}: factor {k} missing:\n{missing}",
                f.name
            );
        }
    }
}

#[test]
fn x_plus_1e12_with_a_vjp_of_5_fails() {
    let report = check::op(
        "x + 1e12",
        &[&[3, 4]],
        |x: &[ArrayD<f64>]| x[0].mapv(|v| v + 1e12),
        |_x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * 5.0],
    );
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
}
