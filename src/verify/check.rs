//! One-line checks for backward functions written in Rust, in the shapes of the notes.
//!
//! ```
//! use ndarray::{Array1, Array2, Axis};
//!
//! /// Eq. 30b: (dL/dh, dL/dW, dL/db) from dL/da.
//! fn linear_backward(
//!     grad_a: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>,
//! ) -> (Array2<f64>, Array2<f64>, Array1<f64>) {
//!     (grad_a.dot(&w.t()), h.t().dot(grad_a), grad_a.sum_axis(Axis(0)))
//! }
//!
//! gradverify::check::linear(linear_backward).assert_correct();
//! ```
//!
//! Or all at once: `gradverify::backward_tests!` writes one `#[test]` per op that you name.
//!
//! ```
//! # use ndarray::{Array1, Array2, Axis};
//! # fn linear_backward(g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>)
//! #     -> (Array2<f64>, Array2<f64>, Array1<f64>) { (g.dot(&w.t()), h.t().dot(g), g.sum_axis(Axis(0))) }
//! # fn relu_backward(g: &Array2<f64>, a: &Array2<f64>) -> Array2<f64> { g * &a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 }) }
//! #[cfg(test)]
//! mod tests {
//!     gradverify::backward_tests!(linear: super::linear_backward, relu: super::relu_backward);
//! }
//! ```
//!
//! A panic in the function under test is caught and reported as a failed case with its message;
//! the default panic hook is silenced for those calls only, on the verifying thread.

use ndarray::{Array1, Array2, ArrayD, ArrayViewD};

pub use super::custom::{Domain, OpCheck, Step, StepDifference, Tangents, jacobian_from_vjp, op, op_with};
use super::ops;
pub use super::ops::linear::linear_subject;
pub use super::ops::mlp::{NetworkGrads, network_subject};
pub use super::ops::relu::relu_subject;
pub use super::ops::sqerr::sqerr_subject;
pub(crate) use super::subject::catching_panics;
use super::subject::{Closure, label};
use super::{Config, Report, verify};
use crate::catalogue::{Answer, GradOut, OpKind, Request};
use crate::mlp::MlpParams;

/// Checks `linear_backward(dL/da, h, W, b) -> (dL/dh, dL/dW, dL/db)` (Eq. 30b).
pub fn linear<F>(backward: F) -> Report
where
    F: Fn(&Array2<f64>, &Array2<f64>, &Array2<f64>, &Array1<f64>) -> (Array2<f64>, Array2<f64>, Array1<f64>),
{
    with(Config::default()).linear(backward)
}

/// Checks `relu_backward(dL/dh, a) -> dL/da` (Eq. 29b).
pub fn relu<F>(backward: F) -> Report
where
    F: Fn(&Array2<f64>, &Array2<f64>) -> Array2<f64>,
{
    with(Config::default()).relu(backward)
}

/// Checks `sqerr_backward(dL/dL, f, y) -> (dL/df, dL/dy)` (Eq. 31b).
pub fn sqerr<F>(backward: F) -> Report
where
    F: Fn(f64, &Array2<f64>, &Array2<f64>) -> (Array2<f64>, Array2<f64>),
{
    with(Config::default()).sqerr(backward)
}

/// Checks a whole backprop of the Eq. 33 network: `(x, y, params) -> the six parameter
/// gradients` (Eq. 32/37).
pub fn network<F>(backprop: F) -> Report
where
    F: Fn(&Array2<f64>, &Array2<f64>, &MlpParams) -> NetworkGrads,
{
    with(Config::default()).network(backprop)
}

/// Checks the backward of any op of the catalogue by its name on the wire (`softmax_xent`,
/// `conv2d`, …; `protocol-ops.md` gives each op's inputs and formula): `backward(dL/d out, inputs,
/// attrs)` returns the gradients of the differentiated inputs, in the spec's order (`[dL/dz]` for
/// softmax_xent; labels, indices and masks get none). dL/d out is 0-dimensional for a loss;
/// labels and indices come as whole f64s; `attrs` are the op's settings in the spec's order
/// (conv2d's stride and pad). An unknown name, or the network (see [`network`]), is an error.
///
/// ```
/// use ndarray::{ArrayD, ArrayViewD};
///
/// /// dL/da = (1 − h²) ⊙ dL/dh.
/// fn tanh_backward(grad: ArrayViewD<'_, f64>, inputs: &[ArrayViewD<'_, f64>], _attrs: &[f64]) -> Vec<ArrayD<f64>> {
///     let h = inputs[0].mapv(f64::tanh);
///     vec![&grad * &h.mapv(|h| 1.0 - h * h)]
/// }
///
/// gradverify::check::op_named("tanh", tanh_backward)?.assert_correct();
/// # Ok::<(), gradverify::Error>(())
/// ```
pub fn op_named<F>(name: &str, backward: F) -> crate::error::Result<Report>
where
    F: Fn(ArrayViewD<'_, f64>, &[ArrayViewD<'_, f64>], &[f64]) -> Vec<ArrayD<f64>>,
{
    with(Config::default()).op_named(name, backward)
}

