//! One home per op: everything the verifier (and the sweep, the cost model and the timings) knows
//! about an op lives in its own file, behind [`VerifiedOp`]; this registry maps an [`OpKind`] to
//! it. Adding an op is one new file here, one variant of [`OpKind`] and [`Request`], and one line
//! in [`op`] (the reference op in `crate::ops` and the protocol document counted apart).
//!
//! Per op: the planned case dimensions and the random draw of a request, its batch size and shape
//! label, the reference answer (the VJPs of `crate::ops`), the answer keys a program may leave out,
//! the hypotheses of the bugs particular to it, its part of the protocol (reading a request's
//! inputs, writing a request line), and its workloads for the sweep, the cost model and the
//! timings.

pub mod linear;
pub mod mlp;
pub mod relu;
pub mod sqerr;

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, ArrayD};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value};

use super::diagnose::{Diagnosis, Evidence};
use crate::error::{Error, Result};
use crate::mlp::MlpParams;
use crate::ops::Cost;
use crate::oracle::OracleReport;
use crate::protocol::Answer;
use crate::timing::Inputs;

/// The ops of protocol version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// a = h W + b.
    Linear,
    /// h = max(a, 0).
    Relu,
    /// L = ½ Σ (f − y)².
    SqErr,
    /// The Eq. 33 network.
    Mlp,
}

/// One request's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// a = h W + b, with dL/da.
    Linear {
        h: Array2<f64>,
        w: Array2<f64>,
        b: Array1<f64>,
        grad_out: Array2<f64>,
    },
    /// h = relu(a), with dL/dh.
    Relu { a: Array2<f64>, grad_out: Array2<f64> },
    /// L = ½ Σ (f − y)², with the scalar dL/dL.
    SqErr {
        f: Array2<f64>,
        y: Array2<f64>,
        grad_out: f64,
    },
    /// The Eq. 33 network on data x, targets y.
    Mlp {
        x: Array2<f64>,
        y: Array2<f64>,
        params: Box<MlpParams>,
    },
}

/// The op of each kind.
pub fn op(kind: OpKind) -> &'static dyn VerifiedOp {
    match kind {
        OpKind::Linear => &linear::LinearOp,
        OpKind::Relu => &relu::ReluOp,
        OpKind::SqErr => &sqerr::SqErrOp,
        OpKind::Mlp => &mlp::MlpOp,
    }
}

impl Request {
    /// Which op this asks for.
    pub fn kind(&self) -> OpKind {
        match self {
            Request::Linear { .. } => OpKind::Linear,
            Request::Relu { .. } => OpKind::Relu,
            Request::SqErr { .. } => OpKind::SqErr,
            Request::Mlp { .. } => OpKind::Mlp,
        }
    }

    /// The batch size B (rows of the first input).
    pub fn batch(&self) -> usize {
        op(self.kind()).batch(self)
    }

    /// The shape in the notes' letters, e.g. `B=2 Din=3 Dout=3`.
    pub fn shape(&self) -> String {
        op(self.kind()).shape(self)
    }

    /// The same request with the upstream gradient set to zero (the network has none: `None`).
    pub fn with_zero_upstream(&self) -> Option<Request> {
        op(self.kind()).with_upstream(self, 0.0)
    }

    /// The request line sent to a program, with `id`.
    pub fn to_json(&self, id: u64) -> Value {
        op(self.kind()).to_json(self, id)
    }
}

impl OpKind {
    /// Every op, in the protocol's order.
    pub const ALL: [OpKind; 4] = [OpKind::Linear, OpKind::Relu, OpKind::SqErr, OpKind::Mlp];

    /// The op's name on the wire and in the notes.
    pub fn name(self) -> &'static str {
        op(self).name()
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OpKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<OpKind> {
        OpKind::ALL
            .into_iter()
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
    OpKind::ALL.map(OpKind::name).join(", ")
}

/// What the verifier knows about one op. Methods that take a request are only given requests
/// of this op.
pub trait VerifiedOp: Sync {
    /// The op's name on the wire and in the notes.
    fn name(&self) -> &'static str;

    /// The planned dimensions of the first cases, all of one length (e.g. [B, Din, Dout]): B = 1
    /// and B > 1, square and non-square, widths of 1.
    fn planned_dims(&self) -> &'static [&'static [usize]];

    /// A random request with dimensions `dims` (as in [`VerifiedOp::planned_dims`]).
    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request;

