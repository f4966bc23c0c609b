//! The Taylor-remainder test (dolfin-adjoint's `taylor_test`): a second opinion on a whole
//! gradient, with no tolerance on values.
//!
//! Along a random direction u, `R(ε) = |L(θ + εu) − L(θ) − ε ⟨∇L, u⟩|` is `O(ε²)` when ∇L is the
//! gradient (the first-order terms cancel) and `O(ε)` when it is not (`ε |⟨∇L − g, u⟩|` is left).
//! Over `ε_i = ε₀ / 4^i` the observed rate `log₄(R_i / R_{i+1})` is then about 2 for a right
//! gradient and about 1 for a wrong one. Where R is at rounding level (below
//! `κ · ε · (M(θ + εu) + M(θ) + |ε ⟨∇L, u⟩|)`, M the magnitude summed into L) the rate means
//! nothing and is not computed; where that holds for every ε (L affine along u, e.g. a linear
//! op), the test says "exact to rounding".

use std::fmt;

use ndarray::{Array2, ArrayD};
use rand_chacha::ChaCha8Rng;

use super::richardson::ROUNDING_SAFETY;
use crate::error::{Error, Result};
use crate::mlp::{self, MlpParams};
use crate::random;
use crate::tape::Wrt;

/// ε shrinks by this factor from one point to the next.
const SHRINK: f64 = 4.0;
/// How many values of ε.
const POINTS: usize = 8;

/// The remainders over a sequence of ε and their observed convergence rates.
#[derive(Debug, Clone, PartialEq)]
pub struct Taylor {
    /// ε, from the largest.
    pub epsilons: Vec<f64>,
    /// `R(ε)` for each ε.
    pub remainders: Vec<f64>,
    /// The rounding level of each remainder.
    pub rounding: Vec<f64>,
    /// `log₄(R_i / R_{i+1})` between consecutive ε whose remainders are both above rounding.
    pub rates: Vec<f64>,
}

impl Taylor {
    /// Every remainder is at rounding level: L is affine along the direction, to rounding.
    pub fn exact_to_rounding(&self) -> bool {
        self.remainders.iter().zip(&self.rounding).all(|(r, n)| r <= n)
    }

    /// The rate at the smallest ε where one was observed (the most asymptotic), if any.
    pub fn final_rate(&self) -> Option<f64> {
        self.rates.last().copied()
    }
}

/// The test for an objective `loss_at(ε) = (L(θ + εu), M)` whose claimed directional derivative
/// is `directional = ⟨g, u⟩`, from `ε₀ = first`.
pub fn taylor_test<E>(
    directional: f64,
    first: f64,
    mut loss_at: impl FnMut(f64) -> std::result::Result<(f64, f64), E>,
) -> std::result::Result<Taylor, E> {
    let (l0, m0) = loss_at(0.0)?;
    let mut out = Taylor {
        epsilons: Vec::with_capacity(POINTS),
        remainders: Vec::with_capacity(POINTS),
        rounding: Vec::with_capacity(POINTS),
        rates: Vec::new(),
    };
    let mut eps = first;
    for _ in 0..POINTS {
        let (l, m) = loss_at(eps)?;
        let linear = eps * directional;
        out.epsilons.push(eps);
        out.remainders.push((l - l0 - linear).abs());
        out.rounding
            .push(ROUNDING_SAFETY * f64::EPSILON * (m + m0 + linear.abs()));
        eps /= SHRINK;
    }
    for i in 1..POINTS {
        let above = |k: usize| out.remainders[k] > out.rounding[k] && out.remainders[k].is_finite();
        if above(i - 1) && above(i) {
            out.rates
                .push((out.remainders[i - 1] / out.remainders[i]).ln() / SHRINK.ln());
        }
    }
    Ok(out)
}

