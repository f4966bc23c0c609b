//! tanh, h = tanh(a) elementwise on a B×D matrix (`crate::ops::tanh`); the backward is
//! dL/da = (1 − h²) ⊙ dL/dh, and its bug `derivative_at_input` is (1 − a²) ⊙ dL/dh (see
//! [`super::elementwise`]).

use std::sync::Arc;

use super::elementwise::Elementwise;
use crate::catalogue::{GradOut, InputSpec, OpSpec};
use crate::ops::Tanh;

/// tanh on the wire: `a: B×D`, dL/dh `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "tanh",
    family: "activations",
    dims: &["B", "D"],
    inputs: &[InputSpec::real("a", &["B", "D"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The tanh op.
pub static TANH: Elementwise = Elementwise {
    spec: &SPEC,
    reference: || Arc::new(Tanh),
    slope_at_input: |a| 1.0 - a * a,
};
