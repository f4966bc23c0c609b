//! `check_op`'s keyword options, read from Python values into `gradverify::check::OpCheck`'s.
//!
//! Each option is checked here, before anything is called, and a bad value is a `ValueError`
//! naming the option, the value and what was expected (the Rust builder would report it as the
//! report's one finding instead; from Python an argument error is an exception). A value of the
//! wrong type (`rtol="x"`) is PyO3's `TypeError`, with the note "while processing 'rtol'":
//!
//! ```text
//! domains={i: "positive" | (a, b)}   input i drawn in x > 0 or a < x < b, steps kept inside
//!   or {i: {"labels": C} | "one_hot"}  data: class labels or one-hot rows, never stepped
//! points=[(x0, x1, …), …]            explicit inputs, shaped as `shapes`, inside their domains
//! rtol, atol, nondet_tol ≥ 0; eps > 0; all finite
//! no_grad=(i, …)                     inputs not differentiated; not every input
//! shrinkable=((i, axis), …)          axes a failing case may shrink along
//! aliases=((i, j), …)                inputs that are the same array, used twice
//! ```
//!
//! The forward-mode `jvp` is a function and is wired in by `op`, which calls it. The rules are
//! the Rust builder's own ([`validate`], [`Domain::validate`], [`Domain::admits`]); only the
//! wording is Python's.

use gradverify::check::{Domain, OpCheck};
use gradverify::verify::custom::validate;
use ndarray::{ArrayD, Dimension};
use numpy::{AllowTypeChange, PyArrayLikeDyn};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList, PyTuple};

/// The options of one `check_op` call, checked against the op's input shapes.
pub(crate) struct Options {
    pub(crate) domains: Vec<(usize, Domain)>,
    pub(crate) points: Option<Vec<Vec<ArrayD<f64>>>>,
    pub(crate) rtol: Option<f64>,
    pub(crate) atol: Option<f64>,
    pub(crate) eps: Option<f64>,
    pub(crate) nondet_tol: Option<f64>,
    pub(crate) no_grad: Vec<usize>,
    pub(crate) fast: bool,
    pub(crate) shrinkable: Vec<(usize, usize)>,
    pub(crate) aliases: Vec<(usize, usize)>,
}

impl Options {
    /// `check` with these options set.
    pub(crate) fn apply<'a>(self, mut check: OpCheck<'a>) -> OpCheck<'a> {
        for (input, domain) in self.domains {
            check = check.domain(input, domain);
        }
        if let Some(points) = self.points {
            check = check.points(points);
        }
        if let Some(rtol) = self.rtol {
            check = check.rtol(rtol);
        }
        if let Some(atol) = self.atol {
            check = check.atol(atol);
        }
        if let Some(eps) = self.eps {
            check = check.eps(eps);
        }
        if let Some(tol) = self.nondet_tol {
            check = check.nondet_tol(tol);
        }
        for input in self.no_grad {
            check = check.no_grad(input);
        }
        for (input, axis) in self.shrinkable {
            check = check.shrinkable(input, axis);
        }
        for (first, second) in self.aliases {
            check = check.alias(first, second);
        }
        if self.fast { check.fast() } else { check }
    }
}

/// `domains`: a dict from input index to `"positive"` or `(a, b)`.
pub(crate) fn domains(
    value: Option<&Bound<'_, PyAny>>,
    shapes: &[Vec<usize>],
) -> PyResult<Vec<(usize, Domain)>> {
    let Some(value) = value else {
        return Ok(Vec::new());
    };
    let dict = value.cast::<PyDict>().map_err(|_| {
        invalid(format!(
            "domains is {}: expected a dict from input index to \"positive\" or (a, b)",
            describe(value)
        ))
    })?;
    dict.iter()
        .map(|(key, domain)| {
            let input = index("domains", &key, shapes)?;
            Ok((input, one_domain(input, &domain)?))
        })
        .collect()
}

