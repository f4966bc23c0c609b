//! sigmoid, h = σ(a) = 1/(1 + e^(−a)) elementwise on a B×D matrix; the backward multiplies the
//! upstream gradient by the slope written from the *output*, dL/da = h(1 − h) ⊙ dL/dh.
//!
//! Its bug: `derivative_at_input`, the slope taken from the input, a(1 − a) ⊙ dL/dh (the same
//! bug as tanh's 1 − a², and rnn_step's). Inputs are drawn up to |a| ≈ 6, where h(1 − h) and
//! a(1 − a) differ everywhere but at a = 0.

use std::sync::Arc;

use ndarray::{ArrayD, ArrayView2};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Op, Sigmoid};
use crate::random;
use crate::verify::diagnose::{Diagnosis, Evidence};

/// sigmoid on the wire: `a: B×D`, dL/dh `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "sigmoid",
    dims: &["B", "D"],
    inputs: &[InputSpec::real("a", &["B", "D"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// σ′ or tanh′ written from the input where the output belongs.
pub const DERIVATIVE_AT_INPUT: Bug = Bug {
    code: "derivative_at_input",
    summary: "the derivative is taken at the input: you return a(1 − a) ⊙ dL/dh (or 1 − a² for tanh); the slope is written from the output h, σ′ = h(1 − h), tanh′ = 1 − h²",
    explain: "\
derivative_at_input: σ′ or tanh′ computed from the input where the output belongs

For h = σ(a) the slope is σ′(a) = σ(a)(1 − σ(a)) = h(1 − h); for h = tanh(a) it is
1 − tanh²(a) = 1 − h². Both are written in terms of the OUTPUT h, which the forward
pass already computed and the backward should keep (or recompute). Writing the same
expression with the input a in place of h is a different function: a(1 − a) is
negative for a > 1, and 1 − a² is negative for |a| > 1, where the true slopes are
positive everywhere.

The same bug inside rnn_step: h' = tanh(x Wx + h Wh + b), the slope is 1 − h'²,
not 1 − (x Wx + h Wh + b)².

Typical wrong code:
    da = dh * a * (1 - a)           # sigmoid
    da = dh * (1 - a ** 2)          # tanh
Fix:
    h = sigmoid(a); da = dh * h * (1 - h)
    h = np.tanh(a); da = dh * (1 - h ** 2)
",
};

/// The sigmoid op.
pub struct SigmoidOp;

impl CourseOp for SigmoidOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Sigmoid)
    }

    fn draw_inputs(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> (Vec<ArrayD<f64>>, Vec<f64>) {
        (vec![spread_matrix(rng, dims)], Vec::new())
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![batch, rng.random_range(1..=max_width)]
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&DERIVATIVE_AT_INPUT]
    }

    fn hypotheses(&self, request: &Request, _e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (a, grad) = (request.matrix("a"), request.upstream_matrix());
        vec![(
            Diagnosis::Bug(&DERIVATIVE_AT_INPUT),
            slope_at_input(a, grad, |a| a * (1.0 - a)),
        )]
    }
}

/// A B×D matrix of normals scaled by 2 to 3: values out to |a| ≈ 6, where the elementwise ops
/// bend.
pub fn spread_matrix(rng: &mut ChaCha8Rng, dims: &[usize]) -> ArrayD<f64> {
    let scale = rng.random_range(2.0..3.0);
    (random::normal_matrix(rng, dims[0], dims[1]) * scale).into_dyn()
}

/// dL/dh ⊙ slope(a): an elementwise op's slope evaluated at the input.
pub fn slope_at_input(
    a: ArrayView2<'_, f64>,
    grad: ArrayView2<'_, f64>,
    slope: fn(f64) -> f64,
) -> ArrayD<f64> {
    (&grad * &a.mapv(slope)).into_dyn()
}
