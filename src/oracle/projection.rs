//! A random projection of the gradient: the fast pre-check, never a replacement for the full one.
//!
//! For a random direction u through all n parameters, compare the directional derivative from
//! two forward passes, `vᵀ(J u) ≈ (L(θ + εu) − L(θ − εu)) / 2ε` (v = 1: the loss is a scalar),
//! with the gradient under test projected on u, `(vᵀJ)·u = g·u`, from one backward. One draw
//! costs two forwards and a dot product, against two forwards per parameter for the full check.
//!
//! A draw whose step crosses a relu kink gives no verdict. Both pre-activations are compared in
//! sign at θ − εu and θ + εu: a1 is affine along u, so equal signs at the two ends mean no sign
//! change between them; while a1 keeps its signs, a2 is quadratic along u with a curvature of
//! order ε², so a double change of sign inside the step would need |a2| of that order.
//!
//! The direction has independent random signs, `u_i = ±1` (Rademacher): one random bit per
//! parameter, and, unlike a Gaussian direction, no element of the gradient can hide behind a
//! small `u_i`.
//!
//! **What it can miss.** A gradient g + e (g the true one) is caught when `|e·u|` exceeds the
//! tolerance, about `τ·|g·u|` (τ = [`PROJECTION_REL`], set by the accuracy of the difference
//! quotient along u, plus its rounding noise). Over random signs, `g·u` has mean 0 and spread
//! ‖g‖, nearly Gaussian when g has many comparable elements. So, for one draw:
//! - **An error in one element** k: `|e·u| = |e_k|` whatever the signs, and the draw misses it
//!   only when `|g·u| ≥ |e_k|/τ`, with probability about `erfc(|e_k| / (√2·τ‖g‖))`. For
//!   `|e_k| = ρ·|g_k|` in a gradient of n similar elements, `|e_k|/(τ‖g‖) ≈ ρ/(τ√n)`: at
//!   n = 9,360 and τ = 1e-6 an error of ρ = 1e-3 (0.1%) gives 10.3 and is missed with
//!   probability below 1e-20, but one of ρ = 1e-4 gives 1.03 and is missed about 30% of the
//!   time, and smaller ones almost always. (With Gaussian u, e·u is Gaussian too and the miss
//!   probability has a heavy tail, `(2/π)·arctan(τ‖g‖/|e_k|)`: 6% per draw at ρ = 1e-3. This is
//!   how PyTorch's `fast_mode` missed real bugs that touch a few entries.)
//! - **An error spread over many elements** and unrelated to g: `e·u` is nearly Gaussian with
//!   spread ‖e‖ and nearly independent of `g·u`, and the miss probability is about
//!   `(2/π)·arctan(τ‖g‖/‖e‖)`: 6e-4 per draw at ‖e‖/‖g‖ = 1e-3.
//! - **An error proportional to g** (a wrong factor c, `e = (c − 1)·g`): caught in every draw
//!   when `|c − 1| > τ`, missed in every draw below.
//!
//! Use several draws as a pre-check in tight loops, and [`network_fd`](super::network_fd) for
//! the verdict.

use ndarray::{Array, Array2, ArrayD, ArrayView, ArrayView2, Dimension, Zip};
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::mlp::MlpParams;
use crate::ops::{linear, sqerr};
use crate::random;

/// Relative tolerance of one projection: the quotient along u is accurate to about ε² relative
/// (the loss is a polynomial of degree 6 in ε between kinks).
pub const PROJECTION_REL: f64 = 1e-6;
/// The step along u, relative to ‖θ‖/‖u‖.
const STEP: f64 = 1e-5;
/// Safety factor on the rounding-noise estimate.
const NOISE_SAFETY: f64 = 64.0;

/// One draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Projection {
    /// `(L(θ + εu) − L(θ − εu)) / 2ε`.
    pub directional: f64,
    /// `g·u` for the gradient under test.
    pub projected: f64,
    /// Rounding-noise bound of `directional`.
    pub noise: f64,
    /// False when a relu input changed sign between θ − εu and θ + εu: no verdict.
    pub smooth: bool,
}

impl Projection {
    /// Agreement to [`PROJECTION_REL`] (or within the noise); never true off the smooth part.
    pub fn agrees(&self) -> bool {
        let diff = (self.directional - self.projected).abs();
        self.smooth && diff <= PROJECTION_REL * self.directional.abs().max(self.projected.abs()) + self.noise
    }
}

