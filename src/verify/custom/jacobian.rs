//! The full Jacobian of an op from its VJP, for a user who wants to look at it: row i of
//! `J_k = ∂ output / ∂ x_k` is the VJP of the unit cotangent `e_i`,
//! `J_k[i, j] = (Jᵀ e_i)_k.flat[j] = ∂ output.flat[i] / ∂ x_k.flat[j]` (row-major flattening, as
//! the crate's explicit Jacobians, Eq. 36). One backward per output element.

use ndarray::{Array2, ArrayD, IxDyn};

use crate::error::{Error, Result};

/// The Jacobian of the output with respect to each input, one matrix per input
/// (`output.len() × input.len()`), from `backward(inputs, cotangent)` called once per output
/// element with a unit cotangent of `output_shape`.
///
/// Errors when `output_shape` has a zero dimension, or the backward returns the wrong number of
/// gradients or a gradient of the wrong shape (naming it and both shapes). A panic in the
/// backward is not caught.
///
/// ```
/// use gradverify::check;
/// use ndarray::{ArrayD, IxDyn};
///
/// // f(x, y) = x · y elementwise: ∂f/∂x = diag(y), ∂f/∂y = diag(x).
/// let x = ArrayD::from_shape_vec(IxDyn(&[2]), vec![1.0, 2.0]).unwrap();
/// let y = ArrayD::from_shape_vec(IxDyn(&[2]), vec![3.0, 4.0]).unwrap();
/// let backward = |v: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &v[1], g * &v[0]];
/// let j = check::jacobian_from_vjp(&[x, y], &[2], backward)?;
/// assert_eq!(j[0], ndarray::arr2(&[[3.0, 0.0], [0.0, 4.0]]));
/// assert_eq!(j[1], ndarray::arr2(&[[1.0, 0.0], [0.0, 2.0]]));
/// # Ok::<(), gradverify::Error>(())
/// ```
pub fn jacobian_from_vjp<B>(
    inputs: &[ArrayD<f64>],
    output_shape: &[usize],
    backward: B,
) -> Result<Vec<Array2<f64>>>
where
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    const OP: &str = "jacobian_from_vjp";
    if output_shape.contains(&0) {
        return Err(Error::Empty {
            op: OP.to_owned(),
            arg: "output_shape".to_owned(),
            shape: output_shape.to_vec(),
        });
    }
    let rows: usize = output_shape.iter().product();
    let mut jacobians: Vec<Array2<f64>> = inputs.iter().map(|x| Array2::zeros((rows, x.len()))).collect();
    let mut unit = ArrayD::zeros(IxDyn(output_shape));
    for i in 0..rows {
        unit.as_slice_mut().expect("internal: standard layout")[i] = 1.0;
        let grads = backward(inputs, &unit);
        unit.as_slice_mut().expect("internal: standard layout")[i] = 0.0;
        if grads.len() != inputs.len() {
            return Err(Error::Arity {
                op: "the backward".to_owned(),
                expected: inputs.len(),
                names: "one gradient per input".to_owned(),
                got: grads.len(),
            });
        }
        for (k, (g, x)) in grads.iter().zip(inputs).enumerate() {
            if g.shape() != x.shape() {
                return Err(Error::Shape {
                    op: OP.to_owned(),
                    arg: format!("the backward's gradient for x{k}"),
                    expected: format!("{:?} (the input's shape)", x.shape()),
                    got: g.shape().to_vec(),
                });
            }
            for (j, v) in g.iter().enumerate() {
                jacobians[k][[i, j]] = *v;
            }
        }
    }
    Ok(jacobians)
}
