//! Property tests of the course's image and structure ops (conv2d, maxpool2d, embedding,
//! rnn_step): the reference VJP agrees with the Jacobian oracle and with central finite
//! differences over random shapes, values and cotangents; and a deliberately wrong VJP of each
//! is caught, so that the agreement means something.

use std::time::Instant;

use crate::common::{Wrong, cotangent, prop_assert_agrees, tensor};
use gradverify::error::Result;
use gradverify::ops::{Conv2d, Embedding, MaxPool2d, Op, RnnStep};
use gradverify::oracle::{self, OracleReport};
use ndarray::{ArrayD, ArrayViewD, Axis, IxDyn, s};
use proptest::prelude::*;

/// Cases per property: each is a full finite-difference check, a few milliseconds.
const CASES: u32 = 48;
/// At most this many images (N) and channels (C, F).
const MAX_BATCH: usize = 2;
const MAX_CHANNELS: usize = 3;
const MAX_FILTERS: usize = 3;
/// Kernels and pool windows are 1..=MAX_KERNEL on a side; outputs 1..=MAX_OUT on a side.
const MAX_KERNEL: usize = 3;
const MAX_OUT: usize = 3;
/// Embedding vocabularies of 1..=MAX_VOCAB rows, of width 1..=MAX_WIDTH.
const MAX_VOCAB: usize = 4;
const MAX_WIDTH: usize = 4;
/// Within a near-tie, the runner-up is this far below the maximum: far below the FD step.
const NEAR_TIE: f64 = 1e-9;

/// (op, [x, w, b], dL/dout) with shapes that divide exactly: H = (Ho − 1)·stride + HH − 2·pad.
fn conv_case() -> impl Strategy<Value = (Conv2d, Vec<ArrayD<f64>>, ArrayD<f64>)> {
    let dims = (
        1..=MAX_BATCH,
        1..=MAX_CHANNELS,
        1..=MAX_FILTERS,
        1..=MAX_KERNEL,
        1..=MAX_KERNEL,
    );
    (dims, 1..=2_usize, 0..=1_usize, 1..=MAX_OUT, 1..=MAX_OUT)
        .prop_filter(
            "a non-empty image",
            |&((_, _, _, hh, ww), stride, pad, ho, wo)| {
                (ho - 1) * stride + hh > 2 * pad && (wo - 1) * stride + ww > 2 * pad
            },
        )
        .prop_flat_map(|((n, c, f, hh, ww), stride, pad, ho, wo)| {
            let (h, w) = ((ho - 1) * stride + hh - 2 * pad, (wo - 1) * stride + ww - 2 * pad);
            (
                Just(Conv2d { stride, pad }),
                (
                    tensor(vec![n, c, h, w]),
                    tensor(vec![f, c, hh, ww]),
                    tensor(vec![f]),
                ),
                cotangent(vec![n, f, ho, wo]),
            )
                .prop_map(|(op, (x, w, b), g)| (op, vec![x, w, b], g))
        })
}

/// (op, x, dL/dout): windows that overlap (stride < pool) and that do not.
fn pool_case() -> impl Strategy<Value = (MaxPool2d, ArrayD<f64>, ArrayD<f64>)> {
    (
        1..=MAX_BATCH,
        1..=MAX_CHANNELS,
        1..=MAX_KERNEL,
        1..=2_usize,
        1..=MAX_OUT,
        1..=MAX_OUT,
    )
        .prop_flat_map(|(n, c, pool, stride, ho, wo)| {
            let (h, w) = ((ho - 1) * stride + pool, (wo - 1) * stride + pool);
            (
                Just(MaxPool2d { pool, stride }),
                tensor(vec![n, c, h, w]),
                cotangent(vec![n, c, ho, wo]),
            )
        })
}

/// (W, idx, dL/dout) with more lookups than rows, so that some index repeats.
fn embedding_case() -> impl Strategy<Value = (ArrayD<f64>, ArrayD<f64>, ArrayD<f64>)> {
    (1..=MAX_VOCAB, 1..=MAX_WIDTH, 1..=MAX_VOCAB).prop_flat_map(|(v, d, extra)| {
        let b = v + extra;
        let idx = proptest::collection::vec(0..v, b).prop_map(move |i| {
            ArrayD::from_shape_vec(IxDyn(&[b]), i.into_iter().map(|k| k as f64).collect()).expect("b")
        });
        (tensor(vec![v, d]), idx, cotangent(vec![b, d]))
    })
}

