//! Finite-difference estimates against the op's answers: the comparison under `rtol`, the
//! estimates' bounds and `atol`, what is wrong with an answer, estimates shaped as arrays, the
//! term-wise sample of two forwards, and derivatives along a line `x + t·d` of every element of
//! some arrays at once (the forward mode's `J u`, the second order's `d/dt VJP`).

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use ndarray::{ArrayD, IxDyn, Zip};

use super::domain;
use super::options::Options;
use super::steps::StepDifference;
use crate::compare::{self, Abs, Comparison, Tolerance};
use crate::oracle::richardson::{self, Estimate, Sample};
use crate::verify::Problem;

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

/// The sample `Σ_outputs Σⱼ vⱼ (upⱼ − downⱼ)`, term by term ([`StepDifference::between`]).
pub(super) fn contracted(up: &[ArrayD<f64>], down: &[ArrayD<f64>], cotangents: &[ArrayD<f64>]) -> Sample {
    let StepDifference {
        difference,
        magnitude,
    } = StepDifference::between(up, down, cotangents);
    Sample {
        difference,
        magnitude,
        smooth: true,
    }
}

/// What is wrong with `actual`, compared as `comparison` with an oracle of `expected_shape`: its
/// shape, a value that is not finite, or its values; nothing when it agrees.
pub(super) fn problem(
    actual: &ArrayD<f64>,
    expected_shape: &[usize],
    comparison: &Comparison,
) -> Option<Problem> {
    if actual.shape() != expected_shape {
        Some(Problem::WrongShape {
            got: actual.shape().to_vec(),
            expected: expected_shape.to_vec(),
        })
    } else if actual.iter().any(|v| !v.is_finite()) {
        Some(Problem::NonFinite)
    } else {
        (!comparison.is_ok()).then_some(Problem::WrongValues)
    }
}

/// The finite-difference `d/dt` at t = 0 of every element of the arrays `value(x + t·d)` (the
/// first `lengths[k]` elements of array k, flattened in row-major order; 0 for an array not
/// wanted): one Richardson sequence per element, each t evaluated once for all of them, the
/// steps inside every input's domain along `d`.
pub(super) fn along_line(
    inputs: &[ArrayD<f64>],
    directions: &[ArrayD<f64>],
    options: &Options,
    lengths: &[usize],
    mut value: impl FnMut(&[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, String>,
) -> Result<Vec<Vec<Estimate>>, String> {
    let room = (inputs.iter().zip(directions).zip(&options.domains))
        .flat_map(|((x, d), domain)| x.iter().zip(d).map(move |(&x, &d)| domain.room(x) / d.abs()))
        .fold(f64::INFINITY, f64::min);
    let steps = domain::steps(options.eps, 0.0, room);
    // The arrays at each t, flattened in row-major order.
    let mut known: HashMap<u64, Vec<Vec<f64>>> = HashMap::new();
    let mut at = |t: f64, k: usize, flat: usize| -> Result<f64, String> {
        let values = match known.entry(t.to_bits()) {
            Entry::Occupied(known) => known.into_mut(),
            Entry::Vacant(new) => {
                let point: Vec<ArrayD<f64>> =
                    inputs.iter().zip(directions).map(|(x, d)| x + &(d * t)).collect();
                let arrays = value(&point)?;
                new.insert(arrays.iter().map(|a| a.iter().copied().collect()).collect())
            }
        };
        Ok(values[k][flat])
    };
    let mut all = Vec::with_capacity(lengths.len());
    for (k, &length) in lengths.iter().enumerate() {
        let mut estimates = Vec::with_capacity(length);
        for flat in 0..length {
            estimates.push(richardson::estimate(0.0, steps, |plus, minus| {
                let (up, down) = (at(plus, k, flat)?, at(minus, k, flat)?);
                // As in the term-wise difference: an unchanged value adds nothing, not even rounding.
                let magnitude = if up == down { 0.0 } else { up.abs() + down.abs() };
                Ok::<_, String>(Sample {
                    difference: up - down,
                    magnitude,
                    smooth: true,
                })
            })?);
        }
        all.push(estimates);
    }
    Ok(all)
}
