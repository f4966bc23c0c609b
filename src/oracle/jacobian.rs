//! Oracle 1: explicit Jacobian contraction along the tape (Eq. 36, 38).
//!
//! Each op builds `J = ∂out/∂in` as a dense `out.len() × in.len()` matrix (row-major flattening,
//! see [`crate::ops`]), and the input gradient is `Jᵀ · dL/d out.flat`, reshaped to the input's
//! shape. The reverse walk and the accumulation at fan-out are the tape's; only the per-op rule
//! differs from the VJP, which is what makes it an independent check of every op's backward.

use ndarray::{ArrayD, ArrayViewD, Ix1};

use crate::error::{Error, Result};
use crate::ops::Op;
use crate::tape::{Gradients, Pullback, Tape, Var, Wrt};

/// Pulls gradients back by building and contracting each op's full Jacobian.
#[derive(Debug, Clone, Copy, Default)]
pub struct JacobianContraction;

impl Pullback for JacobianContraction {
    fn pull(
        &self,
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let g = grad_out
            .to_shape(grad_out.len())
            .expect("internal: flatten dL/d out");
        inputs
            .iter()
            .enumerate()
            .map(|(k, input)| {
                if !wanted.get(k).copied().unwrap_or(false) {
                    return Ok(None);
                }
                let jac = op.jacobian(inputs, k)?;
                if jac.dim() != (g.len(), input.len()) {
                    return Err(Error::Tape(format!(
                        "{}: Jacobian for input {k} has shape {:?}, expected [{}, {}]",
                        op.name(),
                        jac.shape(),
                        g.len(),
                        input.len()
                    )));
                }
                let flat = jac
                    .t()
                    .dot(&g.view().into_dimensionality::<Ix1>().expect("internal: 1-D"));
                let grad = flat
                    .into_shape_with_order(input.raw_dim())
                    .expect("internal: Jacobian columns = input length");
                Ok(Some(grad))
            })
            .collect()
    }
}

/// The most elements of one op's Jacobian the oracle builds (2 GiB of f64).
pub const MAX_JACOBIAN_ELEMENTS: usize = 1 << 28;

/// Every op's Jacobian on the tape can be built: an error naming the op otherwise.
pub fn check_sizes(tape: &Tape<'_>) -> Result<()> {
    for v in tape.vars() {
        let Some(node) = tape.op_node(v) else {
            continue;
        };
        let rows = tape.value(v).len();
        for &input in node.inputs {
            let cols = tape.value(input).len();
            if rows.checked_mul(cols).is_none_or(|n| n > MAX_JACOBIAN_ELEMENTS) {
                return Err(Error::Tape(format!(
                    "`{}`: the Jacobian oracle would build a {rows} × {cols} matrix for input `{}`, more than {MAX_JACOBIAN_ELEMENTS} elements; check a smaller case",
                    tape.name(v),
                    tape.name(input)
                )));
            }
        }
    }
    Ok(())
}

/// dL/d(parameter) (and data, per `wrt`) from the scalar `loss`, by Jacobian contraction.
pub fn backward(tape: &Tape<'_>, loss: Var, wrt: Wrt) -> Result<Gradients> {
    let value = tape.value(loss);
    if value.len() != 1 {
        return Err(Error::Tape(format!(
            "the Jacobian oracle needs a scalar loss, but `{}` has shape {:?}",
            tape.name(loss),
            value.shape()
        )));
    }
    tape.pullback(loss, ArrayD::ones(value.raw_dim()), wrt, &JacobianContraction)
}
