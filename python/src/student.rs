//! Calling a student's Python function from inside the verifier.
//!
//! Everything a Python function can do wrong is an `Err` here, with a message written for the
//! report: an exception ([`Fault::Raised`]), with its Python traceback; a result that is not a
//! sequence of the expected length, a gradient that is not an array of numbers, or has the wrong
//! number of dimensions ([`Fault::Failed`]). (A gradient of the right rank and the wrong shape
//! goes through: the verifier reports its shape.) The catalogue's checks call the function as a
//! `Backward` ([`convention`](crate::convention)), whose faults fail the case as they are (`the
//! call: your function raised ValueError: …`); `check_op`'s closures are fallible too
//! (`OpCheck::try_new`), and its case fails with the crate's words around the fault (`the
//! forward failed: raised …`, a `raised` fault again in [`words`](crate::words)). Either way the
//! case fails and the check goes on.
//!
//! A backward gets NumPy copies, but it can still write into them (`dout[x <= 0] = 0` zeroes the
//! caller's `dout`): [`Calls::backward`] keeps every array argument's bits from before the call
//! and compares them after it, and [`Calls::finish`] adds a finding (`mutated_input`) for each
//! argument that changed, so that such a backward fails even where its gradients are right.
//!
//! A `KeyboardInterrupt` or a `SystemExit` is not the student's bug: the first one is kept, every
//! later call fails at once without entering Python, and the check raises it when it returns.
//! The checks run their cases one after another on the calling thread, which holds the GIL.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use gradverify::verify::{Diagnosis, Fault, Finding, Problem, Report, Subject};
use ndarray::{Array, ArrayD, Dimension};
use numpy::{AllowTypeChange, PyArrayDyn, PyArrayLikeDyn, PyArrayMethods, PyUntypedArrayMethods, ToPyArray};
use pyo3::exceptions::PyException;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::report::PyReport;
use crate::words;

/// The calls of one check (or one `serve`) into Python.
pub(crate) struct Calls<'py> {
    py: Python<'py>,
    /// How an exception's message starts: see [`Calls::new`] and [`Calls::named`].
    raised: &'static str,
    stopped: RefCell<Option<PyErr>>,
    /// The messages of the exceptions the function raised.
    raised_messages: RefCell<Vec<String>>,
    /// The arguments a backward changed, in the order they were first seen to.
    mutated: RefCell<Vec<Mutated>>,
}

/// One argument that a backward wrote into.
struct Mutated {
    /// Its name in the call (`grad_out`, `a`, `params['W1']`).
    argument: String,
    /// The cases it changed in, each known by its inputs (the arguments after the first, the
    /// upstream gradient): a case asked again with the same inputs is one case.
    cases: BTreeSet<u64>,
    /// Its smallest shape among them.
    smallest: Vec<usize>,
}

