//! Shared test helpers: proptest strategies (shape first, then data), oracle assertions, and
//! what a command said.
#![allow(dead_code)] // the property tests use the helpers they need

use gradverify::compare::{Comparison, Verdict};
use gradverify::mlp::MlpParams;
use gradverify::ops::{Cost, Op};
use gradverify::oracle::OracleReport;
use ndarray::{Array1, Array2, ArrayD, ArrayViewD, IxDyn};
use proptest::prelude::*;

/// Shapes as the verifier draws them: batch up to `BOUNDS.max_batch`, widths up to
/// `BOUNDS.max_width`.
pub use gradverify::verify::cases::BOUNDS;
/// Inputs and parameters are drawn from [-VALUE_BOUND, VALUE_BOUND].
pub const VALUE_BOUND: f64 = 2.0;
/// Upstream gradients are drawn from [-COTANGENT_BOUND, COTANGENT_BOUND], never all ones.
pub const COTANGENT_BOUND: f64 = 3.0;

/// Values for an array of `len` elements.
pub fn values(len: usize, bound: f64) -> impl Strategy<Value = Vec<f64>> {
    proptest::collection::vec(-bound..bound, len)
}

/// A tensor of the given shape with entries in [-VALUE_BOUND, VALUE_BOUND].
pub fn tensor(shape: Vec<usize>) -> impl Strategy<Value = ArrayD<f64>> {
    values(shape.iter().product(), VALUE_BOUND)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).expect("one value per element"))
}

/// A matrix of the given shape with entries in [-VALUE_BOUND, VALUE_BOUND].
pub fn matrix(rows: usize, cols: usize) -> impl Strategy<Value = Array2<f64>> {
    values(rows * cols, VALUE_BOUND)
        .prop_map(move |v| Array2::from_shape_vec((rows, cols), v).expect("rows × cols values"))
}

/// A vector of the given length with entries in [-VALUE_BOUND, VALUE_BOUND].
pub fn vector(len: usize) -> impl Strategy<Value = Array1<f64>> {
    values(len, VALUE_BOUND).prop_map(Array1::from)
}

/// A random upstream gradient of the given shape.
pub fn cotangent(shape: Vec<usize>) -> impl Strategy<Value = ArrayD<f64>> {
    let len = shape.iter().product();
    values(len, COTANGENT_BOUND)
        .prop_map(move |v| ArrayD::from_shape_vec(IxDyn(&shape), v).expect("one value per element"))
}

/// (B, Din, Dout): batch from 1, widths from 1, square and non-square alike.
pub fn linear_shape() -> impl Strategy<Value = (usize, usize, usize)> {
    (1..=BOUNDS.max_batch, 1..=BOUNDS.max_width, 1..=BOUNDS.max_width)
}

/// (h, W, b, dL/da) for a random shape.
pub fn linear_case() -> impl Strategy<Value = (Array2<f64>, Array2<f64>, Array1<f64>, ArrayD<f64>)> {
    linear_shape().prop_flat_map(|(batch, d_in, d_out)| {
        (
            matrix(batch, d_in),
            matrix(d_in, d_out),
            vector(d_out),
            cotangent(vec![batch, d_out]),
        )
    })
}

/// (B, D) for the elementwise ops.
pub fn elementwise_shape() -> impl Strategy<Value = (usize, usize)> {
    (1..=BOUNDS.max_batch, 1..=BOUNDS.max_width)
}

/// Widths [D0, D1, D2, D3] and a batch size for the Eq. 33 network.
pub fn mlp_shape() -> impl Strategy<Value = ([usize; 4], usize)> {
    (
        [
            1..=BOUNDS.max_width,
            1..=BOUNDS.max_width,
            1..=BOUNDS.max_width,
            1..=BOUNDS.max_width,
        ],
        1..=BOUNDS.max_batch,
    )
}

/// (params, x, y) for a random network shape.
pub fn mlp_case() -> impl Strategy<Value = (MlpParams, Array2<f64>, Array2<f64>)> {
    mlp_shape().prop_flat_map(|([d0, d1, d2, d3], batch)| {
        let params = (
            matrix(d0, d1),
            vector(d1),
            matrix(d1, d2),
            vector(d2),
            matrix(d2, d3),
            vector(d3),
        )
            .prop_map(|(w1, b1, w2, b2, w3, b3)| MlpParams {
                w1,
                b1,
                w2,
                b2,
                w3,
                b3,
            });
        (params, matrix(batch, d0), matrix(batch, d3))
    })
}

/// Fails the property unless every comparison of `report` passes or is inconclusive, and at
/// least one was certified, with every failing comparison in the message.
#[track_caller]
pub fn prop_assert_agrees(report: &OracleReport, context: &str) -> Result<(), TestCaseError> {
    let all: Vec<&Comparison> = report.vs_jacobian.iter().chain(&report.vs_finite_diff).collect();
    let failing: Vec<String> = all.iter().filter(|c| !c.is_ok()).map(|c| c.to_string()).collect();
    prop_assert!(failing.is_empty(), "{context}: {}", failing.join("\n"));
    let certified = all.iter().any(|c| c.verdict() == Verdict::Pass);
    prop_assert!(certified, "{context}: nothing was certified");
    Ok(())
}

/// A VJP to put in place of an op's own.
pub type VjpFn = fn(
    &dyn Op,
    &[ArrayViewD<'_, f64>],
    ArrayViewD<'_, f64>,
    &[bool],
) -> gradverify::error::Result<Vec<Option<ArrayD<f64>>>>;

/// `inner` with its VJP replaced by `vjp`: everything else (forward, Jacobian) is the right one.
pub struct Wrong<O> {
    /// The right op.
    pub inner: O,
    /// The wrong VJP.
    pub vjp: VjpFn,
}

impl<O: Op> std::fmt::Debug for Wrong<O> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Wrong({:?})", self.inner)
    }
}

impl<O: Op> Op for Wrong<O> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }
    fn input_names(&self) -> &'static [&'static str] {
        self.inner.input_names()
    }
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> gradverify::error::Result<ArrayD<f64>> {
        self.inner.forward(inputs)
    }
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> gradverify::error::Result<Vec<Option<ArrayD<f64>>>> {
        (self.vjp)(&self.inner, inputs, g, wanted)
    }
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> gradverify::error::Result<Array2<f64>> {
        self.inner.jacobian(inputs, wrt)
    }
    fn forward_flops(&self, shapes: &[&[usize]]) -> gradverify::error::Result<u64> {
        self.inner.forward_flops(shapes)
    }
    fn cost(&self, shapes: &[&[usize]], wanted: &[bool]) -> gradverify::error::Result<Cost> {
        self.inner.cost(shapes, wanted)
    }
    fn differentiable(&self, input: usize) -> bool {
        self.inner.differentiable(input)
    }
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        self.inner.smooth_between(lo, hi)
    }
}

/// What a finished command said: its standard output, then its standard error.
pub fn text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}
