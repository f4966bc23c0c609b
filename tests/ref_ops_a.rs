//! Property tests of the course's activation, loss and normalisation ops (sigmoid, tanh,
//! dropout, softmax_xent, hinge, batchnorm, layernorm): over random shapes (B = 1 and B > 1 where
//! the op allows it, square and not), values and cotangents, the reference VJP agrees with the
//! Jacobian oracle and with central finite differences ([`oracle::check_op`]), each on its own
//! domain:
//! - sigmoid and tanh: inputs out to ±16, into their flat tails;
//! - dropout: masks of 0 and 1 (not differentiated), p from {0, 0.25, 0.5} and from [0, 0.9);
//! - softmax_xent and hinge: labels (not differentiated), half the cases with B > C so that some
//!   label repeats; softmax_xent also with rows of logits shifted out to ±800 (both oracles) and
//!   with logits spread out to ±800 within a row (both stay finite);
//! - hinge at its kinks: margins zᵢⱼ − zᵢ,yᵢ + 1 placed at exactly 0 or within 1e-12 of it are
//!   excluded by the finite-difference oracle (not comparable), never failed;
//! - batchnorm (B ≥ 3, and B = 2 with β = 0) and layernorm (D ≥ 3, and D = 2 with β = 0) with
//!   ε = [`DEFAULT_EPS`] and ε = 1e-3, dL/dx held to the Jacobian contraction within
//!   JACOBIAN_REL of its terms rather than of itself (see below).
//!
//! Then a deliberately wrong VJP of each op is caught, by finite differences too, so that the
//! agreement means something.
//!
//! Where the oracles as they stand fail a right VJP, the properties ask only what they can
//! answer and say why: the Jacobian oracle's tolerance is relative to the result, which a
//! normalisation's dL/dx cancels far below its terms (always in groups of N = 2, now and then in
//! larger ones, inside the Jacobian's own entries, so no tolerance from |J| alone would do), and
//! the finite-difference bound misses rounding inside the forward where β cancels γ x̂ (so the
//! N = 2 cases have β = 0). The smallest cancelling cases found are kept
//! (`normalisations_whose_dx_cancels_agree_up_to_their_terms`). The ops with an input they do not
//! differentiate (dropout's mask, the losses' labels) and softmax_xent at spread logits go
//! through `check_op` bare, and the cases that once failed there are kept as regression tests
//! (`check_op_runs_on_the_ops_with_inputs_it_does_not_differentiate`,
//! `softmax_xent_with_spread_logits_passes_the_oracles`).

use crate::common::{BOUNDS, VALUE_BOUND, Wrong, cotangent, elementwise_shape, prop_assert_agrees};
use gradverify::compare::{Comparison, Verdict};
use gradverify::error::Result;
use gradverify::ops::{BatchNorm, DEFAULT_EPS, Dropout, Hinge, LayerNorm, Op, Sigmoid, SoftmaxXent, Tanh};
use gradverify::oracle::{self, JACOBIAN_REL, OracleReport};
use ndarray::{Array1, ArrayD, ArrayViewD, Axis, Ix2, IxDyn};
use proptest::prelude::*;
use proptest::strategy::BoxedStrategy;
use std::ops::RangeInclusive;

/// Cases per property: each is a full finite-difference check, a few milliseconds.
const CASES: u32 = 48;
/// At most this many rows (B) and columns (D) of a matrix input.
const MAX_BATCH: usize = BOUNDS.max_batch;
const MAX_WIDTH: usize = BOUNDS.max_width;
/// The losses' scores have 2..=MAX_CLASSES classes (C).
const MAX_CLASSES: usize = 4;
/// The elementwise ops' inputs are VALUE_BOUND times a scale of up to this much.
const MAX_SPREAD: f64 = 8.0;
/// softmax_xent's large logits reach ±LOGIT_LIMIT exactly.
const LOGIT_LIMIT: f64 = 800.0;
/// A hinge margin placed at its kink is at most about this far from 0: far below the smallest
/// finite-difference step (about 1e-9).
const NEAR_KINK: f64 = 1e-12;
/// The normalisations' ε beside DEFAULT_EPS.
const LARGE_EPS: f64 = 1e-3;

fn from_vec(shape: &[usize], v: Vec<f64>) -> ArrayD<f64> {
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("one value per element")
}

fn tensor(shape: Vec<usize>) -> impl Strategy<Value = ArrayD<f64>> {
    crate::common::values(shape.iter().product(), VALUE_BOUND).prop_map(move |v| from_vec(&shape, v))
}

