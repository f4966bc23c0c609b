//! Hypotheses that look at many failing cases at once, or at a whole network: the bugs students
//! write whose signature is not one case's prediction but a law across cases.
//!
//! - [`shape_factor`]: got = c · B^p · Π D_k^(q_k) · expected, fitted over every failing case
//!   (the batch mean, the element mean, the mean-squared-error convention, a missing ½);
//! - [`network`]: the six parameter gradients of the Eq. 33 network off by one factor per case
//!   (the loss's backward), or the first wrong layer, going backward from the loss;
//! - [`patterns`]: one scalar broadcast to every element, contributions overwritten instead of
//!   summed (fan-out), agreement to float32 precision and no better.
//!
//! Every module here is pure: arrays and dims in, a typed result with its stable code (see
//! [`super::explain`]) and a sentence out. The common tool is the ratio of a case: the one
//! number r with got = r · expected in every element.
//!
//! They reach the report through `verify::recognise` (called from the findings), per gradient
//! and only where the single-case predictions of [`super::diagnose`] (zero, transposed, a
//! mask, a constant factor, …) name nothing: [`patterns::float32`] first (agreement to 1e-4 of
//! the scale excludes every other pattern, and keeps a ratio of 1 ± 1e-7 from reading as a loss
//! factor), then [`network::loss_factor`] (its one example replaces each gradient's shrunk
//! one), [`shape_factor::fit`], [`patterns::broadcast_scalar`], and the op's own many-case bug
//! ([`patterns::fanout_overwrite`] for linear, through `VerifiedOp::many_case_hypothesis`).
//! [`network::first_wrong_layer`] adds a locating note to a network report where a wrong
//! gradient has no diagnosis.
//!
//! Measured on the programs of `tests/programs/` (seed 0, 40 cases an op): `mse_size` fits
//! 2/(B·D) for sqerr with example B=2 D=3 and the network's loss factor 2/(B·D3) with one
//! example B=2 D3=3 for all six gradients; `mse_batch` fits 2/B (B=3 D=1); `broadcast_scalar`
//! matches −2 × the mean (B=2 D=1); `fanout_overwrite` keeps the last term for dL/dW, dL/db
//! (B=3 Din=1 Dout=1) and dL/dh (B=1 Din=1 Dout=2); `float32` agrees to 6e-8 … 6e-7 of the
//! scale in every op; none of these fire on another program's answers.

pub mod law;
pub mod network;
pub mod patterns;
pub mod shape_factor;

use ndarray::{ArrayD, Zip};

use crate::catalogue::{Answer, Request};

/// One failing case, as evidence for a diagnosis.
#[derive(Debug, Clone, Copy)]
pub struct Evidence<'a> {
    /// The request the case sent, for the protocol's ops (op-specific hypotheses need it).
    pub request: Option<&'a Request>,
    /// The input whose gradient is wrong (`W`, `a`, `b1`, ...).
    pub input: &'a str,
    /// The reference answer for the whole request.
    pub expected: &'a Answer,
    /// The wrong gradient.
    pub actual: &'a ArrayD<f64>,
}

/// How closely a prediction must match the actual gradient to explain it.
pub const EXPLAIN_REL: f64 = 1e-7;

/// `actual` matches `predicted` to [`EXPLAIN_REL`] of their size (same shape, all finite).
pub fn explains(predicted: &ArrayD<f64>, actual: &ArrayD<f64>) -> bool {
    if predicted.shape() != actual.shape() || actual.iter().any(|v| !v.is_finite()) {
        return false;
    }
    let scale = predicted
        .iter()
        .chain(actual)
        .fold(0.0_f64, |m, v| m.max(v.abs()));
    let diff = Zip::from(predicted)
        .and(actual)
        .fold(0.0_f64, |m, p, a| m.max((p - a).abs()));
    diff <= EXPLAIN_REL * scale
}

/// Elements of `expected` smaller than this fraction of its largest are ≈ 0: they take no part
/// in estimating a ratio (they are still checked, against the array's scale).
pub const NEGLIGIBLE: f64 = 1e-6;

/// The small rationals a factor is recognised as, simplest first: ±{1, 2, ½, 3, ⅓, 4, ¼}
/// as (numerator, denominator).
pub const SMALL_RATIONALS: [(i64, i64); 14] = [
    (1, 1),
    (-1, 1),
    (2, 1),
    (-2, 1),
    (1, 2),
    (-1, 2),
    (3, 1),
    (-3, 1),
    (1, 3),
    (-1, 3),
    (4, 1),
    (-4, 1),
    (1, 4),
    (-1, 4),
];

/// What one case says about got / expected.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Ratio {
    /// Every element of got is r × expected, to [`EXPLAIN_REL`] of the array's scale.
    Of(f64),
    /// Both arrays are zero: any factor fits, the case says nothing.
    Undetermined,
}