fn one_domain(input: usize, value: &Bound<'_, PyAny>) -> PyResult<Domain> {
    let expected = || {
        invalid(format!(
            "domains[{input}] is {}: expected \"positive\", (a, b) with finite a < b, or data never differentiated: {{\"labels\": C}} with C ≥ 1 or \"one_hot\"",
            repr(value)
        ))
    };
    if let Ok(name) = value.extract::<String>() {
        return match name.as_str() {
            "positive" => Ok(Domain::Positive),
            "one_hot" => Ok(Domain::OneHot),
            _ => Err(expected()),
        };
    }
    if let Ok(labels) = value.extract::<std::collections::HashMap<String, usize>>() {
        return match (labels.len(), labels.get("labels")) {
            (1, Some(&classes)) => Domain::Labels(classes).validate().map_err(|_| expected()),
            _ => Err(expected()),
        };
    }
    match value.extract::<Vec<f64>>().as_deref() {
        Ok(&[a, b]) => Domain::Interval(a, b).validate().map_err(|_| expected()),
        _ => Err(expected()),
    }
}

/// `points`: a list of tuples, one array per input, shaped as `shapes` and inside `domains`.
pub(crate) fn points(
    value: &Bound<'_, PyAny>,
    shapes: &[Vec<usize>],
    domains: &[(usize, Domain)],
) -> PyResult<Vec<Vec<ArrayD<f64>>>> {
    let expected = "a list of tuples of arrays, one array per input";
    let sets =
        items(value).ok_or_else(|| invalid(format!("points is {}: expected {expected}", describe(value))))?;
    if sets.is_empty() {
        return Err(invalid(format!("points is empty: expected {expected}")));
    }
    sets.iter()
        .enumerate()
        .map(|(p, set)| {
            let arrays = items(set)
                .filter(|arrays| arrays.len() == shapes.len())
                .ok_or_else(|| {
                    invalid(format!(
                        "points[{p}] is {}: expected a tuple of {} arrays, one per input",
                        describe(set),
                        shapes.len()
                    ))
                })?;
            arrays
                .iter()
                .zip(shapes)
                .enumerate()
                .map(|(k, (x, shape))| point_array(p, k, x, shape, domains))
                .collect()
        })
        .collect()
}

/// `points[p][k]` as an array of `shape` whose every element is inside input k's domain.
fn point_array(
    p: usize,
    k: usize,
    value: &Bound<'_, PyAny>,
    shape: &[usize],
    domains: &[(usize, Domain)],
) -> PyResult<ArrayD<f64>> {
    let x = value
        .extract::<PyArrayLikeDyn<'_, f64, AllowTypeChange>>()
        .map_err(|_| {
            invalid(format!(
                "points[{p}][{k}] is {}: expected an array of numbers",
                describe(value)
            ))
        })?
        .as_array()
        .to_owned();
    if x.shape() != shape {
        return Err(invalid(format!(
            "points[{p}][{k}] has shape {:?}: expected {shape:?}, shapes[{k}]",
            x.shape()
        )));
    }
    let domain = domains
        .iter()
        .find(|(input, _)| *input == k)
        .map_or(Domain::Real, |(_, d)| *d);
    match x.indexed_iter().find(|(_, v)| !domain.admits(**v)) {
        Some((at, v)) => Err(invalid(format!(
            "points[{p}][{k}]{:?} is {v}: expected a finite value in {domain} (domains[{k}]), or on its bound",
            at.slice()
        ))),
        None => Ok(x),
    }
}

/// `rtol`, `atol`, `nondet_tol`: finite and at least 0.
pub(crate) fn tolerance(option: &str, value: Option<f64>) -> PyResult<Option<f64>> {
    value
        .map(|v| validate::tolerance(option, v))
        .transpose()
        .map_err(misuse)
}

/// `eps`: finite and above 0.
pub(crate) fn step(option: &str, value: Option<f64>) -> PyResult<Option<f64>> {
    value
        .map(|v| validate::step(option, v))
        .transpose()
        .map_err(misuse)
}

/// `rtol is -1: expected a finite value ≥ 0`.
fn misuse(error: gradverify::Error) -> PyErr {
    let (option, value, expected) = validate::parts(&error);
    invalid(format!("{option} is {value}: expected {expected}"))
}