/// (a, dL/dh) for the elementwise ops: B×D inputs of up to ±VALUE_BOUND · MAX_SPREAD.
fn unary_case() -> impl Strategy<Value = (ArrayD<f64>, ArrayD<f64>)> {
    elementwise_shape().prop_flat_map(|(b, d)| {
        (tensor(vec![b, d]), 1.0..=MAX_SPREAD, cotangent(vec![b, d])).prop_map(|(a, s, g)| (a * s, g))
    })
}

/// (op, [x, mask], dL/dout): every mask entry 0 or 1, p at the usual values and anywhere in
/// [0, 0.9).
fn dropout_case() -> impl Strategy<Value = (Dropout, Vec<ArrayD<f64>>, ArrayD<f64>)> {
    let p = prop_oneof![Just(0.0), Just(0.25), Just(0.5), 0.0..0.9_f64];
    (elementwise_shape(), p).prop_flat_map(|((b, d), p)| {
        let mask = proptest::collection::vec(any::<bool>(), b * d).prop_map(move |m| {
            from_vec(
                &[b, d],
                m.into_iter().map(|keep| if keep { 1.0 } else { 0.0 }).collect(),
            )
        });
        (
            Just(Dropout { p }),
            tensor(vec![b, d]),
            mask,
            cotangent(vec![b, d]),
        )
            .prop_map(|(op, x, mask, g)| (op, vec![x, mask], g))
    })
}

/// (B, C) of the losses: B from 1 with C from 2, or (half the cases) B > C, so that some label
/// repeats.
fn labelled_shape() -> impl Strategy<Value = (usize, usize)> {
    prop_oneof![
        (1..=MAX_BATCH, 2..=MAX_CLASSES),
        (2..=MAX_CLASSES, 1..=2_usize).prop_map(|(c, extra)| (c + extra, c)),
    ]
}

/// B labels in [0, C), as f64.
fn labels(b: usize, c: usize) -> impl Strategy<Value = ArrayD<f64>> {
    proptest::collection::vec(0..c, b)
        .prop_map(move |l| from_vec(&[b], l.into_iter().map(|k| k as f64).collect()))
}

/// How the losses' logits are drawn.
#[derive(Debug, Clone, Copy)]
enum Logits {
    /// Up to ±VALUE_BOUND.
    Small,
    /// Each row at ±(LOGIT_LIMIT − VALUE_BOUND) or anywhere between, plus up to ±VALUE_BOUND:
    /// large logits, spread as small ones are.
    Shifted,
    /// Scaled by up to LOGIT_LIMIT / VALUE_BOUND: large logits, spread out to 2·LOGIT_LIMIT.
    Scaled,
}

/// B×C logits; the large ones have one entry in five at ±VALUE_BOUND before they are shifted or
/// scaled, so that some reach ±LOGIT_LIMIT exactly.
fn logits(b: usize, c: usize, kind: Logits) -> BoxedStrategy<ArrayD<f64>> {
    let entry = prop_oneof![
        8 => -VALUE_BOUND..VALUE_BOUND,
        1 => Just(VALUE_BOUND),
        1 => Just(-VALUE_BOUND),
    ];
    let entries = proptest::collection::vec(entry, b * c);
    match kind {
        Logits::Small => tensor(vec![b, c]).boxed(),
        Logits::Shifted => {
            let far = LOGIT_LIMIT - VALUE_BOUND;
            let shift = prop_oneof![Just(far), Just(-far), -far..far];
            (entries, proptest::collection::vec(shift, b))
                .prop_map(move |(v, shifts)| {
                    let shifted = v.iter().enumerate().map(|(k, x)| x + shifts[k / c]).collect();
                    from_vec(&[b, c], shifted)
                })
                .boxed()
        }
        Logits::Scaled => {
            let most = LOGIT_LIMIT / VALUE_BOUND;
            let scale = prop_oneof![Just(most), 1.0..most];
            (entries, scale)
                .prop_map(move |(v, s)| from_vec(&[b, c], v.into_iter().map(|x| x * s).collect()))
                .boxed()
        }
    }
}

/// ([z, labels], dL/dL) for the losses.
fn labelled_case(kind: Logits) -> impl Strategy<Value = (Vec<ArrayD<f64>>, ArrayD<f64>)> {
    labelled_shape().prop_flat_map(move |(b, c)| {
        (logits(b, c, kind), labels(b, c), cotangent(vec![])).prop_map(|(z, y, g)| (vec![z, y], g))
    })
}

