//! The reverse walk: dL/dL = 1 seeded at the output, the recorded ops visited in reverse order,
//! each pulling dL/d(its output) back to dL/d(its inputs) (Eq. 28) through a [`Pullback`], and
//! the contributions to a node that feeds several ops **summed** (Eq. 4–6, 10).

use ndarray::{ArrayD, ArrayViewD};

use super::{Origin, Tape, Var, Wrt};
use crate::error::{Error, Result};
use crate::ops::{Op, validate};

/// How one recorded op turns dL/d(output) into dL/d(inputs) during the reverse walk.
pub trait Pullback {
    /// The input gradients of `op` at `inputs`, for the inputs with `wanted[k]`.
    fn pull(
        &self,
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>>;
}

/// The reference pullback: each op's own VJP backward.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vjp;

impl Pullback for Vjp {
    fn pull(
        &self,
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        op.vjp(inputs, grad_out, wanted)
    }
}

impl Tape<'_> {
    /// dL/d(parameter) for every parameter, from the scalar `loss` (seeded with dL/dL = 1).
    pub fn backward(&self, loss: Var) -> Result<Gradients> {
        self.backward_wrt(loss, Wrt::Params)
    }

    /// As [`Tape::backward`], also for data leaves when `wrt` asks for them.
    pub fn backward_wrt(&self, loss: Var, wrt: Wrt) -> Result<Gradients> {
        self.check(loss)?;
        let value = &self.nodes[loss.index].value;
        if value.len() != 1 {
            return Err(Error::Tape(format!(
                "backward needs a scalar loss, but `{}` has shape {:?}",
                self.nodes[loss.index].name,
                value.shape()
            )));
        }
        self.pullback(loss, ArrayD::ones(value.raw_dim()), wrt, &Vjp)
    }

    /// The reverse walk from `output` seeded with `cotangent` = dL/d(output), any shape: the
    /// gradients of L = ⟨cotangent, output⟩, with each op pulled back by `pullback`.
    pub fn pullback(
        &self,
        output: Var,
        cotangent: ArrayD<f64>,
        wrt: Wrt,
        pullback: &dyn Pullback,
    ) -> Result<Gradients> {
        self.check(output)?;
        let out_shape = self.nodes[output.index].value.shape();
        if cotangent.shape() != out_shape {
            return Err(Error::Tape(format!(
                "the cotangent of `{}` has shape {:?}, expected {:?}",
                self.nodes[output.index].name,
                cotangent.shape(),
                out_shape
            )));
        }
        if !validate::all_finite(&cotangent.view()) {
            let op = format!("pullback from `{}`", self.nodes[output.index].name);
            validate::finite(&op, "cotangent", &cotangent.view())?;
        }
        let needs = self.needs_grad(wrt);
        let mut grads: Vec<Option<ArrayD<f64>>> = vec![None; self.nodes.len()];
        grads[output.index] = Some(cotangent);
        for index in (0..=output.index).rev() {
            let Origin::Op { op, inputs } = &self.nodes[index].origin else {
                continue;
            };
            let Some(grad_out) = grads[index].as_ref() else {
                continue;
            };
            let wanted: Vec<bool> = (inputs.iter().enumerate())
                .map(|(k, v)| needs[v.index] && op.differentiable(k))
                .collect();
            if !wanted.contains(&true) {
                continue;
            }
            let views: Vec<_> = inputs.iter().map(|v| self.nodes[v.index].value.view()).collect();
            let input_grads = pullback.pull(op.as_ref(), &views, grad_out.view(), &wanted)?;
            for ((v, grad), want) in inputs.iter().zip(input_grads).zip(wanted) {
                let Some(grad) = grad.filter(|_| want) else {
                    continue;
                };
                self.accumulate(&mut grads[v.index], grad, v)?;
            }
        }
        // A requested leaf the output does not depend on has gradient zero.
        for (node, (slot, need)) in self.nodes.iter().zip(grads.iter_mut().zip(&needs)) {
            if *need && slot.is_none() && matches!(node.origin, Origin::Leaf(_)) {
                *slot = Some(ArrayD::zeros(node.value.raw_dim()));
            }
        }
        Ok(Gradients { tape: self.id, grads })
    }

    /// Adds one path's contribution to a node's gradient (Eq. 4–6: sum over paths).
    fn accumulate(&self, slot: &mut Option<ArrayD<f64>>, grad: ArrayD<f64>, v: &Var) -> Result<()> {
        let node = &self.nodes[v.index];
        if grad.shape() != node.value.shape() {
            return Err(Error::Tape(format!(
                "a pullback returned a gradient of shape {:?} for `{}`, which has shape {:?}",
                grad.shape(),
                node.name,
                node.value.shape()
            )));
        }
        match slot {
            Some(acc) => *acc += &grad,
            None => *slot = Some(grad),
        }
        Ok(())
    }

    /// Which nodes need a gradient: requested leaves and every op that reads one, transitively.
    pub(super) fn needs_grad(&self, wrt: Wrt) -> Vec<bool> {
        let mut needs = Vec::with_capacity(self.nodes.len());
        for node in &self.nodes {
            let need = match &node.origin {
                Origin::Leaf(kind) => wrt.includes(*kind),
                Origin::Op { inputs, .. } => inputs.iter().any(|v| needs[v.index]),
            };
            needs.push(need);
        }
        needs
    }
}

/// Gradients from one backward pass, indexed by variable.
#[derive(Debug, Clone)]
pub struct Gradients {
    tape: u64,
    grads: Vec<Option<ArrayD<f64>>>,
}

impl Gradients {
    /// dL/d`v`, if it was computed: for every requested leaf, and every op output on a path
    /// from a requested leaf to the loss.
    pub fn get(&self, v: Var) -> Option<&ArrayD<f64>> {
        if v.tape != self.tape {
            return None;
        }
        self.grads.get(v.index)?.as_ref()
    }

    /// dL/d`v`, or a [`Error::Tape`] naming the variable when it was not computed.
    pub fn require(&self, tape: &Tape<'_>, v: Var) -> Result<&ArrayD<f64>> {
        self.get(v)
            .ok_or_else(|| Error::Tape(format!("no gradient was computed for `{}`", tape.name(v))))
    }

    /// Moves dL/d`v` out, as [`Gradients::require`] without the copy; a second take of the same
    /// variable is the same error as a gradient never computed.
    pub fn take(&mut self, tape: &Tape<'_>, v: Var) -> Result<ArrayD<f64>> {
        let slot = (v.tape == self.tape)
            .then(|| self.grads.get_mut(v.index))
            .flatten();
        slot.and_then(Option::take)
            .ok_or_else(|| Error::Tape(format!("no gradient was computed for `{}`", tape.name(v))))
    }
}
