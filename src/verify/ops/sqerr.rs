//! sqerr, L = ½ Σ (f − y)² over a B×D prediction f and target y (Eq. 31, 34); the backward
//! scales dL/dL: dL/df = dL/dL (f − y), dL/dy = −dL/dL (f − y) (Eq. 34b).
//!
//! Its own bug: a mean over the B·D elements where the loss sums. dL/dL is drawn never 1 (from
//! ±0.5, ±1.5, ±2, ±3), so that a backward that ignores it shows.

use ndarray::{Array2, ArrayD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand::seq::IndexedRandom;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::{Request, VerifiedOp, grad_out, input_matrix, matrix_json, single_op};
use crate::error::Result;
use crate::ops::{Cost, Op, SqErr, sqerr};
use crate::oracle::OracleReport;
use crate::protocol::Answer;
use crate::random;
use crate::timing::Inputs;
use crate::verify::Backward;
use crate::verify::check::{Closure, label};
use crate::verify::diagnose::Diagnosis;

/// The sqerr op.
pub struct SqErrOp;

/// The parts of a sqerr request: (f, y, dL/dL).
fn parts(request: &Request) -> (&Array2<f64>, &Array2<f64>, f64) {
    match request {
        Request::SqErr { f, y, grad_out } => (f, y, *grad_out),
        other => unreachable!("internal: a {} request given to sqerr", other.kind()),
    }
}

impl VerifiedOp for SqErrOp {
    fn name(&self) -> &'static str {
        "sqerr"
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
        Request::SqErr {
            f: random::normal_matrix(rng, batch, d),
            y: random::normal_matrix(rng, batch, d),
            grad_out: sign * magnitude,
        }
    }

    fn batch(&self, request: &Request) -> usize {
        parts(request).0.nrows()
    }

    fn shape(&self, request: &Request) -> String {
        let (f, _, _) = parts(request);
        format!("B={} D={}", f.nrows(), f.ncols())
    }

    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)> {
        let (f, _, _) = parts(request);
        vec![("B", f.nrows()), ("D", f.ncols())]
    }

    fn with_upstream(&self, request: &Request, value: f64) -> Option<Request> {
        let mut changed = request.clone();
        if let Request::SqErr { grad_out, .. } = &mut changed {
            *grad_out = value;
        }
        Some(changed)
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (f, y, grad_out) = parts(request);
        let (df, dy) = sqerr::backward(grad_out, f.view().into_dyn(), y.view().into_dyn())?;
        Ok(Answer::default().with("f", df).with("y", dy))
    }

    fn divisors(&self, request: &Request) -> Vec<(Diagnosis, f64)> {
        vec![(Diagnosis::MeanOverElements, parts(request).0.len() as f64)]
    }

    fn parse(&self, inputs: &Map<String, Value>, request: &Map<String, Value>) -> Result<Request> {
        Ok(Request::SqErr {
            f: input_matrix(inputs, "f")?,
            y: input_matrix(inputs, "y")?,
            grad_out: crate::json::number(grad_out(request)?, "grad_out")?,
        })
    }

    fn to_json(&self, request: &Request, id: u64) -> Value {
        let (f, y, grad_out) = parts(request);
        json!({"id": id, "op": "sqerr",
            "inputs": {"f": matrix_json(f), "y": matrix_json(y)}, "grad_out": grad_out})
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

    fn model_cost(&self, batch: usize, width: usize) -> Result<Cost> {
        SqErr.cost(&[&[batch, width], &[batch, width]], &[true; 2])
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Inputs {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let mut normal = |shape: &[usize]| ArrayD::random_using(shape, StandardNormal, &mut rng);
        Inputs::Op(
            |tape, leaves| tape.apply("L", SqErr, leaves),
            vec![("f", normal(&[batch, width])), ("y", normal(&[batch, width]))],
        )
    }
}

/// A sqerr backward as a [`Backward`].
pub fn sqerr_subject<F>(backward: F) -> impl Backward
where
    F: Fn(f64, &Array2<f64>, &Array2<f64>) -> (Array2<f64>, Array2<f64>),
{
    let label = label::<F>();
    let call = move |r: &Request| {
        let (f, y, grad_out) = parts(r);
        let (df, dy) = backward(grad_out, f, y);
        Answer::default()
            .with("f", df.into_dyn())
            .with("y", dy.into_dyn())
    };
    Closure { label, call }
}
