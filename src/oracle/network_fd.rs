//! Oracle 2, fast: central differences of the Eq. 33 network for every parameter, evaluating
//! `L(θ ± h)` by updating only what one perturbation changes.
//!
//! Perturbing one parameter element by δ changes the forward pass in a low-rank way:
//! - `W3[k, c]` or `b3[c]`: column c of f moves by `δ h2[:, k]` (or δ);
//! - `W2[j, k]` or `b2[k]`: column k of a2 moves by `u = δ h1[:, j]` (or δ); off relu's kink, h2
//!   moves by `M2[:, k] ⊙ u` and f by the rank-one `Δh2[:, k] ⊗ W3[k, :]`;
//! - `W1[i, j]` or `b1[j]`: column j of a1 moves by `δ x[:, i]` (or δ); off the kinks, row b of f
//!   moves by `u_b · G_j[b, :]` with `u_b = M1[b, j] δ x[b, i]` and
//!   `G_j[b, :] = (M2[b, :] ⊙ W2[j, :]) W3`, the change of f per unit change of `h1[b, j]`,
//!   propagated forward once for every (j, b).
//!
//! The loss then changes by exactly `ΔL = Σ Δf ⊙ (r + ½ Δf)` with `r = f − y` (Eq. 34b), computed
//! directly rather than as a difference of two losses, and the quotients
//! `(ΔL(+) − ΔL(−)) / ((θ + h) − (θ − h))` go to the one finite-difference core
//! ([`richardson`](super::richardson)) with the same steps as [`finite_diff`](super::finite_diff).
//! The rounding of ΔL scales with `Σ |Δf| (|f| + |y| + ½ |Δf|)`: r is a difference of f and y, and
//! at a perfect fit it is all rounding, however small it is.
//!
//! These updates are exact only while no relu input crosses 0. Every relu input is affine in one
//! parameter (layer 2's through h1, while layer 1 keeps its signs), so the distance to the
//! nearest kink along each element is known in O(B) (`*_reach`), and the first step is at most
//! half of it: an element near a kink takes the same few cheap steps as any other, never a slow
//! path. Every step still applies the generic oracle's test (each relu input at θ − h, θ and
//! θ + h must share a strict sign) and a step that fails it is not used. Only an element at a
//! kink (distance 0) has its quotient taken from two full forward passes, for the report; it is
//! marked not comparable.
//! Nothing here calls a backward: it evaluates the forward function, only more cheaply.

use ndarray::{Array1, Array2, Dimension, Zip};
use rayon::prelude::*;

use super::finite_diff::{self, FdConfig, FdGradient};
use super::richardson::{self, Estimate, Sample, Steps};
use crate::error::Result;
use crate::mlp::{self, MlpParams};
use crate::tape::Wrt;

/// The recorded forward pass, and what the updates need.
struct Forward<'a> {
    p: &'a MlpParams,
    x: &'a Array2<f64>,
    y: &'a Array2<f64>,
    a1: Array2<f64>,
    m1: Array2<f64>,
    h1: Array2<f64>,
    a2: Array2<f64>,
    m2: Array2<f64>,
    h2: Array2<f64>,
    r: Array2<f64>,
    /// `|f| + |y|`: what the rounding of r scales with.
    r_size: Array2<f64>,
}

/// What the first layer's updates share: `G_j` and the kink distances of layer 2.
struct FirstLayer<'g> {
    /// `G[j][b, :]`: the change of f's row b per unit change of `h1[b, j]`.
    g: &'g [Array2<f64>],
    /// `reach[j][b] = (up, down)`: `h1[b, j]` may rise by less than `up` (fall by less than
    /// `down`) with every relu input of layer 2 in row b keeping its strict sign.
    reach: &'g [Vec<(f64, f64)>],
}

