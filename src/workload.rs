//! A workload: an op's forward pass on given inputs, ready to be recorded on a tape, for the
//! measured times and the benchmarks. Each op's home says how it draws one; the claims time it.
//! It sits above the tape and the network and below both the verifier and the claims, so that
//! neither imports the other.

use std::sync::Arc;

use ndarray::{Array2, ArrayD};

use crate::error::Result;
use crate::mlp::{self, MlpParams};
use crate::ops::Op;
use crate::tape::{Tape, Var};

/// Random inputs of an op at one size: the op's leaves, or the network's parameters and data
/// (each op draws its own, `VerifiedOp::timing_inputs`).
pub enum Workload {
    /// One op on its inputs, in order (parameter leaves, or data leaves where the op does not
    /// differentiate them); timed under a random upstream gradient, with respect to every
    /// differentiated leaf.
    Op(Arc<dyn Op>, Vec<ArrayD<f64>>),
    /// The network with (parameters, x, y); timed from dL/dL = 1, with respect to the parameters.
    Mlp(Box<(MlpParams, Array2<f64>, Array2<f64>)>),
}

impl Workload {
    /// The forward pass recorded on these inputs, and the output its backward starts from.
    pub fn record(&self) -> Result<(Tape<'_>, Var)> {
        match self {
            Workload::Mlp(network) => {
                let (params, x, y) = network.as_ref();
                let net = mlp::record(params, x.view(), y.view())?;
                Ok((net.tape, net.loss))
            }
            Workload::Op(op, inputs) => {
                let mut tape = Tape::new();
                let leaves: Vec<Var> = (op.input_names().iter().zip(inputs).enumerate())
                    .map(|(k, (name, value))| match op.differentiable(k) {
                        true => tape.param(name, value.view()),
                        false => tape.data(name, value.view()),
                    })
                    .collect();
                let out = tape.apply(op.name(), Arc::clone(op), &leaves)?;
                Ok((tape, out))
            }
        }
    }
}
