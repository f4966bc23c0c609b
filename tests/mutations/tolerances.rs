//! The tolerances: what a relative or an absolute tolerance excuses, and that one excusing
//! everything is inconclusive, not a pass.

use gradverify::check;
use gradverify::compare::Verdict;
use gradverify::verify::Config;
use ndarray::{Array1, Array2};

use super::linear_right;

#[test]
fn an_absolute_tolerance_that_excuses_everything_is_inconclusive_not_a_pass() {
    // --atol 100 excuses a linear backward that returns zeros (its right gradients are dense
    // and non-zero): nothing is certified, so it does not pass.
    let loose = Config::default().atol(100.0);
    let zeros = check::with(loose).linear(|g, h, w, _b| {
        let (dh, dw, db) = linear_right(g, h, w);
        (dh * 0.0, dw * 0.0, db * 0.0)
    });
    assert_eq!(zeros.verdict(), Verdict::Inconclusive, "{zeros}");
    assert!(!zeros.passed(), "{zeros}");
    let gradients: Vec<&str> = zeros.inconclusive.iter().map(|i| i.gradient.as_str()).collect();
    assert_eq!(gradients, ["dL/dh", "dL/dW", "dL/db"], "{zeros}");
    // The right backward under the same tolerance is certified, and passes.
    check::with(loose)
        .linear(|g, h, w, _b| linear_right(g, h, w))
        .assert_correct();
}

#[test]
fn tolerances_excuse_what_they_should_and_no_more() {
    let off = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        let (dh, dw, db) = linear_right(g, h, w);
        (dh * (1.0 + 1e-5), dw, db)
    };
    assert!(!check::linear(off).passed());
    check::with(Config::default().rtol(1e-4))
        .linear(off)
        .assert_correct();
    // An absolute tolerance excuses small elements only: a 1e-5 relative error on elements of
    // order 1 is more than atol = 1e-9.
    assert!(!check::with(Config::default().atol(1e-9)).linear(off).passed());
}
