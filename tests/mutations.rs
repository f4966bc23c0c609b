//! The mutation suite: deliberately buggy backward functions, each of which the verifier must
//! catch with the right diagnosis, and correct variants (loops, the h > 0 mask, the a ≥ 0
//! subgradient) that it must pass.

use std::cell::Cell;

use gradverify::check::{self, NetworkGrads};
use gradverify::compare::Verdict;
use gradverify::mlp::MlpParams;
use gradverify::verify::{Config, Diagnosis, Fault, Problem, Report, Subject};
use ndarray::{Array1, Array2, Axis};

type LinearGrads = (Array2<f64>, Array2<f64>, Array1<f64>);

/// The finding for `what` (a gradient, the call, …), failing the test with the report if none.
#[track_caller]
fn finding<'r>(report: &'r Report, what: &Subject) -> &'r gradverify::verify::Finding {
    report
        .findings
        .iter()
        .find(|f| &f.what == what)
        .unwrap_or_else(|| panic!("no finding for {what:?}:\n{report}"))
}

/// Some finding of the report has this problem.
fn has_problem(report: &Report, problem: &Problem) -> bool {
    report.findings.iter().any(|f| &f.problem == problem)
}

/// The gradient of `input`.
fn gradient(input: &str) -> Subject {
    Subject::Gradient(input.to_owned())
}

/// A fault with this message, as the custom-op checker reports it.
fn failed(message: &str) -> Problem {
    Problem::Fault(Fault::Failed(message.to_owned()))
}

/// The input's gradient has a finding with this diagnosis.
#[track_caller]
fn assert_diagnosed(report: &Report, input: &str, diagnosis: Diagnosis) {
    assert!(!report.passed(), "a buggy backward passed:\n{report}");
    let found = finding(report, &gradient(input));
    assert_eq!(found.diagnosis.as_ref(), Some(&diagnosis), "{report}");
}

