//! relu, h = max(a, 0) elementwise on a B×D matrix (Eq. 29); the backward masks the upstream
//! gradient with the step function, dL/da = Θ(a) ⊙ dL/dh (Eq. 47), Θ(0) = 0 (Eq. 42).
//!
//! Its own bugs: the mask missing, inverted (kept where a ≤ 0), or taken from dL/dh instead of
//! a. At a = 0 both one-sided derivatives are valid subgradients: Θ(0) = 1 passes, with a note.
//! Some drawn inputs are exactly 0, to see which side of the kink the backward takes.

use ndarray::{Array2, ArrayD, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::{Request, VerifiedOp, grad_out, input_matrix, matrix_json, single_op};
use crate::error::Result;
use crate::ops::{Cost, Op, Relu, relu};
use crate::oracle::OracleReport;
use crate::protocol::Answer;
use crate::random;
use crate::timing::Inputs;
use crate::verify::Backward;
use crate::verify::check::{Closure, label};
use crate::verify::diagnose::{Diagnosis, Evidence};

/// The relu op.
pub struct ReluOp;

/// The parts of a relu request: (a, dL/dh).
fn parts(request: &Request) -> (&Array2<f64>, &Array2<f64>) {
    match request {
        Request::Relu { a, grad_out } => (a, grad_out),
        other => unreachable!("internal: a {} request given to relu", other.kind()),
    }
}

impl VerifiedOp for ReluOp {
    fn name(&self) -> &'static str {
        "relu"
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
        Request::Relu {
            a,
            grad_out: random::normal_matrix(rng, batch, d),
        }
    }

    fn batch(&self, request: &Request) -> usize {
        parts(request).0.nrows()
    }

    fn shape(&self, request: &Request) -> String {
        let (a, _) = parts(request);
        format!("B={} D={}", a.nrows(), a.ncols())
    }

    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)> {
        let (a, _) = parts(request);
        vec![("B", a.nrows()), ("D", a.ncols())]
    }

    fn with_upstream(&self, request: &Request, value: f64) -> Option<Request> {
        let mut changed = request.clone();
        if let Request::Relu { grad_out, .. } = &mut changed {
            grad_out.fill(value);
        }
        Some(changed)
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (a, grad_out) = parts(request);
        Ok(Answer::default().with(
            "a",
            relu::backward(grad_out.view().into_dyn(), a.view().into_dyn())?,
        ))
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        if e.input != "a" {
            return Vec::new();
        }
        let (a, grad_out) = parts(request);
        let step = |a: &Array2<f64>| a.mapv(relu::step);
        vec![
            (Diagnosis::ReluMaskMissing, grad_out.clone().into_dyn()),
            (
                Diagnosis::ReluMaskInverted,
                (grad_out * &step(a).mapv(|t| 1.0 - t)).into_dyn(),
            ),
            (
                Diagnosis::ReluMaskFromUpstream,
                (grad_out * &step(grad_out)).into_dyn(),
            ),
        ]
    }

    fn other_subgradient(&self, request: &Request) -> Option<(ArrayD<f64>, &'static str)> {
        let (a, grad_out) = parts(request);
        Some((
            (grad_out * &a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 })).into_dyn(),
            "at a = 0 exactly you take relu'(0) = 1; that is a valid subgradient, but PyTorch and JAX (and these notes, Eq. 42) use Θ(0) = 0",
        ))
    }

    fn parse(&self, inputs: &Map<String, Value>, request: &Map<String, Value>) -> Result<Request> {
        Ok(Request::Relu {
            a: input_matrix(inputs, "a")?,
            grad_out: crate::json::matrix(grad_out(request)?, "grad_out")?,
        })
    }

    fn to_json(&self, request: &Request, id: u64) -> Value {
        let (a, grad_out) = parts(request);
        json!({"id": id, "op": "relu", "inputs": {"a": matrix_json(a)}, "grad_out": matrix_json(grad_out)})
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

    fn model_cost(&self, batch: usize, width: usize) -> Result<Cost> {
        Relu.cost(&[&[batch, width]], &[true])
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Inputs {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        Inputs::Op(
            |tape, leaves| tape.apply("h", Relu, leaves),
            vec![(
                "a",
                ArrayD::random_using(&[batch, width][..], StandardNormal, &mut rng),
            )],
        )
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
        Answer::default().with("a", backward(grad_out, a).into_dyn())
    };
    Closure { label, call }
}
