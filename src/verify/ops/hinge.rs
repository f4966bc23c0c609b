//! hinge (multiclass SVM, margin 1), L = (1/B) Σᵢ Σ_{j ≠ yᵢ} max(0, zᵢⱼ − zᵢ,yᵢ + 1) over B×C
//! scores z and B labels y (not differentiated). With the active margins
//! mᵢⱼ = [zᵢⱼ − zᵢ,yᵢ + 1 > 0] (j ≠ yᵢ): dL/dzᵢⱼ = dL/dL · mᵢⱼ / B and
//! dL/dzᵢ,yᵢ = −dL/dL · Σⱼ mᵢⱼ / B.
//!
//! Its bugs: `hinge_correct_class` (the correct class's column, minus the count of active
//! margins, left at 0) and `batch_sum` (softmax_xent's home). No margin drawn lies within
//! 1e-3 of 0 (the protocol's promise): the kink is never straddled.

use std::sync::Arc;

use ndarray::ArrayD;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use super::softmax_xent::{BATCH_SUM, LOSS_PLAN, batch_sum, labels, logits, loss_sweep_dims};
use crate::catalogue::{Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Hinge, Op};
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// hinge on the wire: `z: B×C`, `labels: B` (integers), dL/dL a number.
pub static SPEC: OpSpec = OpSpec {
    name: "hinge",
    family: "losses",
    dims: &["B", "C"],
    inputs: &[
        InputSpec::real("z", &["B", "C"]),
        InputSpec::index("labels", &["B"]),
    ],
    attrs: &[],
    grad_out: GradOut::Scalar,
    extras: &[],
};

/// The distance from the kink every drawn margin keeps.
const KINK_CLEARANCE: f64 = 1e-3;

/// The correct class's column left out.
pub const HINGE_CORRECT_CLASS: Bug = Bug {
    code: "hinge_correct_class",
    summary: "the correct class's gradient is missing: you return 0 at zᵢ,yᵢ; each active margin also pulls the correct score down, dL/dzᵢ,yᵢ = −(number of active margins in row i) / B",
    explain: "\
hinge_correct_class: the correct class's column of the hinge gradient left out

L = (1/B) Σᵢ Σ_{j ≠ yᵢ} max(0, zᵢⱼ − zᵢ,yᵢ + 1). Every active margin
(zᵢⱼ − zᵢ,yᵢ + 1 > 0) depends on two scores: +1 on zᵢⱼ and −1 on the correct score
zᵢ,yᵢ. So dL/dzᵢⱼ = [margin active] / B for j ≠ yᵢ, and
dL/dzᵢ,yᵢ = −(the count of active margins in row i) / B. Your gradient has the first
part and 0 at the correct class.

Typical wrong code:
    dz = (margins > 0).astype(float) / B
Fix:
    active = (margins > 0).astype(float); active[np.arange(B), y] = 0
    active[np.arange(B), y] = -active.sum(axis=1)
    dz = active / B
",
    parameter: None,
};

/// The hinge op.
pub struct HingeOp;

impl CourseOp for HingeOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    fn planned_dims(&self) -> &'static [&'static [usize]] {
        LOSS_PLAN
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Hinge)
    }

    /// Scores of scale 1 (about half the margins active), moved off the kink.
    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let (b, c) = (dims[0], dims[1]);
        let mut z = logits(rng, b, c, false) / 3.0;
        let labels = labels(rng, b, c);
        for (mut row, &y) in z.rows_mut().into_iter().zip(&labels) {
            let correct = row[y as usize];
            for (j, v) in row.iter_mut().enumerate() {
                let margin = *v - correct + 1.0;
                if j != y as usize && margin.abs() < KINK_CLEARANCE {
                    *v += 2.0 * KINK_CLEARANCE.copysign(margin);
                }
            }
        }
        vec![z.into_dyn(), labels.into_dyn()]
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        loss_sweep_dims(rng, batch, max_width)
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&HINGE_CORRECT_CLASS, &BATCH_SUM]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let mut found = batch_sum(request, e);
        if let Some(expected) = e.expected.get("z") {
            let mut kept = expected.clone();
            for (mut row, &y) in kept.rows_mut().into_iter().zip(request.vector("labels")) {
                row[y as usize] = 0.0;
            }
            found.push((Diagnosis::Bug(&HINGE_CORRECT_CLASS), kept));
        }
        found
    }
}
