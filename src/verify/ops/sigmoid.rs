//! sigmoid, h = σ(a) = 1/(1 + e^(−a)) elementwise on a B×D matrix (`crate::ops::sigmoid`); the
//! backward is dL/da = h(1 − h) ⊙ dL/dh, and its bug `derivative_at_input` is a(1 − a) ⊙ dL/dh
//! (see [`super::elementwise`]).

use std::sync::Arc;

use super::elementwise::Elementwise;
use crate::catalogue::{GradOut, InputSpec, OpSpec};
use crate::ops::Sigmoid;

/// sigmoid on the wire: `a: B×D`, dL/dh `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "sigmoid",
    family: "activations",
    dims: &["B", "D"],
    inputs: &[InputSpec::real("a", &["B", "D"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The sigmoid op.
pub static SIGMOID: Elementwise = Elementwise {
    spec: &SPEC,
    reference: || Arc::new(Sigmoid),
    slope_at_input: |a| a * (1.0 - a),
};
