//! The ops of the notes, each with a forward, a VJP backward, an explicit Jacobian and a cost.
//!
//! An op maps inputs to one output (Eq. 27). Its backward is a vector-Jacobian product (Eq. 28):
//! from dL/d(output) and the inputs it returns dL/d(input) for every input asked for, without
//! forming a Jacobian. Its `jacobian` builds the full matrix ∂output/∂input instead (Eq. 38b), the
//! slow and obviously correct road used by the Jacobian oracle and the cost tables.
//!
//! # Flattening convention
//! Arrays are flattened row-major (C order). The Jacobian of `out` with respect to `input` is the
//! matrix `J[i, j] = ∂ out.flat[i] / ∂ input.flat[j]`, with `out.len()` rows and `input.len()`
//! columns; a scalar output has one row. The VJP is then `dL/d input.flat = Jᵀ · dL/d out.flat`
//! (Eq. 36, 45), and that is exactly what every op's `vjp` must equal.
//!
//! # Cost model
//! [`Cost`] counts floating-point operations (a multiply-add is 2) and the bytes of the `f64`
//! arrays each road allocates: the VJP road allocates the input gradients only; the Jacobian road
//! allocates every Jacobian (`out.len() × input.len()`) plus the same input gradients, and contracts
//! densely, `2 · out.len() · input.len()` flops per input.

pub mod batchnorm;
pub mod conv2d;
pub mod dropout;
pub mod embedding;
pub mod hinge;
pub mod layernorm;
pub mod linear;
pub mod local;
mod matmul;
pub mod maxpool2d;
mod norm;
pub mod relu;
pub mod rnn_step;
pub mod sigmoid;
pub mod softmax_xent;
pub mod sqerr;
pub mod tanh;
mod unary;
pub(crate) mod validate;
mod widest;

pub use batchnorm::BatchNorm;
pub use conv2d::Conv2d;
pub use dropout::Dropout;
pub use embedding::Embedding;
pub use hinge::Hinge;
pub use layernorm::LayerNorm;
pub use linear::Linear;
pub use local::{LocalForward, Reach};
pub use maxpool2d::MaxPool2d;
pub use norm::DEFAULT_EPS;
pub use relu::Relu;
pub use rnn_step::RnnStep;
pub use sigmoid::Sigmoid;
pub use softmax_xent::SoftmaxXent;
pub use sqerr::SqErr;
pub use tanh::Tanh;

use std::fmt;
use std::ops::Add;
use std::sync::Arc;

use ndarray::{Array2, ArrayD, ArrayViewD};

use crate::error::Result;

/// Bytes of one `f64`.
pub const F64_BYTES: u64 = std::mem::size_of::<f64>() as u64;

/// An operation that can be recorded on a [`Tape`](crate::tape::Tape).
pub trait Op: Send + Sync + fmt::Debug {
    /// The op's name, as in the notes (`linear`, `relu`, `sqerr`).
    fn name(&self) -> &'static str;

    /// The names of the inputs, in order (`h`, `W`, `b` for linear).
    fn input_names(&self) -> &'static [&'static str];

    /// The output's value (Eq. 27). Inputs that do not fit are an error.
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>>;

    /// dL/d(input) for every input with `wanted[k]`, from dL/d(output) (Eq. 28), never forming a
    /// Jacobian. Entries of unwanted inputs are `None`.
    ///
    /// The tape calls it with inputs that [`Op::forward`] accepted and with gradients it computed
    /// or checked itself, so the VJP checks shapes only and does not scan the values again. The
    /// ops' free functions (`linear::backward`, ...) check everything.
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>>;

    /// The full Jacobian ∂output/∂`inputs[wrt]` as a matrix (Eq. 38b), flattened row-major.
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>>;

    /// Floating-point operations of [`Op::forward`] on inputs of these shapes (a multiply-add
    /// counts as 2), to set the backward's work against.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64>;

    /// Work of the VJP road and of the Jacobian road for inputs of these shapes, counting only
    /// the `wanted` inputs.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost>;

    /// Whether `inputs[input]` is differentiated. Labels, indices and masks are not: the tape
    /// never asks the VJP for their gradient and the oracles never perturb them.
    fn differentiable(&self, input: usize) -> bool {
        let _ = input;
        true
    }

    /// Whether the op is differentiable all along the straight line between the inputs `lo` and
    /// `hi` (for relu: no input changes sign or touches 0). Finite differences across a kink are
    /// meaningless, so the finite-difference oracle asks this before it compares.
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        let _ = (lo, hi);
        true
    }

    /// The op at `inputs` one element at a time ([`local`]): the outputs an element reaches and
    /// their values when it alone moves, for the finite-difference oracle. `None` (the default)
    /// where the op has no local form: the oracle then runs a whole forward per step. Inputs that
    /// do not fit are an error, as for [`Op::forward`].
    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        let _ = inputs;
        Ok(None)
    }
}

/// A shared op is the op it holds: an op chosen at run time (a course op built from a request's
/// attributes) is recorded on a tape, timed and checked by the oracles as any other.
impl<T: Op + ?Sized> Op for Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }
    fn input_names(&self) -> &'static [&'static str] {
        (**self).input_names()
    }
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        (**self).forward(inputs)
    }
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        (**self).vjp(inputs, grad_out, wanted)
    }
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        (**self).jacobian(inputs, wrt)
    }
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        (**self).forward_flops(input_shapes)
    }
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        (**self).cost(input_shapes, wanted)
    }
    fn differentiable(&self, input: usize) -> bool {
        (**self).differentiable(input)
    }
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        (**self).smooth_between(lo, hi)
    }
    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        (**self).local(inputs)
    }
}

/// Floating-point operations and bytes allocated by one road.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Work {
    /// Floating-point operations; a multiply-add counts as 2.
    pub flops: u64,
    /// Bytes of the `f64` arrays allocated.
    pub bytes: u64,
}

impl Add for Work {
    type Output = Work;
    fn add(self, other: Work) -> Work {
        Work {
            flops: self.flops + other.flops,
            bytes: self.bytes + other.bytes,
        }
    }
}

/// The work of an op's backward along both roads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct Cost {
    /// The VJP road (Eq. 28–30, 47, 66, 70, 74).
    pub vjp: Work,
    /// The explicit-Jacobian road: build every wanted Jacobian, then contract (Eq. 36, 45).
    pub jacobian: Work,
}

impl Add for Cost {
    type Output = Cost;
    fn add(self, other: Cost) -> Cost {
        Cost {
            vjp: self.vjp + other.vjp,
            jacobian: self.jacobian + other.jacobian,
        }
    }
}

/// Work of the Jacobian road for one input: a dense `out_len × in_len` Jacobian, contracted with
/// dL/d(output) in `2 · out_len · in_len` flops, into a gradient of `in_len` elements.
pub(crate) fn jacobian_road(out_len: usize, in_len: usize) -> Work {
    let elements = (out_len * in_len) as u64;
    Work {
        flops: 2 * elements,
        bytes: F64_BYTES * (elements + in_len as u64),
    }
}

/// Work of a VJP road that allocates a gradient of `in_len` elements in `flops` operations.
pub(crate) fn vjp_road(flops: usize, in_len: usize) -> Work {
    Work {
        flops: flops as u64,
        bytes: F64_BYTES * in_len as u64,
    }
}
