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
fn the_fast_oracle_marks_a_kink_within_reach_and_still_reports_its_quotient() {
    let mut rng = random::case_rng(5, 5);
    let mut params = random::mlp_params(&mut rng, [2, 3, 3, 1]);
    let x = random::normal_matrix(&mut rng, 2, 2);
    let y = random::normal_matrix(&mut rng, 2, 1);
    // Put a1[0, 0] 1e-9 from the kink: perturbing b1[0] by 1e-4 crosses it.
    let a1_00 = x.row(0).dot(&params.w1.column(0)) + params.b1[0];
    params.b1[0] -= a1_00 - 1e-9;
    let fast = network_fd::network_gradients(&params, &x, &y, FdConfig::default()).unwrap();
    assert!(!fast[1].smooth[[0]], "b1[0] reaches the kink");
    assert!(fast[1].values[[0]].is_finite());
    assert!(fast[4].smooth.iter().all(|s| *s), "W3 is past every relu");
}
