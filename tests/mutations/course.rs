//! The course's ops checked from Rust by name (`check::op_named`): a right backward in a
//! student's style passes; the bugs students write fail with their own codes; a name the
//! catalogue does not have, or the network, is an error that says what there is.

use gradverify::check;
use ndarray::{Array2, ArrayD, ArrayViewD, Axis, Ix2};

use super::{finding, gradient};

/// The code of `input`'s diagnosis in a failing report.
#[track_caller]
fn code_of(report: &gradverify::verify::Report, input: &str) -> &'static str {
    assert!(!report.passed(), "a buggy backward passed:\n{report}");
    let found = finding(report, &gradient(input));
    found.diagnosis.as_ref().map_or("", |d| d.code())
}

fn matrix(a: &ArrayViewD<'_, f64>) -> Array2<f64> {
    a.to_owned().into_dimensionality::<Ix2>().expect("a matrix")
}

/// softmax(z) row by row, the max subtracted.
fn softmax(z: &Array2<f64>) -> Array2<f64> {
    let mut p = z.clone();
    for mut row in p.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let total = row.sum();
        row.mapv_inplace(|v| v / total);
    }
    p
}

/// dL/dz of softmax cross-entropy, the one-hot subtracted or (`onehot = false`) not.
fn softmax_xent(g: ArrayViewD<'_, f64>, xs: &[ArrayViewD<'_, f64>], onehot: bool) -> Vec<ArrayD<f64>> {
    let (z, labels) = (matrix(&xs[0]), &xs[1]);
    let mut dz = softmax(&z);
    if onehot {
        for (mut row, &y) in dz.rows_mut().into_iter().zip(labels.iter()) {
            row[y as usize] -= 1.0;
        }
    }
    let scale = g.first().copied().unwrap_or(0.0) / z.nrows() as f64;
    vec![(dz * scale).into_dyn()]
}

#[test]
fn a_right_softmax_xent_passes_and_one_without_the_one_hot_is_named() {
    check::op_named("softmax_xent", |g, xs, _| softmax_xent(g, xs, true))
        .expect("a catalogue op")
        .assert_correct();
    let report =
        check::op_named("softmax_xent", |g, xs, _| softmax_xent(g, xs, false)).expect("a catalogue op");
    assert_eq!(code_of(&report, "z"), "onehot_missing", "{report}");
}

#[test]
fn dropout_without_its_scale_is_named_and_with_it_passes() {
    let dropout = |scaled: bool| {
        move |g: ArrayViewD<'_, f64>, xs: &[ArrayViewD<'_, f64>], attrs: &[f64]| {
            let kept = &g * &xs[1];
            vec![if scaled { kept / (1.0 - attrs[0]) } else { kept }]
        }
    };
    check::op_named("dropout", dropout(true))
        .expect("a catalogue op")
        .assert_correct();
    let report = check::op_named("dropout", dropout(false)).expect("a catalogue op");
    assert_eq!(code_of(&report, "x"), "dropout_scale", "{report}");
}

#[test]
fn an_embedding_that_overwrites_repeated_rows_is_named_and_one_that_sums_passes() {
    let embedding = |sum: bool| {
        move |g: ArrayViewD<'_, f64>, xs: &[ArrayViewD<'_, f64>], _: &[f64]| {
            let (w, g) = (&xs[0], matrix(&g));
            let mut dw = Array2::zeros((w.shape()[0], w.shape()[1]));
            for (&i, row) in xs[1].iter().zip(g.axis_iter(Axis(0))) {
                let mut target = dw.row_mut(i as usize);
                if sum {
                    target += &row;
                } else {
                    target.assign(&row);
                }
            }
            vec![dw.into_dyn()]
        }
    };
    check::op_named("embedding", embedding(true))
        .expect("a catalogue op")
        .assert_correct();
    let report = check::op_named("embedding", embedding(false)).expect("a catalogue op");
    assert_eq!(code_of(&report, "W"), "fanout_overwrite", "{report}");
}

#[test]
fn each_course_op_has_its_check_named_after_it() {
    let right_tanh = |g: ArrayViewD<'_, f64>, xs: &[ArrayViewD<'_, f64>], _: &[f64]| {
        vec![&g * &xs[0].mapv(|a| 1.0 - a.tanh() * a.tanh())]
    };
    check::tanh(right_tanh).assert_correct();
    let report = check::sigmoid(right_tanh);
    assert_eq!(report.op, "sigmoid");
    assert!(!report.passed(), "tanh's backward passed as sigmoid's:\n{report}");
}

mod written_by_the_macro {
    use ndarray::{ArrayD, ArrayViewD};

    fn dropout_backward(
        g: ArrayViewD<'_, f64>,
        xs: &[ArrayViewD<'_, f64>],
        attrs: &[f64],
    ) -> Vec<ArrayD<f64>> {
        vec![&g * &xs[1] / (1.0 - attrs[0])]
    }

    gradverify::backward_tests!(dropout: dropout_backward);
}

#[test]
fn tanh_with_its_derivative_at_the_input_is_named() {
    let report =
        check::op_named("tanh", |g, xs, _| vec![&g * &xs[0].mapv(|a| 1.0 - a * a)]).expect("a catalogue op");
    assert_eq!(code_of(&report, "a"), "derivative_at_input", "{report}");
}

#[test]
fn an_unknown_name_or_the_network_is_an_error_that_says_what_there_is() {
    let none = |_: ArrayViewD<'_, f64>, _: &[ArrayViewD<'_, f64>], _: &[f64]| Vec::new();
    let unknown = check::op_named("no_such_op", none).unwrap_err().to_string();
    assert!(
        unknown.contains("no_such_op") && unknown.contains("conv2d"),
        "{unknown}"
    );
    let network = check::op_named("mlp", none).unwrap_err().to_string();
    assert!(network.contains("check::network"), "{network}");
}

#[test]
fn a_backward_that_returns_too_few_gradients_fails() {
    let report = check::op_named("batchnorm", |g, _, _| vec![g.to_owned()]).expect("a catalogue op");
    assert!(!report.passed(), "{report}");
    let text = report.to_string();
    assert!(
        text.contains("returned 1 gradients; expected 3, of x, gamma, beta"),
        "{text}"
    );
}
