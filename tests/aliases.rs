//! `OpCheck::alias`: two inputs that are the same array, `f(x, x)`. Cases are drawn on the
//! diagonal, where ties and overwritten uses live, and the gradient of the shared array must be
//! the sum of both inputs' gradients.

use gradverify::check::{Domain, OpCheck};
use gradverify::verify::{Fault, Problem, Report};
use ndarray::{ArrayD, IxDyn, Zip};

type Arrays = [ArrayD<f64>];

const SHARED: &str = "dL/dx0 (≡ x1)";

fn maximum(x: &Arrays) -> ArrayD<f64> {
    Zip::from(&x[0]).and(&x[1]).map_collect(|a, b| a.max(*b))
}

/// max's backward with `share(a, b)` of the upstream gradient going to a (and the rest to b).
fn max_vjp(share: fn(f64, f64) -> (f64, f64)) -> impl Fn(&Arrays, &ArrayD<f64>) -> Vec<ArrayD<f64>> {
    move |x, g| {
        let to_a = Zip::from(&x[0])
            .and(&x[1])
            .and(g)
            .map_collect(|a, b, g| g * share(*a, *b).0);
        let to_b = Zip::from(&x[0])
            .and(&x[1])
            .and(g)
            .map_collect(|a, b, g| g * share(*a, *b).1);
        vec![to_a, to_b]
    }
}

#[track_caller]
fn shared_finding(report: &Report) -> Problem {
    let finding = (report.findings.iter()).find(|f| f.what == SHARED);
    finding.unwrap_or_else(|| panic!("{report}")).problem.clone()
}

#[test]
fn a_tie_that_gives_the_upstream_gradient_to_both_uses_counts_it_twice() {
    let both = |a: f64, b: f64| (f64::from(u8::from(a >= b)), f64::from(u8::from(b >= a)));
    let report = OpCheck::new("max", &[&[3, 4], &[3, 4]], maximum, max_vjp(both))
        .alias(0, 1)
        .cases(5)
        .run();
    assert_eq!(shared_finding(&report), Problem::WrongValues);
    assert!(!report.passed());
    // Without the alias, random draws never tie, and the same backward passes.
    let report = OpCheck::new("max", &[&[3, 4], &[3, 4]], maximum, max_vjp(both))
        .cases(5)
        .run();
    report.assert_correct();
}

#[test]
fn an_even_split_at_ties_passes_with_the_shared_array_certified() {
    let split = |a: f64, b: f64| match a.total_cmp(&b) {
        std::cmp::Ordering::Greater => (1.0, 0.0),
        std::cmp::Ordering::Less => (0.0, 1.0),
        std::cmp::Ordering::Equal => (0.5, 0.5),
    };
    let report = OpCheck::new("max", &[&[3, 4], &[3, 4]], maximum, max_vjp(split))
        .alias(0, 1)
        .cases(5)
        .run();
    report.assert_correct();
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with(&format!("{SHARED}: 60 of 60 elements certified"))),
        "{report}"
    );
}

#[test]
fn a_backward_that_lets_the_second_use_overwrite_the_first_fails() {
    // f(x, y) = x² y; the gradients kept per distinct value: at x = y, y's overwrites x's.
    let forward = |x: &Arrays| &x[0] * &x[0] * &x[1];
    let right = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[0] * &x[1] * 2.0, g * &x[0] * &x[0]];
    let overwriting = move |x: &Arrays, g: &ArrayD<f64>| {
        let grads = right(x, g);
        if x[0] == x[1] {
            vec![grads[1].clone(), grads[1].clone()]
        } else {
            grads
        }
    };
    let report = OpCheck::new("x2y", &[&[4], &[4]], forward, right)
        .alias(0, 1)
        .cases(5)
        .run();
    report.assert_correct();
    assert!(report.notes.iter().any(|n| n.starts_with(SHARED)), "{report}");
    let report = OpCheck::new("x2y", &[&[4], &[4]], forward, overwriting)
        .alias(0, 1)
        .cases(5)
        .run();
    assert_eq!(shared_finding(&report), Problem::WrongValues);
    let report = OpCheck::new("x2y", &[&[4], &[4]], forward, overwriting)
        .cases(5)
        .run();
    report.assert_correct();
}

#[test]
fn an_alias_that_cannot_be_checked_is_a_misuse_naming_the_inputs() {
    let forward = |x: &Arrays| &x[0] * &x[1];
    let backward = |x: &Arrays, g: &ArrayD<f64>| vec![g * &x[1], g * &x[0]];
    let misuse = |check: OpCheck<'_>| {
        let report = check.run();
        let finding = (report.findings.iter()).find(|f| f.what == "the shapes");
        match &finding.unwrap_or_else(|| panic!("{report}")).problem {
            Problem::Fault(Fault::Failed(message)) => message.clone(),
            other => panic!("{other:?}"),
        }
    };
    let new = |shapes: &[&[usize]]| OpCheck::new("mul", shapes, forward, backward);
    let cases: [(OpCheck<'_>, &str); 6] = [
        (
            new(&[&[3], &[3]]).alias(0, 0),
            ".alias(0, 0): an input is always the same array as itself",
        ),
        (
            new(&[&[3], &[3]]).alias(0, 2),
            "there is no input 2, the op has 2",
        ),
        (
            new(&[&[3], &[2]]).alias(0, 1),
            ".alias(0, 1): x0 has shape [3] and x1 [2]",
        ),
        (new(&[&[3], &[3]]).alias(0, 1).no_grad(1), "x0 or x1 is no_grad"),
        (
            new(&[&[3], &[3]]).alias(0, 1).domain(1, Domain::Positive),
            "x0 is drawn in the real line and x1 in x > 0",
        ),
        (
            new(&[&[3], &[3]])
                .alias(0, 1)
                .points(vec![vec![ArrayD::zeros(IxDyn(&[3])), ArrayD::ones(IxDyn(&[3]))]]),
            "point 0: x0 and x1 differ, but .alias(0, 1) says they are the same array",
        ),
    ];
    for (check, expected) in cases {
        let message = misuse(check);
        assert!(message.contains(expected), "{message}");
    }
}
