//! Relu's backward (Eq. 29b, 47): the right mask and the other subgradient pass; a missing,
//! inverted or misplaced mask, a dropped upstream gradient and float32 arithmetic are named.

use gradverify::check;
use gradverify::verify::ops::relu;
use gradverify::verify::{Config, Diagnosis, Fault, Problem};
use ndarray::Array2;

use super::{assert_diagnosed, code_and_example, finding, gradient, step};

#[test]
fn correct_relu_backwards_pass_including_the_output_mask_and_the_other_subgradient() {
    check::relu(|g, a| g * &step(a)).assert_correct();
    check::relu(|g, a| {
        let h = a.mapv(|v| v.max(0.0));
        g * &h.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
    })
    .assert_correct();
    let at_zero_one = check::relu(|g, a| g * &a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 }));
    at_zero_one.assert_correct();
    assert!(
        at_zero_one.notes.iter().any(|n| n.contains("relu'(0) = 1")),
        "{at_zero_one}"
    );
}

#[test]
fn a_backward_that_panics_only_on_a_zero_upstream_gradient_fails() {
    // PyTorch's gradcheck asks the same of a backward: an all-zero grad_output is a valid input.
    let report = check::relu(|g, a| {
        assert!(g.iter().any(|v| *v != 0.0), "no gradient to propagate");
        g * &step(a)
    });
    assert!(
        !report.passed(),
        "a backward that panics on zeros passed:\n{report}"
    );
    let found = finding(&report, &gradient("a"));
    assert!(
        matches!(&found.problem, Problem::Fault(Fault::Failed(m))
            if m.contains("no gradient to propagate") && m.contains("upstream gradient all zeros")),
        "{report}"
    );
}

#[test]
fn a_missing_relu_mask_is_named() {
    assert_diagnosed(
        &check::relu(|g, _a| g.clone()),
        "a",
        Diagnosis::Bug(&relu::MASK_MISSING),
    );
}

#[test]
fn an_inverted_relu_mask_is_named() {
    assert_diagnosed(
        &check::relu(|g, a| g * &step(a).mapv(|t| 1.0 - t)),
        "a",
        Diagnosis::Bug(&relu::MASK_INVERTED),
    );
}

#[test]
fn a_relu_mask_taken_from_the_upstream_gradient_is_named() {
    assert_diagnosed(
        &check::relu(|g, _a| g * &step(g)),
        "a",
        Diagnosis::Bug(&relu::MASK_FROM_UPSTREAM),
    );
}

#[test]
fn a_relu_backward_that_returns_the_mask_ignores_the_upstream_gradient() {
    assert_diagnosed(&check::relu(|_g, a| step(a)), "a", Diagnosis::UpstreamIgnored);
}

#[test]
fn a_negated_relu_backward_is_a_sign_flip() {
    assert_diagnosed(&check::relu(|g, a| -(g * &step(a))), "a", Diagnosis::SignFlipped);
}

#[test]
fn a_float32_computation_is_named_and_passes_with_gradchecks_tolerances() {
    let f32_round = |a: Array2<f64>| a.mapv(|v| f64::from(v as f32));
    let relu32 = |g: &Array2<f64>, a: &Array2<f64>| {
        let (g, a) = (g.mapv(|v| v as f32), a.mapv(|v| v as f32));
        let out = ndarray::Zip::from(&g)
            .and(&a)
            .map_collect(|g, a| if *a > 0.0 { *g } else { 0.0 });
        f32_round(out.mapv(f64::from))
    };
    let report = check::relu(relu32);
    let (code, _) = code_and_example(&report, "a");
    assert_eq!(code, "float32", "{report}");
    assert!(report.to_string().contains("--rtol 1e-3 --atol 1e-5"), "{report}");
    // dL/da = Θ(a) ⊙ dL/dh is exact in float32 up to the rounding of dL/dh itself.
    check::with(Config::default().rtol(1e-3).atol(1e-5))
        .relu(relu32)
        .assert_correct();
}