/// The loss and dL/dz of softmax_xent, both finite, or the property fails.
fn prop_assert_finite(
    inputs: &[ArrayD<f64>],
    g: &ArrayD<f64>,
    context: &str,
) -> std::result::Result<(), TestCaseError> {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let loss = SoftmaxXent.forward(&views).expect("valid inputs");
    prop_assert!(loss.iter().all(|v| v.is_finite()), "{context}: loss {loss}");
    let grads = SoftmaxXent
        .vjp(&views, g.view(), &[true, false])
        .expect("valid inputs");
    let dz = grads[0].as_ref().expect("dL/dz was asked for");
    prop_assert!(dz.iter().all(|v| v.is_finite()), "{context}: dL/dz {dz}");
    Ok(())
}

/// A hinge case with margins zᵢⱼ − zᵢ,yᵢ + 1 put at their kink: one in row `row` (class
/// yᵢ + `shift`) always, every other with probability 1/3, each at 0 plus an offset of 0, ±1e-12
/// or in between. The labels' scores are multiples of 1/1024, so that zᵢ,yᵢ − 1 is exact and an
/// offset of 0 gives a margin of exactly 0.
fn kinked_hinge_case() -> impl Strategy<Value = (Vec<ArrayD<f64>>, ArrayD<f64>)> {
    (1..=MAX_BATCH, 2..=MAX_CLASSES).prop_flat_map(|(b, c)| {
        let offset = prop_oneof![
            2 => Just(0.0),
            1 => Just(NEAR_KINK),
            1 => Just(-NEAR_KINK),
            2 => -NEAR_KINK..NEAR_KINK,
        ];
        (
            (tensor(vec![b, c]), labels(b, c), cotangent(vec![])),
            (0..b, 1..c),
            proptest::collection::vec(proptest::bool::weighted(1.0 / 3.0), b * c),
            proptest::collection::vec(offset, b * c),
        )
            .prop_map(move |((mut z, y, g), (row, shift), more, offsets)| {
                for i in 0..b {
                    let yi = y[[i]] as usize;
                    z[[i, yi]] = (z[[i, yi]] * 1024.0).round() / 1024.0;
                    for j in (0..c).filter(|&j| j != yi) {
                        if (i == row && j == (yi + shift) % c) || more[i * c + j] {
                            z[[i, j]] = z[[i, yi]] - 1.0 + offsets[i * c + j];
                        }
                    }
                }
                (vec![z, y], g)
            })
    })
}

/// (ε, [x, γ, β], dL/dout) for B×D inputs, B and D in the given ranges; β = 0 unless
/// `with_beta`.
fn norm_case(
    batch: RangeInclusive<usize>,
    width: RangeInclusive<usize>,
    with_beta: bool,
) -> impl Strategy<Value = (f64, Vec<ArrayD<f64>>, ArrayD<f64>)> {
    let eps = prop_oneof![Just(DEFAULT_EPS), Just(LARGE_EPS)];
    (batch, width, eps).prop_flat_map(move |(b, d, eps)| {
        let affine = (tensor(vec![b, d]), tensor(vec![d]), tensor(vec![d]));
        (
            Just(eps),
            affine.prop_map(move |(x, w, c)| {
                vec![x, w, if with_beta { c } else { ArrayD::zeros(c.raw_dim()) }]
            }),
            cotangent(vec![b, d]),
        )
    })
}

fn check(op: impl Op + 'static, inputs: Vec<ArrayD<f64>>, g: &ArrayD<f64>) -> OracleReport {
    oracle::check_op(op, inputs, g.view()).expect("shapes fit by construction")
}

/// r = 1/√(σ² + ε) of each group of x: its columns (`Axis(0)`, batchnorm) or rows (`Axis(1)`).
fn inverse_std(x: &ArrayViewD<'_, f64>, group: Axis, eps: f64) -> Array1<f64> {
    let x = x.view().into_dimensionality::<Ix2>().expect("x is a matrix");
    let n = x.len_of(group) as f64;
    x.map_axis(group, |lane| {
        let mean = lane.sum() / n;
        let variance = lane.mapv(|v| (v - mean).powi(2)).sum() / n;
        1.0 / (variance + eps).sqrt()
    })
}

