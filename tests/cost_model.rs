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

/// The network's Jacobian road, counted from the Jacobians actually built along its backward,
/// is exactly what `Tape::backward_cost` models (parameters wanted, x and y not).
#[test]
fn the_networks_modelled_cost_is_the_sum_of_the_jacobians_its_backward_builds() {
    use gradverify::mlp;
    use gradverify::tape::Wrt;
    let mut rng = random::case_rng(9, 0);
    let params = random::mlp_params(&mut rng, [3, 5, 4, 2]);
    let x = random::normal_matrix(&mut rng, 3, 3);
    let y = random::normal_matrix(&mut rng, 3, 2);
    let net = mlp::record(&params, x.view(), y.view()).unwrap();
    let model = net.tape.backward_cost(net.loss, Wrt::Params).unwrap();
    let (mut elements, mut grads) = (0u64, 0u64);
    for v in net.tape.vars() {
        let Some(node) = net.tape.op_node(v) else { continue };
        let values: Vec<_> = node.inputs.iter().map(|&i| net.tape.value(i)).collect();
        for (k, &input) in node.inputs.iter().enumerate() {
            // The backward asks for a gradient wherever a parameter lies upstream: every input
            // but the data x and y.
            if input == net.x || input == net.y {
                continue;
            }
            elements += node.op.jacobian(&values, k).unwrap().len() as u64;
            grads += net.tape.value(input).len() as u64;
        }
    }
    assert_eq!(model.jacobian.flops, 2 * elements);
    assert_eq!(model.jacobian.bytes, F64_BYTES * (elements + grads));
}

#[test]
fn the_forward_flops_count_the_products_and_every_elementwise_op_on_the_path() {
    let (batch, widths) = (5, [7, 6, 4, 3]);
    let mut rng = random::case_rng(9, 0);
    let params = random::mlp_params(&mut rng, widths);
    let x = random::normal_matrix(&mut rng, batch, widths[0]);
    let y = random::normal_matrix(&mut rng, batch, widths[3]);
    let net = gradverify::mlp::record(&params, x.view(), y.view()).unwrap();
    // Per layer 2·B·Din·Dout for h W and B·Dout for + b; one per element for each relu; three
    // per element for sqerr.
    let linear = |d_in: usize, d_out: usize| 2 * batch * d_in * d_out + batch * d_out;
    let expected = linear(7, 6) + batch * 6 + linear(6, 4) + batch * 4 + linear(4, 3) + 3 * batch * 3;
    assert_eq!(net.tape.forward_flops(net.loss).unwrap(), expected as u64);
    // Up to a1, only the first product counts.
    assert_eq!(net.tape.forward_flops(net.a1).unwrap(), linear(7, 6) as u64);
    assert_eq!(net.tape.forward_flops(net.x).unwrap(), 0);
}
