//! `sqerr`: L = ½ Σ (f − y)² over every element (Eq. 15, 34b).
//!
//! Its output is the loss itself, so its upstream gradient is the scalar dL/dL (Eq. 31b): 1 when
//! it ends the network, but any number when it is a term of something larger, and the backward
//! must multiply by it:
//! - `dL/df = dL/dL · (f − y)`;
//! - `dL/dy = −dL/dL · (f − y)`.
//!
//! Its Jacobians are single rows: `∂L/∂f = (f − y)ᵀ` and `∂L/∂y = −(f − y)ᵀ`, flattened.

use ndarray::{Array2, ArrayD, ArrayViewD, Zip, arr0};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "sqerr";
const INPUTS: &[&str] = &["f", "y"];

fn residual(f: &ArrayViewD<'_, f64>, y: &ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    validate::usable(NAME, "f", f)?;
    validate::same_shape(NAME, "y", y, f.shape())?;
    Ok(Zip::from(f).and(y).map_collect(|&f, &y| f - y))
}

/// L = ½ Σ (f − y)² (Eq. 34b).
pub fn forward(f: ArrayViewD<'_, f64>, y: ArrayViewD<'_, f64>) -> Result<f64> {
    Ok(0.5 * residual(&f, &y)?.iter().map(|r| r * r).sum::<f64>())
}

/// (dL/df, dL/dy) from the scalar dL/dL (Eq. 31b).
pub fn backward(
    grad_loss: f64,
    f: ArrayViewD<'_, f64>,
    y: ArrayViewD<'_, f64>,
) -> Result<(ArrayD<f64>, ArrayD<f64>)> {
    validate::usable(NAME, "dL/dL", &arr0(grad_loss).view())?;
    let r = residual(&f, &y)?;
    Ok((r.mapv(|r| grad_loss * r), r.mapv(|r| -grad_loss * r)))
}

/// The sqerr op on a tape; inputs `f` and `y`, output a 0-dimensional array.
#[derive(Debug, Clone, Copy, Default)]
pub struct SqErr;

impl Op for SqErr {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        Ok(arr0(forward(inputs[0].view(), inputs[1].view())?).into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        let grad_loss = validate::scalar(NAME, "dL/dL", &grad_out)?;
        let (f, y) = (&inputs[0], &inputs[1]);
        validate::has_shape(NAME, "y", y, f.shape())?;
        let r = f - y;
        let want = |k: usize| wanted.get(k).copied().unwrap_or(false);
        Ok(vec![
            want(0).then(|| r.mapv(|r| grad_loss * r)),
            want(1).then(|| r.mapv(|r| -grad_loss * r)),
        ])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        let r = residual(&inputs[0], &inputs[1])?;
        let sign = match wrt {
            0 => 1.0,
            1 => -1.0,
            _ => {
                return Err(validate::shape_error(
                    NAME,
                    "wrt",
                    "an input index below 2".into(),
                    &[wrt],
                ));
            }
        };
        let row: Vec<f64> = r.iter().map(|r| sign * r).collect();
        Ok(Array2::from_shape_vec((1, row.len()), row).expect("internal: one row of r.len()"))
    }

    /// A subtraction, a square and an addition per element.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        Ok(3 * input_shapes[0].iter().product::<usize>() as u64)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        let n: usize = input_shapes[0].iter().product();
        // Each gradient is a subtraction and a multiplication per element; each Jacobian one row.
        let per_input = Cost {
            vjp: vjp_road(2 * n, n),
            jacobian: jacobian_road(1, n),
        };
        Ok(wanted
            .iter()
            .filter(|w| **w)
            .fold(Cost::default(), |acc, _| acc + per_input))
    }
}
