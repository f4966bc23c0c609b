//! An op a program brings, checked by [`OpCheck`]'s whole machinery over the wire: the
//! program's forward (asked for a whole round of finite-difference steps per request: as compact
//! steps from the case's point where the program answers `forward_steps` at a probe, else as
//! whole points) is the oracle of its backward, with the spec's domains, `grad: false` inputs left out, the batch
//! axis shrunk, and every diagnosis of a custom op. An op the program answers `unsupported op`
//! for is not implemented, as a built-in op is. With a reference program (an instructor's
//! solution) the oracle is its answers to the same requests instead of finite differences. At
//! [`Order::Second`] the program's `second_backward` (the backward's derivative along a
//! direction) is checked too, against finite differences of its backward.

use std::cell::RefCell;

use ndarray::ArrayD;

use super::spec::ProgramOp;
use super::wire::{self, Exchange};
use crate::verify::custom::{Domain, OpCheck, Step, StepDifference};
use crate::verify::{Config, Fault, Report};

/// Which derivatives of the program are checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Order {
    /// The backward, against finite differences of the forward.
    #[default]
    First,
    /// The backward, and `second_backward` against finite differences of the backward.
    Second,
}

/// `program`'s backward of `op` (and at [`Order::Second`] its `second_backward`), checked
/// against finite differences of its own forward over `config`'s cases; `label` names the
/// program in the report.
pub fn check(
    op: &ProgramOp,
    program: &mut dyn Exchange,
    label: &str,
    config: Config,
    order: Order,
) -> Report {
    check_with(op, program, None, label, config, order, false)
}

/// [`check`] in fast mode ([`OpCheck::fast`]), of the backward only: per case, one random
/// projection of each gradient against one directional finite difference of the forward,
/// instead of every element.
pub fn check_fast(op: &ProgramOp, program: &mut dyn Exchange, label: &str, config: Config) -> Report {
    check_with(op, program, None, label, config, Order::First, true)
}

/// `program`'s backward and forward of `op`, checked against a `reference` program's (an
/// instructor's solution, asked the same requests) as [`OpCheck::reference`] compares them.
/// Check the reference by [`check`] first: a wrong one fails right answers.
pub fn against_reference(
    op: &ProgramOp,
    program: &mut dyn Exchange,
    reference: &mut dyn Exchange,
    label: &str,
    config: Config,
    order: Order,
) -> Report {
    check_with(op, program, Some(reference), label, config, order, false)
}

fn check_with(
    op: &ProgramOp,
    program: &mut dyn Exchange,
    reference: Option<&mut dyn Exchange>,
    label: &str,
    config: Config,
    order: Order,
    fast: bool,
) -> Report {
    let shapes = op.shapes();
    let point = probe(op, &shapes);
    let probed = wire::forward(program, op, std::slice::from_ref(&point));
    if let Err(Fault::Unsupported) = probed {
        return Report {
            implemented: false,
            ..Report::new(label, &op.name, 0)
        };
    }
    let compact = (probed.ok().and_then(|mut outs| outs.pop()).filter(|_| !fast))
        .map(|outputs| answers_steps(program, op, &point, &outputs));
    let program = RefCell::new(program);
    let reference = reference.map(RefCell::new);
    let shape_refs: Vec<&[usize]> = shapes.iter().map(Vec::as_slice).collect();
    let forward = |x: &[ArrayD<f64>]| {
        let mut outs = wire::forward(*program.borrow_mut(), op, &[x.to_vec()])?;
        Ok(outs.pop().unwrap_or_default())
    };
    let backward = |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| wire::backward(*program.borrow_mut(), op, x, v);
    let mut check = OpCheck::try_multi(&op.name, &shape_refs, forward, backward)
        .forward_batch(|points: &[Vec<ArrayD<f64>>]| wire::forward(*program.borrow_mut(), op, points))
        .names(&op.inputs_names())
        .config(config);
    match compact {
        Some(Ok(true)) => {
            check = check.forward_steps(|base: &[ArrayD<f64>], v: &[ArrayD<f64>], steps: &[Step]| {
                wire::forward_steps(*program.borrow_mut(), op, base, v, steps)
            });
        }
        Some(Err(fault)) => {
            check = check
                .forward_steps(move |_: &[ArrayD<f64>], _: &[ArrayD<f64>], _: &[Step]| Err(fault.clone()))
        }
        Some(Ok(false)) | None => {}
    }
    if fast {
        check = check.fast();
    }
    if let Some(reference) = &reference {
        check = check.reference(
            |x: &[ArrayD<f64>]| {
                let mut outs = wire::forward(*reference.borrow_mut(), op, &[x.to_vec()])?;
                Ok(outs.pop().unwrap_or_default())
            },
            |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| wire::backward(*reference.borrow_mut(), op, x, v),
        );
    }
    if order == Order::Second {
        check = check.try_second_order(|x: &[ArrayD<f64>], v: &[ArrayD<f64>], d: &[ArrayD<f64>]| {
            wire::second_backward(*program.borrow_mut(), op, x, v, d)
        });
    }
    for (k, input) in op.inputs.iter().enumerate() {
        if let Ok(domain) = input.domain() {
            check = check.domain(k, domain);
        }
        if !input.grad {
            check = check.no_grad(k);
        }
    }
    for (k, axis) in op.batch_axes() {
        check = check.shrinkable(k, axis);
    }
    Report {
        subject: label.to_owned(),
        ..check.run()
    }
}

