//! An op one input element at a time: the outputs one element reaches, and their values when
//! that element alone moves.
//!
//! A finite-difference check moves every element θ of every input to θ ± h and reads
//! `Σⱼ vⱼ (outⱼ(θ + h) − outⱼ(θ − h))`. A whole forward per step costs O(inputs · forward), and
//! most of it recomputes outputs the element never reaches: a batchnorm element reaches its column
//! (B outputs of B·D), a conv2d image element its receptive field (F·HH·WW outputs), an elementwise
//! input one output. [`LocalForward::reach`] computes only those, from the op's own formula, so a
//! full check costs O(inputs · reach) instead.
//!
//! The reach of an element depends on the element only (input and flat index), never on its
//! value: the oracle pairs the outputs at θ + h and θ − h index by index. [`Whole`] is the road of
//! an op without a local form: every output, from a whole forward with the element replaced.

use ndarray::{ArrayD, ArrayViewD};

use super::Op;
use crate::error::{Error, Result};

/// The outputs one element reaches: their row-major flat indices and their values.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reach {
    /// Flat indices into the output, each once.
    pub outputs: Vec<usize>,
    /// The value of each of those outputs, in the same order.
    pub values: Vec<f64>,
}

impl Reach {
    /// Empties both lists, keeping their memory for the next element.
    pub fn clear(&mut self) {
        self.outputs.clear();
        self.values.clear();
    }

    /// Appends one output.
    pub fn push(&mut self, output: usize, value: f64) {
        self.outputs.push(output);
        self.values.push(value);
    }
}

/// An op at fixed inputs, evaluated with one element moved (see the module docs).
pub trait LocalForward: Send + Sync {
    /// Fills `reach` (cleared first) with the outputs that element `flat` (row-major) of input
    /// `input` reaches and their values when that element is `value`, the others as given.
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()>;

    /// Whether the op is differentiable all along that element's move from `from` to `to`, the
    /// others fixed ([`Op::smooth_between`] for a move of one element).
    fn smooth(&self, input: usize, flat: usize, from: f64, to: f64) -> bool;
}

/// The local form of an op without one: every output from a whole forward.
pub struct Whole<'a> {
    op: &'a dyn Op,
    inputs: Vec<ArrayD<f64>>,
    shape: Vec<usize>,
}

impl<'a> Whole<'a> {
    /// `op` at `inputs`, whose output has the shape `shape`.
    pub fn new(op: &'a dyn Op, inputs: &[ArrayViewD<'_, f64>], shape: &[usize]) -> Whole<'a> {
        Whole {
            op,
            inputs: inputs
                .iter()
                .map(|a| a.as_standard_layout().into_owned())
                .collect(),
            shape: shape.to_vec(),
        }
    }

    /// Input `input` with element `flat` set to `value` (the one input copied).
    fn moved(&self, input: usize, flat: usize, value: f64) -> ArrayD<f64> {
        let mut moved = self.inputs[input].clone();
        moved.as_slice_mut().expect("internal: standard layout")[flat] = value;
        moved
    }

    /// Views of the inputs, `moved` in place of input `input`.
    fn with<'v>(&'v self, input: usize, moved: &'v ArrayD<f64>) -> Vec<ArrayViewD<'v, f64>> {
        (self.inputs.iter().enumerate())
            .map(|(k, a)| if k == input { moved.view() } else { a.view() })
            .collect()
    }
}

impl LocalForward for Whole<'_> {
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()> {
        let moved = self.moved(input, flat, value);
        let out = self.op.forward(&self.with(input, &moved))?;
        if out.shape() != self.shape.as_slice() {
            return Err(Error::Tape(format!(
                "the output of `{}` changed shape from {:?} to {:?} when `{}` element {flat} moved to {value}: its shape must not depend on the values",
                self.op.name(),
                self.shape,
                out.shape(),
                self.op.input_names().get(input).copied().unwrap_or("?"),
            )));
        }
        reach.clear();
        reach.outputs.extend(0..out.len());
        reach.values.extend(out.iter().copied());
        Ok(())
    }

    fn smooth(&self, input: usize, flat: usize, from: f64, to: f64) -> bool {
        let (lo, hi) = (self.moved(input, flat, from), self.moved(input, flat, to));
        self.op
            .smooth_between(&self.with(input, &lo), &self.with(input, &hi))
    }
}

/// The multi-index of a row-major flat index into `shape`, written into `index`.
pub(crate) fn unflatten(mut flat: usize, shape: &[usize], index: &mut [usize]) {
    for (slot, &len) in index.iter_mut().zip(shape).rev() {
        *slot = flat % len;
        flat /= len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unflatten_is_row_major() {
        let mut index = [0; 3];
        unflatten(12 + 2 * 4 + 3, &[2, 3, 4], &mut index);
        assert_eq!(index, [1, 2, 3]);
    }
}
