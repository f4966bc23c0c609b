//! Element-by-element comparison of a gradient against an oracle, with a verdict.
//!
//! Relative error is `|a − e| / max(|a|, |e|)` (0 when both are 0). Each element is
//! - **certified** when `|a − e| ≤ rel · max(|a|, |e|)`: agreement to `rel` relative;
//! - **excused** when it is not certified but `|a − e| ≤ abs`: the difference is below the noise
//!   floor of the oracle, so nothing can be concluded about it. An absolute tolerance may excuse,
//!   it never certifies;
//! - **skipped** where the oracle is blind (a finite difference across a kink);
//! - **failed** otherwise, and always when either value is NaN or infinite.
//!
//! An oracle that knows its own error (a finite-difference estimate e with a bound b on
//! `|e − true|`, see [`crate::oracle::richardson`]) is compared with [`Abs::Bound`]: the element
//! agrees when `|a − e| ≤ rel · max(|a|, |e|) + b`, and is certified when moreover the estimate
//! resolves its value (`b ≤ RESOLVED · |e|`), excused when it does not. A difference larger than
//! the bound fails whatever the value's size: the bound is no absolute tolerance, the estimate
//! itself resolves that difference.
//!
//! A comparison passes when nothing failed and at least one element was certified; with nothing
//! failed and nothing certified it is inconclusive.

use std::fmt;

use ndarray::{ArrayViewD, Dimension, IxDyn};

/// An estimate whose bound is at most this fraction of its value is resolved (converged).
pub const RESOLVED: f64 = 1e-4;

/// The absolute tolerance: one for all elements, or one per element (a noise floor).
#[derive(Debug, Clone)]
pub enum Abs<'a> {
    /// The same bound for every element.
    Uniform(f64),
    /// A bound per element, shaped like the expected array.
    PerElement(ArrayViewD<'a, f64>),
    /// The expected values' own error bounds, shaped like them (see the module docs).
    Bound(ArrayViewD<'a, f64>),
}

/// What counts as agreement.
#[derive(Debug, Clone)]
pub struct Tolerance<'a> {
    /// Relative tolerance: the only way to certify an element.
    pub rel: f64,
    /// Absolute tolerance: may excuse an element below the oracle's noise floor.
    pub abs: Abs<'a>,
    /// Elements to leave out (false = blind oracle), shaped like the expected array.
    pub compare: Option<ArrayViewD<'a, bool>>,
}

impl Tolerance<'_> {
    /// Relative `rel`, with an absolute floor `abs` for all elements.
    pub fn uniform(rel: f64, abs: f64) -> Tolerance<'static> {
        Tolerance {
            rel,
            abs: Abs::Uniform(abs),
            compare: None,
        }
    }
}

/// The three outcomes of a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// No element failed and at least one was certified.
    Pass,
    /// At least one element failed (or the shapes differ).
    Fail,
    /// Nothing failed, but nothing was certified either.
    Inconclusive,
}

/// One element, for reports.
#[derive(Debug, Clone, PartialEq)]
pub struct Element {
    /// Its index in the array.
    pub index: Vec<usize>,
    /// The oracle's value.
    pub expected: f64,
    /// The value under test.
    pub actual: f64,
    /// `|a − e| / max(|a|, |e|)`.
    pub rel_err: f64,
}

/// The outcome of comparing one array with its oracle.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// What was compared, e.g. `dL/dW1`.
    pub name: String,
    /// The expected shape.
    pub shape: Vec<usize>,
    /// The actual shape when it differs from the expected one; no element is compared then.
    pub actual_shape: Option<Vec<usize>>,
    /// Elements that agree to the relative tolerance.
    pub certified: usize,
    /// Elements whose difference lies under the absolute tolerance only.
    pub excused: usize,
    /// Elements the oracle could not judge.
    pub skipped: usize,
    /// Elements that disagree.
    pub failed: usize,
    /// The largest relative error over the certified and failed elements (NaN if any was NaN).
    pub max_rel_err: f64,
    /// The largest `|a − e|` over the compared elements (NaN if any was NaN).
    pub max_abs_err: f64,
    /// The largest `|e|` or `|a|` over the compared elements: the array's scale.
    pub scale: f64,
    /// The failing element furthest outside its tolerance, or with none failing, the certified
    /// element with the largest relative error.
    pub worst: Option<Element>,
}

/// `|a − e| / max(|a|, |e|)`, 0 when both are 0, NaN when either is not finite.
pub fn rel_err(expected: f64, actual: f64) -> f64 {
    if !(expected.is_finite() && actual.is_finite()) {
        return f64::NAN;
    }
    let scale = expected.abs().max(actual.abs());
    if scale == 0.0 {
        0.0
    } else {
        (actual - expected).abs() / scale
    }
}

