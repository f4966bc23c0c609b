//! Accounting for the notes' two claims: the modelled work of a backward pass along both roads
//! (Sec. 4.1) and the memory backprop retains against an inference-only forward (Sec. 4.2).

use super::{LeafKind, Node, Origin, Tape, Var, Wrt};
use crate::error::Result;
use crate::ops::{Cost, F64_BYTES, Op};

impl Tape<'_> {
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
}
