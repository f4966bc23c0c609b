//! `OpCheck`'s linearity test, VJP(αu + βv) = α·VJP(u) + β·VJP(v), in both directions: a
//! backward that squares, clips or takes the absolute value of the upstream gradient fails with
//! `upstream_nonlinear`; the catalogue's ops and right ops whose gradients cancel (softmax's
//! s ⊙ (g − ⟨s, g⟩), a difference of large terms) or that are allowed noise between calls raise
//! no false alarm.

use std::cell::Cell;

use gradverify::check::OpCheck;
use gradverify::ops::{BatchNorm, LayerNorm, Linear, Op, Tanh};
use gradverify::verify::{Diagnosis, Fault, Problem, Report, Subject};
use ndarray::{ArrayD, ArrayViewD, Axis};

type Arrays = [ArrayD<f64>];
/// What a wrong backward does to the upstream gradient, element by element.
type Upstream = fn(f64) -> f64;

fn sin(x: &Arrays) -> ArrayD<f64> {
    x[0].mapv(f64::sin)
}

/// sin's backward with the upstream gradient passed through `upstream` first.
fn sin_vjp_with(upstream: Upstream) -> impl Fn(&Arrays, &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    move |x, g| vec![g.mapv(upstream) * x[0].mapv(f64::cos)]
}

/// The linearity finding on `dL/d{input}`, which must exist.
#[track_caller]
fn nonlinear<'r>(report: &'r Report, input: &str) -> &'r gradverify::verify::Finding {
    report
        .findings
        .iter()
        .find(|f| f.problem == Problem::NonLinearInUpstream && f.what == Subject::Gradient(input.to_owned()))
        .unwrap_or_else(|| panic!("no linearity finding on {input}:\n{report}"))
}

#[track_caller]
fn no_linearity_finding(report: &Report) {
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.problem != Problem::NonLinearInUpstream
                && f.diagnosis != Some(Diagnosis::UpstreamNonlinear)),
        "{report}"
    );
}

#[test]
fn a_squared_clipped_or_absolute_upstream_fails_with_its_own_code() {
    let wrongs: [(&str, Upstream); 4] = [
        ("squared", |g| g * g),
        ("clipped to [-1, 1]", |g| g.clamp(-1.0, 1.0)),
        ("absolute", f64::abs),
        ("squared, sign kept", |g| g * g.abs()),
    ];
    for (what, upstream) in wrongs {
        let report = OpCheck::new("sin", &[&[3, 4]], sin, sin_vjp_with(upstream))
            .cases(6)
            .run();
        assert!(!report.passed(), "{what}: {report}");
        let finding = nonlinear(&report, "x0");
        assert_eq!(finding.diagnosis, Some(Diagnosis::UpstreamNonlinear), "{what}");
        assert_eq!(finding.failed, 6, "{what}: every case breaks it\n{report}");
        assert!(!finding.worst.is_empty(), "{what}");
        let text = report.to_string();
        assert!(text.contains("[upstream_nonlinear]"), "{what}: {text}");
        assert!(
            text.contains("not linear in the upstream gradient"),
            "{what}: {text}"
        );
        let explained = gradverify::verify::explain::explanation("upstream_nonlinear").expect("a code");
        assert!(explained.starts_with("upstream_nonlinear: "));
    }
}

#[test]
fn a_clip_above_the_cotangents_size_is_caught_by_linearity_alone() {
    // Clipped at 3: the case's standard normal cotangent rarely reaches it, so the finite
    // differences pass most cases; αu + βv reaches several times the cotangents' size.
    let report = OpCheck::new("sin", &[&[4, 4]], sin, sin_vjp_with(|g| g.clamp(-3.0, 3.0)))
        .cases(20)
        .run();
    assert!(!report.passed(), "{report}");
    let finding = nonlinear(&report, "x0");
    let wrong_values = report
        .findings
        .iter()
        .find(|f| f.problem == Problem::WrongValues)
        .map_or(0, |f| f.failed);
    assert!(
        finding.failed > wrong_values,
        "linearity fails {} cases, the finite differences {wrong_values}\n{report}",
        finding.failed
    );
}

#[test]
fn an_ignored_upstream_is_diagnosed_as_such_and_not_again_as_nonlinear() {
    let ignoring = |x: &Arrays, _: &ArrayD<f64>| vec![x[0].mapv(f64::cos)];
    let report = OpCheck::new("sin", &[&[3, 4]], sin, ignoring).cases(4).run();
    assert!(
        (report.findings.iter()).any(|f| f.diagnosis == Some(Diagnosis::UpstreamIgnored)),
        "{report}"
    );
    no_linearity_finding(&report);
}

#[test]
fn only_the_input_whose_gradient_is_nonlinear_is_named() {
    let forward = |x: &Arrays| &x[0] * &x[1];
    let backward = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[1], g.mapv(|v| v * v) * &x[0]];
    let report = OpCheck::new("mul", &[&[5], &[5]], forward, backward)
        .names(&["a", "b"])
        .cases(4)
        .run();
    nonlinear(&report, "b");
    assert!(
        report
            .findings
            .iter()
            .all(|f| !(f.problem == Problem::NonLinearInUpstream
                && f.what == Subject::Gradient("a".to_owned()))),
        "{report}"
    );
}

