//! `gradverify.serve`'s loop: protocol v1 over a Python `stdin` and `stdout`, each request read
//! and each answer written by the crate's own protocol code (`gradverify::serve::respond`, as
//! `gradverify serve` answers), the student's function for the request's op called as
//! [`convention`](crate::convention) says. Any op of the catalogue can be served; an op without
//! a function is answered "unsupported op", an exception with its traceback as the error, and
//! the loop goes on. Each answer is flushed at once: an unflushed answer sits in the pipe's
//! buffer and the verifier times out.

use std::collections::HashMap;

use gradverify::serve::{Unanswered, respond};
use gradverify::verify::Backward;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::types::PyDict;

use crate::convention::Subject;
use crate::student::{Calls, callable, name_of};

/// Answers each non-empty line of `stdin` (an iterable of str) with one line on `stdout` (a text
/// file), calling `backwards[op]` for a request of `op`, until `stdin` ends.
#[pyfunction]
pub(crate) fn serve(
    py: Python<'_>,
    backwards: Bound<'_, PyDict>,
    stdin: Bound<'_, PyAny>,
    stdout: Bound<'_, PyAny>,
) -> PyResult<()> {
    let names: Vec<&str> = gradverify::verify::ops::all().iter().map(|k| k.name()).collect();
    let mut functions = HashMap::new();
    for (op, function) in backwards.iter() {
        let op: String = op.extract()?;
        if !names.contains(&op.as_str()) {
            return Err(PyTypeError::new_err(format!(
                "serve got {op}=…, which is not an op of the catalogue; the ops are {}",
                names.join(", ")
            )));
        }
        callable(&function, &op)?;
        functions.insert(op, function);
    }
    if functions.is_empty() {
        return Err(PyTypeError::new_err(format!(
            "serve needs at least one backward, by its op's name (serve(linear=linear_backward, relu=relu_backward)); the ops are {}",
            names.join(", ")
        )));
    }
    for line in stdin.try_iter()? {
        let line: String = line?.extract()?;
        if line.trim().is_empty() {
            continue;
        }
        // The calls of one request: what they keep (exceptions, changed arguments) is not kept
        // from one request to the next.
        let calls = Calls::new(py);
        let response = respond(&line, |request| {
            let function = functions
                .get(request.kind().name())
                .ok_or(Unanswered::Unsupported)?;
            let mut subject = Subject::new(&calls, function.clone(), name_of(function));
            (subject.answer(request)).map_err(|fault| Unanswered::Error(fault.to_string()))
        });
        calls.interrupted()?;
        stdout.call_method1("write", (format!("{response}\n"),))?;
        stdout.call_method0("flush")?;
    }
    Ok(())
}
