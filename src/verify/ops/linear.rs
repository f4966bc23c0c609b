//! linear, a = h W + b (Eq. 30): B×Din data, Din×Dout weights, a Dout bias; the backward gives
//! dL/dh = dL/da Wᵀ, dL/dW = hᵀ dL/da, dL/db = Σ_rows dL/da (Eq. 66, 70, 74).
//!
//! Its own bugs: W not transposed (dL/da W, which only fits a square W), the bias gradient
//! taken from the first data point instead of summed over the batch, and (seen only across
//! cases) contributions overwritten instead of summed over the uses of W, b or h (fan-out).

use ndarray::{Array1, Array2, ArrayD};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, Value, json};

use super::{Request, VerifiedOp, grad_out, input_matrix, input_vector, matrix_json, single_op, vector_json};
use crate::error::Result;
use crate::ops::{Cost, Linear, Op, linear};
use crate::oracle::OracleReport;
use crate::protocol::Answer;
use crate::random;
use crate::timing::Inputs;
use crate::verify::Backward;
use crate::verify::check::{Closure, label};
use crate::verify::diagnose::{Diagnosis, Evidence};
use crate::verify::hypotheses::patterns::{LinearCase, fanout_overwrite};

/// The linear op.
pub struct LinearOp;

/// The parts of a linear request: (h, W, b, dL/da).
fn parts(request: &Request) -> (&Array2<f64>, &Array2<f64>, &Array1<f64>, &Array2<f64>) {
    match request {
        Request::Linear { h, w, b, grad_out } => (h, w, b, grad_out),
        other => unreachable!("internal: a {} request given to linear", other.kind()),
    }
}

impl VerifiedOp for LinearOp {
    fn name(&self) -> &'static str {
        "linear"
    }

    /// [B, Din, Dout].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[
            &[1, 3, 2],
            &[4, 3, 2],
            &[3, 3, 3],
            &[1, 2, 2],
            &[2, 1, 3],
            &[3, 4, 1],
            &[1, 1, 1],
        ]
    }

    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
        let &[batch, d_in, d_out] = dims else {
            unreachable!("internal: dims {dims:?} do not fit linear")
        };
        Request::Linear {
            h: random::normal_matrix(rng, batch, d_in),
            w: random::normal_matrix(rng, d_in, d_out),
            b: random::normal_vector(rng, d_out),
            grad_out: random::normal_matrix(rng, batch, d_out),
        }
    }

    fn batch(&self, request: &Request) -> usize {
        parts(request).0.nrows()
    }

    fn shape(&self, request: &Request) -> String {
        let (h, w, _, _) = parts(request);
        format!("B={} Din={} Dout={}", h.nrows(), w.nrows(), w.ncols())
    }

    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)> {
        let (h, w, _, _) = parts(request);
        vec![("B", h.nrows()), ("Din", w.nrows()), ("Dout", w.ncols())]
    }

    /// Contributions overwritten instead of summed over the uses of W, b or h.
    fn many_case_hypothesis(
        &self,
        input: &str,
        cases: &[(&Request, &ArrayD<f64>)],
    ) -> Option<(Diagnosis, usize)> {
        let linear_cases: Vec<LinearCase<'_>> = cases
            .iter()
            .map(|(request, got)| {
                let (h, w, _, grad_out) = parts(request);
                LinearCase {
                    h: h.view(),
                    w: w.view(),
                    grad_out: grad_out.view(),
                    got,
                }
            })
            .collect();
        let found = fanout_overwrite(input, &linear_cases)?;
        let example = found.example;
        Some((Diagnosis::FanoutOverwrite(found), example))
    }

    fn with_upstream(&self, request: &Request, value: f64) -> Option<Request> {
        let mut changed = request.clone();
        if let Request::Linear { grad_out, .. } = &mut changed {
            grad_out.fill(value);
        }
        Some(changed)
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (h, w, b, grad_out) = parts(request);
        let g = linear::backward(grad_out.view(), h.view(), w.view(), b.view())?;
        Ok(Answer::default()
            .with("h", g.h.into_dyn())
            .with("W", g.w.into_dyn())
            .with("b", g.b.into_dyn()))
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (_, w, _, grad_out) = parts(request);
        match e.input {
            "h" if w.is_square() => vec![(Diagnosis::WeightNotTransposed, grad_out.dot(w).into_dyn())],
            "b" => vec![(Diagnosis::BiasNotSummed, grad_out.row(0).to_owned().into_dyn())],
            _ => Vec::new(),
        }
    }

    fn parse(&self, inputs: &Map<String, Value>, request: &Map<String, Value>) -> Result<Request> {
        Ok(Request::Linear {
            h: input_matrix(inputs, "h")?,
            w: input_matrix(inputs, "W")?,
            b: input_vector(inputs, "b")?,
            grad_out: crate::json::matrix(grad_out(request)?, "grad_out")?,
        })
    }

    fn to_json(&self, request: &Request, id: u64) -> Value {
        let (h, w, b, grad_out) = parts(request);
        json!({"id": id, "op": "linear",
            "inputs": {"h": matrix_json(h), "W": matrix_json(w), "b": vector_json(b)},
            "grad_out": matrix_json(grad_out)})
    }

    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)> {
        let (d_in, d_out) = (rng.random_range(1..=max_width), rng.random_range(1..=max_width));
        let h = random::normal_matrix(rng, batch, d_in).into_dyn();
        let w = random::normal_matrix(rng, d_in, d_out).into_dyn();
        let b = random::normal_vector(rng, d_out).into_dyn();
        Ok((
            format!("B={batch} Din={d_in} Dout={d_out}"),
            single_op(rng, Linear, vec![h, w, b])?,
        ))
    }

    fn model_cost(&self, batch: usize, width: usize) -> Result<Cost> {
        let (b, d) = (batch, width);
        Linear.cost(&[&[b, d], &[d, d], &[d]], &[true; 3])
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Inputs {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let mut normal = |shape: &[usize]| ArrayD::random_using(shape, StandardNormal, &mut rng);
        let (b, d) = (batch, width);
        Inputs::Op(
            |tape, leaves| tape.apply("a", Linear, leaves),
            vec![
                ("h", normal(&[b, d])),
                ("W", normal(&[d, d])),
                ("b", normal(&[d])),
            ],
        )
    }
}

/// A linear backward as a [`Backward`], e.g. for
/// [`verify_parallel`](crate::verify::verify_parallel).
pub fn linear_subject<F>(backward: F) -> impl Backward
where
    F: Fn(&Array2<f64>, &Array2<f64>, &Array2<f64>, &Array1<f64>) -> (Array2<f64>, Array2<f64>, Array1<f64>),
{
    let label = label::<F>();
    let call = move |r: &Request| {
        let (h, w, b, grad_out) = parts(r);
        let (dh, dw, db) = backward(grad_out, h, w, b);
        Answer::default()
            .with("h", dh.into_dyn())
            .with("W", dw.into_dyn())
            .with("b", db.into_dyn())
    };
    Closure { label, call }
}