/// ([x, h, Wx, Wh, b], dL/dh').
fn rnn_case() -> impl Strategy<Value = (Vec<ArrayD<f64>>, ArrayD<f64>)> {
    (1..=MAX_BATCH + 1, 1..=MAX_WIDTH, 1..=MAX_WIDTH).prop_flat_map(|(b, d, h)| {
        (
            (
                tensor(vec![b, d]),
                tensor(vec![b, h]),
                tensor(vec![d, h]),
                tensor(vec![h, h]),
                tensor(vec![h]),
            ),
            cotangent(vec![b, h]),
        )
            .prop_map(|((x, h0, wx, wh, bias), g)| (vec![x, h0, wx, wh, bias], g))
    })
}

fn check(op: impl Op + 'static, inputs: Vec<ArrayD<f64>>, g: &ArrayD<f64>) -> OracleReport {
    oracle::check_op(op, inputs, g.view()).expect("shapes fit by construction")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: CASES, ..ProptestConfig::default() })]

    #[test]
    fn conv2d_vjp_agrees_with_both_oracles((op, inputs, g) in conv_case()) {
        let context = format!("conv2d {op:?} x {:?} w {:?}", inputs[0].shape(), inputs[1].shape());
        prop_assert_agrees(&check(op, inputs, &g), &context)?;
    }

    #[test]
    fn maxpool2d_vjp_agrees_with_both_oracles((op, x, g) in pool_case()) {
        let context = format!("maxpool2d {op:?} x {:?}", x.shape());
        prop_assert_agrees(&check(op, vec![x], &g), &context)?;
    }

    #[test]
    fn maxpool2d_near_ties_are_excluded_not_failed((op, mut x, g) in pool_case()) {
        // Every element's right-hand neighbour (where it has one) a hair below it: every window
        // wider than one column holds near-ties whose argmax a finite-difference step flips.
        let w = x.shape()[3];
        for k in 1..w {
            let left = x.slice(s![.., .., .., k - 1]).to_owned();
            x.slice_mut(s![.., .., .., k]).assign(&(left - NEAR_TIE));
        }
        let context = format!("maxpool2d near ties {op:?} x {:?}", x.shape());
        let report = check(op, vec![x], &g);
        prop_assert!(report.is_ok(), "{context}: {:?}", report.vs_finite_diff);
    }

    #[test]
    fn embedding_vjp_agrees_with_both_oracles((w, idx, g) in embedding_case()) {
        let context = format!("embedding W {:?} idx {idx}", w.shape());
        prop_assert_agrees(&check(Embedding, vec![w, idx], &g), &context)?;
    }

    #[test]
    fn rnn_step_vjp_agrees_with_both_oracles((inputs, g) in rnn_case()) {
        let context = format!("rnn_step x {:?} h {:?}", inputs[0].shape(), inputs[1].shape());
        prop_assert_agrees(&check(RnnStep, inputs, &g), &context)?;
    }
}

/// Deterministic, distinct, non-symmetric values.
fn filled(shape: &[usize], seed: usize) -> ArrayD<f64> {
    let len: usize = shape.iter().product();
    let v = (0..len)
        .map(|k| (((k + seed) * 7919 % 1009) as f64) / 500.0 - 1.0)
        .collect();
    ArrayD::from_shape_vec(IxDyn(shape), v).expect("len")
}

fn assert_caught(op: impl Op + 'static, inputs: Vec<ArrayD<f64>>, g: &ArrayD<f64>, what: &str) {
    let report = check(op, inputs, g);
    assert!(!report.is_ok(), "{what}: the wrong VJP passed");
    assert!(
        report.vs_finite_diff.iter().any(|c| !c.is_ok()),
        "{what}: finite differences missed it"
    );
}

#[test]
fn a_conv2d_vjp_with_the_kernel_flipped_is_caught() {
    fn flipped(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let w = inputs[1].slice(s![.., .., ..;-1, ..;-1]).to_owned().into_dyn();
        op.vjp(&[inputs[0].view(), w.view(), inputs[2].view()], g, wanted)
    }
    let op = Wrong {
        inner: Conv2d { stride: 1, pad: 1 },
        vjp: flipped,
    };
    let inputs = vec![
        filled(&[1, 2, 4, 5], 1),
        filled(&[2, 2, 3, 3], 2),
        filled(&[2], 3),
    ];
    assert_caught(op, inputs, &filled(&[1, 2, 4, 5], 4), "conv2d, flipped kernel");
}

