//! `layernorm`: per row i of the B×D `x`, μᵢ = (1/D) Σⱼ xᵢⱼ and the biased
//! σᵢ² = (1/D) Σⱼ (xᵢⱼ − μᵢ)², x̂ = (x − μ) / √(σ² + ε), out = γ ⊙ x̂ + β with γ, β per feature
//! (column); D ≥ 2.
//!
//! Backward, with g = dL/dout and dx̂ = γ ⊙ g:
//! - `dL/dx = rᵢ / D · (D dx̂ − Σⱼ dx̂ − x̂ Σⱼ(dx̂ ⊙ x̂))`, per row, with rᵢ = 1/√(σᵢ² + ε);
//! - `dL/dγ = Σᵢ g ⊙ x̂`; `dL/dβ = Σᵢ g` (over the rows: γ and β are shared by every row).
//!
//! The Jacobian with respect to x is block-diagonal over rows,
//! `∂out_ij/∂x_ik = γⱼ rᵢ (δ_jk − 1/D − x̂_ij x̂_ik / D)` (see the shared derivation in `norm`).
//! Every input is differentiated; smooth everywhere (ε > 0).

use ndarray::{Array2, ArrayD, ArrayViewD, Axis};

use super::norm::{DEFAULT_EPS, INPUTS, Norm, NormGrads};
use super::{Cost, LocalForward, Op};
use crate::error::Result;

const LAYERNORM: Norm = Norm {
    name: "layernorm",
    axis: Axis(1),
};

/// The batchnorm op on a tape; inputs `x` (B×D, B ≥ 2), `gamma` and `beta` (D), attribute `eps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LayerNorm {
    /// ε added to the variance; finite and > 0, or an error naming `eps`.
    pub eps: f64,
}

impl Default for LayerNorm {
    /// ε = 1e-5, the protocol's default (and PyTorch's).
    fn default() -> Self {
        LayerNorm { eps: DEFAULT_EPS }
    }
}

/// out = γ ⊙ x̂ + β, every argument checked.
pub fn forward(inputs: &[ArrayViewD<'_, f64>], eps: f64) -> Result<Array2<f64>> {
    let (x, gamma, beta) = LAYERNORM.checked(inputs, eps)?;
    Ok(LAYERNORM.forward(&x, &gamma, &beta, eps))
}

/// (dL/dx, dL/dγ, dL/dβ) from dL/dout, every argument checked; as (x, gamma, beta).
pub fn backward(
    grad_out: ArrayViewD<'_, f64>,
    inputs: &[ArrayViewD<'_, f64>],
    eps: f64,
) -> Result<(Array2<f64>, ndarray::Array1<f64>, ndarray::Array1<f64>)> {
    let (x, gamma, _) = LAYERNORM.checked(inputs, eps)?;
    let grad = super::validate::as_matrix(LAYERNORM.name, "dL/dout", &grad_out)?;
    super::validate::same_shape(LAYERNORM.name, "dL/dout", &grad, x.shape())?;
    let NormGrads { x, gamma, beta } = LAYERNORM.backward(&grad, &x, &gamma, eps);
    Ok((x, gamma, beta))
}

impl Op for LayerNorm {
    fn name(&self) -> &'static str {
        LAYERNORM.name
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        LAYERNORM.op_forward(inputs, self.eps)
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        LAYERNORM.op_vjp(inputs, grad_out, wanted, self.eps)
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        LAYERNORM.op_jacobian(inputs, wrt, self.eps)
    }

    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        LAYERNORM.forward_flops(input_shapes)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        LAYERNORM.cost(input_shapes, wanted)
    }

    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        LAYERNORM.op_local(inputs, self.eps)
    }
}