fn step(a: &Array2<f64>) -> Array2<f64> {
    a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

// ---------------------------------------------------------------- linear (Eq. 30b, 66, 70, 74)

fn linear_right(g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>) -> LinearGrads {
    (g.dot(&w.t()), h.t().dot(g), g.sum_axis(Axis(0)))
}

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
    assert_diagnosed(&report, "h", Diagnosis::WeightNotTransposed);
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
    assert_diagnosed(&report, "b", Diagnosis::BiasNotSummed);
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
    assert_diagnosed(&report, "W", Diagnosis::Factor(2.0));
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

// ---------------------------------------------------------------- relu (Eq. 29b, 47)

#[test]
fn correct_relu_backwards_pass_including_the_output_mask_and_the_other_subgradient() {
    check::relu(|g, a| g * &step(a)).assert_correct();
    check::relu(|g, a| {
        let h = a.mapv(|v| v.max(0.0));
        g * &h.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
    })
    .assert_correct();
    let at_zero_one = check::relu(|g, a| g * &a.mapv(|v| if v >= 0.0 { 1.0 } else { 0.0 }));
    at_zero_one.assert_correct();
    assert!(
        at_zero_one.notes.iter().any(|n| n.contains("relu'(0) = 1")),
        "{at_zero_one}"
    );
}

#[test]
fn a_backward_that_panics_only_on_a_zero_upstream_gradient_fails() {
    // PyTorch's gradcheck asks the same of a backward: an all-zero grad_output is a valid input.
    let report = check::relu(|g, a| {
        assert!(g.iter().any(|v| *v != 0.0), "no gradient to propagate");
        g * &step(a)
    });
    assert!(
        !report.passed(),
        "a backward that panics on zeros passed:\n{report}"
    );
    let found = finding(&report, &gradient("a"));
    assert!(
        matches!(&found.problem, Problem::Fault(Fault::Failed(m))
            if m.contains("no gradient to propagate") && m.contains("upstream gradient all zeros")),
        "{report}"
    );
}

#[test]
fn an_absolute_tolerance_that_excuses_everything_is_inconclusive_not_a_pass() {
    // --atol 100 excuses a linear backward that returns zeros (its right gradients are dense
    // and non-zero): nothing is certified, so it does not pass.
    let loose = Config::default().atol(100.0);
    let zeros = check::with(loose).linear(|g, h, w, _b| {
        let (dh, dw, db) = linear_right(g, h, w);
        (dh * 0.0, dw * 0.0, db * 0.0)
    });
    assert_eq!(zeros.verdict(), Verdict::Inconclusive, "{zeros}");
    assert!(!zeros.passed(), "{zeros}");
    let gradients: Vec<&str> = zeros.inconclusive.iter().map(|i| i.gradient.as_str()).collect();
    assert_eq!(gradients, ["dL/dh", "dL/dW", "dL/db"], "{zeros}");
    // The right backward under the same tolerance is certified, and passes.
    check::with(loose)
        .linear(|g, h, w, _b| linear_right(g, h, w))
        .assert_correct();
}

#[test]
fn a_missing_relu_mask_is_named() {
    assert_diagnosed(&check::relu(|g, _a| g.clone()), "a", Diagnosis::ReluMaskMissing);
}

#[test]
fn an_inverted_relu_mask_is_named() {
    assert_diagnosed(
        &check::relu(|g, a| g * &step(a).mapv(|t| 1.0 - t)),
        "a",
        Diagnosis::ReluMaskInverted,
    );
}

#[test]
fn a_relu_mask_taken_from_the_upstream_gradient_is_named() {
    assert_diagnosed(
        &check::relu(|g, _a| g * &step(g)),
        "a",
        Diagnosis::ReluMaskFromUpstream,
    );
}

#[test]
fn a_relu_backward_that_returns_the_mask_ignores_the_upstream_gradient() {
    assert_diagnosed(&check::relu(|_g, a| step(a)), "a", Diagnosis::UpstreamIgnored);
}

#[test]
fn a_negated_relu_backward_is_a_sign_flip() {
    assert_diagnosed(&check::relu(|g, a| -(g * &step(a))), "a", Diagnosis::SignFlipped);
}

// ---------------------------------------------------------------- sqerr (Eq. 31b)

#[test]
fn a_correct_sqerr_backward_passes() {
    check::sqerr(|gl, f, y| {
        let df = gl * (f - y);
        let dy = -&df;
        (df, dy)
    })
    .assert_correct();
}

#[test]
fn forgetting_the_half_doubles_both_gradients() {
    let report = check::sqerr(|gl, f, y| (2.0 * gl * (f - y), -2.0 * gl * (f - y)));
    assert_diagnosed(&report, "f", Diagnosis::Factor(2.0));
    assert_diagnosed(&report, "y", Diagnosis::Factor(2.0));
}

#[test]
fn a_sqerr_backward_that_drops_dl_dl_ignores_the_upstream_gradient() {
    let report = check::sqerr(|_gl, f, y| (f - y, y - f));
    assert_diagnosed(&report, "f", Diagnosis::UpstreamIgnored);
    assert_diagnosed(&report, "y", Diagnosis::UpstreamIgnored);
}

#[test]
fn a_dy_with_the_sign_of_df_is_a_sign_flip() {
    let report = check::sqerr(|gl, f, y| (gl * (f - y), gl * (f - y)));
    assert_diagnosed(&report, "y", Diagnosis::SignFlipped);
    assert!(
        report.findings.iter().all(|f| f.what != gradient("f")),
        "{report}"
    );
}

#[test]
fn a_df_of_y_minus_f_is_a_sign_flip() {
    let report = check::sqerr(|gl, f, y| (gl * (y - f), gl * (y - f)));
    assert_diagnosed(&report, "f", Diagnosis::SignFlipped);
}

#[test]
fn a_mean_squared_error_is_a_mean_over_elements() {
    let report = check::sqerr(|gl, f, y| {
        let n = f.len() as f64;
        (gl * (f - y) / n, gl * (y - f) / n)
    });
    assert_diagnosed(&report, "f", Diagnosis::MeanOverElements);
}

#[test]
fn a_loss_averaged_over_the_batch_is_a_mean_over_data_points() {
    let report = check::sqerr(|gl, f, y| {
        let b = f.nrows() as f64;
        (gl * (f - y) / b, gl * (y - f) / b)
    });
    assert_diagnosed(&report, "f", Diagnosis::MeanOverBatch);
}

/// The code of `input`'s diagnosis and the dims of its example (`B=2 D=3` → [2, 3]).
#[track_caller]
fn code_and_example(report: &Report, input: &str) -> (&'static str, Vec<usize>) {
    let found = finding(report, &gradient(input));
    let code = found
        .diagnosis
        .as_ref()
        .map(Diagnosis::code)
        .unwrap_or_else(|| panic!("no diagnosis for {input}:\n{report}"));
    let dims = found
        .smallest_shape
        .split_whitespace()
        .filter_map(|t| t.split_once('=')?.1.parse().ok())
        .collect();
    (code, dims)
}

#[test]
fn the_mean_squared_error_convention_is_named_at_b_and_d_above_one() {
    // `2 * (f - y) / f.size`: 2/(B·D), which reads as "2" at B = D = 1.
    let report = check::sqerr(|gl, f, y| {
        let n = f.len() as f64;
        (gl * 2.0 * (f - y) / n, gl * 2.0 * (y - f) / n)
    });
    for input in ["f", "y"] {
        let (code, dims) = code_and_example(&report, input);
        assert_eq!(code, "mse_convention", "{report}");
        assert!(dims[0] > 1 && dims[1] > 1, "{input}: {dims:?}\n{report}");
    }
    // `2 * (f - y) / B`: 2/B.
    let report = check::sqerr(|gl, f, y| {
        let b = f.nrows() as f64;
        (gl * 2.0 * (f - y) / b, gl * 2.0 * (y - f) / b)
    });
    let (code, dims) = code_and_example(&report, "f");
    assert_eq!(code, "mse_convention", "{report}");
    assert!(dims[0] > 2, "2/B is 1 at B = 2: {dims:?}\n{report}");
    assert!(report.to_string().contains("2/B"), "{report}");
}

#[test]
fn one_scalar_broadcast_to_every_element_is_named_not_a_sign_or_a_factor() {
    // `2 * mean(y - f)` answered for every element of dL/df.
    let report = check::sqerr(|gl, f, y| {
        let m = 2.0 * gl * (y - f).mean().expect("non-empty");
        (f.mapv(|_| m), f.mapv(|_| -m))
    });
    let (code, dims) = code_and_example(&report, "f");
    assert_eq!(code, "broadcast_scalar", "{report}");
    assert!(dims[0] * dims[1] > 1, "{dims:?}");
}

#[test]
fn a_float32_computation_is_named_and_passes_with_gradchecks_tolerances() {
    let f32_round = |a: Array2<f64>| a.mapv(|v| f64::from(v as f32));
    let relu32 = |g: &Array2<f64>, a: &Array2<f64>| {
        let (g, a) = (g.mapv(|v| v as f32), a.mapv(|v| v as f32));
        let out = ndarray::Zip::from(&g)
            .and(&a)
            .map_collect(|g, a| if *a > 0.0 { *g } else { 0.0 });
        f32_round(out.mapv(f64::from))
    };
    let report = check::relu(relu32);
    let (code, _) = code_and_example(&report, "a");
    assert_eq!(code, "float32", "{report}");
    assert!(report.to_string().contains("--rtol 1e-3 --atol 1e-5"), "{report}");
    // dL/da = Θ(a) ⊙ dL/dh is exact in float32 up to the rounding of dL/dh itself.
    check::with(Config::default().rtol(1e-3).atol(1e-5))
        .relu(relu32)
        .assert_correct();
}

#[test]
fn tolerances_excuse_what_they_should_and_no_more() {
    let off = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        let (dh, dw, db) = linear_right(g, h, w);
        (dh * (1.0 + 1e-5), dw, db)
    };
    assert!(!check::linear(off).passed());
    check::with(Config::default().rtol(1e-4))
        .linear(off)
        .assert_correct();
    // An absolute tolerance excuses small elements only: a 1e-5 relative error on elements of
    // order 1 is more than atol = 1e-9.
    assert!(!check::with(Config::default().atol(1e-9)).linear(off).passed());
}

