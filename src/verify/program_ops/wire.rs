//! The requests of `docs/protocol-program-ops.md` for an op a program brings, and the reading of their
//! answers: `forward` at a batch of points (one request for a whole round of finite-difference
//! steps), `forward_steps` (the same round as steps from one point, each answered with the
//! term-wise difference `Σ vⱼ (f(plus)ⱼ − f(minus)ⱼ)` and its magnitude `Σ |vⱼ| (|f(plus)ⱼ| +
//! |f(minus)ⱼ|)` over the terms that changed), `backward` at one point with one cotangent per
//! output, `second_backward` (the backward's derivative along one direction per differentiated
//! input, for `--order 2`) and `describe` (the program's own spec).
//!
//! ```text
//! → {"id": 7, "call": "forward", "op": "softplus", "points": [{"x": [[…]]}, …], "attrs": {}}
//! ← {"id": 7, "outputs": [{"y": [[…]]}, …]}
//! → {"id": 11, "call": "forward_steps", "op": "softplus", "inputs": {"x": …}, "cotangents": {"y": …},
//!    "steps": [["x", 17, 0.3003, 0.2997], …], "attrs": {}}
//! ← {"id": 11, "differences": [[1.4e-4, 2.6], …]}
//! → {"id": 8, "call": "backward", "op": "softplus", "inputs": {"x": …}, "cotangents": {"y": …}, "attrs": {}}
//! ← {"id": 8, "grads": {"x": [[…]]}}
//! → {"id": 9, "call": "second_backward", "op": "softplus", "inputs": {"x": …}, "cotangents": {"y": …}, "directions": {"x": …}, "attrs": {}}
//! ← {"id": 9, "grads": {"x": [[…]]}}
//! → {"id": 10, "call": "describe"}
//! ← {"id": 10, "protocol": "gradverify-ops/1", "ops": [{"name": "softplus", …}]}
//! ```
//!
//! The transport ([`Exchange`]) numbers the requests, sends them and returns the answer with the
//! same id; this module writes the requests and reads the answers, each fault said as it is: the
//! program's `error` (`unsupported op` is not implemented), a missing key, a count or a rank
//! that is not the spec's.

use ndarray::ArrayD;
use serde_json::{Map, Value, json};

use super::spec::ProgramOp;
use crate::json;
use crate::verify::Fault;
use crate::verify::custom::{Step, StepDifference};

/// What a program answers `error` with for an op it has not written.
pub const UNSUPPORTED: &str = "unsupported op";

/// How a fault from the program's own `error` answer begins.
const ANSWERED_ERROR: &str = "the program answered with an error: ";

/// A program that answers requests: `request` (an object without its id) is sent and the
/// object answered to it returned, or the fault that kept it from answering.
pub trait Exchange {
    /// One request, one answer.
    fn exchange(&mut self, request: Value) -> Result<Value, Fault>;
}

/// The op's outputs at each of `points`.
pub fn forward(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    points: &[Vec<ArrayD<f64>>],
) -> Result<Vec<Vec<ArrayD<f64>>>, Fault> {
    let points: Vec<Value> = points.iter().map(|p| named(&op.inputs_names(), p)).collect();
    let count = points.len();
    let answer = program.exchange(json!({
        "call": "forward",
        "op": op.name,
        "points": points,
        "attrs": op.attrs,
    }))?;
    let outputs = field(&answer, "outputs")?
        .as_array()
        .ok_or_else(|| protocol("`outputs` is not a list (one object of outputs per point)"))?;
    if outputs.len() != count {
        return Err(protocol(&format!(
            "`outputs` has {} entries for {count} points",
            outputs.len()
        )));
    }
    outputs
        .iter()
        .enumerate()
        .map(|(p, out)| {
            (op.outputs.iter())
                .map(|name| {
                    let value = out.get(name).ok_or_else(|| Fault::MissingKey {
                        key: format!("outputs[{p}].{name}"),
                    })?;
                    any_rank(value, &format!("outputs[{p}].{name}"))
                })
                .collect()
        })
        .collect()
}

/// The gradient of each differentiated input (zeros for the others, which are not compared).
pub fn backward(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    inputs: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
) -> Result<Vec<ArrayD<f64>>, Fault> {
    let outputs: Vec<&str> = op.outputs.iter().map(String::as_str).collect();
    let answer = program.exchange(json!({
        "call": "backward",
        "op": op.name,
        "inputs": named(&op.inputs_names(), inputs),
        "cotangents": named(&outputs, cotangents),
        "attrs": op.attrs,
    }))?;
    read_grads(op, inputs, &answer)
}

