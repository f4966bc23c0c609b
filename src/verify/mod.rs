//! The verifier: someone else's backward against the reference, case by case.
//!
//! A [`Backward`] is anything that answers a protocol [`Request`] with gradients: a student's Rust
//! functions ([`check`]), a program in another language over JSON Lines ([`exec`]). For each op
//! [`verify`] draws cases (planned shapes first, then random; random values and random upstream
//! gradients), and for each case
//! 1. compares every gradient with the reference VJP (relative `rtol`, [`VERIFY_REL`] unless
//!    [`Config::rtol`] says otherwise; an absolute floor, the larger of [`VERIFY_FLOOR`] × the
//!    gradient's largest element and [`Config::atol`] (0 by default), may only excuse), and
//!    reports wrong shapes and NaN/infinity;
//! 2. calls again with the same input and flags any difference (a stateful or random backward);
//! 3. calls with a zero upstream gradient and flags any non-zero gradient.
//!
//! Each problem is then shrunk to the smallest shape that still shows it, and [`diagnose`]d.
//! At relu's kink (a = 0) both one-sided derivatives are valid subgradients: Θ(0) = 1 passes,
//! with a note.
//!
//! A library author's own op, with no reference to compare with, is checked against finite
//! differences of its own forward instead ([`custom`]).
//!
//! What each op brings (its cases, reference answer, bugs of its own, part of the protocol) is
//! in its file under [`ops`]; what was found is a [`Report`], data apart from its renderers
//! ([`report`]).

pub mod cases;
pub mod check;
pub mod custom;
pub mod diagnose;
pub mod exec;
pub mod explain;
mod findings;
pub mod hypotheses;
pub mod ops;
pub mod program_ops;
mod recognise;
mod record;
pub mod report;
pub mod subject;

pub use diagnose::Diagnosis;
pub use report::{Fault, Finding, Inconclusive, Problem, Report, Subject};
pub use subject::Backward;

use findings::{findings, same_kind};
use record::{CaseRecord, Checked};
use report::gradient_label;

use std::ops::Range;

use ndarray::{ArrayD, Zip};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

use crate::catalogue::{Answer, OpKind, Request};
use crate::compare::{self, Comparison, Tolerance};
use crate::random;

/// Relative tolerance against the reference: both are exact, so only rounding separates them.
pub const VERIFY_REL: f64 = 1e-8;
/// Absolute floor, as a fraction of the gradient's largest element: excuses rounding in elements
/// that cancel to almost nothing.
pub const VERIFY_FLOOR: f64 = 1e-12;
/// Most shrinking attempts per problem.
const SHRINK_ATTEMPTS: u64 = 64;
/// Keeps the shrinking's random streams apart from the cases'.
const SHRINK_STREAM: u64 = 1 << 40;

/// How many cases, from which seed, under which tolerances:
/// `Config::default().cases(100).seed(3).rtol(1e-3).atol(1e-5)`.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct Config {
    /// Random cases per op (the planned shapes come first); 40 by default.
    pub cases: usize,
    /// The seed of every case's random stream; 0 by default.
    pub seed: u64,
    /// The relative tolerance, which certifies: |got − expected| ≤ rtol · |expected| passes;
    /// [`VERIFY_REL`] (1e-8) by default.
    pub rtol: f64,
    /// An absolute tolerance, which may only excuse (an element within it passes, whatever its
    /// relative error), beside the floor of [`VERIFY_FLOOR`] × the gradient's largest element;
    /// 0 by default.
    pub atol: f64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            cases: 40,
            seed: 0,
            rtol: VERIFY_REL,
            atol: 0.0,
        }
    }
}

impl Config {
    /// With `cases` random cases per op.
    pub fn cases(self, cases: usize) -> Config {
        Config { cases, ..self }
    }

    /// With every case drawn from `seed`.
    pub fn seed(self, seed: u64) -> Config {
        Config { seed, ..self }
    }

    /// With the relative tolerance `rtol` (float32 code needs 1e-3).
    pub fn rtol(self, rtol: f64) -> Config {
        Config { rtol, ..self }
    }

