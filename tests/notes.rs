//! The course notes as tests: the scalar network of Sec. 2 with numbers worked by hand, the two
//! compute graphs of Sec. 1 on the tape, the exercises' Jacobians and backward formulas, relu's
//! diagonal Jacobian, and the misprint in Eq. 32e/37e.

use gradverify::compare::{self, Tolerance};
use gradverify::mlp::{self, MlpParams};
use gradverify::ops::{Linear, SqErr, linear, relu};
use gradverify::random;
use gradverify::tape::{LeafKind, Tape, Wrt};
use ndarray::{Array1, Array2, ArrayD, ArrayViewD, array};

fn scalar(v: f64) -> ArrayD<f64> {
    array![[v]].into_dyn()
}

#[track_caller]
fn assert_close(actual: f64, expected: f64) {
    assert!(
        (actual - expected).abs() <= 1e-12 * expected.abs().max(1.0),
        "got {actual}, expected {expected}"
    );
}

/// Sec. 2, Eq. 14–26, with x = 2, y = 1 and
/// w1 = 0.5, b1 = 0.25:  a1 = 1.25, h1 = 1.25
/// w2 = 2,   b2 = −1:    a2 = 1.5,  h2 = 1.5
/// w3 = 3,   b3 = 0.5:   f  = 5,    L  = ½ (5 − 1)² = 8.
/// Backwards (Eq. 26): dL/df = 4; dL/dw3 = 4·h2 = 6, dL/db3 = 4; dL/dh2 = 4·w3 = 12 = dL/da2;
/// dL/dw2 = 12·h1 = 15, dL/db2 = 12; dL/dh1 = 12·w2 = 24 = dL/da1; dL/dw1 = 24·x = 48,
/// dL/db1 = 24; dL/dx = 24·w1 = 12.
#[test]
fn the_scalar_network_of_section_2_gives_the_hand_computed_gradients() {
    let params = MlpParams {
        w1: array![[0.5]],
        b1: array![0.25],
        w2: array![[2.0]],
        b2: array![-1.0],
        w3: array![[3.0]],
        b3: array![0.5],
    };
    let (x, y) = (array![[2.0]], array![[1.0]]);
    let net = mlp::record(&params, x.view(), y.view()).unwrap();
    assert_eq!(net.tape.leaves(LeafKind::Param), net.params);
    assert_eq!(net.tape.leaves(LeafKind::Data), [net.x, net.y]);
    let grads = net.tape.backward_wrt(net.loss, Wrt::ParamsAndData).unwrap();
    let g = |v| grads.get(v).unwrap().iter().copied().next().unwrap();
    assert_close(net.loss_value(), 8.0);
    let [w1, b1, w2, b2, w3, b3] = net.params;
    let expected = [
        (net.f, 4.0),
        (w3, 6.0),
        (b3, 4.0),
        (net.h2, 12.0),
        (net.a2, 12.0),
        (w2, 15.0),
        (b2, 12.0),
        (net.h1, 24.0),
        (net.a1, 24.0),
        (w1, 48.0),
        (b1, 24.0),
        (net.x, 12.0),
    ];
    for (var, value) in expected {
        assert_close(g(var), value);
    }
}

/// Eq. 4–6: f(x, y(x)) with y = 3x + 1 and f = x·y, so f = 3x² + x and
/// df/dx = ∂f/∂x + ∂f/∂y · ∂y/∂x = y + x·3 = 6x + 1 = 4 at x = 0.5. With L = ½ f², dL/dx = f · 4 = 5.
/// Keeping only one path would give 1.25·2.5 or 1.25·1.5: the tape must sum both.
#[test]
fn a_value_feeding_two_ops_sums_both_paths_eq_6() {
    let mut tape = Tape::new();
    let x = tape.param("x", scalar(0.5));
    let w = tape.data("w", scalar(3.0));
    let one = tape.data("1", array![1.0].into_dyn());
    let zero = tape.data("0", array![0.0].into_dyn());
    let target = tape.data("t", scalar(0.0));
    let y = tape.apply("y", Linear, &[x, w, one]).unwrap();
    let f = tape.apply("f", Linear, &[x, y, zero]).unwrap();
    let loss = tape.apply("L", SqErr, &[f, target]).unwrap();
    assert_close(tape.value(f)[[0, 0]], 1.25);
    let grads = tape.backward(loss).unwrap();
    assert_close(grads.get(x).unwrap()[[0, 0]], 5.0);
}

