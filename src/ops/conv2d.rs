//! `conv2d`: 2-D cross-correlation over a zero-padded image, as in CS231n and PyTorch.
//!
//! Shapes: `x` is N×C×H×W, `w` is F×C×HH×WW, `b` has F entries; the attributes `stride ≥ 1` and
//! `pad ≥ 0` are fields of [`Conv2d`]. With `xpad` the image zero-padded by `pad` on every side,
//!
//! `out[n,f,i,j] = b[f] + Σ_{c,p,q} xpad[n, c, i·stride + p, j·stride + q] · w[f,c,p,q]`,
//!
//! of shape N×F×Ho×Wo, `Ho = 1 + (H + 2·pad − HH) / stride` and `Wo` likewise; a shape that does
//! not divide exactly is an error naming the shapes and the attributes.
//!
//! Backward, with g = dL/d out (every input is differentiated; conv2d has no kink):
//! - `dL/dx[n,c,h,v] = Σ_{f,i,j,p,q : i·stride+p−pad = h, j·stride+q−pad = v} g[n,f,i,j] w[f,c,p,q]`:
//!   each output's gradient scattered back over its window (strided), the padding cropped;
//! - `dL/dw[f,c,p,q] = Σ_{n,i,j} g[n,f,i,j] xpad[n,c,i·stride+p, j·stride+q]`;
//! - `dL/db[f] = Σ_{n,i,j} g[n,f,i,j]` (b is shared by every output position: fan-out).
//!
//! Forward and backward are direct loops over row-major slices, one pass over (n, f, i, j) and
//! the C·HH·WW taps of each window, never a Jacobian.

use ndarray::{Array1, Array2, Array4, ArrayD, ArrayView1, ArrayView4, ArrayViewD, Ix4};

use super::{Cost, LocalForward, Op, jacobian_road, validate, vjp_road};
use crate::error::{Error, Result};

mod local;

const NAME: &str = "conv2d";
const INPUTS: &[&str] = &["x", "w", "b"];

/// The conv2d op on a tape; inputs `x`, `w`, `b`; attributes `stride ≥ 1`, `pad ≥ 0`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Conv2d {
    /// Step between windows, in both directions.
    pub stride: usize,
    /// Zeros added on every side of the image.
    pub pad: usize,
}

/// The sizes of one convolution: x N×C×H×W, w F×C×HH×WW, out N×F×Ho×Wo.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Geometry {
    pub n: usize,
    pub c: usize,
    pub h: usize,
    pub w: usize,
    pub f: usize,
    pub hh: usize,
    pub ww: usize,
    pub ho: usize,
    pub wo: usize,
    pub stride: usize,
    pub pad: usize,
}

impl Geometry {
    /// The image row and column read by output (i, j) at tap (p, q), or None in the padding.
    #[inline(always)]
    fn source(&self, i: usize, j: usize, p: usize, q: usize) -> Option<(usize, usize)> {
        let row = (i * self.stride + p).checked_sub(self.pad)?;
        let col = (j * self.stride + q).checked_sub(self.pad)?;
        (row < self.h && col < self.w).then_some((row, col))
    }

    /// `out[n,f,i,j]` = `bias` + the window's taps, with x and w read through `x` and `w` (flat
    /// row-major indices): the forward reads the arrays, the local form one element moved.
    #[inline(always)]
    fn window_sum(
        &self,
        (n, f, i, j): (usize, usize, usize, usize),
        bias: f64,
        x: impl Fn(usize) -> f64,
        w: impl Fn(usize) -> f64,
    ) -> f64 {
        let mut acc = bias;
        for c in 0..self.c {
            let (xb, wb) = (((n * self.c) + c) * self.h, ((f * self.c) + c) * self.hh);
            for p in 0..self.hh {
                for q in 0..self.ww {
                    if let Some((r, s)) = self.source(i, j, p, q) {
                        acc += x((xb + r) * self.w + s) * w((wb + p) * self.ww + q);
                    }
                }
            }
        }
        acc
    }

    fn out_len(&self) -> usize {
        self.n * self.f * self.ho * self.wo
    }

    /// Multiply-adds of one pass over every output's window.
    fn taps(&self) -> usize {
        self.out_len() * self.c * self.hh * self.ww
    }
}

/// One output size, `1 + (len + 2·pad − kernel) / stride`, if it divides exactly.
fn out_size(len: usize, kernel: usize, stride: usize, pad: usize) -> Option<usize> {
    let span = (len + 2 * pad).checked_sub(kernel)?;
    span.is_multiple_of(stride).then_some(1 + span / stride)
}

