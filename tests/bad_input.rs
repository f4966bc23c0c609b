//! Bad input is an `Err` that names the op, the argument and the shapes or the value; never a
//! panic.

use gradverify::Error;
use gradverify::mlp::{self, MlpParams};
use gradverify::ops::{Linear, Op, linear, relu, sqerr};
use gradverify::tape::{Tape, Vjp, Wrt};
use ndarray::{Array1, Array2, ArrayD, Dimension, array};

#[test]
fn linear_names_w_and_both_shapes_when_h_and_w_do_not_fit() {
    let (h, w, b) = (Array2::zeros((2, 3)), Array2::zeros((4, 2)), Array1::zeros(2));
    let err = linear::forward(h.view(), w.view(), b.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear: argument `W` has shape [4, 2], expected 3 rows (the columns of h, which has shape [2, 3])"
    );
}

#[test]
fn linear_names_b_when_its_length_is_not_ws_columns() {
    let (h, w, b) = (Array2::zeros((2, 3)), Array2::zeros((3, 2)), Array1::zeros(5));
    let err = linear::backward(Array2::zeros((2, 2)).view(), h.view(), w.view(), b.view()).unwrap_err();
    assert!(
        matches!(&err, Error::Shape { op, arg, got, .. } if op == "linear" && arg == "b" && got == &[5]),
        "{err}"
    );
}

#[test]
fn linear_rejects_an_upstream_gradient_of_the_wrong_shape() {
    let (h, w, b) = (Array2::zeros((2, 3)), Array2::zeros((3, 2)), Array1::zeros(2));
    let err = linear::backward(Array2::zeros((3, 2)).view(), h.view(), w.view(), b.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear: argument `dL/da` has shape [3, 2], expected [2, 2]"
    );
}

#[test]
fn an_empty_batch_or_width_is_rejected() {
    let err = linear::forward(
        Array2::zeros((0, 3)).view(),
        Array2::zeros((3, 2)).view(),
        Array1::zeros(2).view(),
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear: argument `h` has shape [0, 3]; every dimension must be at least 1"
    );
    let err = relu::forward(Array2::<f64>::zeros((2, 0)).into_dyn().view()).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err}");
}

#[test]
fn nan_and_infinity_are_rejected_with_their_index() {
    let mut w = Array2::zeros((3, 2));
    w[[2, 1]] = f64::NAN;
    let err = linear::forward(Array2::zeros((1, 3)).view(), w.view(), Array1::zeros(2).view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear: argument `W` holds NaN at index [2, 1]; every value must be finite"
    );
    let a = array![[1.0, f64::INFINITY]].into_dyn();
    let err = relu::forward(a.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "relu: argument `a` holds inf at index [0, 1]; every value must be finite"
    );
    let err = sqerr::backward(f64::NAN, a.view(), a.view()).unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { arg, .. } if arg == "dL/dL"),
        "{err}"
    );
}

#[test]
fn sqerr_names_y_when_it_does_not_match_f() {
    let f = Array2::<f64>::zeros((2, 3)).into_dyn();
    let y = Array2::<f64>::zeros((3, 2)).into_dyn();
    let err = sqerr::forward(f.view(), y.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sqerr: argument `y` has shape [3, 2], expected [2, 3]"
    );
}

#[test]
fn relu_rejects_an_upstream_gradient_of_the_wrong_shape() {
    let a = Array2::<f64>::zeros((2, 3)).into_dyn();
    let g = Array2::<f64>::zeros((2, 2)).into_dyn();
    let err = relu::backward(g.view(), a.view()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "relu: argument `dL/dh` has shape [2, 2], expected [2, 3]"
    );
}

#[test]
fn the_network_says_which_layer_does_not_fit() {
    let params = MlpParams {
        w1: Array2::zeros((3, 4)),
        b1: Array1::zeros(4),
        w2: Array2::zeros((5, 2)),
        b2: Array1::zeros(2),
        w3: Array2::zeros((2, 1)),
        b3: Array1::zeros(1),
    };
    let err = mlp::loss_and_grads(
        &params,
        &Array2::zeros((2, 3)),
        &Array2::zeros((2, 1)),
        Wrt::Params,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "linear in `a2 = linear(h1, W2, b2)`: argument `W` has shape [5, 2], expected 4 rows (the columns of h, which has shape [2, 4])"
    );
    let params = MlpParams {
        w2: Array2::zeros((4, 2)),
        ..params
    };
    let err = mlp::loss_and_grads(
        &params,
        &Array2::zeros((2, 3)),
        &Array2::zeros((2, 7)),
        Wrt::Params,
    )
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "sqerr in `L = sqerr(f, y)`: argument `y` has shape [2, 7], expected [2, 1]"
    );
}

