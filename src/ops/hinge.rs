//! `hinge` (multiclass SVM, margin 1): L = (1/B) Σᵢ Σ_{j ≠ yᵢ} max(0, mᵢⱼ), with the margins
//! mᵢⱼ = zᵢⱼ − zᵢ,yᵢ + 1, over the B×C scores `z` and the labels y.
//!
//! `labels` is a vector of B integers in [0, C), stored as `f64`, and is not differentiated
//! ([`Op::differentiable`] is false for it); asking for its Jacobian is an error.
//!
//! The output is the loss (0-dimensional), so the upstream gradient is the scalar dL/dL. With
//! the active set Aᵢⱼ = [mᵢⱼ > 0] (j ≠ yᵢ):
//! - `dL/dzᵢⱼ = dL/dL · Aᵢⱼ / B` for j ≠ yᵢ;
//! - `dL/dzᵢ,yᵢ = −dL/dL · Σ_{j ≠ yᵢ} Aᵢⱼ / B`.
//!
//! **Kinks.** Where a margin is exactly 0 the loss is not differentiable; the subgradient taken
//! there is the inactive one (A = 0), as relu's Θ(0) = 0. A finite difference across a margin's
//! zero is meaningless, which [`Op::smooth_between`] reports: the margins are linear in z, so on a
//! straight line one crosses or touches 0 exactly when its signs at the two ends are not the same
//! strict sign.

use ndarray::{Array2, ArrayD, ArrayView2, ArrayViewD, arr0};

use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "hinge";
const INPUTS: &[&str] = &["z", "labels"];

/// z as a usable B×C matrix and its labels, every argument checked.
fn checked<'a>(
    z: &ArrayViewD<'a, f64>,
    labels: &ArrayViewD<'_, f64>,
) -> Result<(ArrayView2<'a, f64>, Vec<usize>)> {
    let z = validate::as_matrix(NAME, "z", z)?;
    validate::usable(NAME, "z", &z)?;
    let labels = validate::labels(NAME, labels, z.nrows(), z.ncols())?;
    Ok((z, labels))
}

/// The margins mᵢⱼ = zᵢⱼ − zᵢ,yᵢ + 1 of every j ≠ yᵢ, as (i, j, mᵢⱼ).
fn margins<'a>(
    z: &'a ArrayView2<'_, f64>,
    labels: &'a [usize],
) -> impl Iterator<Item = (usize, usize, f64)> + 'a {
    labels.iter().enumerate().flat_map(move |(i, &y)| {
        (0..z.ncols())
            .filter(move |&j| j != y)
            .map(move |j| (i, j, z[[i, j]] - z[[i, y]] + 1.0))
    })
}

