//! `OpCheck`, gradcheck's options for any op, in both directions: each option lets a right
//! implementation pass where the defaults cannot judge it, and never lets a wrong one through.

use std::cell::Cell;

use gradverify::check::{self, Domain, OpCheck};
use gradverify::compare::Verdict;
use gradverify::verify::{Config, Diagnosis, Fault, Finding, Problem, Report};
use ndarray::{ArrayD, Axis, IxDyn, arr2};

type Arrays = [ArrayD<f64>];

fn array(shape: &[usize], values: &[f64]) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), values.to_vec()).unwrap()
}

#[track_caller]
fn assert_verdict(report: &Report, verdict: Verdict) {
    assert_eq!(report.verdict(), verdict, "{report}");
}

/// The finding on `what`, which must exist.
#[track_caller]
fn finding<'r>(report: &'r Report, what: &str) -> &'r Finding {
    report
        .findings
        .iter()
        .find(|f| f.what == what)
        .unwrap_or_else(|| panic!("no finding on {what}:\n{report}"))
}

/// The message of the finding on the shapes or options.
#[track_caller]
fn misuse(report: &Report) -> String {
    match &finding(report, "the shapes").problem {
        Problem::Fault(Fault::Failed(message)) => message.clone(),
        other => panic!("{other:?}"),
    }
}

fn log10(x: &Arrays) -> ArrayD<f64> {
    x[0].mapv(f64::log10)
}

fn log10_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g / &(&x[0] * std::f64::consts::LN_10)]
}

/// The derivative of ln for log10's: off by the factor ln 10.
fn ln_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g / &x[0]]
}

fn sqrt(x: &Arrays) -> ArrayD<f64> {
    x[0].mapv(f64::sqrt)
}

fn sqrt_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g * &x[0].mapv(|v| 0.5 / v.sqrt())]
}

#[test]
fn log10_and_sqrt_on_a_domain_pass_and_ln_for_log10_fails() {
    // At standard-normal inputs neither can be judged: NaN for negative inputs.
    assert_verdict(
        &check::op("log10", &[&[3, 4]], log10, log10_vjp),
        Verdict::Inconclusive,
    );
    let on = |domain, backward: fn(&Arrays, &ArrayD<f64>) -> Vec<ArrayD<f64>>| {
        OpCheck::new("log10", &[&[3, 4]], log10, backward)
            .domain(0, domain)
            .run()
    };
    for domain in [
        Domain::Interval(0.1, 10.0),
        Domain::Positive,
        Domain::Interval(1e-6, 1e-3),
    ] {
        assert_verdict(&on(domain, log10_vjp), Verdict::Pass);
        assert_verdict(&on(domain, ln_vjp), Verdict::Fail);
    }
    let sqrt_check = OpCheck::new("sqrt", &[&[3, 4]], sqrt, sqrt_vjp)
        .domain(0, Domain::Positive)
        .run();
    assert_verdict(&sqrt_check, Verdict::Pass);
}

#[test]
fn the_taylor_test_never_steps_outside_the_domain() {
    // A forward that refuses inputs outside (1e-6, 1e-3): every call the check makes, the Taylor
    // test's included, stays inside, so none panics and the Taylor note is there.
    let strict = |x: &Arrays| {
        assert!(
            x[0].iter().all(|v| (1e-6..=1e-3).contains(v)),
            "called outside the domain"
        );
        log10(x)
    };
    let report = OpCheck::new("log10", &[&[3, 4]], strict, log10_vjp)
        .domain(0, Domain::Interval(1e-6, 1e-3))
        .run();
    assert_verdict(&report, Verdict::Pass);
    assert!(report.notes.iter().any(|n| n.starts_with("Taylor")), "{report}");
}

