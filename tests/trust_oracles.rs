//! The oracles near and at a perfect fit, on a forward whose output shape depends on its input,
//! on shapes too large for the Jacobian oracle, and the network's Taylor test.

use gradverify::compare::{self, Abs, Tolerance};
use gradverify::error::Result;
use gradverify::mlp::{self, MlpParams};
use gradverify::ops::{Cost, Op, Relu};
use gradverify::oracle::finite_diff::FdConfig;
use gradverify::oracle::{self, FINITE_DIFF_REL, network_fd, taylor};
use gradverify::random;
use gradverify::tape::{Tape, Wrt};
use ndarray::{Array2, ArrayD, ArrayViewD, arr0, array};

/// A network, data, and targets `y = f(x) + s · noise`.
fn near_fit(seed: u64, s: f64) -> (MlpParams, Array2<f64>, Array2<f64>) {
    let mut rng = random::case_rng(seed, 3);
    let params = random::mlp_params(&mut rng, [16, 16, 16, 4]);
    let x = random::normal_matrix(&mut rng, 8, 16);
    let zero = Array2::zeros((8, 4));
    let net = mlp::record(&params, x.view(), zero.view()).unwrap();
    let f = net
        .tape
        .value(net.f)
        .to_owned()
        .into_dimensionality::<ndarray::Ix2>()
        .unwrap();
    let y = f + s * random::normal_matrix(&mut rng, 8, 4);
    (params, x, y)
}

#[test]
fn the_reference_gradient_never_fails_near_or_at_a_perfect_fit() {
    for s in [0.0, 1e-12, 1e-10, 1e-8] {
        for seed in 0..4 {
            let (params, x, y) = near_fit(seed, s);
            let net = mlp::record(&params, x.view(), y.view()).unwrap();
            let report =
                oracle::check(&net.tape, net.loss, arr0(1.0).into_dyn().view(), &net.params).unwrap();
            for c in &report.vs_finite_diff {
                assert!(c.is_ok(), "s = {s}, seed {seed}: {c}");
            }
            assert!(report.is_ok(), "s = {s}, seed {seed}");
            let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
            let reference = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
                .unwrap()
                .into_params();
            for (fd, r) in fast.iter().zip(&reference) {
                let tol = Tolerance {
                    rel: FINITE_DIFF_REL,
                    abs: Abs::Bound(fd.noise.view()),
                    compare: Some(fd.smooth.view()),
                };
                let c = compare::compare("fast", fd.values.view(), r.view(), &tol);
                assert!(c.is_ok(), "s = {s}, seed {seed}: {c}");
            }
        }
    }
}

#[test]
fn away_from_a_fit_the_reference_gradient_is_certified_and_a_wrong_one_fails() {
    let (params, x, y) = near_fit(1, 1.0);
    let net = mlp::record(&params, x.view(), y.view()).unwrap();
    let report = oracle::check(&net.tape, net.loss, arr0(1.0).into_dyn().view(), &net.params).unwrap();
    assert!(
        report.is_ok() && report.certified().iter().all(|&c| c),
        "{:?}",
        report.vs_finite_diff
    );
    let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
    let mut reference = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
        .unwrap()
        .into_params();
    reference[2] *= 1.01;
    let tol = Tolerance {
        rel: FINITE_DIFF_REL,
        abs: Abs::Bound(fast[2].noise.view()),
        compare: Some(fast[2].smooth.view()),
    };
    let c = compare::compare("dL/dW2", fast[2].values.view(), reference[2].view(), &tol);
    assert!(!c.is_ok(), "{c}");
}

/// relu whose output keeps only the positive inputs: its shape depends on the values.
#[derive(Debug, Clone, Copy)]
struct KeepPositive;

impl Op for KeepPositive {
    fn name(&self) -> &'static str {
        "keep-positive"
    }
    fn input_names(&self) -> &'static [&'static str] {
        &["a"]
    }
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        let kept: Vec<f64> = inputs[0].iter().copied().filter(|v| *v > 0.0).collect();
        Ok(ArrayD::from_shape_vec(vec![kept.len()], kept).unwrap())
    }
    fn forward_flops(&self, shapes: &[&[usize]]) -> Result<u64> {
        Relu.forward_flops(shapes)
    }
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        _wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let mut g = grad_out.iter();
        let grad = inputs[0].mapv(|v| if v > 0.0 { *g.next().unwrap() } else { 0.0 });
        Ok(vec![Some(grad)])
    }
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], _wrt: usize) -> Result<Array2<f64>> {
        let positive: Vec<usize> = (0..inputs[0].len())
            .filter(|&i| inputs[0].iter().nth(i).unwrap() > &0.0)
            .collect();
        let mut j = Array2::zeros((positive.len(), inputs[0].len()));
        for (row, &col) in positive.iter().enumerate() {
            j[[row, col]] = 1.0;
        }
        Ok(j)
    }
    fn cost(&self, shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        Relu.cost(shapes, wanted)
    }
}

#[test]
fn an_output_shape_that_changes_under_perturbation_is_an_error_naming_the_input() {
    // 1e-5 above 0: the first step (1e-4) moves it below, and the output loses an element.
    let a = array![0.5, 1e-5, -0.7].into_dyn();
    let cotangent = array![0.3, -1.2].into_dyn();
    let err = oracle::check_op(KeepPositive, vec![a], cotangent.view()).unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("changed shape") && message.contains("`a`"),
        "{message}"
    );
}

#[test]
fn a_jacobian_too_large_to_build_is_an_error_not_an_abort() {
    let mut tape = Tape::new();
    let big = ArrayD::zeros(vec![1 << 15]);
    let a = tape.param("a", big);
    let h = tape.apply("h", Relu, &[a]).unwrap();
    let upstream = ArrayD::ones(vec![1 << 15]);
    let err = oracle::check(&tape, h, upstream.view(), &[a]).unwrap_err();
    assert!(err.to_string().contains("Jacobian oracle would build"), "{err}");
}

#[test]
fn the_networks_taylor_test_shows_rate_two_for_the_reference_and_one_for_a_wrong_gradient() {
    let (params, x, y) = near_fit(2, 1.0);
    let grads = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
        .unwrap()
        .into_params();
    let right = taylor::network(&params, &x, &y, &grads, &mut random::case_rng(9, 9)).unwrap();
    let rate = right.final_rate().expect("a rate");
    assert!((rate - 2.0).abs() < 0.2, "{right}");
    let mut wrong = grads.clone();
    wrong[0] *= 1.05;
    let wrong = taylor::network(&params, &x, &y, &wrong, &mut random::case_rng(9, 9)).unwrap();
    let rate = wrong.final_rate().expect("a rate");
    assert!((rate - 1.0).abs() < 0.2, "{wrong}");
}
