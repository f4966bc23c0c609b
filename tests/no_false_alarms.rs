//! A correct implementation is never flagged: over 10,000 random cases of the four ops' correct
//! backwards (2,500 each), plus correct variants (the output mask h > 0, the a ≥ 0 subgradient,
//! loops), and custom ops with kinks and curvature checked against their own finite differences.

use gradverify::check::{self, NetworkGrads};
use gradverify::mlp::{self, MlpParams};
use gradverify::tape::Wrt;
use gradverify::verify::{Config, Report};
use ndarray::{Array1, Array2, ArrayD, Axis};

/// Cases per op: 4 × 2,500 = 10,000 for the four correct backwards.
const CASES_PER_OP: usize = 2_500;

fn config(seed: u64) -> Config {
    Config::default().cases(CASES_PER_OP).seed(seed)
}

#[track_caller]
fn assert_never_flagged(report: Report) {
    assert_eq!(report.cases, CASES_PER_OP);
    report.assert_correct();
}

#[test]
fn a_correct_linear_backward_is_never_flagged() {
    assert_never_flagged(
        check::with(config(11)).linear(|g, h, w, _b| (g.dot(&w.t()), h.t().dot(g), g.sum_axis(Axis(0)))),
    );
}

#[test]
fn a_correct_relu_backward_is_never_flagged_nor_its_correct_variants() {
    let step = |a: &Array2<f64>, at_zero: f64| {
        a.mapv(|v| {
            if v > 0.0 {
                1.0
            } else if v == 0.0 {
                at_zero
            } else {
                0.0
            }
        })
    };
    assert_never_flagged(check::with(config(12)).relu(|g, a| g * &step(a, 0.0)));
    let fewer = Config::default().cases(500).seed(13);
    check::with(fewer).relu(|g, a| g * &step(a, 1.0)).assert_correct();
    check::with(fewer)
        .relu(|g, a| g * &a.mapv(|v| v.max(0.0)).mapv(|h| if h > 0.0 { 1.0 } else { 0.0 }))
        .assert_correct();
}

#[test]
fn a_correct_sqerr_backward_is_never_flagged() {
    assert_never_flagged(check::with(config(14)).sqerr(|gl, f, y| (gl * (f - y), gl * (y - f))));
}

fn reference_network(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams) -> NetworkGrads {
    let g = mlp::loss_and_grads(p, x, y, Wrt::Params).expect("the verifier's shapes fit");
    (g.w1, g.b1, g.w2, g.b2, g.w3, g.b3)
}

#[test]
fn a_correct_network_backprop_is_never_flagged() {
    assert_never_flagged(check::with(config(15)).network(reference_network));
}

#[test]
fn a_correct_linear_backward_written_with_loops_is_never_flagged() {
    let loops = |g: &Array2<f64>, h: &Array2<f64>, w: &Array2<f64>, _b: &Array1<f64>| {
        let dh = Array2::from_shape_fn(h.raw_dim(), |(n, i)| {
            (0..w.ncols()).map(|j| w[[i, j]] * g[[n, j]]).sum()
        });
        let dw = Array2::from_shape_fn(w.raw_dim(), |(i, j)| {
            (0..h.nrows()).map(|n| h[[n, i]] * g[[n, j]]).sum()
        });
        let db = Array1::from_shape_fn(w.ncols(), |j| (0..h.nrows()).map(|n| g[[n, j]]).sum());
        (dh, dw, db)
    };
    check::with(Config::default().cases(1_000).seed(16))
        .linear(loops)
        .assert_correct();
}

#[test]
fn correct_custom_ops_with_kinks_and_curvature_are_never_flagged() {
    let cases = Config::default().cases(500).seed(17);
    let abs = |x: &[ArrayD<f64>]| x[0].mapv(f64::abs);
    let abs_vjp = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(f64::signum)];
    check::op_with(cases, "abs", &[&[4, 5]], abs, abs_vjp).assert_correct();
    let tanh = |x: &[ArrayD<f64>]| x[0].mapv(f64::tanh);
    let tanh_vjp = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| 1.0 - v.tanh().powi(2))];
    check::op_with(cases, "tanh", &[&[3, 3]], tanh, tanh_vjp).assert_correct();
    let product = |x: &[ArrayD<f64>]| &x[0] * &x[1].mapv(f64::exp);
    let product_vjp = |x: &[ArrayD<f64>], g: &ArrayD<f64>| {
        let e = x[1].mapv(f64::exp);
        vec![g * &e, g * &x[0] * &e]
    };
    check::op_with(cases, "x·exp(y)", &[&[2, 3], &[2, 3]], product, product_vjp).assert_correct();
}
