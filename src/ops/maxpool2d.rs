//! `maxpool2d`: the maximum of every pool×pool window, no padding.
//!
//! Shapes: `x` is N×C×H×W; the attributes `pool ≥ 1` and `stride ≥ 1` are fields of
//! [`MaxPool2d`]. `out[n,c,i,j] = max_{p,q < pool} x[n, c, i·stride + p, j·stride + q]`, of shape
//! N×C×Ho×Wo with `Ho = 1 + (H − pool) / stride` and `Wo` likewise; a shape that does not divide
//! exactly is an error naming the shape and the attributes. Windows overlap when stride < pool.
//!
//! Backward, with g = dL/d out: each window's gradient goes to its argmax,
//! `dL/dx[n,c,h,v] = Σ_{i,j : argmax(n,c,i,j) = (h,v)} g[n,c,i,j]`: where overlapping windows
//! share an argmax, their gradients SUM (fan-out, Eq. 4–10).
//!
//! Kinks: where two elements of a window tie for the maximum. At an exact tie the argmax is the
//! first in row-major order of the window (the smallest p, then the smallest q), in the forward,
//! the backward and the Jacobian alike. [`Op::smooth_between`] is false when the argmax of any
//! window differs between `lo` and `hi` or is tied at either end: since every element moves
//! linearly along the segment, a strict maximum at both ends stays the maximum all along.

use ndarray::{Array2, Array4, ArrayD, ArrayView4, ArrayViewD, Ix4};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::{Error, Result};

const NAME: &str = "maxpool2d";
const INPUTS: &[&str] = &["x"];

/// The maxpool2d op on a tape; input `x`; attributes `pool ≥ 1`, `stride ≥ 1`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxPool2d {
    /// Side of the square window.
    pub pool: usize,
    /// Step between windows, in both directions.
    pub stride: usize,
}

impl MaxPool2d {
    /// (Ho, Wo) for an x of this shape, or an error naming the shape and the attributes.
    pub fn out_dims(&self, x: &[usize]) -> Result<(usize, usize)> {
        for (arg, value) in [("pool", self.pool), ("stride", self.stride)] {
            if value == 0 {
                return Err(Error::Config {
                    arg: format!("{NAME}: {arg}"),
                    value: "0".into(),
                    expected: "an integer ≥ 1".into(),
                });
            }
        }
        let &[_, _, h, w] = x else {
            return Err(validate::shape_error(NAME, "x", "a 4-D tensor N×C×H×W".into(), x));
        };
        let size = |len: usize| {
            let span = len.checked_sub(self.pool)?;
            span.is_multiple_of(self.stride).then_some(1 + span / self.stride)
        };
        match (size(h), size(w)) {
            (Some(ho), Some(wo)) => Ok((ho, wo)),
            _ => Err(validate::shape_error(
                NAME,
                "x",
                format!(
                    "H − pool and W − pool non-negative multiples of stride (pool {}, stride {})",
                    self.pool, self.stride
                ),
                x,
            )),
        }
    }

    /// For every output, in row-major order, the flat index into x of its window's argmax
    /// (first in row-major order at a tie) and whether the maximum is strict.
    fn argmax(&self, x: &ArrayView4<'_, f64>, (ho, wo): (usize, usize)) -> Vec<(usize, bool)> {
        let (n, c, h, w) = x.dim();
        let mut picks = Vec::with_capacity(n * c * ho * wo);
        for (nc, plane) in x
            .to_shape((n * c, h, w))
            .expect("internal: reshape")
            .outer_iter()
            .enumerate()
        {
            for i in 0..ho {
                for j in 0..wo {
                    let (mut best, mut at, mut strict) = (f64::NEG_INFINITY, (0, 0), true);
                    for p in 0..self.pool {
                        for q in 0..self.pool {
                            let (r, s) = (i * self.stride + p, j * self.stride + q);
                            let v = plane[[r, s]];
                            if v > best {
                                (best, at, strict) = (v, (r, s), true);
                            } else if v == best {
                                strict = false;
                            }
                        }
                    }
                    picks.push(((nc * h + at.0) * w + at.1, strict));
                }
            }
        }
        picks
    }
}