/// An array argument's shape and bits, from before a call.
struct Snapshot<'py> {
    name: String,
    array: Bound<'py, PyAny>,
    shape: Vec<usize>,
    bits: Vec<u64>,
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
            raised_messages: RefCell::new(Vec::new()),
            mutated: RefCell::new(Vec::new()),
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
                let message = raised(self.py, self.raised, &err);
                self.raised_messages.borrow_mut().push(message.clone());
                Err(Fault::Raised(message))
            }
            Err(interruption) => {
                self.stopped.replace(Some(interruption));
                Err(Fault::Failed(
                    "not finished: the check was interrupted".to_owned(),
                ))
            }
        }
    }

    /// `backward(*args, **kwargs)` as [`Calls::call_with`], `args` named as the call names them
    /// (the upstream gradient first): each array among them (and each array value of a dict among
    /// them) is compared bit for bit after the call with its copy from before, and one that
    /// changed is recorded for [`Calls::finish`], whether the call returned or raised.
    pub(crate) fn backward(
        &self,
        function: &Bound<'py, PyAny>,
        args: Vec<(&str, Bound<'py, PyAny>)>,
        kwargs: Option<&Bound<'py, PyDict>>,
    ) -> Result<Bound<'py, PyAny>, Fault> {
        let before: Vec<Snapshot<'py>> = (args.iter())
            .flat_map(|(name, value)| arrays(name, value))
            .filter_map(|(name, array)| snapshot(name, array))
            .collect();
        let case = {
            let mut hasher = DefaultHasher::new();
            let first = args.first().map(|(name, _)| *name);
            for s in before.iter().filter(|s| Some(s.name.as_str()) != first) {
                (&s.shape, &s.bits).hash(&mut hasher);
            }
            hasher.finish()
        };
        let out = self.call_with(function, args.into_iter().map(|(_, v)| v).collect(), kwargs);
        for s in before {
            if bits(&s.array).is_some_and(|(shape, after)| shape != s.shape || after != s.bits) {
                self.record_mutation(s.name, s.shape, case);
            }
        }
        out
    }

    fn record_mutation(&self, argument: String, shape: Vec<usize>, case: u64) {
        let mut mutated = self.mutated.borrow_mut();
        let size = |shape: &[usize]| shape.iter().product::<usize>();
        match mutated.iter_mut().find(|m| m.argument == argument) {
            Some(m) => {
                m.cases.insert(case);
                if size(&shape) < size(&m.smallest) {
                    m.smallest = shape;
                }
            }
            None => mutated.push(Mutated {
                argument,
                cases: BTreeSet::from([case]),
                smallest: shape,
            }),
        }
    }

    /// The interruption that stopped the calls, if one did (`serve` raises it between requests).
    pub(crate) fn interrupted(&self) -> PyResult<()> {
        match self.stopped.take() {
            Some(interruption) => Err(interruption),
            None => Ok(()),
        }
    }

    /// The report in Python's words ([`words::for_python`]), or the interruption that stopped
    /// the check.
    pub(crate) fn finish(self, mut report: Report, subject: String) -> PyResult<PyReport> {
        if let Some(interruption) = self.stopped.into_inner() {
            return Err(interruption);
        }
        report.subject = subject;
        for m in self.mutated.into_inner() {
            let shape: Vec<String> = m.smallest.iter().map(usize::to_string).collect();
            report.findings.push(Finding {
                what: Subject::Call,
                problem: Problem::MutatedInput {
                    argument: m.argument.clone(),
                },
                // Cases asked while shrinking count too: at most the report's cases are said.
                failed: m.cases.len().min(report.cases),
                smallest_shape: format!("{} of shape ({})", m.argument, shape.join(", ")),
                worst: Vec::new(),
                values: None,
                diagnosis: Some(Diagnosis::MutatedInput),
                only_batch_of_one: false,
            });
        }
        words::for_python(&mut report, &self.raised_messages.into_inner());
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

/// The arrays of an argument by their names in the call: the argument itself, or a dict's array
/// values (`params["W1"]`).
fn arrays<'py>(name: &str, value: &Bound<'py, PyAny>) -> Vec<(String, Bound<'py, PyAny>)> {
    match value.cast::<PyDict>() {
        Ok(dict) => (dict.iter())
            .map(|(key, v)| {
                (
                    format!(
                        "{name}[{}]",
                        key.repr().map_or_else(|_| "?".to_owned(), |r| r.to_string())
                    ),
                    v,
                )
            })
            .collect(),
        Err(_) => vec![(name.to_owned(), value.clone())],
    }
}

/// `array`'s shape and bits, if it is a float64 or int64 NumPy array.
fn snapshot<'py>(name: String, array: Bound<'py, PyAny>) -> Option<Snapshot<'py>> {
    let (shape, bits) = bits(&array)?;
    Some(Snapshot {
        name,
        array,
        shape,
        bits,
    })
}

/// The shape and the bits of the elements of a float64 or int64 NumPy array; `None` for anything
/// else.
fn bits(array: &Bound<'_, PyAny>) -> Option<(Vec<usize>, Vec<u64>)> {
    if let Ok(floats) = array.cast::<PyArrayDyn<f64>>() {
        let view = floats.try_readonly().ok()?;
        Some((
            floats.shape().to_vec(),
            view.as_array().iter().map(|v| v.to_bits()).collect(),
        ))
    } else if let Ok(integers) = array.cast::<PyArrayDyn<i64>>() {
        let view = integers.try_readonly().ok()?;
        Some((
            integers.shape().to_vec(),
            view.as_array().iter().map(|&v| v as u64).collect(),
        ))
    } else {
        None
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

/// The type's name with its article, for messages (`a tuple`, `an int`).
fn type_name(value: &Bound<'_, PyAny>) -> String {
    let Ok(name) = value.get_type().name() else {
        return "an object".to_owned();
    };
    let name = name.to_string();
    let article = match name.chars().next() {
        Some('a' | 'e' | 'i' | 'o' | 'u') => "an",
        _ => "a",
    };
    format!("{article} {name}")
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
