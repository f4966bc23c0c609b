//! `OpCheck::reference`: an instructor's solution as the oracle. Right answers pass, rounding
//! differences included; a wrong gradient, a wrong forward with a backward true to it, and a
//! right backward of a wrong forward each fail on what is wrong.

use gradverify::check::OpCheck;
use gradverify::compare::Verdict;
use gradverify::verify::{Fault, Report, Subject};
use ndarray::{ArrayD, Axis};

type Arrays = [ArrayD<f64>];
type Answered = Result<Vec<ArrayD<f64>>, Fault>;
type Implementation = (fn(&Arrays) -> Answered, fn(&Arrays, &Arrays) -> Answered);

fn softplus(x: &Arrays) -> Answered {
    Ok(vec![x[0].mapv(|v| v.exp().ln_1p())])
}

fn logistic(v: f64) -> f64 {
    1.0 / (1.0 + (-v).exp())
}

fn softplus_vjp(x: &Arrays, g: &Arrays) -> Answered {
    Ok(vec![&g[0] * &x[0].mapv(logistic)])
}

/// The same derivative by another formula: `eˣ / (1 + eˣ)`, equal to rounding.
fn softplus_vjp_other_order(x: &Arrays, g: &Arrays) -> Answered {
    Ok(vec![x[0].mapv(|v| v.exp() / (1.0 + v.exp())) * &g[0]])
}

fn checked(
    forward: fn(&Arrays) -> Answered,
    backward: fn(&Arrays, &Arrays) -> Answered,
    reference: Implementation,
) -> Report {
    OpCheck::try_multi("softplus", &[&[4, 6]], forward, backward)
        .reference(reference.0, reference.1)
        .run()
}

/// The names of the wrong arrays in the findings.
fn wrong(report: &Report) -> Vec<String> {
    let name = |what: &Subject| match what {
        Subject::Gradient(name) => name.clone(),
        other => format!("{other:?}"),
    };
    report.findings.iter().map(|f| name(&f.what)).collect()
}

#[test]
fn a_right_answer_passes_against_the_reference_even_computed_another_way() {
    let report = checked(softplus, softplus_vjp_other_order, (softplus, softplus_vjp));
    assert_eq!(report.verdict(), Verdict::Pass, "{report}");
    let report = checked(softplus, softplus_vjp, (softplus, softplus_vjp));
    assert_eq!(report.verdict(), Verdict::Pass, "{report}");
}

#[test]
fn a_wrong_gradient_fails_on_its_input_and_the_sign_is_diagnosed() {
    let negated = |x: &Arrays, g: &Arrays| softplus_vjp(x, g).map(|v| vec![-&v[0]]);
    let report = OpCheck::try_multi("softplus", &[&[4, 6]], softplus, negated)
        .reference(softplus, softplus_vjp)
        .run();
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    assert_eq!(wrong(&report), ["x0"], "{report}");
    assert!(report.to_string().contains("sign"), "{report}");
}

/// softplus(2x), with its own derivative: consistent, so finite differences pass it.
fn softplus_twice(x: &Arrays) -> Answered {
    Ok(vec![x[0].mapv(|v| (2.0 * v).exp().ln_1p())])
}

fn softplus_twice_vjp(x: &Arrays, g: &Arrays) -> Answered {
    Ok(vec![&g[0] * &x[0].mapv(|v| 2.0 * logistic(2.0 * v))])
}

#[test]
fn a_wrong_op_true_to_itself_passes_alone_and_fails_against_the_reference() {
    let alone = OpCheck::try_multi("softplus", &[&[4, 6]], softplus_twice, softplus_twice_vjp).run();
    assert_eq!(alone.verdict(), Verdict::Pass, "{alone}");
    let report = checked(softplus_twice, softplus_twice_vjp, (softplus, softplus_vjp));
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    assert_eq!(wrong(&report), ["x0", "forward y"], "{report}");
}

#[test]
fn a_right_backward_of_a_wrong_forward_fails_on_the_forward_alone() {
    let report = checked(softplus_twice, softplus_vjp, (softplus, softplus_vjp));
    assert_eq!(report.verdict(), Verdict::Fail, "{report}");
    assert_eq!(wrong(&report), ["forward y"], "{report}");
}

/// Softmax cross-entropy's gradient `s − y`, which cancels to near zero where the prediction is
/// right: two orders of the sum differ there by rounding, and that is no failure.
fn xent(x: &Arrays) -> Answered {
    let (z, y) = (&x[0], &x[1]);
    let loss = z
        .axis_iter(Axis(0))
        .zip(y.axis_iter(Axis(0)))
        .map(|(row, label)| {
            let top = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
            let lse = top + row.mapv(|v| (v - top).exp()).sum().ln();
            (&label * &row.mapv(|v| lse - v)).sum()
        })
        .sum::<f64>();
    Ok(vec![ArrayD::from_elem(vec![], loss)])
}

/// With `by_lse`, `s = exp(z − lse)` instead of `exp(z − max) / Σ`.
fn xent_vjp(x: &Arrays, g: &Arrays, by_lse: bool) -> Answered {
    let (z, y) = (&x[0], &x[1]);
    let mut s = z.clone();
    for mut row in s.axis_iter_mut(Axis(0)) {
        let top = row.fold(f64::NEG_INFINITY, |m, v| m.max(*v));
        if by_lse {
            let lse = top + row.mapv(|v| (v - top).exp()).sum().ln();
            row.mapv_inplace(|v| (v - lse).exp());
        } else {
            row.mapv_inplace(|v| (v - top).exp());
            let total = row.sum();
            row /= total;
        }
    }
    let scale = g[0].first().copied().unwrap_or(0.0);
    Ok(vec![(s - y) * scale, ArrayD::zeros(y.raw_dim())])
}

#[test]
fn rounding_where_the_gradient_cancels_is_excused_not_failed() {
    // Even rows confident (one logit far above the others, the label on it: s − y cancels to
    // 1e-13, its rounding 1e-16), odd rows not (gradients of order 0.1).
    let mut z = ArrayD::zeros(vec![8, 5]);
    let mut y = ArrayD::zeros(vec![8, 5]);
    for i in 0..8 {
        y[[i, i % 5]] = 1.0;
        if i % 2 == 0 {
            z[[i, i % 5]] = 30.0 + i as f64;
        }
        z[[i, (i + 1) % 5]] = 0.1 * i as f64;
    }
    let report = OpCheck::try_multi("xent", &[&[8, 5], &[8, 5]], xent, |x, g| xent_vjp(x, g, true))
        .no_grad(1)
        .points(vec![vec![z, y]])
        .reference(xent, |x, g| xent_vjp(x, g, false))
        .run();
    assert_eq!(report.verdict(), Verdict::Pass, "{report}");
}
