//! Property tests: the reference VJP of each op, and of the whole Eq. 33 network, agrees with
//! explicit Jacobian contraction (Eq. 36) and with central finite differences, over random shapes,
//! values and upstream gradients.

use crate::common::{
    COTANGENT_BOUND, cotangent, elementwise_shape, linear_case, matrix, mlp_case, prop_assert_agrees,
};
use gradverify::mlp;
use gradverify::ops::{Linear, Relu, SqErr};
use gradverify::oracle::{self, JACOBIAN_REL};
use ndarray::arr0;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { max_shrink_iters: 2048, ..ProptestConfig::default() })]

    #[test]
    fn linear_vjp_agrees_with_both_oracles((h, w, b, g) in linear_case()) {
        let context = format!("linear h {:?} W {:?}", h.shape(), w.shape());
        let report = oracle::check_op(Linear, vec![h.into_dyn(), w.into_dyn(), b.into_dyn()], g.view())
            .expect("shapes fit by construction");
        prop_assert_agrees(&report, &context)?;
    }

    #[test]
    fn relu_vjp_agrees_with_both_oracles(
        (a, g) in elementwise_shape().prop_flat_map(|(b, d)| (matrix(b, d), cotangent(vec![b, d])))
    ) {
        let context = format!("relu a {:?}", a.shape());
        let report = oracle::check_op(Relu, vec![a.into_dyn()], g.view()).expect("any matrix fits");
        prop_assert_agrees(&report, &context)?;
    }

    #[test]
    fn sqerr_vjp_agrees_with_both_oracles(
        (f, y, g) in elementwise_shape().prop_flat_map(|(b, d)| (matrix(b, d), matrix(b, d), -COTANGENT_BOUND..COTANGENT_BOUND))
    ) {
        let context = format!("sqerr f {:?}, dL/dL = {g}", f.shape());
        let report = oracle::check_op(SqErr, vec![f.into_dyn(), y.into_dyn()], arr0(g).into_dyn().view())
            .expect("f and y share a shape by construction");
        prop_assert_agrees(&report, &context)?;
    }

    #[test]
    fn network_gradients_agree_with_both_oracles((params, x, y) in mlp_case()) {
        let context = format!("mlp widths {:?}, B = {}", params.widths(), x.nrows());
        let net = mlp::record(&params, x.view(), y.view()).expect("shapes fit by construction");
        let mut leaves = vec![net.x];
        leaves.extend(net.params);
        let report = oracle::check(&net.tape, net.loss, arr0(1.0).into_dyn().view(), &leaves)
            .expect("a recorded network can be checked");
        prop_assert_agrees(&report, &context)?;
        for c in &report.vs_jacobian {
            prop_assert!(c.array_rel_err() <= JACOBIAN_REL, "{context}: {c}");
        }
    }
}
