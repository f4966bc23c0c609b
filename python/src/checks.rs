//! `check(op, backward)`: the check of any op of the catalogue by its name on the wire, the
//! function called as [`convention`](crate::convention) reads it off the op's spec, through the
//! verifier's own `verify` (random cases in the op's planned shapes, random upstream gradients,
//! the reference VJP, shrinking, diagnoses). The package's `check_linear`, `check_relu`, …, one
//! per op, are generated from the same specs ([`generated`](crate::generated)) and call it.
//!
//! It takes the keywords `cases` (random cases, after the planned shapes) and `seed`, as
//! `check::with` does.

use gradverify::catalogue::OpKind;
use gradverify::verify::{Config, verify};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;

use crate::convention::Subject;
use crate::report::PyReport;
use crate::student::{Calls, callable, name_of};

/// Checks `backward` of the op named `op` (`linear`, `softmax_xent`, `mlp`, …), called as the
/// op's spec says: `backward(grad_out, *inputs, **attrs)`, or `backprop(x, y, params)` for the
/// network.
#[pyfunction]
#[pyo3(name = "check", signature = (op, backward, *, cases = None, seed = 0))]
pub(crate) fn check_named(
    py: Python<'_>,
    op: &str,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&backward, "backward")?;
    let config = config(cases, seed)?;
    let kind: OpKind = op
        .parse()
        .map_err(|e: gradverify::Error| PyValueError::new_err(e.to_string()))?;
    let name = name_of(&backward);
    let calls = Calls::new(py);
    let report = verify(kind, &mut Subject::new(&calls, backward, name.clone()), config);
    calls.finish(report, name)
}

/// The checks' configuration from their keywords.
pub(crate) fn config(cases: Option<usize>, seed: u64) -> PyResult<Config> {
    let cases = cases.unwrap_or(Config::default().cases);
    if cases == 0 {
        return Err(PyValueError::new_err(
            "cases must be at least 1, got 0: a check of no cases would pass anything",
        ));
    }
    Ok(Config::default().cases(cases).seed(seed))
}
