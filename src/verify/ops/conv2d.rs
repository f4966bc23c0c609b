//! conv2d, the cross-correlation of the N×C×H×W images x, zero-padded by `pad`, with the
//! F×C×HH×WW kernels w at step `stride`, plus b[f] (`crate::ops::conv2d`). Its backward routes
//! each output's gradient back through its window: dx gets dout · w, dw gets dout · x, db the
//! sum of dout over images and positions.
//!
//! Its bugs: `kernel_flipped` (dx computed with the kernel flipped in both spatial axes, the
//! backward of a true convolution) and `bias_not_summed` (db from the first image only). Cases
//! take strides 1 and 2 and padding 0 and 1, wherever the shape divides exactly, on images that
//! are not square.

use std::sync::Arc;

use ndarray::{ArrayD, Axis, Ix4, s};
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::IndexedRandom;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use super::linear::BIAS_NOT_SUMMED;
use crate::catalogue::{AttrSpec, Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Conv2d, Op, conv2d};
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// conv2d on the wire: `x: N×C×H×W`, `w: F×C×HH×WW`, `b: F`, attributes `stride` and `pad`.
pub static SPEC: OpSpec = OpSpec {
    name: "conv2d",
    family: "images",
    dims: &["N", "C", "H", "W", "F", "HH", "WW"],
    inputs: &[
        InputSpec::real("x", &["N", "C", "H", "W"]),
        InputSpec::real("w", &["F", "C", "HH", "WW"]),
        InputSpec::real("b", &["F"]),
    ],
    attrs: &[
        AttrSpec {
            name: "stride",
            default: None,
            integer: true,
        },
        AttrSpec {
            name: "pad",
            default: None,
            integer: true,
        },
    ],
    grad_out: GradOut::Array(&["N", "F", "Ho", "Wo"]),
    extras: &[],
};

/// dx computed with the kernel flipped.
pub const KERNEL_FLIPPED: Bug = Bug {
    code: "kernel_flipped",
    summary: "dx is computed with the kernel flipped: the forward is a cross-correlation, out[i, j] += x[i·s + p, j·s + q] · w[p, q], so dx[i·s + p, j·s + q] += dout[i, j] · w[p, q], with w as it is",
    explain: "\
kernel_flipped: conv2d's backward as a true convolution, the kernel flipped

conv2d (as in PyTorch and CS231n) is a cross-correlation:
    out[n, f, i, j] = b[f] + Σ_{c,p,q} xpad[n, c, i·stride + p, j·stride + q] · w[f, c, p, q].
Each output's gradient goes back to the very taps that made it:
    dxpad[n, c, i·stride + p, j·stride + q] += dout[n, f, i, j] · w[f, c, p, q].
Written as one operation that is a 'full' convolution of dout with w, or a
correlation with the kernel rotated by 180° — one flip, not two. Your dx uses
w[f, c, HH−1−p, WW−1−q] in the loop above: the flip applied where the indices
already do it.

Typical wrong code:
    dx_pad[:, :, r:r+HH, s:s+WW] += dout[:, f, i, j] * w[f, :, ::-1, ::-1]
Fix:
    dx_pad[:, :, r:r+HH, s:s+WW] += dout[:, f, i, j] * w[f]
",
    parameter: None,
};

/// The conv2d op.
pub struct Conv2dOp;

impl CourseOp for Conv2dOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [N, C, H, W, F, HH, WW]: N = 1 and N > 1, non-square images and kernels, 1×1 kernels.
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[
            &[1, 1, 4, 5, 2, 3, 2],
            &[2, 3, 5, 5, 2, 3, 3],
            &[2, 2, 6, 4, 3, 2, 2],
            &[1, 2, 3, 3, 1, 1, 1],
            &[3, 1, 5, 7, 2, 3, 3],
        ]
    }

    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Conv2d {
            stride: attrs[0] as usize,
            pad: attrs[1] as usize,
        })
    }

    /// Stride and padding drawn among those in {1, 2} × {0, 1} that fit the shape.
    fn draw_attrs(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Vec<f64> {
        let &[_, _, h, w, _, hh, ww] = dims else {
            unreachable!("internal: dims {dims:?} do not fit conv2d")
        };
        let fits = |len: usize, kernel: usize, stride: usize, pad: usize| {
            (len + 2 * pad)
                .checked_sub(kernel)
                .is_some_and(|span| span % stride == 0)
        };
        let settings: Vec<(usize, usize)> = [(1, 0), (1, 1), (2, 0), (2, 1)]
            .into_iter()
            .filter(|&(st, p)| fits(h, hh, st, p) && fits(w, ww, st, p))
            .collect();
        let &(stride, pad) = settings
            .choose(rng)
            .expect("internal: padding 1 fits any kernel ≤ H + 2");
        vec![stride as f64, pad as f64]
    }

    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        (SPEC.input_shapes(dims).iter())
            .map(|shape| crate::random::normal_array(rng, shape))
            .collect()
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        let side = max_width.clamp(1, 3);
        let (hh, ww) = (rng.random_range(1..=side), rng.random_range(1..=side));
        let (h, w) = (
            rng.random_range(hh..=max_width.max(hh)),
            rng.random_range(ww..=max_width.max(ww)),
        );
        let n = batch.min(3);
        vec![n, rng.random_range(1..=3), h, w, rng.random_range(1..=3), hh, ww]
    }

    /// Stride 1, pad 1: the output as large as the image.
    fn sized_attrs(&self) -> Vec<f64> {
        vec![1.0, 1.0]
    }

    /// N = B images of 3 channels, √D × √D pixels, 4 filters of 3×3.
    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        let side = (width as f64).sqrt().round().max(1.0) as usize;
        Some(vec![batch, 3, side, side, 4, 3, 3])
    }

    /// A kernel no larger than the image padded by 1.
    fn admits(&self, dims: &[usize]) -> bool {
        dims[2] + 2 >= dims[5] && dims[3] + 2 >= dims[6]
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&KERNEL_FLIPPED, &BIAS_NOT_SUMMED]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let op = Conv2d {
            stride: request.attr("stride") as usize,
            pad: request.attr("pad") as usize,
        };
        let four = |name: &str| request.input(name).into_dimensionality::<Ix4>();
        let (Ok(x), Ok(w), Ok(grad)) = (
            four("x"),
            four("w"),
            request.upstream().into_dimensionality::<Ix4>(),
        ) else {
            return Vec::new();
        };
        match e.input {
            "x" => {
                let flipped = w.slice(s![.., .., ..;-1, ..;-1]);
                conv2d::backward(&op, grad, x, flipped, request.vector("b"))
                    .map(|g| vec![(Diagnosis::Bug(&KERNEL_FLIPPED), g.x.into_dyn())])
                    .unwrap_or_default()
            }
            "b" if x.len_of(Axis(0)) > 1 => {
                let first = grad.index_axis(Axis(0), 0).sum_axis(Axis(2)).sum_axis(Axis(1));
                vec![(Diagnosis::Bug(&BIAS_NOT_SUMMED), first.into_dyn())]
            }
            _ => Vec::new(),
        }
    }
}
