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

pub mod serve;

use ndarray::{Array1, Array2};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::json;
use crate::mlp::{self, MlpParams};
use crate::ops::{linear, relu, sqerr};
use crate::tape::Wrt;

/// The error text for an op the program has not written.
pub const UNSUPPORTED: &str = "unsupported op";

/// The ops of protocol version 1.
pub const OPS: [&str; 4] = ["linear", "relu", "sqerr", "mlp"];

/// One request's payload.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    /// a = h W + b, with dL/da.
    Linear {
        h: Array2<f64>,
        w: Array2<f64>,
        b: Array1<f64>,
        grad_out: Array2<f64>,
    },
    /// h = relu(a), with dL/dh.
    Relu { a: Array2<f64>, grad_out: Array2<f64> },
    /// L = ½ Σ (f − y)², with the scalar dL/dL.
    SqErr {
        f: Array2<f64>,
        y: Array2<f64>,
        grad_out: f64,
    },
    /// The Eq. 33 network on data x, targets y.
    Mlp {
        x: Array2<f64>,
        y: Array2<f64>,
        params: Box<MlpParams>,
    },
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
    match object.get("op").and_then(Value::as_str) {
        Some(op) if !OPS.contains(&op) => Err(BadRequest {
            id,
            message: format!("{UNSUPPORTED} `{op}` (the protocol has {})", OPS.join(", ")),
            unsupported: true,
        }),
        _ => request_payload(object).map(|r| (id.clone(), r)).map_err(fail),
    }
}

fn request_payload(object: &Map<String, Value>) -> Result<Request> {
    let op = json::field(object, "op", "request")?;
    let op = op.as_str().ok_or_else(|| Error::Json {
        context: "request".into(),
        message: format!("`op` must be a string, got {}", json::kind(op)),
    })?;
    let inputs = json::field(object, "inputs", "request")?;
    let inputs = inputs.as_object().ok_or_else(|| Error::Json {
        context: "request".into(),
        message: format!("`inputs` must be an object, got {}", json::kind(inputs)),
    })?;
    let input_matrix =
        |key: &str| json::matrix(json::field(inputs, key, "inputs")?, &format!("inputs.{key}"));
    let input_vector =
        |key: &str| json::vector(json::field(inputs, key, "inputs")?, &format!("inputs.{key}"));
    let grad_out = || json::field(object, "grad_out", "request");
    Ok(match op {
        "linear" => Request::Linear {
            h: input_matrix("h")?,
            w: input_matrix("W")?,
            b: input_vector("b")?,
            grad_out: json::matrix(grad_out()?, "grad_out")?,
        },
        "relu" => Request::Relu {
            a: input_matrix("a")?,
            grad_out: json::matrix(grad_out()?, "grad_out")?,
        },
        "sqerr" => Request::SqErr {
            f: input_matrix("f")?,
            y: input_matrix("y")?,
            grad_out: json::number(grad_out()?, "grad_out")?,
        },
        "mlp" => Request::Mlp {
            x: input_matrix("x")?,
            y: input_matrix("y")?,
            params: Box::new(MlpParams {
                w1: input_matrix("W1")?,
                b1: input_vector("b1")?,
                w2: input_matrix("W2")?,
                b2: input_vector("b2")?,
                w3: input_matrix("W3")?,
                b3: input_vector("b3")?,
            }),
        },
        other => unreachable!("internal: op `{other}` was checked against OPS"),
    })
}

/// The reference answer's `grads` object, computed by this crate's backprop.
pub fn reference_grads(request: &Request) -> Result<Value> {
    Ok(match request {
        Request::Linear { h, w, b, grad_out } => {
            let g = linear::backward(grad_out.view(), h.view(), w.view(), b.view())?;
            json!({"h": json::from_matrix(g.h.view()), "W": json::from_matrix(g.w.view()), "b": json::from_vector(g.b.view())})
        }
        Request::Relu { a, grad_out } => {
            let g = relu::backward(grad_out.view().into_dyn(), a.view().into_dyn())?;
            let g = g.into_dimensionality().expect("internal: relu keeps the shape");
            json!({"a": json::from_matrix(g.view())})
        }
        Request::SqErr { f, y, grad_out } => {
            let (df, dy) = sqerr::backward(*grad_out, f.view().into_dyn(), y.view().into_dyn())?;
            let as_matrix = |g: ndarray::ArrayD<f64>| -> Array2<f64> {
                g.into_dimensionality().expect("internal: sqerr keeps the shape")
            };
            json!({"f": json::from_matrix(as_matrix(df).view()), "y": json::from_matrix(as_matrix(dy).view())})
        }
        Request::Mlp { x, y, params } => {
            let g = mlp::loss_and_grads(params, x, y, Wrt::ParamsAndData)?;
            let dx = g.x.expect("internal: dL/dx was requested");
            json!({
                "W1": json::from_matrix(g.w1.view()), "b1": json::from_vector(g.b1.view()),
                "W2": json::from_matrix(g.w2.view()), "b2": json::from_vector(g.b2.view()),
                "W3": json::from_matrix(g.w3.view()), "b3": json::from_vector(g.b3.view()),
                "x": json::from_matrix(dx.view()), "loss": g.loss,
            })
        }
    })
}
