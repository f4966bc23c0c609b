//! Linearity in the cotangent: a VJP is `v ↦ Jᵀ v` at fixed inputs, so for any cotangents u, v
//! and numbers α, β
//!
//! ```text
//! VJP(αu + βv) = α·VJP(u) + β·VJP(v).
//! ```
//!
//! A backward that squares, clips or takes the absolute value of the upstream gradient (or adds
//! a term that does not carry it) breaks this, and the zero-upstream probe sees only the last.
//! The finite-difference comparison may see such a bug too, as wrong values, but not say what
//! it is, and misses a clip above the cotangents' size; this test needs no finite difference.
//!
//! **The test.** Per case, u is the case's own cotangent and `VJP(u)` the gradient already
//! compared; v is a fresh standard normal cotangent (one per output), and `α, β = ±e^z` with z
//! uniform in [−2, 2] and random signs (so the combination reaches several times the
//! cotangents' size, where a clip shows). Two more calls give `VJP(v)` and `VJP(w)`,
//! `w = αu + βv`. Element i of input k's gradient breaks linearity when
//!
//! ```text
//! |VJP(w)ᵢ − (α·VJP(u)ᵢ + β·VJP(v)ᵢ)| > rtol · sᵢ + floor · S,
//! sᵢ = |α|·|VJP(u)ᵢ| + |β|·|VJP(v)ᵢ| + |VJP(w)ᵢ|,   S = maxᵢ sᵢ.
//! ```
//!
//! **Why this tolerance.** The comparison with finite differences accepts each call to `rtol`
//! relative; three calls each within `rtol` of the exact `Jᵀ(·)` differ, after the combination,
//! by at most `rtol · sᵢ` (to first order), whatever cancels in `α·VJP(u)ᵢ + β·VJP(v)ᵢ`: the
//! tolerance is relative to the magnitudes combined, never to the combination, so that an op
//! whose gradient cancels (a difference of large terms) raises no false alarm. The floor covers
//! the rounding of the backward's own sums, which no element's size bounds (an element that is
//! small by cancellation inside `Σⱼ Jⱼᵢ wⱼ`): [`FLOOR`] of the gradient's largest magnitude, or
//! `nondet_tol` of it where the backward is allowed that much noise between calls. A backward
//! already found nondeterministic in a case is not tested in it (its noise is no evidence), nor
//! a gradient of the wrong shape or with NaN (already reported as such).
//!
//! A failure is a finding of its own on that gradient ([`Problem::NonLinearInUpstream`]), with
//! the diagnosis `upstream_nonlinear` and the worst elements (expected `α·VJP(u) + β·VJP(v)`,
//! got `VJP(w)`); it fails the verdict, as any wrong gradient does. A backward that fails on the
//! new cotangents fails the call, as on any other.