    /// With the absolute tolerance `atol` (float32 code needs 1e-5).
    pub fn atol(self, atol: f64) -> Config {
        Config { atol, ..self }
    }
}

/// Verifies `subject`'s backward of `kind` on cases `0..config.cases`.
pub fn verify(kind: OpKind, subject: &mut dyn Backward, config: Config) -> Report {
    let records = run_cases(kind, subject, config, 0..config.cases);
    report(kind, subject, config, records)
}

/// Verifies in parallel on the current rayon pool: each worker makes its own subject with `make`
/// (its own process, for a program) and takes a contiguous part of the cases `range`; the
/// records are put back in case order, so the report is the same for any number of threads.
pub fn verify_parallel<S, M>(kind: OpKind, make: M, config: Config, range: Range<usize>) -> Report
where
    S: Backward,
    M: Fn() -> S + Sync,
{
    let workers = rayon::current_num_threads().max(1);
    let chunk = range.len().div_ceil(workers).max(1);
    let starts: Vec<usize> = range.clone().step_by(chunk).collect();
    let parts: Vec<Option<Vec<CaseRecord>>> = starts
        .into_par_iter()
        .map(|start| {
            let mut subject = make();
            run_cases(kind, &mut subject, config, start..(start + chunk).min(range.end))
        })
        .collect();
    let records = parts.into_iter().collect::<Option<Vec<_>>>().map(|p| p.concat());
    let mut subject = make();
    let config = config.cases(range.len());
    report(kind, &mut subject, config, records)
}

/// Runs the cases `indices`; `None` as soon as the subject says the op is not implemented.
fn run_cases(
    kind: OpKind,
    subject: &mut dyn Backward,
    config: Config,
    indices: Range<usize>,
) -> Option<Vec<CaseRecord>> {
    indices
        .map(|index| {
            let mut rng = random::case_rng(config.seed, index as u64);
            let dims = cases::dims(kind, index, &mut rng);
            let request = cases::request(kind, &dims, &mut rng);
            check_case(subject, dims, request, config)
        })
        .collect()
}

/// The report on a set of case records (`None`: not implemented), shrinking with `subject`.
fn report(
    kind: OpKind,
    subject: &mut dyn Backward,
    config: Config,
    records: Option<Vec<CaseRecord>>,
) -> Report {
    let mut report = Report {
        implemented: records.is_some(),
        ..Report::new(subject.label(), kind.name(), config.cases)
    };
    let Some(records) = records else {
        return report;
    };
    let inputs: Vec<String> = records
        .first()
        .map(|r| r.expected.grads.iter().map(|(n, _)| n.clone()).collect())
        .unwrap_or_default();
    let answered = subject.has_answered();
    let mut shrinker = |start: &CaseRecord, what: &Subject| shrink(subject, kind, config, start, what);
    report.findings = findings(&records, &inputs, &mut shrinker, answered);
    let undiagnosed = report.findings.iter().any(|f| {
        f.diagnosis.is_none() && f.problem == Problem::WrongValues && matches!(f.what, Subject::Gradient(_))
    });
    if undiagnosed && let Some(note) = recognise::first_wrong_layer(&records) {
        report.notes.push(note);
    }
    if let Some(note) = records
        .iter()
        .find_map(|r| r.outcome.as_ref().ok()?.other_subgradient)
    {
        report.notes.push(note.to_owned());
    }
    report.inconclusive = uncertified(&records, &inputs, &report.findings, config);
    report
}