/// `check::softmax_xent(backward)` and the other course ops: [`op_named`] with the op's name, so
/// that `backward_tests!(softmax_xent: my_backward, …)` writes their tests too.
macro_rules! named_checks {
    ($($op:ident),*) => {
        $(
            #[doc = concat!("Checks a `", stringify!($op), "` backward, as [`op_named`]`(\"", stringify!($op), "\", backward)`.")]
            pub fn $op<F>(backward: F) -> Report
            where
                F: Fn(ArrayViewD<'_, f64>, &[ArrayViewD<'_, f64>], &[f64]) -> Vec<ArrayD<f64>>,
            {
                op_named(stringify!($op), backward).expect("internal: a course op of the catalogue")
            }
        )*
    };
}

named_checks!(
    sigmoid,
    tanh,
    dropout,
    softmax_xent,
    hinge,
    batchnorm,
    layernorm,
    conv2d,
    maxpool2d,
    embedding,
    rnn_step
);

/// The same checks with another number of cases or seed.
pub fn with(config: Config) -> Checker {
    Checker { config }
}

/// Checks with a chosen [`Config`].
#[derive(Debug, Clone, Copy)]
pub struct Checker {
    config: Config,
}

impl Checker {
    /// See [`linear`].
    pub fn linear<F>(self, backward: F) -> Report
    where
        F: Fn(
            &Array2<f64>,
            &Array2<f64>,
            &Array2<f64>,
            &Array1<f64>,
        ) -> (Array2<f64>, Array2<f64>, Array1<f64>),
    {
        verify(ops::linear::KIND, &mut linear_subject(backward), self.config)
    }

    /// See [`relu`].
    pub fn relu<F>(self, backward: F) -> Report
    where
        F: Fn(&Array2<f64>, &Array2<f64>) -> Array2<f64>,
    {
        verify(ops::relu::KIND, &mut relu_subject(backward), self.config)
    }

    /// See [`sqerr`].
    pub fn sqerr<F>(self, backward: F) -> Report
    where
        F: Fn(f64, &Array2<f64>, &Array2<f64>) -> (Array2<f64>, Array2<f64>),
    {
        verify(ops::sqerr::KIND, &mut sqerr_subject(backward), self.config)
    }

    /// See [`network`].
    pub fn network<F>(self, backprop: F) -> Report
    where
        F: Fn(&Array2<f64>, &Array2<f64>, &MlpParams) -> NetworkGrads,
    {
        verify(ops::mlp::KIND, &mut network_subject(backprop), self.config)
    }

    /// See [`op_named`].
    pub fn op_named<F>(self, name: &str, backward: F) -> crate::error::Result<Report>
    where
        F: Fn(ArrayViewD<'_, f64>, &[ArrayViewD<'_, f64>], &[f64]) -> Vec<ArrayD<f64>>,
    {
        let kind: OpKind = name.parse()?;
        if kind.spec().grad_out == GradOut::None {
            return Err(crate::error::Error::Config {
                arg: "op".into(),
                value: name.into(),
                expected: "an op with an upstream gradient (a whole network is check::network)".into(),
            });
        }
        let call = move |r: &Request| {
            let views: Vec<_> = r.inputs().iter().map(|a| a.view()).collect();
            let grads = backward(r.upstream(), &views, r.attrs());
            let names: Vec<&str> = (r.kind().spec().inputs.iter())
                .filter(|i| i.differentiated())
                .map(|i| i.name)
                .collect();
            assert!(
                grads.len() == names.len(),
                "returned {} gradients; expected {}, of {}",
                grads.len(),
                names.len(),
                names.join(", ")
            );
            (names.into_iter().zip(grads)).fold(Answer::default(), |answer, (name, g)| answer.with(name, g))
        };
        let label = label::<F>();
        Ok(verify(kind, &mut Closure { label, call }, self.config))
    }
}

/// Writes one `#[test]` per named op, each asserting that the given function is correct:
/// `backward_tests!(linear: my::linear_backward, relu: my::relu_backward,
/// sqerr: my::sqerr_backward, network: my::backprop, softmax_xent: my::softmax_xent_backward)`,
/// any subset of the notes' ops and the course's (the signature of [`op_named`]), in any order.
#[macro_export]
macro_rules! backward_tests {
    ($($op:ident : $function:path),* $(,)?) => {
        $(
            #[test]
            fn $op() {
                $crate::backward_check!($op, $function).assert_correct();
            }
        )*
    };
}

/// The report of one op's check for [`backward_tests!`]: the notes' four by their typed checks,
/// any other op of the catalogue by name ([`op_named`]), so that a new op needs no line here.
#[doc(hidden)]
#[macro_export]
macro_rules! backward_check {
    (linear, $function:path) => {
        $crate::check::linear($function)
    };
    (relu, $function:path) => {
        $crate::check::relu($function)
    };
    (sqerr, $function:path) => {
        $crate::check::sqerr($function)
    };
    (network, $function:path) => {
        $crate::check::network($function)
    };
    ($op:ident, $function:path) => {
        $crate::check::op_named(stringify!($op), $function).unwrap_or_else(|e| panic!("backward_tests!: {e}"))
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_panic_becomes_an_error_with_its_message() {
        let r: Result<(), String> = catching_panics(|| panic!("index out of bounds: {}", 7));
        assert_eq!(r, Err("panicked: index out of bounds: 7".to_owned()));
        assert_eq!(catching_panics(|| 3), Ok(3));
    }

    fn label_of<F>(_: &F) -> String {
        label::<F>()
    }

    #[test]
    fn a_named_function_is_labelled_by_its_name_and_a_closure_as_closure() {
        fn linear_backward() {}
        assert_eq!(label_of(&linear_backward), "linear_backward");
        assert_eq!(label_of(&|| ()), "closure");
    }
}
