//! The student protocol, version 1 (`protocol-v1.md`, and `protocol-ops.md` for the course's other
//! ops): JSON Lines requests for one op's backward (or the whole network's) and responses holding
//! the gradients.
//!
//! ```text
//! {"id": 1, "op": "linear", "inputs": {"h": B×Din, "W": Din×Dout, "b": Dout}, "grad_out": B×Dout}
//! {"id": 2, "op": "relu",   "inputs": {"a": B×D}, "grad_out": B×D}
//! {"id": 3, "op": "sqerr",  "inputs": {"f": B×D, "y": B×D}, "grad_out": NUMBER}
//! {"id": 4, "op": "mlp",    "inputs": {"x", "y", "W1", "b1", "W2", "b2", "W3", "b3"}}
//! ```
//! Answers are `{"id": N, "grads": {...}}` keyed by input name, or `{"id": N, "error": TEXT}`.
//! A matrix is a list of rows, a vector a list of numbers, an image batch lists nested four
//! deep, a scalar (a loss's `grad_out`, the mlp's optional `loss`) a number.
//!
//! This module only converts the catalogue's generic [`Request`] and [`Answer`] to and from
//! JSON, guided by each op's [`OpSpec`](crate::catalogue::OpSpec): it knows no op by name, and
//! the ops it reads are the ones it is given. [`lines`] is the framing: bounded, lossy lines.

pub mod lines;

use serde_json::{Map, Value};

use crate::catalogue::{Answer, GradOut, InputKind, OpKind, Request};
use crate::error::{Error, Result};
use crate::json;

/// The error text for an op the program has not written.
pub const UNSUPPORTED: &str = "unsupported op";

/// The `grads` object of a response.
pub fn answer_to_json(answer: &Answer) -> Value {
    let object: Map<String, Value> = (answer.grads.iter())
        .map(|(name, g)| (name.clone(), json::from_array(g.view(), false)))
        .collect();
    Value::Object(object)
}

/// Reads a `grads` object for `request`: every gradient its op's answers carry, each with the
/// rank of its input; the optional ones (the network's `x` and `loss`) when present. A missing
/// key, a non-number or a ragged matrix is an error naming the key.
pub fn answer_from_json(grads: &Value, request: &Request) -> Result<Answer> {
    let object = grads.as_object().ok_or_else(|| Error::Json {
        context: "grads".into(),
        message: format!("expected an object, got {}", json::kind(grads)),
    })?;
    let mut answer = Answer::default();
    for (name, rank, required) in request.kind().spec().answer_keys() {
        let Some(value) = object.get(name) else {
            if !required {
                continue;
            }
            return Err(Error::MissingKey {
                context: "grads".into(),
                key: name.to_owned(),
            });
        };
        let parsed = json::array(value, rank, &format!("grads.{name}"))?;
        answer.grads.push((name.to_owned(), parsed));
    }
    Ok(answer)
}

/// How many numbers an answer to `request` holds at most (every gradient and extra it may carry),
/// to bound the length of its line.
pub fn answer_numbers(request: &Request) -> usize {
    let spec = request.kind().spec();
    let keys = spec.answer_keys();
    let lengths = (spec.inputs.iter().zip(request.inputs()))
        .filter(|(i, _)| keys.iter().any(|(k, ..)| *k == i.name))
        .map(|(_, a)| a.len() + 1);
    lengths.sum::<usize>() + 2 * spec.extras.len()
}

