//! `softmax_xent`: L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ], the mean cross-entropy of the softmax of
//! each row of the B×C logits `z` against its label yᵢ.
//!
//! `labels` is a vector of B integers in [0, C), stored as `f64`, and is not differentiated
//! ([`Op::differentiable`] is false for it); asking for its Jacobian is an error.
//!
//! Stable for logits up to ±800: with mᵢ = maxⱼ zᵢⱼ, log Σⱼ e^(zᵢⱼ) = mᵢ + log Σⱼ e^(zᵢⱼ − mᵢ)
//! (log-sum-exp), every exponent ≤ 0 and the largest term 1, so nothing overflows and the sum is
//! at least 1. The softmax of the backward is formed the same way.
//!
//! Accurate where one class dominates: the sum is 1 + s (s, the terms of the other classes) and
//! its log is log1p(s), which keeps an s of 1e-300; the label's entry of the gradient,
//! softmax(z)_y − 1, is written −Σ_{k ≠ y} softmax(z)ₖ, never 1 subtracted from a number near 1.
//!
//! The output is the loss (0-dimensional), so the upstream gradient is the scalar dL/dL, and
//! `dL/dz = dL/dL · (softmax(z) − onehot(y)) / B`; the Jacobian is that one row (dL/dL = 1).
//! Smooth everywhere: no kinks.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, arr0};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "softmax_xent";
const INPUTS: &[&str] = &["z", "labels"];

/// z as a usable B×C matrix and its labels, every argument checked.
fn checked<'a>(
    z: &ArrayViewD<'a, f64>,
    labels: &ArrayViewD<'_, f64>,
) -> Result<(ArrayView2<'a, f64>, Vec<usize>)> {
    let z = validate::as_matrix(NAME, "z", z)?;
    validate::usable(NAME, "z", &z)?;
    let labels = validate::labels(NAME, &labels.view(), z.nrows(), z.ncols())?;
    Ok((z, labels))
}

/// (mᵢ, log Σⱼ e^(zᵢⱼ − mᵢ)) for one row: its max and the log-sum-exp less the max. The max's
/// own term is exactly 1, so the sum is 1 + s with s the other terms, and log1p(s) keeps s
/// however small (ln(1 + s) would lose every s below ε: a logit 40 below the max would then
/// not move the loss at all).
fn row_lse(row: ndarray::ArrayView1<'_, f64>) -> (f64, f64) {
    let (at, max) =
        (row.iter().enumerate()).fold(
            (0, f64::NEG_INFINITY),
            |(k, m), (j, &v)| {
                if v > m { (j, v) } else { (k, m) }
            },
        );
    let others: f64 = (row.iter().enumerate())
        .filter(|&(j, _)| j != at)
        .map(|(_, &v)| (v - max).exp())
        .sum();
    (max, others.ln_1p())
}

/// softmax(zᵢ) less onehot(yᵢ) for one row, with the label's entry written as
/// −Σ_{k ≠ y} softmax(zᵢ)ₖ: no cancellation of 1 against a softmax near 1.
fn softmax_less_onehot(row: ndarray::ArrayView1<'_, f64>, y: usize) -> ndarray::Array1<f64> {
    let (max, lse) = row_lse(row);
    // softmax(z)ⱼ = e^(zⱼ − m − lse), each at most 1.
    let mut grad = row.mapv(|v| (v - max - lse).exp());
    grad[y] = -(grad.iter().enumerate())
        .filter(|&(j, _)| j != y)
        .map(|(_, &p)| p)
        .sum::<f64>();
    grad
}

