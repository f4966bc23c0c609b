//! `check_op`: `torch.autograd.gradcheck` for any NumPy function, through
//! `gradverify::check::OpCheck`.
//!
//! `forward(x0, x1, …) -> output` and `backward(grad_out, x0, x1, …) -> (dL/dx0, dL/dx1, …)` (a
//! single array when there is a single input): the VJP is checked against central differences
//! of the op's own forward, `dL/dx_i ≈ (⟨v, f(x + h e_i)⟩ − ⟨v, f(x − h e_i)⟩) / 2h` for a random
//! cotangent v, at standard-normal inputs of the given shapes. The keyword options are those of
//! the Rust `OpCheck` (read and checked in [`options`](crate::options)): `cases`, `seed`,
//! `domains`, `points`, `rtol`, `atol`, `eps`, `nondet_tol`, `no_grad`, `fast`, `shrinkable`,
//! `aliases`, and two functions:
//! - `jvp(tangents, x0, x1, …) -> J u`, forward mode, with `tangents` a tuple of one array per
//!   input (the linear argument first, as in `backward`), checked against finite differences
//!   along u and against the VJP by the dot-product test `⟨J u, v⟩ = ⟨u, Jᵀ v⟩`;
//! - `second_order(grad_out, directions, x0, x1, …) -> (d/dt dL/dx0, …)`, the backward's own
//!   derivative along `directions` (one array per input: `d/dt VJP(x + t·d, v)` at t = 0, a
//!   double backward), checked against finite differences of the backward along d.
//!
//! With `vectorized=True` (scipy's word for it), the forward is also called on many points at
//! once: each input stacked along a new first axis, `forward(X0, X1, …)` with `Xk[p]` the k-th
//! input of point p, answering the outputs stacked the same way. The finite differences then ask
//! for a whole round of steps in one call (one NumPy call instead of one per point); the case's
//! own forward is still called on one point.
//!
//! Inputs drawn as labels (`{"labels": C}`) are passed as int64 arrays; aliased inputs
//! (`aliases=((i, j),)`), drawn equal, are passed as one array object wherever they are equal,
//! so a backward that writes one use's gradient into a buffer the other shares is seen.

use gradverify::check::{Domain, OpCheck};
use gradverify::verify::Fault;
use ndarray::{ArrayD, Axis};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3::types::{PyList, PyTuple};

use crate::checks::config;
use crate::options::{self, Options};
use crate::report::PyReport;
use crate::student::{Calls, array, callable};

