//! An op a program brings, checked by [`OpCheck`]'s whole machinery over the wire: the
//! program's forward (asked for a whole round of finite-difference steps per request) is the
//! oracle of its backward, with the spec's domains, `grad: false` inputs left out, the batch
//! axis shrunk, and every diagnosis of a custom op. An op the program answers `unsupported op`
//! for is not implemented, as a built-in op is. With a reference program (an instructor's
//! solution) the oracle is its answers to the same requests instead of finite differences. At
//! [`Order::Second`] the program's `second_backward` (the backward's derivative along a
//! direction) is checked too, against finite differences of its backward.

use std::cell::RefCell;

use ndarray::ArrayD;

use super::spec::ProgramOp;
use super::wire::{self, Exchange};
use crate::verify::custom::{Domain, OpCheck};
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
    check_with(op, program, None, label, config, order)
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
    check_with(op, program, Some(reference), label, config, order)
}

fn check_with(
    op: &ProgramOp,
    program: &mut dyn Exchange,
    reference: Option<&mut dyn Exchange>,
    label: &str,
    config: Config,
    order: Order,
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
