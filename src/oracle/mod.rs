//! The two independent oracles the reference backprop is checked against.
//!
//! - [`jacobian`]: the same reverse walk, but each op's gradient is the contraction of its full
//!   Jacobian, `dL/d in_j = Σ_i J_ij dL/d out_i` (Eq. 36, 45). Exact up to rounding, O(D²).
//! - [`finite_diff`]: central differences of the forward pass alone, `(L(θ + h) − L(θ − h)) / 2h`.
//!   Needs no derivative at all; approximate, and blind at kinks, which it detects.

pub mod finite_diff;
pub mod jacobian;
pub mod network_fd;
pub mod projection;
pub mod richardson;
pub mod taylor;

use ndarray::{ArrayD, ArrayViewD};

use crate::compare::{self, Abs, Comparison, Tolerance};
use crate::error::Result;
use crate::ops::Op;
use crate::tape::{Tape, Var, Vjp, Wrt};

/// Relative tolerance between the VJP and the Jacobian contraction: both are exact, so they
/// differ only by the order of rounding.
pub const JACOBIAN_REL: f64 = 1e-12;

/// Relative tolerance between the VJP and central differences: the step's truncation error for
/// smooth ops, the rounding error of the quotient everywhere (see [`finite_diff`]).
pub const FINITE_DIFF_REL: f64 = 1e-6;

/// Every leaf's VJP gradient compared with both oracles.
#[derive(Debug, Clone)]
pub struct OracleReport {
    /// VJP against Jacobian contraction, one comparison per leaf.
    pub vs_jacobian: Vec<Comparison>,
    /// VJP against central differences, one comparison per leaf.
    pub vs_finite_diff: Vec<Comparison>,
}

impl OracleReport {
    /// True when no comparison failed.
    pub fn is_ok(&self) -> bool {
        self.vs_jacobian
            .iter()
            .chain(&self.vs_finite_diff)
            .all(Comparison::is_ok)
    }
}

/// Checks the reference VJP of `L = ⟨cotangent, output⟩` for every leaf in `leaves` against the
/// Jacobian oracle and the finite-difference oracle.
pub fn check(
    tape: &Tape<'_>,
    output: Var,
    cotangent: ArrayViewD<'_, f64>,
    leaves: &[Var],
) -> Result<OracleReport> {
    let seed: ArrayD<f64> = cotangent.to_owned();
    let vjp = tape.pullback(output, seed.clone(), Wrt::ParamsAndData, &Vjp)?;
    let jac = tape.pullback(output, seed, Wrt::ParamsAndData, &jacobian::JacobianContraction)?;
    let fd = finite_diff::gradients(tape, output, cotangent, leaves, finite_diff::FdConfig::default())?;
    let mut report = OracleReport {
        vs_jacobian: Vec::with_capacity(leaves.len()),
        vs_finite_diff: Vec::with_capacity(leaves.len()),
    };
    for (&leaf, fd) in leaves.iter().zip(&fd) {
        let name = format!("dL/d{}", tape.name(leaf));
        let actual = vjp.require(tape, leaf)?.view();
        let exact = jac.require(tape, leaf)?.view();
        let scale = exact
            .iter()
            .chain(actual.iter())
            .fold(0.0_f64, |m, v| m.max(v.abs()));
        report.vs_jacobian.push(compare::compare(
            &name,
            exact,
            actual.clone(),
            &Tolerance::uniform(JACOBIAN_REL, JACOBIAN_REL * scale),
        ));
        let tol = Tolerance {
            rel: FINITE_DIFF_REL,
            abs: Abs::PerElement(fd.noise.view()),
            compare: Some(fd.smooth.view()),
        };
        report
            .vs_finite_diff
            .push(compare::compare(&name, fd.values.view(), actual, &tol));
    }
    Ok(report)
}

/// Records `op` alone with every input a leaf and checks its VJP against both oracles under the
/// given cotangent dL/d(output).
pub fn check_op(
    op: impl Op + 'static,
    inputs: Vec<ArrayD<f64>>,
    cotangent: ArrayViewD<'_, f64>,
) -> Result<OracleReport> {
    let mut tape = Tape::new();
    let names = op.input_names();
    let leaves: Vec<Var> = names
        .iter()
        .zip(inputs)
        .map(|(name, value)| tape.param(name, value))
        .collect();
    let out = tape.apply("out", op, &leaves)?;
    check(&tape, out, cotangent, &leaves)
}