// ---------------------------------------------------------------- the network (Eq. 32/37)

/// A student's whole backprop, with one of the bugs students write.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NetBug {
    None,
    Misprint32e,
    MaskMissingLayer2,
    MeanLoss,
    MseLoss,
    BiasB3FirstRowOnly,
    B1AndB2Swapped,
}

fn student_network(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams, bug: NetBug) -> NetworkGrads {
    let relu = |a: &Array2<f64>| a.mapv(|v| v.max(0.0));
    let a1 = x.dot(&p.w1) + &p.b1;
    let h1 = relu(&a1);
    let a2 = h1.dot(&p.w2) + &p.b2;
    let h2 = relu(&a2);
    let f = h2.dot(&p.w3) + &p.b3;
    let mut df = &f - y;
    if bug == NetBug::MeanLoss {
        df /= x.nrows() as f64;
    }
    if bug == NetBug::MseLoss {
        df *= 2.0 / df.len() as f64;
    }
    let (dw3, db3) = (
        h2.t().dot(&df),
        if bug == NetBug::BiasB3FirstRowOnly {
            df.row(0).to_owned()
        } else {
            df.sum_axis(Axis(0))
        },
    );
    let dh2 = df.dot(&p.w3.t());
    let da2 = if bug == NetBug::MaskMissingLayer2 {
        dh2.clone()
    } else {
        &dh2 * &step(&a2)
    };
    let (dw2, db2) = (h1.t().dot(&da2), da2.sum_axis(Axis(0)));
    let dh1 = da2.dot(&p.w2.t());
    let da1 = if bug == NetBug::Misprint32e {
        assert_eq!(dh2.dim(), a1.dim(), "Eq. 32e as printed needs D1 = D2");
        &dh2 * &step(&a2)
    } else {
        &dh1 * &step(&a1)
    };
    let (dw1, db1) = (x.t().dot(&da1), da1.sum_axis(Axis(0)));
    if bug == NetBug::B1AndB2Swapped {
        return (dw1, db2, dw2, db1, dw3, db3);
    }
    (dw1, db1, dw2, db2, dw3, db3)
}