/// `no_grad`: input indices, leaving at least one input to differentiate.
pub(crate) fn no_grad(inputs: &[i64], shapes: &[Vec<usize>]) -> PyResult<Vec<usize>> {
    let inputs = inputs
        .iter()
        .map(|&i| input("no_grad", i, shapes))
        .collect::<PyResult<Vec<usize>>>()?;
    let flags: Vec<bool> = (0..shapes.len()).map(|k| inputs.contains(&k)).collect();
    if validate::some_gradient(&flags).is_err() {
        return Err(invalid(format!(
            "no_grad is {inputs:?}: every input is no_grad, so there is no gradient to compare; \
             expected at least one input left out"
        )));
    }
    Ok(inputs)
}

/// `aliases`: `(i, j)` pairs of two different inputs of one shape, the same array used twice.
pub(crate) fn aliases(pairs: &[(i64, i64)], shapes: &[Vec<usize>]) -> PyResult<Vec<(usize, usize)>> {
    pairs
        .iter()
        .map(|&(i, j)| {
            let (a, b) = (input("aliases", i, shapes)?, input("aliases", j, shapes)?);
            if a == b {
                return Err(invalid(format!(
                    "aliases has ({i}, {j}): an input is always the same array as itself; expected two different inputs"
                )));
            }
            if shapes[a] != shapes[b] {
                return Err(invalid(format!(
                    "aliases has ({i}, {j}): shapes[{i}] is {:?} and shapes[{j}] is {:?}; the same array has one shape",
                    shapes[a], shapes[b]
                )));
            }
            Ok((a, b))
        })
        .collect()
}

/// `shrinkable`: `(input, axis)` pairs naming an axis of that input.
pub(crate) fn shrinkable(pairs: &[(i64, i64)], shapes: &[Vec<usize>]) -> PyResult<Vec<(usize, usize)>> {
    pairs
        .iter()
        .map(|&(i, axis)| {
            let k = input("shrinkable", i, shapes)?;
            let rank = shapes[k].len();
            usize::try_from(axis)
                .ok()
                .and_then(|axis| validate::axis("shrinkable", axis, &shapes[k]).ok())
                .map(|axis| (k, axis))
                .ok_or_else(|| {
                    invalid(format!(
                        "shrinkable has ({i}, {axis}): input {i} has {rank} axes (shapes[{i}] is {:?}); \
                         expected (input, axis) with an axis of that input",
                        shapes[k]
                    ))
                })
        })
        .collect()
}

/// A dict key that must be an input index.
fn index(option: &str, key: &Bound<'_, PyAny>, shapes: &[Vec<usize>]) -> PyResult<usize> {
    let i = key.extract::<i64>().map_err(|_| {
        invalid(format!(
            "{option} has the key {}: expected an input index from 0 to {}",
            repr(key),
            shapes.len() - 1
        ))
    })?;
    input(option, i, shapes)
}

fn input(option: &str, i: i64, shapes: &[Vec<usize>]) -> PyResult<usize> {
    let n = shapes.len();
    let valid = |k| validate::input(option, k, n).ok();
    usize::try_from(i).ok().and_then(valid).ok_or_else(|| {
        invalid(format!(
            "{option} names input {i}, which does not exist: the op has {n} input{} (0 to {})",
            if n == 1 { "" } else { "s" },
            n - 1
        ))
    })
}

/// The items of a list or tuple.
fn items<'py>(value: &Bound<'py, PyAny>) -> Option<Vec<Bound<'py, PyAny>>> {
    if let Ok(tuple) = value.cast::<PyTuple>() {
        Some(tuple.iter().collect())
    } else if let Ok(list) = value.cast::<PyList>() {
        Some(list.iter().collect())
    } else {
        None
    }
}

/// "a tuple of 2 items", "a ndarray": what a value is, without printing a whole array.
fn describe(value: &Bound<'_, PyAny>) -> String {
    let kind = value
        .get_type()
        .name()
        .map_or_else(|_| "object".to_owned(), |n| n.to_string());
    match items(value) {
        Some(items) => format!("a {kind} of {} items", items.len()),
        None => format!("a {kind}"),
    }
}

/// The value as Python prints it, for small values (keys, domains).
fn repr(value: &Bound<'_, PyAny>) -> String {
    value
        .repr()
        .map_or_else(|_| "an unprintable value".to_owned(), |r| r.to_string())
}

fn invalid(message: String) -> PyErr {
    PyValueError::new_err(message)
}
