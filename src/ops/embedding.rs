//! `embedding`: out[i] = W[idxᵢ], a row lookup.
//!
//! Shapes: `W` is V×D; `idx` is a vector of B integers stored as f64, each in [0, V) (anything
//! else, a fraction or an index out of range, is an error naming `idx`); out is B×D.
//!
//! `idx` is not differentiated: [`Op::differentiable`]`(1)` is false, the VJP never answers for
//! it and [`Op::jacobian`] with `wrt = 1` is the zero matrix. Backward, with g = dL/d out:
//! `dL/dW[v] = Σ_{i : idxᵢ = v} g[i]`: an index that repeats sums the gradient of every row that
//! used it (fan-out, Eq. 4–10); a row never looked up gets 0. No kinks in W.

use ndarray::{Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::{Error, Result};

const NAME: &str = "embedding";
const INPUTS: &[&str] = &["W", "idx"];

/// The embedding op on a tape; inputs `W` (differentiated) and `idx` (not).
#[derive(Debug, Clone, Copy, Default)]
pub struct Embedding;

/// The indices as integers, each checked to be an integer in [0, vocab).
pub fn indices(idx: &ArrayView1<'_, f64>, vocab: usize) -> Result<Vec<usize>> {
    validate::non_empty(NAME, "idx", idx)?;
    idx.iter()
        .enumerate()
        .map(|(i, &v)| {
            if v.fract() == 0.0 && v >= 0.0 && v < vocab as f64 {
                Ok(v as usize)
            } else {
                Err(Error::Config {
                    arg: format!("{NAME}: idx[{i}]"),
                    value: v.to_string(),
                    expected: format!("an integer in [0, {vocab}) (W has {vocab} rows)"),
                })
            }
        })
        .collect()
}

fn views<'a>(inputs: &[ArrayViewD<'a, f64>]) -> Result<(ArrayView2<'a, f64>, ArrayView1<'a, f64>)> {
    validate::arity(NAME, INPUTS, inputs.len())?;
    Ok((
        validate::as_matrix(NAME, "W", &inputs[0])?,
        validate::as_vector(NAME, "idx", &inputs[1])?,
    ))
}

/// out[i] = W[idxᵢ].
pub fn forward(w: ArrayView2<'_, f64>, idx: ArrayView1<'_, f64>) -> Result<Array2<f64>> {
    validate::usable(NAME, "W", &w)?;
    let rows = indices(&idx, w.nrows())?;
    Ok(Array2::from_shape_fn((rows.len(), w.ncols()), |(i, d)| {
        w[[rows[i], d]]
    }))
}

/// dL/dW from dL/d out: row i of the gradient added to row idxᵢ.
pub fn backward(
    grad_out: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    idx: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    validate::usable(NAME, "W", &w)?;
    let rows = indices(&idx, w.nrows())?;
    validate::same_shape(NAME, "dL/dout", &grad_out, &[rows.len(), w.ncols()])?;
    Ok(scatter(&grad_out, w.dim(), &rows))
}

fn scatter(grad_out: &ArrayView2<'_, f64>, dim: (usize, usize), rows: &[usize]) -> Array2<f64> {
    let mut dw = Array2::zeros(dim);
    for (&v, g) in rows.iter().zip(grad_out.rows()) {
        let mut row = dw.row_mut(v);
        row += &g;
    }
    dw
}

impl Op for Embedding {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        let (w, idx) = views(inputs)?;
        Ok(forward(w, idx)?.into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let (w, idx) = views(inputs)?;
        let rows = indices(&idx, w.nrows())?;
        let go = validate::as_matrix(NAME, "dL/dout", &grad_out)?;
        validate::has_shape(NAME, "dL/dout", &go, &[rows.len(), w.ncols()])?;
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![want.then(|| scatter(&go, w.dim(), &rows).into_dyn()), None])
    }

    /// ∂out/∂W: `J[i·D + d, idxᵢ·D + d] = 1`. For `idx` (wrt 1), not differentiated: the
    /// (B·D)×B zero matrix (the output is piecewise constant in idx).
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        let (w, idx) = views(inputs)?;
        validate::usable(NAME, "W", &w)?;
        let rows = indices(&idx, w.nrows())?;
        let d = w.ncols();
        match wrt {
            0 => {
                let mut jac = Array2::zeros((rows.len() * d, w.len()));
                for (i, &v) in rows.iter().enumerate() {
                    for k in 0..d {
                        jac[[i * d + k, v * d + k]] = 1.0;
                    }
                }
                Ok(jac)
            }
            1 => Ok(Array2::zeros((rows.len() * d, rows.len()))),
            _ => Err(validate::shape_error(
                NAME,
                "wrt",
                "an input index below 2".into(),
                &[wrt],
            )),
        }
    }

    fn differentiable(&self, input: usize) -> bool {
        input == 0
    }

    /// A lookup: no arithmetic.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        Ok(0)
    }

    /// One addition per element of dL/d out (B·D) into a V×D gradient.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        let (&[v, d], &[b]) = (input_shapes[0], input_shapes[1]) else {
            return Err(validate::shape_error(
                NAME,
                "W, idx",
                "a matrix and a vector".into(),
                input_shapes[0],
            ));
        };
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        Ok(Cost {
            vjp: vjp_road(b * d, v * d),
            jacobian: jacobian_road(b * d, v * d),
        })
    }
}
