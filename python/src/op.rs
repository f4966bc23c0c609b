//! `check_op`: `torch.autograd.gradcheck` for any NumPy function, through
//! `gradverify::check::op_with`.
//!
//! `forward(x0, x1, …) -> output` and `backward(grad_out, x0, x1, …) -> (dL/dx0, dL/dx1, …)` (a
//! single array when there is a single input): the VJP is checked against central differences
//! of the op's own forward, `dL/dx_i ≈ (⟨v, f(x + h e_i)⟩ − ⟨v, f(x − h e_i)⟩) / 2h` for a random
//! cotangent v, at standard-normal inputs of the given shapes. The options are those of the Rust
//! checker: `cases` and `seed`.

use gradverify::check;
use ndarray::ArrayD;
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::checks::config;
use crate::report::PyReport;
use crate::student::{Calls, array, callable};

/// Checks `backward` against finite differences of `forward` at inputs of `shapes`.
#[pyfunction]
#[pyo3(signature = (name, shapes, forward, backward, *, cases = None, seed = 0))]
pub(crate) fn check_op(
    py: Python<'_>,
    name: &str,
    shapes: Vec<Vec<i64>>,
    forward: Bound<'_, PyAny>,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&forward, "forward")?;
    callable(&backward, "backward")?;
    let shapes = dimensions(&shapes)?;
    let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let config = config(cases, seed)?;
    let calls = Calls::new(py);
    let numpy = |xs: &[ArrayD<f64>]| xs.iter().map(|x| calls.numpy(x)).collect::<Vec<_>>();
    let report = check::op_with(
        config,
        name,
        &shapes,
        |xs| array("forward", &calls.call(&forward, numpy(xs)), "the output"),
        |xs, g| {
            let mut args = vec![calls.numpy(g)];
            args.extend(numpy(xs));
            let out = calls.call(&backward, args);
            let items: Vec<Bound<'_, PyAny>> = if let Ok(tuple) = out.cast::<PyTuple>() {
                tuple.iter().collect()
            } else if let Ok(list) = out.cast::<PyList>() {
                list.iter().collect()
            } else {
                vec![out]
            };
            items
                .iter()
                .enumerate()
                .map(|(k, item)| array("backward", item, &format!("dL/dx{k}")))
                .collect()
        },
    );
    calls.finish(report, "your forward and backward".to_owned())
}

/// The shapes as dimensions, each at least 1.
fn dimensions(shapes: &[Vec<i64>]) -> PyResult<Vec<Vec<usize>>> {
    if shapes.is_empty() {
        return Err(PyValueError::new_err(
            "shapes is empty: give one shape per input of the op, e.g. [(3, 4)]",
        ));
    }
    shapes
        .iter()
        .enumerate()
        .map(|(k, shape)| {
            shape
                .iter()
                .map(|&d| usize::try_from(d).ok().filter(|&d| d >= 1))
                .collect::<Option<Vec<usize>>>()
                .ok_or_else(|| {
                    PyValueError::new_err(format!(
                        "shapes[{k}] is {shape:?}: every dimension must be an integer of at least 1"
                    ))
                })
        })
        .collect()
}
