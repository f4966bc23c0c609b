//! `dropout` (inverted, training mode, the mask given): out = x ⊙ mask / (1 − p).
//!
//! `mask` holds only 0 and 1 and is not differentiated ([`Op::differentiable`] is false for it):
//! it is a random draw, not a function of anything upstream. The drop probability `p` in [0, 1) is
//! an attribute, a field of [`Dropout`], never an input.
//!
//! Backward: `dL/dx = mask ⊙ dL/dout / (1 − p)`; the Jacobian with respect to x is diagonal,
//! `∂out_j/∂x_α = δ_jα mask_j / (1 − p)`. Linear in x, so no kinks. Asking for the Jacobian
//! with respect to `mask` is an error: it is not an input the oracles differentiate.

use ndarray::{Array2, ArrayD, ArrayViewD, Dimension, Zip};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "dropout";
const INPUTS: &[&str] = &["x", "mask"];

/// The scale 1 / (1 − p), or an error naming `p` unless 0 ≤ p < 1.
fn scale(p: f64) -> Result<f64> {
    if (0.0..1.0).contains(&p) {
        return Ok(1.0 / (1.0 - p));
    }
    Err(validate::value_error(
        NAME,
        "p",
        p.to_string(),
        "a drop probability in [0, 1)",
    ))
}

/// x and mask usable, of one shape, every mask entry 0 or 1.
fn check(x: &ArrayViewD<'_, f64>, mask: &ArrayViewD<'_, f64>) -> Result<()> {
    validate::usable(NAME, "x", x)?;
    validate::has_shape(NAME, "mask", mask, x.shape())?;
    check_mask(mask)
}

fn check_mask(mask: &ArrayViewD<'_, f64>) -> Result<()> {
    match mask.indexed_iter().find(|(_, m)| **m != 0.0 && **m != 1.0) {
        None => Ok(()),
        Some((index, m)) => Err(validate::value_error(
            NAME,
            "mask",
            format!("{m} at index {:?}", index.slice()),
            "0 or 1 in every entry",
        )),
    }
}

/// out = x ⊙ mask / (1 − p).
pub fn forward(x: ArrayViewD<'_, f64>, mask: ArrayViewD<'_, f64>, p: f64) -> Result<ArrayD<f64>> {
    let s = scale(p)?;
    check(&x, &mask)?;
    Ok(scaled(&x, &mask, s))
}

/// dL/dx = mask ⊙ dL/dout / (1 − p).
pub fn backward(
    grad_out: ArrayViewD<'_, f64>,
    x: ArrayViewD<'_, f64>,
    mask: ArrayViewD<'_, f64>,
    p: f64,
) -> Result<ArrayD<f64>> {
    let s = scale(p)?;
    check(&x, &mask)?;
    validate::same_shape(NAME, "dL/dout", &grad_out, x.shape())?;
    Ok(scaled(&grad_out, &mask, s))
}

/// v ⊙ mask · s, for v and mask of one shape.
fn scaled(v: &ArrayViewD<'_, f64>, mask: &ArrayViewD<'_, f64>, s: f64) -> ArrayD<f64> {
    Zip::from(v).and(mask).map_collect(|&v, &m| v * m * s)
}

/// ∂out/∂x: the N×N diagonal matrix with mask / (1 − p) on the diagonal.
pub fn jacobian_x(x: ArrayViewD<'_, f64>, mask: ArrayViewD<'_, f64>, p: f64) -> Result<Array2<f64>> {
    let s = scale(p)?;
    check(&x, &mask)?;
    let mut jac = Array2::zeros((x.len(), x.len()));
    for (i, &m) in mask.iter().enumerate() {
        jac[[i, i]] = m * s;
    }
    Ok(jac)
}

/// The dropout op on a tape; inputs `x` and `mask` (not differentiated), attribute `p`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Dropout {
    /// The drop probability, in [0, 1); anything else (NaN included) is an error naming `p`.
    pub p: f64,
}

impl Op for Dropout {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        forward(inputs[0].view(), inputs[1].view(), self.p)
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        let s = scale(self.p)?;
        let (x, mask) = (&inputs[0], &inputs[1]);
        validate::has_shape(NAME, "mask", mask, x.shape())?;
        validate::has_shape(NAME, "dL/dout", &grad_out, x.shape())?;
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![want.then(|| scaled(&grad_out, mask, s)), None])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        if wrt != 0 {
            return Err(validate::shape_error(
                NAME,
                "wrt",
                "input index 0 (`mask` is not differentiated)".into(),
                &[wrt],
            ));
        }
        jacobian_x(inputs[0].view(), inputs[1].view(), self.p)
    }

    fn differentiable(&self, input: usize) -> bool {
        input == 0
    }

    /// 1 / (1 − p) once, then two multiplications per element.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        Ok(2 * input_shapes[0].iter().product::<usize>() as u64 + 2)
    }

    /// As the forward, on dL/dout: two multiplications per element and the scale once, against a
    /// dense N×N contraction.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let n: usize = input_shapes[0].iter().product();
        Ok(Cost {
            vjp: vjp_road(2 * n + 2, n),
            jacobian: jacobian_road(n, n),
        })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, arr2};

    use super::{Dropout, backward, forward, jacobian_x};
    use crate::error::Error;
    use crate::ops::Op;

    #[test]
    fn forward_and_backward_keep_and_scale_the_unmasked_entries() {
        let x = arr2(&[[1.0, -2.0], [3.0, 4.0]]).into_dyn();
        let mask = arr2(&[[1.0, 0.0], [0.0, 1.0]]).into_dyn();
        let out = forward(x.view(), mask.view(), 0.75).unwrap();
        assert_eq!(out, arr2(&[[4.0, 0.0], [0.0, 16.0]]).into_dyn());
        let g = arr2(&[[0.5, 7.0], [-1.0, -0.25]]).into_dyn();
        let dx = backward(g.view(), x.view(), mask.view(), 0.75).unwrap();
        assert_eq!(dx, arr2(&[[2.0, 0.0], [0.0, -1.0]]).into_dyn());
        let flat = jacobian_x(x.view(), mask.view(), 0.75)
            .unwrap()
            .t()
            .dot(&g.iter().copied().collect::<Array1<_>>());
        assert_eq!(flat.to_vec(), dx.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn bad_p_and_bad_masks_are_errors_that_name_them() {
        let x = arr2(&[[1.0, 2.0]]).into_dyn();
        let mask = arr2(&[[1.0, 0.0]]).into_dyn();
        for p in [1.0, -0.1, f64::NAN, 2.0] {
            let err = forward(x.view(), mask.view(), p).unwrap_err();
            assert!(
                matches!(err, Error::Config { ref arg, .. } if arg == "p"),
                "p = {p}: {err}"
            );
        }
        let half = arr2(&[[1.0, 0.5]]).into_dyn();
        let err = forward(x.view(), half.view(), 0.5).unwrap_err();
        assert!(
            matches!(err, Error::Config { ref arg, .. } if arg == "mask"),
            "{err}"
        );
        assert!(err.to_string().contains("[0, 1]"), "names the index: {err}");
        let op = Dropout { p: 0.5 };
        assert!(!op.differentiable(1) && op.differentiable(0));
        assert!(op.jacobian(&[x.view(), mask.view()], 1).is_err());
    }
}
