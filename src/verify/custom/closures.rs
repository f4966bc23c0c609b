//! The op under test as closures: its forward, its VJP and optionally its JVP, each called with
//! a panic caught and the wrong number of results refused, as an error message for the report.
//!
//! A closure may fail to answer (a [`Fault`]: a program that exited, timed out, raised): the
//! case fails with `the forward failed: …` (or `the backward`, `the jvp`), as it fails with
//! `the forward panicked: …` for a panic. [`OpCheck::new`](super::OpCheck::new)'s plain closures
//! never fail; [`OpCheck::try_new`](super::OpCheck::try_new)'s may.

use ndarray::ArrayD;

use super::steps::ForwardSteps;
use crate::verify::Fault;
use crate::verify::check::catching_panics;

/// What a call of the op gives: its arrays, or why it could not answer.
pub(super) type Answered = Result<Vec<ArrayD<f64>>, Fault>;
/// The forward, as several outputs (one for [`super::OpCheck::new`]).
pub(super) type Forward<'a> = Box<dyn Fn(&[ArrayD<f64>]) -> Answered + 'a>;
/// The forward at many points in one call (a program asked once for all of them): one list of
/// outputs per point, in order.
pub(super) type ForwardBatch<'a> =
    Box<dyn Fn(&[Vec<ArrayD<f64>>]) -> Result<Vec<Vec<ArrayD<f64>>>, Fault> + 'a>;
/// The VJP: inputs and one cotangent per output to one gradient per input; also the JVP:
/// inputs and one tangent per input to one output tangent per output.
pub(super) type Linearised<'a> = Box<dyn Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Answered + 'a>;

/// Calls `f`, the call named `what` (`the forward`) in the message of a panic or a fault.
pub(super) fn call<T>(what: &str, f: impl FnOnce() -> Result<T, Fault>) -> Result<T, String> {
    match catching_panics(f) {
        Ok(Ok(arrays)) => Ok(arrays),
        Ok(Err(fault @ Fault::Panicked(_))) => Err(format!("{what} {fault}")),
        Ok(Err(fault)) => Err(format!("{what} failed: {fault}")),
        Err(panicked) => Err(format!("{what} {panicked}")),
    }
}

/// A reference implementation, the oracle instead of finite differences
/// ([`super::reference`]): its forward and its VJP, closures that may fail as the op's may.
pub(super) struct Reference<'a> {
    pub(super) forward: Forward<'a>,
    pub(super) backward: Linearised<'a>,
}

/// The op under test.
pub(super) struct Closures<'a> {
    pub(super) forward: Forward<'a>,
    pub(super) backward: Linearised<'a>,
    pub(super) jvp: Option<Linearised<'a>>,
    /// The forward at many points at once, where one call costs more than its work (a round
    /// trip to a program): finite differences then ask for a whole round of steps at once.
    pub(super) forward_batch: Option<ForwardBatch<'a>>,
    /// The forward answering compact steps from the case's point ([`super::steps`]), used by
    /// the element-by-element estimates before the batch forward.
    pub(super) forward_steps: Option<ForwardSteps<'a>>,
    /// Several outputs (names the outputs `y0`, `y1`, … in messages).
    pub(super) multi: bool,
    /// The oracle instead of finite differences, where there is one.
    pub(super) reference: Option<Reference<'a>>,
}

impl Closures<'_> {
    /// The forward, with a panic or a fault as an error.
    pub(super) fn outputs(&self, inputs: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        call("the forward", || (self.forward)(inputs))
    }

    /// The backward, with a panic, a fault or the wrong number of gradients as an error.
    pub(super) fn vjp(
        &self,
        inputs: &[ArrayD<f64>],
        cotangents: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let grads = call("the backward", || (self.backward)(inputs, cotangents))?;
        if grads.len() != inputs.len() {
            return Err(format!(
                "the backward returned {} gradients for {} inputs",
                grads.len(),
                inputs.len()
            ));
        }
        Ok(grads)
    }

    /// The forward at `point`, which differs from the case's inputs by `moved` (for messages);
    /// an error when it panics, fails or its outputs change in number or shape.
    pub(super) fn forward_at(
        &self,
        point: &[ArrayD<f64>],
        moved: &dyn Fn() -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let outs = call("the forward", || (self.forward)(point))
            .map_err(|m| format!("{m} when {} moved", moved()))?;
        self.shaped_like(outs, moved, like)
    }

    /// The forward at each of `points` (`moved` says, for messages, what moved at each), in
    /// one call of the batch forward; an error as [`Closures::forward_at`]'s.
    pub(super) fn forward_batch_at(
        &self,
        batch: &ForwardBatch<'_>,
        points: &[Vec<ArrayD<f64>>],
        moved: &dyn Fn(usize) -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<Vec<ArrayD<f64>>>, String> {
        let outs = call("the forward", || batch(points))?;
        if outs.len() != points.len() {
            return Err(format!(
                "the forward answered {} of a batch of {} points",
                outs.len(),
                points.len()
            ));
        }
        (outs.into_iter().enumerate())
            .map(|(p, out)| self.shaped_like(out, &|| moved(p), like))
            .collect()
    }

    /// The outputs, or an error when they differ in number or shape from `like`'s.
    fn shaped_like(
        &self,
        outs: Vec<ArrayD<f64>>,
        moved: &dyn Fn() -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        if outs.len() != like.len() {
            return Err(format!(
                "the forward returned {} outputs instead of {} when {} moved",
                outs.len(),
                like.len(),
                moved()
            ));
        }
        for (j, (out, was)) in outs.iter().zip(like).enumerate() {
            if out.shape() != was.shape() {
                let which = if self.multi {
                    format!(" y{j}")
                } else {
                    String::new()
                };
                return Err(format!(
                    "the forward's output{which} changed shape from {:?} to {:?} when {} moved: its shape must not depend on the input values",
                    was.shape(),
                    out.shape(),
                    moved()
                ));
            }
        }
        Ok(outs)
    }
}