/// The request line sent to a program, with `id`.
pub fn request_to_json(request: &Request, id: u64) -> Value {
    let spec = request.kind().spec();
    let mut line = Map::new();
    line.insert("id".into(), id.into());
    line.insert("op".into(), spec.name.into());
    let inputs: Map<String, Value> = (spec.inputs.iter().zip(request.inputs()))
        .map(|(i, a)| {
            (
                i.name.to_owned(),
                json::from_array(a.view(), i.kind == InputKind::Index),
            )
        })
        .collect();
    line.insert("inputs".into(), Value::Object(inputs));
    if !spec.attrs.is_empty() {
        let attrs: Map<String, Value> = (spec.attrs.iter().zip(request.attrs()))
            .map(|(a, &v)| {
                (
                    a.name.to_owned(),
                    json::from_array(ndarray::arr0(v).into_dyn().view(), a.integer),
                )
            })
            .collect();
        line.insert("attrs".into(), Value::Object(attrs));
    }
    if let Some(g) = request.grad_out() {
        line.insert("grad_out".into(), json::from_array(g, false));
    }
    Value::Object(line)
}

/// A parse failure, with the request's id when it could be read (else `null`).
#[derive(Debug, Clone, PartialEq)]
pub struct BadRequest {
    /// The request's `id`, or `null`.
    pub id: Value,
    /// What was wrong.
    pub message: String,
    /// True when the request is well formed but names an op not among those served.
    pub unsupported: bool,
}

/// Parses one request line, for one of the ops `ops`, into its id and payload.
pub fn parse_request(line: &str, ops: &[OpKind]) -> std::result::Result<(Value, Request), BadRequest> {
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
    let Some(&kind) = ops.iter().find(|k| k.name() == op) else {
        let names: Vec<&str> = ops.iter().map(|k| k.name()).collect();
        return Err(BadRequest {
            id: id.clone(),
            message: format!("{UNSUPPORTED} `{op}` (the protocol has {})", names.join(", ")),
            unsupported: true,
        });
    };
    request_payload(kind, object)
        .map(|r| (id.clone(), r))
        .map_err(fail)
}

/// The request's payload, read as its op's spec says.
fn request_payload(kind: OpKind, object: &Map<String, Value>) -> Result<Request> {
    let spec = kind.spec();
    let inputs = json::field(object, "inputs", "request")?;
    let inputs = inputs.as_object().ok_or_else(|| Error::Json {
        context: "request".into(),
        message: format!("`inputs` must be an object, got {}", json::kind(inputs)),
    })?;
    let arrays = (spec.inputs.iter())
        .map(|i| {
            let value = json::field(inputs, i.name, "inputs")?;
            json::array(value, i.shape.len(), &format!("inputs.{}", i.name))
        })
        .collect::<Result<Vec<_>>>()?;
    let grad_out = match spec.grad_out {
        GradOut::None => None,
        GradOut::Scalar => Some(json::array(
            json::field(object, "grad_out", "request")?,
            0,
            "grad_out",
        )?),
        GradOut::Array(letters) => {
            let value = json::field(object, "grad_out", "request")?;
            Some(json::array(value, letters.len(), "grad_out")?)
        }
    };
    Ok(Request::new(kind, arrays, attributes(kind, object)?, grad_out))
}

/// The request's `attrs`, each its spec's default where left out.
fn attributes(kind: OpKind, object: &Map<String, Value>) -> Result<Vec<f64>> {
    let spec = kind.spec();
    let given = match object.get("attrs") {
        None | Some(Value::Null) => None,
        Some(Value::Object(attrs)) => Some(attrs),
        Some(other) => {
            return Err(Error::Json {
                context: "request".into(),
                message: format!("`attrs` must be an object, got {}", json::kind(other)),
            });
        }
    };
    (spec.attrs.iter())
        .map(|a| {
            let what = format!("attrs.{}", a.name);
            let value = match (given.and_then(|g| g.get(a.name)), a.default) {
                (Some(v), _) => json::number(v, &what)?,
                (None, Some(default)) => default,
                (None, None) => {
                    return Err(Error::MissingKey {
                        context: "attrs".into(),
                        key: a.name.to_owned(),
                    });
                }
            };
            if a.integer && value.fract() != 0.0 {
                return Err(Error::Json {
                    context: what,
                    message: format!("expected an integer, got {value}"),
                });
            }
            Ok(value)
        })
        .collect()
}
