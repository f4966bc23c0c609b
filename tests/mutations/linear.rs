//! The linear layer's backward (Eq. 30b, 66, 70, 74): a right one written two ways, and the
//! bugs it must catch, from a transposed weight to loops that overwrite instead of summing.

use std::cell::Cell;

use gradverify::check;
use gradverify::verify::ops::linear;
use gradverify::verify::{Diagnosis, Fault, Problem, Subject};
use ndarray::{Array1, Array2, Axis};

use super::{assert_diagnosed, finding, gradient, has_problem, linear_right};

#[test]
fn correct_linear_backwards_pass_with_matrix_products_and_with_loops() {
    check::linear(|g, h, w, _b| linear_right(g, h, w)).assert_correct();
    let loops = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        let (batch, d_in, d_out) = (h.nrows(), w.nrows(), w.ncols());
        let mut dh = Array2::zeros((batch, d_in));
        let mut dw = Array2::zeros((d_in, d_out));
        let mut db = Array1::zeros(d_out);
        for n in 0..batch {
            for j in 0..d_out {
                db[j] += g[[n, j]];
                for i in 0..d_in {
                    dh[[n, i]] += w[[i, j]] * g[[n, j]];
                    dw[[i, j]] += h[[n, i]] * g[[n, j]];
                }
            }
        }
        (dh, dw, db)
    };
    check::linear(loops).assert_correct();
}

#[test]
fn w_not_transposed_fails_on_square_shapes_and_panics_on_the_others() {
    let report = check::linear(|g, h, w, _b| (g.dot(w), h.t().dot(g), g.sum_axis(Axis(0))));
    assert_diagnosed(&report, "h", Diagnosis::Bug(&linear::W_NOT_TRANSPOSED));
    // At Din = Dout = 1, W equals its transpose: the smallest shape that shows the bug is 2 × 2.
    assert_eq!(
        finding(&report, &gradient("h")).smallest_shape,
        "B=1 Din=2 Dout=2",
        "{report}"
    );
    let call = finding(&report, &Subject::Call);
    assert!(
        matches!(&call.problem, Problem::Fault(Fault::Panicked(_))),
        "{report}"
    );
}

#[test]
fn a_transposed_dw_is_caught_by_shape_and_on_square_shapes_by_value() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), g.t().dot(h), g.sum_axis(Axis(0))));
    assert_diagnosed(&report, "W", Diagnosis::Transposed);
}

#[test]
fn a_bias_gradient_from_the_first_row_only_is_correct_only_for_b_1() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), h.t().dot(g), g.row(0).to_owned()));
    assert_diagnosed(&report, "b", Diagnosis::Bug(&linear::BIAS_NOT_SUMMED));
    let found = finding(&report, &gradient("b"));
    assert!(found.only_batch_of_one);
    assert!(
        found.smallest_shape.starts_with("B=2"),
        "shrinks to two data points: {report}"
    );
}

#[test]
fn a_bias_gradient_averaged_over_the_batch_is_a_mean_instead_of_a_sum() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), h.t().dot(g), g.mean_axis(Axis(0)).unwrap()));
    assert_diagnosed(&report, "b", Diagnosis::MeanOverBatch);
}

#[test]
fn a_weight_gradient_averaged_over_the_batch_is_a_mean_instead_of_a_sum() {
    let report = check::linear(|g, h, w, _b| {
        (
            g.dot(&w.t()),
            h.t().dot(g) / h.nrows() as f64,
            g.sum_axis(Axis(0)),
        )
    });
    assert_diagnosed(&report, "W", Diagnosis::MeanOverBatch);
}

#[test]
fn a_flipped_sign_on_dw_is_named() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), -h.t().dot(g), g.sum_axis(Axis(0))));
    assert_diagnosed(&report, "W", Diagnosis::SignFlipped);
}

#[test]
fn a_doubled_dw_is_a_factor_of_two() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), 2.0 * h.t().dot(g), g.sum_axis(Axis(0))));
    let factor = Diagnosis::Factor {
        factor: 2.0,
        meaning: None,
    };
    assert_diagnosed(&report, "W", factor.clone());
    // A 2 in linear is no ½ of sqerr's loss missing: linear's report says nothing of L.
    let text = factor.explanation();
    assert!(!text.contains('½') && !text.contains("(f − y)"), "{text}");
}

#[test]
fn dh_computed_from_an_upstream_of_ones_ignores_the_upstream_gradient() {
    let report = check::linear(|g, h, w, _b| {
        let ones = Array2::ones(g.raw_dim());
        (ones.dot(&w.t()), h.t().dot(g), g.sum_axis(Axis(0)))
    });
    assert_diagnosed(&report, "h", Diagnosis::UpstreamIgnored);
    assert!(has_problem(&report, &Problem::NonZeroForZeroUpstream), "{report}");
}

#[test]
fn a_zero_bias_gradient_is_all_zero() {
    let report = check::linear(|g, h, w, _b| (g.dot(&w.t()), h.t().dot(g), Array1::zeros(w.ncols())));
    assert_diagnosed(&report, "b", Diagnosis::AllZero);
}

#[test]
fn a_loop_that_stops_one_column_short_zeroes_the_last_column_of_dh() {
    let report = check::linear(|g, h, w, _b| {
        let mut dh = g.dot(&w.t());
        dh.column_mut(h.ncols() - 1).fill(0.0);
        (dh, h.t().dot(g), g.sum_axis(Axis(0)))
    });
    assert_diagnosed(&report, "h", Diagnosis::ColumnZero { last: true });
}

