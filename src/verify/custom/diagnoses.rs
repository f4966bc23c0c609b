//! The diagnoses of a custom op's wrong gradient that need the op itself, beside the general ones
//! the findings already sought (sign, factor, transposed, zero, a row or column zero): the
//! gradient is **another input's** (it matches that input's finite-difference gradient), or the
//! backward **ignores the upstream gradient** (called again with another random cotangent, it
//! returns the same gradient while the right one is not zero). As for the built-in ops, a
//! diagnosis is kept only when it explains every failing case.

use ndarray::ArrayD;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;

use super::case::Outcome;
use super::closures::Closures;
use super::options::Options;
use crate::random;
use crate::verify::diagnose::explains;
use crate::verify::{Diagnosis, Finding, Problem, Subject, same};

/// Keeps the diagnoses' random streams apart from the cases' and the shrinking's.
const DIAGNOSIS_STREAM: u64 = 1 << 41;

/// Adds a diagnosis to each wrong-valued gradient finding that has none, where one fits.
pub(super) fn more(
    findings: &mut [Finding],
    outcomes: &[Outcome],
    op: &Closures<'_>,
    options: &Options,
    seed: u64,
) {
    for finding in findings.iter_mut() {
        let Subject::Gradient(name) = &finding.what else {
            continue;
        };
        let Some(k) = options.compared().find(|&k| options.name(k) == *name) else {
            continue;
        };
        if finding.diagnosis.is_some() || finding.problem != Problem::WrongValues {
            continue;
        }
        let failing: Vec<(usize, &Outcome)> = outcomes
            .iter()
            .enumerate()
            .filter(|(_, o)| o.record.problem(&finding.what) == Some(Problem::WrongValues))
            .collect();
        if failing.is_empty() {
            continue;
        }
        let actual = |o: &Outcome| o.record.outcome.as_ref().ok()?.actual.get(name).cloned();
        let swapped = options.compared().filter(|&j| j != k).find(|&j| {
            failing.iter().all(|(_, o)| {
                let other = o.record.expected.get(&options.name(j));
                matches!((other, actual(o)), (Some(e), Some(a)) if explains(e, &a))
            })
        });
        finding.diagnosis = match swapped {
            Some(j) => Some(Diagnosis::SwappedWith(options.name(j))),
            None => failing
                .iter()
                .all(|&(index, o)| ignores_upstream(op, o, (k, name), actual(o), seed, index))
                .then_some(Diagnosis::UpstreamIgnored),
        };
    }
}

/// Called with another random cotangent, the backward gives input `k` the same gradient, where
/// the right gradient is not zero.
fn ignores_upstream(
    op: &Closures<'_>,
    o: &Outcome,
    (k, name): (usize, &str),
    actual: Option<ArrayD<f64>>,
    seed: u64,
    index: usize,
) -> bool {
    let (Some(actual), Some(expected)) = (actual, o.record.expected.get(name)) else {
        return false;
    };
    if o.cotangents.is_empty() || expected.iter().all(|v| *v == 0.0) {
        return false;
    }
    let mut rng = random::case_rng(seed, DIAGNOSIS_STREAM + index as u64);
    let other: Vec<ArrayD<f64>> = o
        .cotangents
        .iter()
        .map(|v| ArrayD::random_using(v.raw_dim(), StandardNormal, &mut rng))
        .collect();
    op.vjp(&o.inputs, &other).is_ok_and(|g| same(&g[k], &actual))
}
