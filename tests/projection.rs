//! The random-projection pre-check: correct gradients pass, wrong ones are caught at the rate
//! its documentation states, and its limit is real.

use gradverify::bench;
use gradverify::mlp;
use gradverify::oracle::projection::{self, PROJECTION_REL};
use gradverify::random;
use gradverify::tape::Wrt;
use ndarray::ArrayD;

fn reference(
    batch: usize,
    width: usize,
) -> (
    gradverify::mlp::MlpParams,
    ndarray::Array2<f64>,
    ndarray::Array2<f64>,
    [ArrayD<f64>; 6],
) {
    let (p, x, y) = bench::network(batch, width);
    let g = mlp::loss_and_grads(&p, &x, &y, Wrt::Params).unwrap();
    let grads = g.into_params();
    (p, x, y, grads)
}

/// The fraction of `draws` smooth draws in which the projection of `grads` agrees.
fn agreement(
    p: &gradverify::mlp::MlpParams,
    x: &ndarray::Array2<f64>,
    y: &ndarray::Array2<f64>,
    grads: &[ArrayD<f64>; 6],
    draws: u64,
) -> f64 {
    let mut rng = random::case_rng(11, 0);
    let results: Vec<_> = (0..draws)
        .map(|_| projection::project(p, x, y, grads, &mut rng).unwrap())
        .filter(|r| r.smooth)
        .collect();
    assert!(
        results.len() as f64 > 0.9 * draws as f64,
        "most draws are off the kinks"
    );
    results.iter().filter(|r| r.agrees()).count() as f64 / results.len() as f64
}

#[test]
fn the_reference_gradient_agrees_in_every_smooth_draw() {
    let (p, x, y, grads) = reference(16, 32);
    assert_eq!(agreement(&p, &x, &y, &grads, 100), 1.0);
}

#[test]
fn a_wrong_gradient_is_caught_in_every_draw() {
    let (p, x, y, mut grads) = reference(16, 32);
    grads[5].mapv_inplace(|v| -v); // dL/db3 with the sign flipped
    assert_eq!(agreement(&p, &x, &y, &grads, 50), 0.0);
}

#[test]
fn an_error_in_one_element_is_missed_at_about_the_documented_rate() {
    let (p, x, y, mut grads) = reference(16, 32);
    let norm = grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    // One element of dL/dW1 off by e, with ‖e‖/‖g‖ = 2e-6: missed with probability about
    // (2/π)·arctan(τ‖g‖/‖e‖) = (2/π)·arctan(0.5) ≈ 0.30 per draw.
    grads[0][[3, 4]] += 2e-6 * norm;
    let missed = agreement(&p, &x, &y, &grads, 400);
    let expected = 2.0 / std::f64::consts::PI * (PROJECTION_REL / 2e-6).atan();
    assert!(
        (missed - expected).abs() < 0.1,
        "missed {missed:.3}, documented {expected:.3}"
    );
}