#[test]
fn log10_and_sqrt_at_chosen_points_pass_even_next_to_the_bound() {
    // 1e-9 from the bound of sqrt's domain: the steps shrink to stay inside.
    let points = vec![
        vec![array(&[2, 2], &[1e-9, 0.5, 2.0, 100.0])],
        vec![array(&[2, 2], &[3.0, 1e-3, 7.0, 0.25])],
    ];
    let at = |forward: fn(&Arrays) -> ArrayD<f64>,
              backward: fn(&Arrays, &ArrayD<f64>) -> Vec<ArrayD<f64>>| {
        OpCheck::new("at points", &[&[2, 2]], forward, backward)
            .domain(0, Domain::Positive)
            .points(points.clone())
            .run()
    };
    let report = at(sqrt, sqrt_vjp);
    assert_verdict(&report, Verdict::Pass);
    assert_eq!(report.cases, 2);
    assert!(
        report.notes.iter().any(|n| n.starts_with("dL/dx0: 8 of 8")),
        "{report}"
    );
    assert!(
        report
            .to_string()
            .starts_with("at points (your forward and backward): pass, 2 given points"),
        "the cases are the points given, not random ones: {report}"
    );
    assert_verdict(&at(log10, log10_vjp), Verdict::Pass);
    let wrong = at(log10, ln_vjp);
    assert_verdict(&wrong, Verdict::Fail);
    assert!(
        wrong.to_string().contains("FAIL, 1 problem in 2 given points"),
        "{wrong}"
    );
}

#[test]
fn a_point_on_the_bound_is_not_comparable_and_one_outside_is_refused() {
    let square = |x: &Arrays| x[0].mapv(|v| v * v);
    let square_vjp = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0] * 2.0];
    let on_bound = OpCheck::new("x²", &[&[2]], square, square_vjp)
        .domain(0, Domain::Positive)
        .points(vec![vec![array(&[2], &[0.0, 4.0])]])
        .run();
    assert_verdict(&on_bound, Verdict::Pass);
    assert!(
        on_bound
            .notes
            .iter()
            .any(|n| n.contains("1 of 2") && n.contains("1 not comparable")),
        "{on_bound}"
    );
    let outside = OpCheck::new("sqrt", &[&[2]], sqrt, sqrt_vjp)
        .domain(0, Domain::Positive)
        .points(vec![vec![array(&[2], &[4.0, -1.0])]])
        .run();
    let message = misuse(&outside);
    assert!(
        message.contains("x0[1] is -1") && message.contains("x > 0"),
        "{message}"
    );
}

#[test]
fn jitter_fails_by_default_and_passes_with_nondet_tol() {
    // A reduction whose last bits depend on the call (as a parallel sum's do).
    let forward = |x: &Arrays| x[0].sum_axis(Axis(1)).mapv(|v| v * v);
    let calls = Cell::new(0_u32);
    let backward = |x: &Arrays, g: &ArrayD<f64>| {
        calls.set(calls.get() + 1);
        let jitter = 1.0 + 1e-11 * f64::from(calls.get() % 2);
        let per_row = (g * &x[0].sum_axis(Axis(1)) * 2.0 * jitter).insert_axis(Axis(1));
        vec![per_row.broadcast(x[0].raw_dim()).unwrap().to_owned()]
    };
    let strict = OpCheck::new("jittery sum", &[&[3, 4]], forward, backward).run();
    assert_verdict(&strict, Verdict::Fail);
    assert_eq!(finding(&strict, "dL/dx0").problem, Problem::NonDeterministic);
    let allowed = OpCheck::new("jittery sum", &[&[3, 4]], forward, backward)
        .nondet_tol(1e-9)
        .run();
    assert_verdict(&allowed, Verdict::Pass);
    // Relative to the gradient's scale: 1e-12 of it does not cover a 1e-11 jitter.
    let tight = OpCheck::new("jittery sum", &[&[3, 4]], forward, backward)
        .nondet_tol(1e-12)
        .run();
    assert_verdict(&tight, Verdict::Fail);
    assert_eq!(finding(&tight, "dL/dx0").problem, Problem::NonDeterministic);
}

fn sin(x: &Arrays) -> ArrayD<f64> {
    x[0].mapv(f64::sin)
}

