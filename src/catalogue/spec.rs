//! An op described as data: [`OpSpec`], and [`OpKind`], a handle to one.
//!
//! Shapes are written in the op's dimension letters: linear's inputs are `h: [B, Din]`,
//! `W: [Din, Dout]`, `b: [Dout]`, its upstream gradient `[B, Dout]`. A letter names one length
//! wherever it appears; [`OpSpec::dims`] lists the letters in the order a case's dimensions are
//! given (`[B, Din, Dout]`) and shown (`B=2 Din=3 Dout=1`). The first letter is the batch.

use std::fmt;
use std::hash::{Hash, Hasher};

/// What the elements of an input are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InputKind {
    /// Real numbers.
    Real,
    /// Integers (class labels, embedding indices), written as JSON integers and held as f64.
    Index,
}

/// Whether an answer carries an input's gradient.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Grad {
    /// Every answer has it, and it is checked.
    Required,
    /// An answer may add it; it is checked when present (the network's dL/dx).
    Optional,
    /// The input is not differentiated (labels, indices, masks, targets of a network): an answer
    /// that adds it is not wrong, it is ignored.
    None,
}

/// One input of an op.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputSpec {
    /// Its key on the wire (`h`, `W`, `labels`).
    pub name: &'static str,
    /// Its shape in the op's dimension letters; `[]` for a scalar.
    pub shape: &'static [&'static str],
    /// Reals or integers.
    pub kind: InputKind,
    /// Whether its gradient is answered.
    pub grad: Grad,
}

impl InputSpec {
    /// A real input whose gradient every answer carries.
    pub const fn real(name: &'static str, shape: &'static [&'static str]) -> InputSpec {
        InputSpec {
            name,
            shape,
            kind: InputKind::Real,
            grad: Grad::Required,
        }
    }

    /// The same input with its gradient answered as `grad` says.
    pub const fn grad(self, grad: Grad) -> InputSpec {
        InputSpec { grad, ..self }
    }

    /// Whether an answer may carry its gradient (required or optional): the reference computes it.
    pub fn differentiated(&self) -> bool {
        self.grad != Grad::None
    }

    /// An integer input (labels, indices), never differentiated.
    pub const fn index(name: &'static str, shape: &'static [&'static str]) -> InputSpec {
        InputSpec {
            name,
            shape,
            kind: InputKind::Index,
            grad: Grad::None,
        }
    }
}

/// One attribute: a fixed, non-differentiated setting of the op (`stride`, `eps`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AttrSpec {
    /// Its key in the request's `attrs`.
    pub name: &'static str,
    /// Its value when a request leaves it out; `None`: a request must give it.
    pub default: Option<f64>,
    /// Whether it must be an integer.
    pub integer: bool,
}

/// The upstream gradient a request carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GradOut {
    /// dL/d(output), an array of this shape.
    Array(&'static [&'static str]),
    /// The scalar dL/dL of a loss.
    Scalar,
    /// None: the op is a whole network ending in its loss, which starts from dL/dL = 1.
    None,
}

/// An op on the wire and in a case.
#[derive(Debug, PartialEq)]
pub struct OpSpec {
    /// Its name on the wire and in the notes.
    pub name: &'static str,
    /// The kind of op it is (`the notes`, `losses`, `images`, …): the cost plot draws each
    /// family in a panel of its own.
    pub family: &'static str,
    /// Its dimension letters, the batch first, in the order of a case's dimensions.
    pub dims: &'static [&'static str],
    /// Its inputs, in the protocol's order.
    pub inputs: &'static [InputSpec],
    /// Its attributes.
    pub attrs: &'static [AttrSpec],
    /// Its upstream gradient.
    pub grad_out: GradOut,
    /// Scalars an answer may add beside the gradients, checked when present (the network's
    /// `loss`).
    pub extras: &'static [&'static str],
}

impl OpSpec {
    /// The input named `name`, with its position.
    pub fn input(&self, name: &str) -> Option<(usize, &InputSpec)> {
        self.inputs.iter().enumerate().find(|(_, i)| i.name == name)
    }

    /// Each input's shape at the case dimensions `dims` (one length per letter of
    /// [`OpSpec::dims`], in order).
    pub fn input_shapes(&self, dims: &[usize]) -> Vec<Vec<usize>> {
        let length = |letter: &str| {
            let axis = self.dims.iter().position(|&l| l == letter);
            axis.map(|k| dims[k])
                .unwrap_or_else(|| panic!("internal: {}'s inputs use `{letter}`, not a dimension", self.name))
        };
        (self.inputs.iter())
            .map(|i| i.shape.iter().map(|&l| length(l)).collect())
            .collect()
    }

    /// The keys of an answer with their ranks, the required ones first (in input order), then
    /// the optional gradients and the extras.
    pub fn answer_keys(&self) -> Vec<(&'static str, usize, bool)> {
        let with = |grad: Grad| {
            self.inputs
                .iter()
                .filter(move |i| i.grad == grad)
                .map(move |i| (i.name, i.shape.len(), grad == Grad::Required))
        };
        let extras = self.extras.iter().map(|&name| (name, 0, false));
        with(Grad::Required)
            .chain(with(Grad::Optional))
            .chain(extras)
            .collect()
    }
}

/// A handle to an op's spec: copied freely, compared by name.
#[derive(Clone, Copy)]
pub struct OpKind(&'static OpSpec);

impl OpKind {
    /// The op of `spec`.
    pub const fn of(spec: &'static OpSpec) -> OpKind {
        OpKind(spec)
    }

    /// Its spec.
    pub fn spec(self) -> &'static OpSpec {
        self.0
    }

    /// The op's name on the wire and in the notes.
    pub fn name(self) -> &'static str {
        self.0.name
    }
}

impl PartialEq for OpKind {
    fn eq(&self, other: &OpKind) -> bool {
        self.name() == other.name()
    }
}

impl Eq for OpKind {}

impl Hash for OpKind {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name().hash(state);
    }
}

impl fmt::Debug for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "OpKind({})", self.name())
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}
