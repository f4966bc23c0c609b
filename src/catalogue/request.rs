//! One case's payload for any op: its inputs in the spec's order, its attributes, its upstream
//! gradient. Everything a case needs beside the values (its shape in the op's letters, its batch
//! size, the same case under another upstream gradient) is read off the spec.

use ndarray::{ArrayD, ArrayView1, ArrayView2, ArrayViewD, Ix1, Ix2};

use super::{GradOut, OpKind};

/// A request for one op's backward.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    kind: OpKind,
    inputs: Vec<ArrayD<f64>>,
    attrs: Vec<f64>,
    grad_out: Option<ArrayD<f64>>,
}

impl Request {
    /// A request of op `kind`: one array per input of its spec, in order, one value per
    /// attribute, and the upstream gradient (a 0-dimensional array for a loss's dL/dL, `None` for
    /// a network). The ranks are the spec's; the lengths are checked by the op itself.
    pub fn new(
        kind: OpKind,
        inputs: Vec<ArrayD<f64>>,
        attrs: Vec<f64>,
        grad_out: Option<ArrayD<f64>>,
    ) -> Request {
        let spec = kind.spec();
        assert_eq!(inputs.len(), spec.inputs.len(), "internal: {kind}'s inputs");
        assert_eq!(attrs.len(), spec.attrs.len(), "internal: {kind}'s attributes");
        assert_eq!(
            grad_out.is_some(),
            spec.grad_out != GradOut::None,
            "internal: {kind}'s upstream"
        );
        Request {
            kind,
            inputs,
            attrs,
            grad_out,
        }
    }

    /// Which op this asks for.
    pub fn kind(&self) -> OpKind {
        self.kind
    }

    /// The inputs, in the spec's order.
    pub fn inputs(&self) -> &[ArrayD<f64>] {
        &self.inputs
    }

    /// The attributes, in the spec's order.
    pub fn attrs(&self) -> &[f64] {
        &self.attrs
    }

    /// The input named `name`.
    pub fn input(&self, name: &str) -> ArrayViewD<'_, f64> {
        let (k, _) = (self.kind.spec().input(name))
            .unwrap_or_else(|| panic!("internal: {} has no input `{name}`", self.kind));
        self.inputs[k].view()
    }

    /// The input named `name`, a matrix in the spec.
    pub fn matrix(&self, name: &str) -> ArrayView2<'_, f64> {
        (self.input(name).into_dimensionality::<Ix2>())
            .unwrap_or_else(|_| panic!("internal: {}'s `{name}` is a matrix", self.kind))
    }

    /// The input named `name`, a vector in the spec.
    pub fn vector(&self, name: &str) -> ArrayView1<'_, f64> {
        (self.input(name).into_dimensionality::<Ix1>())
            .unwrap_or_else(|_| panic!("internal: {}'s `{name}` is a vector", self.kind))
    }

    /// The attribute named `name`.
    pub fn attr(&self, name: &str) -> f64 {
        let spec = self.kind.spec();
        let k = (spec.attrs.iter().position(|a| a.name == name))
            .unwrap_or_else(|| panic!("internal: {} has no attribute `{name}`", self.kind));
        self.attrs[k]
    }

    /// The upstream gradient: dL/d(output), or a loss's dL/dL as a 0-dimensional array; `None`
    /// for a network.
    pub fn grad_out(&self) -> Option<ArrayViewD<'_, f64>> {
        self.grad_out.as_ref().map(|g| g.view())
    }

    /// The upstream gradient of an op that has one.
    pub fn upstream(&self) -> ArrayViewD<'_, f64> {
        (self.grad_out()).unwrap_or_else(|| panic!("internal: {} has no upstream gradient", self.kind))
    }

    /// The upstream gradient as a matrix (an op whose output is one).
    pub fn upstream_matrix(&self) -> ArrayView2<'_, f64> {
        (self.upstream().into_dimensionality::<Ix2>())
            .unwrap_or_else(|_| panic!("internal: {}'s upstream is a matrix", self.kind))
    }

    /// A loss's scalar dL/dL.
    pub fn upstream_scalar(&self) -> f64 {
        *self
            .upstream()
            .iter()
            .next()
            .expect("internal: a scalar has one element")
    }

    /// Each dimension letter of the spec with its length here, in the spec's order; a letter no
    /// array shows is left out.
    pub fn dims(&self) -> Vec<(&'static str, usize)> {
        let spec = self.kind.spec();
        let shapes = (spec.inputs.iter().zip(&self.inputs))
            .map(|(i, a)| (i.shape, a.shape()))
            .chain(match (spec.grad_out, &self.grad_out) {
                (GradOut::Array(letters), Some(g)) => Some((letters, g.shape())),
                _ => None,
            });
        let shapes: Vec<_> = shapes.collect();
        (spec.dims.iter())
            .filter_map(|&letter| {
                shapes.iter().find_map(|(letters, lengths)| {
                    let axis = letters.iter().position(|&l| l == letter)?;
                    lengths.get(axis).map(|&n| (letter, n))
                })
            })
            .collect()
    }

    /// The batch size: the length of the spec's first letter.
    pub fn batch(&self) -> usize {
        self.dims().first().map_or(0, |&(_, n)| n)
    }

    /// The shape in the op's letters, then its attributes, e.g. `B=2 Din=3 Dout=3` or
    /// `N=1 C=2 H=5 W=4 F=3 HH=3 WW=2 stride=2 pad=1`.
    pub fn shape(&self) -> String {
        let dims = self.dims().into_iter().map(|(l, n)| format!("{l}={n}"));
        let attrs = (self.kind.spec().attrs.iter().zip(&self.attrs)).map(|(a, v)| format!("{}={v}", a.name));
        dims.chain(attrs).collect::<Vec<_>>().join(" ")
    }

    /// The same request with every element of its upstream gradient set to `value`; `None`
    /// where it has none (a network starts from dL/dL = 1).
    pub fn with_upstream(&self, value: f64) -> Option<Request> {
        let mut changed = self.clone();
        changed.grad_out.as_mut()?.fill(value);
        Some(changed)
    }

    /// The same request with the upstream gradient set to zero.
    pub fn with_zero_upstream(&self) -> Option<Request> {
        self.with_upstream(0.0)
    }
}
