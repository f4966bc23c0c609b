//! One home per op: everything the verifier (and the sweep, the cost model and the timings) knows
//! about an op lives in its own file, behind [`VerifiedOp`]: its [`OpSpec`] (the op on the wire:
//! inputs, shapes, attributes, upstream gradient), its planned and random cases, its reference
//! answer (the VJPs of `crate::ops`), the bugs particular to it with their codes and texts, and its
//! workloads for the sweep, the cost model and the timings. [`REGISTRY`] lists the ops, one line
//! each: adding an op is its home here, its line there, and the reference op in `crate::ops`.
//!
//! Reading and writing a request, its shape and batch, a zero upstream and an answer's keys are
//! written once, from the spec ([`crate::catalogue`], [`crate::protocol`]).

pub mod batchnorm;
pub mod conv2d;
mod course;
pub mod dropout;
pub mod elementwise;
pub mod embedding;
pub mod hinge;
pub mod layernorm;
pub mod linear;
pub mod maxpool2d;
pub mod mlp;
pub mod relu;
pub mod rnn_step;
pub mod sigmoid;
pub mod softmax_xent;
pub mod sqerr;
pub mod tanh;

pub use course::CourseOp;

use std::str::FromStr;
use std::sync::LazyLock;

use ndarray::ArrayD;
use rand_chacha::ChaCha8Rng;

use super::diagnose::{Diagnosis, Evidence};
use super::hypotheses::law::Law;
use crate::catalogue::{Answer, Bug, OpKind, OpSpec, Request};
use crate::error::{Error, Result};
use crate::ops::Cost;
use crate::oracle::OracleReport;
use crate::random::ShapeBounds;
use crate::workload::Workload;

/// Every op the verifier knows, in the protocol's order: one line per op (the notes' four,
/// then the course's eleven of `protocol-ops.md`).
pub static REGISTRY: &[&dyn VerifiedOp] = &[
    &linear::LinearOp,
    &relu::ReluOp,
    &sqerr::SqErrOp,
    &mlp::MlpOp,
    &sigmoid::SIGMOID,
    &tanh::TANH,
    &dropout::DropoutOp,
    &softmax_xent::SoftmaxXentOp,
    &hinge::HingeOp,
    &batchnorm::BatchNormOp,
    &layernorm::LayerNormOp,
    &conv2d::Conv2dOp,
    &maxpool2d::MaxPool2dOp,
    &embedding::EmbeddingOp,
    &rnn_step::RnnStepOp,
];

/// Every op, in the registry's order.
pub fn all() -> &'static [OpKind] {
    static ALL: LazyLock<Vec<OpKind>> =
        LazyLock::new(|| REGISTRY.iter().map(|op| OpKind::of(op.spec())).collect());
    &ALL
}

/// The verifier's knowledge of the op `kind`.
pub fn op(kind: OpKind) -> &'static dyn VerifiedOp {
    *(REGISTRY.iter())
        .find(|op| op.spec().name == kind.name())
        .unwrap_or_else(|| panic!("internal: {kind} is not in the registry"))
}

/// The reference answer, computed by this crate's backprop: for the network every parameter
/// gradient, dL/dx and the loss.
pub fn reference_answer(request: &Request) -> Result<Answer> {
    op(request.kind()).reference_answer(request)
}

impl FromStr for OpKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<OpKind> {
        all()
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Config {
                arg: "op".into(),
                value: s.into(),
                expected: format!("one of {}", names()),
            })
    }
}

/// The ops' names, comma-separated: `linear, relu, sqerr, mlp`.
pub fn names() -> String {
    let names: Vec<&str> = all().iter().map(|k| k.name()).collect();
    names.join(", ")
}

/// What the verifier knows about one op. Methods that take a request are only given requests
/// of this op.
pub trait VerifiedOp: Sync {
    /// The op on the wire and in a case.
    fn spec(&self) -> &'static OpSpec;

