//! gradverify for NumPy code: the crate's checks of a backward pass, called in-process from
//! Python.
//!
//! A student's `linear_backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)` (Eq. 30b), written with
//! NumPy, goes through the same verifier as a Rust function: random cases in the notes' shapes,
//! random upstream gradients, the reference VJP, shrinking to the smallest failing shape and a
//! diagnosis. [`checks`] checks any op of the catalogue by name, the function called as
//! [`convention`] reads it off the op's spec; the package's `check_linear`, `check_relu`, … (one
//! per op) are Python generated from the same specs ([`generated`]). [`serve`] answers protocol
//! v1 with the student's functions through the crate's own protocol code. [`op`] wraps
//! `gradverify::check::OpCheck` (finite differences of the op's own forward; its keyword options
//! read in [`options`]), [`report`] is the report as a Python object, shown in a notebook by
//! [`html`]. [`student`] calls the Python functions: arrays go over as NumPy copies (compared
//! after the call: a backward that writes into them is a finding), and anything the function does
//! wrong (an exception, a value that is not an array of the right rank) becomes a finding of the
//! report, never a crash, in a Python person's words ([`words`]). The binding holds no
//! verification logic of its own.
//!
//! Built for the stable ABI (`abi3-py310`): one extension serves Python 3.10 and later.

mod checks;
mod convention;
mod generated;
mod html;
mod op;
mod options;
mod report;
mod serve;
mod student;
mod words;

use pyo3::prelude::*;

/// The native half of the `gradverify` package; `gradverify/__init__.py` re-exports it.
#[pymodule]
fn _native(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<report::PyReport>()?;
    m.add_function(wrap_pyfunction!(checks::check_named, m)?)?;
    m.add_function(wrap_pyfunction!(generated::checks_source, m)?)?;
    m.add_function(wrap_pyfunction!(serve::serve, m)?)?;
    let ops: Vec<&str> = gradverify::verify::ops::all().iter().map(|k| k.name()).collect();
    m.add("OPS", pyo3::types::PyTuple::new(m.py(), ops)?)?;
    m.add_function(wrap_pyfunction!(op::check_op, m)?)?;
    m.add("DEFAULT_CASES", gradverify::verify::Config::default().cases)?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    Ok(())
}
