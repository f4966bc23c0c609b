//! The registry: every op the verifier knows, one line each, in the protocol's order (the
//! notes' four, then the course's eleven of `protocol-ops.md`), and the lookups over it: an op by
//! its kind or name, the list of names, the reference answer of a request.

use std::str::FromStr;
use std::sync::LazyLock;

use super::{
    VerifiedOp, batchnorm, conv2d, dropout, embedding, hinge, layernorm, linear, maxpool2d, mlp, relu,
    rnn_step, sigmoid, softmax_xent, sqerr, tanh,
};
use crate::catalogue::{Answer, OpKind, Request};
use crate::error::{Error, Result};

/// Every op the verifier knows, in the protocol's order: one line per op (the notes' four,
/// then the course's eleven of `protocol-ops.md`).
pub static REGISTRY: &[&dyn VerifiedOp] = &[
    &linear::LinearOp,
    &relu::ReluOp,
    &sqerr::SqErrOp,
    &mlp::MlpOp,
    &sigmoid::SIGMOID,
    &tanh::TANH,
    &dropout::DropoutOp,
    &softmax_xent::SoftmaxXentOp,
    &hinge::HingeOp,
    &batchnorm::BatchNormOp,
    &layernorm::LayerNormOp,
    &conv2d::Conv2dOp,
    &maxpool2d::MaxPool2dOp,
    &embedding::EmbeddingOp,
    &rnn_step::RnnStepOp,
];

/// Every op, in the registry's order.
pub fn all() -> &'static [OpKind] {
    static ALL: LazyLock<Vec<OpKind>> =
        LazyLock::new(|| REGISTRY.iter().map(|op| OpKind::of(op.spec())).collect());
    &ALL
}

/// The verifier's knowledge of the op `kind`.
pub fn op(kind: OpKind) -> &'static dyn VerifiedOp {
    *(REGISTRY.iter())
        .find(|op| op.spec().name == kind.name())
        .unwrap_or_else(|| panic!("internal: {kind} is not in the registry"))
}

/// The reference answer, computed by this crate's backprop: for the network every parameter
/// gradient, dL/dx and the loss.
pub fn reference_answer(request: &Request) -> Result<Answer> {
    op(request.kind()).reference_answer(request)
}

impl FromStr for OpKind {
    type Err = Error;
    fn from_str(s: &str) -> Result<OpKind> {
        all()
            .iter()
            .copied()
            .find(|k| k.name() == s)
            .ok_or_else(|| Error::Config {
                arg: "op".into(),
                value: s.into(),
                expected: format!("one of {}", names()),
            })
    }
}

/// The ops' names, comma-separated: `linear, relu, sqerr, mlp`.
pub fn names() -> String {
    let names: Vec<&str> = all().iter().map(|k| k.name()).collect();
    names.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{parse_request, request_to_json};
    use crate::random;

    #[test]
    fn every_op_draws_its_own_requests_and_reads_back_what_it_writes() {
        for &kind in all() {
            let op = op(kind);
            assert_eq!(op.spec().name.parse::<OpKind>().unwrap(), kind);
            let plan = op.planned_dims();
            assert!(plan.iter().all(|d| d.len() == plan[0].len()), "{kind}");
            for (index, dims) in plan.iter().enumerate() {
                let request = op.draw(dims, &mut random::case_rng(7, index as u64));
                assert_eq!(request.kind(), kind);
                assert_eq!(request.batch(), dims[0], "{kind}");
                let drawn: Vec<usize> = request.dims().iter().map(|&(_, n)| n).collect();
                assert_eq!(
                    drawn, *dims,
                    "{kind}: the spec's letters read the planned dims back"
                );
                let line = request_to_json(&request, index as u64).to_string();
                let (_, read) = parse_request(&line, all()).unwrap();
                assert_eq!(read.kind(), kind, "{line}");
                assert_eq!(read.shape(), request.shape(), "{line}");
                let answer = op.reference_answer(&request).unwrap();
                let keys = kind.spec().answer_keys();
                assert!(
                    keys.iter().all(|(k, ..)| answer.get(k).is_some()),
                    "{kind}: every key an answer may carry is one of the reference's"
                );
                assert_eq!(read, request, "{kind}: read back as written");
            }
        }
    }

    #[test]
    fn an_unknown_op_names_the_ones_there_are() {
        let err = "no_such_op".parse::<OpKind>().unwrap_err().to_string();
        assert!(err.contains("one of linear, relu, sqerr, mlp"), "{err}");
    }
}
