//! `batchnorm` (training mode): per column j of the B×D `x`, μⱼ = (1/B) Σᵢ xᵢⱼ and the biased
//! σⱼ² = (1/B) Σᵢ (xᵢⱼ − μⱼ)², x̂ = (x − μ) / √(σ² + ε), out = γ ⊙ x̂ + β; B ≥ 2.
//!
//! Backward, with g = dL/dout, every sum over the rows i:
//! - `dL/dx = (γ/√(σ² + ε)) / B · (B g − Σ g − x̂ Σ(g ⊙ x̂))`, per column;
//! - `dL/dγ = Σ g ⊙ x̂`; `dL/dβ = Σ g`.
//!
//! The Jacobian with respect to x is block-diagonal over columns,
//! `∂out_ij/∂x_kj = γⱼ rⱼ (δ_ik − 1/B − x̂_ij x̂_kj / B)` with rⱼ = 1/√(σⱼ² + ε) (see the shared
//! derivation in `norm`). Every input is differentiated; smooth everywhere (ε > 0).

use ndarray::{Array2, ArrayD, ArrayViewD, Axis};

use super::norm::{DEFAULT_EPS, INPUTS, Norm, NormGrads};
use super::{Cost, LocalForward, Op};
use crate::error::Result;

const BATCHNORM: Norm = Norm {
    name: "batchnorm",
    axis: Axis(0),
};

/// The batchnorm op on a tape; inputs `x` (B×D, B ≥ 2), `gamma` and `beta` (D), attribute `eps`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BatchNorm {
    /// ε added to the variance; finite and > 0, or an error naming `eps`.
    pub eps: f64,
}

impl Default for BatchNorm {
    /// ε = 1e-5, the protocol's default (and PyTorch's).
    fn default() -> Self {
        BatchNorm { eps: DEFAULT_EPS }
    }
}

/// out = γ ⊙ x̂ + β, every argument checked.
pub fn forward(inputs: &[ArrayViewD<'_, f64>], eps: f64) -> Result<Array2<f64>> {
    let (x, gamma, beta) = BATCHNORM.checked(inputs, eps)?;
    Ok(BATCHNORM.forward(&x, &gamma, &beta, eps))
}

/// (dL/dx, dL/dγ, dL/dβ) from dL/dout, every argument checked; as (x, gamma, beta).
pub fn backward(
    grad_out: ArrayViewD<'_, f64>,
    inputs: &[ArrayViewD<'_, f64>],
    eps: f64,
) -> Result<(Array2<f64>, ndarray::Array1<f64>, ndarray::Array1<f64>)> {
    let (x, gamma, _) = BATCHNORM.checked(inputs, eps)?;
    let grad = super::validate::as_matrix(BATCHNORM.name, "dL/dout", &grad_out)?;
    super::validate::same_shape(BATCHNORM.name, "dL/dout", &grad, x.shape())?;
    let NormGrads { x, gamma, beta } = BATCHNORM.backward(&grad, &x, &gamma, eps);
    Ok((x, gamma, beta))
}

impl Op for BatchNorm {
    fn name(&self) -> &'static str {
        BATCHNORM.name
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        BATCHNORM.op_forward(inputs, self.eps)
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        BATCHNORM.op_vjp(inputs, grad_out, wanted, self.eps)
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        BATCHNORM.op_jacobian(inputs, wrt, self.eps)
    }

    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        BATCHNORM.forward_flops(input_shapes)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        BATCHNORM.cost(input_shapes, wanted)
    }

    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        BATCHNORM.op_local(inputs, self.eps)
    }
}
