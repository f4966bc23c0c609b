//! rnn_step, h' = tanh(x Wx + h Wh + b) for B rows of input x (B×D) and state h (B×H)
//! (`crate::ops::rnn_step`). With dpre = (1 − h'²) ⊙ dL/dh' the gradients are linear's
//! (Eq. 66, 70, 74) twice: dx = dpre Wxᵀ, dh = dpre Whᵀ, dWx = xᵀ dpre, dWh = hᵀ dpre,
//! db = Σ_rows dpre.
//!
//! Its bugs: `derivative_at_input` (`super::elementwise` holds its text: the slope 1 − pre² of the
//! pre-activation where 1 − h'² belongs) and `bias_not_summed` (db from the first row).

use std::sync::Arc;

use ndarray::{Array2, ArrayD, Axis};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use super::elementwise::DERIVATIVE_AT_INPUT;
use super::linear::BIAS_NOT_SUMMED;
use crate::catalogue::{Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Op, RnnStep};
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// rnn_step on the wire: `x: B×D`, `h: B×H`, `Wx: D×H`, `Wh: H×H`, `b: H`, dL/dh' `B×H`.
pub static SPEC: OpSpec = OpSpec {
    name: "rnn_step",
    family: "sequences",
    dims: &["B", "D", "H"],
    inputs: &[
        InputSpec::real("x", &["B", "D"]),
        InputSpec::real("h", &["B", "H"]),
        InputSpec::real("Wx", &["D", "H"]),
        InputSpec::real("Wh", &["H", "H"]),
        InputSpec::real("b", &["H"]),
    ],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "H"]),
    extras: &[],
};

/// The rnn_step op.
pub struct RnnStepOp;

impl CourseOp for RnnStepOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D, H].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 3, 2], &[3, 2, 4], &[4, 4, 4], &[2, 1, 3], &[5, 3, 1]]
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(RnnStep)
    }

    /// Inputs of scale 1, weights of scale 0.7: pre-activations of order 1, where tanh bends
    /// but does not saturate.
    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let (b, d, h) = (dims[0], dims[1], dims[2]);
        let mut normal = |shape: &[usize], scale: f64| random::normal_array(rng, shape) * scale;
        let inputs = vec![
            normal(&[b, d], 1.0),
            normal(&[b, h], 1.0),
            normal(&[d, h], 0.7),
            normal(&[h, h], 0.7),
            normal(&[h], 0.5),
        ];
        inputs
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![
            batch,
            rng.random_range(1..=max_width),
            rng.random_range(1..=max_width),
        ]
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width, width])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&DERIVATIVE_AT_INPUT, &BIAS_NOT_SUMMED]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let m = |name: &str| request.matrix(name);
        let (x, h, wx, wh, grad) = (m("x"), m("h"), m("Wx"), m("Wh"), request.upstream_matrix());
        let pre = x.dot(&wx) + h.dot(&wh) + request.vector("b");
        let at_input = &grad * &pre.mapv(|p| 1.0 - p * p);
        let mut found = Vec::new();
        if let Some(g) = grads_from(&at_input, request, e.input) {
            found.push((Diagnosis::Bug(&DERIVATIVE_AT_INPUT), g));
        }
        if e.input == "b" && x.nrows() > 1 {
            let right = &grad * &pre.mapv(|p| 1.0 - p.tanh() * p.tanh());
            found.push((
                Diagnosis::Bug(&BIAS_NOT_SUMMED),
                right.row(0).to_owned().into_dyn(),
            ));
        }
        found
    }
}

/// The gradient of `input` that a backward computes from the pre-activation's gradient `dpre`.
fn grads_from(dpre: &Array2<f64>, request: &Request, input: &str) -> Option<ArrayD<f64>> {
    let m = |name: &str| request.matrix(name);
    Some(match input {
        "x" => dpre.dot(&m("Wx").t()).into_dyn(),
        "h" => dpre.dot(&m("Wh").t()).into_dyn(),
        "Wx" => m("x").t().dot(dpre).into_dyn(),
        "Wh" => m("h").t().dot(dpre).into_dyn(),
        "b" => dpre.sum_axis(Axis(0)).into_dyn(),
        _ => return None,
    })
}