/// The oracles' verdict on a normalisation whose dL/dx = r/N · (N d − Σd − x̂ Σ(d ⊙ x̂)), with
/// d = γ ⊙ dL/dout and N the size of a group, may cancel far below its terms. With groups of
/// N = 2 (batchnorm at B = 2, layernorm at D = 2), x̂ = ±σ/√(σ² + ε) whatever x, and it always
/// does, down to O(ε/σ²) of the terms; with N ≥ 3 it does now and then (about 1 case in 50 000 of
/// layernorm at D ≥ 3, the third case of `normalisations_whose_dx_cancels_agree_up_to_their_terms`).
/// There the VJP and the Jacobian contraction, both exact, differ by the rounding of the terms,
/// each at most r·max|d| (N d, Σd) or √N r·max|d| (x̂ Σ(d ⊙ x̂), as |x̂| ≤ √N and Σ|x̂| ≤ N), not
/// of the result, and the Jacobian oracle's tolerance, JACOBIAN_REL of the result, fails them
/// (those cases). So: finite differences agree as everywhere, dγ and dβ agree with the
/// Jacobian oracle as everywhere, and dL/dx agrees with the Jacobian contraction to JACOBIAN_REL
/// of its terms, (2 + √N) r·max|d|. At N = 2 the cases have β = 0: where β cancels γ ⊙ x̂ (which
/// there barely moves), the finite-difference bound, taken from |out|, misses the forward's own
/// rounding and fails a right dL/dx (about 1 case in 10 000).
fn prop_assert_agrees_up_to_cancellation(
    op: impl Op + Copy + 'static,
    inputs: Vec<ArrayD<f64>>,
    g: &ArrayD<f64>,
    group: Axis,
    eps: f64,
    context: &str,
) -> std::result::Result<(), TestCaseError> {
    let report = check(op, inputs.clone(), g);
    let fd_and_affine: Vec<&Comparison> = report
        .vs_finite_diff
        .iter()
        .chain(&report.vs_jacobian[1..])
        .collect();
    let failing: Vec<String> = fd_and_affine
        .iter()
        .filter(|c| !c.is_ok())
        .map(|c| c.to_string())
        .collect();
    prop_assert!(failing.is_empty(), "{context}: {}", failing.join("\n"));
    prop_assert!(
        fd_and_affine.iter().any(|c| c.verdict() == Verdict::Pass),
        "{context}: nothing was certified"
    );
    let r = inverse_std(&inputs[0].view(), group, eps).fold(0.0_f64, |m, &v| m.max(v));
    let d = (g * &inputs[1]).fold(0.0_f64, |m, v| m.max(v.abs()));
    let n = inputs[0].len_of(group) as f64;
    prop_assert_near_jacobian(&op, &inputs, g, (2.0 + n.sqrt()) * r * d, context)
}

/// dL/d`inputs[0]` of `op`'s VJP against the contraction of its Jacobian, each element within
/// JACOBIAN_REL of its own size plus JACOBIAN_REL of `terms`, the size of the terms it is the
/// sum of: for results that cancel far below their terms, where both exact roads round like
/// the terms and the Jacobian oracle's JACOBIAN_REL of the result is too tight for either.
fn prop_assert_near_jacobian(
    op: &dyn Op,
    inputs: &[ArrayD<f64>],
    g: &ArrayD<f64>,
    terms: f64,
    context: &str,
) -> std::result::Result<(), TestCaseError> {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let wanted: Vec<bool> = (0..inputs.len()).map(|k| k == 0).collect();
    let vjp = op.vjp(&views, g.view(), &wanted).expect("valid inputs");
    let vjp = vjp[0].as_ref().expect("the gradient was asked for");
    let flat: Array1<f64> = g.iter().copied().collect();
    let contracted = op.jacobian(&views, 0).expect("valid inputs").t().dot(&flat);
    for (a, e) in vjp.iter().zip(&contracted) {
        let tolerance = JACOBIAN_REL * (e.abs() + terms);
        prop_assert!(
            (a - e).abs() <= tolerance,
            "{context}: {a:e} against the Jacobian's {e:e}, beyond {tolerance:e}"
        );
    }
    Ok(())
}

