//! `tanh`: h = tanh(a) elementwise.
//!
//! Backward from the output: `dh/da = 1 − tanh²(a) = 1 − h²`, so `dL/da = (1 − h²) ⊙ dL/dh`; the
//! Jacobian is diagonal, `∂h_j/∂a_α = δ_jα (1 − h_j²)`. Smooth everywhere: no kinks. `f64::tanh`
//! saturates to ±1 for large |a| without overflow.

use ndarray::{Array2, ArrayD, ArrayViewD};

use super::unary::{INPUTS, Unary};
use super::{Cost, Op};
use crate::error::Result;

/// d tanh/da in terms of h = tanh(a): 1 − h².
fn slope(h: f64) -> f64 {
    1.0 - h * h
}

/// One tanh per element; the slope is a multiplication, a subtraction and the product with dL/dh.
const TANH: Unary = Unary {
    name: "tanh",
    value: f64::tanh,
    slope,
    value_flops: 1,
    slope_flops: 3,
};

/// h = tanh(a) elementwise.
pub fn forward(a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    TANH.forward(a)
}

/// dL/da = (1 − h²) ⊙ dL/dh with h = tanh(a).
pub fn backward(grad_h: ArrayViewD<'_, f64>, a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    TANH.backward(grad_h, a)
}

/// ∂h/∂a: the N×N diagonal matrix with 1 − h² on the diagonal.
pub fn jacobian(a: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    TANH.jacobian(a)
}

/// The tanh op on a tape; input `a`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tanh;

impl Op for Tanh {
    fn name(&self) -> &'static str {
        TANH.name
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        TANH.op_forward(inputs)
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        TANH.op_vjp(inputs, grad_out, wanted)
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        TANH.op_jacobian(inputs, wrt)
    }

    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        TANH.forward_flops(input_shapes)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        TANH.cost(input_shapes, wanted)
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, ArrayD, IxDyn, arr1, arr2};

    use super::{backward, forward, jacobian};
    use crate::error::Error;

    #[test]
    fn forward_and_backward_match_hand_computed_values_and_saturate_at_plus_and_minus_800() {
        // tanh(ln 2) = (2 − 1/2) / (2 + 1/2) = 3/5, and 1 − (3/5)² = 16/25.
        let a = arr1(&[0.0, 2.0_f64.ln(), -800.0, 800.0]).into_dyn();
        let h = forward(a.view()).unwrap();
        assert_eq!((h[0], h[2], h[3]), (0.0, -1.0, 1.0));
        assert!((h[1] - 0.6).abs() < 1e-15, "tanh(ln 2) = 3/5, got {}", h[1]);
        let g = backward(ArrayD::ones(IxDyn(&[4])).view(), a.view()).unwrap();
        assert_eq!((g[0], g[2], g[3]), (1.0, 0.0, 0.0));
        assert!((g[1] - 0.64).abs() < 1e-15);
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
        let a = arr1(&[0.0, f64::INFINITY]).into_dyn();
        assert!(matches!(forward(a.view()), Err(Error::NonFinite { ref arg, .. }) if arg == "a"));
        let ok = arr1(&[0.0, 1.0]).into_dyn();
        let short = arr1(&[1.0]).into_dyn();
        assert!(
            matches!(backward(short.view(), ok.view()), Err(Error::Shape { ref arg, .. }) if arg == "dL/dh")
        );
    }
}