/// The test for the network's loss at `params` with the gradient `grads` (dL/dW1, …, dL/db3),
/// along a direction of random signs drawn from `rng`.
pub fn network(
    params: &MlpParams,
    x: &Array2<f64>,
    y: &Array2<f64>,
    grads: &[ArrayD<f64>; 6],
    rng: &mut ChaCha8Rng,
) -> Result<Taylor> {
    let theta = params.views();
    for ((name, t), g) in theta.iter().zip(grads) {
        if t.shape() != g.shape() {
            return Err(Error::Shape {
                op: "taylor test".into(),
                arg: format!("gradient of {name}"),
                expected: format!("{:?}", t.shape()),
                got: g.shape().to_vec(),
            });
        }
    }
    let u = MlpParams {
        w1: random::signs(rng, params.w1.raw_dim()),
        b1: random::signs(rng, params.b1.raw_dim()),
        w2: random::signs(rng, params.w2.raw_dim()),
        b2: random::signs(rng, params.b2.raw_dim()),
        w3: random::signs(rng, params.w3.raw_dim()),
        b3: random::signs(rng, params.b3.raw_dim()),
    };
    let directional: f64 = grads
        .iter()
        .zip(u.views())
        .map(|(g, (_, u))| g.iter().zip(u.iter()).map(|(g, u)| g * u).sum::<f64>())
        .sum();
    let n: f64 = theta.iter().map(|(_, t)| t.len() as f64).sum();
    // ‖u‖ = √n: the first step moves θ by about 1e-2 in norm.
    let first = 1e-2 / n.sqrt();
    taylor_test(directional, first, |eps| {
        let moved = MlpParams {
            w1: &params.w1 + &(eps * &u.w1),
            b1: &params.b1 + &(eps * &u.b1),
            w2: &params.w2 + &(eps * &u.w2),
            b2: &params.b2 + &(eps * &u.b2),
            w3: &params.w3 + &(eps * &u.w3),
            b3: &params.b3 + &(eps * &u.b3),
        };
        let loss = mlp::loss_and_grads(&moved, x, y, Wrt::Params)?.loss;
        // L = ½ Σ r², a sum of non-negative terms: its magnitude is L.
        Ok((loss, loss))
    })
}

impl fmt::Display for Taylor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (first, last) = (self.epsilons[0], self.epsilons[self.epsilons.len() - 1]);
        write!(
            f,
            "Taylor remainder |L(x + εu) − L(x) − ε⟨∇L, u⟩| along a random u, ε = {first:.1e} to {last:.1e} (÷4): "
        )?;
        if self.exact_to_rounding() {
            return write!(f, "exact to rounding (L is affine along u)");
        }
        if self.rates.is_empty() {
            return write!(
                f,
                "no rate observed (the remainders are at rounding level or not finite)"
            );
        }
        let rates: Vec<String> = self.rates.iter().map(|r| format!("{r:.2}")).collect();
        write!(
            f,
            "rates {} (2 for a right gradient, 1 for a wrong one)",
            rates.join(", ")
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn of(f: impl Fn(f64) -> f64, x: f64, derivative: f64) -> Taylor {
        taylor_test(derivative, 1e-2, |eps| {
            let l = f(x + eps);
            Ok::<_, ()>((l, l.abs()))
        })
        .unwrap()
    }

    #[test]
    fn a_right_derivative_shows_rate_two_and_a_wrong_one_rate_one() {
        let right = of(f64::sin, 0.7, 0.7_f64.cos());
        assert!(
            right.final_rate().is_some_and(|r| (r - 2.0).abs() < 0.1),
            "{right}"
        );
        let wrong = of(f64::sin, 0.7, 1.01 * 0.7_f64.cos());
        assert!(
            wrong.final_rate().is_some_and(|r| (r - 1.0).abs() < 0.1),
            "{wrong}"
        );
        assert!(!right.exact_to_rounding() && right.to_string().contains("rates"));
    }

    #[test]
    fn an_affine_function_is_exact_to_rounding() {
        let t = of(|v| 3.0 * v + 1e8, 0.4, 3.0);
        assert!(t.exact_to_rounding(), "{t:?}");
        assert!(t.to_string().contains("exact to rounding"), "{t}");
        let wrong = of(|v| 3.0 * v + 1e8, 0.4, 3.5);
        assert!(!wrong.exact_to_rounding(), "{wrong:?}");
    }
}