#[test]
fn rtol_separates_a_vjp_1e_4_off_and_atol_only_excuses_it() {
    let off = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| v.cos() * (1.0 + 1e-4))];
    let default = OpCheck::new("sin", &[&[3, 4]], sin, off).run();
    assert_verdict(&default, Verdict::Fail);
    assert_verdict(
        &OpCheck::new("sin", &[&[3, 4]], sin, off).rtol(1e-5).run(),
        Verdict::Fail,
    );
    assert_verdict(
        &OpCheck::new("sin", &[&[3, 4]], sin, off).rtol(1e-3).run(),
        Verdict::Pass,
    );
    // An atol as large as every element excuses them all and certifies none (gradcheck's
    // combined rule would pass it).
    let excused = OpCheck::new("sin", &[&[3, 4]], sin, off).atol(10.0).run();
    assert_verdict(&excused, Verdict::Inconclusive);
    assert!(excused.inconclusive[0].reason.contains("excused"), "{excused}");
}

#[test]
fn a_mask_input_is_not_differentiated_with_no_grad() {
    let forward = |x: &Arrays| &x[0] * &x[1].mapv(|m| if m > 0.0 { 1.0 } else { 0.0 });
    // The mask's own "gradient" is whatever the backward likes: here the mask itself.
    let backward = |x: &Arrays, g: &ArrayD<f64>| {
        let mask = x[1].mapv(|m| if m > 0.0 { 1.0 } else { 0.0 });
        vec![g * &mask, mask]
    };
    let masked = OpCheck::new("masked", &[&[3, 4], &[3, 4]], forward, backward)
        .no_grad(1)
        .run();
    assert_verdict(&masked, Verdict::Pass);
    assert!(
        masked.notes.iter().any(|n| n == "dL/dx1: not compared (no_grad)"),
        "{masked}"
    );
    let differentiated = OpCheck::new("masked", &[&[3, 4], &[3, 4]], forward, backward).run();
    assert_verdict(&differentiated, Verdict::Fail);
    finding(&differentiated, "dL/dx1");
    // A wrong gradient of the other input is still caught.
    let wrong = |x: &Arrays, g: &ArrayD<f64>| vec![g.clone(), x[1].clone()];
    let report = OpCheck::new("masked", &[&[3, 4], &[3, 4]], forward, wrong)
        .no_grad(1)
        .run();
    assert_verdict(&report, Verdict::Fail);
}

fn product(x: &Arrays) -> ArrayD<f64> {
    &x[0] * &x[1]
}

fn product_vjp(x: &Arrays, g: &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    vec![g * &x[1], g * &x[0]]
}

#[test]
fn a_right_jvp_for_x_times_y_passes_and_a_wrong_one_fails() {
    let right = |x: &Arrays, u: &Arrays| &(&u[0] * &x[1]) + &(&x[0] * &u[1]);
    let report = OpCheck::new("x·y", &[&[3, 4], &[3, 4]], product, product_vjp)
        .jvp(right)
        .run();
    assert_verdict(&report, Verdict::Pass);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("jvp (J u, forward mode): 480 of 480")),
        "{report}"
    );
    let forgets_y = |x: &Arrays, u: &Arrays| &u[0] * &x[1];
    let wrong = OpCheck::new("x·y", &[&[3, 4], &[3, 4]], product, product_vjp)
        .jvp(forgets_y)
        .run();
    assert_verdict(&wrong, Verdict::Fail);
    assert_eq!(finding(&wrong, "dL/djvp").problem, Problem::WrongValues);
    let dot = wrong
        .findings
        .iter()
        .find(|f| matches!(&f.problem, Problem::Fault(Fault::Failed(m)) if m.contains("dot-product test")))
        .unwrap_or_else(|| panic!("no dot-product finding:\n{wrong}"));
    assert_eq!(dot.failed, 40);
}

#[test]
fn the_dot_product_test_catches_a_wrong_vjp_beside_a_right_jvp() {
    let right = |x: &Arrays, u: &Arrays| &(&u[0] * &x[1]) + &(&x[0] * &u[1]);
    let doubled = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[1] * 2.0, g * &x[0]];
    let report = OpCheck::new("x·y", &[&[3], &[3]], product, doubled)
        .jvp(right)
        .run();
    assert_verdict(&report, Verdict::Fail);
    assert!(
        report.findings.iter().all(|f| f.what != "dL/djvp"),
        "the JVP is right:\n{report}"
    );
    assert!(
        report
            .findings
            .iter()
            .any(|f| matches!(&f.problem, Problem::Fault(Fault::Failed(m)) if m.contains("dot-product"))),
        "{report}"
    );
}

