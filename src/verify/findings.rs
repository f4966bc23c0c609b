//! From case records to findings: each problem's failing cases grouped, the most common kind of
//! problem shrunk to its smallest shape, the worst elements picked, and a diagnosis sought from
//! every failing case (the single-case predictions of [`diagnose`] first, then the many-case
//! patterns of [`recognise`], whose example replaces the shrunk case); then the call-level
//! problems (non-determinism, a non-zero gradient for a zero upstream) over all cases.

use std::collections::HashMap;
use std::mem::{Discriminant, discriminant};

use super::diagnose::{self, Diagnosis};
use super::recognise::{self, LossFactorExample};
use super::record::{CaseRecord, Checked};
use super::report::CaseValues;
use super::{Fault, Finding, Problem, Subject};
use crate::compare;
use ndarray::Dimension;

/// Reduces a failing case to a smaller one that fails the same way.
pub(crate) type Shrinker<'a> = dyn FnMut(&CaseRecord, &Subject) -> CaseRecord + 'a;

/// Every finding of a set of cases: faults, then each input's gradient, then non-determinism
/// and non-zero gradients for a zero upstream.
pub(crate) fn findings(
    records: &[CaseRecord],
    inputs: &[String],
    shrinker: &mut Shrinker<'_>,
    answered: bool,
) -> Vec<Finding> {
    let loss = recognise::loss_factor(records);
    let never_answered = !answered && records.iter().all(|r| r.outcome.is_err());
    let mut found: Vec<Finding> = std::iter::once(Subject::Call)
        .chain(inputs.iter().map(|i| Subject::Gradient(i.clone())))
        .filter_map(|what| finding(records, &what, shrinker, loss.as_ref(), never_answered))
        .collect();
    let call_failed = found.iter().any(|f| f.what == Subject::Call);
    // A second call's fault is said once, beside the faults of first calls if there are none.
    found.extend(
        call_level_findings(records)
            .into_iter()
            .filter(|f| !(call_failed && f.what == Subject::Call && matches!(f.problem, Problem::Fault(_)))),
    );
    found
}

/// The finding for `what` (an input's gradient, or the call for faults), shrunk and diagnosed.
fn finding(
    records: &[CaseRecord],
    what: &Subject,
    shrinker: &mut Shrinker<'_>,
    loss: Option<&LossFactorExample>,
    never_answered: bool,
) -> Option<Finding> {
    let failing: Vec<&CaseRecord> = records.iter().filter(|r| r.problem(what).is_some()).collect();
    let mut smallest = shrinker(representative(&failing, what)?, what);
    let problem = smallest
        .problem(what)
        .expect("internal: shrinking keeps the problem");
    let input = match what {
        Subject::Gradient(input) => input.as_str(),
        _ => "",
    };
    let mut diagnosis = one_case_diagnosis(&failing, &smallest, input, &problem, never_answered);
    if diagnosis.is_none() && problem == Problem::WrongValues {
        let wrong_values: Vec<&CaseRecord> = failing
            .iter()
            .copied()
            .filter(|r| r.problem(what) == Some(Problem::WrongValues))
            .collect();
        if let Some((found, example)) = recognise::gradient(&wrong_values, records, input, loss) {
            if let Some(example) = example {
                smallest = wrong_values[example].clone();
            }
            diagnosis = Some(found);
        }
    }
    // A batch law is read off wrong values only: a NaN (an overflow at ±800 logits) or a
    // missing key in cases that all happen to have B > 1 says nothing about B.
    let only_batch_of_one = problem == Problem::WrongValues
        && failing.iter().all(|r| r.batch.is_some_and(|b| b > 1))
        && records
            .iter()
            .any(|r| r.batch == Some(1) && r.outcome.is_ok() && r.problem(what).is_none());
    Some(Finding {
        what: what.clone(),
        problem,
        failed: failing.len(),
        smallest_shape: smallest.shape.clone(),
        worst: worst_elements(&smallest, input),
        values: case_values(&smallest, input),
        diagnosis,
        only_batch_of_one,
    })
}

