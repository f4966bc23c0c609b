//! Inputs that are data, not variables: `Domain::Labels(C)` (class targets) and `Domain::OneHot`
//! (one-hot target rows) are drawn in their domain, never stepped and never compared, so a
//! cross-entropy's backward is checked with real targets, and a backward that reads its target
//! wrongly fails.

use gradverify::check::{Domain, OpCheck};
use gradverify::compare::Verdict;
use gradverify::verify::Fault;
use ndarray::{ArrayD, Axis, Ix2, IxDyn};

type Arrays = [ArrayD<f64>];

const B: usize = 5;
const C: usize = 4;

/// Row-wise softmax of `z` [B, C].
fn softmax(z: &ArrayD<f64>) -> ndarray::Array2<f64> {
    let z = z.view().into_dimensionality::<Ix2>().unwrap();
    let mut p = z.to_owned();
    for mut row in p.rows_mut() {
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        row.mapv_inplace(|v| (v - max).exp());
        let sum = row.sum();
        row /= sum;
    }
    p
}

/// The loss of each row, −log p[y]: the forward refuses a label that is not one, so a step of
/// the labels would be seen.
fn cross_entropy(x: &Arrays) -> Result<ArrayD<f64>, Fault> {
    let p = softmax(&x[0]);
    (x[1].iter().enumerate())
        .map(|(i, &y)| {
            if y.fract() != 0.0 || !(0.0..C as f64).contains(&y) {
                return Err(Fault::Failed(format!("label {y} is not a class")));
            }
            Ok(-p[[i, y as usize]].ln())
        })
        .collect::<Result<Vec<f64>, Fault>>()
        .map(|losses| ArrayD::from_shape_vec(IxDyn(&[B]), losses).unwrap())
}

/// dL/dz = g ⊙ (p − onehot(y)), with the label read from `label` of each row's y.
fn cross_entropy_vjp(
    label: fn(f64) -> usize,
) -> impl Fn(&Arrays, &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> {
    move |x: &Arrays, g: &[ArrayD<f64>]| {
        let mut grad = softmax(&x[0]);
        for (i, &y) in x[1].iter().enumerate() {
            grad[[i, label(y)]] -= 1.0;
        }
        grad *= &g[0].view().insert_axis(Axis(1));
        Ok(vec![grad.into_dyn(), ArrayD::zeros(IxDyn(&[B]))])
    }
}

fn labels_check(label: fn(f64) -> usize) -> gradverify::verify::Report {
    OpCheck::try_multi(
        "cross_entropy",
        &[&[B, C], &[B]],
        |x: &Arrays| cross_entropy(x).map(|l| vec![l]),
        cross_entropy_vjp(label),
    )
    .domain(1, Domain::Labels(C))
    .names(&["z", "y"])
    .cases(8)
    .run()
}

#[test]
fn a_cross_entropy_with_label_targets_passes_and_one_that_misreads_them_fails() {
    let right = labels_check(|y| y as usize);
    assert_eq!(right.verdict(), Verdict::Pass, "{right}");
    assert!(
        right.to_string().contains("dL/dy: not compared"),
        "the labels are not differentiated: {right}"
    );
    // Off by one class (a 1-based label), and always class 0: dL/dz is wrong.
    for misread in [(|y| (y as usize + 1) % C) as fn(f64) -> usize, |_| 0] {
        let wrong = labels_check(misread);
        assert_eq!(wrong.verdict(), Verdict::Fail, "{wrong}");
        assert!(wrong.findings.iter().any(|f| f.what == "dL/dz"), "{wrong}");
    }
}

/// Σ_c −t_c log p_c per row, with one-hot targets t.
fn soft_target_loss(x: &Arrays) -> ArrayD<f64> {
    let p = softmax(&x[0]);
    let t = x[1].view().into_dimensionality::<Ix2>().unwrap();
    (&t * &p.mapv(f64::ln)).sum_axis(Axis(1)).mapv(|v| -v).into_dyn()
}

fn one_hot_check(factor: f64) -> gradverify::verify::Report {
    OpCheck::new(
        "one_hot_cross_entropy",
        &[&[B, C], &[B, C]],
        soft_target_loss,
        move |x: &Arrays, g: &ArrayD<f64>| {
            let t = x[1].view().into_dimensionality::<Ix2>().unwrap();
            let grad = (softmax(&x[0]) - t) * factor * &g.view().insert_axis(Axis(1));
            vec![grad.into_dyn(), ArrayD::zeros(IxDyn(&[B, C]))]
        },
    )
    .domain(1, Domain::OneHot)
    .cases(8)
    .run()
}

#[test]
fn one_hot_targets_are_drawn_as_rows_and_a_doubled_gradient_fails() {
    assert_eq!(
        one_hot_check(1.0).verdict(),
        Verdict::Pass,
        "{}",
        one_hot_check(1.0)
    );
    let doubled = one_hot_check(2.0);
    assert_eq!(doubled.verdict(), Verdict::Fail, "{doubled}");
}

#[test]
fn a_given_point_whose_labels_are_not_classes_is_refused() {
    let z = ArrayD::zeros(IxDyn(&[B, C]));
    let y = ArrayD::from_shape_vec(IxDyn(&[B]), vec![0.0, 1.0, 2.0, 3.0, 4.0]).unwrap();
    let report = OpCheck::try_multi(
        "cross_entropy",
        &[&[B, C], &[B]],
        |x: &Arrays| cross_entropy(x).map(|l| vec![l]),
        cross_entropy_vjp(|y| y as usize),
    )
    .domain(1, Domain::Labels(C))
    .points(vec![vec![z, y]])
    .run();
    assert_eq!(report.verdict(), Verdict::Fail);
    assert!(
        report
            .to_string()
            .contains("x1[4] is 4, outside the labels 0 to 3"),
        "{report}"
    );
}