impl Conv2d {
    /// The geometry of x and w under these attributes, or an error naming shapes and attributes.
    pub fn geometry(&self, x: &[usize], w: &[usize], b: &[usize]) -> Result<Geometry> {
        let (stride, pad) = (self.stride, self.pad);
        if stride == 0 {
            return Err(Error::Config {
                arg: format!("{NAME}: stride"),
                value: "0".into(),
                expected: "an integer ≥ 1".into(),
            });
        }
        let (&[n, c, h, wd], &[f, c_w, hh, ww]) = (x, w) else {
            return Err(validate::shape_error(NAME, "x, w", "two 4-D tensors".into(), x));
        };
        if c_w != c {
            return Err(validate::shape_error(
                NAME,
                "w",
                format!("[F, {c}, HH, WW] (x is {x:?})"),
                w,
            ));
        }
        if b != [f] {
            return Err(validate::shape_error(NAME, "b", format!("[{f}] (w is {w:?})"), b));
        }
        let (Some(ho), Some(wo)) = (out_size(h, hh, stride, pad), out_size(wd, ww, stride, pad)) else {
            return Err(validate::shape_error(
                NAME,
                "x, w",
                format!(
                    "H + 2·pad − HH and W + 2·pad − WW non-negative multiples of stride (x {x:?}, w {w:?}, stride {stride}, pad {pad})"
                ),
                x,
            ));
        };
        Ok(Geometry {
            n,
            c,
            h,
            w: wd,
            f,
            hh,
            ww,
            ho,
            wo,
            stride,
            pad,
        })
    }
}

fn views<'a>(
    inputs: &[ArrayViewD<'a, f64>],
) -> Result<(ArrayView4<'a, f64>, ArrayView4<'a, f64>, ArrayView1<'a, f64>)> {
    validate::arity(NAME, INPUTS, inputs.len())?;
    let four = |k: usize| {
        inputs[k]
            .clone()
            .into_dimensionality::<Ix4>()
            .map_err(|_| validate::shape_error(NAME, INPUTS[k], "a 4-D tensor".into(), inputs[k].shape()))
    };
    Ok((four(0)?, four(1)?, validate::as_vector(NAME, "b", &inputs[2])?))
}

/// The inputs checked (usable, shapes fitting the attributes) and their geometry.
fn checked(
    op: &Conv2d,
    x: &ArrayView4<'_, f64>,
    w: &ArrayView4<'_, f64>,
    b: &ArrayView1<'_, f64>,
) -> Result<Geometry> {
    validate::usable(NAME, "x", x)?;
    validate::usable(NAME, "w", w)?;
    validate::usable(NAME, "b", b)?;
    op.geometry(x.shape(), w.shape(), b.shape())
}

