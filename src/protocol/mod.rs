//! The student protocol, version 1 (`protocol-v1.md`): JSON Lines requests for one op's backward
//! (or the whole network's) and responses holding the gradients.
//!
//! ```text
//! {"id": 1, "op": "linear", "inputs": {"h": B×Din, "W": Din×Dout, "b": Dout}, "grad_out": B×Dout}
//! {"id": 2, "op": "relu",   "inputs": {"a": B×D}, "grad_out": B×D}
//! {"id": 3, "op": "sqerr",  "inputs": {"f": B×D, "y": B×D}, "grad_out": NUMBER}
//! {"id": 4, "op": "mlp",    "inputs": {"x", "y", "W1", "b1", "W2", "b2", "W3", "b3"}}
//! ```
//! Answers are `{"id": N, "grads": {...}}` keyed by input name, or `{"id": N, "error": TEXT}`.
//! A matrix is a list of rows, a vector a list of numbers, a scalar (the mlp's optional `loss`) a
//! number.

//!
//! This module holds the framing; each op's part of a request (its inputs, writing it) lives in
//! its own file in [`crate::verify::ops`], with [`OpKind`] and [`Request`].

pub mod serve;

use ndarray::{ArrayD, Ix1, Ix2, arr0};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::json;
use crate::verify::ops::{names, op};

pub use crate::verify::ops::{OpKind, Request};

/// The error text for an op the program has not written.
pub const UNSUPPORTED: &str = "unsupported op";

/// Gradients keyed by input name, in the protocol's order. A scalar (the mlp's `loss`) is a
/// 0-dimensional array.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Answer {
    /// (name, value) pairs.
    pub grads: Vec<(String, ArrayD<f64>)>,
}

impl Answer {
    /// The gradient named `name`.
    pub fn get(&self, name: &str) -> Option<&ArrayD<f64>> {
        self.grads.iter().find(|(n, _)| n == name).map(|(_, g)| g)
    }

    /// Adds a named value.
    pub fn with(mut self, name: &str, value: ArrayD<f64>) -> Answer {
        self.grads.push((name.to_owned(), value));
        self
    }

    /// The `grads` object of a response.
    pub fn to_json(&self) -> Value {
        let object: Map<String, Value> = self
            .grads
            .iter()
            .map(|(name, g)| {
                let value = match g.ndim() {
                    0 => json!(g.iter().next().copied().unwrap_or(f64::NAN)),
                    1 => json::from_vector(g.view().into_dimensionality::<Ix1>().expect("internal: rank 1")),
                    _ => json::from_matrix(g.view().into_dimensionality::<Ix2>().expect("internal: rank 2")),
                };
                (name.clone(), value)
            })
            .collect();
        Value::Object(object)
    }

    /// Reads a `grads` object, taking each key of `like` with the rank it has there; keys in
    /// `optional` are read when present. A missing key, a non-number or a ragged matrix is an
    /// error naming the key.
    pub fn from_json(grads: &Value, like: &Answer, optional: &[&str]) -> Result<Answer> {
        let object = grads.as_object().ok_or_else(|| Error::Json {
            context: "grads".into(),
            message: format!("expected an object, got {}", json::kind(grads)),
        })?;
        let mut answer = Answer::default();
        for (name, reference) in &like.grads {
            let Some(value) = object.get(name) else {
                if optional.contains(&name.as_str()) {
                    continue;
                }
                return Err(Error::MissingKey {
                    context: "grads".into(),
                    key: name.clone(),
                });
            };
            let what = format!("grads.{name}");
            let parsed = match reference.ndim() {
                0 => arr0(json::number(value, &what)?).into_dyn(),
                1 => json::vector(value, &what)?.into_dyn(),
                _ => json::matrix(value, &what)?.into_dyn(),
            };
            answer.grads.push((name.clone(), parsed));
        }
        Ok(answer)
    }
}

/// A parse failure, with the request's id when it could be read (else `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    /// The request's `id`, or `null`.
    pub id: Value,
    /// What was wrong.
    pub message: String,
    /// True when the request is well formed but names an op the protocol does not have.
    pub unsupported: bool,
}

/// Parses one request line into its id and payload.
pub fn parse_request(line: &str) -> std::result::Result<(Value, Request), BadRequest> {
    let value: Value = serde_json::from_str(line).map_err(|e| BadRequest {
        id: Value::Null,
        message: format!("request is not JSON: {e}"),
        unsupported: false,
    })?;
    let id = value.get("id").cloned().unwrap_or(Value::Null);
    let fail = |e: Error| BadRequest {
        id: id.clone(),
        message: e.to_string(),
        unsupported: false,
    };
    let object = value.as_object().ok_or_else(|| {
        fail(Error::Json {
            context: "request".into(),
            message: format!("expected an object, got {}", json::kind(&value)),
        })
    })?;
    let op = json::field(object, "op", "request").map_err(fail)?;
    let op = op.as_str().ok_or_else(|| {
        fail(Error::Json {
            context: "request".into(),
            message: format!("`op` must be a string, got {}", json::kind(op)),
        })
    })?;
    let kind = op.parse::<OpKind>().map_err(|_| BadRequest {
        id: id.clone(),
        message: format!("{UNSUPPORTED} `{op}` (the protocol has {})", names()),
        unsupported: true,
    })?;
    request_payload(kind, object)
        .map(|r| (id.clone(), r))
        .map_err(fail)
}

/// The request's payload, read by its op.
fn request_payload(kind: OpKind, object: &Map<String, Value>) -> Result<Request> {
    let inputs = json::field(object, "inputs", "request")?;
    let inputs = inputs.as_object().ok_or_else(|| Error::Json {
        context: "request".into(),
        message: format!("`inputs` must be an object, got {}", json::kind(inputs)),
    })?;
    op(kind).parse(inputs, object)
}

/// The reference answer, computed by this crate's backprop: for the network every parameter
/// gradient, dL/dx and the loss.
pub fn reference_answer(request: &Request) -> Result<Answer> {
    op(request.kind()).reference_answer(request)
}