/// Why `program` cannot answer `second_backward` for `op`, if it cannot (`unsupported op`, an
/// error, a fault), asked once at a point inside every domain; `None` too where it has no
/// forward of `op` at all, which [`check`] reports.
pub fn second_order_missing(op: &ProgramOp, program: &mut dyn Exchange) -> Option<Fault> {
    let point = probe(op, &op.shapes());
    let mut outputs = wire::forward(program, op, std::slice::from_ref(&point)).ok()?;
    let cotangents: Vec<ArrayD<f64>> = (outputs.pop().unwrap_or_default().iter())
        .map(|y| ArrayD::ones(y.raw_dim()))
        .collect();
    let directions: Vec<ArrayD<f64>> = point.iter().map(|x| ArrayD::ones(x.raw_dim())).collect();
    wire::second_backward(program, op, &point, &cotangents, &directions).err()
}

/// A point inside every input's domain, to ask whether the program has the op at all.
fn probe(op: &ProgramOp, shapes: &[Vec<usize>]) -> Vec<ArrayD<f64>> {
    (op.inputs.iter().zip(shapes))
        .map(|(input, shape)| {
            let value = match input.domain() {
                Ok(Domain::Interval(a, b)) => (a + b) / 2.0,
                Ok(Domain::Positive | Domain::OneHot) => 1.0,
                Ok(Domain::Labels(_)) => 0.0,
                _ => 0.5,
            };
            ArrayD::from_elem(shape.as_slice(), value)
        })
        .collect()
}

/// The largest difference between a probe step's `forward_steps` answer and the same step from
/// two whole forwards, relative to the step's magnitude: a program printing fewer than 17
/// digits (down to 7) still agrees.
const STEPS_AGREE: f64 = 1e-6;

/// Whether the program answers `forward_steps` (the opt-in of compact steps), asked one step at
/// the probe `point` (where the forward gave `outputs`) with cotangents of ones: `false` where it
/// answers `error`; where it answers, the difference must agree with the one its forward's
/// outputs give at the same two points, or it is a fault (of every case), as any other fault
/// of the probe is.
fn answers_steps(
    program: &mut dyn Exchange,
    op: &ProgramOp,
    point: &[ArrayD<f64>],
    outputs: &[ArrayD<f64>],
) -> Result<bool, Fault> {
    let cotangents: Vec<ArrayD<f64>> = outputs.iter().map(|o| ArrayD::ones(o.raw_dim())).collect();
    let Some(k) = op.inputs.iter().position(|input| input.grad) else {
        return Ok(false);
    };
    let theta = point[k].iter().next().copied().unwrap_or_default();
    let h = match op.inputs[k].domain() {
        Ok(Domain::Interval(a, b)) => PROBE_STEP.min((b - a) / 4.0),
        _ => PROBE_STEP,
    };
    let step = Step {
        input: k,
        flat: 0,
        plus: theta + h,
        minus: theta - h,
    };
    let probe_fault = |fault: Fault| Fault::Failed(format!("forward_steps, at its probe: {fault}"));
    let Some(answered) =
        wire::answers_steps(program, op, point, &cotangents, &[step]).map_err(probe_fault)?
    else {
        return Ok(false);
    };
    let moved = [
        StepDifference::moved(point, &step, step.plus),
        StepDifference::moved(point, &step, step.minus),
    ];
    let whole = wire::forward(program, op, &moved).map_err(probe_fault)?;
    let expected = StepDifference::between(&whole[0], &whole[1], &cotangents);
    let got = answered[0];
    if (got.difference - expected.difference).abs() > STEPS_AGREE * expected.magnitude {
        return Err(Fault::Protocol(format!(
            "forward_steps answered the difference {} for {}[0] moved to {} and {}, where the forward's outputs there give {}: it must be the forward's (docs/protocol-program-ops.md)",
            got.difference, op.inputs[k].name, step.plus, step.minus, expected.difference
        )));
    }
    Ok(true)
}

