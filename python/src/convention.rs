//! How a Python backward is called for a request of any op of the catalogue, read off the op's
//! spec ([`OpSpec`]) alone, so that every op's check and `serve` call it the same way and a new
//! op of the catalogue needs no line here:
//!
//! - `backward(grad_out, *inputs, **attrs)`: the upstream gradient first (an array shaped like
//!   the output, a float for a loss's dL/dL), the inputs in the spec's order (labels and indices
//!   as int64 arrays), the attributes (`stride`, `pad`, `p`, `eps`, `pool`) as keywords, whole
//!   numbers as ints;
//! - an op without an upstream gradient (a whole network ending in its loss) is
//!   `backprop(*data, params)`: the inputs whose gradients it returns (the parameters) in one dict
//!   `params` keyed by name, after the others (`backprop(x, y, {"W1": …, …, "b3": …})`);
//! - it returns the gradients of the differentiated inputs (of the parameters, for a network) in
//!   the spec's order: a tuple or a list, or where there is one gradient that gradient (a list of
//!   numbers too) or a tuple of one; for a network also a dict keyed like `params`. Each is
//!   anything NumPy reads as an array of numbers of its input's rank.

use gradverify::catalogue::{Answer, Grad, GradOut, InputKind, InputSpec, OpSpec, Request};
use gradverify::verify::{Backward, Fault};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyTuple};

use crate::student::{Calls, array, unpack};

/// A Python function as the verifier's [`Backward`], called as the module says.
pub(crate) struct Subject<'a, 'py> {
    calls: &'a Calls<'py>,
    function: Bound<'py, PyAny>,
    name: String,
}

impl<'a, 'py> Subject<'a, 'py> {
    /// `function`, named `name` in messages, called through `calls`.
    pub(crate) fn new(calls: &'a Calls<'py>, function: Bound<'py, PyAny>, name: String) -> Self {
        Subject {
            calls,
            function,
            name,
        }
    }
}

impl Backward for Subject<'_, '_> {
    fn label(&self) -> String {
        self.name.clone()
    }

    fn answer(&mut self, request: &Request) -> Result<Answer, Fault> {
        let spec = request.kind().spec();
        let (args, kwargs) = arguments(self.calls, request);
        let out = self.calls.backward(&self.function, args, Some(&kwargs))?;
        answer(&self.name, spec, out)
    }
}

/// Whether the op is a whole network: no upstream gradient, its parameters in a dict.
pub(crate) fn is_network(spec: &OpSpec) -> bool {
    spec.grad_out == GradOut::None
}

/// The inputs whose gradients the function returns, in order.
pub(crate) fn returned(spec: &OpSpec) -> Vec<&'static InputSpec> {
    (spec.inputs.iter())
        .filter(|i| match is_network(spec) {
            true => i.grad == Grad::Required,
            false => i.differentiated(),
        })
        .collect()
}

/// The positional arguments (named as the call names them) and the keywords for `request`.
fn arguments<'py>(
    calls: &Calls<'py>,
    request: &Request,
) -> (Vec<(&'static str, Bound<'py, PyAny>)>, Bound<'py, PyDict>) {
    let spec = request.kind().spec();
    let mut args = Vec::new();
    match request.grad_out() {
        Some(_) if spec.grad_out == GradOut::Scalar => {
            args.push(("grad_out", calls.float(request.upstream_scalar())))
        }
        Some(g) => args.push(("grad_out", calls.numpy(&g.to_owned()))),
        None => {}
    }
    let value = |i: &InputSpec, x: &ndarray::ArrayD<f64>| match i.kind {
        InputKind::Index => calls.integers(x),
        InputKind::Real => calls.numpy(x),
    };
    let returned = returned(spec);
    let params = PyDict::new(calls.py());
    for (i, x) in spec.inputs.iter().zip(request.inputs()) {
        if is_network(spec) && returned.contains(&i) {
            params
                .set_item(i.name, value(i, x))
                .expect("internal: a dict of str keys");
        } else {
            args.push((i.name, value(i, x)));
        }
    }
    if is_network(spec) {
        args.push(("params", params.into_any()));
    }
    let kwargs = PyDict::new(calls.py());
    for (a, &v) in spec.attrs.iter().zip(request.attrs()) {
        let set = if a.integer {
            kwargs.set_item(a.name, v as i64)
        } else {
            kwargs.set_item(a.name, v)
        };
        set.expect("internal: a dict of str keys");
    }
    (args, kwargs)
}

/// The answer in what `function` returned: each gradient of [`returned`], of its input's rank.
fn answer(function: &str, spec: &OpSpec, out: Bound<'_, PyAny>) -> Result<Answer, Fault> {
    let returned = returned(spec);
    let labels: Vec<String> = returned.iter().map(|i| format!("dL/d{}", i.name)).collect();
    let tuple = out.cast::<PyTuple>().is_ok();
    let items = match out.cast::<PyDict>() {
        Ok(dict) if is_network(spec) => (returned.iter().zip(&labels))
            .map(|(i, label)| match dict.get_item(i.name) {
                Ok(Some(value)) => Ok(value),
                _ => Err(Fault::Failed(format!(
                    "{function} returned a dict without the key \"{}\" ({label})",
                    i.name
                ))),
            })
            .collect::<Result<Vec<_>, Fault>>()?,
        _ if returned.len() == 1 && !tuple => vec![out],
        _ => unpack(
            function,
            out,
            &labels.iter().map(String::as_str).collect::<Vec<_>>(),
        )?,
    };
    let mut answer = Answer::default();
    for ((input, item), label) in returned.iter().zip(&items).zip(&labels) {
        let gradient = array(function, item, label)?;
        let rank = input.shape.len();
        if gradient.ndim() != rank {
            return Err(Fault::Failed(format!(
                "{function} returned {label} with {} dimensions (shape {:?}); expected a {rank}-D array",
                gradient.ndim(),
                gradient.shape()
            )));
        }
        answer = answer.with(input.name, gradient);
    }
    Ok(answer)
}
