//! An op verified from its spec and its reference op alone: the course's ops (sigmoid to
//! rnn_step, `protocol-ops.md`) say how to draw their inputs and which reference op their
//! attributes choose, and everything else the verifier needs follows, once, here.
//!
//! For a request with inputs x₁…xₙ, attributes θ and upstream gradient ḡ (an array shaped like
//! the output, or a loss's scalar dL/dL), the reference answer is the reference op's VJP,
//! dL/dxₖ = J_kᵀ ḡ (Eq. 28, 36), for every input the spec differentiates; the op's forward is
//! run first, so that a request whose values the op does not admit (a label out of range, a
//! mask of 0.5) is an error naming the input, never an answer. A sweep case is a drawn request
//! checked against both oracles under a fresh random cotangent; the cost model and the
//! timings are the reference op's, at the size an op's home maps (B, D) to.

use std::sync::Arc;

use ndarray::{ArrayD, arr0};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::{VerifiedOp, single_op};
use crate::catalogue::{Answer, Bug, GradOut, InputSpec, OpKind, OpSpec, Request};
use crate::error::Result;
use crate::ops::{Cost, Op};
use crate::oracle::OracleReport;
use crate::random::{self, ShapeBounds};
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;
use crate::workload::Workload;

/// What an op's home says; [`VerifiedOp`] follows for every implementor.
pub trait CourseOp: Sync {
    /// The op on the wire.
    fn spec(&self) -> &'static OpSpec;

    /// As [`VerifiedOp::planned_dims`].
    fn planned_dims(&self) -> &'static [&'static [usize]];

    /// The reference op for a request's attributes (in the spec's order).
    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op>;

    /// The attributes (in the spec's order) of a case at the case dimensions `dims`, drawn
    /// before its values: none by default.
    fn draw_attrs(&self, _dims: &[usize], _rng: &mut ChaCha8Rng) -> Vec<f64> {
        Vec::new()
    }

    /// Random inputs (in the spec's order) at `dims` with the attributes `attrs`, from the op's
    /// own domains: where its bugs show, away from its kinks.
    fn draw_values(&self, dims: &[usize], attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>>;

    /// Random case dimensions for a sweep case of batch `batch`, widths up to `max_width`.
    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize>;

    /// The case dimensions of the cost tables' size (B, D), or `None` where the op is not
    /// defined there (batchnorm at B = 1).
    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>>;

    /// The attributes at those dimensions: the op's usual settings (conv2d stride 1 and pad 1),
    /// fixed, so that a table's rows differ by size only. None by default.
    fn sized_attrs(&self) -> Vec<f64> {
        Vec::new()
    }

    /// As [`VerifiedOp::admits`].
    fn admits(&self, _dims: &[usize]) -> bool {
        true
    }

    /// The bugs particular to this op.
    fn bugs(&self) -> &'static [&'static Bug] {
        &[]
    }

    /// As [`VerifiedOp::hypotheses`].
    fn hypotheses(&self, _request: &Request, _evidence: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        Vec::new()
    }

    /// As [`VerifiedOp::many_case_hypothesis`].
    fn many_case_hypothesis(
        &self,
        _input: &str,
        _cases: &[(&Request, &ArrayD<f64>)],
    ) -> Option<(Diagnosis, usize)> {
        None
    }
}

impl<T: CourseOp> VerifiedOp for T {
    fn spec(&self) -> &'static OpSpec {
        CourseOp::spec(self)
    }

    fn planned_dims(&self) -> &'static [&'static [usize]] {
        CourseOp::planned_dims(self)
    }

    fn random_dims(&self, rng: &mut ChaCha8Rng, bounds: ShapeBounds) -> Vec<usize> {
        let batch = rng.random_range(1..=bounds.max_batch);
        self.sweep_dims(rng, batch, bounds.max_width)
    }

    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
        let spec = CourseOp::spec(self);
        let attrs = self.draw_attrs(dims, rng);
        let inputs = self.draw_values(dims, &attrs, rng);
        let grad_out = match spec.grad_out {
            GradOut::Array(_) => {
                let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
                let out = (self.reference(&attrs).forward(&views))
                    .unwrap_or_else(|e| panic!("internal: {} drew inputs it rejects: {e}", spec.name));
                Some(ArrayD::random_using(out.raw_dim(), StandardNormal, rng))
            }
            GradOut::Scalar => Some(arr0(rng.sample::<f64, _>(StandardNormal)).into_dyn()),
            GradOut::None => None,
        };
        Request::new(OpKind::of(spec), inputs, attrs, grad_out)
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let spec = CourseOp::spec(self);
        let op = self.reference(request.attrs());
        let views: Vec<_> = request.inputs().iter().map(|a| a.view()).collect();
        op.forward(&views)?;
        let wanted: Vec<bool> = spec.inputs.iter().map(InputSpec::differentiated).collect();
        let grads = op.vjp(&views, request.upstream(), &wanted)?;
        let answered = (spec.inputs.iter().zip(grads)).filter_map(|(i, g)| Some((i.name, g?)));
        Ok(answered.fold(Answer::default(), |answer, (name, g)| answer.with(name, g)))
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        CourseOp::bugs(self)
    }

    fn admits(&self, dims: &[usize]) -> bool {
        CourseOp::admits(self, dims)
    }

    fn hypotheses(&self, request: &Request, evidence: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        CourseOp::hypotheses(self, request, evidence)
    }

    fn many_case_hypothesis(
        &self,
        input: &str,
        cases: &[(&Request, &ArrayD<f64>)],
    ) -> Option<(Diagnosis, usize)> {
        CourseOp::many_case_hypothesis(self, input, cases)
    }

    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)> {
        let dims = self.sweep_dims(rng, batch, max_width);
        let request = self.draw(&dims, rng);
        let op = self.reference(request.attrs());
        let report = single_op(rng, op, request.inputs().to_vec())?;
        Ok((request.shape(), report))
    }

    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>> {
        let Some(dims) = self.sized_dims(batch, width) else {
            return Ok(None);
        };
        let spec = CourseOp::spec(self);
        let shapes = spec.input_shapes(&dims);
        let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
        let wanted: Vec<bool> = spec.inputs.iter().map(InputSpec::differentiated).collect();
        self.reference(&self.sized_attrs())
            .cost(&shapes, &wanted)
            .map(Some)
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload> {
        let dims = self.sized_dims(batch, width)?;
        let attrs = self.sized_attrs();
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let inputs = self.draw_values(&dims, &attrs, &mut rng);
        Some(Workload::Op(self.reference(&attrs), inputs))
    }
}