use ndarray::{ArrayD, Dimension, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand::Rng;
use ndarray_rand::rand_distr::StandardNormal;

use super::case::Outcome;
use super::closures::Closures;
use super::options::Options;
use crate::compare::{Element, rel_err};
use crate::random;
use crate::verify::{Diagnosis, Fault, Finding, Problem, Subject};

/// Keeps the linearity test's random stream apart from the cases', the shrinking's and the
/// diagnoses'.
const LINEARITY_STREAM: u64 = 1 << 42;
/// The floor, relative to the gradient's largest magnitude: the rounding of sums of up to about
/// a million terms (2²⁰ ε ≈ 2.3e-10).
pub const FLOOR: f64 = (1u64 << 20) as f64 * f64::EPSILON;
/// `|α|` and `|β|` are `e^z` with z uniform in `[−Z, Z]`.
const Z: f64 = 2.0;

/// One gradient's break of linearity in one case: its worst elements (furthest outside the
/// tolerance), at most three.
type Break = Vec<Element>;

/// The findings of the linearity test over every answered case: one per gradient that broke it,
/// unless `found` already says its upstream gradient is ignored (a constant is not linear
/// either; that diagnosis says more), and one for the call where the backward failed on the
/// test's cotangents.
pub(super) fn findings(
    found: &[Finding],
    outcomes: &[Outcome],
    op: &Closures<'_>,
    options: &Options,
    seed: u64,
) -> Vec<Finding> {
    let names: Vec<String> = options.compared().map(|k| options.name(k)).collect();
    let ignored = |name: &str| {
        found.iter().any(|f| {
            f.what == Subject::Gradient(name.to_owned()) && f.diagnosis == Some(Diagnosis::UpstreamIgnored)
        })
    };
    // Per compared input: in how many cases it broke, and the first case's shape and break.
    let mut broken: Vec<(usize, Option<(String, Break)>)> = names.iter().map(|_| (0, None)).collect();
    let mut faults: Vec<(String, String)> = Vec::new();
    for (index, outcome) in outcomes.iter().enumerate() {
        let mut rng = random::case_rng(seed, LINEARITY_STREAM + index as u64);
        match test_case(outcome, op, options, &mut rng) {
            Ok(breaks) => {
                for (slot, found) in broken.iter_mut().zip(breaks) {
                    if let Some(found) = found {
                        slot.0 += 1;
                        slot.1.get_or_insert((outcome.record.shape.clone(), found));
                    }
                }
            }
            Err(message) => faults.push((outcome.record.shape.clone(), message)),
        }
    }
    let mut findings: Vec<Finding> = names
        .iter()
        .zip(broken)
        .filter(|(name, _)| !ignored(name))
        .filter_map(|(name, (failed, first))| {
            let (shape, first) = first?;
            Some(Finding {
                what: Subject::Gradient(name.clone()),
                problem: Problem::NonLinearInUpstream,
                failed,
                smallest_shape: shape,
                worst: first,
                values: None,
                diagnosis: Some(Diagnosis::UpstreamNonlinear),
                only_batch_of_one: false,
            })
        })
        .collect();
    if let Some((shape, message)) = faults.first() {
        findings.push(Finding {
            what: Subject::Call,
            problem: Problem::Fault(Fault::Failed(format!(
                "{message} (a cotangent of the linearity test)"
            ))),
            failed: faults.len(),
            smallest_shape: shape.clone(),
            worst: Vec::new(),
            values: None,
            diagnosis: None,
            only_batch_of_one: false,
        });
    }
    findings
}

/// Per compared input, its break of linearity in this case, if any; an error when a call failed.
/// A case whose call failed, or with no cotangents, is not tested.
fn test_case(
    outcome: &Outcome,
    op: &Closures<'_>,
    options: &Options,
    rng: &mut rand_chacha::ChaCha8Rng,
) -> Result<Vec<Option<Break>>, String> {
    let nothing = || options.compared().map(|_| None).collect();
    let Ok(checked) = &outcome.record.outcome else {
        return Ok(nothing());
    };
    let u = &outcome.cotangents;
    if u.is_empty() {
        return Ok(nothing());
    }
    let v: Vec<ArrayD<f64>> = u
        .iter()
        .map(|u| ArrayD::random_using(u.raw_dim(), StandardNormal, &mut *rng))
        .collect();
    let mut coefficient = || {
        let magnitude = rng.random_range(-Z..=Z).exp();
        if rng.random_bool(0.5) {
            magnitude
        } else {
            -magnitude
        }
    };
    let (alpha, beta) = (coefficient(), coefficient());
    let w: Vec<ArrayD<f64>> = u.iter().zip(&v).map(|(u, v)| u * alpha + v * beta).collect();
    let at_v = op.vjp(&outcome.inputs, &v)?;
    let at_w = op.vjp(&outcome.inputs, &w)?;
    Ok(options
        .compared()
        .map(|k| {
            let name = options.name(k);
            let at_u = checked.actual.get(&name)?;
            let shape = outcome.inputs[k].shape();
            let usable = |g: &ArrayD<f64>| g.shape() == shape && g.iter().all(|x| x.is_finite());
            let noisy = checked.nondeterministic.contains(&name);
            if noisy || !(usable(at_u) && usable(&at_v[k]) && usable(&at_w[k])) {
                return None;
            }
            let floor = FLOOR.max(options.nondet_tol.unwrap_or(0.0));
            broken_elements((alpha, at_u), (beta, &at_v[k]), &at_w[k], options.rtol, floor)
        })
        .collect())
}

/// The elements of `at_w` outside `rtol · sᵢ + floor · S` of `α·at_u + β·at_v` (see the module
/// docs), or `None` where there are none.
fn broken_elements(
    (alpha, at_u): (f64, &ArrayD<f64>),
    (beta, at_v): (f64, &ArrayD<f64>),
    at_w: &ArrayD<f64>,
    rtol: f64,
    floor: f64,
) -> Option<Break> {
    let size = |a: f64, b: f64, c: f64| alpha.abs() * a.abs() + beta.abs() * b.abs() + c.abs();
    let largest = Zip::from(at_u)
        .and(at_v)
        .and(at_w)
        .fold(0.0_f64, |m, &a, &b, &c| m.max(size(a, b, c)));
    // (excess over the tolerance, element)
    let mut outside: Vec<(f64, Element)> = Vec::new();
    for ((index, &a), (&b, &c)) in at_u.indexed_iter().zip(at_v.iter().zip(at_w)) {
        let expected = alpha * a + beta * b;
        let tolerance = rtol * size(a, b, c) + floor * largest;
        let excess = (c - expected).abs() - tolerance;
        if excess > 0.0 {
            let element = Element {
                index: index.slice().to_vec(),
                expected,
                actual: c,
                rel_err: rel_err(expected, c),
            };
            outside.push((excess, element));
        }
    }
    if outside.is_empty() {
        return None;
    }
    outside.sort_by(|x, y| y.0.total_cmp(&x.0));
    Some(outside.into_iter().take(3).map(|(_, e)| e).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{IxDyn, arr1};

    fn dyn1(values: &[f64]) -> ArrayD<f64> {
        arr1(values).into_dyn()
    }

    #[test]
    fn a_cancelling_combination_is_judged_against_the_magnitudes_combined() {
        // α·1e8 + β·(−1e8·α/β) cancels to 0; a difference of 1e-2 is 1e-10 of the magnitudes.
        let (alpha, beta) = (2.0, -0.5);
        let u = dyn1(&[1e8, 1.0]);
        let v = dyn1(&[4e8, 1.0]);
        let w = dyn1(&[1e-2, 1.5]);
        assert!(broken_elements((alpha, &u), (beta, &v), &w, 1e-6, FLOOR).is_none());
        // A squared upstream: far outside.
        let w = dyn1(&[1e-2, 100.0]);
        let found = broken_elements((alpha, &u), (beta, &v), &w, 1e-6, FLOOR).expect("broken");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].index, vec![1]);
        assert_eq!(found[0].expected, 1.5);
    }

    #[test]
    fn the_floor_is_relative_to_the_largest_magnitude_and_zero_gradients_must_stay_zero() {
        let zero = ArrayD::zeros(IxDyn(&[2]));
        assert!(broken_elements((1.0, &zero), (1.0, &zero), &zero, 1e-6, FLOOR).is_none());
        assert!(broken_elements((1.0, &zero), (1.0, &zero), &dyn1(&[0.0, 1e-300]), 1e-6, FLOOR).is_some());
        // Element 1 is off by 1e-11 of the largest magnitude: within the floor, though not
        // within rtol of its own size (zero).
        let u = dyn1(&[1.0, 0.0]);
        let w = dyn1(&[2.0, 1e-11]);
        assert!(broken_elements((1.0, &u), (1.0, &u), &w, 1e-6, FLOOR).is_none());
        let w = dyn1(&[2.0, 1e-8]);
        assert!(broken_elements((1.0, &u), (1.0, &u), &w, 1e-6, FLOOR).is_some());
    }
}
