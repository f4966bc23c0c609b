//! The cost model against the real work: the Jacobian road's bytes are the Jacobians actually
//! built plus the gradients, its flops two per Jacobian element (the dense contraction's
//! multiply-adds); the VJP road allocates only the gradients.

use gradverify::ops::{F64_BYTES, Linear, Op, Relu, SqErr};
use gradverify::random;
use ndarray::ArrayD;

fn check_model(op: &dyn Op, inputs: &[ArrayD<f64>]) {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let shapes: Vec<&[usize]> = inputs.iter().map(|a| a.shape()).collect();
    let out_len = op.forward(&views).unwrap().len() as u64;
    for k in 0..inputs.len() {
        let mut wanted = vec![false; inputs.len()];
        wanted[k] = true;
        let cost = op.cost(&shapes, &wanted).unwrap();
        let jac = op.jacobian(&views, k).unwrap();
        let in_len = inputs[k].len() as u64;
        assert_eq!(
            jac.dim(),
            (out_len as usize, in_len as usize),
            "{} input {k}",
            op.name()
        );
        let elements = jac.len() as u64;
        assert_eq!(
            cost.jacobian.bytes,
            F64_BYTES * (elements + in_len),
            "{} input {k}",
            op.name()
        );
        assert_eq!(cost.jacobian.flops, 2 * elements, "{} input {k}", op.name());
        assert_eq!(cost.vjp.bytes, F64_BYTES * in_len, "{} input {k}", op.name());
        assert!(
            cost.vjp.flops <= cost.jacobian.flops,
            "{} input {k}: {cost:?}",
            op.name()
        );
    }
    let all = op.cost(&shapes, &vec![true; inputs.len()]).unwrap();
    let one_by_one = (0..inputs.len())
        .map(|k| {
            let mut wanted = vec![false; inputs.len()];
            wanted[k] = true;
            op.cost(&shapes, &wanted).unwrap()
        })
        .fold(Default::default(), |a, c| a + c);
    assert_eq!(
        all,
        one_by_one,
        "{}: cost of all inputs is the sum over inputs",
        op.name()
    );
}

#[test]
fn every_ops_cost_model_counts_the_jacobians_it_really_builds() {
    for case in 0..20 {
        let mut rng = random::case_rng(4, case);
        let (batch, d_in, d_out) = (
            1 + case as usize % 3,
            1 + case as usize % 5,
            2 + case as usize % 4,
        );
        let h = random::normal_matrix(&mut rng, batch, d_in).into_dyn();
        let w = random::normal_matrix(&mut rng, d_in, d_out).into_dyn();
        let b = random::normal_vector(&mut rng, d_out).into_dyn();
        check_model(&Linear, &[h.clone(), w, b]);
        check_model(&Relu, std::slice::from_ref(&h));
        check_model(&SqErr, &[h.clone(), h.mapv(|v| v + 1.0)]);
    }
}

#[test]
fn relus_jacobian_road_grows_as_d_squared_and_its_vjp_as_d() {
    let cost = |d: usize| Relu.cost(&[&[1, d]], &[true]).unwrap();
    let (small, large) = (cost(64), cost(1024));
    assert_eq!(large.jacobian.flops / small.jacobian.flops, 256);
    assert_eq!(large.vjp.flops / small.vjp.flops, 16);
}
