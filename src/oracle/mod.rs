//! The two independent oracles the reference backprop is checked against.
//!
//! - [`jacobian`]: the same reverse walk, but each op's gradient is the contraction of its full
//!   Jacobian, `dL/d in_j = Σ_i J_ij dL/d out_i` (Eq. 36, 45). Exact up to rounding, O(D²).
//! - [`finite_diff`]: central differences of the forward pass alone, `(L(θ + h) − L(θ − h)) / 2h`
//!   over a shrinking sequence of steps ([`richardson`], the one finite-difference core), each
//!   estimate with its error bound. Needs no derivative at all; approximate, and blind at kinks,
//!   which it detects and steps below. For a single op, [`local_fd`] moves each element
//!   through the op's local form ([`LocalForward`](crate::ops::LocalForward)), recomputing only
//!   the outputs the element reaches.
//! - [`taylor`]: the Taylor-remainder test, a second opinion on a whole gradient.
//!
//! [`OracleReport::is_ok`] means that no element failed; [`OracleReport::certified`] says, per
//! gradient, whether anything was certified at all (at an exact fit the gradient is zero, and a
//! wrong zero cannot be told from a right one: nothing failed, nothing certified).

pub mod fd_config;
pub mod finite_diff;
pub mod jacobian;
pub mod local_fd;
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

/// Relative tolerance between the VJP and central differences, beside each estimate's own error
/// bound: the forward's own rounding, which the bound does not know (see [`richardson`]).
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

    /// Per leaf (in the order checked), whether finite differences certified at least one
    /// element: false where every element was excused or not comparable.
    pub fn certified(&self) -> Vec<bool> {
        self.vs_finite_diff.iter().map(|c| c.certified > 0).collect()
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
    jacobian::check_sizes(tape)?;
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
            abs: Abs::Bound(fd.noise.view()),
            compare: Some(fd.smooth.view()),
        };
        report
            .vs_finite_diff
            .push(compare::compare(&name, fd.values.view(), actual, &tol));
    }
    Ok(report)
}

/// Records `op` alone, every differentiated input a leaf (the others, labels and indices, data
/// that is never perturbed), and checks its VJP against both oracles under the given cotangent
/// dL/d(output).
pub fn check_op(
    op: impl Op + 'static,
    inputs: Vec<ArrayD<f64>>,
    cotangent: ArrayViewD<'_, f64>,
) -> Result<OracleReport> {
    let mut tape = Tape::new();
    let names = op.input_names();
    let differentiable: Vec<bool> = (0..names.len()).map(|k| op.differentiable(k)).collect();
    let vars: Vec<Var> = (names.iter().zip(inputs).zip(&differentiable))
        .map(|((name, value), &d)| {
            if d {
                tape.param(name, value)
            } else {
                tape.data(name, value)
            }
        })
        .collect();
    let leaves: Vec<Var> = (vars.iter().zip(&differentiable))
        .filter_map(|(&v, &d)| d.then_some(v))
        .collect();
    let out = tape.apply("out", op, &vars)?;
    check(&tape, out, cotangent, &leaves)
}
