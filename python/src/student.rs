//! Calling a student's Python function from inside the verifier.
//!
//! `gradverify::check::*` calls a Rust closure for each case and catches a panic in it as a
//! finding of the report (`the call: panicked: …`), the case failing and the check going on. So
//! everything a Python function can do wrong is turned into a panic here, with a message written
//! for the report: an exception, with its Python traceback; a result that is not a sequence of
//! the expected length; a gradient that is not an array of numbers, or has the wrong number of
//! dimensions. (A gradient of the right rank and the wrong shape goes through: the verifier
//! reports its shape.)
//!
//! A `KeyboardInterrupt` or a `SystemExit` is not the student's bug: the first one is kept, every
//! later call fails at once without entering Python, and the check raises it when it returns.
//! The checks run their cases one after another on the calling thread, which holds the GIL.

use std::cell::RefCell;

use gradverify::verify::Report;
use ndarray::{Array, ArrayD, Dimension};
use numpy::{AllowTypeChange, PyArrayLikeDyn, ToPyArray};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::report::PyReport;

/// The calls of one check into Python.
pub(crate) struct Calls<'py> {
    py: Python<'py>,
    stopped: RefCell<Option<PyErr>>,
}

impl<'py> Calls<'py> {
    pub(crate) fn new(py: Python<'py>) -> Self {
        Calls {
            py,
            stopped: RefCell::new(None),
        }
    }

    /// `function(*args)`; panics with the exception and its traceback if it raises.
    pub(crate) fn call(
        &self,
        function: &Bound<'py, PyAny>,
        args: Vec<Bound<'py, PyAny>>,
    ) -> Bound<'py, PyAny> {
        self.call_with(function, args, None)
    }

    /// `function(*args, **kwargs)`, as [`Calls::call`].
    pub(crate) fn call_with(
        &self,
        function: &Bound<'py, PyAny>,
        args: Vec<Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> Bound<'py, PyAny> {
        if self.stopped.borrow().is_some() {
            panic!("not called: the check was interrupted");
        }
        let args = PyTuple::new(self.py, args).expect("internal: a tuple of objects");
        match function.call(args, kwargs) {
            Ok(value) => value,
            Err(err) if err.is_instance_of::<PyException>(self.py) => {
                panic!("{}", raised(self.py, &err))
            }
            Err(interruption) => {
                self.stopped.replace(Some(interruption));
                panic!("not finished: the check was interrupted");
            }
        }
    }

    /// The report, or the interruption that stopped the check.
    pub(crate) fn finish(self, mut report: Report, subject: String) -> PyResult<PyReport> {
        if let Some(interruption) = self.stopped.into_inner() {
            return Err(interruption);
        }
        report.subject = subject;
        Ok(report.into())
    }

    /// The interpreter the calls go to.
    pub(crate) fn py(&self) -> Python<'py> {
        self.py
    }

    /// A NumPy copy of `array`.
    pub(crate) fn numpy<D: Dimension>(&self, array: &Array<f64, D>) -> Bound<'py, PyAny> {
        array.to_pyarray(self.py).into_any()
    }

    /// A NumPy copy of an array of whole numbers (labels, indices), as int64.
    pub(crate) fn integers<D: Dimension>(&self, array: &Array<f64, D>) -> Bound<'py, PyAny> {
        array.mapv(|v| v as i64).to_pyarray(self.py).into_any()
    }

    /// A float.
    pub(crate) fn float(&self, value: f64) -> Bound<'py, PyAny> {
        value
            .into_pyobject(self.py)
            .expect("internal: a float")
            .into_any()
    }
}

/// "raised ValueError: …" with the traceback below it, indented to sit inside the report.
fn raised(py: Python<'_>, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|traceback| {
            let args = (err.get_type(py), err.value(py), err.traceback(py));
            traceback.call_method1("format_exception", args)
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    let (Ok(lines), Ok(kind)) = (formatted, err.get_type(py).name()) else {
        return format!("raised {err}");
    };
    let traceback: String = lines
        .concat()
        .lines()
        .map(|line| format!("\n      {line}"))
        .collect();
    format!("raised {kind}: {}{traceback}", err.value(py))
}

/// The items of a function's result, which must be a tuple or list of `names.len()` values.
pub(crate) fn unpack<'py>(
    function: &str,
    value: Bound<'py, PyAny>,
    names: &[&str],
) -> Vec<Bound<'py, PyAny>> {
    let items: Option<Vec<Bound<'py, PyAny>>> = if let Ok(tuple) = value.cast::<PyTuple>() {
        Some(tuple.iter().collect())
    } else if let Ok(list) = value.cast::<PyList>() {
        Some(list.iter().collect())
    } else {
        None
    };
    match items {
        Some(items) if items.len() == names.len() => items,
        Some(items) => panic!(
            "{function} returned {} values; expected {}: ({})",
            items.len(),
            names.len(),
            names.join(", ")
        ),
        None => panic!(
            "{function} returned {}; expected a tuple ({})",
            type_name(&value),
            names.join(", ")
        ),
    }
}

/// `value` as an array of `D`'s rank: any array-like of numbers, converted to float64.
pub(crate) fn gradient<D: Dimension>(function: &str, value: &Bound<'_, PyAny>, what: &str) -> Array<f64, D> {
    let any = array(function, value, what);
    let shape = any.shape().to_vec();
    any.into_dimensionality::<D>().unwrap_or_else(|_| {
        panic!(
            "{function} returned {what} with {} dimensions (shape {shape:?}); expected {}",
            shape.len(),
            D::NDIM.map_or("an array".to_owned(), |n| format!("a {n}-D array"))
        )
    })
}

/// `value` as an array of any rank.
pub(crate) fn array(function: &str, value: &Bound<'_, PyAny>, what: &str) -> ArrayD<f64> {
    match value.extract::<PyArrayLikeDyn<'_, f64, AllowTypeChange>>() {
        Ok(array) => array.as_array().to_owned(),
        Err(_) => panic!(
            "{function} returned {} for {what}, not an array of numbers",
            type_name(value)
        ),
    }
}

/// The type's name, for messages.
fn type_name(value: &Bound<'_, PyAny>) -> String {
    value
        .get_type()
        .name()
        .map_or_else(|_| "an object".to_owned(), |n| format!("a {n}"))
}

/// The function's `__name__`, for the report's head (`linear (linear_backward): pass`).
pub(crate) fn name_of(function: &Bound<'_, PyAny>) -> String {
    function
        .getattr("__name__")
        .and_then(|n| n.extract::<String>())
        .unwrap_or_else(|_| "your function".to_owned())
}

/// A type error unless `function` can be called.
pub(crate) fn callable(function: &Bound<'_, PyAny>, argument: &str) -> PyResult<()> {
    if function.is_callable() {
        Ok(())
    } else {
        Err(pyo3::exceptions::PyTypeError::new_err(format!(
            "{argument} must be a function, got {}",
            type_name(function)
        )))
    }
}
