//! A reference implementation as the oracle (an instructor's solution): at each case the op's
//! gradients are compared with the reference's VJP under the same cotangent, and its forward's
//! outputs with the reference's, instead of with finite differences of its own forward.
//!
//! Two right implementations of one formula agree to rounding: an element agrees when
//! `|a − e| ≤ rtol · max(|a|, |e|) + floor`, with `rtol` 1e-8 unless given and the floor
//! `1e-10 · max|e|` over the array (the rounding of a sum that cancels is relative to its terms,
//! not to its value, and where every element of an array cancels, its largest element is no
//! measure of its terms: give a larger `rtol` there). The floor is an error bound in the sense of [`crate::compare`]: an element
//! within it but not resolved by it is excused, not certified; a difference beyond it fails,
//! whatever the element's size.

use ndarray::{ArrayD, Zip};

use super::closures::{Closures, Reference, call};
use super::estimates::against_estimates;
use super::options::Options;
use crate::compare::Comparison;
use crate::verify::report::model::FORWARD_PREFIX;

/// The relative tolerance against a reference, unless `.rtol` says otherwise.
pub const REFERENCE_RTOL: f64 = 1e-8;
/// The floor of the agreement, relative to the array's largest element.
const FLOOR: f64 = 1e-10;

/// The reference's answer at one case: its outputs and its gradients.
pub(super) struct Answer {
    pub(super) outputs: Vec<ArrayD<f64>>,
    pub(super) grads: Vec<ArrayD<f64>>,
}

impl Closures<'_> {
    /// The reference's forward and VJP at `inputs` under `cotangents`; an error (`the
    /// reference's backward failed: …`) when it cannot answer or answers in the wrong number.
    pub(super) fn reference_answer(
        &self,
        reference: &Reference<'_>,
        inputs: &[ArrayD<f64>],
        cotangents: &[ArrayD<f64>],
    ) -> Result<Answer, String> {
        let outputs = call("the reference's forward", || (reference.forward)(inputs))?;
        let grads = call("the reference's backward", || {
            (reference.backward)(inputs, cotangents)
        })?;
        if outputs.len() != cotangents.len() || grads.len() != inputs.len() {
            return Err(format!(
                "the reference answered {} outputs and {} gradients for an op of {} outputs and {} inputs",
                outputs.len(),
                grads.len(),
                cotangents.len(),
                inputs.len()
            ));
        }
        Ok(Answer { outputs, grads })
    }
}

/// `actual` against the reference's `expected`, under the reference tolerance and its floor.
pub(super) fn against_reference(
    name: &str,
    expected: &ArrayD<f64>,
    actual: &ArrayD<f64>,
    options: &Options,
) -> Comparison {
    let largest = expected.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    let floor = ArrayD::from_elem(expected.raw_dim(), FLOOR * largest);
    let comparable = Zip::from(expected).map_collect(|e| e.is_finite());
    let options = Options {
        rtol: options.reference_rtol,
        ..options.clone()
    };
    against_estimates(name, expected, &floor, &comparable, actual, &options)
}

/// The name of output `j` of `outputs` in the forward's comparison: `forward y` (shown as `the
/// forward's y`), or
/// `… y0`, `… y1` with several.
pub(super) fn forward_name(j: usize, outputs: usize) -> String {
    if outputs == 1 {
        format!("{FORWARD_PREFIX}y")
    } else {
        format!("{FORWARD_PREFIX}y{j}")
    }
}