/// The larger of two numbers, NaN if either is (`f64::max` drops a NaN).
pub fn nan_max(a: f64, b: f64) -> f64 {
    if a.is_nan() || b.is_nan() {
        f64::NAN
    } else {
        a.max(b)
    }
}

/// Compares `actual` with `expected` element by element under `tol`.
pub fn compare(
    name: &str,
    expected: ArrayViewD<'_, f64>,
    actual: ArrayViewD<'_, f64>,
    tol: &Tolerance<'_>,
) -> Comparison {
    let mut out = Comparison::empty(name, expected.shape());
    if actual.shape() != expected.shape() {
        out.actual_shape = Some(actual.shape().to_vec());
        return out;
    }
    // How far outside its tolerance the worst element is (failing elements rank above others).
    let mut worst_badness = f64::NEG_INFINITY;
    for ((index, &e), &a) in expected.indexed_iter().zip(actual.iter()) {
        if let Some(mask) = &tol.compare
            && !mask[&index]
        {
            out.skipped += 1;
            continue;
        }
        let judged = judge(e, a, tol, &index);
        out.record(&judged, &index, e, a, &mut worst_badness);
    }
    out
}

/// What one compared element is, with its rank for [`Comparison::worst`]: a certified element
/// by its relative error minus 1 (at most 0), a failed one by how many tolerances it is off
/// (above 1, infinite for NaN); excused ones are not ranked.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Class {
    Certified { badness: f64 },
    Excused,
    Failed { badness: f64 },
}

/// One compared element, judged.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Judged {
    class: Class,
    /// `|a − e|`, NaN when either is not finite.
    diff: f64,
    /// [`rel_err`].
    rel: f64,
    /// `max(|a|, |e|)`.
    scale: f64,
}

/// The expected value `e` at `index` against the actual `a`, under `tol`.
fn judge(e: f64, a: f64, tol: &Tolerance<'_>, index: &IxDyn) -> Judged {
    // ∞ − finite is ∞, and ∞ ≤ rel·∞ would certify it: a value that is not finite fails.
    let diff = if a.is_finite() && e.is_finite() {
        (a - e).abs()
    } else {
        f64::NAN
    };
    let rel = rel_err(e, a);
    let scale = e.abs().max(a.abs());
    let (certifies, abs) = allowance(tol, index, e, diff, scale);
    let class = if certifies {
        Class::Certified { badness: rel - 1.0 }
    } else if diff <= abs {
        Class::Excused
    } else {
        let badness = if diff.is_nan() {
            f64::INFINITY
        } else {
            diff / (tol.rel * scale).max(abs)
        };
        Class::Failed { badness }
    };
    Judged {
        class,
        diff,
        rel,
        scale,
    }
}

/// Whether a difference `diff` at `index` certifies, and the absolute tolerance that may excuse
/// it. An error bound widens the agreement; only a bound that resolves the value certifies.
fn allowance(tol: &Tolerance<'_>, index: &IxDyn, e: f64, diff: f64, scale: f64) -> (bool, f64) {
    match &tol.abs {
        Abs::Uniform(abs) => (diff <= tol.rel * scale, *abs),
        Abs::PerElement(per) => (diff <= tol.rel * scale, per[index]),
        Abs::Bound(bound) => {
            let b = bound[index];
            (
                certifies_with_bound(e, b, diff, tol.rel * scale),
                tol.rel * scale + b,
            )
        }
    }
}

/// An estimate `e` with the bound `b` certifies a difference `diff` from it when the difference
/// is within `allowed` (rel · scale) plus the bound and the bound resolves `e`.
fn certifies_with_bound(e: f64, b: f64, diff: f64, allowed: f64) -> bool {
    diff <= allowed + b && b <= RESOLVED * e.abs()
}

/// The value `actual` is certified, under `rel`, by an estimate `e` with the bound `b`: the rule
/// [`compare`] applies element by element with [`Abs::Bound`] (NaN or infinity never is).
pub fn certified_by(e: f64, b: f64, actual: f64, rel: f64) -> bool {
    let finite = actual.is_finite() && e.is_finite();
    finite && certifies_with_bound(e, b, (actual - e).abs(), rel * e.abs().max(actual.abs()))
}

impl Comparison {
    /// Nothing compared yet.
    fn empty(name: &str, shape: &[usize]) -> Comparison {
        Comparison {
            name: name.to_owned(),
            shape: shape.to_vec(),
            actual_shape: None,
            certified: 0,
            excused: 0,
            skipped: 0,
            failed: 0,
            max_rel_err: 0.0,
            max_abs_err: 0.0,
            scale: 0.0,
            worst: None,
        }
    }

