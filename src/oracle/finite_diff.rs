//! Oracle 2: central finite differences of the forward pass.
//!
//! For every element θ of a leaf, `dL/dθ` with `L = ⟨v, out⟩` for the cotangent v (v = 1 for a
//! scalar loss) is estimated by the one finite-difference core, [`richardson`]: central
//! quotients `Σⱼ vⱼ (outⱼ(θ + h) − outⱼ(θ − h)) / ((θ + h) − (θ − h))`, the difference taken term by
//! term, over steps `h = c · max(1, |θ|) / 1.4^i` (c = 1e-4 by default: linear, relu and sqerr are
//! at most quadratic in any one element away from a kink, so the first two quotients agree to
//! rounding and the sequence stops there), extrapolated, with an error bound from the sequence
//! and from the rounding of the magnitudes actually subtracted, `Σⱼ |vⱼ| (|outⱼ⁺| + |outⱼ⁻|)`.
//! That bound is the comparison's [`Abs::Bound`](crate::compare::Abs::Bound).
//!
//! **Kinks.** Across a relu kink a quotient is meaningless. For each step the oracle asks every
//! op downstream of the leaf whether it is smooth between its inputs at θ − h and θ, and at θ and
//! θ + h ([`Op::smooth_between`](crate::ops::Op::smooth_between)); a step where one is not is not
//! used, and the sequence goes on to shorter steps, below the kink's distance. An element where no
//! step is smooth, or the sequence does not converge, is marked not comparable. In the Eq. 33
//! network every relu input is piecewise linear in a single parameter, so checking those points
//! finds every kink in reach.
//!
//! **One op.** Where the output is a single op whose inputs are all leaves (every check of one
//! op: a course op's case, `check_op`), each element goes through [`local_fd`] instead: the op's
//! local form recomputes only the outputs the element reaches, the elements in parallel, and the
//! rounding bound needs no Jacobian. The tape road above remains for graphs of several ops.

use ndarray::{ArrayD, ArrayViewD, Zip};

pub(crate) use super::fd_config::check_config;
use super::fd_config::unresolved_scalar;
pub use super::fd_config::{FdConfig, FdGradient, STEPS};
use super::jacobian::{self, JacobianContraction};
use super::local_fd;
use super::richardson::{self, Sample};
use crate::error::{Error, Result};
use crate::tape::{Evaluation, Gradients, OpNode, Pullback, Tape, Var, Wrt};

/// The finite-difference gradient of `L = ⟨cotangent, output⟩` with respect to each leaf.
pub fn gradients(
    tape: &Tape<'_>,
    output: Var,
    cotangent: ArrayViewD<'_, f64>,
    leaves: &[Var],
    config: FdConfig,
) -> Result<Vec<FdGradient>> {
    check_config(config)?;
    if cotangent.shape() != tape.value(output).shape() {
        return Err(Error::Tape(format!(
            "the cotangent of `{}` has shape {:?}, expected {:?}",
            tape.name(output),
            cotangent.shape(),
            tape.value(output).shape()
        )));
    }
    if let Some(node) = single_op(tape, output, leaves) {
        let inputs: Vec<_> = node.inputs.iter().map(|&i| tape.value(i)).collect();
        let wrt: Vec<usize> = (leaves.iter())
            .map(|leaf| {
                node.inputs
                    .iter()
                    .position(|i| i == leaf)
                    .expect("internal: an input")
            })
            .collect();
        return local_fd::gradients(node.op, &inputs, &wrt, tape.value(output), cotangent, config);
    }
    jacobian::check_sizes(tape)?;
    let weights = tape.pullback(
        output,
        cotangent.to_owned(),
        Wrt::ParamsAndData,
        &JacobianContraction,
    )?;
    leaves
        .iter()
        .map(|&leaf| leaf_gradient(tape, leaf, output, &weights, config))
        .collect()
}

/// The op that computes `output` when its inputs are all leaves and every leaf asked for is one
/// of them, once: moving a leaf's element then changes only what that op's local form reaches
/// ([`local_fd`]).
fn single_op<'t>(tape: &'t Tape<'_>, output: Var, leaves: &[Var]) -> Option<OpNode<'t>> {
    let node = tape.op_node(output)?;
    let all_leaves = node.inputs.iter().all(|&i| tape.op_node(i).is_none());
    let once = |leaf: &Var| node.inputs.iter().filter(|&i| i == leaf).count() == 1;
    (all_leaves && leaves.iter().all(once)).then_some(node)
}

/// A scalar output that did not move at all (`changed`, the magnitude of the changed terms,
/// is 0) moved by less than its own rounding: the difference 0 is only known to within
/// `|v| (|up| + |down|)` (a loss of 500 does not see a logit 1600 below its row's maximum
/// move). An array's unchanged terms are not counted: they may not depend on the element at
/// all (relu's other outputs), and then they carry no rounding of the difference. At least
/// `fd_config::SUBNORMAL_MAGNITUDE` for any scalar.
fn unresolved(
    changed: f64,
    up: ArrayViewD<'_, f64>,
    down: ArrayViewD<'_, f64>,
    v: ArrayViewD<'_, f64>,
) -> f64 {
    match (up.iter().next(), down.iter().next(), v.iter().next()) {
        (Some(&u), Some(&d), Some(&v)) if up.len() == 1 => unresolved_scalar(changed, u, d, v),
        _ => 0.0,
    }
}