/// Eq. 10: f(x(t), y(t)) with x = 2t and y = 3 − t, f = x·y = 6t − 2t², so
/// df/dt = ∂f/∂x · dx/dt + ∂f/∂y · dy/dt = y·2 + x·(−1) = 6 − 4t = 4 at t = 0.5;
/// with L = ½ f² and f = 2.5, dL/dt = 10.
#[test]
fn a_value_reaching_the_loss_through_two_intermediates_sums_both_eq_10() {
    let mut tape = Tape::new();
    let t = tape.param("t", scalar(0.5));
    let (two, minus_one) = (tape.data("2", scalar(2.0)), tape.data("-1", scalar(-1.0)));
    let (zero, three) = (
        tape.data("0", array![0.0].into_dyn()),
        tape.data("3", array![3.0].into_dyn()),
    );
    let target = tape.data("target", scalar(0.0));
    let x = tape.apply("x", Linear, &[t, two, zero]).unwrap();
    let y = tape.apply("y", Linear, &[t, minus_one, three]).unwrap();
    let f = tape.apply("f", Linear, &[x, y, zero]).unwrap();
    let loss = tape.apply("L", SqErr, &[f, target]).unwrap();
    assert_close(tape.value(f)[[0, 0]], 2.5);
    assert_close(tape.backward(loss).unwrap().get(t).unwrap()[[0, 0]], 10.0);
}

fn exercise_inputs() -> (Array2<f64>, Array2<f64>, Array1<f64>) {
    let h = array![[0.3, -1.1, 2.0], [1.7, 0.4, -0.5]];
    let w = array![[0.9, -0.2], [0.1, 1.3], [-0.8, 0.6]];
    (h, w, array![0.05, -0.7])
}

/// Exercises 1–3: ∂a_j/∂h_α = W_αj (Eq. 56), ∂a_j/∂W_αβ = h_α δ_jβ (Eq. 60), ∂a_j/∂b_α = δ_jα
/// (Eq. 63), for every data point of a batch (no cross-talk between data points).
#[test]
fn the_linear_jacobians_are_those_of_exercises_1_to_3() {
    let (h, w, b) = exercise_inputs();
    let (batch, d_in, d_out) = (h.nrows(), w.nrows(), w.ncols());
    let jh = linear::jacobian_h(h.view(), w.view(), b.view()).unwrap();
    let jw = linear::jacobian_w(h.view(), w.view(), b.view()).unwrap();
    let jb = linear::jacobian_b(h.view(), w.view(), b.view()).unwrap();
    let delta = |p: usize, q: usize| if p == q { 1.0 } else { 0.0 };
    for n in 0..batch {
        for j in 0..d_out {
            let row = n * d_out + j;
            for m in 0..batch {
                for alpha in 0..d_in {
                    assert_eq!(jh[[row, m * d_in + alpha]], delta(n, m) * w[[alpha, j]]);
                }
            }
            for alpha in 0..d_in {
                for beta in 0..d_out {
                    assert_eq!(jw[[row, alpha * d_out + beta]], h[[n, alpha]] * delta(j, beta));
                }
            }
            for alpha in 0..d_out {
                assert_eq!(jb[[row, alpha]], delta(j, alpha));
            }
        }
    }
}

/// Exercises 4–6 in index notation: dL/dh_α = Σ_j W_αj dL/da_j (Eq. 65), dL/dW_αβ = h_α dL/da_β
/// (Eq. 69, summed over data points), dL/db_α = dL/da_α (Eq. 73, summed over data points): the
/// matrix forms of Eq. 66, 70 and 74 that `backward` uses must give the same numbers.
#[test]
fn the_linear_backward_is_that_of_exercises_4_to_6() {
    let (h, w, b) = exercise_inputs();
    let g = array![[0.4, -2.0], [1.5, 0.6]];
    let grads = linear::backward(g.view(), h.view(), w.view(), b.view()).unwrap();
    let (batch, d_in, d_out) = (h.nrows(), w.nrows(), w.ncols());
    for n in 0..batch {
        for alpha in 0..d_in {
            let expected: f64 = (0..d_out).map(|j| w[[alpha, j]] * g[[n, j]]).sum();
            assert_close(grads.h[[n, alpha]], expected);
        }
    }
    for alpha in 0..d_in {
        for beta in 0..d_out {
            let expected: f64 = (0..batch).map(|n| h[[n, alpha]] * g[[n, beta]]).sum();
            assert_close(grads.w[[alpha, beta]], expected);
        }
    }
    for alpha in 0..d_out {
        assert_close(grads.b[alpha], g.column(alpha).sum());
    }
}

