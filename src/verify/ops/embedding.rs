//! embedding, out[i] = W[idxᵢ] for B indices into the V×D table W (`idx` not differentiated);
//! the backward adds each row's gradient into the row it read, dW[v] = Σ_{i: idxᵢ = v} dout[i],
//! so a repeated index sums (Eq. 4–10, fan-out).
//!
//! Its bug: `fanout_overwrite`, the rows written with `=` (or NumPy's `dW[idx] += dout`, which
//! keeps one of the repeats). Every case with B > 1 repeats an index.

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayD};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{GradOut, InputSpec, OpSpec, Request};
use crate::ops::{Embedding, Op};
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::hypotheses::patterns::{FanoutOverwrite, Term};
use crate::verify::report::Diagnosis;

/// embedding on the wire: `W: V×D`, `idx: B` (integers), dL/dout `B×D`.
pub static SPEC: OpSpec = OpSpec {
    name: "embedding",
    family: "sequences",
    dims: &["B", "V", "D"],
    inputs: &[InputSpec::real("W", &["V", "D"]), InputSpec::index("idx", &["B"])],
    attrs: &[],
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// The embedding op.
pub struct EmbeddingOp;

impl CourseOp for EmbeddingOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, V, D]: B = 1, repeated indices, vocabularies larger and smaller than B.
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[3, 2, 2], &[1, 4, 3], &[5, 3, 1], &[4, 4, 4], &[2, 5, 3]]
    }

    fn reference(&self, _attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(Embedding)
    }

    /// Indices drawn uniformly, the last set to the first when B > 1 (so that one repeats).
    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        let (b, v, d) = (dims[0], dims[1], dims[2]);
        let mut idx: Array1<f64> = (0..b).map(|_| rng.random_range(0..v) as f64).collect();
        if b > 1 {
            idx[b - 1] = idx[0];
        }
        let w = random::normal_matrix(rng, v, d);
        vec![w.into_dyn(), idx.into_dyn()]
    }

    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![
            batch,
            rng.random_range(1..=max_width),
            rng.random_range(1..=max_width),
        ]
    }

    /// B lookups into a D×D table.
    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        Some(vec![batch, width, width])
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (w, grad) = (request.matrix("W"), request.upstream_matrix());
        if e.input != "W" || grad.ncols() != w.ncols() {
            return Vec::new();
        }
        let mut assigned = Array2::zeros(w.raw_dim());
        for (&i, row) in request.vector("idx").iter().zip(grad.rows()) {
            if (i as usize) < w.nrows() {
                assigned.row_mut(i as usize).assign(&row);
            }
        }
        vec![(
            overwritten("W", "a row that several indices read"),
            assigned.into_dyn(),
        )]
    }
}

/// `fanout_overwrite` for a course op's `input`: of the uses of `what`, only the last one's
/// gradient kept.
pub fn overwritten(input: &str, what: &str) -> Diagnosis {
    Diagnosis::FanoutOverwrite(FanoutOverwrite {
        term: Term::Last,
        example: 0,
        sentence: format!(
            "contributions overwritten instead of summed: dL/d{input} keeps only the last use's gradient at {what}; the uses' gradients add up (Eq. 4–10): `np.add.at(d{input}, …)` or `+=` in a loop, never `=` or NumPy's fancy `d{input}[idx] += …`, which keeps one of the repeats"
        ),
    })
}
