//! softmax_xent, L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ] over B×C logits z and B labels y (not
//! differentiated); dL/dz = dL/dL · (softmax(z) − onehot(y)) / B.
//!
//! Its bugs: `onehot_missing` (softmax(z)/B without the one-hot subtracted) and `batch_sum`
//! (the 1/B of the mean left out, the converse of `batch_mean`; hinge has it too). Labels
//! repeat, and cover every class in some cases and leave classes out in others; some cases'
//! logits reach ±800, where a softmax without the row's max subtracted overflows (e^710 = ∞) and
//! answers NaN.

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::SliceRandom;
use ndarray_rand::rand_distr::Uniform;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Op, SoftmaxXent};
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// softmax_xent on the wire: `z: B×C`, `labels: B` (integers), dL/dL a number.
pub static SPEC: OpSpec = OpSpec {
    name: "softmax_xent",
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

/// The one-hot of the labels not subtracted.
pub const ONEHOT_MISSING: Bug = Bug {
    code: "onehot_missing",
    summary: "the one-hot of the labels is not subtracted: you return softmax(z)/B; dL/dz = (softmax(z) − onehot(y)) / B",
    explain: "\
onehot_missing: softmax cross-entropy's gradient without the one-hot subtracted

For L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ] the gradient is
    dL/dz = dL/dL · (softmax(z) − onehot(y)) / B:
the softmax of each row, less 1 at the row's label. Your gradient is softmax(z)/B:
every element positive, its rows summing to 1/B where the right rows sum to 0. The
label has not entered the backward at all.

Typical wrong code:
    dz = probs / B
Fix:
    dz = probs.copy(); dz[np.arange(B), y] -= 1; dz /= B
",
    parameter: None,
};

/// A mean loss's gradient not divided by B.
pub const BATCH_SUM: Bug = Bug {
    code: "batch_sum",
    summary: "not divided by the batch size B: this loss is a mean over the B data points, so its gradient carries 1/B; you return B × the right gradient (right only at B = 1)",
    explain: "\
batch_sum: a mean loss's gradient not divided by B

softmax_xent and hinge are means over the batch, L = (1/B) Σᵢ ℓᵢ, so every row of
dL/dz carries the 1/B: dL/dz = dL/dL · (softmax(z) − onehot(y)) / B for softmax
cross-entropy, and the hinge's indicator counts divided by B. Your gradient is B times
the right one: the sum's gradient, not the mean's. It is right only at B = 1. (The
converse of batch_mean, where a summed loss's gradient was divided by B.)

Typical wrong code:
    dz = probs.copy(); dz[np.arange(B), y] -= 1           # no / B
Fix:
    dz = probs.copy(); dz[np.arange(B), y] -= 1; dz /= B
",
    parameter: None,
};

/// The softmax_xent op.
pub struct SoftmaxXentOp;

impl CourseOp for SoftmaxXentOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    fn planned_dims(&self) -> &'static [&'static [usize]] {
        LOSS_PLAN
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(SoftmaxXent)
    }

    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let (b, c) = (dims[0], dims[1]);
        let extreme = rng.random_bool(0.25);
        let z = logits(rng, b, c, extreme);
        vec![z.into_dyn(), labels(rng, b, c).into_dyn()]
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        loss_sweep_dims(rng, batch, max_width)
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width])
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&ONEHOT_MISSING, &BATCH_SUM]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let mut found = batch_sum(request, e);
        // The right answer is (softmax(z) − onehot(y)) · dL/dL / B: the one-hot added back.
        if let Some(expected) = e.expected.get("z") {
            let scale = request.upstream_scalar() / request.batch() as f64;
            let mut softmax = expected.clone();
            for (mut row, &y) in softmax.rows_mut().into_iter().zip(request.vector("labels")) {
                row[y as usize] += scale;
            }
            found.push((Diagnosis::Bug(&ONEHOT_MISSING), softmax));
        }
        found
    }
}

/// The planned [B, C] of both losses: B = 1, labels repeating (B > C) and classes left out
/// (B < C).
pub const LOSS_PLAN: &[&[usize]] = &[&[1, 3], &[5, 3], &[3, 5], &[4, 2], &[6, 4]];

/// A loss's sweep dimensions: C ≥ 2 (with one class the gradient is 0).
pub fn loss_sweep_dims(rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
    vec![batch, rng.random_range(2..=max_width.max(2))]
}

/// [`BATCH_SUM`]'s prediction for a mean loss: B × the right gradient (none at B = 1).
pub fn batch_sum(request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
    let batch = request.batch();
    match e.expected.get(e.input) {
        Some(expected) if batch > 1 => vec![(Diagnosis::Bug(&BATCH_SUM), expected * batch as f64)],
        _ => Vec::new(),
    }
}

/// B×C logits: normals scaled by 3, or (`extreme`) uniform in ±800, where e^z overflows.
pub fn logits(rng: &mut ChaCha8Rng, b: usize, c: usize, extreme: bool) -> Array2<f64> {
    if extreme {
        Array2::random_using(
            (b, c),
            Uniform::new(-800.0, 800.0).expect("internal: a range"),
            rng,
        )
    } else {
        random::normal_matrix(rng, b, c) * 3.0
    }
}

/// B labels in [0, C): when B ≥ C every class at least once, repeating; when B < C, distinct
/// classes drawn at random, so that others are absent.
pub fn labels(rng: &mut ChaCha8Rng, b: usize, c: usize) -> Array1<f64> {
    let mut labels: Vec<usize> = (0..c).collect();
    labels.shuffle(rng);
    let mut labels: Vec<usize> = labels.into_iter().cycle().take(b).collect();
    labels.shuffle(rng);
    labels.into_iter().map(|l| l as f64).collect()
}