/// Checks `backward` (and `jvp` and `second_order`, if given) against finite differences of
/// `forward` at inputs of `shapes`.
#[pyfunction]
#[pyo3(
    signature = (
        name, shapes, forward, backward, *, cases = None, seed = 0, domains = None, points = None,
        rtol = None, atol = None, eps = None, nondet_tol = None, no_grad = Vec::new(), jvp = None,
        fast = false, shrinkable = Vec::new(), second_order = None, aliases = Vec::new(),
        vectorized = false
    ),
    text_signature = "(name, shapes, forward, backward, *, cases=None, seed=0, domains=None, \
        points=None, rtol=None, atol=None, eps=None, nondet_tol=None, no_grad=(), jvp=None, \
        fast=False, shrinkable=(), second_order=None, aliases=(), vectorized=False)"
)]
#[allow(
    clippy::too_many_arguments,
    reason = "one argument per Python keyword, as gradcheck has them"
)]
pub(crate) fn check_op(
    py: Python<'_>,
    name: &str,
    shapes: Vec<Vec<i64>>,
    forward: Bound<'_, PyAny>,
    backward: Bound<'_, PyAny>,
    cases: Option<usize>,
    seed: u64,
    domains: Option<Bound<'_, PyAny>>,
    points: Option<Bound<'_, PyAny>>,
    rtol: Option<f64>,
    atol: Option<f64>,
    eps: Option<f64>,
    nondet_tol: Option<f64>,
    no_grad: Vec<i64>,
    jvp: Option<Bound<'_, PyAny>>,
    fast: bool,
    shrinkable: Vec<(i64, i64)>,
    second_order: Option<Bound<'_, PyAny>>,
    aliases: Vec<(i64, i64)>,
    vectorized: bool,
) -> PyResult<PyReport> {
    callable(&forward, "forward")?;
    callable(&backward, "backward")?;
    for (function, what) in [(&jvp, "jvp"), (&second_order, "second_order")] {
        if let Some(function) = function {
            callable(function, what)?;
        }
    }
    let shapes = dimensions(&shapes)?;
    let config = config(cases, seed)?;
    let domains = options::domains(domains.as_ref(), &shapes)?;
    let options = Options {
        points: points
            .map(|p| options::points(&p, &shapes, &domains))
            .transpose()?,
        domains,
        rtol: options::tolerance("rtol", rtol)?,
        atol: options::tolerance("atol", atol)?,
        eps: options::step("eps", eps)?,
        nondet_tol: options::tolerance("nondet_tol", nondet_tol)?,
        no_grad: options::no_grad(&no_grad, &shapes)?,
        fast,
        shrinkable: options::shrinkable(&shrinkable, &shapes)?,
        aliases: options::aliases(&aliases, &shapes)?,
    };
    let labels: Vec<bool> = (0..shapes.len())
        .map(|k| (options.domains.iter()).any(|(i, d)| *i == k && matches!(d, Domain::Labels(_))))
        .collect();
    let aliased = options.aliases.clone();
    let shapes: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let calls = Calls::named(py);
    // The inputs as NumPy arrays: labels as int64, equal aliases as one object.
    let inputs = |xs: &[ArrayD<f64>]| {
        let mut arrays: Vec<Bound<'_, PyAny>> = (xs.iter().zip(&labels))
            .map(|(x, &label)| if label { calls.integers(x) } else { calls.numpy(x) })
            .collect();
        for &(i, j) in &aliased {
            if xs[i] == xs[j] {
                arrays[j] = arrays[i].clone();
            }
        }
        arrays
    };
    let numpy = |xs: &[ArrayD<f64>]| xs.iter().map(|x| calls.numpy(x)).collect::<Vec<_>>();
    let check = OpCheck::try_new(
        name,
        &shapes,
        |xs| array("forward", &calls.call(&forward, inputs(xs))?, "the output"),
        |xs, g| {
            let names: Vec<String> = (0..xs.len()).map(|k| format!("x{k}")).collect();
            let mut args = vec![("grad_out", calls.numpy(g))];
            args.extend(names.iter().map(String::as_str).zip(inputs(xs)));
            gradients("backward", "dL/dx", &calls.backward(&backward, args, None)?)
        },
    )
    .config(config);
    let check = if vectorized {
        check.forward_batch(|points: &[Vec<ArrayD<f64>>]| {
            let stacked: Vec<ArrayD<f64>> = (0..shapes.len()).map(|k| stacked(points, k)).collect();
            let out = array("forward", &calls.call(&forward, inputs(&stacked))?, "the output")?;
            unstacked(out, points.len()).map(|outs| outs.into_iter().map(|y| vec![y]).collect())
        })
    } else {
        check
    };
    let check = match &second_order {
        Some(second_order) => check.try_second_order(|xs, vs, ds| {
            let directions = PyTuple::new(calls.py(), numpy(ds)).expect("internal: a tuple of arrays");
            let mut args = vec![calls.numpy(&vs[0]), directions.into_any()];
            args.extend(inputs(xs));
            gradients("second_order", "d/dt dL/dx", &calls.call(second_order, args)?)
        }),
        None => check,
    };
    let check = match &jvp {
        Some(jvp) => check.try_jvp(|xs: &[ArrayD<f64>], us: &[ArrayD<f64>]| {
            let tangents = PyTuple::new(calls.py(), numpy(us)).expect("internal: a tuple of arrays");
            let mut args = vec![tangents.into_any()];
            args.extend(inputs(xs));
            array("jvp", &calls.call(jvp, args)?, "the output tangent")
        }),
        None => check,
    };
    let report = options.apply(check).run();
    calls.finish(report, "your forward and backward".to_owned())
}

/// Input `k` of every point, stacked along a new first axis.
fn stacked(points: &[Vec<ArrayD<f64>>], k: usize) -> ArrayD<f64> {
    let views: Vec<_> = points.iter().map(|point| point[k].view()).collect();
    ndarray::stack(Axis(0), &views).expect("internal: the points of a batch have one shape per input")
}

/// A vectorized forward's stacked output, split into one output per point of the `points` asked.
fn unstacked(out: ArrayD<f64>, points: usize) -> Result<Vec<ArrayD<f64>>, Fault> {
    if out.shape().first() != Some(&points) {
        return Err(Fault::Failed(format!(
            "forward returned an array of shape {:?} for {points} points stacked along a new first axis; with vectorized=True it must return their outputs stacked the same way, first dimension {points} (or pass vectorized=False)",
            out.shape()
        )));
    }
    Ok(out.outer_iter().map(|y| y.to_owned()).collect())
}

/// What `function` returned, one array per input (a tuple, a list, or one array for one input),
/// each named `what` and its index in messages.
fn gradients(function: &str, what: &str, out: &Bound<'_, PyAny>) -> Result<Vec<ArrayD<f64>>, Fault> {
    let items: Vec<Bound<'_, PyAny>> = if let Ok(tuple) = out.cast::<PyTuple>() {
        tuple.iter().collect()
    } else if let Ok(list) = out.cast::<PyList>() {
        list.iter().collect()
    } else {
        vec![out.clone()]
    };
    (items.iter().enumerate())
        .map(|(k, item)| array(function, item, &format!("{what}{k}")))
        .collect()
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