fn sin_cos(x: &Arrays) -> Vec<ArrayD<f64>> {
    vec![x[0].mapv(f64::sin), x[0].mapv(f64::cos)]
}

#[test]
fn sin_and_cos_as_two_outputs_pass_and_a_sign_slip_is_caught() {
    let right =
        |x: &Arrays, v: &Arrays| vec![&(&v[0] * &x[0].mapv(f64::cos)) - &(&v[1] * &x[0].mapv(f64::sin))];
    let slip =
        |x: &Arrays, v: &Arrays| vec![&(&v[0] * &x[0].mapv(f64::cos)) + &(&v[1] * &x[0].mapv(f64::sin))];
    let jvp = |x: &Arrays, u: &Arrays| vec![&u[0] * &x[0].mapv(f64::cos), -(&u[0] * &x[0].mapv(f64::sin))];
    let report = OpCheck::multi("(sin, cos)", &[&[3, 4]], sin_cos, right)
        .jvp(jvp)
        .run();
    assert_verdict(&report, Verdict::Pass);
    assert!(report.notes.iter().any(|n| n.starts_with("jvp_y1")), "{report}");
    let wrong = OpCheck::multi("(sin, cos)", &[&[3, 4]], sin_cos, slip).run();
    assert_verdict(&wrong, Verdict::Fail);
    assert_eq!(finding(&wrong, "dL/dx0").problem, Problem::WrongValues);
    // A JVP with one output tangent for two outputs.
    let fewer = OpCheck::multi("(sin, cos)", &[&[3, 4]], sin_cos, right)
        .jvp(|x: &Arrays, u: &Arrays| vec![&u[0] * &x[0].mapv(f64::cos)])
        .run();
    assert!(
        matches!(&finding(&fewer, "the call").problem, Problem::Fault(Fault::Failed(m)) if m.contains("1 output tangents for 2 outputs")),
        "{fewer}"
    );
}

#[test]
fn fast_mode_passes_the_right_vjp_and_catches_one_badly_wrong_element() {
    let right = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
    let report = OpCheck::new("sin", &[&[3, 4]], sin, right).fast().run();
    assert_verdict(&report, Verdict::Pass);
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("dL/dx0: 40 of 40 projections certified")),
        "{report}"
    );
    let one_wrong = |x: &Arrays, g: &ArrayD<f64>| {
        let mut grad = g * &x[0].mapv(f64::cos);
        grad[[1, 2]] += 10.0 * g[[1, 2]].abs().max(0.1);
        vec![grad]
    };
    let wrong = OpCheck::new("sin", &[&[3, 4]], sin, one_wrong).fast().run();
    assert_verdict(&wrong, Verdict::Fail);
    assert_eq!(
        finding(&wrong, "dL/dx0").failed,
        40,
        "every projection sees it:\n{wrong}"
    );
}

#[test]
fn a_custom_ops_bug_is_shrunk_along_its_batch_axis_and_diagnosed() {
    // f(x, y) = x·y² row by row; the backward returns the gradients swapped.
    let forward = |x: &Arrays| &x[0] * &x[1].mapv(|v| v * v);
    let swapped = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0] * &x[1] * 2.0, g * &x[1].mapv(|v| v * v)];
    let report = OpCheck::new("x·y²", &[&[6, 3], &[6, 3]], forward, swapped)
        .shrinkable(0, 0)
        .shrinkable(1, 0)
        .run();
    let x0 = finding(&report, "dL/dx0");
    assert_eq!(x0.smallest_shape, "[1, 3], [1, 3]", "{report}");
    assert_eq!(
        x0.diagnosis,
        Some(Diagnosis::SwappedWith("x1".to_owned())),
        "{report}"
    );
    assert_eq!(
        finding(&report, "dL/dx1").diagnosis,
        Some(Diagnosis::SwappedWith("x0".to_owned()))
    );
    // A sign slip, shrunk and named.
    let negated = |x: &Arrays, g: &ArrayD<f64>| vec![-(g * &x[0].mapv(f64::cos))];
    let report = OpCheck::new("sin", &[&[5, 4]], sin, negated)
        .shrinkable(0, 0)
        .run();
    let x0 = finding(&report, "dL/dx0");
    assert_eq!(
        (x0.smallest_shape.as_str(), &x0.diagnosis),
        ("[1, 4]", &Some(Diagnosis::SignFlipped))
    );
    // Without a shrinkable axis the shape stays.
    let report = OpCheck::new("sin", &[&[5, 4]], sin, negated).run();
    assert_eq!(finding(&report, "dL/dx0").smallest_shape, "[5, 4]");
}

