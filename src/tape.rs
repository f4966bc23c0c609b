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

use std::sync::atomic::{AtomicU64, Ordering};

use ndarray::{ArrayD, ArrayViewD, CowArray, IxDyn};

use crate::error::{Error, Result};
use crate::ops::{Cost, F64_BYTES, Op, check};

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

    fn check(&self, v: Var) -> Result<()> {
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
        if !check::all_finite(&cotangent.view()) {
            let op = format!("pullback from `{}`", self.nodes[output.index].name);
            check::finite(&op, "cotangent", &cotangent.view())?;
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
            let wanted: Vec<bool> = inputs.iter().map(|v| needs[v.index]).collect();
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

    /// The work of a backward pass from `output` along both roads: the sum of the cost models of
    /// exactly the ops [`Tape::pullback`] visits, each for the inputs it is asked for.
    pub fn backward_cost(&self, output: Var, wrt: Wrt) -> Result<Cost> {
        let needs = self.needs_grad(wrt);
        let mut total = Cost::default();
        self.walk_back(
            output,
            |v| needs[v.index],
            |op, shapes, wanted| {
                total = total + op.cost(shapes, wanted)?;
                Ok(())
            },
        )?;
        Ok(total)
    }

    /// Floating-point operations of the forward pass that computed `output`: the sum of
    /// [`Op::forward_flops`] over the ops it depends on.
    pub fn forward_flops(&self, output: Var) -> Result<u64> {
        let mut total = 0;
        self.walk_back(
            output,
            |_| true,
            |op, shapes, _| {
                total += op.forward_flops(shapes)?;
                Ok(())
            },
        )?;
        Ok(total)
    }

    /// Visits the ops that `output` depends on through the inputs `follow` selects, from `output`
    /// back, each with its input shapes and which of its inputs are followed; an op with no
    /// followed input is not visited.
    fn walk_back(
        &self,
        output: Var,
        follow: impl Fn(Var) -> bool,
        mut visit: impl FnMut(&dyn Op, &[&[usize]], &[bool]) -> Result<()>,
    ) -> Result<()> {
        self.check(output)?;
        let mut reached = vec![false; self.nodes.len()];
        reached[output.index] = true;
        for index in (0..=output.index).rev() {
            let Origin::Op { op, inputs } = &self.nodes[index].origin else {
                continue;
            };
            let followed: Vec<bool> = inputs.iter().map(|&v| follow(v)).collect();
            if !reached[index] || !followed.contains(&true) {
                continue;
            }
            let shapes: Vec<&[usize]> = inputs.iter().map(|v| self.nodes[v.index].value.shape()).collect();
            visit(op.as_ref(), &shapes, &followed)?;
            for (v, followed) in inputs.iter().zip(followed) {
                reached[v.index] |= followed;
            }
        }
        Ok(())
    }

    /// Bytes of every value on the tape that is not a parameter (data and every op's output):
    /// what backprop keeps from the forward pass for the backward (Sec. 4.2).
    pub fn retained_bytes(&self) -> u64 {
        self.nodes
            .iter()
            .filter(|n| !matches!(n.origin, Origin::Leaf(LeafKind::Param)))
            .map(|n| F64_BYTES * n.value.len() as u64)
            .sum()
    }

    /// The peak bytes of non-parameter values an inference-only forward pass needs when it frees
    /// each value right after its last use (Sec. 4.2): while op i runs, its inputs, its output and
    /// every earlier value still to be read later (or the final `output`) are alive.
    pub fn inference_peak_bytes(&self, output: Var) -> Result<u64> {
        self.check(output)?;
        let mut last_use: Vec<usize> = (0..self.nodes.len()).collect();
        for (index, node) in self.nodes.iter().enumerate() {
            if let Origin::Op { inputs, .. } = &node.origin {
                for v in inputs {
                    last_use[v.index] = last_use[v.index].max(index);
                }
            }
        }
        last_use[output.index] = usize::MAX;
        let size = |n: &Node<'_>| match n.origin {
            Origin::Leaf(LeafKind::Param) => 0,
            _ => F64_BYTES * n.value.len() as u64,
        };
        let peak = (0..=output.index)
            .filter(|&i| matches!(self.nodes[i].origin, Origin::Op { .. }))
            .map(|i| {
                (0..=i)
                    .filter(|&v| last_use[v] >= i)
                    .map(|v| size(&self.nodes[v]))
                    .sum::<u64>()
            })
            .max()
            .unwrap_or(0);
        Ok(peak)
    }

    /// Which nodes need a gradient: requested leaves and every op that reads one, transitively.
    fn needs_grad(&self, wrt: Wrt) -> Vec<bool> {
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