#[test]
fn the_tape_rejects_a_foreign_variable_and_a_non_scalar_loss() {
    let mut other = Tape::new();
    let foreign = other.param("w", array![[1.0]].into_dyn());
    let mut tape = Tape::new();
    let a = tape.param("a", array![[1.0, -1.0]].into_dyn());
    let err = tape.apply("h", gradverify::ops::Relu, &[foreign]).unwrap_err();
    assert!(matches!(err, Error::Tape(_)), "{err}");
    let h = tape.apply("h", gradverify::ops::Relu, &[a]).unwrap();
    let err = tape.backward(h).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tape: backward needs a scalar loss, but `h` has shape [1, 2]"
    );
    assert!(tape.backward(foreign).is_err());
}

#[test]
fn a_non_finite_cotangent_is_rejected_before_the_walk() {
    let mut tape = Tape::new();
    let a = tape.param("a", array![[1.0, -1.0]].into_dyn());
    let h = tape.apply("h", gradverify::ops::Relu, &[a]).unwrap();
    let err = tape
        .pullback(h, array![[1.0, f64::NAN]].into_dyn(), Wrt::Params, &Vjp)
        .unwrap_err();
    assert_eq!(
        err.to_string(),
        "pullback from `h`: argument `cotangent` holds NaN at index [0, 1]; every value must be finite"
    );
    assert!(
        tape.pullback(h, array![[1.0, 2.0]].into_dyn(), Wrt::Params, &Vjp)
            .is_ok()
    );
}

#[test]
fn a_gradient_taken_twice_is_an_error_the_second_time() {
    let mut tape = Tape::new();
    let f = tape.param("f", array![[3.0]].into_dyn());
    let y = tape.data("y", array![[1.0]].into_dyn());
    let loss = tape.apply("L", gradverify::ops::SqErr, &[f, y]).unwrap();
    let mut grads = tape.backward(loss).unwrap();
    assert_eq!(grads.take(&tape, f).unwrap(), array![[2.0]].into_dyn());
    let err = grads.take(&tape, f).unwrap_err();
    assert_eq!(err.to_string(), "tape: no gradient was computed for `f`");
    assert!(
        grads.take(&tape, y).is_err(),
        "y is data: no gradient without Wrt::ParamsAndData"
    );
}

#[test]
fn linear_names_every_non_finite_input_although_it_scans_only_its_output() {
    // Every position of h (2×3), W (3×2) and b (2), with NaN, +∞ and −∞, among zeros (so that
    // ∞·0 occurs) and among ones: the error names the argument and the index each time.
    for fill in [0.0, 1.0] {
        let clean = [&[2, 3][..], &[3, 2], &[2]].map(|shape| ArrayD::from_elem(shape, fill));
        for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
            for (k, arg) in ["h", "W", "b"].into_iter().enumerate() {
                for index in ndarray::indices(clean[k].raw_dim()) {
                    let mut inputs = clean.clone();
                    inputs[k][&index] = bad;
                    let err = Linear.forward(&inputs.each_ref().map(|a| a.view())).unwrap_err();
                    assert!(
                        matches!(&err, Error::NonFinite { arg: a, index: i, .. } if a == arg && i == index.slice()),
                        "{bad} in {arg} at {index:?} among {fill}s: {err}"
                    );
                }
            }
        }
    }
}

#[test]
fn finite_inputs_whose_product_overflows_pass_linear_and_stop_at_the_next_op() {
    let h = array![[1e200, 1e200]];
    let w = array![[1e200], [1e200]];
    let a = linear::forward(h.view(), w.view(), array![0.0].view()).unwrap();
    assert_eq!(a[[0, 0]], f64::INFINITY);
    let err = relu::forward(a.view().into_dyn()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "relu: argument `a` holds inf at index [0, 0]; every value must be finite"
    );
}

#[test]
fn linear_names_a_non_finite_input_in_matrices_large_enough_for_the_blocked_kernels() {
    // 37×70 by 70×53: several register blocks and edge blocks of the product's kernel. An
    // infinity among zeros only ever meets ∞·0 = NaN.
    let positions = [(0, 0), (36, 69), (17, 33), (5, 64)];
    for bad in [f64::NAN, f64::INFINITY] {
        for (i, j) in positions {
            let mut h = Array2::zeros((37, 70));
            h[[i, j]] = bad;
            let err = linear::forward(h.view(), Array2::zeros((70, 53)).view(), Array1::zeros(53).view())
                .unwrap_err();
            assert!(
                matches!(&err, Error::NonFinite { arg, index, .. } if arg == "h" && *index == [i, j]),
                "{bad} in h at ({i}, {j}): {err}"
            );
            let mut w = Array2::zeros((70, 53));
            w[[j, i]] = bad;
            let err = linear::forward(Array2::zeros((37, 70)).view(), w.view(), Array1::zeros(53).view())
                .unwrap_err();
            assert!(
                matches!(&err, Error::NonFinite { arg, index, .. } if arg == "W" && *index == [j, i]),
                "{bad} in W at ({j}, {i}): {err}"
            );
        }
    }
}
