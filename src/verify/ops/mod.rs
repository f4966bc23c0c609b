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
mod registry;
pub mod relu;
pub mod rnn_step;
pub mod sigmoid;
pub mod softmax_xent;
pub mod sqerr;
pub mod tanh;

pub use course::CourseOp;
pub use registry::{REGISTRY, all, names, op, reference_answer};

use ndarray::ArrayD;
use rand_chacha::ChaCha8Rng;

use super::hypotheses::Evidence;
use super::hypotheses::law::Law;
use super::report::Diagnosis;
use crate::catalogue::{Answer, Bug, OpSpec, Request};
use crate::error::Result;
use crate::ops::Cost;
use crate::oracle::OracleReport;
use crate::random::ShapeBounds;
use crate::workload::Workload;

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

    /// For a network: its parameters from the input layer to the loss (`W1`, `b1`, … `b3`), the
    /// gradients a wrong loss backward scales together (`verify::recognise`'s loss factor and
    /// first wrong layer); empty for an op that is no network.
    fn network_parameters(&self) -> &'static [&'static str] {
        &[]
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
