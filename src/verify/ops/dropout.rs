//! dropout (inverted, training mode, the mask given): out = x ⊙ mask / (1 − p), so
//! dL/dx = mask ⊙ dL/dout / (1 − p); `mask` (0s and 1s) is not differentiated.
//!
//! Its bug: `dropout_scale`, the 1/(1 − p) forgotten. Cases draw p = 0 (where the bug cannot
//! show) as well as p ∈ {0.2, 0.5}, and masks of both values.

use std::sync::Arc;

use ndarray::{Array2, ArrayD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::IndexedRandom;
use ndarray_rand::rand_distr::Bernoulli;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{AttrSpec, Bug, Grad, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Dropout, Op};
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// dropout on the wire: `x: B×D`, `mask: B×D` (not differentiated), attribute `p`.
pub static SPEC: OpSpec = OpSpec {
    name: "dropout",
    family: "activations",
    dims: &["B", "D"],
    inputs: &[
        InputSpec::real("x", &["B", "D"]),
        InputSpec::real("mask", &["B", "D"]).grad(Grad::None),
    ],
    attrs: &[AttrSpec {
        name: "p",
        default: None,
        integer: false,
    }],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The 1/(1 − p) of inverted dropout forgotten.
pub const DROPOUT_SCALE: Bug = Bug {
    code: "dropout_scale",
    summary: "the 1/(1 − p) is missing: you return mask ⊙ dL/dout; inverted dropout scales the kept units in the forward, out = x ⊙ mask / (1 − p), so dL/dx = mask ⊙ dL/dout / (1 − p)",
    explain: "\
dropout_scale: the 1/(1 − p) of inverted dropout forgotten

Inverted dropout (training mode) keeps each unit with probability 1 − p and scales the
kept ones up, out = x ⊙ mask / (1 − p), so that the expected output equals x and
nothing changes at test time. The backward is the same linear map:
dL/dx = mask ⊙ dL/dout / (1 − p). Your gradient is mask ⊙ dL/dout, (1 − p) times too
small; it is right only at p = 0.

Typical wrong code:
    dx = dout * mask
Fix:
    dx = dout * mask / (1 - p)
",
    parameter: None,
};

/// The dropout op.
pub struct DropoutOp;

impl CourseOp for DropoutOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Dropout { p: attrs[0] })
    }

    /// p ∈ {0, 0.2, 0.5}.
    fn draw_attrs(&self, _dims: &[usize], rng: &mut ChaCha8Rng) -> Vec<f64> {
        vec![*[0.0, 0.2, 0.5].choose(rng).expect("internal: non-empty")]
    }

    /// x normal; the mask keeps a unit with probability 1 − max(p, 0.25), so that every case
    /// drops some.
    fn draw_values(&self, dims: &[usize], attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let x = random::normal_matrix(rng, dims[0], dims[1]);
        let keep = Bernoulli::new(1.0 - attrs[0].max(0.25)).expect("internal: a probability");
        let mask = Array2::random_using((dims[0], dims[1]), keep, rng).mapv(|k| if k { 1.0 } else { 0.0 });
        vec![x.into_dyn(), mask.into_dyn()]
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![batch, rng.random_range(1..=max_width)]
    }

    /// p = 0.5.
    fn sized_attrs(&self) -> Vec<f64> {
        vec![0.5]
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&DROPOUT_SCALE]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        if e.input != "x" {
            return Vec::new();
        }
        let unscaled = &request.upstream_matrix() * &request.matrix("mask");
        vec![(Diagnosis::Bug(&DROPOUT_SCALE), unscaled.into_dyn())]
    }
}
