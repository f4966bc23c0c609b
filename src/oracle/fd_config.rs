//! What a finite-difference oracle is configured by and gives back, shared by its two roads
//! ([`super::finite_diff`] through the tape, [`super::local_fd`] through one op's local form):
//! the first step c of `h = c · max(1, |θ|)` and its step sequence, the estimate of one leaf's
//! gradient with its error bound and comparability, and the rounding magnitude of a scalar
//! output that did not move (below the smallest normal number rounding is absolute, so it is at
//! least [`SUBNORMAL_MAGNITUDE`]).

use ndarray::ArrayD;

use super::richardson::{Estimate, Steps};
use crate::error::{Error, Result};

/// Most quotients per element: from the first step down to about 1e-5 of it.
pub const STEPS: usize = 36;

/// How the oracle steps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FdConfig {
    /// The relative first step c in `h = c · max(1, |θ|)`.
    pub step: f64,
}

impl Default for FdConfig {
    fn default() -> Self {
        FdConfig { step: 1e-4 }
    }
}

impl FdConfig {
    /// The core's step sequence for an objective of unknown shape, judging each estimate by
    /// the next step too (the tape oracle's rounding bound may miss values it cannot see).
    pub fn steps(&self) -> Steps {
        Steps {
            first: self.step,
            count: STEPS,
            look_ahead: true,
            quadratic: false,
        }
    }
}

/// The finite-difference estimate of one leaf's gradient.
#[derive(Debug, Clone, PartialEq)]
pub struct FdGradient {
    /// The estimates, shaped like the leaf.
    pub values: ArrayD<f64>,
    /// Each estimate's error bound: the sequence's error plus rounding (see [`super::richardson`]).
    pub noise: ArrayD<f64>,
    /// False where no kink-free step converged: that element must not be compared.
    pub smooth: ArrayD<bool>,
}

impl FdGradient {
    /// The gradient of estimates shaped `shape`, one per element in row-major order.
    pub fn from_estimates(shape: &[usize], estimates: &[Estimate]) -> FdGradient {
        let shaped =
            |v: Vec<f64>| ArrayD::from_shape_vec(shape, v).expect("internal: one estimate per element");
        FdGradient {
            values: shaped(estimates.iter().map(|e| e.value).collect()),
            noise: shaped(estimates.iter().map(|e| e.error).collect()),
            smooth: ArrayD::from_shape_vec(shape, estimates.iter().map(Estimate::comparable).collect())
                .expect("internal: one flag per element"),
        }
    }
}

/// Validates the first step.
pub(crate) fn check_config(config: FdConfig) -> Result<()> {
    if config.step.is_finite() && config.step > 0.0 {
        Ok(())
    } else {
        Err(Error::Config {
            arg: "step".into(),
            value: config.step.to_string(),
            expected: "a finite number above 0".into(),
        })
    }
}

/// The rounding magnitude of a scalar output that moved by `changed` between `up` and `down`
/// under the cotangent `v`: `|v| (|up| + |down|)` if it did not move, and at least
/// [`SUBNORMAL_MAGNITUDE`].
pub(super) fn unresolved_scalar(changed: f64, up: f64, down: f64, v: f64) -> f64 {
    if changed == 0.0 {
        (v.abs() * (up.abs() + down.abs())).max(SUBNORMAL_MAGNITUDE)
    } else {
        SUBNORMAL_MAGNITUDE
    }
}

/// The rounding magnitude of outputs that all have the moved element in their formula (a local
/// form's reach) when they moved by `changed` in all: their own magnitude `reached = Σ |vⱼ|
/// (|upⱼ| + |downⱼ|)` if none of them moved (a saturated tanh does not see a step whose effect
/// is below its ulp), at least [`SUBNORMAL_MAGNITUDE`] unless they are all 0 (nothing to round);
/// 0 once any moved, their rounding then counted term by term.
pub(super) fn unresolved_reach(changed: f64, reached: f64) -> f64 {
    if changed == 0.0 && reached > 0.0 {
        reached.max(SUBNORMAL_MAGNITUDE)
    } else {
        0.0
    }
}

/// The least magnitude of a scalar that did not move: below the smallest normal number
/// rounding is absolute, not relative, so ε times a subnormal magnitude would claim a resolution
/// no float has (a subnormal loss cannot resolve a subnormal gradient).
const SUBNORMAL_MAGNITUDE: f64 = f64::MIN_POSITIVE / f64::EPSILON;