/// Eq. 44: ∂h_j/∂a_α = δ_jα Θ(a_j), with Θ(0) = 0; and Eq. 47, its O(D) contraction.
#[test]
fn the_relu_jacobian_is_diagonal_with_the_step_function_eq_44() {
    let a = array![[1.5, -0.5, 0.0, 2.0e-300]].into_dyn();
    let jac = relu::jacobian(a.view()).unwrap();
    let theta = [1.0, 0.0, 0.0, 1.0];
    for i in 0..4 {
        for k in 0..4 {
            assert_eq!(jac[[i, k]], if i == k { theta[i] } else { 0.0 }, "J[{i}, {k}]");
        }
    }
    let g = array![[3.0, 4.0, 5.0, 6.0]].into_dyn();
    let da = relu::backward(g.view(), a.view()).unwrap();
    assert_eq!(da, array![[3.0, 0.0, 0.0, 6.0]].into_dyn());
}

/// The notes print Eq. 32e/37e as dL/da1 = relu.backward(dL/dh2; a2). The chain rule (Eq. 25e)
/// says dL/da1 = relu.backward(dL/dh1; a1). With D1 = D2 the misprint even type-checks; it gives
/// wrong gradients for W1 and b1, while the correct step reproduces the tape's.
#[test]
fn the_misprint_in_eq_32e_gives_wrong_gradients_and_the_correct_form_does_not() {
    let mut rng = random::case_rng(32, 5);
    let params = random::mlp_params(&mut rng, [3, 4, 4, 2]);
    let x = random::normal_matrix(&mut rng, 3, 3);
    let y = random::normal_matrix(&mut rng, 3, 2);
    let reference = mlp::loss_and_grads(&params, &x, &y, Wrt::Params).unwrap();

    // The forward pass (Eq. 33) and the backward of Eq. 37a–d, by hand from the op functions.
    let a1 = linear::forward(x.view(), params.w1.view(), params.b1.view()).unwrap();
    let h1 = relu::forward(a1.view().into_dyn()).unwrap();
    let h1 = h1.into_dimensionality().unwrap();
    let a2 = linear::forward(h1.view(), params.w2.view(), params.b2.view()).unwrap();
    let h2: Array2<f64> = relu::forward(a2.view().into_dyn())
        .unwrap()
        .into_dimensionality()
        .unwrap();
    let f = linear::forward(h2.view(), params.w3.view(), params.b3.view()).unwrap();
    let df = &f - &y;
    let g3 = linear::backward(df.view(), h2.view(), params.w3.view(), params.b3.view()).unwrap();
    let dh2 = g3.h.view().into_dyn();
    let da2 = relu::backward(dh2.view(), a2.view().into_dyn())
        .unwrap()
        .into_dimensionality()
        .unwrap();
    let g2 = linear::backward(da2.view(), h1.view(), params.w2.view(), params.b2.view()).unwrap();

    let first_layer = |da1: ArrayD<f64>| {
        let da1: Array2<f64> = da1.into_dimensionality().unwrap();
        linear::backward(da1.view(), x.view(), params.w1.view(), params.b1.view()).unwrap()
    };
    let correct = first_layer(relu::backward(g2.h.view().into_dyn(), a1.view().into_dyn()).unwrap());
    let misprint = first_layer(relu::backward(dh2, a2.view().into_dyn()).unwrap());

    let rel = |a: ArrayViewD<'_, f64>, e: ArrayViewD<'_, f64>| {
        compare::compare("", e, a, &Tolerance::uniform(0.0, 0.0)).array_rel_err()
    };
    assert!(rel(correct.w.view().into_dyn(), reference.w1.view().into_dyn()) < 1e-12);
    assert!(rel(correct.b.view().into_dyn(), reference.b1.view().into_dyn()) < 1e-12);
    let off = rel(misprint.w.view().into_dyn(), reference.w1.view().into_dyn());
    assert!(
        off > 0.1,
        "the misprint should be far off, it is {off:.2e} relative"
    );
}