/// The margins zᵢⱼ − zᵢ,yᵢ + 1 (j ≠ yᵢ) of a hinge case, for the failure messages.
fn margins(inputs: &[ArrayD<f64>]) -> Vec<f64> {
    let (z, y) = (&inputs[0], &inputs[1]);
    let mut out = Vec::new();
    for (i, &yi) in y.iter().enumerate() {
        let yi = yi as usize;
        for j in (0..z.shape()[1]).filter(|&j| j != yi) {
            out.push(z[[i, j]] - z[[i, yi]] + 1.0);
        }
    }
    out
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn sigmoid_vjp_agrees_with_both_oracles((a, g) in unary_case()) {
        let context = format!("sigmoid a {a}");
        prop_assert_agrees(&check(Sigmoid, vec![a], &g), &context)?;
    }

    #[test]
    fn tanh_vjp_agrees_with_both_oracles((a, g) in unary_case()) {
        let context = format!("tanh a {a}");
        prop_assert_agrees(&check(Tanh, vec![a], &g), &context)?;
    }

    #[test]
    fn dropout_vjp_agrees_with_both_oracles((op, inputs, g) in dropout_case()) {
        let context = format!("dropout {op:?} x {:?} mask {}", inputs[0].shape(), inputs[1]);
        prop_assert_agrees(&check(op, inputs, &g), &context)?;
    }

    #[test]
    fn softmax_xent_vjp_agrees_with_both_oracles((inputs, g) in labelled_case(Logits::Small)) {
        let context = format!("softmax_xent z {} labels {}", inputs[0], inputs[1]);
        prop_assert_agrees(&check(SoftmaxXent, inputs, &g), &context)?;
    }

    #[test]
    fn softmax_xent_stays_finite_and_agrees_with_both_oracles_at_logits_near_800(
        (inputs, g) in labelled_case(Logits::Shifted)
    ) {
        let context = format!("softmax_xent z {} labels {}", inputs[0], inputs[1]);
        prop_assert_finite(&inputs, &g, &context)?;
        prop_assert_agrees(&check(SoftmaxXent, inputs, &g), &context)?;
    }

    /// Logits spread out to ±800 in a row: logits 20 or more below the row's maximum, whose
    /// changes rounding absorbs, gaps of 8 to 20 under the label's logit, and rows that are
    /// confidently right, where softmaxᵢ,yᵢ − 1 cancels (the smallest such cases are
    /// `softmax_xent_with_spread_logits_passes_the_oracles`).
    #[test]
    fn softmax_xent_stays_finite_and_agrees_with_both_oracles_at_logits_spread_to_800(
        (inputs, g) in labelled_case(Logits::Scaled)
    ) {
        let context = format!("softmax_xent z {} labels {}", inputs[0], inputs[1]);
        prop_assert_finite(&inputs, &g, &context)?;
        prop_assert_agrees(&check(SoftmaxXent, inputs, &g), &context)?;
    }

    #[test]
    fn hinge_vjp_agrees_with_both_oracles((inputs, g) in labelled_case(Logits::Small)) {
        let context = format!("hinge z {} labels {}", inputs[0], inputs[1]);
        prop_assert_agrees(&check(Hinge, inputs, &g), &context)?;
    }

    /// Margins at (or within 1e-12 of) their kink, where no finite-difference step is smooth:
    /// the oracle must leave those elements out, not fail them.
    #[test]
    fn hinge_kinks_are_excluded_not_failed((inputs, g) in kinked_hinge_case()) {
        let context = format!(
            "hinge at kinks z {} labels {} margins {:?}",
            inputs[0],
            inputs[1],
            margins(&inputs)
        );
        let report = check(Hinge, inputs, &g);
        prop_assert_agrees(&report, &context)?;
        // The Jacobian oracle takes the same subgradient at a kink and certifies; finite
        // differences see the kink and leave those elements out.
        prop_assert_eq!(report.vs_jacobian[0].verdict(), Verdict::Pass, "{}", context);
        let fd = &report.vs_finite_diff[0];
        prop_assert!(fd.skipped > 0, "{context}: no element was left out: {fd}");
    }

    #[test]
    fn batchnorm_vjp_agrees_with_both_oracles(
        (eps, inputs, g) in norm_case(3..=MAX_BATCH, 1..=MAX_WIDTH, true)
    ) {
        let context = format!("batchnorm eps {eps:e} x {} gamma {}", inputs[0], inputs[1]);
        prop_assert_agrees_up_to_cancellation(BatchNorm { eps }, inputs, &g, Axis(0), eps, &context)?;
    }

    #[test]
    fn layernorm_vjp_agrees_with_both_oracles(
        (eps, inputs, g) in norm_case(1..=MAX_BATCH, 3..=MAX_WIDTH, true)
    ) {
        let context = format!("layernorm eps {eps:e} x {} gamma {}", inputs[0], inputs[1]);
        prop_assert_agrees_up_to_cancellation(LayerNorm { eps }, inputs, &g, Axis(1), eps, &context)?;
    }

    #[test]
    fn batchnorm_at_b2_agrees_up_to_its_cancellation(
        (eps, inputs, g) in norm_case(2..=2, 1..=MAX_WIDTH, false)
    ) {
        let context = format!("batchnorm eps {eps:e} x {} gamma {}", inputs[0], inputs[1]);
        prop_assert_agrees_up_to_cancellation(BatchNorm { eps }, inputs, &g, Axis(0), eps, &context)?;
    }

    #[test]
    fn layernorm_at_d2_agrees_up_to_its_cancellation(
        (eps, inputs, g) in norm_case(1..=MAX_BATCH, 2..=2, false)
    ) {
        let context = format!("layernorm eps {eps:e} x {} gamma {}", inputs[0], inputs[1]);
        prop_assert_agrees_up_to_cancellation(LayerNorm { eps }, inputs, &g, Axis(1), eps, &context)?;
    }
}