/// The gradients that were answered and found wrong nowhere, yet certified nowhere either: every
/// difference lay under the absolute tolerance alone, which may excuse but never certifies.
fn uncertified(
    records: &[CaseRecord],
    inputs: &[String],
    findings: &[Finding],
    config: Config,
) -> Vec<Inconclusive> {
    let checked = || records.iter().filter_map(|r| r.outcome.as_ref().ok());
    inputs
        .iter()
        .filter(|input| checked().any(|c| c.actual.get(input).is_some()))
        .filter(|input| !findings.iter().any(|f| f.what == Subject::Gradient((*input).clone())))
        .filter(|input| !checked().any(|c| c.certified.contains(input)))
        .map(|input| Inconclusive {
            gradient: gradient_label(input),
            reason: format!(
                "no element agreed to the relative tolerance (--rtol {}) in any case; every difference lay under the absolute tolerance (--atol {}) only, which may excuse but never certifies",
                config.rtol, config.atol
            ),
            try_next: "a smaller --atol (or a larger --rtol): an absolute tolerance as large as the gradient cannot tell a right gradient from zeros".to_owned(),
        })
        .collect()
}

/// Runs one case: the answer, a second answer, and the answer to a zero upstream. `None` when
/// the subject does not implement the op.
fn check_case(
    subject: &mut dyn Backward,
    dims: Vec<usize>,
    request: Request,
    config: Config,
) -> Option<CaseRecord> {
    let expected = ops::op(request.kind())
        .reference_answer(&request)
        .expect("internal: generated requests fit");
    let outcome = match subject.answer(&request) {
        Err(Fault::Unsupported) => return None,
        Err(fault) => Err(fault),
        Ok(actual) => Ok(examine(subject, &request, &expected, actual, config)),
    };
    Some(CaseRecord {
        dims,
        shape: request.shape(),
        batch: Some(request.batch()),
        request: Some(request),
        expected,
        outcome,
    })
}

/// Compares an answer with the reference, then asks twice more (same input; zero upstream).
fn examine(
    subject: &mut dyn Backward,
    request: &Request,
    expected: &Answer,
    actual: Answer,
    config: Config,
) -> Checked {
    let mut checked = compared(request, expected, &actual, config);
    ask_again(subject, request, &actual, &mut checked);
    ask_with_zero_upstream(subject, request, expected, &mut checked);
    checked.actual = actual;
    checked
}

/// Each gradient of `actual` against the reference (or, at a kink, the op's other valid
/// subgradient): its shape, finiteness and values.
fn compared(request: &Request, expected: &Answer, actual: &Answer, config: Config) -> Checked {
    let against = |name: &str, e: &ArrayD<f64>, a: &ArrayD<f64>| against(name, e, a, config);
    let mut checked = Checked::default();
    let other_side = ops::op(request.kind()).other_subgradient(request);
    for (name, e) in &expected.grads {
        let Some(a) = actual.get(name) else {
            continue; // optional keys (the network's x and loss) the subject left out
        };
        if a.shape() != e.shape() {
            let problem = Problem::WrongShape {
                got: a.shape().to_vec(),
                expected: e.shape().to_vec(),
            };
            checked.wrong.push((name.clone(), problem));
            continue;
        }
        if a.iter().any(|v| !v.is_finite()) {
            checked.wrong.push((name.clone(), Problem::NonFinite));
            continue;
        }
        let comparison = against(name, e, a);
        if comparison.is_ok() {
            if comparison.certified > 0 {
                checked.certified.push(name.clone());
            }
            continue;
        }
        if let Some((other, note)) = &other_side
            && let comparison = against(name, other, a)
            && comparison.is_ok()
        {
            if comparison.certified > 0 {
                checked.certified.push(name.clone());
            }
            checked.other_subgradient = Some(note);
            continue;
        }
        checked.wrong.push((name.clone(), Problem::WrongValues));
    }
    checked
}

/// The same request once more: a gradient that comes back different is nondeterministic.
fn ask_again(subject: &mut dyn Backward, request: &Request, first: &Answer, checked: &mut Checked) {
    match subject.answer(request) {
        Ok(again) => {
            for (name, first) in &first.grads {
                if again.get(name).is_none_or(|second| !same(first, second)) {
                    checked.nondeterministic.push(name.clone());
                }
            }
        }
        Err(fault) => checked.second_call = Some(fault),
    }
}

