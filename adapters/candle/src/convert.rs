//! ndarray ⇄ candle: f64 arrays become CPU tensors of the same shape and row-major order, and
//! back. Nothing is rounded: the check runs in f64 end to end.

use candle_core::{DType, Device, Tensor};
use ndarray::{ArrayD, IxDyn};

/// An f64 CPU tensor with `array`'s shape and values.
pub fn to_tensor(array: &ArrayD<f64>) -> candle_core::Result<Tensor> {
    Tensor::from_vec(
        array.iter().copied().collect::<Vec<f64>>(),
        array.shape(),
        &Device::Cpu,
    )
}

/// `tensor`'s values as an array of its shape; `what` names it in the error (`output 0`,
/// `the gradient of x1`) when it is not f64.
pub fn to_array(tensor: &Tensor, what: &str) -> Result<ArrayD<f64>, String> {
    if tensor.dtype() != DType::F64 {
        return Err(format!(
            "{what} has dtype {:?} (shape {:?}): the check runs in f64, convert with .to_dtype(DType::F64)",
            tensor.dtype(),
            tensor.dims()
        ));
    }
    let values = tensor
        .flatten_all()
        .and_then(|t| t.to_vec1::<f64>())
        .map_err(|e| format!("{what} (shape {:?}) could not be read: {e}", tensor.dims()))?;
    ArrayD::from_shape_vec(IxDyn(tensor.dims()), values)
        .map_err(|e| format!("{what} (shape {:?}) could not be read: {e}", tensor.dims()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_go_through_candle_unchanged_and_a_wrong_dtype_is_named() {
        let array = ArrayD::from_shape_fn(IxDyn(&[2, 3]), |i| (i[0] * 3 + i[1]) as f64 - 0.5);
        let tensor = to_tensor(&array).unwrap();
        assert_eq!(tensor.dims(), &[2, 3]);
        assert_eq!(to_array(&tensor, "x").unwrap(), array);
        let scalar = tensor.sum_all().unwrap();
        assert_eq!(to_array(&scalar, "y").unwrap().shape(), &[] as &[usize]);
        let f32 = tensor.to_dtype(DType::F32).unwrap();
        let error = to_array(&f32, "output 0").unwrap_err();
        assert!(
            error.starts_with("output 0 has dtype F32 (shape [2, 3])"),
            "{error}"
        );
    }
}