#[test]
fn a_backward_that_ignores_the_upstream_gradient_is_diagnosed() {
    let ignores = |x: &Arrays, _g: &ArrayD<f64>| vec![x[0].mapv(f64::cos)];
    let report = OpCheck::new("sin", &[&[2, 3]], sin, ignores).run();
    assert_eq!(
        finding(&report, "dL/dx0").diagnosis,
        Some(Diagnosis::UpstreamIgnored),
        "{report}"
    );
}

#[test]
fn the_jacobian_from_the_vjp_of_a_matrix_product_is_the_matrix() {
    let a = arr2(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
    let x = array(&[3], &[0.5, -1.0, 2.0]);
    let backward = |_x: &Arrays, g: &ArrayD<f64>| {
        let g = g.view().into_dimensionality::<ndarray::Ix1>().unwrap();
        vec![a.t().dot(&g).into_dyn()]
    };
    let j = check::jacobian_from_vjp(std::slice::from_ref(&x), &[2], backward).unwrap();
    assert_eq!(j[0], a);
    let wrong_shape = |_x: &Arrays, _g: &ArrayD<f64>| vec![ArrayD::zeros(IxDyn(&[2]))];
    let error = check::jacobian_from_vjp(&[x], &[2], wrong_shape)
        .unwrap_err()
        .to_string();
    assert!(
        error.contains("[2]") && error.contains("[3]") && error.contains("x0"),
        "{error}"
    );
}

#[test]
fn the_builders_cases_and_seed_win_over_its_config() {
    let right = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
    let config = Config::default().cases(3).seed(7);
    let report = OpCheck::new("sin", &[&[2]], sin, right).config(config).run();
    assert_eq!(report.cases, 3);
    let report = OpCheck::new("sin", &[&[2]], sin, right)
        .config(config)
        .cases(5)
        .run();
    assert_eq!(report.cases, 5);
    assert_eq!(
        OpCheck::new("sin", &[&[2]], sin, right).config(config).run(),
        OpCheck::new("sin", &[&[2]], sin, right).cases(3).seed(7).run()
    );
}

#[test]
fn options_that_cannot_be_used_say_which_and_why() {
    let right = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
    let op = || OpCheck::new("sin", &[&[2, 3]], sin, right);
    let cases: [(OpCheck<'_>, &[&str]); 7] = [
        (op().domain(1, Domain::Positive), &[".domain(1", "no input 1"]),
        (
            op().domain(0, Domain::Interval(1.0, 0.0)),
            &["Interval(1, 0)", "a < b"],
        ),
        (op().rtol(f64::NAN), &[".rtol(NaN)", "finite"]),
        (op().eps(0.0), &[".eps(0)", "> 0"]),
        (op().no_grad(0), &["every input is no_grad"]),
        (op().shrinkable(0, 2), &[".shrinkable(0, 2)", "2 axes"]),
        (
            op().points(vec![vec![array(&[3], &[1.0, 2.0, 3.0])]]),
            &["x0 has shape [3]", "expected [2, 3]"],
        ),
    ];
    for (check, words) in cases {
        let report = check.run();
        assert_verdict(&report, Verdict::Fail);
        let message = misuse(&report);
        for word in words {
            assert!(message.contains(word), "{word:?} not in {message:?}");
        }
    }
}