fn view<'a>(inputs: &[ArrayViewD<'a, f64>]) -> Result<ArrayView4<'a, f64>> {
    validate::arity(NAME, INPUTS, inputs.len())?;
    inputs[0]
        .clone()
        .into_dimensionality::<Ix4>()
        .map_err(|_| validate::shape_error(NAME, "x", "a 4-D tensor N×C×H×W".into(), inputs[0].shape()))
}

/// The maximum of every window.
pub fn forward(op: &MaxPool2d, x: ArrayView4<'_, f64>) -> Result<Array4<f64>> {
    validate::usable(NAME, "x", &x)?;
    let (ho, wo) = op.out_dims(x.shape())?;
    let xs = x.as_standard_layout();
    let flat = xs.as_slice().expect("internal: standard layout");
    let values = op.argmax(&x, (ho, wo)).iter().map(|&(k, _)| flat[k]).collect();
    let (n, c, _, _) = x.dim();
    Ok(Array4::from_shape_vec((n, c, ho, wo), values).expect("internal: one value per window"))
}

/// dL/dx from dL/d out: each window's gradient added at its argmax.
pub fn backward(
    op: &MaxPool2d,
    grad_out: ArrayView4<'_, f64>,
    x: ArrayView4<'_, f64>,
) -> Result<Array4<f64>> {
    validate::usable(NAME, "x", &x)?;
    let (ho, wo) = op.out_dims(x.shape())?;
    let (n, c, _, _) = x.dim();
    validate::same_shape(NAME, "dL/dout", &grad_out, &[n, c, ho, wo])?;
    Ok(routed(op, &grad_out, &x, (ho, wo)))
}

fn routed(
    op: &MaxPool2d,
    grad_out: &ArrayView4<'_, f64>,
    x: &ArrayView4<'_, f64>,
    dims: (usize, usize),
) -> Array4<f64> {
    let mut dx = vec![0.0; x.len()];
    for (&(k, _), g) in op.argmax(x, dims).iter().zip(grad_out.iter()) {
        dx[k] += g;
    }
    Array4::from_shape_vec(x.raw_dim(), dx).expect("internal: x's length")
}

impl Op for MaxPool2d {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        Ok(forward(self, view(inputs)?)?.into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let x = view(inputs)?;
        let (ho, wo) = self.out_dims(x.shape())?;
        let (n, c, _, _) = x.dim();
        validate::has_shape(NAME, "dL/dout", &grad_out, &[n, c, ho, wo])?;
        let go = grad_out
            .into_dimensionality::<Ix4>()
            .expect("internal: checked 4-D");
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![want.then(|| routed(self, &go, &x, (ho, wo)).into_dyn())])
    }

    /// `J[(n,c,i,j), argmax(n,c,i,j)] = 1`, every other entry 0.
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        let x = view(inputs)?;
        validate::usable(NAME, "x", &x)?;
        if wrt != 0 {
            return Err(validate::shape_error(NAME, "wrt", "input index 0".into(), &[wrt]));
        }
        let picks = self.argmax(&x, self.out_dims(x.shape())?);
        let mut jac = Array2::zeros((picks.len(), x.len()));
        for (row, &(k, _)) in picks.iter().enumerate() {
            jac[[row, k]] = 1.0;
        }
        Ok(jac)
    }

    /// pool² − 1 comparisons per window.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        let (ho, wo) = self.out_dims(input_shapes[0])?;
        let nc = input_shapes[0][0] * input_shapes[0][1];
        Ok((nc * ho * wo * (self.pool * self.pool - 1)) as u64)
    }

    /// The argmax again (pool² − 1 comparisons per window), then one addition per window.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let (ho, wo) = self.out_dims(input_shapes[0])?;
        let out_len = input_shapes[0][0] * input_shapes[0][1] * ho * wo;
        let in_len: usize = input_shapes[0].iter().product();
        Ok(Cost {
            vjp: vjp_road(out_len * self.pool * self.pool, in_len),
            jacobian: jacobian_road(out_len, in_len),
        })
    }

    /// Every window has the same strict argmax at `lo` and at `hi`.
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        let (Ok(lo), Ok(hi)) = (view(lo), view(hi)) else {
            return false;
        };
        let Ok(dims) = self.out_dims(lo.shape()) else {
            return false;
        };
        lo.shape() == hi.shape()
            && (self.argmax(&lo, dims).iter())
                .zip(&self.argmax(&hi, dims))
                .all(|(&(a, sa), &(b, sb))| a == b && sa && sb)
    }
}
