//! layernorm, batchnorm's road per row i of the B×D matrix x (its D features) instead of per
//! column, γ and β still per feature (`crate::ops::layernorm`, D ≥ 2): with r = 1/√(σ² + ε) of
//! the row, dx = r/D · (D dx̂ − Σⱼ dx̂ − x̂ Σⱼ dx̂ ⊙ x̂), dγ = Σᵢ dout ⊙ x̂, dβ = Σᵢ dout.
//!
//! Its bugs are batchnorm's (whose home holds their texts): `stats_as_constants`, and
//! `wrong_axis` (batchnorm's statistics, per column, where B ≥ 2).

use std::sync::Arc;

use ndarray::{ArrayD, Axis};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::batchnorm::{
    NORM_ATTRS, NORM_INPUTS, STATS_AS_CONSTANTS, WRONG_AXIS, norm_hypotheses, norm_inputs,
};
use super::course::CourseOp;
use crate::catalogue::{Bug, GradOut, OpSpec, Request};
use crate::ops::{BatchNorm, DEFAULT_EPS, LayerNorm, Op};
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// layernorm on the wire.
pub static SPEC: OpSpec = OpSpec {
    name: "layernorm",
    family: "normalisation",
    dims: &["B", "D"],
    inputs: NORM_INPUTS,
    attrs: NORM_ATTRS,
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The layernorm op.
pub struct LayerNormOp;

impl CourseOp for LayerNormOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D], D ≥ 2.
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 3], &[4, 4], &[3, 2], &[5, 6], &[2, 5]]
    }

    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(LayerNorm { eps: attrs[0] })
    }

    /// ε = 1e-5.
    fn draw_attrs(&self, _dims: &[usize], _rng: &mut ChaCha8Rng) -> Vec<f64> {
        vec![DEFAULT_EPS]
    }

    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        norm_inputs(dims, rng)
    }

    /// D ≥ 3, for the reason batchnorm's sweep takes B ≥ 3.
    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![batch, rng.random_range(3..=max_width.max(3))]
    }

    /// ε = 1e-5.
    fn sized_attrs(&self) -> Vec<f64> {
        vec![DEFAULT_EPS]
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        (width >= 2).then(|| vec![batch, width])
    }

    /// D ≥ 2.
    fn admits(&self, dims: &[usize]) -> bool {
        dims[1] >= 2
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&STATS_AS_CONSTANTS, &WRONG_AXIS]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let eps = request.attr("eps");
        norm_hypotheses(request, e, Axis(1), &BatchNorm { eps })
    }
}
