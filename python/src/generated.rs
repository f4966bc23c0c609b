//! The package's `check_<op>` functions, one per op of the catalogue, generated from the op specs
//! as Python source (`gradverify/_checks.py`, typed for mypy): each calls `check(op, backward)`
//! and says, in its type and its docstring, how the op's backward is called
//! ([`convention`](crate::convention)): its arguments in order with their shapes in the op's
//! letters, its keywords, what it returns. `checks_source()` gives the text; a test keeps the
//! file equal to it, so a new op of the catalogue gets its Python check by regenerating the file.

use gradverify::catalogue::{GradOut, InputKind, InputSpec, OpSpec};
use pyo3::prelude::*;

use crate::convention::{is_network, returned};

/// The header of `_checks.py`.
const HEADER: &str = r#""""The check of every op of the catalogue, one function each, generated from the op specs by
``gradverify._native.checks_source()`` (python/tests/test_catalogue.py keeps this file equal to
it): do not edit it by hand; regenerate it with
``python -c "import gradverify._native as n; print(n.checks_source(), end='')" > python/gradverify/_checks.py``."""

from collections.abc import Callable, Mapping, Sequence

from numpy.typing import ArrayLike

from ._native import Report, check
from ._types import Array, Indices
"#;

/// The source of `gradverify/_checks.py`: a typed `check_<op>` for every op of the catalogue, in
/// the registry's order.
#[pyfunction]
pub(crate) fn checks_source() -> String {
    let specs: Vec<&OpSpec> = gradverify::verify::ops::all().iter().map(|k| k.spec()).collect();
    let names: Vec<String> = specs
        .iter()
        .map(|s| format!("    \"check_{}\",\n", s.name))
        .collect();
    let mut source = format!("{HEADER}\n__all__: tuple[str, ...] = (\n{})\n", names.concat());
    for spec in specs {
        source.push_str(&function(spec));
    }
    source
}

/// One op's `check_<op>`.
fn function(spec: &OpSpec) -> String {
    let name = spec.name;
    let type_of = |i: &InputSpec| match i.kind {
        InputKind::Index => "Indices",
        InputKind::Real => "Array",
    };
    let shape = |letters: &[&str]| format!("[{}]", letters.join(", "));
    let returned = returned(spec);
    let mut arguments: Vec<(String, &str, String)> = Vec::new();
    match spec.grad_out {
        GradOut::Array(letters) => arguments.push(("grad_out".into(), "Array", shape(letters))),
        GradOut::Scalar => arguments.push(("grad_out".into(), "float", "a float, dL/dL".into())),
        GradOut::None => {}
    }
    for i in spec
        .inputs
        .iter()
        .filter(|i| !is_network(spec) || !returned.contains(i))
    {
        let what = match i.kind {
            InputKind::Index => format!("{} of whole numbers", shape(i.shape)),
            InputKind::Real => shape(i.shape),
        };
        arguments.push((i.name.into(), type_of(i), what));
    }
    if is_network(spec) {
        let params: Vec<String> = returned
            .iter()
            .map(|i| format!("{} {}", i.name, shape(i.shape)))
            .collect();
        arguments.push((
            "params".into(),
            "dict[str, Array]",
            format!("{{{}}}", params.join(", ")),
        ));
    }
    let gradients: Vec<String> = returned.iter().map(|i| format!("dL/d{}", i.name)).collect();
    let (result_type, result) = match (is_network(spec), returned.len()) {
        (true, _) => (
            "Sequence[ArrayLike] | Mapping[str, ArrayLike]".to_owned(),
            format!("({}), or a dict keyed like params", gradients.join(", ")),
        ),
        (false, 1) => ("ArrayLike".to_owned(), gradients[0].clone()),
        (false, n) => (
            format!("tuple[{}]", vec!["ArrayLike"; n].join(", ")),
            format!("({})", gradients.join(", ")),
        ),
    };
    let callable = match spec.attrs {
        [] => {
            let types: Vec<&str> = arguments.iter().map(|(_, t, _)| *t).collect();
            format!("Callable[[{}], {result_type}]", types.join(", "))
        }
        // Callable cannot say keywords: the docstring does.
        _ => format!("Callable[..., {result_type}]"),
    };
    let mut call: Vec<String> = arguments.iter().map(|(n, _, _)| n.clone()).collect();
    let keywords: Vec<String> = (spec.attrs.iter())
        .map(|a| {
            let kind = if a.integer { "an int" } else { "a float" };
            match a.default {
                Some(d) => format!("``{}`` ({kind}, {d} by default)", a.name),
                None => format!("``{}`` ({kind})", a.name),
            }
        })
        .collect();
    if !spec.attrs.is_empty() {
        call.push(format!(
            "*, {}",
            spec.attrs.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        ));
    }
    let verb = if is_network(spec) { "backprop" } else { "backward" };
    let shapes: Vec<String> = arguments.iter().map(|(n, _, w)| format!("{n} {w}")).collect();
    let mut doc = format!(
        "Checks ``{verb}({}) -> {result}`` of the catalogue's ``{name}``, as ``check(\"{name}\", {verb})``.\n\n    Arguments: {}.",
        call.join(", "),
        shapes.join("; ")
    );
    if !keywords.is_empty() {
        doc.push_str(&format!(" Keywords: {}.", keywords.join(", ")));
    }
    format!(
        "\n\ndef check_{name}(\n    {verb}: {callable},\n    *,\n    cases: int | None = None,\n    seed: int = 0,\n) -> Report:\n    \"\"\"{doc}\n    \"\"\"\n    return check(\"{name}\", {verb}, cases=cases, seed=seed)\n"
    )
}
