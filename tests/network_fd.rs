//! The fast network oracle against the generic one: the same quotients on the same networks,
//! the same kinks, and agreement with the reference VJP.

use gradverify::compare::{self, Abs, Tolerance};
use gradverify::mlp;
use gradverify::oracle::finite_diff::{self, FdConfig};
use gradverify::oracle::network_fd;
use gradverify::random;
use gradverify::tape::Wrt;
use ndarray::arr0;

#[test]
fn the_fast_oracle_gives_the_generic_oracles_quotients_on_random_networks() {
    for case in 0..40 {
        let mut rng = random::case_rng(77, case);
        let widths = [
            1 + case as usize % 5,
            2 + case as usize % 4,
            1 + case as usize % 6,
            1 + case as usize % 3,
        ];
        let params = random::mlp_params(&mut rng, widths);
        let batch = 1 + case as usize % 4;
        let x = random::normal_matrix(&mut rng, batch, widths[0]);
        let y = random::normal_matrix(&mut rng, batch, widths[3]);
        let net = mlp::record(&params, x.view(), y.view()).unwrap();
        let one = arr0(1.0).into_dyn();
        let generic =
            finite_diff::gradients(&net.tape, net.loss, one.view(), &net.params, FdConfig::default())
                .unwrap();
        let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
        let vjp = mlp::loss_and_grads(&params, &x, &y, Wrt::Params).unwrap();
        let reference = vjp.into_params();
        for ((g, f), r) in generic.iter().zip(&fast).zip(&reference) {
            assert_eq!(g.smooth, f.smooth, "case {case}: the same kinks");
            let tol = Tolerance {
                rel: 1e-6,
                abs: Abs::PerElement(g.noise.view()),
                compare: Some(g.smooth.view()),
            };
            let c = compare::compare("fast vs generic", g.values.view(), f.values.view(), &tol);
            assert!(c.is_ok(), "case {case}: {c}");
            let tol = Tolerance {
                rel: 1e-6,
                abs: Abs::PerElement(f.noise.view()),
                compare: Some(f.smooth.view()),
            };
            let c = compare::compare("fast vs VJP", f.values.view(), r.view(), &tol);
            assert!(c.is_ok(), "case {case}: {c}");
        }
    }
}

#[test]
fn the_fast_oracle_steps_below_a_kink_within_reach_and_marks_one_it_sits_on() {
    let mut rng = random::case_rng(5, 5);
    let mut params = random::mlp_params(&mut rng, [2, 3, 3, 1]);
    let mut x = random::normal_matrix(&mut rng, 2, 2);
    let y = random::normal_matrix(&mut rng, 2, 1);
    // Put a1[0, 0] 1e-9 from the kink: a step of 1e-4 would cross it; the oracle steps below.
    let a1_00 = x.row(0).dot(&params.w1.column(0)) + params.b1[0];
    params.b1[0] -= a1_00 - 1e-9;
    let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
    let reference = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
        .unwrap()
        .into_params();
    assert!(fast[1].smooth[[0]], "b1[0] is estimated below the kink");
    let tol = Tolerance {
        rel: 1e-6,
        abs: Abs::Bound(fast[1].noise.view()),
        compare: Some(fast[1].smooth.view()),
    };
    let c = compare::compare("dL/db1", fast[1].values.view(), reference[1].view(), &tol);
    assert!(c.is_ok() && c.certified > 0, "{c}");
    // Now a1[0, 0] = 0 exactly (x[0, :] = 0, b1[0] = 0): b1[0] sits on the kink.
    x.row_mut(0).fill(0.0);
    params.b1[0] = 0.0;
    let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
    assert!(!fast[1].smooth[[0]], "b1[0] is at the kink");
    assert!(fast[1].values[[0]].is_finite(), "its quotient is still reported");
    assert!(fast[4].smooth.iter().all(|s| *s), "W3 is past every relu");
}

/// Every hidden unit 1e-7 from its kink at one data point (issue 14's kink-dense data).
fn kink_dense(
    seed: u64,
) -> (
    gradverify::mlp::MlpParams,
    ndarray::Array2<f64>,
    ndarray::Array2<f64>,
) {
    let mut rng = random::case_rng(seed, 14);
    let mut p = random::mlp_params(&mut rng, [4, 5, 5, 2]);
    let x = random::normal_matrix(&mut rng, 4, 4);
    let y = random::normal_matrix(&mut rng, 4, 2);
    let a1 = x.dot(&p.w1) + &p.b1;
    for j in 0..5 {
        p.b1[j] -= a1[[j % 4, j]] - if j % 2 == 0 { 1e-7 } else { -1e-7 };
    }
    let h1 = (x.dot(&p.w1) + &p.b1).mapv(|v| v.max(0.0));
    let a2 = h1.dot(&p.w2) + &p.b2;
    for k in 0..5 {
        p.b2[k] -= a2[[(k + 1) % 4, k]] - if k % 2 == 0 { -1e-7 } else { 1e-7 };
    }
    (p, x, y)
}