/// `grads` of `answer`: the gradient of each differentiated input, shaped as it is (zeros for
/// the others, which are not compared).
fn read_grads(op: &ProgramOp, inputs: &[ArrayD<f64>], answer: &Value) -> Result<Vec<ArrayD<f64>>, Fault> {
    let grads = field(answer, "grads")?;
    (op.inputs.iter().zip(inputs))
        .map(|(spec, input)| {
            if !spec.grad {
                return Ok(ArrayD::zeros(input.raw_dim()));
            }
            let value = grads.get(&spec.name).ok_or_else(|| Fault::MissingKey {
                key: spec.name.clone(),
            })?;
            json::array(value, input.ndim(), &format!("grads.{}", spec.name))
                .map_err(|e| protocol(&format!("the answer's {e}")))
        })
        .collect()
}

/// The term-wise difference of the op's outputs for each of `steps` from `base`, under
/// `cotangents` (one per output): a `forward_steps` request, the base point and the cotangents
/// sent once and each step as `[input name, flat index, plus, minus]`, answered with one `[difference,
/// magnitude]` per step.
pub fn forward_steps(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    base: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
    steps: &[Step],
) -> Result<Vec<StepDifference>, Fault> {
    let names = op.inputs_names();
    let outputs: Vec<&str> = op.outputs.iter().map(String::as_str).collect();
    let steps_json: Vec<Value> = (steps.iter())
        .map(|s| json!([names.get(s.input), s.flat, s.plus, s.minus]))
        .collect();
    let answer = program.exchange(json!({
        "call": "forward_steps",
        "op": op.name,
        "inputs": named(&names, base),
        "cotangents": named(&outputs, cotangents),
        "steps": steps_json,
        "attrs": op.attrs,
    }))?;
    let differences = field(&answer, "differences")?
        .as_array()
        .ok_or_else(|| protocol("`differences` is not a list (one [difference, magnitude] per step)"))?;
    if differences.len() != steps.len() {
        return Err(protocol(&format!(
            "`differences` has {} entries for {} steps",
            differences.len(),
            steps.len()
        )));
    }
    (differences.iter().enumerate())
        .map(|(s, pair)| {
            let what = format!("differences[{s}]");
            let not_a_pair = || protocol(&format!("`{what}` is {pair}, not [difference, magnitude]"));
            let [d, m] = pair.as_array().map(Vec::as_slice).ok_or_else(not_a_pair)? else {
                return Err(not_a_pair());
            };
            let read = |v: &Value| json::number(v, &what).map_err(|e| protocol(&format!("the answer's {e}")));
            Ok(StepDifference {
                difference: read(d)?,
                magnitude: read(m)?,
            })
        })
        .collect()
}

/// Whether the program answers `forward_steps`: `false` when it answers the request with an
/// `error` (a program that has not written it), its differences when it answers them, and
/// every other fault as it is.
pub fn answers_steps(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    base: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
    steps: &[Step],
) -> Result<Option<Vec<StepDifference>>, Fault> {
    match forward_steps(program, op, base, cotangents, steps) {
        Ok(differences) => Ok(Some(differences)),
        Err(Fault::Unsupported) => Ok(None),
        Err(Fault::Protocol(message)) if message.starts_with(ANSWERED_ERROR) => Ok(None),
        Err(fault) => Err(fault),
    }
}

/// The program's own specs (its answer to `describe`), as JSON to parse as a spec file.
/// `d/dt VJP(x + t·d, v)` at t = 0 for each differentiated input (zeros for the others), asked
/// at `inputs` with one cotangent per output and one direction per input (those of inputs with
/// `grad: false` are not sent).
pub fn second_backward(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    inputs: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
    directions: &[ArrayD<f64>],
) -> Result<Vec<ArrayD<f64>>, Fault> {
    let outputs: Vec<&str> = op.outputs.iter().map(String::as_str).collect();
    let (moved, along): (Vec<&str>, Vec<ArrayD<f64>>) = (op.inputs.iter().zip(directions))
        .filter(|(spec, _)| spec.grad)
        .map(|(spec, d)| (spec.name.as_str(), d.clone()))
        .unzip();
    let answer = program.exchange(json!({
        "call": "second_backward",
        "op": op.name,
        "inputs": named(&op.inputs_names(), inputs),
        "cotangents": named(&outputs, cotangents),
        "directions": named(&moved, &along),
        "attrs": op.attrs,
    }))?;
    read_grads(op, inputs, &answer)
}

/// The program's own spec: its answer to `describe` without the id, a spec file's object to
/// read with [`SpecFile::from_value`](super::SpecFile::from_value); an `error` answered is the
/// fault it is.
pub fn describe(program: &mut dyn Exchange) -> Result<Value, Fault> {
    let mut answer = program.exchange(json!({"call": "describe"}))?;
    field(&answer, "ops")?;
    if let Some(fields) = answer.as_object_mut() {
        fields.remove("id");
    }
    Ok(answer)
}