    /// The batch size B.
    fn batch(&self, request: &Request) -> usize;

    /// The shape in the notes' letters.
    fn shape(&self, request: &Request) -> String;

    /// The request with every element of its upstream gradient set to `value`; `None` where it
    /// has none (the network starts from dL/dL = 1).
    fn with_upstream(&self, request: &Request, value: f64) -> Option<Request>;

    /// The reference gradients, keyed by input name in the protocol's order.
    fn reference_answer(&self, request: &Request) -> Result<Answer>;

    /// The answer's keys a program may leave out.
    fn optional_keys(&self) -> &'static [&'static str] {
        &[]
    }

    /// Predictions of the bugs particular to this op, for the gradient of `evidence.input`.
    fn hypotheses(&self, _request: &Request, _evidence: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        Vec::new()
    }

    /// The dimensions a wrong factor may depend on, by name, `B` first (see
    /// [`super::hypotheses::shape_factor`]).
    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)>;

    /// A bug of this op that only several failing cases of one gradient show together (`cases`:
    /// each failing case's request and the gradient returned), with its example's index.
    fn many_case_hypothesis(
        &self,
        _input: &str,
        _cases: &[(&Request, &ArrayD<f64>)],
    ) -> Option<(Diagnosis, usize)> {
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

    /// Reads the request's `inputs` (and the whole request object, for `grad_out`).
    fn parse(&self, inputs: &Map<String, Value>, request: &Map<String, Value>) -> Result<Request>;

    /// The request line sent to a program, with `id`.
    fn to_json(&self, request: &Request, id: u64) -> Value;

    /// One case of the sweep: a batch of `batch`, widths drawn up to `max_width`, checked against
    /// both oracles; with its shape.
    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)>;

    /// The modelled backward cost at batch `batch` and width `width`: every input's gradient for
    /// an op alone, every parameter's for the network.
    fn model_cost(&self, batch: usize, width: usize) -> Result<Cost>;

    /// Random inputs at one size, for the measured times.
    fn timing_inputs(&self, batch: usize, width: usize) -> Inputs;
}

/// The request's `inputs.key` as a matrix.
fn input_matrix(inputs: &Map<String, Value>, key: &str) -> Result<Array2<f64>> {
    crate::json::matrix(
        crate::json::field(inputs, key, "inputs")?,
        &format!("inputs.{key}"),
    )
}

/// The request's `inputs.key` as a vector.
fn input_vector(inputs: &Map<String, Value>, key: &str) -> Result<Array1<f64>> {
    crate::json::vector(
        crate::json::field(inputs, key, "inputs")?,
        &format!("inputs.{key}"),
    )
}

/// The request's `grad_out`.
fn grad_out(request: &Map<String, Value>) -> Result<&Value> {
    crate::json::field(request, "grad_out", "request")
}

/// A matrix for a request line.
fn matrix_json(a: &Array2<f64>) -> Value {
    crate::json::from_matrix(a.view())
}

/// A vector for a request line.
fn vector_json(a: &Array1<f64>) -> Value {
    crate::json::from_vector(a.view())
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
    use crate::protocol::parse_request;
    use crate::random;

    #[test]
    fn every_op_draws_its_own_requests_and_reads_back_what_it_writes() {
        for kind in OpKind::ALL {
            let op = op(kind);
            assert_eq!(op.name().parse::<OpKind>().unwrap(), kind);
            let plan = op.planned_dims();
            assert!(plan.iter().all(|d| d.len() == plan[0].len()), "{kind}");
            for (index, dims) in plan.iter().enumerate() {
                let request = op.draw(dims, &mut random::case_rng(7, index as u64));
                assert_eq!(request.kind(), kind);
                assert_eq!(request.batch(), dims[0], "{kind}");
                let line = request.to_json(index as u64).to_string();
                let (_, read) = parse_request(&line).unwrap();
                assert_eq!(read.kind(), kind, "{line}");
                assert_eq!(read.shape(), request.shape(), "{line}");
                let answer = op.reference_answer(&request).unwrap();
                assert!(
                    op.optional_keys().iter().all(|k| answer.get(k).is_some()),
                    "{kind}: an optional key is one of the answer's"
                );
            }
        }
    }

    #[test]
    fn an_unknown_op_names_the_ones_there_are() {
        let err = "tanh".parse::<OpKind>().unwrap_err().to_string();
        assert!(err.contains("one of linear, relu, sqerr, mlp"), "{err}");
    }
}