/// Deterministic, distinct, non-symmetric values in [−1, 1).
fn filled(shape: &[usize], seed: usize) -> ArrayD<f64> {
    let len: usize = shape.iter().product();
    let v = (0..len)
        .map(|k| (((k + seed) * 7919 % 1009) as f64) / 500.0 - 1.0)
        .collect();
    from_vec(shape, v)
}

fn assert_caught(op: impl Op + 'static, inputs: Vec<ArrayD<f64>>, g: &ArrayD<f64>, what: &str) {
    let report = check(op, inputs, g);
    assert!(!report.is_ok(), "{what}: the wrong VJP passed");
    assert!(
        report.vs_finite_diff.iter().any(|c| !c.is_ok()),
        "{what}: finite differences missed it"
    );
}

/// A scalar cotangent dL/dL for the losses.
fn scalar(v: f64) -> ArrayD<f64> {
    from_vec(&[], vec![v])
}

/// The labels `l` as an f64 vector.
fn label_vector(l: &[usize]) -> ArrayD<f64> {
    from_vec(&[l.len()], l.iter().map(|&k| k as f64).collect())
}

#[test]
fn a_sigmoid_vjp_with_the_derivative_taken_from_the_input_is_caught() {
    fn from_input(
        _: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        _: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        Ok(vec![Some(&g * &inputs[0].mapv(|a| a * (1.0 - a)))])
    }
    let op = Wrong {
        inner: Sigmoid,
        vjp: from_input,
    };
    assert_caught(
        op,
        vec![filled(&[3, 4], 1)],
        &filled(&[3, 4], 2),
        "sigmoid, a(1 − a)",
    );
}

#[test]
fn a_tanh_vjp_with_the_derivative_taken_from_the_input_is_caught() {
    fn from_input(
        _: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        _: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        Ok(vec![Some(&g * &inputs[0].mapv(|a| 1.0 - a * a))])
    }
    let op = Wrong {
        inner: Tanh,
        vjp: from_input,
    };
    assert_caught(op, vec![filled(&[2, 5], 3)], &filled(&[2, 5], 4), "tanh, 1 − a²");
}

#[test]
fn a_dropout_vjp_without_the_inverted_scale_is_caught() {
    fn unscaled(
        _: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        _: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        Ok(vec![Some(&g * &inputs[1]), None])
    }
    let op = Wrong {
        inner: Dropout { p: 0.5 },
        vjp: unscaled,
    };
    let mask = from_vec(
        &[3, 4],
        (0..12).map(|k| if k % 3 == 0 { 0.0 } else { 1.0 }).collect(),
    );
    assert_caught(
        op,
        vec![filled(&[3, 4], 5), mask],
        &filled(&[3, 4], 6),
        "dropout, no 1/(1 − p)",
    );
}

#[test]
fn a_softmax_xent_vjp_without_the_one_hot_is_caught() {
    fn no_one_hot(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let mut grads = op.vjp(inputs, g.view(), wanted)?;
        let dz = grads[0].as_mut().expect("dL/dz is wanted");
        let scale = g.sum() / inputs[0].shape()[0] as f64;
        for (i, &y) in inputs[1].iter().enumerate() {
            dz[[i, y as usize]] += scale;
        }
        Ok(grads)
    }
    let op = Wrong {
        inner: SoftmaxXent,
        vjp: no_one_hot,
    };
    let inputs = vec![filled(&[4, 3], 7), label_vector(&[2, 0, 2, 1])];
    assert_caught(op, inputs, &scalar(1.5), "softmax_xent, no one-hot");
}

#[test]
fn a_hinge_vjp_with_the_correct_class_column_zero_is_caught() {
    fn no_label_column(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let mut grads = op.vjp(inputs, g.view(), wanted)?;
        let dz = grads[0].as_mut().expect("dL/dz is wanted");
        for (i, &y) in inputs[1].iter().enumerate() {
            dz[[i, y as usize]] = 0.0;
        }
        Ok(grads)
    }
    let op = Wrong {
        inner: Hinge,
        vjp: no_label_column,
    };
    let inputs = vec![filled(&[4, 3], 8), label_vector(&[1, 1, 0, 2])];
    let closest = margins(&inputs).iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
    assert!(closest > 1e-3, "no margin near its kink: {closest}");
    assert_caught(op, inputs, &scalar(-2.0), "hinge, label column zero");
}

