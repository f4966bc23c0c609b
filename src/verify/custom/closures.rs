//! The op under test as closures: its forward, its VJP and optionally its JVP, each called with
//! a panic caught and the wrong number of results refused, as an error message for the report.

use ndarray::ArrayD;

use crate::verify::check::catching_panics;

/// The forward, as several outputs (one for [`super::OpCheck::new`]).
pub(super) type Forward<'a> = Box<dyn Fn(&[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a>;
/// The VJP: inputs and one cotangent per output to one gradient per input; also the JVP:
/// inputs and one tangent per input to one output tangent per output.
pub(super) type Linearised<'a> = Box<dyn Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a>;

/// The op under test.
pub(super) struct Closures<'a> {
    pub(super) forward: Forward<'a>,
    pub(super) backward: Linearised<'a>,
    pub(super) jvp: Option<Linearised<'a>>,
    /// Several outputs (names the outputs `y0`, `y1`, … in messages).
    pub(super) multi: bool,
}

impl Closures<'_> {
    /// The forward, with a panic as an error.
    pub(super) fn outputs(&self, inputs: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        catching_panics(|| (self.forward)(inputs)).map_err(|m| format!("the forward {m}"))
    }

    /// The backward, with a panic or the wrong number of gradients as an error.
    pub(super) fn vjp(
        &self,
        inputs: &[ArrayD<f64>],
        cotangents: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let grads = catching_panics(|| (self.backward)(inputs, cotangents))
            .map_err(|m| format!("the backward {m}"))?;
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
    /// an error when it panics or its outputs change in number or shape.
    pub(super) fn forward_at(
        &self,
        point: &[ArrayD<f64>],
        moved: &dyn Fn() -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let outs = catching_panics(|| (self.forward)(point))
            .map_err(|m| format!("the forward {m} when {} moved", moved()))?;
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
