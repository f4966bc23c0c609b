//! The shared road of batchnorm and layernorm: out = γ ⊙ x̂ + β with x̂ = (x − μ) / √(σ² + ε),
//! the statistics taken per *group* of N entries of the B×D matrix x: a column (N = B) for
//! batchnorm, a row (N = D) for layernorm; γ and β are per feature (column) in both.
//!
//! With r = 1/√(σ² + ε) per group and the biased variance σ² = (1/N) Σ (x − μ)²,
//! `∂x̂_a/∂x_b = r (δ_ab − 1/N − x̂_a x̂_b / N)` for a, b in one group (0 across groups), so with
//! dx̂ = γ ⊙ dout the VJP per group is `dx = r/N · (N dx̂ − Σ dx̂ − x̂ Σ(dx̂ ⊙ x̂))`, O(B·D), and
//! `dγ = Σ_rows dout ⊙ x̂`, `dβ = Σ_rows dout`.

use ndarray::{Array1, Array2, ArrayD, ArrayView1, ArrayView2, ArrayViewD, Axis};

use super::{Cost, Work, jacobian_road, validate, vjp_road};
use crate::error::Result;

mod local;

pub(crate) const INPUTS: &[&str] = &["x", "gamma", "beta"];

/// The default ε of both ops.
pub const DEFAULT_EPS: f64 = 1e-5;

/// Which op: the axis along which a group runs (0: down a column; 1: along a row).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Norm {
    pub(crate) name: &'static str,
    pub(crate) axis: Axis,
}

/// The three gradients.
pub(crate) struct NormGrads {
    pub(crate) x: Array2<f64>,
    pub(crate) gamma: Array1<f64>,
    pub(crate) beta: Array1<f64>,
}

/// x̂ and r = 1/√(σ² + ε) per group (a vector over the other axis).
struct Normalized {
    x_hat: Array2<f64>,
    r: Array1<f64>,
}

impl Norm {
    /// x as a B×D matrix, γ and β vectors of D; shapes, N ≥ 2 and ε checked, values not.
    pub(crate) fn views<'a>(
        &self,
        inputs: &[ArrayViewD<'a, f64>],
        eps: f64,
    ) -> Result<(ArrayView2<'a, f64>, ArrayView1<'a, f64>, ArrayView1<'a, f64>)> {
        validate::arity(self.name, INPUTS, inputs.len())?;
        if !(eps > 0.0 && eps.is_finite()) {
            return Err(validate::value_error(
                self.name,
                "eps",
                eps.to_string(),
                "a finite number > 0",
            ));
        }
        let x = validate::as_matrix(self.name, "x", &inputs[0])?;
        let gamma = validate::as_vector(self.name, "gamma", &inputs[1])?;
        let beta = validate::as_vector(self.name, "beta", &inputs[2])?;
        if x.len_of(self.axis) < 2 {
            let what = if self.axis == Axis(0) {
                "B ≥ 2 rows"
            } else {
                "D ≥ 2 columns"
            };
            return Err(validate::shape_error(
                self.name,
                "x",
                format!("a matrix with {what}"),
                x.shape(),
            ));
        }
        let d = [x.ncols()];
        validate::has_shape(self.name, "gamma", &gamma, &d)?;
        validate::has_shape(self.name, "beta", &beta, &d)?;
        Ok((x, gamma, beta))
    }

    /// [`Norm::views`], every value also checked finite.
    pub(crate) fn checked<'a>(
        &self,
        inputs: &[ArrayViewD<'a, f64>],
        eps: f64,
    ) -> Result<(ArrayView2<'a, f64>, ArrayView1<'a, f64>, ArrayView1<'a, f64>)> {
        let (x, gamma, beta) = self.views(inputs, eps)?;
        validate::usable(self.name, "x", &x)?;
        validate::usable(self.name, "gamma", &gamma)?;
        validate::usable(self.name, "beta", &beta)?;
        Ok((x, gamma, beta))
    }