/// L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ] = (1/B) Σᵢ (mᵢ + log Σⱼ e^(zᵢⱼ − mᵢ) − zᵢ,yᵢ).
pub fn forward(z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<f64> {
    let (z, labels) = checked(&z, &labels)?;
    Ok(loss(&z, &labels))
}

fn loss(z: &ArrayView2<'_, f64>, labels: &[usize]) -> f64 {
    let total: f64 = (z.rows().into_iter().zip(labels))
        .map(|(row, &y)| {
            let (max, lse) = row_lse(row);
            // log softmax(z)[y] = (z_y − m) − lse: the subtraction of two O(800) numbers is
            // done before the small lse is added.
            lse - (row[y] - max)
        })
        .sum();
    total / z.nrows() as f64
}

/// dL/dz = dL/dL · (softmax(z) − onehot(y)) / B.
pub fn backward(grad_loss: f64, z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    validate::usable(NAME, "dL/dL", &arr0(grad_loss).view())?;
    let (z, labels) = checked(&z, &labels)?;
    Ok(gradient(grad_loss, &z, &labels))
}

fn gradient(grad_loss: f64, z: &ArrayView2<'_, f64>, labels: &[usize]) -> Array2<f64> {
    let scale = grad_loss / z.nrows() as f64;
    let mut grad = Array2::zeros(z.raw_dim());
    for ((mut out, row), &y) in grad.rows_mut().into_iter().zip(z.rows()).zip(labels) {
        out.assign(&(softmax_less_onehot(row, y) * scale));
    }
    grad
}

/// ∂L/∂z: one row of B·C entries, `(softmax(zᵢ)ⱼ − [j = yᵢ]) / B` at `i·C + j`, written out from
/// the softmax itself (not from the VJP).
pub fn jacobian_z(z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    let (z, labels) = checked(&z, &labels)?;
    let (batch, classes) = z.dim();
    let mut jac = Array2::zeros((1, batch * classes));
    for (i, &y) in labels.iter().enumerate() {
        let row = z.row(i);
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let denominator: f64 = row.iter().map(|&v| (v - max).exp()).sum();
        let softmax = |j: usize| (row[j] - max).exp() / denominator;
        for j in 0..classes {
            // 1 − softmax(z)_y, summed from the other classes rather than subtracted from 1.
            let entry = if j == y {
                -(0..classes).filter(|&k| k != y).map(softmax).sum::<f64>()
            } else {
                softmax(j)
            };
            jac[[0, i * classes + j]] = entry / batch as f64;
        }
    }
    Ok(jac)
}

/// (B, C) from the shape of z, for the cost models.
fn dims(input_shapes: &[&[usize]]) -> Result<(usize, usize)> {
    validate::arity(NAME, INPUTS, input_shapes.len())?;
    match input_shapes[0] {
        &[batch, classes] => Ok((batch, classes)),
        other => Err(validate::shape_error(
            NAME,
            "z",
            "a matrix (2 dimensions)".into(),
            other,
        )),
    }
}

/// The softmax-cross-entropy loss on a tape; inputs `z` and `labels` (not differentiated),
/// output a 0-dimensional array.
#[derive(Debug, Clone, Copy, Default)]
pub struct SoftmaxXent;

impl Op for SoftmaxXent {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        Ok(arr0(forward(inputs[0].view(), inputs[1].view())?).into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        let grad_loss = validate::scalar(NAME, "dL/dL", &grad_out)?;
        let z = validate::as_matrix(NAME, "z", &inputs[0])?;
        let labels = validate::labels(NAME, &inputs[1], z.nrows(), z.ncols())?;
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![
            want.then(|| gradient(grad_loss, &z, &labels).into_dyn()),
            None,
        ])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        if wrt != 0 {
            return Err(validate::shape_error(
                NAME,
                "wrt",
                "input index 0 (`labels` is not differentiated)".into(),
                &[wrt],
            ));
        }
        jacobian_z(inputs[0].view(), inputs[1].view())
    }

    fn differentiable(&self, input: usize) -> bool {
        input == 0
    }

    /// Per element a max, a subtraction, an exponential and an addition (an exponential counts
    /// as one); per row a logarithm, two subtractions and an addition into the total; one division.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        let (batch, classes) = dims(input_shapes)?;
        Ok((batch * (4 * classes + 4) + 1) as u64)
    }

    /// The forward's log-sum-exp per row (4 per element, 1 per row), then per element two
    /// subtractions, an exponential and a multiplication; per row the one-hot subtraction; the
    /// scale dL/dL / B once. Against a 1 × B·C Jacobian.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        let (batch, classes) = dims(input_shapes)?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let n = batch * classes;
        Ok(Cost {
            vjp: vjp_road(8 * n + 2 * batch + 1, n),
            jacobian: jacobian_road(1, n),
        })
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, arr1, arr2};

    use super::{SoftmaxXent, backward, forward, jacobian_z};
    use crate::error::Error;
    use crate::ops::Op;

    #[test]
    fn forward_matches_hand_computed_values() {
        // Row 0: equal logits, log softmax = −ln 3. Row 1: softmax [e⁰, e^ln2] / 3 = [1/3, 2/3].
        let z = arr2(&[[1.0, 1.0, 1.0], [0.0, 2.0_f64.ln(), -800.0]]).into_dyn();
        let labels = arr1(&[2.0, 1.0]).into_dyn();
        let expected = (3.0_f64.ln() - (2.0_f64 / 3.0).ln()) / 2.0;
        let got = forward(z.view(), labels.view()).unwrap();
        assert!((got - expected).abs() < 1e-15, "{got} vs {expected}");
        let g = backward(2.0, z.view(), labels.view()).unwrap();
        let expected_g = arr2(&[[1.0 / 3.0, 1.0 / 3.0, -2.0 / 3.0], [1.0 / 3.0, -1.0 / 3.0, 0.0]]);
        assert!(
            g.iter().zip(&expected_g).all(|(a, b)| (a - b).abs() < 1e-15),
            "{g}"
        );
    }

    #[test]
    fn forward_and_backward_are_finite_at_plus_and_minus_800() {
        let z = arr2(&[[800.0, -800.0, 0.0], [-800.0, -800.0, -799.0]]).into_dyn();
        let labels = arr1(&[1.0, 2.0]).into_dyn();
        let loss = forward(z.view(), labels.view()).unwrap();
        // Row 0: −log softmax = 1600; row 1: log(1 + 2e⁻¹) − 0 … both finite.
        let row1 = (2.0 * (-1.0_f64).exp() + 1.0).ln();
        assert!((loss - (1600.0 + row1) / 2.0).abs() < 1e-12, "{loss}");
        let g = backward(1.0, z.view(), labels.view()).unwrap();
        assert!(g.iter().all(|v| v.is_finite()), "{g}");
        assert!((g[[0, 0]] - 0.5).abs() < 1e-15 && (g[[0, 1]] + 0.5).abs() < 1e-15);
    }

    #[test]
    fn backward_is_its_own_jacobian_times_dl_dl() {
        let z = arr2(&[[0.3, -1.2, 2.0], [-0.7, 0.9, 1.1], [5.0, -4.0, 0.0]]).into_dyn();
        let labels = arr1(&[0.0, 2.0, 0.0]).into_dyn();
        let g = backward(-1.5, z.view(), labels.view()).unwrap();
        let jac = jacobian_z(z.view(), labels.view()).unwrap();
        let flat = jac.t().dot(&Array1::from_elem(1, -1.5));
        for (a, b) in g.iter().zip(&flat) {
            assert!((a - b).abs() <= 1e-15, "{a} vs {b}");
        }
    }

    #[test]
    fn bad_labels_are_errors_that_name_them() {
        let z = arr2(&[[0.0, 1.0], [2.0, 3.0]]).into_dyn();
        for bad in [
            arr1(&[0.0, 2.0]),
            arr1(&[0.5, 1.0]),
            arr1(&[-1.0, 0.0]),
            arr1(&[f64::NAN, 0.0]),
            arr1(&[0.0]),
        ] {
            let err = forward(z.view(), bad.view().into_dyn()).unwrap_err();
            let arg = match &err {
                Error::Config { arg, .. } | Error::Shape { arg, .. } => arg.as_str(),
                _ => "",
            };
            assert_eq!(arg, "labels", "{bad}: {err}");
        }
        assert!(!SoftmaxXent.differentiable(1));
        let labels = arr1(&[0.0, 1.0]).into_dyn();
        assert!(SoftmaxXent.jacobian(&[z.view(), labels.view()], 1).is_err());
    }
}