/// A normalisation's VJP with μ and σ treated as constants: dL/dx = γ r ⊙ dL/dout, r = 1/√(σ² + ε)
/// per group (down `group`); dγ and dβ the right ones.
fn frozen_statistics(
    op: &dyn Op,
    inputs: &[ArrayViewD<'_, f64>],
    g: ArrayViewD<'_, f64>,
    wanted: &[bool],
    group: Axis,
) -> Result<Vec<Option<ArrayD<f64>>>> {
    let mut grads = op.vjp(inputs, g.view(), wanted)?;
    let r = inverse_std(&inputs[0], group, DEFAULT_EPS);
    let mut dx = g.to_owned().into_dimensionality::<Ix2>().expect("g is a matrix");
    for ((i, j), d) in dx.indexed_iter_mut() {
        let k = if group == Axis(0) { j } else { i };
        *d *= inputs[1][[j]] * r[k];
    }
    grads[0] = Some(dx.into_dyn());
    Ok(grads)
}

#[test]
fn a_batchnorm_vjp_with_the_statistics_held_constant_is_caught() {
    fn frozen(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        frozen_statistics(op, inputs, g, wanted, Axis(0))
    }
    let op = Wrong {
        inner: BatchNorm { eps: DEFAULT_EPS },
        vjp: frozen,
    };
    let inputs = vec![filled(&[4, 3], 9), filled(&[3], 10), filled(&[3], 11)];
    assert_caught(op, inputs, &filled(&[4, 3], 12), "batchnorm, constant μ and σ");
}

#[test]
fn a_layernorm_vjp_with_the_statistics_held_constant_is_caught() {
    fn frozen(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        frozen_statistics(op, inputs, g, wanted, Axis(1))
    }
    let op = Wrong {
        inner: LayerNorm { eps: DEFAULT_EPS },
        vjp: frozen,
    };
    let inputs = vec![filled(&[3, 4], 13), filled(&[4], 14), filled(&[4], 15)];
    assert_caught(op, inputs, &filled(&[3, 4], 16), "layernorm, constant μ and σ");
}

/// `check_op` on the bare ops with an input they do not differentiate: the finite-difference
/// rounding bound once asked for the Jacobian of every input, which dropout, softmax_xent and
/// hinge refuse for their mask or labels, and it errored on every one of them.
#[test]
fn check_op_runs_on_the_ops_with_inputs_it_does_not_differentiate() {
    let mask = from_vec(&[2, 3], vec![1.0, 0.0, 1.0, 1.0, 1.0, 0.0]);
    let dropout = oracle::check_op(
        Dropout { p: 0.5 },
        vec![filled(&[2, 3], 1), mask],
        filled(&[2, 3], 2).view(),
    );
    let labels = label_vector(&[2, 0]);
    let softmax = oracle::check_op(
        SoftmaxXent,
        vec![filled(&[2, 3], 3), labels.clone()],
        scalar(1.0).view(),
    );
    let hinge = oracle::check_op(Hinge, vec![filled(&[2, 3], 4), labels], scalar(1.0).view());
    let failures: Vec<String> = [("dropout", dropout), ("softmax_xent", softmax), ("hinge", hinge)]
        .into_iter()
        .filter_map(|(name, report)| match report {
            Ok(report) => prop_assert_agrees(&report, name).err().map(|e| e.to_string()),
            Err(err) => Some(format!("{name}: check_op failed: {err}")),
        })
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The normalisation cases the properties found where dL/dx cancels far below its terms, so
/// that the Jacobian oracle's JACOBIAN_REL of the result fails a right VJP: each is held, as the
/// properties hold every case, to both oracles with dL/dx to JACOBIAN_REL of its terms
/// ([`prop_assert_agrees_up_to_cancellation`]); the exact values are from 50-digit arithmetic.
#[test]
fn normalisations_whose_dx_cancels_agree_up_to_their_terms() {
    let eps = DEFAULT_EPS;
    let row = |v: &[f64]| from_vec(&[1, v.len()], v.to_vec());
    let vector = |v: &[f64]| from_vec(&[v.len()], v.to_vec());
    // B = 2: exact ±1.2530308647200476e-5, the VJP 1.2530308647214497e-5, the Jacobian
    // contraction 1.2530308647270618e-5: 4.5e-12 apart, relative.
    let batchnorm_b2 = prop_assert_agrees_up_to_cancellation(
        BatchNorm { eps },
        vec![
            from_vec(&[2, 1], vec![-1.7714674868587528, 0.0]),
            vector(&[0.7427440672142053]),
            vector(&[0.0]),
        ],
        &from_vec(&[2, 1], vec![0.0, -2.344609103188212]),
        Axis(0),
        eps,
        "batchnorm B = 2",
    );
    // D = 2: exact ∓1.688441010118773e-5, the VJP 1.6884410101180970e-5, the Jacobian
    // 1.6884410101202712e-5.
    let layernorm_d2 = prop_assert_agrees_up_to_cancellation(
        LayerNorm { eps },
        vec![
            row(&[0.0, 0.7146235049325269]),
            vector(&[0.0, -1.5208477533396085]),
            vector(&[0.0, 0.0]),
        ],
        &row(&[0.0, -0.10130317869000419]),
        Axis(1),
        eps,
        "layernorm D = 2",
    );
    // D = 3 (about 1 case in 50 000 of the D ≥ 3 property): exact [1.992465645674077e-5,
    // 8.6332041272786053e-8, −2.0010988498013556e-5] from terms of 0.6; the VJP is within
    // 4.6e-17 of it, the Jacobian within 9.3e-17.
    let layernorm_d3 = prop_assert_agrees_up_to_cancellation(
        LayerNorm { eps },
        vec![
            row(&[-1.1723350041837846, -0.29155262224851297, -0.3103804691008427]),
            vector(&[-1.1688543675565417, 0.015237624707984612, 0.030970674244374715]),
            vector(&[0.0, 0.0, 0.0]),
        ],
        &row(&[-0.21205313479027238, 2.671686152198128, 1.4571783350796677]),
        Axis(1),
        eps,
        "layernorm D = 3",
    );
    let failures: Vec<String> = [batchnorm_b2, layernorm_d2, layernorm_d3]
        .into_iter()
        .filter_map(|r| r.err().map(|e| e.to_string()))
        .collect();
    assert!(failures.is_empty(), "{failures:#?}");
}

/// The smallest spread-logit cases the properties found, checked by both oracles: before
/// a835cec, finite differences read an absorbed change as an exact zero and missed the
/// log-sum-exp's own rounding, and the Jacobian oracle failed the cancellation of softmax − 1.
#[test]
fn softmax_xent_with_spread_logits_passes_the_oracles() {
    let cases = [
        // dL/dz₀ = dL/dL · e^(−734.85…) = −7.19e-320; every step leaves the loss (0)
        // unchanged, and the oracle reported 0 with an error bound of 0.
        (vec![-734.8547567820353, 0.0], vec![1], -1.0),
        // The same with a loss of 150: dL/dz₀ = −5.1e-131 against an estimate of 0 ± 0, once.
        (vec![-300.0, 0.0, -150.0], vec![2], -1.0),
        // The label's logit 8 above the other: dL/dz₁ = 3.353501e-4 (right), the estimate was
        // 3.353522e-4 (6e-6 off) with a bound that did not see Σ e^(z − m) ≈ 1 inside the
        // forward, while the loss is 3.4e-4.
        (vec![-8.0, 0.0], vec![1], -1.0),
    ];
    let mut failures = Vec::new();
    for (z, y, g) in cases {
        let context = format!("softmax_xent z {z:?} labels {y:?}");
        let z = from_vec(&[1, z.len()], z);
        let report = check(SoftmaxXent, vec![z, label_vector(&y)], &scalar(g));
        failures.extend(prop_assert_agrees(&report, &context).err());
    }
    // Every row confidently right: dL/dz₁₀ = dL/dL · (softmax − 1) / 3 = −7.675245e-9, which the
    // VJP and the Jacobian contraction both formed as a difference of numbers near 1/3: they
    // were 2.5e-9 apart, relative, and JACOBIAN_REL is 1e-12 of the result.
    let z = from_vec(
        &[3, 2],
        vec![
            0.0,
            -180.7450347145866,
            580.9121863171938,
            563.1794663425173,
            -178.86691768619187,
            0.0,
        ],
    );
    let report = check(
        SoftmaxXent,
        vec![z, label_vector(&[0, 0, 1])],
        &scalar(1.1572734028529346),
    );
    failures.extend(prop_assert_agrees(&report, "softmax_xent, three confident rows").err());
    assert!(failures.is_empty(), "{failures:#?}");
}