    fn normalize(&self, x: &ArrayView2<'_, f64>, eps: f64) -> Normalized {
        let n = x.len_of(self.axis) as f64;
        let mean = x.sum_axis(self.axis) / n;
        let mut x_hat = x.to_owned();
        let centered = |mut lane: ndarray::ArrayViewMut1<'_, f64>, mu: &f64| lane -= *mu;
        ndarray::Zip::from(x_hat.lanes_mut(self.axis))
            .and(&mean)
            .for_each(centered);
        let variance = x_hat.mapv(|c| c * c).sum_axis(self.axis) / n;
        let r = variance.mapv(|v| 1.0 / (v + eps).sqrt());
        ndarray::Zip::from(x_hat.lanes_mut(self.axis))
            .and(&r)
            .for_each(|mut lane, &r| lane *= r);
        Normalized { x_hat, r }
    }

    /// out = γ ⊙ x̂ + β.
    pub(crate) fn forward(
        &self,
        x: &ArrayView2<'_, f64>,
        gamma: &ArrayView1<'_, f64>,
        beta: &ArrayView1<'_, f64>,
        eps: f64,
    ) -> Array2<f64> {
        self.normalize(x, eps).x_hat * gamma + beta
    }

    /// (dx, dγ, dβ) from dout, the efficient way (the module's note).
    pub(crate) fn backward(
        &self,
        grad_out: &ArrayView2<'_, f64>,
        x: &ArrayView2<'_, f64>,
        gamma: &ArrayView1<'_, f64>,
        eps: f64,
    ) -> NormGrads {
        let Normalized { x_hat, r } = self.normalize(x, eps);
        let n = x.len_of(self.axis) as f64;
        let beta = grad_out.sum_axis(Axis(0));
        let gamma_grad = (grad_out * &x_hat).sum_axis(Axis(0));
        let d_hat = grad_out * gamma;
        let sum = d_hat.sum_axis(self.axis);
        let dot = (&d_hat * &x_hat).sum_axis(self.axis);
        let mut dx = d_hat;
        ndarray::Zip::from(dx.lanes_mut(self.axis))
            .and(x_hat.lanes(self.axis))
            .and(&sum)
            .and(&dot)
            .and(&r)
            .for_each(|mut dx, x_hat, &sum, &dot, &r| {
                ndarray::Zip::from(&mut dx)
                    .and(&x_hat)
                    .for_each(|d, &h| *d = r / n * (n * *d - sum - h * dot));
            });
        NormGrads {
            x: dx,
            gamma: gamma_grad,
            beta,
        }
    }

    /// ∂out/∂x: (B·D) × (B·D), `J[a, b] = γ_col(a) r (δ_ab − 1/N − x̂_a x̂_b / N)` for a, b in one
    /// group, 0 across groups.
    pub(crate) fn jacobian_x(
        &self,
        x: &ArrayView2<'_, f64>,
        gamma: &ArrayView1<'_, f64>,
        eps: f64,
    ) -> Array2<f64> {
        let Normalized { x_hat, r } = self.normalize(x, eps);
        let (batch, d) = x.dim();
        let n = x.len_of(self.axis) as f64;
        let group = |i: usize, j: usize| if self.axis == Axis(0) { j } else { i };
        let mut jac = Array2::zeros((batch * d, batch * d));
        for ((a_i, a_j), &h_a) in x_hat.indexed_iter() {
            for ((b_i, b_j), &h_b) in x_hat.indexed_iter() {
                if group(a_i, a_j) != group(b_i, b_j) {
                    continue;
                }
                let delta = if (a_i, a_j) == (b_i, b_j) { 1.0 } else { 0.0 };
                jac[[a_i * d + a_j, b_i * d + b_j]] =
                    gamma[a_j] * r[group(a_i, a_j)] * (delta - 1.0 / n - h_a * h_b / n);
            }
        }
        jac
    }

    /// ∂out/∂γ: (B·D) × D with `J[i·D + j, j] = x̂_ij`, or ∂out/∂β (`x̂` replaced by 1).
    pub(crate) fn jacobian_affine(&self, x: &ArrayView2<'_, f64>, eps: f64, wrt_gamma: bool) -> Array2<f64> {
        let x_hat = self.normalize(x, eps).x_hat;
        let (batch, d) = x.dim();
        let mut jac = Array2::zeros((batch * d, d));
        for ((i, j), &h) in x_hat.indexed_iter() {
            jac[[i * d + j, j]] = if wrt_gamma { h } else { 1.0 };
        }
        jac
    }

