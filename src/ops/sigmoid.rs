//! `sigmoid`: h = σ(a) = 1 / (1 + e^(−a)) elementwise.
//!
//! Backward from the output: `dh/da = σ(a)(1 − σ(a)) = h(1 − h)`, so `dL/da = h(1 − h) ⊙ dL/dh`;
//! the Jacobian is diagonal, `∂h_j/∂a_α = δ_jα h_j(1 − h_j)`. Smooth everywhere: no kinks.
//!
//! Stable for any finite a: for a < 0 it is evaluated as `e^a / (1 + e^a)`, so e^(−a) is never
//! formed where it would overflow (a = −800 gives e^(−800) ≈ 0, not 1/∞).

use ndarray::{Array2, ArrayD, ArrayViewD};

use super::unary::{INPUTS, Unary};
use super::{Cost, Op};
use crate::error::Result;

/// σ(a), without overflow for large |a|.
pub fn sigmoid(a: f64) -> f64 {
    if a >= 0.0 {
        1.0 / (1.0 + (-a).exp())
    } else {
        let e = a.exp();
        e / (1.0 + e)
    }
}

/// dσ/da in terms of h = σ(a): h(1 − h).
fn slope(h: f64) -> f64 {
    h * (1.0 - h)
}

/// An exponential, an addition and a division per element; the slope is a subtraction and two
/// multiplications (with dL/dh).
const SIGMOID: Unary = Unary {
    name: "sigmoid",
    value: sigmoid,
    slope,
    value_flops: 3,
    slope_flops: 3,
};

/// h = σ(a) elementwise.
pub fn forward(a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    SIGMOID.forward(a)
}

/// dL/da = h(1 − h) ⊙ dL/dh with h = σ(a).
pub fn backward(grad_h: ArrayViewD<'_, f64>, a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    SIGMOID.backward(grad_h, a)
}

/// ∂h/∂a: the N×N diagonal matrix with h(1 − h) on the diagonal.
pub fn jacobian(a: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    SIGMOID.jacobian(a)
}

/// The sigmoid op on a tape; input `a`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Sigmoid;

impl Op for Sigmoid {
    fn name(&self) -> &'static str {
        SIGMOID.name
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        SIGMOID.op_forward(inputs)
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        SIGMOID.op_vjp(inputs, grad_out, wanted)
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        SIGMOID.op_jacobian(inputs, wrt)
    }

    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        SIGMOID.forward_flops(input_shapes)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        SIGMOID.cost(input_shapes, wanted)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, ArrayD, IxDyn, arr1, arr2};

    use super::{backward, forward, jacobian, sigmoid};
    use crate::error::Error;

    #[test]
    fn forward_matches_hand_computed_values_and_is_finite_at_plus_and_minus_800() {
        let a = arr1(&[0.0, 2.0_f64.ln(), -800.0, 800.0]).into_dyn();
        let h = forward(a.view()).unwrap();
        assert_eq!(h[0], 0.5);
        assert!((h[1] - 2.0 / 3.0).abs() < 1e-15, "σ(ln 2) = 2/3, got {}", h[1]);
        assert!(h[2] >= 0.0 && h[2] < 1e-300, "σ(−800) = {}", h[2]);
        assert_eq!(h[3], 1.0);
        let g = backward(ArrayD::ones(IxDyn(&[4])).view(), a.view()).unwrap();
        assert!(g.iter().all(|v| v.is_finite()));
        assert_eq!(g[0], 0.25);
        assert!((g[1] - 2.0 / 9.0).abs() < 1e-15);
        // The naive 1 / (1 + e^800) would be 1/∞ = 0 too, but e^(−a) overflows first at −710.
        assert!(sigmoid(-745.0) > 0.0, "e^a / (1 + e^a) keeps the subnormal tail");
    }

    #[test]
    fn backward_is_its_own_jacobian_transposed_times_the_cotangent() {
        let a = arr2(&[[-3.0, -0.5, 0.0], [0.25, 1.5, 40.0]]).into_dyn();
        let g = arr2(&[[0.3, -1.2, 2.0], [-0.7, 0.9, 1.1]]).into_dyn();
        let vjp = backward(g.view(), a.view()).unwrap();
        let flat = jacobian(a.view())
            .unwrap()
            .t()
            .dot(&g.iter().copied().collect::<Array1<_>>());
        for (x, y) in vjp.iter().zip(&flat) {
            assert!((x - y).abs() <= 1e-15 * x.abs().max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn bad_inputs_are_errors_that_name_the_argument() {
        let a = arr1(&[0.0, f64::NAN]).into_dyn();
        assert!(matches!(forward(a.view()), Err(Error::NonFinite { ref arg, .. }) if arg == "a"));
        let ok = arr1(&[0.0, 1.0]).into_dyn();
        let short = arr1(&[1.0]).into_dyn();
        assert!(
            matches!(backward(short.view(), ok.view()), Err(Error::Shape { ref arg, .. }) if arg == "dL/dh")
        );
    }
}