#[test]
fn a_maxpool2d_vjp_that_spreads_the_gradient_over_the_window_is_caught() {
    fn spread(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        _: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let _ = op;
        let (pool, stride) = (2, 1);
        let mut dx = ArrayD::zeros(inputs[0].raw_dim());
        for ((n, c, i, j), &v) in g
            .into_dimensionality::<ndarray::Ix4>()
            .expect("4-D")
            .indexed_iter()
        {
            let area = (pool * pool) as f64;
            dx.slice_mut(s![
                n,
                c,
                i * stride..i * stride + pool,
                j * stride..j * stride + pool
            ])
            .mapv_inplace(|d| d + v / area);
        }
        Ok(vec![Some(dx)])
    }
    let op = Wrong {
        inner: MaxPool2d { pool: 2, stride: 1 },
        vjp: spread,
    };
    assert_caught(
        op,
        vec![filled(&[1, 2, 4, 3], 5)],
        &filled(&[1, 2, 3, 2], 6),
        "maxpool2d, spread",
    );
}

#[test]
fn an_embedding_vjp_that_overwrites_repeated_rows_is_caught() {
    fn overwrite(
        _: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        _: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let mut dw = ArrayD::zeros(inputs[0].raw_dim());
        for (&v, row) in inputs[1].iter().zip(g.axis_iter(Axis(0))) {
            dw.index_axis_mut(Axis(0), v as usize).assign(&row);
        }
        Ok(vec![Some(dw), None])
    }
    let op = Wrong {
        inner: Embedding,
        vjp: overwrite,
    };
    let idx = ArrayD::from_shape_vec(IxDyn(&[4]), vec![1.0, 0.0, 1.0, 2.0]).expect("4");
    assert_caught(
        op,
        vec![filled(&[3, 2], 7), idx],
        &filled(&[4, 2], 8),
        "embedding, overwrite",
    );
}

#[test]
fn an_rnn_step_vjp_without_the_tanh_derivative_is_caught() {
    fn no_slope(
        op: &dyn Op,
        inputs: &[ArrayViewD<'_, f64>],
        g: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let out = op.forward(inputs)?;
        let undone = &g / &out.mapv(|v| 1.0 - v * v);
        op.vjp(inputs, undone.view(), wanted)
    }
    let op = Wrong {
        inner: RnnStep,
        vjp: no_slope,
    };
    let inputs = vec![
        filled(&[2, 3], 1),
        filled(&[2, 2], 2),
        filled(&[3, 2], 3),
        filled(&[2, 2], 4),
        filled(&[2], 5),
    ];
    assert_caught(op, inputs, &filled(&[2, 2], 6), "rnn_step, no tanh derivative");
}

#[test]
fn a_full_check_of_conv2d_at_n2_c3_8x8_f4_3x3_passes_quickly() {
    let inputs = vec![
        filled(&[2, 3, 8, 8], 1),
        filled(&[4, 3, 3, 3], 2),
        filled(&[4], 3),
    ];
    let g = filled(&[2, 4, 8, 8], 4);
    let start = Instant::now();
    let report = check(Conv2d { stride: 1, pad: 1 }, inputs, &g);
    let elapsed = start.elapsed();
    eprintln!("conv2d full check N=2 C=3 8×8 F=4 3×3: {elapsed:?}");
    prop_assert_agrees(&report, "conv2d 2×3×8×8").expect("agrees");
}

#[test]
fn a_saturated_rnn_step_whose_steps_do_not_move_its_outputs_is_bounded_by_their_rounding() {
    // tanh(x Wx + h Wh + b) with column 0 of b at 16: tanh is within 1e-13 of 1 there, so every
    // step of Wx[.., 0] leaves the output exactly unchanged, while the true gradient, through
    // 1 − tanh², is about 1e-13. The difference 0 is only known to within the output's own
    // rounding: a VJP of 1e-13 agrees with it, not failed as a rel err of 1.
    let (b, d, h) = (1, 3, 4);
    let mut bias = filled(&[h], 5);
    bias[0] = 16.0;
    let inputs = vec![
        filled(&[b, d], 1),
        filled(&[b, h], 2),
        filled(&[d, h], 3),
        filled(&[h, h], 4),
        bias,
    ];
    let report = check(RnnStep, inputs, &filled(&[b, h], 6));
    let vjp = &report.vs_finite_diff[2];
    assert!(vjp.is_ok(), "dL/dWx: {vjp:?}");
}