/// The probe step of [`answers_steps`], inside every domain's probe point's room.
const PROBE_STEP: f64 = 1e-3;

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::verify::program_ops::SpecFile;

    /// softplus over the wire, in-process: its `forward_steps` answered with an error (`None`),
    /// or off by `Some(wrong_by)`.
    struct Softplus {
        steps: Option<f64>,
    }

    fn softplus(x: &Value) -> Value {
        let row = |r: &Value| -> Value {
            r.as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap().exp().ln_1p())
                .collect()
        };
        x.as_array().unwrap().iter().map(row).collect()
    }

    fn sigmoid_times(x: &Value, g: &Value) -> Value {
        let pairs = |(a, b): (&Value, &Value)| {
            let a = a.as_f64().unwrap();
            json!(b.as_f64().unwrap() / (1.0 + (-a).exp()))
        };
        (x.as_array().unwrap().iter().zip(g.as_array().unwrap()))
            .map(|(r, s)| {
                r.as_array()
                    .unwrap()
                    .iter()
                    .zip(s.as_array().unwrap())
                    .map(pairs)
                    .collect::<Value>()
            })
            .collect()
    }

    impl Exchange for Softplus {
        fn exchange(&mut self, request: Value) -> Result<Value, Fault> {
            Ok(match request["call"].as_str() {
                Some("forward") => {
                    let outputs: Vec<Value> = (request["points"].as_array().unwrap().iter())
                        .map(|p| json!({"y": softplus(&p["x"])}))
                        .collect();
                    json!({"outputs": outputs})
                }
                Some("backward") => {
                    json!({"grads": {"x": sigmoid_times(&request["inputs"]["x"], &request["cotangents"]["y"])}})
                }
                Some("forward_steps") => match self.steps {
                    None => json!({"error": "unknown call forward_steps"}),
                    Some(wrong_by) => steps_answer(&request, wrong_by),
                },
                _ => json!({"error": "unknown call"}),
            })
        }
    }

    /// softplus's `forward_steps` answer, each difference off by `wrong_by`: only the moved
    /// element's output changes.
    fn steps_answer(request: &Value, wrong_by: f64) -> Value {
        let flat_numbers = |value: &Value| -> Vec<f64> {
            let rows = value.as_array().unwrap().iter();
            rows.flat_map(|r| r.as_array().unwrap().iter().map(|v| v.as_f64().unwrap()))
                .collect()
        };
        let v = flat_numbers(&request["cotangents"]["y"]);
        let at = |value: &Value| value.as_f64().unwrap().exp().ln_1p();
        let differences: Vec<Value> = (request["steps"].as_array().unwrap().iter())
            .map(|s| {
                let (up, down, vj) = (at(&s[2]), at(&s[3]), v[s[1].as_u64().unwrap() as usize]);
                json!([vj * (up - down) + wrong_by, vj.abs() * (up.abs() + down.abs())])
            })
            .collect();
        json!({"differences": differences})
    }

    fn op() -> ProgramOp {
        let text = r#"{"protocol": "gradverify-ops/1", "ops": [{"name": "softplus", "dims": {"B": 2, "D": 3},
            "inputs": [{"name": "x", "shape": ["B", "D"]}], "outputs": ["y"]}]}"#;
        SpecFile::parse(text, "test").unwrap().ops.remove(0)
    }

    #[test]
    fn steps_answered_give_the_report_of_whole_points_and_steps_that_disagree_are_a_fault() {
        let config = Config::default().cases(3);
        let report = |steps| check(&op(), &mut Softplus { steps }, "softplus", config, Order::First);
        let whole = report(None);
        assert!(whole.passed(), "{whole}");
        assert_eq!(report(Some(0.0)), whole);
        let disagreeing = report(Some(1e-3)).to_string();
        assert!(
            disagreeing.contains("forward_steps answered the difference")
                && disagreeing.contains("it must be the forward's"),
            "{disagreeing}"
        );
    }
}
