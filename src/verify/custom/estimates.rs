//! Finite-difference estimates against the op's answers: the comparison under `rtol`, the
//! estimates' bounds and `atol`, estimates shaped as arrays, and the term-wise sample of two
//! forwards.

use ndarray::{ArrayD, IxDyn, Zip};

use super::options::Options;
use crate::compare::{self, Abs, Comparison, Tolerance};
use crate::oracle::finite_diff::termwise_difference;
use crate::oracle::richardson::{Estimate, Sample};

/// Compares `actual` with finite-difference `values` (error `bounds`, `comparable` where the
/// sequence converged) under `rtol` and the estimates' bounds; an element outside them but within
/// `atol` more is excused (left out of the comparison and counted as excused).
pub(super) fn against_estimates(
    name: &str,
    values: &ArrayD<f64>,
    bounds: &ArrayD<f64>,
    comparable: &ArrayD<bool>,
    actual: &ArrayD<f64>,
    options: &Options,
) -> Comparison {
    let mut mask = comparable.clone();
    let mut by_atol = 0;
    if options.atol > 0.0 && actual.shape() == values.shape() {
        Zip::from(&mut mask)
            .and(values)
            .and(bounds)
            .and(actual)
            .for_each(|m, &e, &b, &a| {
                let (diff, scale) = ((a - e).abs(), a.abs().max(e.abs()));
                let within = options.rtol * scale + b;
                if *m && diff > within && diff <= within + options.atol {
                    *m = false;
                    by_atol += 1;
                }
            });
    }
    let tolerance = Tolerance {
        rel: options.rtol,
        abs: Abs::Bound(bounds.view()),
        compare: Some(mask.view()),
    };
    let mut comparison = compare::compare(name, values.view(), actual.view(), &tolerance);
    comparison.skipped -= by_atol;
    comparison.excused += by_atol;
    comparison
}

/// Estimates as three arrays of `shape`: values, bounds, comparable.
pub(super) fn shaped(shape: &[usize], estimates: &[Estimate]) -> (ArrayD<f64>, ArrayD<f64>, ArrayD<bool>) {
    let make =
        |v: Vec<_>| ArrayD::from_shape_vec(IxDyn(shape), v).expect("internal: one estimate per element");
    (
        make(estimates.iter().map(|e| e.value).collect()),
        make(estimates.iter().map(|e| e.error).collect()),
        ArrayD::from_shape_vec(IxDyn(shape), estimates.iter().map(Estimate::comparable).collect())
            .expect("internal: one estimate per element"),
    )
}

/// The sample `Σ_outputs Σⱼ vⱼ (upⱼ − downⱼ)`, term by term.
pub(super) fn contracted(up: &[ArrayD<f64>], down: &[ArrayD<f64>], cotangents: &[ArrayD<f64>]) -> Sample {
    let (difference, magnitude) = up
        .iter()
        .zip(down)
        .zip(cotangents)
        .map(|((u, d), v)| termwise_difference(u.view(), d.view(), v.view()))
        .fold((0.0, 0.0), |(s, m), (ds, dm)| (s + ds, m + dm));
    Sample {
        difference,
        magnitude,
        smooth: true,
    }
}
