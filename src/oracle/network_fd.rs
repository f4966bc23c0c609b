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
//! Both moves of a step (θ + h and θ − h) are evaluated in one pass over the rows, each in sums of
//! its own (`row_update`): ΔL(+) and ΔL(−) are two evaluations of the forward function that
//! share only their reads. Every loop reads consecutive memory (the columns it walks are copied
//! once), and a matrix's elements are taken a column at a time, so that one unit's `G_j` stays in
//! cache across its column.
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

mod row_update;

use ndarray::{Array1, Array2, Dimension, Zip};
use rayon::prelude::*;

use self::row_update::{RowSize, Rows, Sums};
use super::finite_diff::{self, FdConfig, FdGradient};
use super::richardson::{self, Estimate, Sample, Steps};
use crate::error::Result;
use crate::mlp::{self, MlpParams};
use crate::tape::Wrt;

/// The recorded forward pass, and what the updates need, each read along the index its loops
/// run over.
struct Forward<'a> {
    p: &'a MlpParams,
    x: &'a Array2<f64>,
    y: &'a Array2<f64>,
    a2: Array2<f64>,
    /// 1 where layer 2's relu is active.
    m2: Array2<f64>,
    /// Columns of x, a1, m1, h1, a2, m2 and h2 (the masks are 1 where the relu is active).
    x_cols: Rows,
    a1_cols: Rows,
    m1_cols: Rows,
    h1_cols: Rows,
    a2_cols: Rows,
    m2_cols: Rows,
    h2_cols: Rows,
    /// `2r = 2(f − y)` by rows and by columns.
    r2: Rows,
    r2_cols: Rows,
    /// `|f| + |y|` by rows and by columns: what the rounding of r scales with.
    size: Rows,
    size_cols: Rows,
    /// The rows of W3.
    w3: Rows,
    /// `[k][b]`: the rounding size of row b of f moved along W3's row k (a move of `h2[b, k]`).
    w3_size: Vec<Vec<RowSize>>,
}

