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

pub mod lines;
pub mod serve;

use std::fmt;
use std::str::FromStr;

use ndarray::{Array1, Array2, ArrayD, Ix1, Ix2, arr0};
use serde_json::{Map, Value, json};

use crate::error::{Error, Result};
use crate::json;
use crate::mlp::{self, MlpParams};
use crate::ops::{linear, relu, sqerr};
use crate::tape::Wrt;

/// The error text for an op the program has not written.
pub const UNSUPPORTED: &str = "unsupported op";

/// The ops of protocol version 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OpKind {
    /// a = h W + b.
    Linear,
    /// h = max(a, 0).
    Relu,
    /// L = ½ Σ (f − y)².
    SqErr,
    /// The Eq. 33 network.
    Mlp,
}

impl OpKind {
    /// Every op, in the protocol's order.
    pub const ALL: [OpKind; 4] = [OpKind::Linear, OpKind::Relu, OpKind::SqErr, OpKind::Mlp];

    /// The op's name on the wire and in the notes.
    pub fn name(self) -> &'static str {
        match self {
            OpKind::Linear => "linear",
            OpKind::Relu => "relu",
            OpKind::SqErr => "sqerr",
            OpKind::Mlp => "mlp",
        }
    }
}

impl fmt::Display for OpKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for OpKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<OpKind> {
        OpKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Config {
                arg: "op".into(),
                value: s.into(),
                expected: "one of linear, relu, sqerr, mlp".into(),
            })
    }
}

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

impl Request {
    /// Which op this asks for.
    pub fn kind(&self) -> OpKind {
        match self {
            Request::Linear { .. } => OpKind::Linear,
            Request::Relu { .. } => OpKind::Relu,
            Request::SqErr { .. } => OpKind::SqErr,
            Request::Mlp { .. } => OpKind::Mlp,
        }
    }

    /// The batch size B (rows of the first input).
    pub fn batch(&self) -> usize {
        match self {
            Request::Linear { h, .. } => h.nrows(),
            Request::Relu { a, .. } => a.nrows(),
            Request::SqErr { f, .. } => f.nrows(),
            Request::Mlp { x, .. } => x.nrows(),
        }
    }

    /// The shape in the notes' letters, e.g. `B=2 Din=3 Dout=3`.
    pub fn shape(&self) -> String {
        match self {
            Request::Linear { h, w, .. } => format!("B={} Din={} Dout={}", h.nrows(), w.nrows(), w.ncols()),
            Request::Relu { a: m, .. } | Request::SqErr { f: m, .. } => {
                format!("B={} D={}", m.nrows(), m.ncols())
            }
            Request::Mlp { x, params, .. } => {
                let [d0, d1, d2, d3] = params.widths();
                format!("B={} D0={d0} D1={d1} D2={d2} D3={d3}", x.nrows())
            }
        }
    }

    /// The same request with the upstream gradient set to zero (the network has none: `None`).
    pub fn with_zero_upstream(&self) -> Option<Request> {
        let mut zeroed = self.clone();
        match &mut zeroed {
            Request::Linear { grad_out, .. } | Request::Relu { grad_out, .. } => grad_out.fill(0.0),
            Request::SqErr { grad_out, .. } => *grad_out = 0.0,
            Request::Mlp { .. } => return None,
        }
        Some(zeroed)
    }

    /// The request line sent to a program, with `id`.
    pub fn to_json(&self, id: u64) -> Value {
        let m = |a: &Array2<f64>| json::from_matrix(a.view());
        let v = |a: &Array1<f64>| json::from_vector(a.view());
        match self {
            Request::Linear { h, w, b, grad_out } => json!({"id": id, "op": "linear",
                "inputs": {"h": m(h), "W": m(w), "b": v(b)}, "grad_out": m(grad_out)}),
            Request::Relu { a, grad_out } => {
                json!({"id": id, "op": "relu", "inputs": {"a": m(a)}, "grad_out": m(grad_out)})
            }
            Request::SqErr { f, y, grad_out } => json!({"id": id, "op": "sqerr",
                "inputs": {"f": m(f), "y": m(y)}, "grad_out": grad_out}),
            Request::Mlp { x, y, params } => json!({"id": id, "op": "mlp", "inputs": {
                "x": m(x), "y": m(y),
                "W1": m(&params.w1), "b1": v(&params.b1),
                "W2": m(&params.w2), "b2": v(&params.b2),
                "W3": m(&params.w3), "b3": v(&params.b3)}}),
        }
    }
}

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
                return Err(Error::Json {
                    context: "grads".into(),
                    message: format!("missing key `{name}`"),
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
        message: format!("{UNSUPPORTED} `{op}` (the protocol has linear, relu, sqerr, mlp)"),
        unsupported: true,
    })?;
    request_payload(kind, object)
        .map(|r| (id.clone(), r))
        .map_err(fail)
}

fn request_payload(kind: OpKind, object: &Map<String, Value>) -> Result<Request> {
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
    Ok(match kind {
        OpKind::Linear => Request::Linear {
            h: input_matrix("h")?,
            w: input_matrix("W")?,
            b: input_vector("b")?,
            grad_out: json::matrix(grad_out()?, "grad_out")?,
        },
        OpKind::Relu => Request::Relu {
            a: input_matrix("a")?,
            grad_out: json::matrix(grad_out()?, "grad_out")?,
        },
        OpKind::SqErr => Request::SqErr {
            f: input_matrix("f")?,
            y: input_matrix("y")?,
            grad_out: json::number(grad_out()?, "grad_out")?,
        },
        OpKind::Mlp => Request::Mlp {
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
    })
}

/// The reference answer, computed by this crate's backprop: for the network every parameter
/// gradient, dL/dx and the loss.
pub fn reference_answer(request: &Request) -> Result<Answer> {
    Ok(match request {
        Request::Linear { h, w, b, grad_out } => {
            let g = linear::backward(grad_out.view(), h.view(), w.view(), b.view())?;
            Answer::default()
                .with("h", g.h.into_dyn())
                .with("W", g.w.into_dyn())
                .with("b", g.b.into_dyn())
        }
        Request::Relu { a, grad_out } => Answer::default().with(
            "a",
            relu::backward(grad_out.view().into_dyn(), a.view().into_dyn())?,
        ),
        Request::SqErr { f, y, grad_out } => {
            let (df, dy) = sqerr::backward(*grad_out, f.view().into_dyn(), y.view().into_dyn())?;
            Answer::default().with("f", df).with("y", dy)
        }
        Request::Mlp { x, y, params } => {
            let g = mlp::loss_and_grads(params, x, y, Wrt::ParamsAndData)?;
            let dx = g.x.expect("internal: dL/dx was requested");
            Answer::default()
                .with("W1", g.w1.into_dyn())
                .with("b1", g.b1.into_dyn())
                .with("W2", g.w2.into_dyn())
                .with("b2", g.b2.into_dyn())
                .with("W3", g.w3.into_dyn())
                .with("b3", g.b3.into_dyn())
                .with("x", dx.into_dyn())
                .with("loss", arr0(g.loss).into_dyn())
        }
    })
}
