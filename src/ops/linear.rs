//! `linear`: a = h W + b, with rows of `h` as data points (Eq. 34a, 48, 49).
//!
//! Shapes: h is B×Din, W is Din×Dout, b has Dout entries and is added to every row, a is B×Dout.
//! In index notation `a_bj = Σ_i h_bi W_ij + b_j` (Eq. 49).
//!
//! Jacobians (Exercises 1–3), for one data point b and across data points b, b′:
//! - `∂a_bj/∂h_b′α = δ_bb′ W_αj` (Eq. 56);
//! - `∂a_bj/∂W_αβ = h_bα δ_jβ` (Eq. 60);
//! - `∂a_bj/∂b_α = δ_jα` (Eq. 63).
//!
//! Backward (Exercises 4–6), with g = dL/da:
//! - `dL/dh = g Wᵀ` (Eq. 66);
//! - `dL/dW = hᵀ g` (Eq. 70), summed over data points by the product;
//! - `dL/db = Σ_b g_b` (Eq. 74), the sum of g's rows: b is shared by every data point.

use std::borrow::Cow;

use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, Axis};

use super::matmul::matmul;
use super::widest::widest;
use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "linear";
const INPUTS: &[&str] = &["h", "W", "b"];

/// The gradients of `linear` with respect to each of its inputs (Eq. 30b).
#[derive(Debug, Clone, PartialEq)]
pub struct LinearGrads {
    /// dL/dh, B×Din.
    pub h: Array2<f64>,
    /// dL/dW, Din×Dout.
    pub w: Array2<f64>,
    /// dL/db, Dout.
    pub b: Array1<f64>,
}

/// Checks that h, W and b are usable (no empty dimension, every value finite) and fit together,
/// returning (B, Din, Dout).
fn dims(
    h: &ArrayView2<'_, f64>,
    w: &ArrayView2<'_, f64>,
    b: &ArrayView1<'_, f64>,
) -> Result<(usize, usize, usize)> {
    validate::usable(NAME, "h", h)?;
    validate::usable(NAME, "W", w)?;
    validate::usable(NAME, "b", b)?;
    fit(h, w, b)
}

/// Checks only that the shapes of h, W and b fit together, returning (B, Din, Dout).
fn fit(
    h: &ArrayView2<'_, f64>,
    w: &ArrayView2<'_, f64>,
    b: &ArrayView1<'_, f64>,
) -> Result<(usize, usize, usize)> {
    let (batch, d_in) = h.dim();
    let (w_rows, d_out) = w.dim();
    if w_rows != d_in {
        return Err(validate::shape_error(
            NAME,
            "W",
            format!("{d_in} rows (the columns of h, which has shape {:?})", h.shape()),
            w.shape(),
        ));
    }
    if b.len() != d_out {
        return Err(validate::shape_error(
            NAME,
            "b",
            format!("[{d_out}] (the columns of W, which has shape {:?})", w.shape()),
            b.shape(),
        ));
    }
    Ok((batch, d_in, d_out))
}

/// a = h W + b (Eq. 34a).
///
/// A NaN or an infinity anywhere in h, W or b reaches a (NaN·0 and ∞·0 are NaN, and so is
/// ∞ − ∞), so the output's B·Dout values are scanned rather than the inputs' B·Din + Din·Dout +
/// Dout; only when a holds one are the inputs scanned, to name the argument and the index.
/// Finite inputs whose product overflows give a non-finite a, which the next op rejects.
pub fn forward(
    h: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    validate::non_empty(NAME, "h", &h)?;
    validate::non_empty(NAME, "W", &w)?;
    validate::non_empty(NAME, "b", &b)?;
    fit(&h, &w, &b)?;
    let mut a = matmul(h.view(), w.view());
    add_to_every_row(&mut a, &b);
    if !validate::all_finite(&a.view()) {
        validate::finite(NAME, "h", &h)?;
        validate::finite(NAME, "W", &w)?;
        validate::finite(NAME, "b", &b)?;
    }
    Ok(a)
}

