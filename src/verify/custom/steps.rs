//! Compact finite-difference steps: the per-element estimates asked for as steps from the
//! case's point, each answered with one term-wise difference, instead of as whole points.
//!
//! Every central quotient of the element-by-element estimates (the first look's two and each
//! Richardson round's) moves one element `θ_i` of one input to `θ_i + h` and to `θ_i − h` and
//! uses only the sample
//!
//! ```text
//! difference = Σ_outputs Σⱼ vⱼ (upⱼ − downⱼ),   magnitude = Σ_outputs Σⱼ |vⱼ| (|upⱼ| + |downⱼ|),
//! ```
//!
//! both sums over the terms where `upⱼ ≠ downⱼ` (term by term, so that an unchanged term adds
//! not even rounding; [`termwise_difference`]), with v the case's cotangents. A forward that
//! knows the base point x and v once can answer a step `(input, i, θ_i + h, θ_i − h)` with those
//! two numbers: a check of an op of n elements then moves O(n) numbers instead of O(n²) (≈ 4n
//! points of n numbers each). With outputs printed to 17 significant digits, the answers are the
//! very numbers the verifier computes from whole points, so the verdicts are the same.
//!
//! Only those estimates can use it: the case's own forward, the forward mode, the fast mode's
//! projection, the Taylor second opinion and aliased inputs move many elements at once (or need
//! the outputs themselves) and keep whole points.

use ndarray::ArrayD;

use crate::oracle::finite_diff::termwise_difference;
use crate::verify::Fault;

/// One step from the base point: element `flat` (row-major) of input `input` moved to `plus`
/// and, separately, to `minus`; every other element stays at the base point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// The input moved, by position.
    pub input: usize,
    /// The element moved, its row-major index in the input.
    pub flat: usize,
    /// The value moved to for the upper forward.
    pub plus: f64,
    /// The value moved to for the lower forward.
    pub minus: f64,
}

/// The answer to one [`Step`]: the cotangent-weighted difference of the forward's outputs at
/// `plus` and at `minus`, and the magnitude its rounding scales with (see the module docs).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StepDifference {
    /// `Σ vⱼ (upⱼ − downⱼ)` over the terms that changed.
    pub difference: f64,
    /// `Σ |vⱼ| (|upⱼ| + |downⱼ|)` over the same terms.
    pub magnitude: f64,
}

impl StepDifference {
    /// The difference of outputs `up` and `down` (one array per output) under `cotangents`, term
    /// by term: what a forward answering steps computes, here for one in-process.
    pub fn between(up: &[ArrayD<f64>], down: &[ArrayD<f64>], cotangents: &[ArrayD<f64>]) -> StepDifference {
        let (difference, magnitude) = (up.iter().zip(down).zip(cotangents))
            .map(|((u, d), v)| termwise_difference(u.view(), d.view(), v.view()))
            .fold((0.0, 0.0), |(s, m), (ds, dm)| (s + ds, m + dm));
        StepDifference {
            difference,
            magnitude,
        }
    }

    /// The point `base` with `step`'s element at `value`.
    pub fn moved(base: &[ArrayD<f64>], step: &Step, value: f64) -> Vec<ArrayD<f64>> {
        let mut point = base.to_vec();
        let moved = &mut point[step.input];
        *moved = moved.as_standard_layout().into_owned();
        if let Some(element) = moved.as_slice_mut().and_then(|s| s.get_mut(step.flat)) {
            *element = value;
        }
        point
    }
}

/// A forward that answers steps: `(base point, cotangents, steps) -> one difference per step`.
pub(super) type ForwardSteps<'a> =
    Box<dyn Fn(&[ArrayD<f64>], &[ArrayD<f64>], &[Step]) -> Result<Vec<StepDifference>, Fault> + 'a>;

/// The most steps one call carries (four numbers each: 8 MiB of f64, as the batch forward's
/// points).
pub(super) const STEPS_PER_CALL: usize = 1 << 18;