#[test]
fn a_correct_hand_written_backprop_passes() {
    check::network(|x, y, p| student_network(x, y, p, NetBug::None)).assert_correct();
}

#[test]
fn the_misprint_of_eq_32e_is_recognised() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::Misprint32e));
    assert_diagnosed(&report, "W1", Diagnosis::Misprint32e);
    assert_diagnosed(&report, "b1", Diagnosis::Misprint32e);
    assert!(
        report
            .findings
            .iter()
            .all(|f| ![gradient("W2"), gradient("W3")].contains(&f.what)),
        "{report}"
    );
}

#[test]
fn a_relu_mask_left_out_of_the_backward_is_located() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MaskMissingLayer2));
    assert_diagnosed(&report, "W2", Diagnosis::NetworkMaskMissing(2));
    assert_diagnosed(&report, "W1", Diagnosis::NetworkMaskMissing(2));
}

#[test]
fn a_mean_loss_scales_every_gradient_by_one_over_b() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MeanLoss));
    for what in ["W1", "b1", "W2", "b2", "W3", "b3"] {
        assert_diagnosed(&report, what, Diagnosis::MeanOverBatch);
    }
}

#[test]
fn a_mean_squared_error_loss_blames_the_loss_for_all_six_gradients_with_one_example() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MseLoss));
    let mut examples = Vec::new();
    for what in ["W1", "b1", "W2", "b2", "W3", "b3"] {
        let found = finding(&report, &gradient(what));
        let codes = found.diagnosis.as_ref().map(Diagnosis::codes).unwrap_or_default();
        assert_eq!(codes, ["loss_factor", "mse_convention"], "{what}: {report}");
        examples.push(found.smallest_shape.clone());
    }
    assert!(examples.windows(2).all(|w| w[0] == w[1]), "{examples:?}");
    let dims: Vec<usize> = examples[0]
        .split_whitespace()
        .filter_map(|t| t.split_once('=')?.1.parse().ok())
        .collect();
    assert!(dims[0] > 1 && dims[4] > 1, "B and D3 above 1: {examples:?}");
}