    /// [`Op::forward`](super::Op::forward) for this op.
    pub(crate) fn op_forward(&self, inputs: &[ArrayViewD<'_, f64>], eps: f64) -> Result<ArrayD<f64>> {
        let (x, gamma, beta) = self.checked(inputs, eps)?;
        Ok(self.forward(&x, &gamma, &beta, eps).into_dyn())
    }

    /// [`Op::vjp`](super::Op::vjp) for this op: shapes checked, values not scanned again.
    pub(crate) fn op_vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
        eps: f64,
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        let (x, gamma, _) = self.views(inputs, eps)?;
        let grad = validate::as_matrix(self.name, "dL/dout", &grad_out)?;
        validate::has_shape(self.name, "dL/dout", &grad, x.shape())?;
        if !wanted.iter().any(|w| *w) {
            return Ok(vec![None, None, None]);
        }
        let grads = self.backward(&grad, &x, &gamma, eps);
        let want = |k: usize| wanted.get(k).copied().unwrap_or(false);
        Ok(vec![
            want(0).then(|| grads.x.into_dyn()),
            want(1).then(|| grads.gamma.into_dyn()),
            want(2).then(|| grads.beta.into_dyn()),
        ])
    }

    /// [`Op::jacobian`](super::Op::jacobian) for this op.
    pub(crate) fn op_jacobian(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        wrt: usize,
        eps: f64,
    ) -> Result<Array2<f64>> {
        let (x, gamma, _) = self.checked(inputs, eps)?;
        match wrt {
            0 => Ok(self.jacobian_x(&x, &gamma, eps)),
            1 | 2 => Ok(self.jacobian_affine(&x, eps, wrt == 1)),
            _ => Err(validate::shape_error(
                self.name,
                "wrt",
                "an input index below 3".into(),
                &[wrt],
            )),
        }
    }

    /// (B, D) from the shape of x, for the cost models.
    fn dims(&self, input_shapes: &[&[usize]]) -> Result<(usize, usize)> {
        validate::arity(self.name, INPUTS, input_shapes.len())?;
        match input_shapes[0] {
            &[batch, d] => Ok((batch, d)),
            other => Err(validate::shape_error(
                self.name,
                "x",
                "a matrix (2 dimensions)".into(),
                other,
            )),
        }
    }

    /// Flops of x̂ for n entries in g groups: mean (n + g), centring (n), variance (2n + g),
    /// r (3g: + ε, √, 1/·), scaling (n).
    fn normalize_flops(n: usize, groups: usize) -> usize {
        5 * n + 5 * groups
    }