/// The request with a zero upstream gradient (where the op has one): every gradient must be
/// zero, and a fault on it stands against each gradient that had no problem of its own.
fn ask_with_zero_upstream(
    subject: &mut dyn Backward,
    request: &Request,
    expected: &Answer,
    checked: &mut Checked,
) {
    let Some(zeroed) = request.with_zero_upstream() else {
        return;
    };
    match subject.answer(&zeroed) {
        Ok(answer) => {
            // A gradient that is NaN already is reported as such; NaN · 0 is no evidence
            // that it ignores the upstream gradient.
            let non_finite = |name: &str| {
                checked
                    .wrong
                    .iter()
                    .any(|(n, p)| n == name && *p == Problem::NonFinite)
            };
            let nonzero: Vec<String> = (answer.grads.iter())
                .filter(|(name, g)| !non_finite(name) && g.iter().any(|v| *v != 0.0))
                .map(|(name, _)| name.clone())
                .collect();
            checked.nonzero_for_zero_upstream.extend(nonzero);
        }
        // A backward that fails only on a zero upstream gradient is still wrong.
        Err(fault) => {
            for (name, _) in &expected.grads {
                if checked.wrong.iter().all(|(n, _)| n != name) {
                    let message = format!("{fault} (upstream gradient all zeros)");
                    checked
                        .wrong
                        .push((name.clone(), Problem::Fault(Fault::Failed(message))));
                }
            }
        }
    }
}

/// Compares one gradient with the reference under the configured tolerances: `rtol` certifies,
/// the larger of the floor relative to the array's scale and `atol` may only excuse.
fn against(name: &str, expected: &ArrayD<f64>, actual: &ArrayD<f64>, config: Config) -> Comparison {
    let scale = expected.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
    compare::compare(
        &gradient_label(name),
        expected.view(),
        actual.view(),
        &Tolerance::uniform(config.rtol, (VERIFY_FLOOR * scale).max(config.atol)),
    )
}

/// Two answers to the same request agree to the last few bits (a NaN where the other has a NaN
/// too is the same answer: a deterministic function that yields NaN yields it every time).
fn same(first: &ArrayD<f64>, second: &ArrayD<f64>) -> bool {
    first.shape() == second.shape()
        && Zip::from(first)
            .and(second)
            .all(|a, b| a == b || (a.is_nan() && b.is_nan()) || compare::rel_err(*a, *b) <= 1e-12)
}

/// Shrinks a failing built-in case with [`shrink_by`], drawing each smaller case as the op does.
fn shrink(
    subject: &mut dyn Backward,
    kind: OpKind,
    config: Config,
    start: &CaseRecord,
    what: &Subject,
) -> CaseRecord {
    shrink_by(start, what, config.seed, |dims, rng| {
        if !ops::op(kind).admits(&dims) {
            return None;
        }
        let request = cases::request(kind, &dims, rng);
        check_case(subject, dims, request, config)
    })
}

/// Tries smaller shapes (one dimension at a time: to 1, halved, one less) with fresh values,
/// keeping each that still shows the same kind of problem, until none does. `run` draws and
/// checks a case of the given dims from the given random stream (`None`: nothing to compare).
pub(crate) fn shrink_by(
    start: &CaseRecord,
    what: &Subject,
    seed: u64,
    mut run: impl FnMut(Vec<usize>, &mut ChaCha8Rng) -> Option<CaseRecord>,
) -> CaseRecord {
    let problem = start.problem(what);
    let mut best = start.clone();
    let mut attempt = 0;
    'improve: while attempt < SHRINK_ATTEMPTS {
        for d in 0..best.dims.len() {
            let current = best.dims[d];
            let mut smaller = vec![1, current / 2, current.saturating_sub(1)];
            smaller.retain(|&v| v >= 1 && v < current);
            smaller.dedup();
            for value in smaller {
                attempt += 1;
                let mut dims = best.dims.clone();
                dims[d] = value;
                let mut rng = random::case_rng(seed, SHRINK_STREAM + attempt);
                if let Some(record) = run(dims, &mut rng)
                    && same_kind(record.problem(what).as_ref(), problem.as_ref())
                {
                    best = record;
                    continue 'improve;
                }
            }
        }
        break;
    }
    best
}