    /// The planned dimensions of the first cases, all of one length (e.g. [B, Din, Dout]): B = 1
    /// and B > 1, square and non-square, widths of 1.
    fn planned_dims(&self) -> &'static [&'static [usize]];

    /// Random case dimensions within `bounds` (as in [`VerifiedOp::planned_dims`]): by default
    /// the batch up to `max_batch` and every other letter up to `max_width`.
    fn random_dims(&self, rng: &mut ChaCha8Rng, bounds: ShapeBounds) -> Vec<usize> {
        use ndarray_rand::rand::Rng;
        let count = self.planned_dims()[0].len();
        (0..count)
            .map(|d| {
                let max = if d == 0 {
                    bounds.max_batch
                } else {
                    bounds.max_width
                };
                rng.random_range(1..=max)
            })
            .collect()
    }

    /// Whether the op is defined at the case dimensions `dims` (a shrunk case must be: batchnorm
    /// needs B ≥ 2).
    fn admits(&self, _dims: &[usize]) -> bool {
        true
    }

    /// A random request with dimensions `dims` (as in [`VerifiedOp::planned_dims`]).
    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request;

    /// The reference gradients, keyed by input name in the protocol's order.
    fn reference_answer(&self, request: &Request) -> Result<Answer>;

    /// Predictions of the bugs particular to this op, for the gradient of `evidence.input`.
    fn hypotheses(&self, _request: &Request, _evidence: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        Vec::new()
    }

    /// The dimensions a wrong factor may depend on, by name, `B` first (see
    /// [`super::hypotheses::shape_factor`]): every letter of the spec unless the op says otherwise.
    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)> {
        request.dims()
    }

    /// A bug of this op that only several failing cases of one gradient show together (`cases`:
    /// each failing case's request and the gradient returned), with its example's index.
    fn many_case_hypothesis(
        &self,
        _input: &str,
        _cases: &[(&Request, &ArrayD<f64>)],
    ) -> Option<(Diagnosis, usize)> {
        None
    }

    /// What a wrong factor's law means for this op, in its maths (sqerr: a factor of 2 is the ½
    /// of L = ½ Σ (f − y)² missing); `None` lets the generic meaning stand.
    fn factor_meaning(&self, _law: &Law<'_>) -> Option<String> {
        None
    }

    /// Divisors of the right gradient that this op's conventions suggest (beside the batch
    /// size, which every op has), each with its diagnosis.
    fn divisors(&self, _request: &Request) -> Vec<(Diagnosis, f64)> {
        Vec::new()
    }

    /// Where the op has a kink, the gradient with the other valid subgradient at it, and a note
    /// for the report when a backward takes it.
    fn other_subgradient(&self, _request: &Request) -> Option<(ArrayD<f64>, &'static str)> {
        None
    }

    /// One case of the sweep: a batch of `batch`, widths drawn up to `max_width`, checked against
    /// both oracles; with its shape.
    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)>;

    /// The modelled backward cost at batch `batch` and width `width`: every input's gradient for
    /// an op alone, every parameter's for the network; `None` where the op is not defined at
    /// that size (batchnorm at B = 1).
    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>>;

    /// Random inputs at one size, for the measured times; `None` as for [`Self::model_cost`].
    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload>;

    /// The bugs particular to this op, each with its code and texts (for `explain`).
    fn bugs(&self) -> &'static [&'static Bug] {
        &[]
    }
}

/// Checks one op alone under a random cotangent shaped like its output.
fn single_op(
    rng: &mut ChaCha8Rng,
    op: impl crate::ops::Op + 'static,
    inputs: Vec<ArrayD<f64>>,
) -> Result<OracleReport> {
    use ndarray_rand::rand::Rng;
    use ndarray_rand::rand_distr::StandardNormal;
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let shape = op.forward(&views)?.raw_dim();
    let cotangent = ArrayD::from_shape_simple_fn(shape, || rng.sample::<f64, _>(StandardNormal));
    crate::oracle::check_op(op, inputs, cotangent.view())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{parse_request, request_to_json};
    use crate::random;

    #[test]
    fn every_op_draws_its_own_requests_and_reads_back_what_it_writes() {
        for &kind in all() {
            let op = op(kind);
            assert_eq!(op.spec().name.parse::<OpKind>().unwrap(), kind);
            let plan = op.planned_dims();
            assert!(plan.iter().all(|d| d.len() == plan[0].len()), "{kind}");
            for (index, dims) in plan.iter().enumerate() {
                let request = op.draw(dims, &mut random::case_rng(7, index as u64));
                assert_eq!(request.kind(), kind);
                assert_eq!(request.batch(), dims[0], "{kind}");
                let drawn: Vec<usize> = request.dims().iter().map(|&(_, n)| n).collect();
                assert_eq!(
                    drawn, *dims,
                    "{kind}: the spec's letters read the planned dims back"
                );
                let line = request_to_json(&request, index as u64).to_string();
                let (_, read) = parse_request(&line, all()).unwrap();
                assert_eq!(read.kind(), kind, "{line}");
                assert_eq!(read.shape(), request.shape(), "{line}");
                let answer = op.reference_answer(&request).unwrap();
                let keys = kind.spec().answer_keys();
                assert!(
                    keys.iter().all(|(k, ..)| answer.get(k).is_some()),
                    "{kind}: every key an answer may carry is one of the reference's"
                );
                assert_eq!(read, request, "{kind}: read back as written");
            }
        }
    }

    #[test]
    fn an_unknown_op_names_the_ones_there_are() {
        let err = "softplus".parse::<OpKind>().unwrap_err().to_string();
        assert!(err.contains("one of linear, relu, sqerr, mlp"), "{err}");
    }
}
