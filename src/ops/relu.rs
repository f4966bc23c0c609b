//! `relu`: h = max(a, 0) elementwise (Eq. 41, 43).
//!
//! Its derivative is the Heaviside step `Θ(a) = 1 if a > 0 else 0` (Eq. 42), so Θ(0) = 0, as in
//! `torch.relu` and `jax.nn.relu`. The Jacobian is diagonal, `∂h_j/∂a_α = δ_jα Θ(a_j)` (Eq. 44):
//! N² entries of which N can be non-zero. The VJP uses that and costs O(N) instead of O(N²):
//! `dL/da_α = Θ(a_α) dL/dh_α` (Eq. 47).
//!
//! At a = 0 relu has a kink: a finite difference across it is meaningless, which
//! [`Op::smooth_between`] reports.

use ndarray::{Array2, ArrayD, ArrayViewD, Zip};

use super::widest::widest;
use super::{Cost, Op, jacobian_road, validate, vjp_road};
use crate::error::Result;

const NAME: &str = "relu";
const INPUTS: &[&str] = &["a"];

/// Θ(a): 1 where a > 0, else 0 (Eq. 42).
pub fn step(a: f64) -> f64 {
    if a > 0.0 { 1.0 } else { 0.0 }
}

/// h = max(a, 0) elementwise (Eq. 43).
pub fn forward(a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    validate::usable(NAME, "a", &a)?;
    if let Some(a_values) = a.as_slice() {
        // One loop over the row-major slice, which vectorises; `mapv` goes element by element.
        let values = widest(|| a_values.iter().map(|v| v.max(0.0)).collect());
        return Ok(ArrayD::from_shape_vec(a.raw_dim(), values).expect("internal: one shape, one length"));
    }
    Ok(a.mapv(|v| v.max(0.0)))
}

/// dL/da = Θ(a) ⊙ dL/dh (Eq. 29b, 47).
pub fn backward(grad_h: ArrayViewD<'_, f64>, a: ArrayViewD<'_, f64>) -> Result<ArrayD<f64>> {
    validate::usable(NAME, "a", &a)?;
    validate::same_shape(NAME, "dL/dh", &grad_h, a.shape())?;
    Ok(masked(&grad_h, &a))
}

/// Θ(a) ⊙ dL/dh for arguments already checked (of one shape).
fn masked(grad_h: &ArrayViewD<'_, f64>, a: &ArrayViewD<'_, f64>) -> ArrayD<f64> {
    if let (Some(g), Some(v)) = (grad_h.as_slice(), a.as_slice()) {
        // Both row-major: one loop over the slices, which vectorises where `Zip` does not.
        let values = widest(|| g.iter().zip(v).map(|(&g, &v)| step(v) * g).collect());
        return ArrayD::from_shape_vec(a.raw_dim(), values).expect("internal: one shape, one length");
    }
    Zip::from(grad_h).and(a).map_collect(|&g, &v| step(v) * g)
}

/// ∂h/∂a: the N×N diagonal matrix with Θ(a) on the diagonal (Eq. 44).
pub fn jacobian(a: ArrayViewD<'_, f64>) -> Result<Array2<f64>> {
    validate::usable(NAME, "a", &a)?;
    let mut jac = Array2::zeros((a.len(), a.len()));
    for (i, &v) in a.iter().enumerate() {
        jac[[i, i]] = step(v);
    }
    Ok(jac)
}

/// The relu op on a tape; input `a`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Relu;

impl Op for Relu {
    fn name(&self) -> &'static str {
        NAME
    }

    fn input_names(&self) -> &'static [&'static str] {
        INPUTS
    }

    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        forward(inputs[0].view())
    }

    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        let a = &inputs[0];
        validate::has_shape(NAME, "dL/dh", &grad_out, a.shape())?;
        let want = wanted.first().copied().unwrap_or(false);
        Ok(vec![want.then(|| masked(&grad_out, a))])
    }

    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        validate::arity(NAME, INPUTS, inputs.len())?;
        if wrt != 0 {
            return Err(validate::shape_error(NAME, "wrt", "input index 0".into(), &[wrt]));
        }
        jacobian(inputs[0].view())
    }

    /// One max per element.
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        Ok(input_shapes[0].iter().product::<usize>() as u64)
    }

    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        validate::arity(NAME, INPUTS, input_shapes.len())?;
        if !wanted.first().copied().unwrap_or(false) {
            return Ok(Cost::default());
        }
        let n: usize = input_shapes[0].iter().product();
        // One select-and-multiply per element (Eq. 47) against a dense N×N contraction (Eq. 45).
        Ok(Cost {
            vjp: vjp_road(n, n),
            jacobian: jacobian_road(n, n),
        })
    }

    /// No element of `a` changes sign or touches 0 between `lo` and `hi`.
    fn smooth_between(&self, lo: &[ArrayViewD<'_, f64>], hi: &[ArrayViewD<'_, f64>]) -> bool {
        match (lo.first(), hi.first()) {
            (Some(lo), Some(hi)) if lo.shape() == hi.shape() => {
                Zip::from(lo).and(hi).all(|&l, &h| l * h > 0.0)
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use ndarray::{Array2, ArrayD, Zip, s};

    use super::{forward, masked, step};

    fn sample(m: usize, n: usize, seed: usize) -> Array2<f64> {
        Array2::from_shape_fn((m, n), |(i, j)| ((i * 31 + j * 17 + seed * 7) % 23) as f64 - 11.0)
    }

    #[test]
    fn the_slice_paths_give_what_the_element_by_element_paths_give_on_every_layout() {
        let (a, g) = (sample(6, 10, 1), sample(6, 10, 2));
        let layouts = |x: &Array2<f64>| -> Vec<ArrayD<f64>> {
            vec![
                x.clone().into_dyn(),
                x.t().to_owned().reversed_axes().into_dyn(),
                x.t().to_owned().into_dyn(),
            ]
        };
        for a in layouts(&a) {
            assert_eq!(forward(a.view()).unwrap(), a.mapv(|v| v.max(0.0)));
            for g in layouts(&g).into_iter().filter(|g| g.shape() == a.shape()) {
                let expected: ArrayD<f64> = Zip::from(&g).and(&a).map_collect(|&g, &v| step(v) * g);
                assert_eq!(masked(&g.view(), &a.view()), expected);
            }
        }
        let strided = a.slice(s![.., ..;3]).into_dyn();
        assert_eq!(forward(strided.view()).unwrap(), strided.mapv(|v| v.max(0.0)));
        // Θ(a) = 0 at a ≤ 0 zeroes the gradient there; a > 0 passes it unchanged.
        let got = masked(&g.view().into_dyn(), &a.view().into_dyn());
        assert!(
            Zip::from(&got)
                .and(&a.view().into_dyn())
                .and(&g.view().into_dyn())
                .all(|&o, &v, &g| o == if v > 0.0 { g } else { 0.0 })
        );
    }
}
