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
//! On x86-64 the sample's loops run compiled for AVX2 where the processor has it (four lanes per
//! instruction instead of two): the same operations in the same order, never a fused
//! multiply-add, so the same bits on every machine.
//!
//! These updates are exact only while no relu input crosses 0. Every relu input is affine in one
//! parameter (layer 2's through h1, while layer 1 keeps its signs), so the distance to the
//! nearest kink along each element is known in O(B) (`least_ratio`), and the first step is at most
//! half of it: an element near a kink takes the same few cheap steps as any other, never a slow
//! path. Every step still applies the generic oracle's test (each relu input at θ − h, θ and
//! θ + h must share a strict sign) and a step that fails it is not used. Only an element at a
//! kink (distance 0) has its quotient taken from two full forward passes, for the report; it is
//! marked not comparable.
//! Nothing here calls a backward: it evaluates the forward function, only more cheaply.

mod row_update;

use std::ops::Range;

use ndarray::{Array1, Array2};
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
    /// The rows of a2 and of W2.
    a2_rows: Rows,
    w2: Rows,
    /// Columns of x, a1, m1, h1, a2, m2 and h2 (the masks are 1 where the relu is active).
    x_cols: Rows,
    a1_cols: Rows,
    m1_cols: Rows,
    h1_cols: Rows,
    a2_cols: Rows,
    m2_cols: Rows,
    h2_cols: Rows,
    /// `|a2|` by columns: how far each relu input of layer 2 is from its kink.
    a2_size: Rows,
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
    /// B ones: the column a bias is multiplied by.
    ones: Vec<f64>,
    /// B infinities: how far h2 may move before a later relu input reaches 0 (there is none).
    unbounded: Vec<f64>,
}

