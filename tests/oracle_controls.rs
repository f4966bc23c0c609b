//! Negative controls: the oracles must *disagree* with a wrong backward, each on its own, and the
//! finite-difference oracle must see relu's kink instead of reporting a meaningless quotient.

use gradverify::compare::{self, Tolerance, Verdict};
use gradverify::error::Result;
use gradverify::ops::{Cost, Linear, Op, Relu};
use gradverify::oracle::{self, finite_diff};
use gradverify::tape::Tape;
use ndarray::{Array2, ArrayD, ArrayViewD, Axis, array};

/// How a corrupted linear backward goes wrong.
#[derive(Debug, Clone, Copy)]
enum Bug {
    /// dL/dW with the wrong sign.
    FlippedSignW,
    /// dL/db from the first data point only (not summed over the batch).
    BiasFirstRowOnly,
    /// dL/dh as if dL/da were all ones.
    IgnoresUpstream,
    /// dL/dW halved.
    HalvedW,
}

/// `linear` whose forward and Jacobian are right and whose VJP carries `Bug`.
#[derive(Debug, Clone, Copy)]
struct Corrupted(Bug);

impl Op for Corrupted {
    fn name(&self) -> &'static str {
        "corrupted-linear"
    }
    fn input_names(&self) -> &'static [&'static str] {
        Linear.input_names()
    }
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        Linear.forward(inputs)
    }
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        Linear.forward_flops(input_shapes)
    }
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let mut grads = Linear.vjp(inputs, grad_out.view(), wanted)?;
        let [dh, dw, db] = &mut grads[..] else {
            unreachable!("linear has three inputs")
        };
        let (dh, dw, db) = (dh.as_mut().unwrap(), dw.as_mut().unwrap(), db.as_mut().unwrap());
        match self.0 {
            Bug::FlippedSignW => dw.mapv_inplace(|v| -v),
            Bug::BiasFirstRowOnly => *db = grad_out.index_axis(Axis(0), 0).to_owned(),
            Bug::IgnoresUpstream => {
                let w = inputs[1].view().into_dimensionality::<ndarray::Ix2>().unwrap();
                let ones = Array2::<f64>::ones((grad_out.shape()[0], grad_out.shape()[1]));
                *dh = ones.dot(&w.t()).into_dyn();
            }
            Bug::HalvedW => dw.mapv_inplace(|v| v / 2.0),
        }
        Ok(grads)
    }
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        Linear.jacobian(inputs, wrt)
    }
    fn cost(&self, shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        Linear.cost(shapes, wanted)
    }
}

fn linear_inputs() -> Vec<ArrayD<f64>> {
    vec![
        array![[0.5, -1.2, 2.0], [1.5, 0.3, -0.7]].into_dyn(),
        array![[0.2, -0.4], [1.1, 0.9], [-0.6, 0.25]].into_dyn(),
        array![0.1, -0.3].into_dyn(),
    ]
}

#[test]
fn both_oracles_flag_every_corrupted_linear_backward_and_pass_the_correct_one() {
    let upstream = array![[0.7, -1.3], [2.1, 0.4]].into_dyn();
    let correct = oracle::check_op(Linear, linear_inputs(), upstream.view()).unwrap();
    assert!(correct.is_ok(), "{correct:?}");
    let cases = [
        (Bug::FlippedSignW, "dL/dW"),
        (Bug::BiasFirstRowOnly, "dL/db"),
        (Bug::IgnoresUpstream, "dL/dh"),
        (Bug::HalvedW, "dL/dW"),
    ];
    for (bug, input) in cases {
        let report = oracle::check_op(Corrupted(bug), linear_inputs(), upstream.view()).unwrap();
        for (oracle, comparisons) in [
            ("Jacobian", &report.vs_jacobian),
            ("finite differences", &report.vs_finite_diff),
        ] {
            let failing: Vec<&str> = comparisons
                .iter()
                .filter(|c| !c.is_ok())
                .map(|c| c.name.as_str())
                .collect();
            assert_eq!(failing, [input], "{bug:?} against {oracle}");
        }
    }
}

#[test]
fn finite_differences_mark_a_relu_kink_within_reach_as_not_comparable() {
    // a[0, 1] sits 1e-9 from the kink: a step of 1e-4 crosses it, and the quotient there is about
    // half the upstream gradient, matching neither side's derivative.
    let mut tape = Tape::new();
    let a = tape.param("a", array![[1.5, 1e-9, -0.8]].into_dyn());
    let h = tape.apply("h", Relu, &[a]).unwrap();
    let upstream = array![[0.6, 2.0, -1.1]].into_dyn();
    let fd = finite_diff::gradients(&tape, h, upstream.view(), &[a], Default::default()).unwrap();
    let fd = &fd[0];
    assert_eq!(fd.smooth.iter().copied().collect::<Vec<_>>(), [true, false, true]);
    assert!(
        (fd.values[[0, 1]] - 1.0).abs() < 1e-3,
        "the raw quotient {} is half of 2.0",
        fd.values[[0, 1]]
    );

    let report = oracle::check(&tape, h, upstream.view(), &[a]).unwrap();
    let c = &report.vs_finite_diff[0];
    assert_eq!((c.certified, c.skipped, c.failed), (2, 1, 0), "{c}");
    assert_eq!(c.verdict(), Verdict::Pass);
}

#[test]
fn a_nan_never_passes_and_an_absolute_tolerance_never_certifies() {
    let expected = array![1.0, 2.0, 1e-20].into_dyn();
    let with_nan = array![1.0, f64::NAN, 1e-20].into_dyn();
    let loose = Tolerance::uniform(1e-6, 1e300);
    let c = compare::compare("g", expected.view(), with_nan.view(), &loose);
    assert_eq!((c.failed, c.verdict()), (1, Verdict::Fail), "{c}");
    assert!(c.max_rel_err.is_nan());

    // Every element differs, but under a huge absolute tolerance: excused, never certified.
    let far = array![-1.0, -2.0, -1e-20].into_dyn();
    let c = compare::compare("g", expected.view(), far.view(), &loose);
    assert_eq!(
        (c.certified, c.excused, c.verdict()),
        (0, 3, Verdict::Inconclusive),
        "{c}"
    );
}

#[test]
fn a_shape_mismatch_fails_without_comparing_elements() {
    let expected = array![[1.0, 2.0]].into_dyn();
    let actual = array![[1.0], [2.0]].into_dyn();
    let c = compare::compare(
        "dL/dW",
        expected.view(),
        actual.view(),
        &Tolerance::uniform(1e-9, 0.0),
    );
    assert_eq!(c.verdict(), Verdict::Fail);
    assert_eq!(c.to_string(), "dL/dW: FAIL: shape [2, 1], expected [1, 2]");
}
