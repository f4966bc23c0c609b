//! `check_linear`, `check_relu`, `check_sqerr`, `check_network`: `gradverify::check::*` for
//! NumPy functions, in the notes' shapes (rows are data points):
//!
//! ```text
//! linear_backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)   h B×Din, W Din×Dout, b Dout  (Eq. 30b)
//! relu_backward(grad_h, a) -> dL/da                            a B×D                        (Eq. 29b)
//! sqerr_backward(grad_loss, f, y) -> (dL/df, dL/dy)            f, y B×D, grad_loss a float  (Eq. 31b)
//! backprop(x, y, params) -> (dL/dW1, dL/db1, …, dL/db3)       params: {"W1": …, …, "b3": …} (Eq. 32/37)
//! ```
//! The network's backprop may also return a dict keyed like `params`. Each check takes the
//! keywords `cases` (random cases, after the planned shapes) and `seed`, as `check::with` does.

use gradverify::catalogue::{InputKind, OpKind};
use gradverify::check::{self, NetworkGrads};
use gradverify::mlp::MlpParams;
use gradverify::verify::{Config, Fault};
use ndarray::{Array1, Array2, Ix1, Ix2};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

use crate::report::PyReport;
use crate::student::{Calls, array, callable, gradient, name_of, unpack};

/// Checks `backward(grad_out, *inputs, **attrs)` of any op of the catalogue by its name on the
/// wire (`gradverify::check::op_named`): the inputs in the protocol's order (labels and indices
/// as int64 arrays), `grad_out` a float for a loss, the op's settings (`stride`, `pad`, `p`,
/// `eps`, `pool`) as keywords; it returns the gradients of the differentiated inputs in order,
/// a tuple, or one array where there is one.
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
    let spec = kind.spec();
    let labels: Vec<String> = (spec.inputs.iter())
        .filter(|i| i.differentiated())
        .map(|i| format!("dL/d{}", i.name))
        .collect();
    let labels: Vec<&str> = labels.iter().map(String::as_str).collect();
    let name = name_of(&backward);
    let calls = Calls::new(py);
    let report = check::with(config).op_named(op, |g, xs, attrs| {
        let upstream = match g.ndim() {
            0 => calls.float(g.first().copied().unwrap_or(f64::NAN)),
            _ => calls.numpy(&g.to_owned()),
        };
        let inputs = (spec.inputs.iter().zip(xs)).map(|(i, x)| match i.kind {
            InputKind::Index => calls.integers(&x.to_owned()),
            InputKind::Real => calls.numpy(&x.to_owned()),
        });
        let kwargs = PyDict::new(py);
        for (a, &v) in spec.attrs.iter().zip(attrs) {
            let set = if a.integer {
                kwargs.set_item(a.name, v as i64)
            } else {
                kwargs.set_item(a.name, v)
            };
            set.expect("internal: a dict of str keys");
        }
        let args = std::iter::once(upstream).chain(inputs).collect();
        calls.answer(|| {
            let out = calls.call_with(&backward, args, Some(&kwargs))?;
            let items = match labels.len() {
                1 if out.cast::<PyTuple>().is_err() && out.cast::<PyList>().is_err() => vec![out],
                _ => unpack(&name, out, &labels)?,
            };
            (items.iter().zip(&labels))
                .map(|(v, label)| array(&name, v, label))
                .collect()
        })
    });
    let report = report.map_err(|e| PyValueError::new_err(e.to_string()))?;
    calls.finish(report, name)
}

/// The network's parameter names, in Eq. 35's order.
const PARAMS: [&str; 6] = ["W1", "b1", "W2", "b2", "W3", "b3"];

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

/// Checks `backward(grad_a, h, W, b) -> (dL/dh, dL/dW, dL/db)` of a = h W + b.
#[pyfunction]
#[pyo3(signature = (backward, *, cases = None, seed = 0))]
pub(crate) fn check_linear(
    py: Python<'_>,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&backward, "backward")?;
    let config = config(cases, seed)?;
    let name = name_of(&backward);
    let calls = Calls::new(py);
    let report = check::with(config).linear(|g, h, w, b| {
        let args = vec![calls.numpy(g), calls.numpy(h), calls.numpy(w), calls.numpy(b)];
        calls.answer(|| {
            let out = unpack(&name, calls.call(&backward, args)?, &["dL/dh", "dL/dW", "dL/db"])?;
            Ok((
                gradient::<Ix2>(&name, &out[0], "dL/dh")?,
                gradient::<Ix2>(&name, &out[1], "dL/dW")?,
                gradient::<Ix1>(&name, &out[2], "dL/db")?,
            ))
        })
    });
    calls.finish(report, name)
}

