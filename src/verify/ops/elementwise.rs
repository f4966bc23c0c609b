//! The elementwise activations sigmoid and tanh, h = f(a) on a B×D matrix, as one kind of home:
//! the backward multiplies the upstream gradient by the slope written from the *output*,
//! dL/da = f′ ⊙ dL/dh with σ′ = h(1 − h) and tanh′ = 1 − h².
//!
//! Their bug, `derivative_at_input` (rnn_step's too): the same expression written with the
//! input a where h belongs, a(1 − a) or 1 − a². Inputs are drawn up to |a| ≈ 6, where the two
//! differ everywhere but at a = 0.

use std::sync::Arc;

use ndarray::ArrayD;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{Bug, OpSpec, Request};
use crate::ops::Op;
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

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
    parameter: None,
};

/// An elementwise activation's home: its spec, its reference op, and its slope written wrongly
/// from the input (the prediction of [`DERIVATIVE_AT_INPUT`]).
pub struct Elementwise {
    /// The op on the wire: `a: B×D`, dL/dh `B×D`.
    pub spec: &'static OpSpec,
    /// The reference op.
    pub reference: fn() -> Arc<dyn Op>,
    /// f′ written with the input a in place of the output h.
    pub slope_at_input: fn(f64) -> f64,
}

impl CourseOp for Elementwise {
    fn spec(&self) -> &'static OpSpec {
        self.spec
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        (self.reference)()
    }

    /// Normals scaled by 2 to 3: values out to |a| ≈ 6, where the activations bend.
    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let scale = rng.random_range(2.0..3.0);
        vec![(random::normal_matrix(rng, dims[0], dims[1]) * scale).into_dyn()]
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
        let at_input = &request.upstream_matrix() * &request.matrix("a").mapv(self.slope_at_input);
        vec![(Diagnosis::Bug(&DERIVATIVE_AT_INPUT), at_input.into_dyn())]
    }
}