#[test]
fn on_kink_dense_networks_the_fast_oracle_gives_the_generic_oracles_verdicts() {
    for seed in 0..6 {
        let (params, x, y) = kink_dense(seed);
        let net = mlp::record(&params, x.view(), y.view()).unwrap();
        let one = arr0(1.0).into_dyn();
        let generic =
            finite_diff::gradients(&net.tape, net.loss, one.view(), &net.params, FdConfig::default())
                .unwrap();
        let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
        let reference = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
            .unwrap()
            .into_params();
        for (k, ((g, f), r)) in generic.iter().zip(&fast).zip(&reference).enumerate() {
            for wrong in [1.0, 1.01] {
                let r = r * wrong;
                let verdict = |fd: &finite_diff::FdGradient| {
                    let tol = Tolerance {
                        rel: 1e-6,
                        abs: Abs::Bound(fd.noise.view()),
                        compare: Some(fd.smooth.view()),
                    };
                    compare::compare("", fd.values.view(), r.view(), &tol).verdict()
                };
                assert_eq!(
                    verdict(g),
                    verdict(f),
                    "seed {seed}, gradient {k}, factor {wrong}"
                );
                let expected = if wrong == 1.0 {
                    compare::Verdict::Pass
                } else {
                    compare::Verdict::Fail
                };
                if r.iter().any(|v| *v != 0.0) {
                    assert_eq!(verdict(f), expected, "seed {seed}, gradient {k}, factor {wrong}");
                }
            }
        }
    }
}

/// The generic oracle's verdicts on six gradients, under the tolerance of `oracle::check`.
fn generic_verdicts(
    params: &gradverify::mlp::MlpParams,
    x: &ndarray::Array2<f64>,
    y: &ndarray::Array2<f64>,
    grads: &[ndarray::ArrayD<f64>; 6],
) -> Vec<compare::Verdict> {
    let net = mlp::record(params, x.view(), y.view()).unwrap();
    let one = arr0(1.0).into_dyn();
    let generic =
        finite_diff::gradients(&net.tape, net.loss, one.view(), &net.params, FdConfig::default()).unwrap();
    generic
        .iter()
        .zip(grads)
        .map(|(g, r)| {
            let tol = Tolerance {
                rel: gradverify::oracle::FINITE_DIFF_REL,
                abs: Abs::Bound(g.noise.view()),
                compare: Some(g.smooth.view()),
            };
            compare::compare("", g.values.view(), r.view(), &tol).verdict()
        })
        .collect()
}

#[test]
fn the_benchmarks_kink_dense_full_check_gives_the_generic_oracles_verdicts() {
    use gradverify::bench;
    for (batch, width) in [(4, 8), (6, 12), (3, 16)] {
        let (params, x, y) = bench::kink_dense_network(batch, width);
        // Every hidden unit's pre-activation is within the kink distance of 0 at some row.
        let a1 = x.dot(&params.w1) + &params.b1;
        let h1 = a1.mapv(|v| v.max(0.0));
        let a2 = h1.dot(&params.w2) + &params.b2;
        for a in [&a1, &a2] {
            for unit in a.columns() {
                let nearest = unit.iter().fold(f64::INFINITY, |m, v| m.min(v.abs()));
                assert!(nearest > 0.0 && nearest <= 1e-6, "B={batch} D={width}: {nearest}");
            }
        }
        let right = mlp::loss_and_grads(&params, &x, &y, Wrt::Params)
            .unwrap()
            .into_params();
        // The same gradients, each 1% too large; and each with one element 1% off.
        let scaled = right.clone().map(|g| g * 1.01);
        let one_off = right.clone().map(|mut g| {
            let last = g.len() - 1;
            if let Some(v) = g.iter_mut().nth(last) {
                *v = if *v == 0.0 { 1e-3 } else { *v * 1.01 };
            }
            g
        });
        for (what, grads) in [
            ("right", &right),
            ("scaled", &scaled),
            ("one element off", &one_off),
        ] {
            let fast = bench::full_check_verdicts(&params, &x, &y, grads).unwrap();
            let generic = generic_verdicts(&params, &x, &y, grads);
            assert_eq!(fast.to_vec(), generic, "B={batch} D={width}, {what}");
            let pass = fast.iter().filter(|v| **v == compare::Verdict::Pass).count();
            if what == "right" {
                assert_eq!(pass, 6, "B={batch} D={width}: no correct gradient reported wrong");
                assert!(bench::check_network_by_finite_differences(&params, &x, &y).unwrap());
            } else {
                assert!(
                    fast.contains(&compare::Verdict::Fail),
                    "B={batch} D={width}, {what}: {fast:?}"
                );
            }
        }
    }
}