    /// x̂, then γ ⊙ x̂ + β (2 per entry).
    pub(crate) fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        let (batch, d) = self.dims(input_shapes)?;
        let n = batch * d;
        Ok((Self::normalize_flops(n, n / input_shapes[0][self.axis.index()]) + 2 * n) as u64)
    }

    /// The VJP recomputes x̂ once for any wanted input (counted with the first); then dβ is an
    /// addition per entry, dγ two, dx eight (γ ⊙ dout, the two sums (3), and the combination
    /// N·d − Σ − x̂·Σ, times r/N (4)) and one per group.
    pub(crate) fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        let (batch, d) = self.dims(input_shapes)?;
        let n = batch * d;
        let groups = n / input_shapes[0][self.axis.index()];
        let mut shared = Self::normalize_flops(n, groups);
        let roads = [(n, 8 * n + groups), (d, 2 * n), (d, n)];
        Ok(roads
            .iter()
            .zip(wanted)
            .filter(|(_, want)| **want)
            .map(|(&(in_len, flops), _)| {
                let vjp: Work = vjp_road(flops + std::mem::take(&mut shared), in_len);
                Cost {
                    vjp,
                    jacobian: jacobian_road(n, in_len),
                }
            })
            .fold(Cost::default(), |acc, c| acc + c))
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array1, Axis, arr1, arr2};

    use super::{DEFAULT_EPS, Norm};
    use crate::error::Error;

    const BATCH: Norm = Norm {
        name: "batchnorm",
        axis: Axis(0),
    };
    const LAYER: Norm = Norm {
        name: "layernorm",
        axis: Axis(1),
    };

    #[test]
    fn forward_matches_hand_computed_values() {
        // Column [1, 3]: μ = 2, σ² = 1, x̂ = [−1, 1] / √(1 + ε); with ε = 0 exactly [−1, 1].
        let x = arr2(&[[1.0, 10.0], [3.0, 30.0]]);
        let (gamma, beta) = (arr1(&[2.0, 1.0]), arr1(&[0.5, -1.0]));
        let out = BATCH.forward(&x.view(), &gamma.view(), &beta.view(), 1e-300);
        assert_eq!(out, arr2(&[[-1.5, -2.0], [2.5, 0.0]]));
        // Rows [1, 10] and [3, 30]: x̂ = [−1, 1] each.
        let out = LAYER.forward(&x.view(), &gamma.view(), &beta.view(), 1e-300);
        assert_eq!(out, arr2(&[[-1.5, 0.0], [-1.5, 0.0]]));
    }

    #[test]
    fn backward_is_its_own_jacobians_transposed_times_the_cotangent() {
        let x = arr2(&[[0.3, -1.2, 2.0], [-0.7, 0.9, 1.1], [5.0, -4.0, 0.0]]);
        let (gamma, g) = (
            arr1(&[1.5, -0.5, 2.0]),
            arr2(&[[0.2, 1.0, -0.3], [0.4, -2.0, 0.7], [1.1, 0.1, -0.9]]),
        );
        let flat: Array1<f64> = g.iter().copied().collect();
        for norm in [BATCH, LAYER] {
            let grads = norm.backward(&g.view(), &x.view(), &gamma.view(), DEFAULT_EPS);
            let dx = norm
                .jacobian_x(&x.view(), &gamma.view(), DEFAULT_EPS)
                .t()
                .dot(&flat);
            let dgamma = norm.jacobian_affine(&x.view(), DEFAULT_EPS, true).t().dot(&flat);
            let dbeta = norm.jacobian_affine(&x.view(), DEFAULT_EPS, false).t().dot(&flat);
            let close = |a: &[f64], b: &[f64]| a.iter().zip(b).all(|(a, b)| (a - b).abs() <= 1e-12);
            assert!(
                close(grads.x.as_slice().unwrap(), dx.as_slice().unwrap()),
                "{}: {} vs {dx}",
                norm.name,
                grads.x
            );
            assert!(
                close(grads.gamma.as_slice().unwrap(), dgamma.as_slice().unwrap()),
                "{}",
                norm.name
            );
            assert!(
                close(grads.beta.as_slice().unwrap(), dbeta.as_slice().unwrap()),
                "{}",
                norm.name
            );
        }
    }

    #[test]
    fn bad_inputs_are_errors_that_name_the_argument() {
        let arg = |e: Error| match e {
            Error::Shape { arg, .. } | Error::Config { arg, .. } | Error::NonFinite { arg, .. } => arg,
            other => panic!("{other}"),
        };
        let (gamma, beta) = (arr1(&[1.0, 1.0]).into_dyn(), arr1(&[0.0, 0.0]).into_dyn());
        let one_row = arr2(&[[1.0, 2.0]]).into_dyn();
        let err = BATCH
            .checked(&[one_row.view(), gamma.view(), beta.view()], DEFAULT_EPS)
            .unwrap_err();
        assert!(err.to_string().contains("[1, 2]"), "names the shape: {err}");
        assert_eq!(arg(err), "x");
        let one_column = arr2(&[[1.0], [2.0]]).into_dyn();
        let g1 = arr1(&[1.0]).into_dyn();
        assert_eq!(
            arg(LAYER
                .checked(&[one_column.view(), g1.view(), g1.view()], DEFAULT_EPS)
                .unwrap_err()),
            "x"
        );
        let x = arr2(&[[1.0, 2.0], [3.0, f64::NAN]]).into_dyn();
        assert_eq!(
            arg(BATCH
                .checked(&[x.view(), gamma.view(), beta.view()], DEFAULT_EPS)
                .unwrap_err()),
            "x"
        );
        let x = arr2(&[[1.0, 2.0], [3.0, 4.0]]).into_dyn();
        assert_eq!(
            arg(BATCH
                .checked(&[x.view(), g1.view(), beta.view()], DEFAULT_EPS)
                .unwrap_err()),
            "gamma"
        );
        assert_eq!(
            arg(LAYER
                .checked(&[x.view(), gamma.view(), g1.view()], DEFAULT_EPS)
                .unwrap_err()),
            "beta"
        );
        for eps in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert_eq!(
                arg(BATCH
                    .checked(&[x.view(), gamma.view(), beta.view()], eps)
                    .unwrap_err()),
                "eps"
            );
        }
    }
}
