//! A workload: an op's forward pass on given inputs, ready to be recorded on a tape, for the
//! measured times and the benchmarks. Each op's home says how it draws one; the claims time it.
//! It sits above the tape and the network and below both the verifier and the claims, so that
//! neither imports the other.

use ndarray::{Array2, ArrayD};

use crate::error::Result;
use crate::mlp::{self, MlpParams};
use crate::tape::{Tape, Var};

/// Records one op on a tape, on the given leaves.
pub type Apply = fn(&mut Tape<'_>, &[Var]) -> Result<Var>;

/// Random inputs of an op at one size: the op's leaves, or the network's parameters and data
/// (each op draws its own, `VerifiedOp::timing_inputs`).
pub enum Workload {
    /// One op, recorded by `Apply` on these named leaves; timed under a random upstream
    /// gradient, with respect to every leaf.
    Op(Apply, Vec<(&'static str, ArrayD<f64>)>),
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
            Workload::Op(apply, leaves) => {
                let mut tape = Tape::new();
                let leaves: Vec<Var> = leaves.iter().map(|(n, v)| tape.param(n, v.view())).collect();
                let out = apply(&mut tape, &leaves)?;
                Ok((tape, out))
            }
        }
    }
}
