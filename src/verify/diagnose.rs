//! Diagnosis: naming the bug behind a wrong gradient when its pattern is recognisable.
//!
//! Each hypothesis predicts what a particular bug would return for a case (the right gradient
//! negated, scaled, transposed, zeroed; the upstream gradient ignored; and, from the op's own
//! file in [`super::ops`], the bugs particular to it: the relu mask missing, the bias taken from
//! one data point, ...).
//! A diagnosis is accepted only when its prediction matches the actual gradient, to
//! [`EXPLAIN_REL`], in **every** failing case: a constant factor must be the same constant
//! throughout, a mean over the batch must be 1/B at every B.

use ndarray::{ArrayD, Axis, Zip};

use super::hypotheses::law::Law;
use super::hypotheses::small_rational;
pub use super::hypotheses::{EXPLAIN_REL, Evidence, explains};
use super::ops::{self, VerifiedOp};
use crate::catalogue::{Answer, Request};

pub use super::report::Diagnosis;

/// The first diagnosis, in order of specificity, that explains every failing case.
pub fn diagnose(evidence: &[Evidence<'_>]) -> Option<Diagnosis> {
    let (first, rest) = evidence.split_first()?;
    candidates(first)
        .into_iter()
        .find(|d| rest.iter().all(|e| candidates(e).contains(d)))
}

/// Every diagnosis that explains this one case, most specific first.
fn candidates(e: &Evidence<'_>) -> Vec<Diagnosis> {
    let Some(expected) = e.expected.get(e.input) else {
        return Vec::new();
    };
    let actual = e.actual;
    let mut found = Vec::new();
    let mut consider = |d: Diagnosis, predicted: Option<ArrayD<f64>>| {
        if predicted.is_some_and(|p| explains(&p, actual)) {
            found.push(d);
        }
    };
    let nonzero = expected.iter().any(|v| *v != 0.0);
    if nonzero {
        consider(Diagnosis::AllZero, Some(ArrayD::zeros(expected.raw_dim())));
        consider(Diagnosis::SignFlipped, Some(expected.mapv(|v| -v)));
    }
    if let Some(request) = e.request {
        consider(
            Diagnosis::UpstreamIgnored,
            upstream_of_ones(request).and_then(|a| a.get(e.input).cloned()),
        );
        for (d, p) in ops::op(request.kind()).hypotheses(request, e) {
            consider(d, Some(p));
        }
    }
    consider(Diagnosis::Transposed, transpose(expected));
    if nonzero {
        if let Some(request) = e.request {
            consider(Diagnosis::MeanOverBatch, Some(expected / request.batch() as f64));
            for (d, divisor) in ops::op(request.kind()).divisors(request) {
                consider(d, Some(expected / divisor));
            }
        }
        if let Some(c) = fitted_factor(expected, actual) {
            let meaning = e.request.and_then(|r| constant_meaning(ops::op(r.kind()), c));
            consider(Diagnosis::Factor { factor: c, meaning }, Some(expected * c));
        }
    }
    for last in [true, false] {
        consider(
            Diagnosis::RowZero { last },
            lane_zeroed(expected, actual, Axis(0), last),
        );
        consider(
            Diagnosis::ColumnZero { last },
            lane_zeroed(expected, actual, Axis(1), last),
        );
    }
    found
}

/// The least-squares factor c of `actual ≈ c · expected`, rounded to 6 significant digits so
/// that one constant can be recognised across cases; `None` for c ≈ 1 or c ≈ −1 (the right
/// gradient, and a flipped sign, are not "a factor").
fn fitted_factor(expected: &ArrayD<f64>, actual: &ArrayD<f64>) -> Option<f64> {
    if expected.shape() != actual.shape() {
        return None;
    }
    let ee: f64 = expected.iter().map(|v| v * v).sum();
    let ae: f64 = Zip::from(expected).and(actual).fold(0.0, |s, e, a| s + e * a);
    let c = ae / ee;
    if !c.is_finite() || c == 0.0 || (c.abs() - 1.0).abs() < 1e-6 {
        return None;
    }
    let digits = 10f64.powi(5 - c.abs().log10().floor() as i32);
    Some((c * digits).round() / digits)
}

/// What the constant factor `c` means for `op`, where it is a small rational the op has a
/// meaning for (its sign left to the factor itself).
fn constant_meaning(op: &dyn VerifiedOp, c: f64) -> Option<String> {
    let magnitude = small_rational(c.abs())?;
    op.factor_meaning(&Law::Constant(magnitude))
}

/// The transpose of a matrix, `None` for other ranks.
fn transpose(a: &ArrayD<f64>) -> Option<ArrayD<f64>> {
    (a.ndim() == 2).then(|| a.t().as_standard_layout().into_owned())
}

/// `expected` with one lane (a row for `Axis(0)`, a column for `Axis(1)`) set to zero, where
/// that lane is exactly the one `actual` zeroes: the last one, or (`last = false`) another one.
fn lane_zeroed(expected: &ArrayD<f64>, actual: &ArrayD<f64>, axis: Axis, last: bool) -> Option<ArrayD<f64>> {
    if expected.ndim() != 2 || expected.shape() != actual.shape() {
        return None;
    }
    let zero_lanes: Vec<usize> = (0..actual.len_of(axis))
        .filter(|&i| actual.index_axis(axis, i).iter().all(|v| *v == 0.0))
        .filter(|&i| expected.index_axis(axis, i).iter().any(|v| *v != 0.0))
        .collect();
    let [lane] = zero_lanes[..] else { return None };
    if (lane == expected.len_of(axis) - 1) != last {
        return None;
    }
    let mut predicted = expected.clone();
    predicted.index_axis_mut(axis, lane).fill(0.0);
    Some(predicted)
}

/// The reference answer with the upstream gradient replaced by ones (none for the network, nor
/// where it is all ones already).
fn upstream_of_ones(request: &Request) -> Option<Answer> {
    let op = ops::op(request.kind());
    let ones = request.with_upstream(1.0).filter(|ones| ones != request)?;
    op.reference_answer(&ones).ok()
}