/// `arrays` as an object keyed by `names`.
fn named(names: &[&str], arrays: &[ArrayD<f64>]) -> Value {
    let map: Map<String, Value> = (names.iter().zip(arrays))
        .map(|(name, a)| ((*name).to_owned(), json::from_array(a.view(), false)))
        .collect();
    Value::Object(map)
}

/// `key` of the answer, or its `error` as the fault it is.
fn field<'a>(answer: &'a Value, key: &str) -> Result<&'a Value, Fault> {
    if let Some(error) = answer.get("error") {
        return Err(match error.as_str() {
            Some(UNSUPPORTED) => Fault::Unsupported,
            Some(text) => protocol(&format!("{ANSWERED_ERROR}{text}")),
            None => protocol(&format!("{ANSWERED_ERROR}{error}")),
        });
    }
    answer
        .get(key)
        .ok_or_else(|| protocol(&format!("the answer has neither `{key}` nor `error`")))
}

/// An array whose rank is how deep its lists nest (an output's rank is not in the spec).
fn any_rank(value: &Value, what: &str) -> Result<ArrayD<f64>, Fault> {
    let mut rank = 0;
    let mut inner = value;
    while let Some(first) = inner.as_array().and_then(|items| items.first()) {
        rank += 1;
        inner = first;
    }
    if inner.is_array() {
        rank += 1;
    }
    json::array(value, rank, what).map_err(|e| protocol(&format!("the answer's {e}")))
}

