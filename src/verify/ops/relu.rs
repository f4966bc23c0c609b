//! relu, h = max(a, 0) elementwise on a B×D matrix (Eq. 29); the backward masks the upstream
//! gradient with the step function, dL/da = Θ(a) ⊙ dL/dh (Eq. 47), Θ(0) = 0 (Eq. 42).
//!
//! Its own bugs: the mask missing, inverted (kept where a ≤ 0), or taken from dL/dh instead of
//! a. At a = 0 both one-sided derivatives are valid subgradients: Θ(0) = 1 passes, with a note.
//! Some drawn inputs are exactly 0, to see which side of the kink the backward takes.

use std::sync::Arc;

use ndarray::{Array2, ArrayD, ArrayView2, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::{VerifiedOp, single_op};
use crate::catalogue::{Answer, Bug, GradOut, InputSpec, OpKind, OpSpec, Request};
use crate::error::Result;
use crate::ops::{Cost, Op, Relu, relu};
use crate::oracle::OracleReport;
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;
use crate::verify::subject::{Backward, Closure, label};
use crate::workload::Workload;

/// A handle to this op, for code that names it.
pub const KIND: OpKind = OpKind::of(&SPEC);

/// relu on the wire: `a: B×D`, dL/dh `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "relu",
    family: "the notes",
    dims: &["B", "D"],
    inputs: &[InputSpec::real("a", &["B", "D"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// dL/dh passed through without the mask.
pub const MASK_MISSING: Bug = Bug {
    code: "mask_missing",
    summary: "relu mask missing: you pass dL/dh through unchanged; dL/da = Θ(a) ⊙ dL/dh (Eq. 47)",
    explain: "\
mask_missing: relu's backward passes the gradient through unchanged

relu's derivative is the step Θ(a): 1 where a > 0, 0 elsewhere (Eq. 42), so
dL/da = Θ(a) ⊙ dL/dh (Eq. 47). Yours is dL/dh itself.

Typical wrong code:
    da = dh
Fix:
    da = dh * (a > 0)
",
    parameter: None,
};

/// The mask kept where a ≤ 0 and dropped where a > 0.
pub const MASK_INVERTED: Bug = Bug {
    code: "mask_inverted",
    summary: "relu mask inverted: you keep the gradient where a ≤ 0 and drop it where a > 0 (Θ, Eq. 42)",
    explain: "\
mask_inverted: relu's mask kept where a ≤ 0 and dropped where a > 0

dL/da = Θ(a) ⊙ dL/dh (Eq. 47), with Θ(a) = 1 for a > 0 (Eq. 42). Yours keeps the
gradient on the flat side of the relu and drops it on the linear side.

Typical wrong code:
    da = dh * (a <= 0)
Fix:
    da = dh * (a > 0)
",
    parameter: None,
};

/// The mask taken from dL/dh instead of a.
pub const MASK_FROM_UPSTREAM: Bug = Bug {
    code: "mask_from_upstream",
    summary: "relu mask taken from the wrong tensor: you keep dL/dh where dL/dh > 0; the mask is Θ(a), from relu's input (Eq. 47)",
    explain: "\
mask_from_upstream: relu's mask taken from the gradient instead of the input

The mask is Θ(a), from relu's input a (Eq. 47) — or, equivalently, from its output
h = relu(a), since h > 0 exactly where a > 0. Yours keeps dL/dh where dL/dh > 0.

Typical wrong code:
    da = dh * (dh > 0)
Fix:
    da = dh * (a > 0)
",
    parameter: None,
};

/// The relu op.
pub struct ReluOp;

/// The parts of a relu request: (a, dL/dh).
fn parts(request: &Request) -> (ArrayView2<'_, f64>, ArrayView2<'_, f64>) {
    (request.matrix("a"), request.upstream_matrix())
}

impl VerifiedOp for ReluOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[1, 4], &[3, 5], &[4, 4], &[2, 1], &[1, 1]]
    }

    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
        let &[batch, d] = dims else {
            unreachable!("internal: dims {dims:?} do not fit relu")
        };
        let mut a = random::normal_matrix(rng, batch, d);
        if rng.random_bool(0.5) {
            put_exact_zeros(&mut a, rng);
        }
        let grad_out = random::normal_matrix(rng, batch, d).into_dyn();
        Request::new(KIND, vec![a.into_dyn()], Vec::new(), Some(grad_out))
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (a, grad_out) = parts(request);
        Ok(Answer::default().with("a", relu::backward(grad_out.into_dyn(), a.into_dyn())?))
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        if e.input != "a" {
            return Vec::new();
        }
        let (a, grad_out) = parts(request);
        let step = |a: ArrayView2<'_, f64>| a.mapv(relu::step);
        vec![
            (Diagnosis::Bug(&MASK_MISSING), grad_out.to_owned().into_dyn()),
            (
                Diagnosis::Bug(&MASK_INVERTED),
                (&grad_out * &step(a).mapv(|t| 1.0 - t)).into_dyn(),
            ),
            (
                Diagnosis::Bug(&MASK_FROM_UPSTREAM),
                (&grad_out * &step(grad_out)).into_dyn(),
            ),
        ]
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&MASK_MISSING, &MASK_INVERTED, &MASK_FROM_UPSTREAM]
    }

    fn other_subgradient(&self, request: &Request) -> Option<(ArrayD<f64>, &'static str)> {
        let (a, grad_out) = parts(request);
        Some((
            (&grad_out * &a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 })).into_dyn(),
            "at a = 0 exactly you take relu'(0) = 1; that is a valid subgradient, but PyTorch and JAX (and these notes, Eq. 42) use Θ(0) = 0",
        ))
    }

    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)> {
        let d = rng.random_range(1..=max_width);
        let a = random::normal_matrix(rng, batch, d).into_dyn();
        Ok((format!("B={batch} D={d}"), single_op(rng, Relu, vec![a])?))
    }

    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>> {
        Relu.cost(&[&[batch, width]], &[true]).map(Some)
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload> {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let a = ArrayD::random_using(&[batch, width][..], StandardNormal, &mut rng);
        Some(Workload::Op(Arc::new(Relu), vec![a]))
    }
}

/// Sets about a quarter of the entries (at least one) to exactly 0.
fn put_exact_zeros(a: &mut Array2<f64>, rng: &mut ChaCha8Rng) {
    let first = rng.random_range(0..a.len());
    let mut index = 0;
    Zip::from(a).for_each(|v| {
        if index == first || rng.random_bool(0.25) {
            *v = 0.0;
        }
        index += 1;
    });
}

/// A relu backward as a [`Backward`].
pub fn relu_subject<F>(backward: F) -> impl Backward
where
    F: Fn(&Array2<f64>, &Array2<f64>) -> Array2<f64>,
{
    let label = label::<F>();
    let call = move |r: &Request| {
        let (a, grad_out) = parts(r);
        Answer::default().with("a", backward(&grad_out.to_owned(), &a.to_owned()).into_dyn())
    };
    Closure { label, call }
}
