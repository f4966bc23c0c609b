//! Calling a student's Python function from inside the verifier.
//!
//! Everything a Python function can do wrong is an `Err` here ([`Fault::Failed`]), with a
//! message written for the report: an exception, with its Python traceback; a result that is not
//! a sequence of the expected length; a gradient that is not an array of numbers, or has the
//! wrong number of dimensions. (A gradient of the right rank and the wrong shape goes through:
//! the verifier reports its shape.) `check_op`'s closures are fallible
//! (`OpCheck::try_new`), so the fault fails the case (`the forward failed: raised …`); the
//! built-in ops' checks take plain closures and catch a panic as a finding of the report, so for
//! them the fault crosses as a panic ([`Calls::answer`]), and [`Calls::finish`] gives it back its
//! own words (`the call: your function raised ValueError: …`, not `panicked: …`; see
//! [`words`](crate::words)). Either way the case fails and the check goes on.
//!
//! A `KeyboardInterrupt` or a `SystemExit` is not the student's bug: the first one is kept, every
//! later call fails at once without entering Python, and the check raises it when it returns.
//! The checks run their cases one after another on the calling thread, which holds the GIL.

use std::cell::RefCell;
use std::collections::HashSet;

use gradverify::verify::{Fault, Report};
use ndarray::{Array, ArrayD, Dimension};
use numpy::{AllowTypeChange, PyArrayLikeDyn, ToPyArray};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::report::PyReport;
use crate::words;

/// The calls of one check into Python.
pub(crate) struct Calls<'py> {
    py: Python<'py>,
    /// How an exception's message starts: see [`Calls::new`] and [`Calls::named`].
    raised: &'static str,
    stopped: RefCell<Option<PyErr>>,
    /// The messages of the faults that crossed as panics ([`Calls::answer`]).
    crossed: RefCell<HashSet<String>>,
}

impl<'py> Calls<'py> {
    /// The calls of a check whose report names no function (`the call: …`): an exception reads
    /// `your function raised ValueError: …`.
    pub(crate) fn new(py: Python<'py>) -> Self {
        Self::starting(py, "your function raised")
    }

    /// The calls of a check whose report names the function (`check_op`'s `the forward failed:
    /// …`): an exception reads `raised ValueError: …` after that name.
    pub(crate) fn named(py: Python<'py>) -> Self {
        Self::starting(py, "raised")
    }

    fn starting(py: Python<'py>, raised: &'static str) -> Self {
        Calls {
            py,
            raised,
            stopped: RefCell::new(None),
            crossed: RefCell::new(HashSet::new()),
        }
    }

    /// `function(*args)`; the exception and its traceback if it raises.
    pub(crate) fn call(
        &self,
        function: &Bound<'py, PyAny>,
        args: Vec<Bound<'py, PyAny>>,
    ) -> Result<Bound<'py, PyAny>, Fault> {
        self.call_with(function, args, None)
    }

    /// `function(*args, **kwargs)`, as [`Calls::call`].
    pub(crate) fn call_with(
        &self,
        function: &Bound<'py, PyAny>,
        args: Vec<Bound<'py, PyAny>>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> Result<Bound<'py, PyAny>, Fault> {
        if self.stopped.borrow().is_some() {
            return Err(Fault::Failed("not called: the check was interrupted".to_owned()));
        }
        let args = PyTuple::new(self.py, args).expect("internal: a tuple of objects");
        match function.call(args, kwargs) {
            Ok(value) => Ok(value),
            Err(err) if err.is_instance_of::<PyException>(self.py) => {
                Err(Fault::Failed(raised(self.py, self.raised, &err)))
            }
            Err(interruption) => {
                self.stopped.replace(Some(interruption));
                Err(Fault::Failed(
                    "not finished: the check was interrupted".to_owned(),
                ))
            }
        }
    }

    /// What `answer` gives, or a panic with its fault's message: how a fault crosses a closure
    /// that cannot fail (the built-in ops' checks), which catches the panic as the case's fault.
    pub(crate) fn answer<T>(&self, answer: impl FnOnce() -> Result<T, Fault>) -> T {
        answer().unwrap_or_else(|fault| {
            let message = fault.to_string();
            self.crossed.borrow_mut().insert(message.clone());
            panic!("{message}")
        })
    }

    /// The report in Python's words ([`words::for_python`]), or the interruption that stopped
    /// the check.
    pub(crate) fn finish(self, mut report: Report, subject: String) -> PyResult<PyReport> {
        if let Some(interruption) = self.stopped.into_inner() {
            return Err(interruption);
        }
        report.subject = subject;
        words::for_python(&mut report, &self.crossed.into_inner());
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

/// "your function raised ValueError: …" (`raised` says how it starts) with the traceback below
/// it, indented to sit inside the report.
fn raised(py: Python<'_>, raised: &str, err: &PyErr) -> String {
    let formatted = py
        .import("traceback")
        .and_then(|traceback| {
            let args = (err.get_type(py), err.value(py), err.traceback(py));
            traceback.call_method1("format_exception", args)
        })
        .and_then(|lines| lines.extract::<Vec<String>>());
    let (Ok(lines), Ok(kind)) = (formatted, err.get_type(py).name()) else {
        return format!("{raised} {err}");
    };
    let traceback: String = lines
        .concat()
        .lines()
        .map(|line| format!("\n      {line}"))
        .collect();
    format!("{raised} {kind}: {}{traceback}", err.value(py))
}

/// The items of a function's result, which must be a tuple or list of `names.len()` values.
pub(crate) fn unpack<'py>(
    function: &str,
    value: Bound<'py, PyAny>,
    names: &[&str],
) -> Result<Vec<Bound<'py, PyAny>>, Fault> {
    let items: Option<Vec<Bound<'py, PyAny>>> = if let Ok(tuple) = value.cast::<PyTuple>() {
        Some(tuple.iter().collect())
    } else if let Ok(list) = value.cast::<PyList>() {
        Some(list.iter().collect())
    } else {
        None
    };
    match items {
        Some(items) if items.len() == names.len() => Ok(items),
        Some(items) => Err(Fault::Failed(format!(
            "{function} returned {} values; expected {}: ({})",
            items.len(),
            names.len(),
            names.join(", ")
        ))),
        None => Err(Fault::Failed(format!(
            "{function} returned {}; expected a tuple ({})",
            type_name(&value),
            names.join(", ")
        ))),
    }
}

/// `value` as an array of `D`'s rank: any array-like of numbers, converted to float64.
pub(crate) fn gradient<D: Dimension>(
    function: &str,
    value: &Bound<'_, PyAny>,
    what: &str,
) -> Result<Array<f64, D>, Fault> {
    let any = array(function, value, what)?;
    let shape = any.shape().to_vec();
    any.into_dimensionality::<D>().map_err(|_| {
        Fault::Failed(format!(
            "{function} returned {what} with {} dimensions (shape {shape:?}); expected {}",
            shape.len(),
            D::NDIM.map_or("an array".to_owned(), |n| format!("a {n}-D array"))
        ))
    })
}

/// `value` as an array of any rank.
pub(crate) fn array(function: &str, value: &Bound<'_, PyAny>, what: &str) -> Result<ArrayD<f64>, Fault> {
    match value.extract::<PyArrayLikeDyn<'_, f64, AllowTypeChange>>() {
        Ok(array) => Ok(array.as_array().to_owned()),
        Err(_) => Err(Fault::Failed(format!(
            "{function} returned {} for {what}, not an array of numbers",
            type_name(value)
        ))),
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
