//! Diagnosis: naming the bug behind a wrong gradient when its pattern is recognisable.
//!
//! Each hypothesis predicts what a particular bug would return for a case (the right gradient
//! negated, scaled, transposed; the relu mask missing; the bias taken from one data point; ...).
//! A diagnosis is accepted only when its prediction matches the actual gradient, to
//! [`EXPLAIN_REL`], in **every** failing case: a constant factor must be the same constant
//! throughout, a mean over the batch must be 1/B at every B.

use ndarray::{Array2, ArrayD, Axis, Zip};

use crate::ops::{linear, relu};
use crate::protocol::{Answer, Request, reference_answer};

pub use super::report::Diagnosis;

/// How closely a prediction must match the actual gradient to explain it.
pub const EXPLAIN_REL: f64 = 1e-7;

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

/// The first diagnosis, in order of specificity, that explains every failing case.
pub fn diagnose(evidence: &[Evidence<'_>]) -> Option<Diagnosis> {
    let (first, rest) = evidence.split_first()?;
    candidates(first)
        .into_iter()
        .find(|d| rest.iter().all(|e| candidates(e).contains(d)))
}

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
        for (d, p) in op_specific(request, e) {
            consider(d, Some(p));
        }
    }
    consider(Diagnosis::Transposed, transpose(expected));
    if nonzero {
        if let Some(request) = e.request {
            consider(Diagnosis::MeanOverBatch, Some(expected / request.batch() as f64));
        }
        if let Some(Request::SqErr { f, .. }) = e.request {
            consider(Diagnosis::MeanOverElements, Some(expected / f.len() as f64));
        }
        if let Some(c) = fitted_factor(expected, actual) {
            consider(Diagnosis::Factor(c), Some(expected * c));
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

/// The reference answer with the upstream gradient replaced by ones (none for the network).
fn upstream_of_ones(request: &Request) -> Option<Answer> {
    let mut ones = request.clone();
    match &mut ones {
        Request::Linear { grad_out, .. } | Request::Relu { grad_out, .. } => grad_out.fill(1.0),
        Request::SqErr { grad_out, .. } if *grad_out != 1.0 => *grad_out = 1.0,
        _ => return None,
    }
    reference_answer(&ones).ok()
}

/// Predictions of the op-specific bugs for this case.
fn op_specific(request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
    let step = |a: &Array2<f64>| a.mapv(relu::step);
    match (request, e.input) {
        (Request::Linear { w, grad_out, .. }, "h") if w.is_square() => {
            vec![(Diagnosis::WeightNotTransposed, grad_out.dot(w).into_dyn())]
        }
        (Request::Linear { grad_out, .. }, "b") => {
            vec![(Diagnosis::BiasNotSummed, grad_out.row(0).to_owned().into_dyn())]
        }
        (Request::Relu { a, grad_out }, "a") => vec![
            (Diagnosis::ReluMaskMissing, grad_out.clone().into_dyn()),
            (
                Diagnosis::ReluMaskInverted,
                (grad_out * &step(a).mapv(|t| 1.0 - t)).into_dyn(),
            ),
            (
                Diagnosis::ReluMaskFromUpstream,
                (grad_out * &step(grad_out)).into_dyn(),
            ),
        ],
        (Request::Mlp { x, y, params }, input) => {
            let mut found = Vec::new();
            let variants = [
                (Diagnosis::Misprint32e, Variant::Misprint32e),
                (Diagnosis::NetworkMaskMissing(1), Variant::MaskMissing(1)),
                (Diagnosis::NetworkMaskMissing(2), Variant::MaskMissing(2)),
            ];
            for (d, variant) in variants {
                if let Some(g) = network_variant(x, y, params, variant).and_then(|a| a.get(input).cloned()) {
                    found.push((d, g));
                }
            }
            for (other, g) in &e.expected.grads {
                if other != input && g.shape() == e.actual.shape() {
                    found.push((Diagnosis::SwappedWith(other.clone()), g.clone()));
                }
            }
            found
        }
        _ => Vec::new(),
    }
}

/// A wrong backprop of the Eq. 33 network that a student might write.
#[derive(Debug, Clone, Copy)]
enum Variant {
    /// dL/da1 = relu.backward(dL/dh2; a2), as misprinted in Eq. 32e/37e (needs D1 = D2).
    Misprint32e,
    /// The relu of this hidden layer (1 or 2) skipped in the backward.
    MaskMissing(usize),
}

/// The six parameter gradients of the network as `variant` computes them, or `None` where the
/// variant cannot run (the misprint's shapes do not fit).
fn network_variant(
    x: &Array2<f64>,
    y: &Array2<f64>,
    p: &crate::mlp::MlpParams,
    variant: Variant,
) -> Option<Answer> {
    let as2 = |a: ArrayD<f64>| a.into_dimensionality::<ndarray::Ix2>().ok();
    let a1 = linear::forward(x.view(), p.w1.view(), p.b1.view()).ok()?;
    let h1 = as2(relu::forward(a1.view().into_dyn()).ok()?)?;
    let a2 = linear::forward(h1.view(), p.w2.view(), p.b2.view()).ok()?;
    let h2 = as2(relu::forward(a2.view().into_dyn()).ok()?)?;
    let f = linear::forward(h2.view(), p.w3.view(), p.b3.view()).ok()?;
    let g3 = linear::backward((&f - y).view(), h2.view(), p.w3.view(), p.b3.view()).ok()?;
    let masked = |g: &Array2<f64>, a: &Array2<f64>, layer: usize| -> Option<Array2<f64>> {
        if matches!(variant, Variant::MaskMissing(l) if l == layer) {
            return Some(g.clone());
        }
        as2(relu::backward(g.view().into_dyn(), a.view().into_dyn()).ok()?)
    };
    let da2 = masked(&g3.h, &a2, 2)?;
    let g2 = linear::backward(da2.view(), h1.view(), p.w2.view(), p.b2.view()).ok()?;
    let da1 = match variant {
        Variant::Misprint32e => as2(relu::backward(g3.h.view().into_dyn(), a2.view().into_dyn()).ok()?)?,
        Variant::MaskMissing(_) => masked(&g2.h, &a1, 1)?,
    };
    if da1.dim() != a1.dim() {
        return None;
    }
    let g1 = linear::backward(da1.view(), x.view(), p.w1.view(), p.b1.view()).ok()?;
    Some(
        Answer::default()
            .with("W1", g1.w.into_dyn())
            .with("b1", g1.b.into_dyn())
            .with("W2", g2.w.into_dyn())
            .with("b2", g2.b.into_dyn())
            .with("W3", g3.w.into_dyn())
            .with("b3", g3.b.into_dyn())
            .with("x", g1.h.into_dyn()),
    )
}