fn protocol(message: &str) -> Fault {
    Fault::Protocol(message.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::program_ops::SpecFile;

    /// A program answering from a closure, keeping the requests.
    struct Scripted<F: FnMut(&Value) -> Value> {
        answer: F,
        requests: Vec<Value>,
    }

    impl<F: FnMut(&Value) -> Value> Exchange for Scripted<F> {
        fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
            let answer = (self.answer)(&request);
            self.requests.push(request);
            Ok(answer)
        }
    }

    fn op() -> ProgramOp {
        let text = r#"{"protocol": "gradverify-ops/1", "ops": [{"name": "mul", "dims": {"B": 2},
            "inputs": [{"name": "x", "shape": ["B"]}, {"name": "k", "shape": [], "grad": false}],
            "outputs": ["y"], "attrs": {"mode": 1}}]}"#;
        SpecFile::parse(text, "test").unwrap().ops.remove(0)
    }

    #[test]
    fn a_batch_of_points_is_one_request_and_its_outputs_are_read_at_their_rank() {
        let mut program = Scripted {
            answer: |r: &Value| {
                let outputs: Vec<Value> = (r["points"].as_array().unwrap().iter())
                    .map(|p| json!({"y": [[p["k"].clone()]]}))
                    .collect();
                json!({"outputs": outputs})
            },
            requests: Vec::new(),
        };
        let point = |k: f64| vec![ndarray::arr1(&[1.0, 2.0]).into_dyn(), ndarray::arr0(k).into_dyn()];
        let outs = forward(&mut program, &op(), &[point(3.0), point(4.0)]).unwrap();
        assert_eq!(outs.len(), 2);
        assert_eq!(outs[1][0], ndarray::arr2(&[[4.0]]).into_dyn());
        assert_eq!(program.requests.len(), 1);
        assert_eq!(program.requests[0]["points"][0]["x"], json!([1.0, 2.0]));
        assert_eq!(program.requests[0]["attrs"], json!({"mode": 1}));
    }

    #[test]
    fn a_second_backward_sends_the_differentiated_directions_and_reads_their_grads() {
        let mut program = Scripted {
            answer: |r: &Value| json!({"grads": {"x": r["directions"]["x"].clone()}}),
            requests: Vec::new(),
        };
        let inputs = [
            ndarray::arr1(&[1.0, 2.0]).into_dyn(),
            ndarray::arr0(3.0).into_dyn(),
        ];
        let cotangents = [ndarray::arr1(&[1.0, 1.0]).into_dyn()];
        let directions = [
            ndarray::arr1(&[0.5, -0.5]).into_dyn(),
            ndarray::arr0(0.0).into_dyn(),
        ];
        let grads = second_backward(&mut program, &op(), &inputs, &cotangents, &directions).unwrap();
        assert_eq!(grads, [directions[0].clone(), ndarray::arr0(0.0).into_dyn()]);
        let request = &program.requests[0];
        assert_eq!(request["call"], "second_backward");
        assert_eq!(
            request["directions"],
            json!({"x": [0.5, -0.5]}),
            "k has grad: false"
        );
        assert_eq!(request["cotangents"], json!({"y": [1.0, 1.0]}));
    }

    #[test]
    fn a_describe_answer_is_the_spec_without_its_id_and_an_error_is_a_fault() {
        let describing = |answer: Value| {
            let mut program = Scripted {
                answer: move |_: &Value| answer.clone(),
                requests: Vec::new(),
            };
            describe(&mut program)
        };
        let spec = describing(json!({"id": 3, "protocol": "gradverify-ops/1", "ops": []})).unwrap();
        assert_eq!(spec, json!({"protocol": "gradverify-ops/1", "ops": []}));
        let refused = describing(json!({"id": 3, "error": "unknown call"})).unwrap_err();
        assert!(
            matches!(refused, Fault::Protocol(ref m) if m.contains("unknown call")),
            "{refused:?}"
        );
    }

    #[test]
    fn steps_carry_the_point_once_and_each_answer_is_a_difference_and_its_magnitude() {
        let mut program = Scripted {
            answer: |r: &Value| {
                let differences: Vec<Value> = (r["steps"].as_array().unwrap().iter())
                    .map(|s| json!([s[2].as_f64().unwrap() - s[3].as_f64().unwrap(), 2.0]))
                    .collect();
                json!({"differences": differences})
            },
            requests: Vec::new(),
        };
        let base = [
            ndarray::arr1(&[1.0, 2.0]).into_dyn(),
            ndarray::arr0(3.0).into_dyn(),
        ];
        let cotangents = [ndarray::arr1(&[0.5]).into_dyn()];
        let step = |flat, plus, minus| Step {
            input: 0,
            flat,
            plus,
            minus,
        };
        let steps = [step(0, 1.25, 0.75), step(1, 2.5, 1.5)];
        let answered = forward_steps(&mut program, &op(), &base, &cotangents, &steps).unwrap();
        let expected = |difference| StepDifference {
            difference,
            magnitude: 2.0,
        };
        assert_eq!(answered, [expected(0.5), expected(1.0)]);
        let request = &program.requests[0];
        assert_eq!(request["call"], "forward_steps");
        assert_eq!(request["inputs"], json!({"x": [1.0, 2.0], "k": 3.0}));
        assert_eq!(request["cotangents"], json!({"y": [0.5]}));
        assert_eq!(
            request["steps"],
            json!([["x", 0, 1.25, 0.75], ["x", 1, 2.5, 1.5]])
        );
        assert_eq!(request["attrs"], json!({"mode": 1}));

        let answering = |answer: Value| {
            let mut program = Scripted {
                answer: move |_: &Value| answer.clone(),
                requests: Vec::new(),
            };
            answers_steps(&mut program, &op(), &base, &cotangents, &steps)
        };
        assert_eq!(
            answering(json!({"error": "unknown call forward_steps"})),
            Ok(None)
        );
        let short = answering(json!({"differences": [[1.0, 2.0]]})).unwrap_err();
        assert!(
            matches!(short, Fault::Protocol(ref m) if m.contains("1 entries for 2 steps")),
            "{short:?}"
        );
        let scalar = answering(json!({"differences": [1.0, [1.0, 2.0]]})).unwrap_err();
        assert!(
            matches!(scalar, Fault::Protocol(ref m) if m.contains("`differences[0]` is 1.0")),
            "{scalar:?}"
        );
        let text = answering(json!({"differences": [[1.0, 2.0], ["a", 2.0]]})).unwrap_err();
        assert!(
            matches!(text, Fault::Protocol(ref m) if m.contains("differences[1]")),
            "{text:?}"
        );
    }

    #[test]
    fn a_backward_answer_is_read_per_differentiated_input_and_faults_are_named() {
        let inputs = [
            ndarray::arr1(&[1.0, 2.0]).into_dyn(),
            ndarray::arr0(3.0).into_dyn(),
        ];
        let cotangents = [ndarray::arr1(&[1.0, 1.0]).into_dyn()];
        let answering = |answer: Value| {
            let mut program = Scripted {
                answer: move |_: &Value| answer.clone(),
                requests: Vec::new(),
            };
            backward(&mut program, &op(), &inputs, &cotangents)
        };
        let grads = answering(json!({"grads": {"x": [3.0, 3.0]}})).unwrap();
        assert_eq!(grads[0], ndarray::arr1(&[3.0, 3.0]).into_dyn());
        assert_eq!(grads[1], ndarray::arr0(0.0).into_dyn(), "k is not differentiated");
        assert_eq!(
            answering(json!({"error": "unsupported op"})),
            Err(Fault::Unsupported)
        );
        assert_eq!(
            answering(json!({"grads": {}})),
            Err(Fault::MissingKey { key: "x".into() })
        );
        let ragged = answering(json!({"grads": {"x": [[1.0]]}})).unwrap_err();
        assert!(
            matches!(ragged, Fault::Protocol(ref m) if m.contains("grads.x")),
            "{ragged:?}"
        );
        let neither = answering(json!({"grad": {}})).unwrap_err();
        assert!(
            matches!(neither, Fault::Protocol(ref m) if m.contains("neither `grads`")),
            "{neither:?}"
        );
    }
}