/// L = (1/B) Σᵢ Σ_{j ≠ yᵢ} max(0, mᵢⱼ).
pub fn forward(z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<f64> {
    let (z, labels) = checked(&z, &labels)?;
    let total: f64 = margins(&z, &labels).map(|(_, _, m)| m.max(0.0)).sum();
    Ok(total / z.nrows() as f64)
}

/// dL/dz from the scalar dL/dL, with the inactive subgradient at a margin of exactly 0.
pub fn backward(grad_loss: f64, z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    validate::usable(NAME, "dL/dL", &arr0(grad_loss).view())?;
    let (z, labels) = checked(&z, &labels)?;
    Ok(gradient(grad_loss, &z, &labels))
}

fn gradient(grad_loss: f64, z: &ArrayView2<'_, f64>, labels: &[usize]) -> Array2<f64> {
    let scale = grad_loss / z.nrows() as f64;
    let mut grad = Array2::zeros(z.raw_dim());
    for (i, j, m) in margins(z, labels) {
        if m > 0.0 {
            grad[[i, j]] += scale;
            grad[[i, labels[i]]] -= scale;
        }
    }
    grad
}

/// ∂L/∂z: one row of B·C entries, at `i·C + j` the number of active margins zᵢⱼ enters with a
/// plus sign less those it enters with a minus sign, over B, written term by term.
pub fn jacobian_z(z: ArrayViewD<'_, f64>, labels: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    let (z, labels) = checked(&z, &labels)?;
    let (batch, classes) = z.dim();
    let mut jac = Array2::zeros((1, batch * classes));
    for (i, &y) in labels.iter().enumerate() {
        for j in (0..classes).filter(|&j| j != y) {
            // ∂ max(0, zᵢⱼ − zᵢ,y + 1) / ∂zᵢₖ = A · ([k = j] − [k = y]).
            let active = if z[[i, j]] - z[[i, y]] + 1.0 > 0.0 {
                1.0
            } else {
                0.0
            };
            jac[[0, i * classes + j]] += active / batch as f64;
            jac[[0, i * classes + y]] -= active / batch as f64;
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

/// The multiclass hinge loss on a tape; inputs `z` and `labels` (not differentiated), output a
/// 0-dimensional array.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hinge;

impl Op for Hinge {
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

    /// Per score a subtraction, an addition, a max and an addition into the total; one division.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        let (batch, classes) = dims(input_shapes)?;
        Ok((4 * batch * classes + 1) as u64)
    }

    /// Per score the margin (2), its test (1) and at most two additions into the gradient (2);
    /// the scale dL/dL / B once. Against a 1 × B·C Jacobian.
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        let (batch, classes) = dims(input_shapes)?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let n = batch * classes;
        Ok(Cost {
            vjp: vjp_road(5 * n + 1, n),
            jacobian: jacobian_road(1, n),
        })
    }

    /// No margin changes sign or touches 0 between `lo` and `hi` (the labels the same at both).
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        let (Some((z_lo, y_lo)), Some((z_hi, y_hi))) = (pair(lo), pair(hi)) else {
            return false;
        };
        if z_lo.shape() != z_hi.shape() || y_lo != y_hi {
            return false;
        }
        margins(&z_lo, &y_lo)
            .zip(margins(&z_hi, &y_hi))
            .all(|((_, _, l), (_, _, h))| l * h > 0.0)
    }
}

/// z and the labels from an op's inputs, or None where they do not fit.
fn pair<'a>(inputs: &[ArrayViewD<'a, f64>]) -> Option<(ArrayView2<'a, f64>, Vec<usize>)> {
    match inputs {
        [z, labels] => checked(z, labels).ok(),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, arr1, arr2};

    use super::{Hinge, backward, forward, jacobian_z};
    use crate::error::Error;
    use crate::ops::Op;

    #[test]
    fn forward_and_backward_match_hand_computed_values() {
        // Row 0, y = 0: margins 2 − 3 + 1 = 0 (a kink: inactive) and 1 − 3 + 1 = −1.
        let z = arr2(&[[3.0, 2.0, 1.0], [0.5, 4.0, 3.0]]).into_dyn();
        let labels = arr1(&[0.0, 2.0]).into_dyn();
        // Row 1: margins 0.5 − 3 + 1 = −1.5 and 4 − 3 + 1 = 2. L = (0 + 2) / 2 = 1.
        assert_eq!(forward(z.view(), labels.view()).unwrap(), 1.0);
        let g = backward(4.0, z.view(), labels.view()).unwrap();
        assert_eq!(g, arr2(&[[0.0, 0.0, 0.0], [0.0, 2.0, -2.0]]));
        let flat = jacobian_z(z.view(), labels.view())
            .unwrap()
            .t()
            .dot(&Array1::from_elem(1, 4.0));
        assert_eq!(flat.to_vec(), g.iter().copied().collect::<Vec<_>>());
    }

    #[test]
    fn smooth_between_sees_a_margin_that_reaches_or_crosses_zero() {
        let labels = arr1(&[0.0]).into_dyn();
        let at = |row: [f64; 3]| arr2(&[row]).into_dyn();
        let smooth = |lo: [f64; 3], hi: [f64; 3]| {
            let (lo, hi) = (at(lo), at(hi));
            Hinge.smooth_between(&[lo.view(), labels.view()], &[hi.view(), labels.view()])
        };
        // Margins of [3, 1.5, 0]: −0.5 and −2; of [3, 2.5, 0]: 0.5 and −2.
        assert!(smooth([3.0, 1.5, 0.0], [3.0, 1.6, 0.0]));
        assert!(!smooth([3.0, 1.5, 0.0], [3.0, 2.5, 0.0]), "crosses 0");
        assert!(!smooth([3.0, 1.5, 0.0], [3.0, 2.0, 0.0]), "touches 0 at the end");
        assert!(
            !smooth([3.6, 2.5, 0.0], [2.5, 2.5, 0.0]),
            "the label's score moves it across"
        );
        let other = arr1(&[1.0]).into_dyn();
        let z = at([3.0, 1.5, 0.0]);
        assert!(!Hinge.smooth_between(&[z.view(), labels.view()], &[z.view(), other.view()]));
    }

    #[test]
    fn bad_labels_are_errors_that_name_them() {
        let z = arr2(&[[0.0, 1.0], [2.0, 3.0]]).into_dyn();
        let bad = arr1(&[0.0, 2.0]).into_dyn();
        let err = forward(z.view(), bad.view()).unwrap_err();
        assert!(
            matches!(err, Error::Config { ref arg, .. } if arg == "labels"),
            "{err}"
        );
        assert!(!Hinge.differentiable(1));
        let labels = arr1(&[0.0, 1.0]).into_dyn();
        assert!(Hinge.jacobian(&[z.view(), labels.view()], 1).is_err());
    }
}
