//! The squared error's backward (Eq. 31b): the factors, signs and means students get wrong.

use gradverify::check;
use gradverify::verify::Diagnosis;
use gradverify::verify::hypotheses::law::Law;
use gradverify::verify::ops::sqerr;

use super::{assert_diagnosed, code_and_example, gradient};

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
    let half_missing = Diagnosis::Factor {
        factor: 2.0,
        meaning: sqerr::loss_meaning(&Law::Constant((2, 1))),
    };
    assert_diagnosed(&report, "f", half_missing.clone());
    assert_diagnosed(&report, "y", half_missing.clone());
    let text = half_missing.explanation();
    assert!(text.contains("missing ½") && text.contains("Eq. 34b"), "{text}");
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
