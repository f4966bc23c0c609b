//! The network (Eq. 32/37): a student's whole hand-written backprop, with one of the bugs
//! students write.

use gradverify::check::{self, NetworkGrads};
use gradverify::mlp::MlpParams;
use gradverify::verify::Diagnosis;
use gradverify::verify::ops::mlp;
use ndarray::{Array2, Axis};

use super::{assert_diagnosed, finding, gradient, step};

/// A student's whole backprop, with one of the bugs students write.
#[derive(Debug, Clone, Copy, PartialEq)]
enum NetBug {
    None,
    Misprint32e,
    MaskMissingLayer2,
    MeanLoss,
    MseLoss,
    BiasB3FirstRowOnly,
    B1AndB2Swapped,
}

fn student_network(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams, bug: NetBug) -> NetworkGrads {
    let relu = |a: &Array2<f64>| a.mapv(|v| v.max(0.0));
    let a1 = x.dot(&p.w1) + &p.b1;
    let h1 = relu(&a1);
    let a2 = h1.dot(&p.w2) + &p.b2;
    let h2 = relu(&a2);
    let f = h2.dot(&p.w3) + &p.b3;
    let mut df = &f - y;
    if bug == NetBug::MeanLoss {
        df /= x.nrows() as f64;
    }
    if bug == NetBug::MseLoss {
        df *= 2.0 / df.len() as f64;
    }
    let (dw3, db3) = (
        h2.t().dot(&df),
        if bug == NetBug::BiasB3FirstRowOnly {
            df.row(0).to_owned()
        } else {
            df.sum_axis(Axis(0))
        },
    );
    let dh2 = df.dot(&p.w3.t());
    let da2 = if bug == NetBug::MaskMissingLayer2 {
        dh2.clone()
    } else {
        &dh2 * &step(&a2)
    };
    let (dw2, db2) = (h1.t().dot(&da2), da2.sum_axis(Axis(0)));
    let dh1 = da2.dot(&p.w2.t());
    let da1 = if bug == NetBug::Misprint32e {
        assert_eq!(dh2.dim(), a1.dim(), "Eq. 32e as printed needs D1 = D2");
        &dh2 * &step(&a2)
    } else {
        &dh1 * &step(&a1)
    };
    let (dw1, db1) = (x.t().dot(&da1), da1.sum_axis(Axis(0)));
    if bug == NetBug::B1AndB2Swapped {
        return (dw1, db2, dw2, db1, dw3, db3);
    }
    (dw1, db1, dw2, db2, dw3, db3)
}

#[test]
fn a_correct_hand_written_backprop_passes() {
    check::network(|x, y, p| student_network(x, y, p, NetBug::None)).assert_correct();
}

#[test]
fn the_misprint_of_eq_32e_is_recognised() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::Misprint32e));
    assert_diagnosed(&report, "W1", Diagnosis::Bug(&mlp::MISPRINT_32E));
    assert_diagnosed(&report, "b1", Diagnosis::Bug(&mlp::MISPRINT_32E));
    assert!(
        report
            .findings
            .iter()
            .all(|f| ![gradient("W2"), gradient("W3")].contains(&f.what)),
        "{report}"
    );
}

#[test]
fn a_relu_mask_left_out_of_the_backward_is_located() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MaskMissingLayer2));
    assert_diagnosed(&report, "W2", Diagnosis::Bug(&mlp::LAYER2_MASK_MISSING));
    assert_diagnosed(&report, "W1", Diagnosis::Bug(&mlp::LAYER2_MASK_MISSING));
}

#[test]
fn a_mean_loss_scales_every_gradient_by_one_over_b() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MeanLoss));
    for what in ["W1", "b1", "W2", "b2", "W3", "b3"] {
        assert_diagnosed(&report, what, Diagnosis::MeanOverBatch);
    }
}

#[test]
fn a_mean_squared_error_loss_blames_the_loss_for_all_six_gradients_with_one_example() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::MseLoss));
    let mut examples = Vec::new();
    for what in ["W1", "b1", "W2", "b2", "W3", "b3"] {
        let found = finding(&report, &gradient(what));
        let codes = found.diagnosis.as_ref().map(Diagnosis::codes).unwrap_or_default();
        assert_eq!(codes, ["loss_factor", "mse_convention"], "{what}: {report}");
        examples.push(found.smallest_shape.clone());
    }
    assert!(examples.windows(2).all(|w| w[0] == w[1]), "{examples:?}");
    let dims: Vec<usize> = examples[0]
        .split_whitespace()
        .filter_map(|t| t.split_once('=')?.1.parse().ok())
        .collect();
    assert!(dims[0] > 1 && dims[4] > 1, "B and D3 above 1: {examples:?}");
}

#[test]
fn a_network_bias_not_summed_over_the_batch_is_correct_only_for_b_1() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::BiasB3FirstRowOnly));
    assert!(finding(&report, &gradient("b3")).only_batch_of_one, "{report}");
    assert_eq!(report.findings.len(), 1, "{report}");
    assert!(
        report
            .notes
            .iter()
            .any(|n| n.starts_with("layer 3 is the first wrong one")
                && n.contains("look at dL/db3 = Σ_rows dL/da3 (Eq. 74)")),
        "{report}"
    );
}

#[test]
fn swapped_gradients_are_recognised_as_another_parameters() {
    let report = check::network(|x, y, p| student_network(x, y, p, NetBug::B1AndB2Swapped));
    assert_diagnosed(&report, "b1", Diagnosis::SwappedWith("b2".to_owned()));
    assert_diagnosed(&report, "b2", Diagnosis::SwappedWith("b1".to_owned()));
}
