//! Re-evaluation: the forward pass run again with one leaf replaced, recomputing only the ops
//! downstream of it (what finite differences need, without copying the tape).

use ndarray::{ArrayD, ArrayViewD};

use super::{Origin, Tape, Var};
use crate::error::{Error, Result};

impl<'a> Tape<'a> {
    /// Re-runs the forward pass with `leaf` set to `value`, recomputing only the ops downstream of
    /// it. The tape itself is unchanged.
    pub fn evaluate_with(&self, leaf: Var, value: ArrayD<f64>) -> Result<Evaluation<'_, 'a>> {
        self.check(leaf)?;
        let node = &self.nodes[leaf.index];
        if !matches!(node.origin, Origin::Leaf(_)) {
            return Err(Error::Tape(format!(
                "`{}` is an op's output, not a leaf",
                node.name
            )));
        }
        if value.shape() != node.value.shape() {
            return Err(Error::Tape(format!(
                "replacement for `{}` has shape {:?}, expected {:?}",
                node.name,
                value.shape(),
                node.value.shape()
            )));
        }
        let mut changed: Vec<Option<ArrayD<f64>>> = vec![None; self.nodes.len()];
        changed[leaf.index] = Some(value);
        for index in leaf.index + 1..self.nodes.len() {
            let Origin::Op { op, inputs } = &self.nodes[index].origin else {
                continue;
            };
            if inputs.iter().all(|v| changed[v.index].is_none()) {
                continue;
            }
            let views: Vec<_> = inputs
                .iter()
                .map(|v| match &changed[v.index] {
                    Some(value) => value.view(),
                    None => self.nodes[v.index].value.view(),
                })
                .collect();
            changed[index] = Some(op.forward(&views)?);
        }
        Ok(Evaluation { tape: self, changed })
    }
}

/// A forward pass re-run with one leaf replaced; see [`Tape::evaluate_with`].
#[derive(Debug)]
pub struct Evaluation<'t, 'a> {
    tape: &'t Tape<'a>,
    changed: Vec<Option<ArrayD<f64>>>,
}

impl Evaluation<'_, '_> {
    /// The value of `v` in this evaluation.
    pub fn value(&self, v: Var) -> ArrayViewD<'_, f64> {
        match self.changed.get(v.index) {
            Some(Some(value)) => value.view(),
            _ => self.tape.value(v),
        }
    }

    /// Whether `v` differs from the recorded pass (it is downstream of the replaced leaf).
    pub fn is_changed(&self, v: Var) -> bool {
        matches!(self.changed.get(v.index), Some(Some(_)))
    }
}