    /// Counts one judged element (expected `e`, actual `a`), and keeps it as the worst when it
    /// ranks above `worst_badness`.
    fn record(&mut self, judged: &Judged, index: &IxDyn, e: f64, a: f64, worst_badness: &mut f64) {
        self.max_abs_err = nan_max(self.max_abs_err, judged.diff);
        self.scale = nan_max(self.scale, judged.scale);
        let badness = match judged.class {
            Class::Certified { badness } => {
                self.certified += 1;
                badness
            }
            Class::Excused => {
                self.excused += 1;
                return;
            }
            Class::Failed { badness } => {
                self.failed += 1;
                badness
            }
        };
        self.max_rel_err = nan_max(self.max_rel_err, judged.rel);
        if badness > *worst_badness {
            *worst_badness = badness;
            self.worst = Some(Element {
                index: index.slice().to_vec(),
                expected: e,
                actual: a,
                rel_err: judged.rel,
            });
        }
    }
}

impl Comparison {
    /// Pass, fail or inconclusive; see the module docs.
    pub fn verdict(&self) -> Verdict {
        if self.actual_shape.is_some() || self.failed > 0 {
            Verdict::Fail
        } else if self.certified > 0 {
            Verdict::Pass
        } else {
            Verdict::Inconclusive
        }
    }

    /// The array-wise disagreement `max |a − e| / max(|a|, |e|)` over the compared elements: how
    /// far apart the arrays are relative to their size (0 for two zero arrays, NaN with a NaN).
    pub fn array_rel_err(&self) -> f64 {
        if self.max_abs_err == 0.0 {
            0.0
        } else {
            self.max_abs_err / self.scale
        }
    }

    /// True unless the verdict is [`Verdict::Fail`].
    pub fn is_ok(&self) -> bool {
        self.verdict() != Verdict::Fail
    }
}

impl fmt::Display for Comparison {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(actual) = &self.actual_shape {
            return write!(
                f,
                "{}: FAIL: shape {:?}, expected {:?}",
                self.name, actual, self.shape
            );
        }
        let total = self.certified + self.excused + self.skipped + self.failed;
        let verdict = match self.verdict() {
            Verdict::Pass => "pass",
            Verdict::Fail => "FAIL",
            Verdict::Inconclusive => "inconclusive",
        };
        write!(
            f,
            "{} {:?}: {verdict}: {} of {total} certified, {} excused, {} not comparable, {} failed; max rel err {:.1e}",
            self.name, self.shape, self.certified, self.excused, self.skipped, self.failed, self.max_rel_err
        )?;
        if let (Some(w), true) = (&self.worst, self.failed > 0) {
            write!(
                f,
                "; worst at {:?}: expected {:.6e}, got {:.6e} (rel err {:.1e})",
                w.index, w.expected, w.actual, w.rel_err
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ndarray::{ArrayD, arr1};

    fn with_bounds(expected: &[f64], actual: &[f64], bounds: &[f64]) -> Comparison {
        let (e, a, b): (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>) = (
            arr1(expected).into_dyn(),
            arr1(actual).into_dyn(),
            arr1(bounds).into_dyn(),
        );
        let tol = Tolerance {
            rel: 1e-6,
            abs: Abs::Bound(b.view()),
            compare: None,
        };
        compare("g", e.view(), a.view(), &tol)
    }

    #[test]
    fn a_bound_certifies_only_where_it_resolves_the_value() {
        // Within rel + bound, and the bound is 1e-6 of the value: certified.
        let c = with_bounds(&[2.0], &[2.000_003], &[2e-6]);
        assert_eq!((c.certified, c.excused, c.failed), (1, 0, 0), "{c}");
        // Within the bound, but the bound is as large as the value: excused, not certified.
        let c = with_bounds(&[1e-12], &[0.0], &[1e-11]);
        assert_eq!(
            (c.certified, c.excused, c.verdict()),
            (0, 1, Verdict::Inconclusive),
            "{c}"
        );
    }

    #[test]
    fn a_difference_the_estimate_resolves_fails_however_small() {
        let c = with_bounds(&[3e-20], &[0.0], &[1e-22]);
        assert_eq!(c.verdict(), Verdict::Fail, "{c}");
        let c = with_bounds(&[1.0], &[f64::NAN], &[f64::INFINITY]);
        assert_eq!(c.verdict(), Verdict::Fail, "a NaN never passes: {c}");
    }

    #[test]
    fn an_infinity_never_passes_under_any_tolerance() {
        let (e, a) = (
            arr1(&[1.0, 2.0]).into_dyn(),
            arr1(&[f64::INFINITY, 2.0]).into_dyn(),
        );
        for abs in [0.0, f64::INFINITY] {
            let c = compare("g", e.view(), a.view(), &Tolerance::uniform(1e-8, abs));
            assert_eq!((c.certified, c.excused, c.failed), (1, 0, 1), "{c}");
        }
        let both = arr1(&[f64::NEG_INFINITY, 2.0]).into_dyn();
        let c = compare("g", both.view(), both.view(), &Tolerance::uniform(1e-8, 0.0));
        assert_eq!(c.verdict(), Verdict::Fail, "{c}");
    }
}