/// Checks `backward(grad_h, a) -> dL/da` of h = max(a, 0).
#[pyfunction]
#[pyo3(signature = (backward, *, cases = None, seed = 0))]
pub(crate) fn check_relu(
    py: Python<'_>,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&backward, "backward")?;
    let config = config(cases, seed)?;
    let name = name_of(&backward);
    let calls = Calls::new(py);
    let report = check::with(config).relu(|g, a| {
        calls.answer(|| {
            let out = calls.call(&backward, vec![calls.numpy(g), calls.numpy(a)])?;
            gradient::<Ix2>(&name, &out, "dL/da")
        })
    });
    calls.finish(report, name)
}

/// Checks `backward(grad_loss, f, y) -> (dL/df, dL/dy)` of L = ½ Σ (f − y)².
#[pyfunction]
#[pyo3(signature = (backward, *, cases = None, seed = 0))]
pub(crate) fn check_sqerr(
    py: Python<'_>,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&backward, "backward")?;
    let config = config(cases, seed)?;
    let name = name_of(&backward);
    let calls = Calls::new(py);
    let report = check::with(config).sqerr(|g, f, y| {
        let args = vec![calls.float(g), calls.numpy(f), calls.numpy(y)];
        calls.answer(|| {
            let out = unpack(&name, calls.call(&backward, args)?, &["dL/df", "dL/dy"])?;
            Ok((
                gradient::<Ix2>(&name, &out[0], "dL/df")?,
                gradient::<Ix2>(&name, &out[1], "dL/dy")?,
            ))
        })
    });
    calls.finish(report, name)
}

/// Checks a whole backprop of the Eq. 33 network: `backprop(x, y, params)` returns the six
/// parameter gradients.
#[pyfunction]
#[pyo3(signature = (backprop, *, cases = None, seed = 0))]
pub(crate) fn check_network(
    py: Python<'_>,
    backprop: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
) -> PyResult<PyReport> {
    callable(&backprop, "backprop")?;
    let config = config(cases, seed)?;
    let name = name_of(&backprop);
    let calls = Calls::new(py);
    let report = check::with(config).network(|x, y, params| {
        let args = vec![calls.numpy(x), calls.numpy(y), params_dict(&calls, params)];
        calls.answer(|| network_grads(&name, calls.call(&backprop, args)?))
    });
    calls.finish(report, name)
}

/// `{"W1": …, "b1": …, …, "b3": …}` as NumPy copies.
fn params_dict<'py>(calls: &Calls<'py>, params: &MlpParams) -> Bound<'py, PyAny> {
    let dict = PyDict::new(calls.py());
    let arrays = [
        calls.numpy(&params.w1),
        calls.numpy(&params.b1),
        calls.numpy(&params.w2),
        calls.numpy(&params.b2),
        calls.numpy(&params.w3),
        calls.numpy(&params.b3),
    ];
    for (key, array) in PARAMS.iter().zip(arrays) {
        dict.set_item(key, array).expect("internal: a dict of str keys");
    }
    dict.into_any()
}

/// The six gradients from a tuple in Eq. 35's order, or from a dict keyed like the parameters.
fn network_grads(name: &str, out: Bound<'_, PyAny>) -> Result<NetworkGrads, Fault> {
    let labels = PARAMS.map(|p| format!("dL/d{p}"));
    let items = match out.cast::<PyDict>() {
        Ok(dict) => PARAMS
            .iter()
            .zip(&labels)
            .map(|(key, label)| match dict.get_item(key) {
                Ok(Some(value)) => Ok(value),
                _ => Err(Fault::Failed(format!(
                    "{name} returned a dict without the key \"{key}\" ({label})"
                ))),
            })
            .collect::<Result<Vec<_>, Fault>>()?,
        Err(_) => unpack(name, out, &labels.each_ref().map(String::as_str))?,
    };
    let matrix = |k: usize| -> Result<Array2<f64>, Fault> { gradient::<Ix2>(name, &items[k], &labels[k]) };
    let vector = |k: usize| -> Result<Array1<f64>, Fault> { gradient::<Ix1>(name, &items[k], &labels[k]) };
    Ok((
        matrix(0)?,
        vector(1)?,
        matrix(2)?,
        vector(3)?,
        matrix(4)?,
        vector(5)?,
    ))
}
