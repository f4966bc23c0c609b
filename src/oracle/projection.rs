//! A random projection of the gradient: the fast pre-check, never a replacement for the full one.
//!
//! For a random direction u through all the parameters (standard normal per element), compare
//! the directional derivative from two forward passes,
//! `vᵀ(J u) ≈ (L(θ + εu) − L(θ − εu)) / 2ε` (v = 1: the loss is a scalar), with the gradient
//! under test projected on u, `(vᵀJ)·u = g·u`, from one backward. One draw costs two forwards and
//! a dot product, against two forwards per parameter for the full check.
//!
//! **What it can miss.** A wrong gradient g + e is caught when `|e·u|` exceeds the tolerance
//! `τ·|g·u|` (τ = [`PROJECTION_REL`], set by the accuracy of the difference quotient along u,
//! plus its rounding noise). With u Gaussian, e·u and g·u are Gaussian with spreads ‖e‖ and ‖g‖,
//! and one draw misses the error with probability about `(2/π)·arctan(τ‖g‖/‖e‖)`: for
//! ‖e‖/‖g‖ = 1e-3 that is 4e-4 per draw, but for an error in one element of size ρ·|g_k| in a
//! gradient of n similar elements, ‖e‖/‖g‖ ≈ ρ/√n, and at n = 9,360, ρ = 1e-3 it is 0.06 per
//! draw. PyTorch's `fast_mode` missed real bugs that touch a few entries for this reason. Use
//! several draws as a pre-check in tight loops, and [`network_fd`](super::network_fd) for the
//! verdict.

use ndarray::{Array2, ArrayD, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use crate::error::{Error, Result};
use crate::mlp::MlpParams;

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

/// The loss and both hidden pre-activations, by a plain forward pass (Eq. 33).
fn forward(
    p: &[ArrayD<f64>; 6],
    x: &Array2<f64>,
    y: &Array2<f64>,
) -> Result<(f64, Array2<f64>, Array2<f64>)> {
    let m = |k: usize| p[k].view().into_dimensionality::<ndarray::Ix2>();
    let v = |k: usize| p[k].view().into_dimensionality::<ndarray::Ix1>();
    let bad =
        |e: ndarray::ShapeError| Error::Tape(format!("projection: a parameter has the wrong rank: {e}"));
    let a1 = x.dot(&m(0).map_err(bad)?) + v(1).map_err(bad)?;
    let a2 = a1.mapv(|a| a.max(0.0)).dot(&m(2).map_err(bad)?) + v(3).map_err(bad)?;
    let f = a2.mapv(|a| a.max(0.0)).dot(&m(4).map_err(bad)?) + v(5).map_err(bad)?;
    let loss = 0.5 * Zip::from(&f).and(y).fold(0.0, |s, f, y| s + (f - y) * (f - y));
    Ok((loss, a1, a2))
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
    let theta = params.views().map(|(_, v)| v.to_owned());
    for (k, (t, g)) in theta.iter().zip(grads).enumerate() {
        if t.shape() != g.shape() {
            return Err(Error::Shape {
                op: "projection".into(),
                arg: format!("gradient {k} ({})", ["W1", "b1", "W2", "b2", "W3", "b3"][k]),
                expected: format!("{:?}", t.shape()),
                got: g.shape().to_vec(),
            });
        }
    }
    let u: [ArrayD<f64>; 6] =
        std::array::from_fn(|k| ArrayD::random_using(theta[k].raw_dim(), StandardNormal, rng));
    let norm = |a: &[ArrayD<f64>; 6]| a.iter().flat_map(|x| x.iter()).map(|v| v * v).sum::<f64>().sqrt();
    let eps = STEP * norm(&theta).max(1.0) / norm(&u);
    let at = |s: f64| -> [ArrayD<f64>; 6] { std::array::from_fn(|k| &theta[k] + &(&u[k] * s)) };
    let (l_plus, a1_plus, a2_plus) = forward(&at(eps), x, y)?;
    let (l_minus, a1_minus, a2_minus) = forward(&at(-eps), x, y)?;
    let (l_mid, a1, a2) = forward(&theta, x, y)?;
    let same_sign = |a: &Array2<f64>, b: &Array2<f64>| Zip::from(a).and(b).all(|a, b| a * b > 0.0);
    let smooth = same_sign(&a1, &a1_plus)
        && same_sign(&a1, &a1_minus)
        && same_sign(&a2, &a2_plus)
        && same_sign(&a2, &a2_minus);
    let projected: f64 = grads
        .iter()
        .zip(&u)
        .map(|(g, u)| Zip::from(g).and(u).fold(0.0, |s, g, u| s + g * u))
        .sum();
    Ok(Projection {
        directional: (l_plus - l_minus) / (2.0 * eps),
        projected,
        noise: NOISE_SAFETY * f64::EPSILON * (l_plus.abs() + l_minus.abs() + l_mid.abs()) / (2.0 * eps),
        smooth,
    })
}
