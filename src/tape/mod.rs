//! The tape (a Wengert list): the forward pass recorded, then walked backwards (Sec. 3).
//!
//! Applying an op records the op, its input variables and its output value. [`Tape::backward`]
//! seeds dL/dL = 1 at a scalar node and visits the recorded ops in reverse order; each op turns
//! dL/d(its output) into dL/d(its inputs) (Eq. 28), and those are passed back to the nodes the
//! inputs came from. A node that feeds several ops receives one contribution from each and they
//! are **summed**: the total derivative over every path of Eq. 4–6 and Eq. 10,
//! `df/dx = ∂f/∂x + ∂f/∂y · ∂y/∂x`.
//!
//! Leaves are parameters or data. Gradients of parameters are always computed; gradients of data
//! (dL/dx, dL/dy, greyed out in the notes) only when asked for with [`Wrt::ParamsAndData`], and an
//! op is asked only for the input gradients that some requested leaf needs.
//!
//! How one op pulls a gradient back is a [`Pullback`]: [`Vjp`] calls the op's backward; the
//! Jacobian oracle contracts the op's full Jacobian instead, along the very same walk.
//!
//! By concern, one file each: `record` builds the tape, `walk` pulls gradients back along it,
//! `accounting` counts the work and memory of both roads (Sec. 4), `evaluate` re-runs the
//! forward pass with one leaf replaced (for finite differences).

mod accounting;
mod evaluate;
mod record;
mod walk;

pub use evaluate::Evaluation;
pub use walk::{Gradients, Pullback, Vjp};

use std::sync::atomic::AtomicU64;

use ndarray::{CowArray, IxDyn};

use crate::ops::Op;

static NEXT_TAPE_ID: AtomicU64 = AtomicU64::new(0);

/// A handle to a value on one tape.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var {
    tape: u64,
    index: usize,
}

/// What a leaf is: a parameter (its gradient is the point) or data (its gradient on request).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LeafKind {
    /// A tunable parameter such as W or b.
    Param,
    /// Fixed data such as x or y.
    Data,
}

/// Which leaves a backward pass computes gradients for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Wrt {
    /// Parameters only, as in training.
    #[default]
    Params,
    /// Parameters and data (dL/dx, dL/dy).
    ParamsAndData,
}

impl Wrt {
    fn includes(self, kind: LeafKind) -> bool {
        kind == LeafKind::Param || self == Wrt::ParamsAndData
    }
}

#[derive(Debug)]
enum Origin {
    Leaf(LeafKind),
    Op { op: Box<dyn Op>, inputs: Vec<Var> },
}

#[derive(Debug)]
struct Node<'a> {
    name: String,
    value: CowArray<'a, f64, IxDyn>,
    origin: Origin,
}

/// An op node as seen from outside: its output variable, the op and its input variables.
#[derive(Debug, Clone, Copy)]
pub struct OpNode<'t> {
    /// The variable holding the op's output.
    pub output: Var,
    /// The op.
    pub op: &'t dyn Op,
    /// The variables the op read, in the op's input order.
    pub inputs: &'t [Var],
}

/// A recorded forward pass.
///
/// Leaves are borrowed when given as views (the parameters of a network that is evaluated again
/// and again need not be copied onto each tape) and owned when given as arrays; `'a` is how long
/// the borrowed ones live. Op outputs are always owned.
#[derive(Debug)]
pub struct Tape<'a> {
    id: u64,
    nodes: Vec<Node<'a>>,
}

impl Default for Tape<'_> {
    fn default() -> Self {
        Self::new()
    }
}