/// The ratio r with `got = r · expected` in every element, or `None` when no single ratio
/// explains the case (shapes differ, a value is not finite, the elements disagree, or expected
/// is zero where got is not).
///
/// r is the least-squares ratio over the elements that are not ≈ 0 ([`NEGLIGIBLE`]); every
/// element must then agree with it to [`EXPLAIN_REL`] of the larger array's scale, so that
/// rounding in elements that cancel to almost nothing does not spoil a fit.
pub fn ratio(expected: &ArrayD<f64>, got: &ArrayD<f64>) -> Option<Ratio> {
    if expected.shape() != got.shape() || expected.iter().chain(got).any(|v| !v.is_finite()) {
        return None;
    }
    let e_scale = max_abs(expected);
    let g_scale = max_abs(got);
    if e_scale == 0.0 {
        return (g_scale == 0.0).then_some(Ratio::Undetermined);
    }
    let (eg, ee) = Zip::from(expected).and(got).fold((0.0, 0.0), |(eg, ee), &e, &g| {
        if e.abs() > NEGLIGIBLE * e_scale {
            (eg + e * g, ee + e * e)
        } else {
            (eg, ee)
        }
    });
    let r = eg / ee;
    let tolerance = EXPLAIN_REL * g_scale.max(r.abs() * e_scale);
    let agree = Zip::from(expected)
        .and(got)
        .all(|&e, &g| (g - r * e).abs() <= tolerance);
    (agree && r.is_finite()).then_some(Ratio::Of(r))
}

/// The simplest of [`SMALL_RATIONALS`] within [`EXPLAIN_REL`] (relative) of `value`.
pub fn small_rational(value: f64) -> Option<(i64, i64)> {
    SMALL_RATIONALS
        .into_iter()
        .find(|&(n, d)| close(value, n as f64 / d as f64))
}

/// `a` and `b` agree to [`EXPLAIN_REL`] of the larger.
pub fn close(a: f64, b: f64) -> bool {
    (a - b).abs() <= EXPLAIN_REL * a.abs().max(b.abs())
}

/// The largest absolute value of an array (0 for an empty one).
pub fn max_abs(a: &ArrayD<f64>) -> f64 {
    a.iter().fold(0.0_f64, |m, v| m.max(v.abs()))
}

/// A rational as a student reads it: `2`, `½`, `−⅓`, `−4`.
pub fn rational_text((n, d): (i64, i64)) -> String {
    let sign = if n < 0 { "−" } else { "" };
    let body = match (n.abs(), d) {
        (m, 1) => m.to_string(),
        (1, 2) => "½".to_owned(),
        (1, 3) => "⅓".to_owned(),
        (1, 4) => "¼".to_owned(),
        (m, d) => format!("{m}/{d}"),
    };
    format!("{sign}{body}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, IxDyn, arr2};

    fn a(rows: &[[f64; 3]]) -> ArrayD<f64> {
        arr2(rows).into_dyn()
    }

    #[test]
    fn a_scaled_array_has_its_factor_as_ratio() {
        let e = a(&[[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]]);
        assert_eq!(ratio(&e, &(&e * 0.125)), Some(Ratio::Of(0.125)));
        assert_eq!(ratio(&e, &(&e * -3.0)), Some(Ratio::Of(-3.0)));
    }

    #[test]
    fn one_element_off_means_no_ratio() {
        let e = a(&[[1.0, -2.0, 0.5], [3.0, 0.25, -1.0]]);
        let mut g = &e * 2.0;
        g[[1, 1]] += 1e-4;
        assert_eq!(ratio(&e, &g), None);
    }

    #[test]
    fn elements_near_zero_are_left_out_of_the_estimate_but_not_unchecked() {
        let e = a(&[[1.0, 1e-17, 0.5], [3.0, 0.25, -1.0]]);
        // Rounding noise in an element that cancels does not spoil the fit…
        let mut g = &e * 2.0;
        g[[0, 1]] = 5e-17;
        assert_eq!(ratio(&e, &g), Some(Ratio::Of(2.0)));
        // …but a real value where the right one is ≈ 0 does.
        g[[0, 1]] = 0.1;
        assert_eq!(ratio(&e, &g), None);
    }

    #[test]
    fn zero_expected_is_undetermined_only_when_got_is_zero_too() {
        let zero = ArrayD::<f64>::zeros(IxDyn(&[2, 3]));
        assert_eq!(ratio(&zero, &zero), Some(Ratio::Undetermined));
        let mut g = zero.clone();
        g[[0, 0]] = 1.0;
        assert_eq!(ratio(&zero, &g), None);
    }

    #[test]
    fn different_shapes_and_nan_have_no_ratio() {
        let e = a(&[[1.0, 2.0, 3.0], [4.0, 5.0, 6.0]]);
        assert_eq!(ratio(&e, &e.t().to_owned()), None);
        let mut g = e.clone();
        g[[0, 0]] = f64::NAN;
        assert_eq!(ratio(&e, &g), None);
    }

    #[test]
    fn small_rationals_are_recognised_simplest_first_and_others_are_not() {
        assert_eq!(small_rational(0.5 * (1.0 + 1e-9)), Some((1, 2)));
        assert_eq!(small_rational(-1.0 / 3.0), Some((-1, 3)));
        assert_eq!(small_rational(4.0), Some((4, 1)));
        assert_eq!(small_rational(5.0), None);
        assert_eq!(small_rational(2.0 + 1e-5), None);
        assert_eq!(small_rational(0.0), None);
    }

    #[test]
    fn rationals_read_as_a_student_writes_them() {
        assert_eq!(rational_text((2, 1)), "2");
        assert_eq!(rational_text((-1, 2)), "−½");
        assert_eq!(rational_text((1, 3)), "⅓");
        assert_eq!(rational_text((-4, 1)), "−4");
    }
}