/// (dL/dh, dL/dW, dL/db) from dL/da (Eq. 30b, 66, 70, 74).
pub fn backward(
    grad_a: ArrayView2<'_, f64>,
    h: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<LinearGrads> {
    let (batch, _, d_out) = dims(&h, &w, &b)?;
    validate::same_shape(NAME, "dL/da", &grad_a, &[batch, d_out])?;
    Ok(LinearGrads {
        h: matmul(grad_a, w.t()),
        w: matmul(h.t(), grad_a),
        b: column_sums(&grad_a),
    })
}

/// `a_bj += b_j` for every row b: the bias of Eq. 49, added row by row over slices (`a` is the
/// row-major output of [`matmul`]), which vectorises where ndarray's broadcast goes through a
/// `Zip`. The same additions, so the same values.
fn add_to_every_row(a: &mut Array2<f64>, b: &ArrayView1<'_, f64>) {
    let b = b.as_slice().map_or_else(|| Cow::Owned(b.to_vec()), Cow::Borrowed);
    widest(|| {
        for mut row in a.rows_mut() {
            let row = row
                .as_slice_mut()
                .expect("internal: matmul's output is row-major");
            for (a, b) in row.iter_mut().zip(b.iter()) {
                *a += b;
            }
        }
    });
}

/// `Σ_b g_b`, the sum of g's rows (Eq. 74): the same values as ndarray's `sum_axis(Axis(0))`,
/// faster on a row-major g. There ndarray sums each column from 0 in row order, unless the row
/// stride is the smaller one (one column); so does this, over row slices, which vectorises.
fn column_sums(g: &ArrayView2<'_, f64>) -> Array1<f64> {
    let [row_stride, column_stride] = [g.strides()[0].abs(), g.strides()[1].abs()];
    if !g.is_standard_layout() || row_stride < column_stride {
        return g.sum_axis(Axis(0));
    }
    let mut sums = Array1::<f64>::zeros(g.ncols());
    let out = sums.as_slice_mut().expect("internal: a new vector is contiguous");
    widest(|| {
        for row in g.rows() {
            let row = row
                .to_slice()
                .expect("internal: rows of a row-major matrix are contiguous");
            for (sum, v) in out.iter_mut().zip(row) {
                *sum += v;
            }
        }
    });
    sums
}

/// ∂a/∂h: `(B·Dout) × (B·Din)`, with `J[b·Dout + j, b·Din + α] = W_αj` (Eq. 56).
pub fn jacobian_h(
    h: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    let (batch, d_in, d_out) = dims(&h, &w, &b)?;
    let mut jac = Array2::zeros((batch * d_out, batch * d_in));
    for row in 0..batch {
        for j in 0..d_out {
            for alpha in 0..d_in {
                jac[[row * d_out + j, row * d_in + alpha]] = w[[alpha, j]];
            }
        }
    }
    Ok(jac)
}

/// ∂a/∂W: `(B·Dout) × (Din·Dout)`, with `J[b·Dout + j, α·Dout + j] = h_bα` (Eq. 60).
pub fn jacobian_w(
    h: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    let (batch, d_in, d_out) = dims(&h, &w, &b)?;
    let mut jac = Array2::zeros((batch * d_out, d_in * d_out));
    for row in 0..batch {
        for j in 0..d_out {
            for alpha in 0..d_in {
                jac[[row * d_out + j, alpha * d_out + j]] = h[[row, alpha]];
            }
        }
    }
    Ok(jac)
}

/// ∂a/∂b: `(B·Dout) × Dout`, with `J[b·Dout + j, j] = 1` (Eq. 63).
pub fn jacobian_b(
    h: ArrayView2<'_, f64>,
    w: ArrayView2<'_, f64>,
    b: ArrayView1<'_, f64>,
) -> Result<Array2<f64>> {
    let (batch, _, d_out) = dims(&h, &w, &b)?;
    let mut jac = Array2::zeros((batch * d_out, d_out));
    for row in 0..batch {
        for j in 0..d_out {
            jac[[row * d_out + j, j]] = 1.0;
        }
    }
    Ok(jac)
}

/// (B, Din, Dout) from the shapes of h and W, for the cost models.
fn matrix_dims(input_shapes: &[&[usize]]) -> Result<(usize, usize, usize)> {
    validate::arity(NAME, INPUTS, input_shapes.len())?;
    let (&[batch, d_in], &[_, d_out]) = (input_shapes[0], input_shapes[1]) else {
        return Err(validate::shape_error(
            NAME,
            "h, W",
            "two matrices".into(),
            input_shapes[0],
        ));
    };
    Ok((batch, d_in, d_out))
}

/// The linear op on a tape; inputs `h`, `W`, `b`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Linear;

fn views<'a>(
    inputs: &[ArrayViewD<'a, f64>],
) -> Result<(ArrayView2<'a, f64>, ArrayView2<'a, f64>, ArrayView1<'a, f64>)> {
    validate::arity(NAME, INPUTS, inputs.len())?;
    Ok((
        validate::as_matrix(NAME, "h", &inputs[0])?,
        validate::as_matrix(NAME, "W", &inputs[1])?,
        validate::as_vector(NAME, "b", &inputs[2])?,
    ))
}

impl Op for Linear {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        let (h, w, b) = views(inputs)?;
        Ok(forward(h, w, b)?.into_dyn())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let (h, w, b) = views(inputs)?;
        let (batch, _, d_out) = fit(&h, &w, &b)?;
        let grad_a = validate::as_matrix(NAME, "dL/da", &grad_out)?;
        validate::has_shape(NAME, "dL/da", &grad_a, &[batch, d_out])?;
        let want = |k: usize| wanted.get(k).copied().unwrap_or(false);
        Ok(vec![
            want(0).then(|| matmul(grad_a, w.t()).into_dyn()),
            want(1).then(|| matmul(h.t(), grad_a).into_dyn()),
            want(2).then(|| column_sums(&grad_a).into_dyn()),
        ])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        let (h, w, b) = views(inputs)?;
        match wrt {
            0 => jacobian_h(h, w, b),
            1 => jacobian_w(h, w, b),
            2 => jacobian_b(h, w, b),
            _ => Err(validate::shape_error(
                NAME,
                "wrt",
                "an input index below 3".into(),
                &[wrt],
            )),
        }
    }

    /// h W is B·Din·Dout multiply-adds, + b one addition per output element.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        let (batch, d_in, d_out) = matrix_dims(input_shapes)?;
        Ok((2 * batch * d_in * d_out + batch * d_out) as u64)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        let (batch, d_in, d_out) = matrix_dims(input_shapes)?;
        let out_len = batch * d_out;
        // (input length, VJP flops): g Wᵀ and hᵀ g are B·Din·Dout multiply-adds, Σ_b g_b is
        // (B − 1)·Dout additions (counted as B·Dout, one per element read).
        let roads = [
            (batch * d_in, 2 * batch * d_in * d_out),
            (d_in * d_out, 2 * batch * d_in * d_out),
            (d_out, batch * d_out),
        ];
        Ok(roads
            .iter()
            .zip(wanted)
            .filter(|(_, want)| **want)
            .map(|(&(in_len, flops), _)| Cost {
                vjp: vjp_road(flops, in_len),
                jacobian: jacobian_road(out_len, in_len),
            })
            .fold(Cost::default(), |acc, c| acc + c))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Array2, s};

    use super::{add_to_every_row, column_sums};

    /// Values with every kind of rounding in their sums (no two alike, many magnitudes).
    fn sample(m: usize, n: usize, seed: u64) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| {
            let k = (i * 131 + j * 71) as u64 + seed * 977;
            ((k * 2_654_435_761) % 1_000_003) as f64 / 7919.0 * if k.is_multiple_of(3) { -1e-3 } else { 1.0 }
        })
    }

    #[test]
    fn column_sums_are_bit_for_bit_ndarrays_sum_axis_on_every_layout() {
        for &(m, n) in &[(32, 64), (7, 1), (1, 5), (1, 1), (33, 17)] {
            let g = sample(m, n, 1);
            let wide = sample(m, 2 * n + 1, 2);
            let column_major = g.t().to_owned();
            let views = [
                g.view(),
                column_major.t(),
                wide.slice(s![.., ..;2]),
                wide.slice(s![.., 1..n + 1]),
                wide.slice(s![..;-1, ..n]),
            ];
            for (k, v) in views.iter().enumerate() {
                let expected = v.sum_axis(ndarray::Axis(0));
                let got = column_sums(v);
                assert_eq!(got.len(), expected.len());
                for (a, b) in got.iter().zip(&expected) {
                    assert_eq!(a.to_bits(), b.to_bits(), "{m}×{n}, view {k}");
                }
            }
            let t = sample(n, m, 3);
            assert_eq!(
                column_sums(&t.t()),
                t.t().sum_axis(ndarray::Axis(0)),
                "transposed {m}×{n}"
            );
        }
    }

    #[test]
    fn adding_the_bias_row_by_row_is_bit_for_bit_ndarrays_broadcast() {
        let a = sample(9, 6, 4);
        let b_wide = Array1::from_iter((0..12).map(|j| j as f64 * 0.37 - 1.1));
        for b in [b_wide.slice(s![..6]), b_wide.slice(s![..;2])] {
            let mut got = a.clone();
            add_to_every_row(&mut got, &b);
            let expected = &a + &b;
            for (x, y) in got.iter().zip(&expected) {
                assert_eq!(x.to_bits(), y.to_bits());
            }
        }
    }
}