/// The finite-difference gradients of the network's loss with respect to W1, b1, W2, b2, W3, b3
/// (Eq. 35's order), as [`finite_diff::gradients`](super::finite_diff::gradients) would give them
/// on the recorded network, in a fraction of its time.
pub fn network_gradients(
    p: &MlpParams,
    x: &Array2<f64>,
    y: &Array2<f64>,
    config: FdConfig,
) -> Result<[FdGradient; 6]> {
    // The tape checks every shape and value (and names what does not fit).
    finite_diff::check_config(config)?;
    mlp::loss_and_grads(p, x, y, Wrt::Params).map(drop)?;
    let fw = Forward::new(p, x, y);
    // Between kinks the loss is a quadratic in any one parameter (affine layers, fixed relu
    // masks, squared error): one smooth quotient is exact to its rounding, whose bound sees every
    // value subtracted (r's own through |f| + |y|).
    let step = Steps {
        look_ahead: false,
        quadratic: true,
        ..config.steps()
    };
    // G[j][b][c]: the change of f[b, c] per unit change of h1[b, j], off the kinks; and how far
    // h1[b, j] may move either way before a relu input of layer 2 reaches 0.
    let g: Vec<Array2<f64>> = (0..p.w1.ncols())
        .into_par_iter()
        .map(|j| (&fw.m2 * &p.w2.row(j)).dot(&p.w3))
        .collect();
    let reach: Vec<Vec<(f64, f64)>> = (0..p.w1.ncols()).into_par_iter().map(|j| fw.reach(j)).collect();
    let first = FirstLayer { g: &g, reach: &reach };
    let w1 = estimates(&p.w1, step, |(i, j), d| match d {
        Move::By(d) => Reply::Delta(fw.first_layer(&first, j, d, Some(i))),
        Move::Reach => Reply::Reach(fw.first_layer_reach(&first, j, Some(i))),
    });
    let b1 = estimates_1d(&p.b1, step, |j, d| match d {
        Move::By(d) => Reply::Delta(fw.first_layer(&first, j, d, None)),
        Move::Reach => Reply::Reach(fw.first_layer_reach(&first, j, None)),
    });
    let w2 = estimates(&p.w2, step, |(j, k), d| match d {
        Move::By(d) => Reply::Delta(fw.second_layer(k, d, Some(j))),
        Move::Reach => Reply::Reach(fw.second_layer_reach(k, Some(j))),
    });
    let b2 = estimates_1d(&p.b2, step, |k, d| match d {
        Move::By(d) => Reply::Delta(fw.second_layer(k, d, None)),
        Move::Reach => Reply::Reach(fw.second_layer_reach(k, None)),
    });
    let w3 = estimates(&p.w3, step, |(k, c), d| match d {
        Move::By(d) => Reply::Delta(Some(fw.third_layer(c, d, Some(k)))),
        Move::Reach => Reply::Reach(f64::INFINITY),
    });
    let b3 = estimates_1d(&p.b3, step, |c, d| match d {
        Move::By(d) => Reply::Delta(Some(fw.third_layer(c, d, None))),
        Move::Reach => Reply::Reach(f64::INFINITY),
    });
    let mut out = [w1, b1, w2, b2, w3, b3];
    // Elements with no smooth step: their quotient from full forward passes at the first step,
    // for the report; they are marked not comparable.
    for (which, grad) in out.iter_mut().enumerate() {
        for ((index, value), smooth) in grad.values.indexed_iter_mut().zip(grad.smooth.iter()) {
            if !*smooth && !value.is_finite() {
                *value = fw.full_quotient(which, index.slice(), step)?;
            }
        }
    }
    Ok(out)
}

/// What a parameter element is asked: ΔL for a move by δ, or how far it may move either way
/// with every relu input keeping its strict sign.
#[derive(Debug, Clone, Copy)]
enum Move {
    By(f64),
    Reach,
}

/// The answer: `(ΔL, its magnitude)` (`None` at a kink), or the reach.
enum Reply {
    Delta(Option<(f64, f64)>),
    Reach(f64),
}

/// Estimates for every element of a matrix parameter, in parallel over rows.
fn estimates(
    theta: &Array2<f64>,
    step: Steps,
    delta_loss: impl Fn((usize, usize), Move) -> Reply + Sync,
) -> FdGradient {
    let (rows, cols) = theta.dim();
    let flat: Vec<Estimate> = (0..rows)
        .into_par_iter()
        .flat_map_iter(|i| (0..cols).map(move |j| (i, j)).collect::<Vec<_>>())
        .map(|(i, j)| quotient(theta[[i, j]], step, |d| delta_loss((i, j), d)))
        .collect();
    gradient(theta.shape(), flat)
}

/// Estimates for every element of a vector parameter.
fn estimates_1d(
    theta: &Array1<f64>,
    step: Steps,
    delta_loss: impl Fn(usize, Move) -> Reply + Sync,
) -> FdGradient {
    let flat: Vec<Estimate> = (0..theta.len())
        .into_par_iter()
        .map(|k| quotient(theta[k], step, |d| delta_loss(k, d)))
        .collect();
    gradient(theta.shape(), flat)
}

fn gradient(shape: &[usize], flat: Vec<Estimate>) -> FdGradient {
    FdGradient::from_estimates(shape, &flat)
}