/// The case to shrink: the smallest of the most common kind of problem among the failing cases
/// (a wrong shape may turn into wrong values at 1×1); one count per kind, so linear in them.
fn representative<'r>(failing: &[&'r CaseRecord], what: &Subject) -> Option<&'r CaseRecord> {
    let kinds: Vec<Discriminant<Problem>> = failing
        .iter()
        .filter_map(|r| Some(discriminant(&r.problem(what)?)))
        .collect();
    let mut counts: HashMap<Discriminant<Problem>, usize> = HashMap::new();
    for kind in &kinds {
        *counts.entry(*kind).or_default() += 1;
    }
    let most = counts.values().copied().max()?;
    failing
        .iter()
        .zip(&kinds)
        .filter(|(_, kind)| counts[kind] == most)
        .map(|(r, _)| *r)
        .min_by_key(|r| {
            // A give-up after restarts follows from the fault that ended the program: that shows.
            let gave_up = r.problem(what).as_ref().is_some_and(gave_up);
            (gave_up, r.dims.iter().product::<usize>(), r.dims.clone())
        })
}

/// The diagnosis that every failing case (and the shrunk one) shows alone, or, for a program
/// that never answered a request at all and timed out, `no_answer`.
fn one_case_diagnosis(
    failing: &[&CaseRecord],
    smallest: &CaseRecord,
    input: &str,
    problem: &Problem,
    never_answered: bool,
) -> Option<Diagnosis> {
    match problem {
        Problem::WrongValues | Problem::WrongShape { .. } => {
            let evidence: Vec<diagnose::Evidence<'_>> = (failing.iter().copied())
                .chain([smallest])
                .filter_map(|r| {
                    let actual = r.outcome.as_ref().ok()?.actual.get(input)?;
                    Some(diagnose::Evidence {
                        request: r.request.as_ref(),
                        input,
                        expected: &r.expected,
                        actual,
                    })
                })
                .collect();
            diagnose::diagnose(&evidence)
        }
        Problem::Fault(Fault::TimedOut { .. } | Fault::StoppedAnswering { .. }) if never_answered => {
            Some(Diagnosis::NoAnswer)
        }
        _ => None,
    }
}

/// Both are the same kind of problem (a wrong shape stays a wrong shape while shrinking).
pub(crate) fn same_kind(a: Option<&Problem>, b: Option<&Problem>) -> bool {
    match (a, b) {
        // A give-up after restarts only follows from the fault that ended the program: a case
        // shrunk to one is no smaller example of that fault.
        (Some(a), Some(b)) => discriminant(a) == discriminant(b) && gave_up(a) == gave_up(b),
        _ => false,
    }
}

/// The problem is a give-up after restarts.
fn gave_up(problem: &Problem) -> bool {
    matches!(problem, Problem::Fault(Fault::GaveUp { .. }))
}

/// The (at most three) elements of `input`'s gradient furthest from the reference in `record`.
fn worst_elements(record: &CaseRecord, input: &str) -> Vec<compare::Element> {
    let (Ok(checked), Some(expected)) = (&record.outcome, record.expected.get(input)) else {
        return Vec::new();
    };
    let Some(actual) = checked
        .actual
        .get(input)
        .filter(|a| a.shape() == expected.shape())
    else {
        return Vec::new();
    };
    let mut elements: Vec<compare::Element> = expected
        .indexed_iter()
        .zip(actual.iter())
        .map(|((index, &e), &a)| compare::Element {
            index: index.slice().to_vec(),
            expected: e,
            actual: a,
            rel_err: compare::rel_err(e, a),
        })
        // An element the oracle could not estimate (a NaN expected value) is no evidence.
        .filter(|e| e.expected.is_finite() && e.expected != e.actual)
        .collect();
    // total_cmp: a total order even with NaN actual values (they sort as the worst).
    elements.sort_by(|x, y| {
        let dx = (x.actual - x.expected).abs();
        let dy = (y.actual - y.expected).abs();
        dy.total_cmp(&dx)
    });
    elements.truncate(3);
    elements
}

/// The whole of `input`'s gradient in `record`, expected and got, where both have its shape and
/// it has at most [`CaseValues::MAX_ELEMENTS`] elements.
fn case_values(record: &CaseRecord, input: &str) -> Option<CaseValues> {
    let expected = record.expected.get(input)?;
    let actual = record.outcome.as_ref().ok()?.actual.get(input)?;
    (actual.shape() == expected.shape() && expected.len() <= CaseValues::MAX_ELEMENTS).then(|| CaseValues {
        shape: expected.shape().to_vec(),
        expected: expected.iter().copied().collect(),
        actual: actual.iter().copied().collect(),
    })
}

