//! maxpool2d, the maximum of each pool×pool window of the N×C×H×W images at step `stride`, no
//! padding (`crate::ops::maxpool2d`); the backward adds each window's gradient at the window's
//! argmax, so an input that is the maximum of several overlapping windows gets their sum.
//!
//! Its bugs: `pool_spread` (each window's gradient spread evenly over the window, average
//! pooling's backward) and `fanout_overwrite` (the argmax's gradient assigned, so that of
//! overlapping windows sharing a maximum only the last counts). Windows overlap (stride < pool)
//! and do not; inputs are distinct values, so no window has a tie and no finite-difference step
//! changes an argmax.

use std::sync::Arc;

use ndarray::{Array4, ArrayD, ArrayView4, Ix4};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::{IndexedRandom, SliceRandom};
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use super::embedding::overwritten;
use crate::catalogue::{AttrSpec, Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{MaxPool2d, Op};
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// maxpool2d on the wire: `x: N×C×H×W`, attributes `pool` and `stride`.
pub static SPEC: OpSpec = OpSpec {
    name: "maxpool2d",
    family: "images",
    dims: &["N", "C", "H", "W"],
    inputs: &[InputSpec::real("x", &["N", "C", "H", "W"])],
    attrs: &[
        AttrSpec {
            name: "pool",
            default: None,
            integer: true,
        },
        AttrSpec {
            name: "stride",
            default: None,
            integer: true,
        },
    ],
    grad_out: GradOut::Array(&["N", "C", "Ho", "Wo"]),
    extras: &[],
};

/// The window's gradient spread over it.
pub const POOL_SPREAD: Bug = Bug {
    code: "pool_spread",
    summary: "the gradient is spread over the window: you give every position dout/pool², average pooling's backward; max pooling's output is one input of its window, so all of dout goes to the window's argmax",
    explain: "\
pool_spread: max-pool's gradient spread over its window

out[n, c, i, j] = max of the pool×pool window at (i·stride, j·stride). Only the
maximum affects the output (the others can move a little without changing it), so
the whole gradient goes to the argmax:
    dx[n, c, argmax of window (i, j)] += dout[n, c, i, j],
summed where overlapping windows share an argmax. Your gradient gives every position
of the window dout/pool²: the backward of average pooling.

Typical wrong code:
    dx[n, c, r:r+pool, s:s+pool] += dout[n, c, i, j] / pool**2
Fix:
    window = x[n, c, r:r+pool, s:s+pool]
    p, q = np.unravel_index(window.argmax(), window.shape)
    dx[n, c, r + p, s + q] += dout[n, c, i, j]
",
    parameter: None,
};

/// The maxpool2d op.
pub struct MaxPool2dOp;

impl CourseOp for MaxPool2dOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [N, C, H, W]: non-square, N = 1 and N > 1.
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[
            &[1, 1, 4, 4],
            &[2, 3, 5, 3],
            &[1, 2, 6, 5],
            &[3, 1, 3, 3],
            &[2, 2, 2, 7],
        ]
    }

    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(MaxPool2d {
            pool: attrs[0] as usize,
            stride: attrs[1] as usize,
        })
    }

    /// Window and step drawn among those up to 3 that fit the shape, overlapping half the time
    /// where they can.
    fn draw_attrs(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Vec<f64> {
        let (h, w) = (dims[2], dims[3]);
        let fits = |pool: usize, stride: usize| {
            [h, w]
                .iter()
                .all(|&len| len.checked_sub(pool).is_some_and(|span| span % stride == 0))
        };
        let all: Vec<(usize, usize)> = (1..=3)
            .flat_map(|pool| (1..=3).map(move |stride| (pool, stride)))
            .filter(|&(pool, stride)| fits(pool, stride) && (pool, stride) != (1, 1))
            .collect();
        let overlapping: Vec<_> = all.iter().copied().filter(|&(p, s)| s < p).collect();
        let pick = if !overlapping.is_empty() && rng.random_bool(0.5) {
            &overlapping
        } else {
            &all
        };
        let &(pool, stride) = pick.choose(rng).unwrap_or(&(1, 1));
        vec![pool as f64, stride as f64]
    }

    /// A shuffle of distinct levels 0.01 apart, plus noise below that: no window has a tie.
    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let len: usize = dims.iter().product();
        let mut levels: Vec<f64> = (0..len).map(|k| k as f64 * 0.01).collect();
        levels.shuffle(rng);
        let x: Vec<f64> = levels
            .into_iter()
            .map(|v| v - len as f64 * 0.005 + rng.random_range(0.0..0.002))
            .collect();
        let x = ArrayD::from_shape_vec(dims, x).expect("internal: one value per element");
        vec![x]
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        let mut side = || rng.random_range(1..=max_width);
        vec![batch.min(3), 1 + batch % 2, side(), side()]
    }

    /// 2×2 windows at step 2 (the sides are even).
    fn sized_attrs(&self) -> Vec<f64> {
        vec![2.0, 2.0]
    }

    /// N = B images of 3 channels, about √D × √D pixels, the side even.
    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        let side = 2 * ((width as f64).sqrt() / 2.0).round().max(1.0) as usize;
        Some(vec![batch, 3, side, side])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&POOL_SPREAD]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (pool, stride) = (request.attr("pool") as usize, request.attr("stride") as usize);
        let (Ok(x), Ok(grad)) = (
            request.input("x").into_dimensionality::<Ix4>(),
            request.upstream().into_dimensionality::<Ix4>(),
        ) else {
            return Vec::new();
        };
        if e.input != "x" || grad.shape()[..2] != x.shape()[..2] {
            return Vec::new();
        }
        let mut spread = Array4::zeros(x.raw_dim());
        let mut assigned = Array4::zeros(x.raw_dim());
        let share = 1.0 / (pool * pool) as f64;
        for ((n, c, i, j), &g) in grad.indexed_iter() {
            let (r0, s0) = (i * stride, j * stride);
            for (r, s) in window(pool, r0, s0) {
                if let Some(v) = spread.get_mut((n, c, r, s)) {
                    *v += g * share;
                }
            }
            if let Some(at) = argmax(&x, n, c, window(pool, r0, s0)) {
                assigned[(n, c, at.0, at.1)] = g;
            }
        }
        let mut found = vec![(Diagnosis::Bug(&POOL_SPREAD), spread.into_dyn())];
        if stride < pool {
            found.push((
                overwritten("x", "an input that is the maximum of several overlapping windows"),
                assigned.into_dyn(),
            ));
        }
        found
    }
}

/// The positions of the pool×pool window at (r0, s0).
fn window(pool: usize, r0: usize, s0: usize) -> impl Iterator<Item = (usize, usize)> {
    (r0..r0 + pool).flat_map(move |r| (s0..s0 + pool).map(move |s| (r, s)))
}

/// The position of the largest of `x[n, c]` over `positions` (inside the image).
fn argmax(
    x: &ArrayView4<'_, f64>,
    n: usize,
    c: usize,
    positions: impl Iterator<Item = (usize, usize)>,
) -> Option<(usize, usize)> {
    positions
        .filter_map(|(r, s)| x.get((n, c, r, s)).map(|&v| ((r, s), v)))
        .max_by(|a, b| a.1.total_cmp(&b.1))
        .map(|(at, _)| at)
}