/// What the updates of one unit j of the first hidden layer share.
struct Unit {
    /// `G_j` by rows: row b is the change of f's row b per unit change of `h1[b, j]`.
    g: Rows,
    /// The rounding size of row b of f moved along `G_j[b, :]`.
    size: Vec<RowSize>,
    /// `(up, down)`: `h1[b, j]` may rise by less than `up` (fall by less than `down`) with every
    /// relu input of layer 2 in row b keeping its strict sign.
    reach: Vec<(f64, f64)>,
    /// How far `a1[b, j]` may move with no relu input of either layer reaching 0: `|a1[b, j]|`,
    /// and where the unit is active the nearer of `up` and `down`.
    limit: Vec<f64>,
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
    let units: Vec<Unit> = (0..p.w1.ncols()).into_par_iter().map(|j| fw.unit(j)).collect();
    let w1 = estimates(
        &p.w1,
        step,
        |(i, j)| fw.first_layer_reach(&units[j], Some(fw.x_cols.row(i))),
        |(i, j), moves| fw.first_layer(&units[j], j, Some(fw.x_cols.row(i)), moves),
    );
    let b1 = estimates_1d(
        &p.b1,
        step,
        |j| fw.first_layer_reach(&units[j], None),
        |j, moves| fw.first_layer(&units[j], j, None, moves),
    );
    let w2 = estimates(
        &p.w2,
        step,
        |(j, k)| fw.second_layer_reach(k, Some(fw.h1_cols.row(j))),
        |(j, k), moves| fw.second_layer(k, Some(fw.h1_cols.row(j)), moves),
    );
    let b2 = estimates_1d(
        &p.b2,
        step,
        |k| fw.second_layer_reach(k, None),
        |k, moves| fw.second_layer(k, None, moves),
    );
    let w3 = estimates(
        &p.w3,
        step,
        |_| f64::INFINITY,
        |(k, c), moves| fw.third_layer(c, Some(fw.h2_cols.row(k)), moves),
    );
    let b3 = estimates_1d(
        &p.b3,
        step,
        |_| f64::INFINITY,
        |c, moves| fw.third_layer(c, None, moves),
    );
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

/// Estimates for every element of a matrix parameter, in parallel over columns (one column's
/// elements share the most: a unit of layer 1, or a row of W3), returned in row-major order.
fn estimates(
    theta: &Array2<f64>,
    step: Steps,
    reach: impl Fn((usize, usize)) -> f64 + Sync,
    sample: impl Fn((usize, usize), [f64; 2]) -> Sample + Sync,
) -> FdGradient {
    let (rows, cols) = theta.dim();
    let columns: Vec<Vec<Estimate>> = (0..cols)
        .into_par_iter()
        .map(|j| {
            (0..rows)
                .map(|i| {
                    let at = (i, j);
                    quotient(theta[at], step, reach(at), |moves| sample(at, moves))
                })
                .collect()
        })
        .collect();
    let flat: Vec<Estimate> = (0..rows)
        .flat_map(|i| columns.iter().map(move |column| column[i]))
        .collect();
    FdGradient::from_estimates(theta.shape(), &flat)
}

/// Estimates for every element of a vector parameter.
fn estimates_1d(
    theta: &Array1<f64>,
    step: Steps,
    reach: impl Fn(usize) -> f64 + Sync,
    sample: impl Fn(usize, [f64; 2]) -> Sample + Sync,
) -> FdGradient {
    let flat: Vec<Estimate> = (0..theta.len())
        .into_par_iter()
        .map(|k| quotient(theta[k], step, reach(k), |moves| sample(k, moves)))
        .collect();
    FdGradient::from_estimates(theta.shape(), &flat)
}

/// The estimate at θ, with `sample` giving ΔL at both moves `[(θ + h) − θ, (θ − h) − θ]` (a
/// kink sample where a relu input would not keep its sign). The first step is at most half the
/// distance `reach` to the nearest kink, so that no step is wasted on one (each step still
/// applies the test).
fn quotient(theta: f64, mut steps: Steps, reach: f64, sample: impl Fn([f64; 2]) -> Sample) -> Estimate {
    let scale = theta.abs().max(1.0);
    steps.first = steps.first.min(KINK_MARGIN * reach / scale);
    let estimate = richardson::estimate(theta, steps, |plus, minus| {
        Ok::<_, std::convert::Infallible>(sample([plus - theta, minus - theta]))
    });
    match estimate {
        Ok(e) => e,
        Err(never) => match never {},
    }
}

/// The sample of a smooth pair of moves: `ΔL(+) − ΔL(−)`, each summed on its own.
fn smooth_sample(sums: &Sums, magnitude: f64) -> Sample {
    let [up, down] = sums.delta_losses();
    Sample {
        difference: up - down,
        magnitude,
        smooth: true,
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
        let r2 = (&f - y) * 2.0;
        let size = f.mapv(f64::abs) + y.mapv(f64::abs);
        let (w3, size_rows) = (Rows::of(p.w3.view()), Rows::of(size.view()));
        let w3_size = (0..p.w3.nrows())
            .map(|k| {
                (0..x.nrows())
                    .map(|b| RowSize::of(w3.row(k), size_rows.row(b)))
                    .collect()
            })
            .collect();
        Forward {
            p,
            x,
            y,
            x_cols: Rows::of(x.t()),
            a1_cols: Rows::of(a1.t()),
            m1_cols: Rows::of(m1.t()),
            h1_cols: Rows::of(h1.t()),
            a2_cols: Rows::of(a2.t()),
            m2_cols: Rows::of(m2.t()),
            h2_cols: Rows::of(h2.t()),
            a2,
            m2,
            r2: Rows::of(r2.view()),
            r2_cols: Rows::of(r2.t()),
            size: size_rows,
            size_cols: Rows::of(size.t()),
            w3,
            w3_size,
        }
    }

    /// What unit j of layer 1 shares: `G_j[b, :] = (M2[b, :] ⊙ W2[j, :]) W3`, the change of f's
    /// row b per unit change of `h1[b, j]` off the kinks, and its kink distances.
    fn unit(&self, j: usize) -> Unit {
        let g = Rows::of((&self.m2 * &self.p.w2.row(j)).dot(&self.p.w3).view());
        let batch = 0..self.x.nrows();
        let size = batch.map(|b| RowSize::of(g.row(b), self.size.row(b))).collect();
        let reach = self.reach(j);
        let (a1, m1) = (self.a1_cols.row(j), self.m1_cols.row(j));
        let limit = reach
            .iter()
            .zip(a1.iter().zip(m1))
            .map(|(&(up, down), (a1, &m1))| {
                let layer2 = if m1 > 0.0 { up.min(down) } else { f64::INFINITY };
                a1.abs().min(layer2)
            })
            .collect();
        Unit {
            g,
            size,
            reach,
            limit,
        }
    }

    /// W3[k, c] (with column k of h2) or b3[c] moved by δ₊ and δ₋: column c of f moves by
    /// `δ h2[:, k]` (or δ).
    fn third_layer(&self, c: usize, h2: Option<&[f64]>, moves: [f64; 2]) -> Sample {
        let (r2, size) = (self.r2_cols.row(c), self.size_cols.row(c));
        let (mut sums, mut magnitude) = ([0.0; 2], 0.0);
        for (b, (r2, size)) in r2.iter().zip(size).enumerate() {
            let h = h2.map_or(1.0, |h2| h2[b]);
            for (sum, delta) in sums.iter_mut().zip(moves) {
                let d = delta * h;
                *sum += d * (r2 + d);
                magnitude += d.abs() * (size + 0.5 * d.abs());
            }
        }
        Sample {
            difference: 0.5 * sums[0] - 0.5 * sums[1],
            magnitude,
            smooth: true,
        }
    }

    /// W2[j, k] (with column j of h1) or b2[k] moved by δ₊ and δ₋: column k of a2 moves by
    /// `δ h1[:, j]` (or δ); a kink sample where a relu input of layer 2 would not keep its sign.
    fn second_layer(&self, k: usize, h1: Option<&[f64]>, moves: [f64; 2]) -> Sample {
        let (a2, m2) = (self.a2_cols.row(k), self.m2_cols.row(k));
        let (w3, size) = (self.w3.row(k), &self.w3_size[k]);
        let (mut sums, mut magnitude) = (Sums::ZERO, 0.0);
        for b in 0..a2.len() {
            let h = h1.map_or(1.0, |h1| h1[b]);
            let mut u = [0.0; 2];
            for (u, delta) in u.iter_mut().zip(moves) {
                let da2 = delta * h;
                if da2 == 0.0 {
                    continue;
                }
                if !keeps_sign(a2[b], da2) {
                    return Sample::KINK;
                }
                *u = m2[b] * da2;
            }
            if u != [0.0; 2] {
                sums.add_row(u, w3, self.r2.row(b));
                magnitude += size[b].magnitude(u);
            }
        }
        smooth_sample(&sums, magnitude)
    }

    /// W1[i, j] (with column i of x) or b1[j] moved by δ₊ and δ₋: column j of a1 moves by
    /// `δ x[:, i]` (or δ), and off the kinks row b of f by `u_b G_j[b, :]`, `u_b = M1[b, j]
    /// δ x[b, i]`; a kink sample where a relu input of either layer would not keep its sign.
    fn first_layer(&self, unit: &Unit, j: usize, x: Option<&[f64]>, moves: [f64; 2]) -> Sample {
        let (a1, m1) = (self.a1_cols.row(j), self.m1_cols.row(j));
        let (mut sums, mut magnitude) = (Sums::ZERO, 0.0);
        for b in 0..a1.len() {
            let x = x.map_or(1.0, |x| x[b]);
            let (up, down) = unit.reach[b];
            let mut u = [0.0; 2];
            for (u, delta) in u.iter_mut().zip(moves) {
                let da1 = delta * x;
                if da1 == 0.0 {
                    continue;
                }
                if !keeps_sign(a1[b], da1) {
                    return Sample::KINK;
                }
                *u = m1[b] * da1;
                if (*u > 0.0 && *u >= up) || (*u < 0.0 && -*u >= down) {
                    return Sample::KINK;
                }
            }
            if u != [0.0; 2] {
                sums.add_row(u, unit.g.row(b), self.r2.row(b));
                magnitude += unit.size[b].magnitude(u);
            }
        }
        smooth_sample(&sums, magnitude)
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

    /// How far W1[i, j] (with column i of x) or b1[j] may move with no relu input of either
    /// layer reaching 0: the unit's limit over `|x[b, i]|`, the least over the rows.
    fn first_layer_reach(&self, unit: &Unit, x: Option<&[f64]>) -> f64 {
        unit.limit
            .iter()
            .enumerate()
            .fold(f64::INFINITY, |least, (b, limit)| {
                let x = x.map_or(1.0, |x| x[b]).abs();
                if x == 0.0 { least } else { least.min(limit / x) }
            })
    }

    /// How far W2[j, k] (with column j of h1) or b2[k] may move with no relu input of layer 2
    /// reaching 0.
    fn second_layer_reach(&self, k: usize, h1: Option<&[f64]>) -> f64 {
        self.a2_cols
            .row(k)
            .iter()
            .enumerate()
            .fold(f64::INFINITY, |least, (b, a2)| {
                let h = h1.map_or(1.0, |h1| h1[b]).abs();
                if h == 0.0 { least } else { least.min(a2.abs() / h) }
            })
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
