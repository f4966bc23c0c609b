//! Any op, from its forward and VJP closures: what `torch.autograd.gradcheck` gives Python.
//!
//! There is no reference to compare with, so the oracle is central differences of the op's own
//! forward: for a random cotangent v (one per output), `dL/dx_i ≈ Σⱼ vⱼ (f(x + h e_i)ⱼ −
//! f(x − h e_i)ⱼ) / 2h`, the difference taken term by term (so that outputs of very different
//! sizes do not hide each other), over a shrinking sequence of steps extrapolated with its error
//! bound ([`richardson`](crate::oracle::richardson)). An element agrees when its difference from
//! the estimate is within `rtol` relative plus the estimate's bound; it is certified when the
//! estimate resolves its value, excused when it does not (or when the difference is within
//! `atol` more), and left out where the sequence does not converge (a kink the verifier cannot
//! see). A gradient on which nothing was certified and nothing failed is **inconclusive**, with
//! the reason and what to try: never a silent pass.
//!
//! Each case also calls the backward twice (it must give the same answer, to the built-in
//! verifier's 1e-12 relative, or to `nondet_tol` of the gradient's scale) and with a zero
//! cotangent (it must return zeros, and not fail), and twice more for the linearity test
//! `VJP(αu + βv) = α·VJP(u) + β·VJP(v)` (`custom/linearity.rs`: a backward that squares, clips or takes
//! the absolute value of its upstream gradient fails with `upstream_nonlinear`). A forward that is NaN or infinite at the drawn
//! inputs has them drawn again, a few times. The report carries, as a note and a second opinion
//! outside the verdict, a Taylor-remainder test of the first case
//! ([`taylor`](crate::oracle::taylor)).
//!
//! [`op`] and [`op_with`] are the defaults of [`OpCheck`], whose options (domains, points,
//! tolerances, forward mode, several outputs, a fast mode, shrinking) are documented there.
//!
//! ```
//! use gradverify::check;
//! use ndarray::ArrayD;
//!
//! // softplus(x) = ln(1 + eˣ), whose derivative is the logistic function.
//! let forward = |x: &[ArrayD<f64>]| x[0].mapv(|v| v.exp().ln_1p());
//! let backward = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| 1.0 / (1.0 + (-v).exp()))];
//! check::op("softplus", &[&[3, 4]], forward, backward).assert_correct();
//! ```

pub mod alias;
mod builder;
mod case;
mod closures;
mod diagnoses;
mod domain;
mod estimates;
pub mod fast;
mod jacobian;
mod jvp;
mod linearity;
mod options;
mod reference;
mod second_opinion;
pub mod second_order;
mod shrink;
mod steps;
mod tally;
pub mod validate;

pub use builder::{OpCheck, Tangents};
pub use domain::Domain;
pub use jacobian::jacobian_from_vjp;
pub use steps::{Step, StepDifference};

use ndarray::ArrayD;

use super::{Config, Report};

/// Checks the VJP `backward(inputs, dL/d(output)) -> dL/d(each input)` of an op whose forward is
/// `forward(inputs) -> output`, at inputs of the given shapes drawn at random (standard normal).
/// The inputs are named `x0`, `x1`, … in the report. The same as `OpCheck::new(..).run()`.
pub fn op<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> Report
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    OpCheck::new(name, shapes, forward, backward).run()
}

/// [`op`] with a chosen number of cases and seed: `OpCheck::new(..).config(config).run()`.
pub fn op_with<F, B>(config: Config, name: &str, shapes: &[&[usize]], forward: F, backward: B) -> Report
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    OpCheck::new(name, shapes, forward, backward).config(config).run()
}