#[test]
fn a_network_bias_not_summed_over_the_batch_is_correct_only_for_b_1() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::BiasB3FirstRowOnly));
    assert!(finding(&report, &gradient("b3")).only_batch_of_one, "{report}");
    assert_eq!(report.findings.len(), 1, "{report}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("layer 3 is the first wrong one")
                && n.contains("look at dL/db3 = Σ_rows dL/da3 (Eq. 74)")),
        "{report}"
    );
}

#[test]
fn swapped_gradients_are_recognised_as_another_parameters() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::B1AndB2Swapped));
    assert_diagnosed(&report, "b1", Diagnosis::SwappedWith("b2".to_owned()));
    assert_diagnosed(&report, "b2", Diagnosis::SwappedWith("b1".to_owned()));
}

// ---------------------------------------------------------------- a library author's own op

fn sin_forward(x: &[ndarray::ArrayD<f64>]) -> ndarray::ArrayD<f64> {
    x[0].mapv(f64::sin)
}

#[test]
fn a_custom_op_with_the_right_derivative_passes_and_with_a_wrong_one_fails() {
    let right = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0].mapv(f64::cos)];
    check::op("sin", &[&[2, 3]], sin_forward, right).assert_correct();
    let negated = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![-(g * &x[0].mapv(f64::cos))];
    assert_diagnosed(
        &check::op("sin", &[&[2, 3]], sin_forward, negated),
        "x0",
        Diagnosis::SignFlipped,
    );
    let ignores_upstream = |x: &[ndarray::ArrayD<f64>], _g: &ndarray::ArrayD<f64>| vec![x[0].mapv(f64::cos)];
    let report = check::op("sin", &[&[2, 3]], sin_forward, ignores_upstream);
    assert!(has_problem(&report, &Problem::NonZeroForZeroUpstream), "{report}");
}

#[test]
fn a_custom_op_returning_the_wrong_number_of_gradients_or_panicking_fails_with_a_message() {
    let two_inputs = |x: &[ndarray::ArrayD<f64>]| &x[0] * &x[1];
    let one_gradient = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[1]];
    let report = check::op("product", &[&[3], &[3]], two_inputs, one_gradient);
    let call = finding(&report, &Subject::Call);
    assert_eq!(
        call.problem,
        failed("the backward returned 1 gradients for 2 inputs")
    );

    let panicking =
        |_x: &[ndarray::ArrayD<f64>]| -> ndarray::ArrayD<f64> { panic!("shape mismatch in forward") };
    let any = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0]];
    let report = check::op("broken", &[&[2]], panicking, any);
    assert_eq!(
        finding(&report, &Subject::Call).problem,
        failed("the forward panicked: shape mismatch in forward")
    );
}

#[test]
fn a_custom_op_with_no_usable_shape_says_so() {
    let any = |x: &[ndarray::ArrayD<f64>], g: &ndarray::ArrayD<f64>| vec![g * &x[0]];
    let report = check::op("empty", &[&[0, 3]], sin_forward, any);
    let found = finding(&report, &Subject::Shapes);
    assert!(
        matches!(&found.problem, Problem::Fault(Fault::Failed(message)) if message.contains("[[0, 3]]") && message.contains("at least 1")),
        "{report}"
    );
}
