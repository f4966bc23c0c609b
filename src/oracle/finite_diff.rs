//! Oracle 2: central finite differences of the forward pass.
//!
//! For every element θ of a leaf, `dL/dθ ≈ (L(θ + h) − L(θ − h)) / 2h` with `L = ⟨v, out⟩` for the
//! cotangent v (v = 1 for a scalar loss). The step is scaled to the element, `h = c · max(1, |θ|)`
//! with `c = 1e-4` by default. Truncation error is `h² f‴ / 6`: zero for linear, relu and sqerr,
//! which are at most quadratic in any one element away from a kink, and about `2e-9` relative for
//! a generic smooth op; rounding error is `O(ε/h)`, about `1e-12` relative. (The textbook
//! `c = ε^(1/3)` balances the two for an op whose third derivative is as large as its first, at
//! 17× the rounding error.) The width actually divided by is `(θ + h) − (θ − h)`, exact in floating
//! point.
//!
//! Each estimate comes with its **noise floor**, a bound on the rounding error of the quotient,
//! `κ · ε · (M⁺ + M⁻ + M) / ((θ + h) − (θ − h))` with `M = Σ |vᵢ outᵢ|` (the magnitude the
//! rounding error of `⟨v, out⟩` scales with), used as the absolute tolerance that may
//! excuse a tiny difference (see [`crate::compare`]).
//!
//! **Kinks.** Across a relu kink the quotient is meaningless. For each perturbation the oracle
//! asks every op downstream of the leaf whether it is smooth between its inputs at θ − h and θ,
//! and at θ and θ + h ([`Op::smooth_between`](crate::ops::Op::smooth_between)); an element where
//! any is not is marked non-smooth and is not compared. In the Eq. 33 network every relu input is
//! piecewise linear in a single parameter, so checking those points finds every kink in reach.

use ndarray::{ArrayD, ArrayViewD, Zip};

use crate::error::{Error, Result};
use crate::tape::{Evaluation, Tape, Var};

/// Safety factor on the rounding-error estimate of a difference quotient.
const NOISE_SAFETY: f64 = 64.0;

/// How the oracle steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FdConfig {
    /// The relative step c in `h = c · max(1, |θ|)`.
    pub step: f64,
}

impl Default for FdConfig {
    fn default() -> Self {
        FdConfig { step: 1e-4 }
    }
}

/// The finite-difference estimate of one leaf's gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct FdGradient {
    /// The difference quotients, shaped like the leaf.
    pub values: ArrayD<f64>,
    /// Each quotient's rounding-noise bound.
    pub noise: ArrayD<f64>,
    /// False where the perturbation reached a kink: that element must not be compared.
    pub smooth: ArrayD<bool>,
}

/// The finite-difference gradient of `L = ⟨cotangent, output⟩` with respect to each leaf.
pub fn gradients(
    tape: &Tape<'_>,
    output: Var,
    cotangent: ArrayViewD<'_, f64>,
    leaves: &[Var],
    config: FdConfig,
) -> Result<Vec<FdGradient>> {
    if !(config.step.is_finite() && config.step > 0.0) {
        return Err(Error::Config {
            arg: "step".into(),
            value: config.step.to_string(),
            expected: "a finite number above 0".into(),
        });
    }
    if cotangent.shape() != tape.value(output).shape() {
        return Err(Error::Tape(format!(
            "the cotangent of `{}` has shape {:?}, expected {:?}",
            tape.name(output),
            cotangent.shape(),
            tape.value(output).shape()
        )));
    }
    let value_at = |e: &Evaluation<'_, '_>| objective(e.value(output), cotangent.view());
    let base_value = objective(tape.value(output).view(), cotangent.view());
    leaves
        .iter()
        .map(|&leaf| leaf_gradient(tape, leaf, base_value, &value_at, config))
        .collect()
}

/// `(⟨v, out⟩, Σ |vᵢ outᵢ|)`: the objective and the magnitude its rounding error scales with.
fn objective(out: ArrayViewD<'_, f64>, v: ArrayViewD<'_, f64>) -> (f64, f64) {
    Zip::from(&out)
        .and(&v)
        .fold((0.0, 0.0), |(s, m), o, v| (s + o * v, m + (o * v).abs()))
}

/// One central difference quotient and its rounding-noise bound.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Quotient {
    /// `(L(θ + h) − L(θ − h)) / ((θ + h) − (θ − h))`.
    pub value: f64,
    /// `κ · ε · (M⁺ + M⁻ + M) / ((θ + h) − (θ − h))`.
    pub noise: f64,
}

/// The central difference at `theta` of an objective that returns `(L, M)` (the value and the
/// magnitude its rounding error scales with) at a given coordinate value; `at_theta` is `M` at θ.
pub fn central_difference<E>(
    theta: f64,
    step: f64,
    at_theta: f64,
    mut objective: impl FnMut(f64) -> Result<(f64, f64), E>,
) -> Result<Quotient, E> {
    let h = step * theta.abs().max(1.0);
    let (plus, minus) = (theta + h, theta - h);
    let (l_plus, m_plus) = objective(plus)?;
    let (l_minus, m_minus) = objective(minus)?;
    let width = plus - minus;
    Ok(Quotient {
        value: (l_plus - l_minus) / width,
        noise: NOISE_SAFETY * f64::EPSILON * (m_plus + m_minus + at_theta) / width,
    })
}

fn leaf_gradient(
    tape: &Tape<'_>,
    leaf: Var,
    base_value: (f64, f64),
    objective: &dyn Fn(&Evaluation<'_, '_>) -> (f64, f64),
    config: FdConfig,
) -> Result<FdGradient> {
    let shape = tape.value(leaf).raw_dim();
    let mut point = tape.value(leaf).as_standard_layout().into_owned();
    let n = point.len();
    let (mut values, mut noise, mut smooth) = (
        Vec::with_capacity(n),
        Vec::with_capacity(n),
        Vec::with_capacity(n),
    );
    for flat in 0..n {
        let theta = flat_mut(&mut point)[flat];
        let mut evaluations = Vec::with_capacity(2);
        let q = central_difference(theta, config.step, base_value.1, |x| {
            flat_mut(&mut point)[flat] = x;
            let e = tape.evaluate_with(leaf, point.clone())?;
            let value = objective(&e);
            evaluations.push(e);
            Ok::<_, crate::Error>(value)
        })?;
        flat_mut(&mut point)[flat] = theta;
        values.push(q.value);
        noise.push(q.noise);
        smooth.push(smooth_along(tape, &evaluations[1], &evaluations[0]));
    }
    let shaped = |v| ArrayD::from_shape_vec(shape.clone(), v).expect("internal: one estimate per element");
    Ok(FdGradient {
        values: shaped(values),
        noise: shaped(noise),
        smooth: ArrayD::from_shape_vec(shape.clone(), smooth).expect("internal: one flag per element"),
    })
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