/// The estimate at θ from `delta_loss`. The first step is at most half the distance to the
/// nearest kink, so that no step is wasted on one (each step still applies the test).
fn quotient(theta: f64, mut steps: Steps, delta_loss: impl Fn(Move) -> Reply) -> Estimate {
    let scale = theta.abs().max(1.0);
    if let Reply::Reach(reach) = delta_loss(Move::Reach) {
        steps.first = steps.first.min(KINK_MARGIN * reach / scale);
    }
    let delta = |d: f64| match delta_loss(Move::By(d)) {
        Reply::Delta(delta) => delta,
        Reply::Reach(_) => None,
    };
    let estimate = richardson::estimate(theta, steps, |plus, minus| {
        Ok::<_, std::convert::Infallible>(match (delta(plus - theta), delta(minus - theta)) {
            (Some((up, m_up)), Some((down, m_down))) => Sample {
                difference: up - down,
                magnitude: m_up + m_down,
                smooth: true,
            },
            _ => Sample::KINK,
        })
    });
    match estimate {
        Ok(e) => e,
        Err(never) => match never {},
    }
}

/// The first step is at most this fraction of the distance to the nearest kink.
const KINK_MARGIN: f64 = 0.5;

/// `a · (a + Δ) > 0`: the relu input keeps a strict sign from a to a + Δ.
fn keeps_sign(a: f64, delta: f64) -> bool {
    a * (a + delta) > 0.0
}

