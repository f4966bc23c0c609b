//! The shared road of the smooth elementwise ops (sigmoid, tanh): h = f(a) elementwise, whose
//! derivative is written in terms of the output, `dh/da = f′(a) = s(h)`.
//!
//! The Jacobian is diagonal, `∂h_j/∂a_α = δ_jα s(h_j)`, and the VJP is `dL/da = s(h) ⊙ dL/dh`,
//! O(N) instead of the Jacobian's O(N²).

use ndarray::{Array2, ArrayD, ArrayViewD, Zip};

use super::{Cost, jacobian_road, validate, vjp_road};
use crate::error::Result;

/// An elementwise op: its name, its function and its slope from the output.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Unary {
    pub(crate) name: &'static str,
    /// h = f(a).
    pub(crate) value: fn(f64) -> f64,
    /// f′(a) written in terms of h = f(a).
    pub(crate) slope: fn(f64) -> f64,
    /// Flops of one `value` (a transcendental function counts as one).
    pub(crate) value_flops: usize,
    /// Flops of one `slope` and its product with dL/dh.
    pub(crate) slope_flops: usize,
}

pub(crate) const INPUTS: &[&str] = &["a"];

impl Unary {
    /// h = f(a), elementwise.
    pub(crate) fn forward(&self, a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
        validate::usable(self.name, "a", &a)?;
        Ok(a.mapv(self.value))
    }

    /// dL/da = s(f(a)) ⊙ dL/dh, every argument checked.
    pub(crate) fn backward(
        &self,
        grad_h: ArrayViewD<'_, f64>,
        a: ArrayViewD<'_, f64>,
    ) -> Result<ArrayD<f64>> {
        validate::usable(self.name, "a", &a)?;
        validate::same_shape(self.name, "dL/dh", &grad_h, a.shape())?;
        Ok(self.pull(&grad_h, &a))
    }

    /// s(f(a)) ⊙ dL/dh for arguments of one shape.
    pub(crate) fn pull(&self, grad_h: &ArrayViewD<'_, f64>, a: &ArrayViewD<'_, f64>) -> ArrayD<f64> {
        let (value, slope) = (self.value, self.slope);
        Zip::from(grad_h).and(a).map_collect(|&g, &a| slope(value(a)) * g)
    }

    /// ∂h/∂a: the N×N diagonal matrix with s(h) on the diagonal.
    pub(crate) fn jacobian(&self, a: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
        validate::usable(self.name, "a", &a)?;
        let mut jac = Array2::zeros((a.len(), a.len()));
        for (i, &v) in a.iter().enumerate() {
            jac[[i, i]] = (self.slope)((self.value)(v));
        }
        Ok(jac)
    }

    /// [`Op::forward`](super::Op::forward) for this op.
    pub(crate) fn op_forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        validate::arity(self.name, INPUTS, inputs.len())?;
        self.forward(inputs[0].view())
    }

    /// [`Op::vjp`](super::Op::vjp) for this op: shapes checked, values not scanned again.
    pub(crate) fn op_vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        validate::arity(self.name, INPUTS, inputs.len())?;
        let a = &inputs[0];
        validate::has_shape(self.name, "dL/dh", &grad_out, a.shape())?;
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![want.then(|| self.pull(&grad_out, a))])
    }

    /// [`Op::jacobian`](super::Op::jacobian) for this op.
    pub(crate) fn op_jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        validate::arity(self.name, INPUTS, inputs.len())?;
        if wrt != 0 {
            return Err(validate::shape_error(
                self.name,
                "wrt",
                "input index 0".into(),
                &[wrt],
            ));
        }
        self.jacobian(inputs[0].view())
    }

    /// One `value` per element.
    pub(crate) fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(self.name, INPUTS, input_shapes.len())?;
        Ok((self.value_flops * input_shapes[0].iter().product::<usize>()) as u64)
    }

    /// The VJP recomputes h (the tape keeps inputs, not outputs), then the slope and the product,
    /// per element; against a dense N×N contraction.
    pub(crate) fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(self.name, INPUTS, input_shapes.len())?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let n: usize = input_shapes[0].iter().product();
        Ok(Cost {
            vjp: vjp_road((self.value_flops + self.slope_flops) * n, n),
            jacobian: jacobian_road(n, n),
        })
    }
}