/// `Σⱼ vⱼ (upⱼ − downⱼ)` over the terms that changed, and `Σⱼ |vⱼ| (|upⱼ| + |downⱼ|)` over the same.
pub fn termwise_difference(
    up: ArrayViewD<'_, f64>,
    down: ArrayViewD<'_, f64>,
    v: ArrayViewD<'_, f64>,
) -> (f64, f64) {
    Zip::from(&up)
        .and(&down)
        .and(&v)
        .fold((0.0, 0.0), |(s, m), &u, &d, &v| {
            if u == d {
                (s, m)
            } else {
                (s + v * (u - d), m + v.abs() * (u.abs() + d.abs()))
            }
        })
}

/// `Σ_n Σ_k |∂L/∂n_k| |n_k|` over the node elements an evaluation changed. The weights of the
/// output op's inputs are taken at the evaluation itself (at a perfect fit `∂L/∂f = f − y` is 0 at
/// θ but not at θ ± h), the others at θ.
fn rounding_magnitude(
    tape: &Tape<'_>,
    output: Var,
    weights: &Gradients,
    e: &Evaluation<'_, '_>,
) -> Result<f64> {
    let mut local: Vec<(Var, ArrayD<f64>)> = Vec::new();
    if let Some(node) = tape.op_node(output) {
        let views: Vec<_> = node.inputs.iter().map(|&i| e.value(i)).collect();
        let wanted: Vec<bool> = (0..views.len()).map(|k| node.op.differentiable(k)).collect();
        let pulled =
            JacobianContraction.pull(node.op, &views, weights.require(tape, output)?.view(), &wanted)?;
        local.extend(node.inputs.iter().zip(pulled).filter_map(|(&i, g)| Some((i, g?))));
    }
    Ok(tape
        .vars()
        .filter(|&n| e.is_changed(n))
        .filter_map(|n| {
            let w = local
                .iter()
                .find(|(i, _)| *i == n)
                .map(|(_, g)| g)
                .or(weights.get(n))?;
            Some(
                Zip::from(w)
                    .and(&e.value(n))
                    .and(&tape.value(n))
                    .fold(
                        0.0,
                        |m, w, v, base| if v == base { m } else { m + w.abs() * v.abs() },
                    ),
            )
        })
        .sum())
}

fn leaf_gradient(
    tape: &Tape<'_>,
    leaf: Var,
    output: Var,
    weights: &Gradients,
    config: FdConfig,
) -> Result<FdGradient> {
    let cotangent = weights.require(tape, output)?.view();
    let mut point = tape.value(leaf).as_standard_layout().into_owned();
    let n = point.len();
    let mut estimates = Vec::with_capacity(n);
    for flat in 0..n {
        let theta = flat_mut(&mut point)[flat];
        let estimate = richardson::estimate(theta, config.steps(), |plus, minus| {
            let mut at = |x: f64| {
                flat_mut(&mut point)[flat] = x;
                let e = tape.evaluate_with(leaf, point.clone())?;
                if e.value(output).shape() != cotangent.shape() {
                    return Err(Error::Tape(format!(
                        "the output `{}` changed shape from {:?} to {:?} when `{}` element {flat} moved to {x}: its shape must not depend on the values",
                        tape.name(output),
                        cotangent.shape(),
                        e.value(output).shape(),
                        tape.name(leaf)
                    )));
                }
                Ok(e)
            };
            let (up, down) = (at(plus)?, at(minus)?);
            let (up_out, down_out) = (up.value(output), down.value(output));
            let (difference, changed) = termwise_difference(up_out.view(), down_out.view(), cotangent.view());
            Ok::<_, Error>(Sample {
                difference,
                magnitude: rounding_magnitude(tape, output, weights, &up)?
                    + rounding_magnitude(tape, output, weights, &down)?
                    + unresolved(changed, up_out, down_out, cotangent.view()),
                smooth: smooth_along(tape, &down, &up),
            })
        });
        flat_mut(&mut point)[flat] = theta;
        estimates.push(estimate?);
    }
    Ok(FdGradient::from_estimates(tape.value(leaf).shape(), &estimates))
}

/// The elements of a standard-layout array, in row-major order.
fn flat_mut(a: &mut ArrayD<f64>) -> &mut [f64] {
    a.as_slice_mut().expect("internal: standard layout")
}

/// Every op downstream of the perturbed leaf is smooth from θ − h to θ and from θ to θ + h.
fn smooth_along(tape: &Tape<'_>, lower: &Evaluation<'_, '_>, upper: &Evaluation<'_, '_>) -> bool {
    tape.vars()
        .filter(|&v| upper.is_changed(v))
        .filter_map(|v| tape.op_node(v))
        .all(|node| {
            let lo: Vec<_> = node.inputs.iter().map(|&i| lower.value(i)).collect();
            let mid: Vec<_> = node.inputs.iter().map(|&i| tape.value(i)).collect();
            let hi: Vec<_> = node.inputs.iter().map(|&i| upper.value(i)).collect();
            node.op.smooth_between(&lo, &mid) && node.op.smooth_between(&mid, &hi)
        })
}
