//! An op a program brings, checked by [`OpCheck`]'s whole machinery over the wire: the
//! program's forward (asked for a whole round of finite-difference steps per request) is the
//! oracle of its backward, with the spec's domains, `grad: false` inputs left out, the batch
//! axis shrunk, and every diagnosis of a custom op. An op the program answers `unsupported op`
//! for is not implemented, as a built-in op is. With a reference program (an instructor's
//! solution) the oracle is its answers to the same requests instead of finite differences.

use std::cell::RefCell;

use ndarray::ArrayD;

use super::spec::ProgramOp;
use super::wire::{self, Exchange};
use crate::verify::custom::{Domain, OpCheck};
use crate::verify::{Config, Fault, Report};

/// `program`'s backward of `op`, checked against finite differences of its own forward over
/// `config`'s cases; `label` names the program in the report.
pub fn check(op: &ProgramOp, program: &mut dyn Exchange, label: &str, config: Config) -> Report {
    check_with(op, program, None, label, config)
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
) -> Report {
    check_with(op, program, Some(reference), label, config)
}

fn check_with(
    op: &ProgramOp,
    program: &mut dyn Exchange,
    reference: Option<&mut dyn Exchange>,
    label: &str,
    config: Config,
) -> Report {
    let shapes = op.shapes();
    if let Err(Fault::Unsupported) = wire::forward(program, op, &[probe(op, &shapes)]) {
        return Report {
            implemented: false,
            ..Report::new(label, &op.name, 0)
        };
    }
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
    if let Some(reference) = &reference {
        check = check.reference(
            |x: &[ArrayD<f64>]| {
                let mut outs = wire::forward(*reference.borrow_mut(), op, &[x.to_vec()])?;
                Ok(outs.pop().unwrap_or_default())
            },
            |x: &[ArrayD<f64>], v: &[ArrayD<f64>]| wire::backward(*reference.borrow_mut(), op, x, v),
        );
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