impl<'a> Forward<'a> {
    fn new(p: &'a MlpParams, x: &'a Array2<f64>, y: &'a Array2<f64>) -> Self {
        let mask = |a: &Array2<f64>| a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 });
        let a1 = x.dot(&p.w1) + &p.b1;
        let (m1, h1) = (mask(&a1), a1.mapv(|v| v.max(0.0)));
        let a2 = h1.dot(&p.w2) + &p.b2;
        let (m2, h2) = (mask(&a2), a2.mapv(|v| v.max(0.0)));
        let f = h2.dot(&p.w3) + &p.b3;
        let r = &f - y;
        let r_size = f.mapv(f64::abs) + y.mapv(f64::abs);
        Forward {
            p,
            x,
            y,
            a1,
            m1,
            h1,
            a2,
            m2,
            h2,
            r,
            r_size,
        }
    }

    /// ΔL and its magnitude when row b of f moves by `df` (any iterator of D3 values).
    fn row_delta(&self, b: usize, df: impl Iterator<Item = f64>) -> (f64, f64) {
        self.r
            .row(b)
            .iter()
            .zip(self.r_size.row(b))
            .zip(df)
            .fold((0.0, 0.0), |(s, m), ((r, size), d)| {
                (s + d * (r + 0.5 * d), m + d.abs() * (size + 0.5 * d.abs()))
            })
    }

    /// W3[k, c] (with `k`) or b3[c] moved by δ.
    fn third_layer(&self, c: usize, delta: f64, k: Option<usize>) -> (f64, f64) {
        (0..self.r.nrows()).fold((0.0, 0.0), |(s, m), b| {
            let d = delta * k.map_or(1.0, |k| self.h2[[b, k]]);
            let term = d * (self.r[[b, c]] + 0.5 * d);
            (s + term, m + d.abs() * (self.r_size[[b, c]] + 0.5 * d.abs()))
        })
    }

    /// W2[j, k] (with `j`) or b2[k] moved by δ; `None` at a kink.
    fn second_layer(&self, k: usize, delta: f64, j: Option<usize>) -> Option<(f64, f64)> {
        let w3 = self.p.w3.row(k);
        let mut total = (0.0, 0.0);
        for b in 0..self.r.nrows() {
            let da2 = delta * j.map_or(1.0, |j| self.h1[[b, j]]);
            if da2 == 0.0 {
                continue;
            }
            if !keeps_sign(self.a2[[b, k]], da2) {
                return None;
            }
            let dh2 = self.m2[[b, k]] * da2;
            let (s, m) = self.row_delta(b, w3.iter().map(|w| dh2 * w));
            total = (total.0 + s, total.1 + m);
        }
        Some(total)
    }

    /// For each row b: how far `h1[b, j]` may rise and fall before some `a2[b, k]` reaches 0.
    /// A move u changes `a2[b, k]` by `u W2[j, k]`, which crosses 0 when it opposes `a2[b, k]` and
    /// `|u| ≥ |a2[b, k] / W2[j, k]|`; an `a2[b, k]` at exactly 0 is at the kink already.
    fn reach(&self, j: usize) -> Vec<(f64, f64)> {
        let w2 = self.p.w2.row(j);
        self.a2
            .rows()
            .into_iter()
            .map(|a2| {
                Zip::from(&a2)
                    .and(&w2)
                    .fold((f64::INFINITY, f64::INFINITY), |(up, down), &a, &w| {
                        let distance = if a == 0.0 { 0.0 } else { (a / w).abs() };
                        match a * w {
                            _ if a == 0.0 => (0.0, 0.0),
                            aw if aw < 0.0 => (up.min(distance), down),
                            aw if aw > 0.0 => (up, down.min(distance)),
                            _ => (up, down),
                        }
                    })
            })
            .collect()
    }

    /// How far W1[i, j] (with `i`) or b1[j] may move with no relu input of either layer
    /// reaching 0: `|a1[b, j]| / |x[b, i]|`, and where unit j is active the reach of `h1[b, j]`
    /// over `|x[b, i]|`, the least over the rows.
    fn first_layer_reach(&self, first: &FirstLayer<'_>, j: usize, i: Option<usize>) -> f64 {
        (0..self.r.nrows()).fold(f64::INFINITY, |least, b| {
            let x = i.map_or(1.0, |i| self.x[[b, i]]).abs();
            if x == 0.0 {
                return least;
            }
            let (up, down) = first.reach[j][b];
            let layer2 = if self.m1[[b, j]] > 0.0 {
                up.min(down)
            } else {
                f64::INFINITY
            };
            least.min(self.a1[[b, j]].abs().min(layer2) / x)
        })
    }

    /// How far W2[j, k] (with `j`) or b2[k] may move with no relu input of layer 2 reaching 0.
    fn second_layer_reach(&self, k: usize, j: Option<usize>) -> f64 {
        (0..self.r.nrows()).fold(f64::INFINITY, |least, b| {
            let h = j.map_or(1.0, |j| self.h1[[b, j]]).abs();
            if h == 0.0 {
                least
            } else {
                least.min(self.a2[[b, k]].abs() / h)
            }
        })
    }

    /// W1[i, j] (with `i`) or b1[j] moved by δ; `None` at a kink in either hidden layer.
    fn first_layer(
        &self,
        first: &FirstLayer<'_>,
        j: usize,
        delta: f64,
        i: Option<usize>,
    ) -> Option<(f64, f64)> {
        let mut total = (0.0, 0.0);
        for b in 0..self.r.nrows() {
            let da1 = delta * i.map_or(1.0, |i| self.x[[b, i]]);
            if da1 == 0.0 {
                continue;
            }
            if !keeps_sign(self.a1[[b, j]], da1) {
                return None;
            }
            let u = self.m1[[b, j]] * da1;
            if u == 0.0 {
                continue;
            }
            let (up, down) = first.reach[j][b];
            if (u > 0.0 && u >= up) || (u < 0.0 && -u >= down) {
                return None;
            }
            let (s, m) = self.row_delta(b, first.g[j].row(b).iter().map(|gv| u * gv));
            total = (total.0 + s, total.1 + m);
        }
        Some(total)
    }

    /// The quotient for parameter `which` (Eq. 35's order) at `index` from two full forward
    /// passes: the generic oracle's way, for the elements with a kink in reach.
    fn full_quotient(&self, which: usize, index: &[usize], step: Steps) -> Result<f64> {
        let mut q = self.p.clone();
        let theta = *element(&mut q, which, index);
        let h = step.first * theta.abs().max(1.0);
        let (plus, minus) = (theta + h, theta - h);
        let mut loss_at = |v: f64| -> Result<f64> {
            *element(&mut q, which, index) = v;
            Ok(mlp::loss_and_grads(&q, self.x, self.y, Wrt::Params)?.loss)
        };
        Ok((loss_at(plus)? - loss_at(minus)?) / (plus - minus))
    }
}

/// The element at `index` of parameter `which` in Eq. 35's order (W1, b1, W2, b2, W3, b3).
fn element<'p>(p: &'p mut MlpParams, which: usize, index: &[usize]) -> &'p mut f64 {
    match which {
        0 => &mut p.w1[[index[0], index[1]]],
        1 => &mut p.b1[index[0]],
        2 => &mut p.w2[[index[0], index[1]]],
        3 => &mut p.b2[index[0]],
        4 => &mut p.w3[[index[0], index[1]]],
        _ => &mut p.b3[index[0]],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_sign_is_the_generic_smoothness_test() {
        assert!(keeps_sign(0.5, -0.4));
        assert!(!keeps_sign(0.5, -0.5));
        assert!(!keeps_sign(0.0, 0.1));
        assert!(keeps_sign(-1.0, 0.99));
    }
}