#[test]
fn a_loop_that_stops_one_row_short_zeroes_the_last_row_of_dw() {
    let report = check::linear(|g, h, w, _b| {
        let mut dw = h.t().dot(g);
        dw.row_mut(w.nrows() - 1).fill(0.0);
        (g.dot(&w.t()), dw, g.sum_axis(Axis(0)))
    });
    assert_diagnosed(&report, "W", Diagnosis::RowZero { last: true });
}

#[test]
fn a_dh_from_the_first_data_point_only_is_correct_only_for_b_1() {
    let report = check::linear(|g, h, w, _b| {
        let first = g.row(0).dot(&w.t());
        let dh = Array2::from_shape_fn(h.raw_dim(), |(_, i)| first[i]);
        (dh, h.t().dot(g), g.sum_axis(Axis(0)))
    });
    let found = finding(&report, &gradient("h"));
    assert!(found.only_batch_of_one, "{report}");
    assert_eq!(found.diagnosis, None, "{report}");
}

#[test]
fn a_stateful_backward_is_non_deterministic() {
    let calls = Cell::new(0u32);
    let report = check::linear(|g, h, w, _b| {
        calls.set(calls.get() + 1);
        let (dh, dw, db) = linear_right(g, h, w);
        (dh, dw, db + 1e-6 * f64::from(calls.get()))
    });
    assert!(
        report
            .findings
            .iter()
            .any(|f| f.problem == Problem::NonDeterministic
                && match &f.what {
                    Subject::Gradient(input) => input == "b",
                    Subject::Gradients(inputs) => inputs.iter().any(|i| i == "b"),
                    _ => false,
                }),
        "{report}"
    );
    assert!(
        report
            .findings
            .iter()
            .filter(|f| f.problem == Problem::NonDeterministic)
            .all(|f| f.diagnosis.as_ref().map(Diagnosis::code) == Some("nondeterministic")),
        "{report}"
    );
}

#[test]
fn a_panicking_backward_fails_every_case_with_its_message() {
    let report = check::linear(|_g, _h, _w, _b| panic!("linear_backward is not written yet"));
    let call = finding(&report, &Subject::Call);
    assert_eq!(
        call.problem,
        Problem::Fault(Fault::Panicked("linear_backward is not written yet".to_owned()))
    );
    assert_eq!(call.failed, report.cases);
    assert_eq!(
        call.smallest_shape, "B=1 Din=1 Dout=1",
        "shrunk to the smallest shape"
    );
}

#[test]
fn a_nan_in_a_gradient_is_reported_as_such() {
    let report = check::linear(|g, h, w, _b| {
        let (mut dh, dw, db) = linear_right(g, h, w);
        dh[[0, 0]] = f64::NAN;
        (dh, dw, db)
    });
    assert_eq!(
        finding(&report, &gradient("h")).problem,
        Problem::NonFinite,
        "{report}"
    );
    // Deterministic: the same NaN every time, and NaN · 0 is no sign of an ignored upstream.
    assert_eq!(report.findings.len(), 1, "{report}");
    let text = report.to_string();
    assert!(!text.contains("stateful or random"), "{text}");
    assert!(!text.contains("zero upstream"), "{text}");
}

#[test]
fn a_nan_only_for_a_zero_upstream_gradient_is_still_reported() {
    // 0/0 where the upstream is zero: the main call is right, the zero-upstream call is not.
    let report = check::linear(|g, h, w, _b| {
        let (dh, dw, db) = linear_right(g, h, w);
        let scale = g.mapv(f64::abs).sum();
        (dh, dw * (scale / scale), db)
    });
    assert!(has_problem(&report, &Problem::NonZeroForZeroUpstream), "{report}");
}

#[test]
fn contributions_overwritten_in_the_loops_are_a_fan_out_not_a_batch_of_one() {
    let overwrite = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        let (batch, d_in, d_out) = (h.nrows(), w.nrows(), w.ncols());
        let mut dh = Array2::zeros((batch, d_in));
        let mut dw = Array2::zeros((d_in, d_out));
        let mut db = Array1::zeros(d_out);
        for k in 0..batch {
            for j in 0..d_out {
                db[j] = g[[k, j]];
                for i in 0..d_in {
                    dw[[i, j]] = h[[k, i]] * g[[k, j]];
                    dh[[k, i]] = g[[k, j]] * w[[i, j]];
                }
            }
        }
        (dh, dw, db)
    };
    let report = check::linear(overwrite);
    for (input, summed_over) in [("W", 0), ("b", 0), ("h", 2)] {
        let found = finding(&report, &gradient(input));
        assert!(
            matches!(found.diagnosis, Some(Diagnosis::FanoutOverwrite(_))),
            "{input}: {report}"
        );
        assert_eq!(
            found.diagnosis.as_ref().map(Diagnosis::code),
            Some("fanout_overwrite")
        );
        let dims: Vec<usize> = found
            .smallest_shape
            .split_whitespace()
            .filter_map(|t| t.split_once('=')?.1.parse().ok())
            .collect();
        assert!(dims[summed_over] > 1, "{input}: {}", found.smallest_shape);
    }
    let text = report.to_string();
    assert!(!text.contains("correct only when B = 1"), "{text}");
    assert!(!text.contains("stateful or random"), "{text}");
}