#[test]
fn a_backward_that_fails_on_the_tests_cotangents_fails_the_call() {
    let backward = |x: &Arrays, g: &ArrayD<f64>| {
        assert!(g.iter().all(|v| v.abs() < 4.0), "upstream too large");
        vec![g * &x[0].mapv(f64::cos)]
    };
    let report = OpCheck::new("sin", &[&[4, 4]], sin, backward).cases(10).run();
    assert!(!report.passed(), "{report}");
    let call = report
        .findings
        .iter()
        .find(|f| f.what == Subject::Call)
        .unwrap_or_else(|| panic!("{report}"));
    match &call.problem {
        Problem::Fault(Fault::Failed(message)) => {
            assert!(message.contains("upstream too large"), "{message}");
            assert!(message.contains("a cotangent of the linearity test"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

/// A catalogue op as closures, every input differentiated.
fn catalogue(op: &dyn Op, shapes: &[&[usize]], cases: usize) -> Report {
    let forward = move |x: &Arrays| {
        let v: Vec<ArrayViewD<'_, f64>> = x.iter().map(|a| a.view()).collect();
        op.forward(&v).expect("inputs fit")
    };
    let backward = move |x: &Arrays, g: &ArrayD<f64>| {
        let v: Vec<ArrayViewD<'_, f64>> = x.iter().map(|a| a.view()).collect();
        let wanted = vec![true; x.len()];
        let grads = op.vjp(&v, g.view(), &wanted).expect("inputs fit");
        grads.into_iter().map(|g| g.expect("wanted")).collect()
    };
    OpCheck::new(op.name(), shapes, forward, backward)
        .cases(cases)
        .run()
}

#[test]
fn the_catalogues_ops_are_linear_in_their_cotangent() {
    let layernorm = LayerNorm::default();
    let batchnorm = BatchNorm::default();
    let ops: [(&dyn Op, Vec<&[usize]>); 4] = [
        (&Linear, vec![&[3, 4], &[4, 2], &[2]]),
        (&Tanh, vec![&[3, 5]]),
        (&layernorm, vec![&[4, 6], &[6], &[6]]),
        (&batchnorm, vec![&[5, 3], &[3], &[3]]),
    ];
    for (op, shapes) in ops {
        let report = catalogue(op, &shapes, 8);
        no_linearity_finding(&report);
        report.assert_correct();
    }
}

/// Softmax along the last axis: its backward s ⊙ (g − ⟨s, g⟩) cancels in every element.
fn softmax(x: &Arrays) -> ArrayD<f64> {
    let z = &x[0];
    let max = z.fold_axis(Axis(1), f64::NEG_INFINITY, |m, v| m.max(*v));
    let e = (z - &max.insert_axis(Axis(1))).mapv(f64::exp);
    let sum = e.sum_axis(Axis(1)).insert_axis(Axis(1));
    e / sum
}

fn softmax_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    let s = softmax(x);
    let dot = (&s * g).sum_axis(Axis(1)).insert_axis(Axis(1));
    vec![&s * &(g - &dot)]
}

#[test]
fn right_ops_whose_gradients_cancel_raise_no_false_alarm() {
    let report = OpCheck::new("softmax", &[&[4, 8]], softmax, softmax_vjp)
        .cases(10)
        .run();
    no_linearity_finding(&report);
    report.assert_correct();

    // x²/2 with its derivative computed as a difference of terms 1e6 larger: each gradient
    // element is rounded to about 1e-10 of itself, differently for each cotangent.
    let half_square = |x: &Arrays| x[0].mapv(|v| 0.5 * v * v);
    let cancelling = |x: &Arrays, g: &ArrayD<f64>| vec![g * &(&x[0] + 1e6) - g * 1e6];
    let report = OpCheck::new("half_square", &[&[6]], half_square, cancelling)
        .cases(10)
        .run();
    no_linearity_finding(&report);
    report.assert_correct();
}

#[test]
fn noise_within_nondet_tol_and_a_stateful_backward_are_not_called_nonlinear() {
    // Noise of 1e-9 of the gradient's scale, allowed by nondet_tol(1e-8).
    let calls = Cell::new(0_u32);
    let noisy = |x: &Arrays, g: &ArrayD<f64>| {
        calls.set(calls.get().wrapping_mul(1_103_515_245).wrapping_add(12_345));
        let wobble = 1.0 + 1e-9 * (f64::from(calls.get() % 1000) / 1000.0 - 0.5);
        vec![g * &x[0].mapv(f64::cos) * wobble]
    };
    let report = OpCheck::new("sin", &[&[3, 4]], sin, noisy)
        .nondet_tol(1e-8)
        .cases(8)
        .run();
    no_linearity_finding(&report);
    report.assert_correct();

    // An accumulator never reset: nondeterministic, and its drift is no linearity evidence.
    let total = std::cell::RefCell::new(ArrayD::<f64>::zeros(ndarray::IxDyn(&[3])));
    let accumulating = |x: &Arrays, g: &ArrayD<f64>| {
        let mut total = total.borrow_mut();
        *total += &(g * &x[0].mapv(f64::cos));
        vec![total.clone()]
    };
    let report = OpCheck::new("sin", &[&[3]], sin, accumulating).cases(4).run();
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.problem == Problem::NonDeterministic),
        "{report}"
    );
    no_linearity_finding(&report);
}
