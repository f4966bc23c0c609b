//! tanh, h = tanh(a) elementwise on a B×D matrix; the backward is dL/da = (1 − h²) ⊙ dL/dh,
//! the slope written from the output.
//!
//! Its bug: `derivative_at_input` (sigmoid's home holds its text), the slope 1 − a² taken
//! from the input.

use std::sync::Arc;

use ndarray::ArrayD;
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use super::sigmoid::{DERIVATIVE_AT_INPUT, slope_at_input, spread_matrix};
use crate::catalogue::{Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Op, Tanh};
use crate::verify::diagnose::{Diagnosis, Evidence};

/// tanh on the wire: `a: B×D`, dL/dh `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "tanh",
    dims: &["B", "D"],
    inputs: &[InputSpec::real("a", &["B", "D"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The tanh op.
pub struct TanhOp;

impl CourseOp for TanhOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Tanh)
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
            slope_at_input(a, grad, |a| 1.0 - a * a),
        )]
    }
}
