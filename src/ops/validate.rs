//! Argument validation shared by the ops: arity, rank, non-empty dimensions and finite values.
//! Each failure becomes an [`Error`] naming the op and the argument.

use ndarray::{ArrayView1, ArrayView2, ArrayViewD, Dimension, IntoDimension, Ix1, Ix2};

use super::widest::widest;
use crate::error::{Error, Result};

pub(crate) fn arity(op: &str, names: &[&str], got: usize) -> Result<()> {
    if got == names.len() {
        return Ok(());
    }
    Err(Error::Arity {
        op: op.to_owned(),
        expected: names.len(),
        names: names.join(", "),
        got,
    })
}

pub(crate) fn shape_error(op: &str, arg: &str, expected: String, got: &[usize]) -> Error {
    Error::Shape {
        op: op.to_owned(),
        arg: arg.to_owned(),
        expected,
        got: got.to_vec(),
    }
}

/// Every dimension at least 1 and every value finite.
pub(crate) fn usable<D: Dimension>(op: &str, arg: &str, x: &ndarray::ArrayView<'_, f64, D>) -> Result<()> {
    non_empty(op, arg, x)?;
    finite(op, arg, x)
}

/// Every dimension at least 1.
pub(crate) fn non_empty<D: Dimension>(op: &str, arg: &str, x: &ndarray::ArrayView<'_, f64, D>) -> Result<()> {
    if x.shape().contains(&0) {
        return Err(Error::Empty {
            op: op.to_owned(),
            arg: arg.to_owned(),
            shape: x.shape().to_vec(),
        });
    }
    Ok(())
}

/// Every value finite, or an error naming the first that is not and its index.
pub(crate) fn finite<D: Dimension>(op: &str, arg: &str, x: &ndarray::ArrayView<'_, f64, D>) -> Result<()> {
    if all_finite(x) {
        return Ok(());
    }
    if let Some((index, &value)) = x.indexed_iter().find(|(_, v)| !v.is_finite()) {
        return Err(Error::NonFinite {
            op: op.to_owned(),
            arg: arg.to_owned(),
            index: index.into_dimension().slice().to_vec(),
            value,
        });
    }
    Ok(())
}

/// No NaN or infinity. `v − v` is 0 for a finite v and NaN otherwise, so the sum over a
/// contiguous slice is exactly 0 when all are finite: a branch-free loop that vectorises, where
/// iterating an `IxDyn` array element by element is an order of magnitude slower.
#[expect(clippy::eq_op, reason = "v − v is exactly 0 for a finite v and NaN otherwise")]
pub(crate) fn all_finite<D: Dimension>(x: &ndarray::ArrayView<'_, f64, D>) -> bool {
    let Some(slice) = x.as_slice_memory_order() else {
        return x.iter().all(|v| v.is_finite());
    };
    // Eight independent sums, so that the additions need not wait for each other.
    widest(|| {
        let mut lanes = [0.0_f64; 8];
        let chunks = slice.chunks_exact(8);
        let rest: f64 = chunks.remainder().iter().map(|v| v - v).sum();
        for chunk in chunks {
            for (lane, v) in lanes.iter_mut().zip(chunk) {
                *lane += v - v;
            }
        }
        lanes.iter().sum::<f64>() + rest == 0.0
    })
}

/// `x` as a matrix, or an error naming the argument. Only the rank is checked here: the op checks
/// the values once, with the shapes they must fit (linear's `dims`).
pub(crate) fn as_matrix<'a>(op: &str, arg: &str, x: &ArrayViewD<'a, f64>) -> Result<ArrayView2<'a, f64>> {
    x.clone()
        .into_dimensionality::<Ix2>()
        .map_err(|_| shape_error(op, arg, "a matrix (2 dimensions)".into(), x.shape()))
}

/// `x` as a vector, or an error naming the argument; as [`as_matrix`], the rank only.
pub(crate) fn as_vector<'a>(op: &str, arg: &str, x: &ArrayViewD<'a, f64>) -> Result<ArrayView1<'a, f64>> {
    x.clone()
        .into_dimensionality::<Ix1>()
        .map_err(|_| shape_error(op, arg, "a vector (1 dimension)".into(), x.shape()))
}

/// A usable scalar: a 0-dimensional array or any array of exactly one element.
pub(crate) fn scalar(op: &str, arg: &str, x: &ArrayViewD<'_, f64>) -> Result<f64> {
    if x.len() != 1 {
        return Err(shape_error(op, arg, "a scalar (one element)".into(), x.shape()));
    }
    usable(op, arg, x)?;
    Ok(*x.iter().next().expect("internal: one element"))
}

/// `x` must have exactly `shape` and be [`usable`].
pub(crate) fn same_shape<D: Dimension>(
    op: &str,
    arg: &str,
    x: &ndarray::ArrayView<'_, f64, D>,
    shape: &[usize],
) -> Result<()> {
    has_shape(op, arg, x, shape)?;
    usable(op, arg, x)
}

/// `x` must have exactly `shape`; its values are not looked at.
pub(crate) fn has_shape<D: Dimension>(
    op: &str,
    arg: &str,
    x: &ndarray::ArrayView<'_, f64, D>,
    shape: &[usize],
) -> Result<()> {
    if x.shape() != shape {
        return Err(shape_error(op, arg, format!("{shape:?}"), x.shape()));
    }
    Ok(())
}

/// An argument whose value (not its shape) is out of range: an attribute such as dropout's `p`
/// or batchnorm's `eps`, or an entry of a mask or of labels. `value` says what was found (and
/// where), `expected` what the op accepts; the op's name leads `expected`, since
/// [`Error::Config`] has no field of its own for it.
pub(crate) fn value_error(op: &str, arg: &str, value: String, expected: &str) -> Error {
    Error::Config {
        arg: arg.to_owned(),
        value,
        expected: format!("{expected} ({op})"),
    }
}

/// Labels for the B rows of a B×C `z`: a vector of B integers in [0, C), stored as `f64`.
pub(crate) fn labels(
    op: &str,
    labels: &ArrayViewD<'_, f64>,
    batch: usize,
    classes: usize,
) -> Result<Vec<usize>> {
    let labels = as_vector(op, "labels", labels)?;
    has_shape(op, "labels", &labels, &[batch])?;
    labels
        .iter()
        .enumerate()
        .map(|(i, &y)| {
            if y.fract() == 0.0 && (0.0..classes as f64).contains(&y) {
                Ok(y as usize)
            } else {
                Err(value_error(
                    op,
                    "labels",
                    format!("{y} at index [{i}]"),
                    &format!("an integer in [0, {classes}) (the columns of z)"),
                ))
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2};

    use super::all_finite;

    #[test]
    fn all_finite_finds_a_nan_or_an_infinity_at_every_position_of_every_length() {
        for len in 1..=41 {
            let clean = Array1::from_iter((0..len).map(|i| i as f64 * 1e300 - 7.5));
            assert!(all_finite(&clean.view()), "length {len}");
            for at in 0..len {
                for bad in [f64::NAN, f64::INFINITY, f64::NEG_INFINITY] {
                    let mut x = clean.clone();
                    x[at] = bad;
                    assert!(!all_finite(&x.view()), "{bad} at {at} of {len}");
                }
            }
        }
        let mut m = Array2::from_elem((5, 7), 1.0);
        m[[4, 1]] = f64::NAN;
        assert!(!all_finite(&m.t()), "a column-major view");
    }
}
