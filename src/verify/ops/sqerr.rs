//! sqerr, L = ½ Σ (f − y)² over a B×D prediction f and target y (Eq. 31, 34); the backward
//! scales dL/dL: dL/df = dL/dL (f − y), dL/dy = −dL/dL (f − y) (Eq. 34b).
//!
//! Its own bug: a mean over the B·D elements where the loss sums. dL/dL is drawn never 1 (from
//! ±0.5, ±1.5, ±2, ±3), so that a backward that ignores it shows.

use std::sync::Arc;

use ndarray::{Array2, ArrayD, ArrayView2, arr0};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::IndexedRandom;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::{VerifiedOp, single_op};
use crate::catalogue::{Answer, GradOut, InputSpec, OpKind, OpSpec, Request};
use crate::error::Result;
use crate::ops::{Cost, Op, SqErr, sqerr};
use crate::oracle::OracleReport;
use crate::random;
use crate::verify::hypotheses::law::Law;
use crate::verify::report::Diagnosis;
use crate::verify::subject::{Backward, Closure, label};
use crate::workload::Workload;

/// A handle to this op, for code that names it.
pub const KIND: OpKind = OpKind::of(&SPEC);

/// sqerr on the wire: `f: B×D`, `y: B×D`, the scalar dL/dL.
pub static SPEC: OpSpec = OpSpec {
    name: "sqerr",
    family: "the notes",
    dims: &["B", "D"],
    inputs: &[
        InputSpec::real("f", &["B", "D"]),
        InputSpec::real("y", &["B", "D"]),
    ],
    attrs: &[],
    grad_out: GradOut::Scalar,
    extras: &[],
};

/// The sqerr op.
pub struct SqErrOp;

/// The parts of a sqerr request: (f, y, dL/dL).
fn parts(request: &Request) -> (ArrayView2<'_, f64>, ArrayView2<'_, f64>, f64) {
    (
        request.matrix("f"),
        request.matrix("y"),
        request.upstream_scalar(),
    )
}

impl VerifiedOp for SqErrOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
        let &[batch, d] = dims else {
            unreachable!("internal: dims {dims:?} do not fit sqerr")
        };
        let magnitude = *[0.5, 1.5, 2.0, 3.0].choose(rng).expect("internal: non-empty");
        let sign = if rng.random_bool(0.5) { 1.0 } else { -1.0 };
        let inputs = vec![
            random::normal_matrix(rng, batch, d).into_dyn(),
            random::normal_matrix(rng, batch, d).into_dyn(),
        ];
        Request::new(KIND, inputs, Vec::new(), Some(arr0(sign * magnitude).into_dyn()))
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (f, y, grad_out) = parts(request);
        let (df, dy) = sqerr::backward(grad_out, f.view().into_dyn(), y.view().into_dyn())?;
        Ok(Answer::default().with("f", df).with("y", dy))
    }

    fn factor_meaning(&self, law: &Law<'_>) -> Option<String> {
        loss_meaning(law)
    }

    fn divisors(&self, request: &Request) -> Vec<(Diagnosis, f64)> {
        vec![(Diagnosis::MeanOverElements, parts(request).0.len() as f64)]
    }

    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)> {
        let d = rng.random_range(1..=max_width);
        let f = random::normal_matrix(rng, batch, d).into_dyn();
        let y = random::normal_matrix(rng, batch, d).into_dyn();
        Ok((format!("B={batch} D={d}"), single_op(rng, SqErr, vec![f, y])?))
    }

    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>> {
        SqErr
            .cost(&[&[batch, width], &[batch, width]], &[true; 2])
            .map(Some)
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload> {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let mut normal = |shape: &[usize]| ArrayD::random_using(shape, StandardNormal, &mut rng);
        Some(Workload::Op(
            Arc::new(SqErr),
            vec![normal(&[batch, width]), normal(&[batch, width])],
        ))
    }
}

/// What a wrong factor means for the loss L = ½ Σ (f − y)² (Eq. 34b), whose gradient is f − y
/// (Eq. 31b): a 2 is its ½ missing, 1/B or 1/(B·D) a mean where it sums, 2/B or 2/(B·D) the
/// mean-of-squares convention. The network's loss is this one, so the network says the same.
pub fn loss_meaning(law: &Law<'_>) -> Option<String> {
    Some(match law {
        Law::Sign => "the sign is flipped (f − y written y − f, or a minus where the chain rule adds); negate it".to_owned(),
        Law::Constant((2, 1)) => "a missing ½: in L = ½ Σ (f − y)² (Eq. 34b) the ½ cancels the square's 2, so dL/df = f − y (Eq. 31b); drop the 2".to_owned(),
        Law::Constant((1, 2)) => "a ½ too many: the ½ of L = ½ Σ (f − y)² (Eq. 34b) is already cancelled by the square's 2, dL/df = f − y (Eq. 31b); drop the extra ½".to_owned(),
        Law::Constant(_) => return None,
        Law::BatchMean => "the right gradient divided by the batch size B: a mean over data points where the loss sums, L = ½ Σ (f − y)² (Eq. 34b); remove the division by B (it is right only when B = 1)".to_owned(),
        Law::BatchMse => "the loss taken as a mean over the batch of squares, `2 * (f - y) / B`, instead of L = ½ Σ (f − y)² (Eq. 34b), whose gradient is f − y (Eq. 31b); drop both the 2 and the division by B (deleting only the 2 leaves 1/B)".to_owned(),
        Law::ElementMean(d) => format!(
            "the right gradient divided by B·{d}, the number of elements: a mean (`/ f.size`, `np.mean`) where L = ½ Σ (f − y)² sums (Eq. 34b); remove the division"
        ),
        Law::ElementMse(d) => format!(
            "the loss taken as the mean of squares, mean((f − y)²), whose gradient is 2 (f − y)/(B·{d}) (`2 * (f - y) / f.size`), instead of L = ½ Σ (f − y)² (Eq. 34b), whose gradient is f − y (Eq. 31b); drop both the 2 and the division (deleting only the 2 leaves 1/(B·{d}))"
        ),
        Law::Shaped { formula, dims } => format!(
            "a factor that changes with the shape as {formula}; no backward of these notes divides or multiplies by a dimension (Eq. 31b, 66, 70, 74): find where {} enter",
            dims.join(" and ")
        ),
    })
}

/// A sqerr backward as a [`Backward`].
pub fn sqerr_subject<F>(backward: F) -> impl Backward
where
    F: Fn(f64, &Array2<f64>, &Array2<f64>) -> (Array2<f64>, Array2<f64>),
{
    let label = label::<F>();
    let call = move |r: &Request| {
        let (f, y, grad_out) = parts(r);
        let (df, dy) = backward(grad_out, &f.to_owned(), &y.to_owned());
        Answer::default()
            .with("f", df.into_dyn())
            .with("y", dy.into_dyn())
    };
    Closure { label, call }
}