/// How one element's moves reach f through the outputs of one relu layer: row b's input
/// `a[b]` moves by `δ by[b]`, its output by `u_b = m[b] δ by[b]` (m the mask), and row b of f by
/// `u_b g_b`.
struct Update<'u> {
    /// `[a, m, by]` per row.
    input: [&'u [f64]; 3],
    /// How far the output may rise and fall per row with every later relu input keeping its
    /// strict sign.
    reach: [&'u [f64]; 2],
    /// `g_b = g[b · stride..][..D3]` (stride 0: one row for every b).
    g: &'u [f64],
    stride: usize,
    /// The rounding size of row b of f moved along `g_b`.
    size: &'u [RowSize],
}

/// What the updates of one unit j of the first hidden layer share.
struct Unit<'g> {
    /// `G_j` by rows: row b is the change of f's row b per unit change of `h1[b, j]`.
    g: &'g [f64],
    /// The rounding size of row b of f moved along `G_j[b, :]`.
    size: Vec<RowSize>,
    /// `h1[b, j]` may rise by less than `up[b]` (fall by less than `down[b]`) with every relu
    /// input of layer 2 in row b keeping its strict sign.
    up: Vec<f64>,
    down: Vec<f64>,
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
    mlp::record(p, x.view(), y.view()).map(drop)?;
    let fw = Forward::new(p, x, y);
    // Between kinks the loss is a quadratic in any one parameter (affine layers, fixed relu
    // masks, squared error): one smooth quotient is exact to its rounding, whose bound sees every
    // value subtracted (r's own through |f| + |y|).
    let step = Steps {
        look_ahead: false,
        quadratic: true,
        ..config.steps()
    };
    let g = fw.first_layer_g();
    let units: Vec<Unit> = (0..p.w1.ncols())
        .into_par_iter()
        .map(|j| fw.unit(g.row(j), j))
        .collect();
    let w1 = estimates(
        &p.w1,
        step,
        |(i, j)| least_ratio(&units[j].limit, fw.x_cols.row(i)),
        |(i, j), moves| fw.sample(&fw.first_layer(&units[j], j, fw.x_cols.row(i)), moves),
    );
    let b1 = estimates_1d(
        &p.b1,
        step,
        |j| least_ratio(&units[j].limit, &fw.ones),
        |j, moves| fw.sample(&fw.first_layer(&units[j], j, &fw.ones), moves),
    );
    let w2 = estimates(
        &p.w2,
        step,
        |(j, k)| least_ratio(fw.a2_size.row(k), fw.h1_cols.row(j)),
        |(j, k), moves| fw.sample(&fw.second_layer(k, fw.h1_cols.row(j)), moves),
    );
    let b2 = estimates_1d(
        &p.b2,
        step,
        |k| least_ratio(fw.a2_size.row(k), &fw.ones),
        |k, moves| fw.sample(&fw.second_layer(k, &fw.ones), moves),
    );
    let w3 = estimates(
        &p.w3,
        step,
        |_| f64::INFINITY,
        |(k, c), moves| fw.third_layer(c, fw.h2_cols.row(k), moves),
    );
    let b3 = estimates_1d(
        &p.b3,
        step,
        |_| f64::INFINITY,
        |c, moves| fw.third_layer(c, &fw.ones, moves),
    );
    let mut out = [w1, b1, w2, b2, w3, b3];
    // Elements with no smooth step: their quotient from full forward passes at the first step,
    // for the report; they are marked not comparable.
    for (which, grad) in out.iter_mut().enumerate() {
        let at_kink: Vec<usize> = (grad.values.iter().zip(&grad.smooth).enumerate())
            .filter(|(_, (value, smooth))| !**smooth && !value.is_finite())
            .map(|(n, _)| n)
            .collect();
        for n in at_kink {
            let index = unravel(n, grad.values.shape());
            grad.values[index.as_slice()] = fw.full_quotient(which, &index, step)?;
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
#[inline(always)]
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

/// Rows b per product of [`Forward::first_layer_g`].
const G_ROWS: usize = 8;

/// Rows whose moves are found at a time, on the stack.
const BLOCK: usize = 32;

/// The moves of a relu layer's output in `rows` (at most [`BLOCK`]) for the two moves δ of one
/// element: its input `a[b]` moves by `δ by[b]`, and with the mask `m` its output by
/// `u[s][n] = m[b] δ_s by[b]` for row `b = rows.start + n`. False if some input would not keep
/// its strict sign (a zero move keeps it), or some output would rise by `up[b]` or fall by
/// `down[b]`.
#[inline(always)]
fn block_moves(
    rows: Range<usize>,
    [a, m, by]: [&[f64]; 3],
    [up, down]: [&[f64]; 2],
    moves: [f64; 2],
    u: &mut [[f64; BLOCK]; 2],
) -> bool {
    let mut kink = false;
    let (a, m, by) = (&a[rows.clone()], &m[rows.clone()], &by[rows.clone()]);
    let (up, down) = (&up[rows.clone()], &down[rows]);
    for (u, delta) in u.iter_mut().zip(moves) {
        let inputs = a.iter().zip(m).zip(by).zip(up.iter().zip(down));
        for (u, (((a, m), by), (up, down))) in u.iter_mut().zip(inputs) {
            let da = delta * by;
            let v = m * da;
            kink |= (da != 0.0) & !keeps_sign(*a, da);
            kink |= ((v > 0.0) & (v >= *up)) | ((v < 0.0) & (-v >= *down));
            *u = v;
        }
    }
    !kink
}

/// `min_b limit[b] / |by[b]|` over the rows where `by[b] ≠ 0` (∞ where there are none): how
/// far an element may move when it moves row b's relu input by `by[b]` per unit, and that
/// input may move by less than `limit[b]`.
fn least_ratio(limit: &[f64], by: &[f64]) -> f64 {
    const LANES: usize = 4;
    let ratio = |limit: f64, by: f64| {
        let by = by.abs();
        if by == 0.0 { f64::INFINITY } else { limit / by }
    };
    let mut least = [f64::INFINITY; LANES];
    let (limits, limit_rest) = limit.as_chunks::<LANES>();
    let (bys, by_rest) = by.as_chunks::<LANES>();
    for (limit, by) in limits.iter().zip(bys) {
        for ((least, limit), by) in least.iter_mut().zip(limit).zip(by) {
            *least = least.min(ratio(*limit, *by));
        }
    }
    for ((least, limit), by) in least.iter_mut().zip(limit_rest).zip(by_rest) {
        *least = least.min(ratio(*limit, *by));
    }
    least.into_iter().fold(f64::INFINITY, f64::min)
}

/// How far `h1[b, j]` may rise and fall before some `a2[b, k]` reaches 0, from row b of a2 and
/// row j of W2. A move u changes `a2[b, k]` by `u W2[j, k]`, which crosses 0 when it opposes
/// `a2[b, k]` and `|u| ≥ |a2[b, k] / W2[j, k]|`; an `a2[b, k]` at exactly 0 is at the kink
/// already.
fn reach(a2: &[f64], w2: &[f64]) -> (f64, f64) {
    const LANES: usize = 4;
    let (mut up, mut down) = ([f64::INFINITY; LANES], [f64::INFINITY; LANES]);
    let mut at_kink = false;
    let mut lane = |l: usize, a: f64, w: f64| {
        let (aw, distance) = (a * w, (a / w).abs());
        up[l] = up[l].min(if aw < 0.0 { distance } else { f64::INFINITY });
        down[l] = down[l].min(if aw > 0.0 { distance } else { f64::INFINITY });
        at_kink |= a == 0.0;
    };
    let (a_chunks, a_rest) = a2.as_chunks::<LANES>();
    let (w_chunks, w_rest) = w2.as_chunks::<LANES>();
    for (a, w) in a_chunks.iter().zip(w_chunks) {
        for l in 0..LANES {
            lane(l, a[l], w[l]);
        }
    }
    for (l, (a, w)) in a_rest.iter().zip(w_rest).enumerate() {
        lane(l, *a, *w);
    }
    if at_kink {
        (0.0, 0.0)
    } else {
        let least = |lanes: [f64; LANES]| lanes.into_iter().fold(f64::INFINITY, f64::min);
        (least(up), least(down))
    }
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
            a2_size: Rows::of(a2.mapv(f64::abs).t()),
            m2_cols: Rows::of(m2.t()),
            h2_cols: Rows::of(h2.t()),
            a2_rows: Rows::of(a2.view()),
            w2: Rows::of(p.w2.view()),
            r2: Rows::of(r2.view()),
            r2_cols: Rows::of(r2.t()),
            size: size_rows,
            size_cols: Rows::of(size.t()),
            w3,
            w3_size,
            ones: vec![1.0; x.nrows()],
            unbounded: vec![f64::INFINITY; x.nrows()],
        }
    }

    /// Every `G_j`, row j by rows b: `G_j[b, :] = (M2[b, :] ⊙ W2[j, :]) W3`, the change of f's
    /// row b per unit change of `h1[b, j]` off the kinks. One product `W2 V` with
    /// `V[k, (b, c)] = M2[b, k] W3[k, c]` (the mask is 0 or 1: V is exact), in blocks of rows b
    /// over the pool, each building and multiplying its own columns of V.
    fn first_layer_g(&self) -> Rows {
        let (w2, d3, batch) = (&self.p.w2, self.p.w3.ncols(), self.x.nrows());
        let blocks: Vec<Array2<f64>> = (0..batch.div_ceil(G_ROWS))
            .into_par_iter()
            .map(|block| {
                let rows = block * G_ROWS..batch.min((block + 1) * G_ROWS);
                let mut v = Vec::with_capacity(w2.ncols() * rows.len() * d3);
                for k in 0..w2.ncols() {
                    for m2 in &self.m2_cols.row(k)[rows.clone()] {
                        v.extend(self.w3.row(k).iter().map(|w3| m2 * w3));
                    }
                }
                let v = Array2::from_shape_vec((w2.ncols(), rows.len() * d3), v)
                    .expect("internal: V has D2 × B·D3 values");
                w2.dot(&v)
            })
            .collect();
        let mut data = Vec::with_capacity(w2.nrows() * batch * d3);
        for j in 0..w2.nrows() {
            for block in &blocks {
                data.extend(block.row(j));
            }
        }
        Rows::new(data, batch * d3)
    }

    /// What unit j of layer 1 shares: `G_j` (by rows b) and its kink distances.
    fn unit<'g>(&self, g: &'g [f64], j: usize) -> Unit<'g> {
        let d3 = self.p.w3.ncols();
        let batch = 0..self.x.nrows();
        let size = batch
            .map(|b| RowSize::of(&g[b * d3..][..d3], self.size.row(b)))
            .collect();
        let (up, down): (Vec<f64>, Vec<f64>) = (0..self.x.nrows())
            .map(|b| reach(self.a2_rows.row(b), self.w2.row(j)))
            .unzip();
        let (a1, m1) = (self.a1_cols.row(j), self.m1_cols.row(j));
        let limit = (0..a1.len())
            .map(|b| {
                let layer2 = if m1[b] > 0.0 {
                    up[b].min(down[b])
                } else {
                    f64::INFINITY
                };
                a1[b].abs().min(layer2)
            })
            .collect();
        Unit {
            g,
            size,
            up,
            down,
            limit,
        }
    }

    /// W3[k, c] (with column k of h2) or b3[c] moved by δ₊ and δ₋: column c of f moves by
    /// `δ h2[:, k]` (or δ), the same update as a row's, along a column.
    fn third_layer(&self, c: usize, h2: &[f64], moves: [f64; 2]) -> Sample {
        let (r2, size) = (self.r2_cols.row(c), self.size_cols.row(c));
        let mut sums = Sums::ZERO;
        sums.add_row(moves, h2, r2);
        smooth_sample(&sums, RowSize::of(h2, size).magnitude(moves))
    }

    /// W2[j, k] (with column j of h1) or b2[k] moved by δ: column k of a2 moves by `δ h1[:, j]`
    /// (or δ), and off the kinks row b of f by `u_b W3[k, :]`, `u_b = M2[b, k] δ h1[b, j]`.
    fn second_layer<'u>(&'u self, k: usize, h1: &'u [f64]) -> Update<'u> {
        Update {
            input: [self.a2_cols.row(k), self.m2_cols.row(k), h1],
            reach: [&self.unbounded, &self.unbounded],
            g: self.w3.row(k),
            stride: 0,
            size: &self.w3_size[k],
        }
    }

    /// W1[i, j] (with column i of x) or b1[j] moved by δ: column j of a1 moves by `δ x[:, i]`
    /// (or δ), and off the kinks row b of f by `u_b G_j[b, :]`, `u_b = M1[b, j] δ x[b, i]`.
    fn first_layer<'u>(&'u self, unit: &'u Unit<'u>, j: usize, x: &'u [f64]) -> Update<'u> {
        Update {
            input: [self.a1_cols.row(j), self.m1_cols.row(j), x],
            reach: [&unit.up, &unit.down],
            g: unit.g,
            stride: self.p.w3.ncols(),
            size: &unit.size,
        }
    }

    /// The sample of `update` at both moves, compiled for AVX2 where the processor has it.
    fn sample(&self, update: &Update<'_>, moves: [f64; 2]) -> Sample {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("avx2") {
            // SAFETY: `sample_avx2` requires AVX2, which the processor has (detected just above).
            return unsafe { self.sample_avx2(update, moves) };
        }
        self.sample_any(update, moves)
    }

    /// [`Self::sample_any`] compiled with AVX2: four lanes per instruction instead of two, the
    /// same operations in the same order (a multiply and an add are never fused), so the same
    /// bits.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    fn sample_avx2(&self, update: &Update<'_>, moves: [f64; 2]) -> Sample {
        self.sample_any(update, moves)
    }

    /// ΔL at both moves of one element, whose moves reach f through one relu layer
    /// ([`Update`]), and its rounding magnitude; a kink sample where a relu input would not keep
    /// its strict sign.
    #[inline(always)]
    fn sample_any(&self, update: &Update<'_>, moves: [f64; 2]) -> Sample {
        let batch = update.size.len();
        let d3 = self.p.w3.ncols();
        let (mut sums, mut magnitude) = (Sums::ZERO, 0.0);
        let mut u = [[0.0; BLOCK]; 2];
        for start in (0..batch).step_by(BLOCK) {
            let rows = start..batch.min(start + BLOCK);
            if !block_moves(rows.clone(), update.input, update.reach, moves, &mut u) {
                return Sample::KINK;
            }
            for (n, b) in rows.enumerate() {
                let u = [u[0][n], u[1][n]];
                if u != [0.0; 2] {
                    let g = &update.g[b * update.stride..][..d3];
                    sums.add_row(u, g, self.r2.row(b));
                    magnitude += update.size[b].magnitude(u);
                }
            }
        }
        smooth_sample(&sums, magnitude)
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

/// The index of the n-th element, in row-major order, of an array of `shape`.
fn unravel(mut n: usize, shape: &[usize]) -> Vec<usize> {
    let mut index = vec![0; shape.len()];
    for (i, &len) in index.iter_mut().zip(shape).rev() {
        *i = n % len;
        n /= len;
    }
    index
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

    use crate::random;

    /// A random network of widths `[d, d, d, d / 4]` and its data, over a batch of `batch`.
    fn network(seed: u64, batch: usize, d: usize) -> (MlpParams, Array2<f64>, Array2<f64>) {
        let mut rng = random::case_rng(seed, 41);
        let p = random::mlp_params(&mut rng, [d, d, d, (d / 4).max(1)]);
        let x = random::normal_matrix(&mut rng, batch, d);
        let y = random::normal_matrix(&mut rng, batch, (d / 4).max(1));
        (p, x, y)
    }

    #[test]
    fn every_path_of_a_sample_gives_the_same_bits() {
        // Batches past one block, widths with and without a remainder of lanes.
        for (seed, batch, d) in [(1, 5, 8), (2, 40, 12), (3, 33, 36)] {
            let (p, x, y) = network(seed, batch, d);
            let fw = Forward::new(&p, &x, &y);
            let g = fw.first_layer_g();
            let mut smooth = 0;
            for j in 0..d {
                let unit = fw.unit(g.row(j), j);
                for i in 0..d {
                    for update in [
                        fw.first_layer(&unit, j, fw.x_cols.row(i)),
                        fw.second_layer(i, fw.h1_cols.row(j)),
                    ] {
                        let moves = [1e-3, -1e-3 * (1.0 + f64::EPSILON)];
                        let (any, dispatched) = (fw.sample_any(&update, moves), fw.sample(&update, moves));
                        assert_eq!(any.difference.to_bits(), dispatched.difference.to_bits());
                        assert_eq!(any.magnitude.to_bits(), dispatched.magnitude.to_bits());
                        smooth += usize::from(any.smooth);
                    }
                }
            }
            assert!(smooth > d * d, "most samples are smooth: {smooth}");
        }
    }

    #[test]
    fn a_sample_is_the_change_of_the_loss_within_its_rounding() {
        let (p, x, y) = network(4, 6, 8);
        let fw = Forward::new(&p, &x, &y);
        let g = fw.first_layer_g();
        let loss = |q: &MlpParams| mlp::loss_and_grads(q, &x, &y, Wrt::Params).unwrap().loss;
        let (i, j, delta) = (3, 5, 1e-6);
        let unit = fw.unit(g.row(j), j);
        for (which, update) in [
            (0, fw.first_layer(&unit, j, fw.x_cols.row(i))),
            (2, fw.second_layer(j, fw.h1_cols.row(i))),
        ] {
            let s = fw.sample(&update, [delta, -delta]);
            assert!(s.smooth);
            let mut q = p.clone();
            let theta = *element(&mut q, which, &[i, j]);
            *element(&mut q, which, &[i, j]) = theta + delta;
            let up = loss(&q);
            *element(&mut q, which, &[i, j]) = theta - delta;
            let down = loss(&q);
            // Two full losses round at the scale of L itself; the sample only at its terms'.
            let bound = 64.0 * f64::EPSILON * (loss(&p).abs() + s.magnitude);
            assert!(
                (s.difference - (up - down)).abs() <= bound,
                "{which}: {s:?} vs {}",
                up - down
            );
            assert!(s.difference != 0.0);
        }
    }

    #[test]
    fn a_move_across_a_kink_or_past_the_reach_is_a_kink_sample() {
        let (a, m, by) = ([0.5, -0.25, 0.0], [1.0, 0.0, 0.0], [1.0, 2.0, 0.0]);
        let (up, down) = ([1.0; 3], [0.75; 3]);
        let mut u = [[0.0; BLOCK]; 2];
        // a[2] = 0 is not moved (by 0): no kink; a[1] = −0.25 falls by 0.2 and rises by 0.2.
        assert!(block_moves(
            0..3,
            [&a, &m, &by],
            [&up, &down],
            [0.1, -0.1],
            &mut u
        ));
        assert_eq!(u[0][..3], [0.1, 0.0, 0.0]);
        assert_eq!(u[1][..3], [-0.1, -0.0, 0.0]);
        // a[1] + 2 · 0.125 = 0: not a strict sign.
        assert!(!block_moves(
            0..3,
            [&a, &m, &by],
            [&up, &down],
            [0.125, -0.1],
            &mut u
        ));
        // a[0] falls by 0.75 = down[0] (and would cross 0 too); by 0.74 its output stays in reach.
        let far = [10.0, -0.25, 0.0];
        assert!(!block_moves(
            0..1,
            [&far, &m, &by],
            [&up, &down],
            [0.0, -0.75],
            &mut u
        ));
        assert!(block_moves(
            0..1,
            [&far, &m, &by],
            [&up, &down],
            [0.0, -0.74],
            &mut u
        ));
    }

    #[test]
    fn the_least_ratio_and_the_reach_are_their_definitions() {
        let mut rng = random::case_rng(9, 9);
        let values = random::normal_matrix(&mut rng, 4, 11);
        let (mut a, w) = (values.row(0).to_vec(), values.row(1).to_vec());
        let (limit, mut by) = (values.row(2).mapv(f64::abs).to_vec(), values.row(3).to_vec());
        by[3] = 0.0;
        let least = (0..11)
            .filter(|&b| by[b] != 0.0)
            .map(|b| limit[b] / by[b].abs())
            .fold(f64::INFINITY, f64::min);
        assert_eq!(least_ratio(&limit, &by), least);
        assert_eq!(least_ratio(&limit[..3], &[0.0; 3]), f64::INFINITY);
        let (up, down) = reach(&a, &w);
        for (a, w) in a.iter().zip(&w) {
            let distance = (a / w).abs();
            assert!(distance >= if a * w < 0.0 { up } else { down });
        }
        assert!(
            [up, down]
                .iter()
                .all(|r| (0..11).any(|k| (a[k] / w[k]).abs() == *r))
        );
        a[7] = 0.0;
        assert_eq!(reach(&a, &w), (0.0, 0.0));
    }

    #[test]
    fn unravel_is_row_major() {
        assert_eq!(unravel(7, &[3, 4]), [1, 3]);
        assert_eq!(unravel(2, &[5]), [2]);
    }

    #[test]
    fn keeps_sign_is_the_generic_smoothness_test() {
        assert!(keeps_sign(0.5, -0.4));
        assert!(!keeps_sign(0.5, -0.5));
        assert!(!keeps_sign(0.0, 0.1));
        assert!(keeps_sign(-1.0, 0.99));
    }
}
