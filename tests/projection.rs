//! The random-projection pre-check: correct gradients pass, wrong ones are caught at the rate
//! its documentation states, and its limit is real.

use gradverify::bench;
use gradverify::mlp;
use gradverify::oracle::projection::{self, PROJECTION_REL};
use gradverify::random;
use gradverify::tape::Wrt;
use ndarray::ArrayD;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;

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

/// ‖g‖ over all six gradients.
fn norm(grads: &[ArrayD<f64>; 6]) -> f64 {
    grads
        .iter()
        .flat_map(|g| g.iter())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt()
}

/// P(|Z| ≥ t) for a standard normal Z, by Simpson's rule on [t, t + 12].
fn two_sided_tail(t: f64) -> f64 {
    let density = |z: f64| (-z * z / 2.0).exp() / (2.0 * std::f64::consts::PI).sqrt();
    let steps = 2000;
    let h = 12.0 / steps as f64;
    let weight = |i: usize| match i {
        0 => 1.0,
        i if i == steps => 1.0,
        i if i % 2 == 1 => 4.0,
        _ => 2.0,
    };
    let integral: f64 = (0..=steps)
        .map(|i| weight(i) * density(t + i as f64 * h))
        .sum::<f64>()
        * h
        / 3.0;
    2.0 * integral
}

#[test]
fn the_tail_used_below_is_the_normal_one() {
    assert!((two_sided_tail(0.0) - 1.0).abs() < 1e-9);
    assert!((two_sided_tail(1.959964) - 0.05).abs() < 1e-6);
}

#[test]
fn an_error_in_one_element_is_missed_at_about_the_documented_rate() {
    let (p, x, y, mut grads) = reference(16, 32);
    // One element of dL/dW1 off by e_k = 0.7·τ‖g‖: with random signs |e·u| = |e_k| in every
    // draw, and the draw misses it when |g·u| ≥ |e_k|/τ, with probability about
    // erfc(0.7/√2) = P(|Z| ≥ 0.7) ≈ 0.48.
    grads[0][[3, 4]] += 0.7 * PROJECTION_REL * norm(&grads);
    let missed = agreement(&p, &x, &y, &grads, 400);
    let expected = two_sided_tail(0.7);
    assert!(
        (missed - expected).abs() < 0.1,
        "missed {missed:.3}, documented {expected:.3}"
    );
}

#[test]
fn an_error_in_one_element_ten_times_the_tolerance_is_caught_in_every_draw() {
    // P(|Z| ≥ 10) ≈ 1.5e-23; a Gaussian direction would miss it in 6% of the draws.
    let (p, x, y, mut grads) = reference(16, 32);
    grads[2][[5, 1]] -= 10.0 * PROJECTION_REL * norm(&grads);
    assert_eq!(agreement(&p, &x, &y, &grads, 200), 0.0);
}

#[test]
fn an_error_spread_over_every_element_is_missed_at_about_the_documented_rate() {
    let (p, x, y, mut grads) = reference(16, 32);
    // A Gaussian error with ‖e‖ = 2·τ‖g‖: e·u is about Gaussian with spread ‖e‖, and the miss
    // probability is about (2/π)·arctan(τ‖g‖/‖e‖) = (2/π)·arctan(0.5) ≈ 0.30.
    let mut rng = random::case_rng(12, 0);
    let noise: Vec<ArrayD<f64>> = grads
        .iter()
        .map(|g| ArrayD::random_using(g.raw_dim(), StandardNormal, &mut rng))
        .collect();
    let noise_norm = noise
        .iter()
        .flat_map(|e| e.iter())
        .map(|v| v * v)
        .sum::<f64>()
        .sqrt();
    let scale = 2.0 * PROJECTION_REL * norm(&grads) / noise_norm;
    for (g, e) in grads.iter_mut().zip(&noise) {
        g.scaled_add(scale, e);
    }
    let missed = agreement(&p, &x, &y, &grads, 400);
    let expected = 2.0 / std::f64::consts::PI * 0.5_f64.atan();
    assert!(
        (missed - expected).abs() < 0.1,
        "missed {missed:.3}, documented {expected:.3}"
    );
}

#[test]
fn a_wrong_factor_is_caught_in_every_draw_above_the_tolerance_and_in_none_below() {
    let (p, x, y, grads) = reference(16, 32);
    let scaled = |c: f64| grads.clone().map(|g| g * c);
    assert_eq!(
        agreement(&p, &x, &y, &scaled(1.0 + 10.0 * PROJECTION_REL), 100),
        0.0
    );
    assert_eq!(
        agreement(&p, &x, &y, &scaled(1.0 + 0.1 * PROJECTION_REL), 100),
        1.0
    );
}
