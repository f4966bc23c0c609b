//! linear, a = h W + b (Eq. 30): B×Din data, Din×Dout weights, a Dout bias; the backward gives
//! dL/dh = dL/da Wᵀ, dL/dW = hᵀ dL/da, dL/db = Σ_rows dL/da (Eq. 66, 70, 74).
//!
//! Its own bugs: W not transposed (dL/da W, which only fits a square W), the bias gradient
//! taken from the first data point instead of summed over the batch, and (seen only across
//! cases) contributions overwritten instead of summed over the uses of W, b or h (fan-out).

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::{VerifiedOp, single_op};
use crate::catalogue::{Answer, Bug, GradOut, InputSpec, OpKind, OpSpec, Request};
use crate::error::Result;
use crate::ops::{Cost, Linear, Op, linear};
use crate::oracle::OracleReport;
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::hypotheses::patterns::{LinearCase, fanout_overwrite};
use crate::verify::report::Diagnosis;
use crate::verify::subject::{Backward, Closure, label};
use crate::workload::Workload;

/// A handle to this op, for code that names it.
pub const KIND: OpKind = OpKind::of(&SPEC);

/// linear on the wire: `h: B×Din`, `W: Din×Dout`, `b: Dout`, dL/da `B×Dout`.
pub static SPEC: OpSpec = OpSpec {
    name: "linear",
    family: "the notes",
    dims: &["B", "Din", "Dout"],
    inputs: &[
        InputSpec::real("h", &["B", "Din"]),
        InputSpec::real("W", &["Din", "Dout"]),
        InputSpec::real("b", &["Dout"]),
    ],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "Dout"]),
    extras: &[],
};

/// dL/dh = dL/da W: W not transposed (only a square W lets it run).
pub const W_NOT_TRANSPOSED: Bug = Bug {
    code: "w_not_transposed",
    summary: "W not transposed: dL/dh = dL/da Wᵀ (Eq. 66), you return dL/da W (it only fits when W is square)",
    explain: "\
w_not_transposed: dL/dh = dL/da W instead of dL/da Wᵀ

linear's input gradient multiplies by the transpose of W: dL/dh_α = Σ_j W_αj dL/da_j
(Eq. 65), dL/dh = dL/da Wᵀ (Eq. 66). Without the transpose the shapes only fit when
W is square, which is where this was found.

Typical wrong code:
    dh = g @ W
Fix:
    dh = g @ W.T
",
    parameter: None,
};

/// dL/db taken from the first data point instead of summed over the batch (also rnn_step's b and conv2d's).
pub const BIAS_NOT_SUMMED: Bug = Bug {
    code: "bias_not_summed",
    summary: "bias gradient not summed over the batch: you return the first data point's (or image's) gradient; b is shared by every row, so dL/db = Σ_rows dL/da (Eq. 74), and conv2d's by every position of every image; correct only when B = 1",
    explain: "\
bias_not_summed: dL/db taken from one data point

b is added to every row of a = h W + b, so its gradient sums the rows:
dL/db = Σ_rows dL/da (Eq. 74). Yours is the first row's, right only at B = 1.
The same holds for rnn_step's b, and for conv2d's b[f], added at every position of
every image: db = Σ over n, i, j of dout[n, f, i, j]; from the first image only it
is right only at N = 1.

Typical wrong code:
    db = g[0]
    db = dout[0].sum(axis=(1, 2))                # conv2d
Fix:
    db = g.sum(axis=0)
    db = dout.sum(axis=(0, 2, 3))
",
    parameter: None,
};

/// The linear op.
pub struct LinearOp;

/// The parts of a linear request: (h, W, b, dL/da).
fn parts(
    request: &Request,
) -> (
    ArrayView2<'_, f64>,
    ArrayView2<'_, f64>,
    ArrayView1<'_, f64>,
    ArrayView2<'_, f64>,
) {
    (
        request.matrix("h"),
        request.matrix("W"),
        request.vector("b"),
        request.upstream_matrix(),
    )
}

impl VerifiedOp for LinearOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
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
        let inputs = vec![
            random::normal_matrix(rng, batch, d_in).into_dyn(),
            random::normal_matrix(rng, d_in, d_out).into_dyn(),
            random::normal_vector(rng, d_out).into_dyn(),
        ];
        let grad_out = random::normal_matrix(rng, batch, d_out).into_dyn();
        Request::new(KIND, inputs, Vec::new(), Some(grad_out))
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
                LinearCase { h, w, grad_out, got }
            })
            .collect();
        let found = fanout_overwrite(input, &linear_cases)?;
        let example = found.example;
        Some((Diagnosis::FanoutOverwrite(found), example))
    }

    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (h, w, b, grad_out) = parts(request);
        let g = linear::backward(grad_out, h, w, b)?;
        Ok(Answer::default()
            .with("h", g.h.into_dyn())
            .with("W", g.w.into_dyn())
            .with("b", g.b.into_dyn()))
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (_, w, _, grad_out) = parts(request);
        match e.input {
            "h" if w.is_square() => vec![(Diagnosis::Bug(&W_NOT_TRANSPOSED), grad_out.dot(&w).into_dyn())],
            "b" => vec![(
                Diagnosis::Bug(&BIAS_NOT_SUMMED),
                grad_out.row(0).to_owned().into_dyn(),
            )],
            _ => Vec::new(),
        }
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&W_NOT_TRANSPOSED, &BIAS_NOT_SUMMED]
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

    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>> {
        let (b, d) = (batch, width);
        Linear.cost(&[&[b, d], &[d, d], &[d]], &[true; 3]).map(Some)
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload> {
        let mut rng = random::case_rng(0, width as u64 * 64 + batch as u64);
        let mut normal = |shape: &[usize]| ArrayD::random_using(shape, StandardNormal, &mut rng);
        let (b, d) = (batch, width);
        Some(Workload::Op(
            Arc::new(Linear),
            vec![normal(&[b, d]), normal(&[d, d]), normal(&[d])],
        ))
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
        let (dh, dw, db) = backward(&grad_out.to_owned(), &h.to_owned(), &w.to_owned(), &b.to_owned());
        Answer::default()
            .with("h", dh.into_dyn())
            .with("W", dw.into_dyn())
            .with("b", db.into_dyn())
    };
    Closure { label, call }
}
