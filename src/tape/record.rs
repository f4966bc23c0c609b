//! Recording: leaves and op applications pushed onto the tape, each op's output computed by its
//! forward as it is recorded; and reading the tape back (values, names, op nodes).

use std::sync::atomic::Ordering;

use ndarray::{ArrayViewD, CowArray, IxDyn};

use super::{LeafKind, NEXT_TAPE_ID, Node, OpNode, Origin, Tape, Var};
use crate::error::{Error, Result};
use crate::ops::Op;

impl<'a> Tape<'a> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape {
            id: NEXT_TAPE_ID.fetch_add(1, Ordering::Relaxed),
            nodes: Vec::new(),
        }
    }

    /// Records a parameter leaf: an owned array or a borrowed view.
    pub fn param(&mut self, name: &str, value: impl Into<CowArray<'a, f64, IxDyn>>) -> Var {
        self.push(name, value.into(), Origin::Leaf(LeafKind::Param))
    }

    /// Records a data leaf: an owned array or a borrowed view.
    pub fn data(&mut self, name: &str, value: impl Into<CowArray<'a, f64, IxDyn>>) -> Var {
        self.push(name, value.into(), Origin::Leaf(LeafKind::Data))
    }

    /// Runs `op` forward on the values of `inputs` and records it; returns the output variable.
    pub fn apply(&mut self, name: &str, op: impl Op + 'static, inputs: &[Var]) -> Result<Var> {
        for &v in inputs {
            self.check(v)?;
        }
        let value = {
            let views: Vec<_> = inputs.iter().map(|&v| self.nodes[v.index].value.view()).collect();
            op.forward(&views).map_err(|e| {
                let args: Vec<&str> = inputs.iter().map(|v| self.nodes[v.index].name.as_str()).collect();
                e.within(&format!("{name} = {}({})", op.name(), args.join(", ")))
            })?
        };
        let origin = Origin::Op {
            op: Box::new(op),
            inputs: inputs.to_vec(),
        };
        Ok(self.push(name, value.into(), origin))
    }

    fn push(&mut self, name: &str, value: CowArray<'a, f64, IxDyn>, origin: Origin) -> Var {
        self.nodes.push(Node {
            name: name.to_owned(),
            value,
            origin,
        });
        Var {
            tape: self.id,
            index: self.nodes.len() - 1,
        }
    }

    pub(super) fn check(&self, v: Var) -> Result<()> {
        if v.tape != self.id || v.index >= self.nodes.len() {
            return Err(Error::Tape(format!(
                "variable #{} does not belong to this tape",
                v.index
            )));
        }
        Ok(())
    }

    /// The recorded value of `v`.
    ///
    /// # Panics
    /// If `v` is from another tape: variables are only made by this tape's methods.
    pub fn value(&self, v: Var) -> ArrayViewD<'_, f64> {
        self.check(v).expect("Tape::value: variable from another tape");
        self.nodes[v.index].value.view()
    }

    /// The name `v` was recorded with.
    pub fn name(&self, v: Var) -> &str {
        self.check(v).expect("Tape::name: variable from another tape");
        &self.nodes[v.index].name
    }

    /// `Some(kind)` for a leaf, `None` for an op's output.
    pub fn leaf_kind(&self, v: Var) -> Option<LeafKind> {
        match self.nodes.get(v.index)?.origin {
            Origin::Leaf(kind) if v.tape == self.id => Some(kind),
            _ => None,
        }
    }

    /// Every variable in recording order.
    pub fn vars(&self) -> impl Iterator<Item = Var> + '_ {
        (0..self.nodes.len()).map(|index| Var { tape: self.id, index })
    }

    /// The leaves of the given kind, in recording order.
    pub fn leaves(&self, kind: LeafKind) -> Vec<Var> {
        self.vars().filter(|&v| self.leaf_kind(v) == Some(kind)).collect()
    }

    /// The op that produced `v`, or `None` for a leaf.
    pub fn op_node(&self, v: Var) -> Option<OpNode<'_>> {
        match &self.nodes.get(v.index)?.origin {
            Origin::Op { op, inputs } if v.tape == self.id => Some(OpNode {
                output: v,
                op: op.as_ref(),
                inputs,
            }),
            _ => None,
        }
    }
}