/// out = xpad ⋆ w + b.
pub fn forward(
    op: &Conv2d,
    x: ArrayView4<'_, f64>,
    w: ArrayView4<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array4<f64>> {
    let g = checked(op, &x, &w, &b)?;
    let (xs, ws) = (x.as_standard_layout(), w.as_standard_layout());
    let (xs, ws) = (xs.as_slice().expect("standard"), ws.as_slice().expect("standard"));
    let mut out = Vec::with_capacity(g.out_len());
    for n in 0..g.n {
        for f in 0..g.f {
            for i in 0..g.ho {
                for j in 0..g.wo {
                    out.push(g.window_sum((n, f, i, j), b[f], |k| xs[k], |k| ws[k]));
                }
            }
        }
    }
    Ok(Array4::from_shape_vec((g.n, g.f, g.ho, g.wo), out).expect("internal: one value per output"))
}

/// The gradients of conv2d with respect to x, w and b.
#[derive(Debug, Clone, PartialEq)]
pub struct Conv2dGrads {
    /// dL/dx, N×C×H×W.
    pub x: Array4<f64>,
    /// dL/dw, F×C×HH×WW.
    pub w: Array4<f64>,
    /// dL/db, F.
    pub b: Array1<f64>,
}

/// (dL/dx, dL/dw, dL/db) from dL/d out, checking every argument.
pub fn backward(
    op: &Conv2d,
    grad_out: ArrayView4<'_, f64>,
    x: ArrayView4<'_, f64>,
    w: ArrayView4<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Conv2dGrads> {
    let g = checked(op, &x, &w, &b)?;
    validate::same_shape(NAME, "dL/dout", &grad_out, &[g.n, g.f, g.ho, g.wo])?;
    Ok(gradients(&g, &grad_out, &x, &w))
}

/// The three gradients in one pass over every output's window, for checked arguments.
fn gradients(
    g: &Geometry,
    go: &ArrayView4<'_, f64>,
    x: &ArrayView4<'_, f64>,
    w: &ArrayView4<'_, f64>,
) -> Conv2dGrads {
    let (xs, ws, gs) = (
        x.as_standard_layout(),
        w.as_standard_layout(),
        go.as_standard_layout(),
    );
    let (xs, ws, gs) = (
        xs.as_slice().expect("std"),
        ws.as_slice().expect("std"),
        gs.as_slice().expect("std"),
    );
    let mut dx = vec![0.0; xs.len()];
    let mut dw = vec![0.0; ws.len()];
    let mut db = vec![0.0; g.f];
    let mut k = 0;
    for n in 0..g.n {
        for (f, db_f) in db.iter_mut().enumerate() {
            for i in 0..g.ho {
                for j in 0..g.wo {
                    let gv = gs[k];
                    k += 1;
                    *db_f += gv;
                    for c in 0..g.c {
                        let (xb, wb) = (((n * g.c) + c) * g.h, ((f * g.c) + c) * g.hh);
                        for p in 0..g.hh {
                            for q in 0..g.ww {
                                if let Some((r, s)) = g.source(i, j, p, q) {
                                    let (xi, wi) = ((xb + r) * g.w + s, (wb + p) * g.ww + q);
                                    dx[xi] += gv * ws[wi];
                                    dw[wi] += gv * xs[xi];
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    Conv2dGrads {
        x: Array4::from_shape_vec(x.raw_dim(), dx).expect("internal: x's length"),
        w: Array4::from_shape_vec(w.raw_dim(), dw).expect("internal: w's length"),
        b: Array1::from(db),
    }
}

/// ∂out/∂x, ∂out/∂w or ∂out/∂b (`wrt` 0, 1, 2) entry by entry, for checked arguments:
/// `J[(n,f,i,j), (n,c,h,v)] = w[f,c,p,q]` where (h, v) is the image element tap (p, q) reads,
/// `J[(n,f,i,j), (f,c,p,q)] = xpad[n,c,i·stride+p, j·stride+q]`, `J[(n,f,i,j), f] = 1`.
fn jacobian(g: &Geometry, x: &ArrayView4<'_, f64>, w: &ArrayView4<'_, f64>, wrt: usize) -> Array2<f64> {
    let cols = [x.len(), w.len(), g.f][wrt];
    let mut jac = Array2::zeros((g.out_len(), cols));
    for (row, (n, f, i, j)) in (0..g.n)
        .flat_map(|n| {
            (0..g.f).flat_map(move |f| (0..g.ho).flat_map(move |i| (0..g.wo).map(move |j| (n, f, i, j))))
        })
        .enumerate()
    {
        if wrt == 2 {
            jac[[row, f]] = 1.0;
            continue;
        }
        for c in 0..g.c {
            for p in 0..g.hh {
                for q in 0..g.ww {
                    let Some((r, s)) = g.source(i, j, p, q) else {
                        continue;
                    };
                    if wrt == 0 {
                        jac[[row, ((n * g.c + c) * g.h + r) * g.w + s]] += w[[f, c, p, q]];
                    } else {
                        jac[[row, ((f * g.c + c) * g.hh + p) * g.ww + q]] += x[[n, c, r, s]];
                    }
                }
            }
        }
    }
    jac
}

impl Op for Conv2d {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        let (x, w, b) = views(inputs)?;
        Ok(forward(self, x, w, b)?.into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let (x, w, b) = views(inputs)?;
        let g = self.geometry(x.shape(), w.shape(), b.shape())?;
        let go = grad_out
            .into_dimensionality::<Ix4>()
            .map_err(|e| validate::shape_error(NAME, "dL/dout", format!("a 4-D tensor ({e})"), &[]))?;
        validate::has_shape(NAME, "dL/dout", &go, &[g.n, g.f, g.ho, g.wo])?;
        let grads = gradients(&g, &go, &x, &w);
        let want = |k: usize| wanted.get(k).copied().unwrap_or(false);
        Ok(vec![
            want(0).then(|| grads.x.into_dyn()),
            want(1).then(|| grads.w.into_dyn()),
            want(2).then(|| grads.b.into_dyn()),
        ])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        let (x, w, b) = views(inputs)?;
        let g = checked(self, &x, &w, &b)?;
        if wrt > 2 {
            return Err(validate::shape_error(
                NAME,
                "wrt",
                "an input index below 3".into(),
                &[wrt],
            ));
        }
        Ok(jacobian(&g, &x, &w, wrt))
    }

    /// One multiply-add per tap of every output's window (padding taps included), plus the bias.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        let g = self.geometry(input_shapes[0], input_shapes[1], input_shapes[2])?;
        Ok((2 * g.taps() + g.out_len()) as u64)
    }

    /// dx and dw: one multiply-add per tap each; db: one addition per output element.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        let g = self.geometry(input_shapes[0], input_shapes[1], input_shapes[2])?;
        let lens: Vec<usize> = input_shapes.iter().map(|s| s.iter().product()).collect();
        let flops = [2 * g.taps(), 2 * g.taps(), g.out_len()];
        Ok((0..3)
            .filter(|&k| wanted.get(k).copied().unwrap_or(false))
            .map(|k| Cost {
                vjp: vjp_road(flops[k], lens[k]),
                jacobian: jacobian_road(g.out_len(), lens[k]),
            })
            .fold(Cost::default(), |acc, c| acc + c))
    }

    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        self.op_local(inputs)
    }
}