/// The loss and both hidden pre-activations, by the ops' forwards (Eq. 33).
fn forward(
    p: &MlpParams,
    x: ArrayView2<'_, f64>,
    y: ArrayView2<'_, f64>,
) -> Result<(f64, Array2<f64>, Array2<f64>)> {
    let relu = |a: &Array2<f64>| a.mapv(|v| v.max(0.0));
    let a1 = linear::forward(x, p.w1.view(), p.b1.view())?;
    let a2 = linear::forward(relu(&a1).view(), p.w2.view(), p.b2.view())?;
    let f = linear::forward(relu(&a2).view(), p.w3.view(), p.b3.view())?;
    let loss = sqerr::forward(f.view().into_dyn(), y.into_dyn())?;
    Ok((loss, a1, a2))
}

/// `Σ a_i b_i` over two arrays of the same shape. Eight running sums, so that each addition does
/// not wait for the one before: a single running sum is bound by the latency of an addition.
fn dot<D: Dimension>(a: ArrayView<'_, f64, D>, b: ArrayView<'_, f64, D>) -> f64 {
    let (Some(a), Some(b)) = (a.as_slice(), b.as_slice()) else {
        return Zip::from(a).and(b).fold(0.0, |s, a, b| s + a * b);
    };
    let mut lanes = [0.0_f64; 8];
    for (a, b) in a.chunks_exact(8).zip(b.chunks_exact(8)) {
        for ((lane, a), b) in lanes.iter_mut().zip(a).zip(b) {
            *lane += a * b;
        }
    }
    let tail = a.len() - a.len() % 8;
    let rest: f64 = a[tail..].iter().zip(&b[tail..]).map(|(a, b)| a * b).sum();
    lanes.iter().sum::<f64>() + rest
}

/// `t + s·u`, element by element.
fn step<D: Dimension>(t: &Array<f64, D>, u: &Array<f64, D>, s: f64) -> Array<f64, D> {
    Zip::from(t).and(u).map_collect(|&t, &u| t + s * u)
}

/// The parameters moved by `s` along the direction `u`.
fn along(p: &MlpParams, u: &MlpParams, s: f64) -> MlpParams {
    MlpParams {
        w1: step(&p.w1, &u.w1, s),
        b1: step(&p.b1, &u.b1, s),
        w2: step(&p.w2, &u.w2, s),
        b2: step(&p.b2, &u.b2, s),
        w3: step(&p.w3, &u.w3, s),
        b3: step(&p.b3, &u.b3, s),
    }
}

/// A direction of random signs with the parameters' shapes.
fn random_direction(p: &MlpParams, rng: &mut ChaCha8Rng) -> MlpParams {
    MlpParams {
        w1: random::signs(rng, p.w1.raw_dim()),
        b1: random::signs(rng, p.b1.raw_dim()),
        w2: random::signs(rng, p.w2.raw_dim()),
        b2: random::signs(rng, p.b2.raw_dim()),
        w3: random::signs(rng, p.w3.raw_dim()),
        b3: random::signs(rng, p.b3.raw_dim()),
    }
}

/// One random projection of `grads` (dL/dW1, dL/db1, …, dL/db3) at `params`, direction drawn
/// from `rng`.
pub fn project(
    params: &MlpParams,
    x: &Array2<f64>,
    y: &Array2<f64>,
    grads: &[ArrayD<f64>; 6],
    rng: &mut ChaCha8Rng,
) -> Result<Projection> {
    let theta = params.views();
    for ((name, t), g) in theta.iter().zip(grads) {
        if t.shape() != g.shape() {
            return Err(Error::Shape {
                op: "projection".into(),
                arg: format!("gradient of {name}"),
                expected: format!("{:?}", t.shape()),
                got: g.shape().to_vec(),
            });
        }
    }
    let u = random_direction(params, rng);
    let n: usize = theta.iter().map(|(_, t)| t.len()).sum();
    let theta_norm = theta
        .iter()
        .map(|(_, t)| dot(t.view(), t.view()))
        .sum::<f64>()
        .sqrt();
    // ‖u‖ = √n for signs.
    let eps = STEP * theta_norm.max(1.0) / (n as f64).sqrt();
    let (l_plus, a1_plus, a2_plus) = forward(&along(params, &u, eps), x.view(), y.view())?;
    let (l_minus, a1_minus, a2_minus) = forward(&along(params, &u, -eps), x.view(), y.view())?;
    let same_sign = |a: &Array2<f64>, b: &Array2<f64>| Zip::from(a).and(b).all(|a, b| a * b > 0.0);
    let smooth = same_sign(&a1_minus, &a1_plus) && same_sign(&a2_minus, &a2_plus);
    let projected: f64 = grads
        .iter()
        .zip(u.views())
        .map(|(g, (_, u))| dot(g.view(), u))
        .sum();
    Ok(Projection {
        directional: (l_plus - l_minus) / (2.0 * eps),
        projected,
        noise: NOISE_SAFETY * f64::EPSILON * (l_plus.abs() + l_minus.abs()) / (2.0 * eps),
        smooth,
    })
}
