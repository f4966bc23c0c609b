//! gradverify for NumPy code: the crate's checks of a backward pass, called in-process from
//! Python.
//!
//! A student's `linear_backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)` (Eq. 30b), written with
//! NumPy, goes through the same verifier as a Rust function: random cases in the notes' shapes,
//! random upstream gradients, the reference VJP, shrinking to the smallest failing shape and a
//! diagnosis. [`checks`] wraps `gradverify::check::{linear, relu, sqerr, network}`, [`op`] wraps
//! `gradverify::check::OpCheck` (finite differences of the op's own forward; its keyword options
//! read in [`options`]), [`report`] is the
//! report as a Python object, shown in a notebook by [`html`]. [`student`] calls the Python
//! functions: arrays go over as NumPy copies, and anything the function does wrong (an exception,
//! a value that is not an array of the right rank) becomes a finding of the report, never a
//! crash, in a Python person's words ([`words`]). The binding holds no verification logic of its
//! own.
//!
//! Built for the stable ABI (`abi3-py310`): one extension serves Python 3.10 and later.

mod checks;
mod html;
mod op;
mod options;
mod report;
mod student;
mod words;

use pyo3::prelude::*;

/// The native half of the `gradverify` package; `gradverify/__init__.py` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<report::PyReport>()?;
    m.add_function(wrap_pyfunction!(checks::check_named, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_linear, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_relu, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_sqerr, m)?)?;
    m.add_function(wrap_pyfunction!(checks::check_network, m)?)?;
    m.add_function(wrap_pyfunction!(op::check_op, m)?)?;
    m.add("DEFAULT_CASES", gradverify::verify::Config::default().cases)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