/// What in a checked case shows one call-level problem: the call, or these inputs (none: no
/// problem).
type SubjectOf = fn(&Checked) -> Option<Subject>;

/// The call if `call` holds, else the named inputs' gradients, else `None`.
fn call_or_gradients(call: bool, names: &[String]) -> Option<Subject> {
    match names {
        _ if call => Some(Subject::Call),
        [] => None,
        [name] => Some(Subject::Gradient(name.clone())),
        names => Some(Subject::Gradients(names.to_vec())),
    }
}

/// Non-determinism, a second call that got no answer, and non-zero gradients for a zero upstream,
/// over all cases.
fn call_level_findings(records: &[CaseRecord]) -> Vec<Finding> {
    let mut findings: Vec<Finding> = second_call_fault(records).into_iter().collect();
    let groups: [(Problem, SubjectOf); 2] = [
        (Problem::NonDeterministic, |c| {
            call_or_gradients(false, &c.nondeterministic)
        }),
        (Problem::NonZeroForZeroUpstream, |c| {
            call_or_gradients(false, &c.nonzero_for_zero_upstream)
        }),
    ];
    for (problem, subject_of) in groups {
        let hits: Vec<(&CaseRecord, Subject)> = records
            .iter()
            .filter_map(|r| Some((r, subject_of(r.outcome.as_ref().ok()?)?)))
            .collect();
        let Some((smallest, what)) = hits.iter().min_by_key(|(r, _)| r.dims.iter().product::<usize>()) else {
            continue;
        };
        let diagnosis = (problem == Problem::NonDeterministic).then_some(Diagnosis::Nondeterministic);
        findings.push(Finding {
            what: what.clone(),
            problem,
            failed: hits.len(),
            smallest_shape: smallest.shape.clone(),
            worst: Vec::new(),
            values: None,
            diagnosis,
            only_batch_of_one: false,
        });
    }
    findings
}

/// The fault of the second call on the same request, where one got none: the program answered
/// once and then failed (it hung, it exited), which says nothing of its determinism.
fn second_call_fault(records: &[CaseRecord]) -> Option<Finding> {
    let hits: Vec<(&CaseRecord, &Fault)> = records
        .iter()
        .filter_map(|r| Some((r, r.outcome.as_ref().ok()?.second_call.as_ref()?)))
        .collect();
    let (smallest, fault) = hits
        .iter()
        .min_by_key(|(r, _)| r.dims.iter().product::<usize>())?;
    Some(Finding {
        what: Subject::Call,
        problem: Problem::Fault((*fault).clone()),
        failed: hits.len(),
        smallest_shape: smallest.shape.clone(),
        worst: Vec::new(),
        values: None,
        diagnosis: None,
        only_batch_of_one: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalogue::Answer;

    /// A case of dimensions `dims` whose gradient of `W` has `problem`.
    fn case(dims: &[usize], problem: Problem) -> CaseRecord {
        CaseRecord {
            dims: dims.to_vec(),
            shape: format!("{dims:?}"),
            batch: Some(dims[0]),
            request: None,
            expected: Answer::default(),
            outcome: Ok(Checked {
                wrong: vec![("W".to_owned(), problem)],
                ..Checked::default()
            }),
        }
    }

    #[test]
    fn the_most_common_kind_of_problem_is_reported_from_its_smallest_case() {
        let shape = || Problem::WrongShape {
            got: vec![1],
            expected: vec![2],
        };
        let records = [
            case(&[1, 1], shape()),
            case(&[3, 2], Problem::WrongValues),
            case(&[2, 2], shape()),
            case(&[2, 1], Problem::WrongValues),
            case(&[4, 4], Problem::WrongValues),
        ];
        let found = findings(&records, &["W".to_owned()], &mut |r, _| r.clone(), true);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].what, Subject::Gradient("W".to_owned()));
        assert_eq!(found[0].problem, Problem::WrongValues, "three against two");
        assert_eq!(found[0].failed, 5, "every failing case counts");
        assert_eq!(found[0].smallest_shape, "[2, 1]");
    }
}
