//! The many-case hypotheses of [`super::hypotheses`] applied to a report's case records: what
//! the single-case predictions of [`super::diagnose`] cannot name, because the bug's signature is
//! a law across cases (a factor c · B^p · D^q, one scalar broadcast, one term of a sum kept,
//! float32 rounding) or across a whole network (one factor shared by every parameter gradient).
//!
//! Each recognised diagnosis comes with its example: the failing case where it is unambiguous
//! (B > 1 and D > 1 for a factor that depends on the shape, more than one element for a
//! broadcast scalar, the one example shared by the network's six gradients), which the report
//! shows instead of the shrunk case (shrinking to B = D = 1 is what made 2/(B·D) read as 2).
//!
//! Order, for one gradient: float32 first (agreement to 1e-4 of the scale excludes every other
//! pattern, and a per-case ratio of 1 ± 1e-7 must not be taken for a loss factor), then the
//! network's loss factor, the factor as a function of the shape, a broadcast scalar, and the
//! op's own many-case bug (linear's overwritten fan-out).

use ndarray::ArrayD;

use super::hypotheses::network::{self, Gradient, LossFactor, NetworkCase};
use super::hypotheses::{patterns, shape_factor};
use super::ops;
use super::record::CaseRecord;
use super::report::Diagnosis;
use crate::catalogue::Request;

/// A recognised diagnosis and the index (into the records given) of its example, if it has one
/// better than the shrunk case.
pub(crate) type Recognised = (Diagnosis, Option<usize>);

/// The network's loss factor and the index (into the records) of its one example.
pub(crate) type LossFactorExample = (LossFactor, usize);

/// One failing case of one gradient, as the hypotheses read it.
struct Case<'a> {
    /// Its index among the records given.
    index: usize,
    request: &'a Request,
    expected: &'a ArrayD<f64>,
    got: &'a ArrayD<f64>,
}

/// The network's loss factor over the answered cases where some parameter gradient is wrong,
/// with the index (into `records`) of its one example; `None` for other ops or other bugs.
pub(crate) fn loss_factor(records: &[CaseRecord]) -> Option<LossFactorExample> {
    let failing: Vec<&CaseRecord> = records
        .iter()
        .filter(|r| r.outcome.as_ref().is_ok_and(|c| !c.wrong.is_empty()))
        .collect();
    let dims = fit_dims(&failing)?;
    let cases = network_cases(&failing, &dims)?;
    let op = op_of(&failing)?;
    let found = network::loss_factor(&cases, &|law| op.factor_meaning(law))?;
    let failing_index = found.example;
    let example = records
        .iter()
        .position(|r| std::ptr::eq(r, failing[failing_index]))
        .expect("internal: the example is one of the records");
    Some((found, example))
}

/// The many-case diagnosis of `input`'s gradient over its failing cases `failing` (all with
/// wrong values), given the network's loss factor if there is one.
pub(crate) fn gradient(
    failing: &[&CaseRecord],
    all: &[CaseRecord],
    input: &str,
    loss: Option<&LossFactorExample>,
) -> Option<Recognised> {
    let cases: Vec<Case<'_>> = failing
        .iter()
        .enumerate()
        .map(|(index, r)| {
            Some(Case {
                index,
                request: r.request.as_ref()?,
                expected: r.expected.get(input)?,
                got: r.outcome.as_ref().ok()?.actual.get(input)?,
            })
        })
        .collect::<Option<_>>()?;
    let pairs: Vec<(&ArrayD<f64>, &ArrayD<f64>)> = cases.iter().map(|c| (c.expected, c.got)).collect();
    if let Some(found) = patterns::float32(&pairs) {
        return Some((Diagnosis::Float32(found), None));
    }
    let op = ops::op(cases.first()?.request.kind());
    if let Some((found, example)) = loss
        && op.network_parameters().contains(&input)
    {
        let index = failing.iter().position(|r| std::ptr::eq(*r, &all[*example]));
        return Some((Diagnosis::LossFactor(found.clone()), index));
    }
    let dims: Vec<Vec<(&str, usize)>> = cases
        .iter()
        .map(|c| ops::op(c.request.kind()).fit_dims(c.request))
        .collect();
    let shape_cases: Vec<shape_factor::ShapeCase<'_>> = cases
        .iter()
        .zip(&dims)
        .map(|(c, dims)| shape_factor::ShapeCase {
            dims,
            expected: c.expected,
            got: c.got,
        })
        .collect();
    if let Some(fit) = shape_factor::fit(&shape_cases, &|law| op.factor_meaning(law)) {
        let example = fit.example.map(|i| cases[i].index);
        return Some((Diagnosis::ShapeFactor(fit), example));
    }
    if let Some(found) = patterns::broadcast_scalar(&pairs) {
        let example = cases[found.example].index;
        return Some((Diagnosis::BroadcastScalar(found), Some(example)));
    }
    let requests: Vec<(&Request, &ArrayD<f64>)> = cases.iter().map(|c| (c.request, c.got)).collect();
    let (found, example) = op.many_case_hypothesis(input, &requests)?;
    Some((found, Some(cases[example].index)))
}

/// Each record's dims by name, as its op fits factors to them; `None` if one has no request.
fn fit_dims(records: &[&CaseRecord]) -> Option<Vec<Vec<(&'static str, usize)>>> {
    records
        .iter()
        .map(|r| Some(ops::op(r.request.as_ref()?.kind()).fit_dims(r.request.as_ref()?)))
        .collect()
}

/// The op of the records (all of one op), `None` if the first has no request.
fn op_of(records: &[&CaseRecord]) -> Option<&'static dyn ops::VerifiedOp> {
    Some(ops::op(records.first()?.request.as_ref()?.kind()))
}

/// Each answered record's network parameter gradients (expected, got, wrong or not) with its
/// dims, as the network-level hypotheses read them; `None` for an op that is no network, or if
/// a record lacks one.
fn network_cases<'r>(
    records: &[&'r CaseRecord],
    dims: &'r [Vec<(&'static str, usize)>],
) -> Option<Vec<NetworkCase<'r>>> {
    let parameters = op_of(records)?.network_parameters();
    if parameters.is_empty() {
        return None;
    }
    records
        .iter()
        .zip(dims)
        .map(|(record, dims)| {
            let checked = record.outcome.as_ref().ok()?;
            let gradients = parameters
                .iter()
                .map(|&name| {
                    Some(Gradient {
                        name,
                        expected: record.expected.get(name)?,
                        got: checked.actual.get(name)?,
                        wrong: checked.wrong.iter().any(|(n, _)| n == name),
                    })
                })
                .collect::<Option<_>>()?;
            Some(NetworkCase { dims, gradients })
        })
        .collect()
}

/// Where no diagnosis applies to a network's wrong gradient: the first wrong layer going back
/// from the loss, and the layers below that inherit it, as a note with its smallest case; `None`
/// for other ops.
pub(crate) fn first_wrong_layer(records: &[CaseRecord]) -> Option<String> {
    let answered: Vec<&CaseRecord> = records.iter().filter(|r| r.outcome.is_ok()).collect();
    let dims = fit_dims(&answered)?;
    let cases = network_cases(&answered, &dims)?;
    let found = network::first_wrong_layer(&cases)?;
    Some(format!(
        "{}; smallest such case: {}",
        found.sentence, answered[found.example].shape
    ))
}
