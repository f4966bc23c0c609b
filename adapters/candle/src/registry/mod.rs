//! OpInfo-style samples of candle-core's differentiable ops: per op, a few sample sets (shapes
//! that are not square, a batch of one, the op's edge attributes, an input used twice in one
//! graph), each drawn in the domain where the op is defined and smooth enough to check, and the
//! verdict the pinned candle is expected to get ([`Expect`]). One module per op family.
//!
//! Index tensors (for `index_select`, `gather`, …) and masks are constants of the sample, not
//! inputs: only f64 inputs are stepped.

mod activation;
mod binary;
mod conv;
mod index;
mod matmul;
mod pool;
mod reduce;
mod shape;
mod unary;

use candle_core::{Device, Tensor};

use crate::{Check, Outcome, check};

/// Random cases per sample set: small shapes, a handful of draws each.
pub const CASES: usize = 6;

/// What the pinned candle is expected to get on a sample.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expect {
    /// The gradient is right.
    Pass,
    /// candle cannot differentiate it (backward not supported, or no gradient recorded).
    Unsupported,
    /// A defect of candle's backward, by its id in `tests/defects.rs` and the README.
    Defect(&'static str),
}

impl Expect {
    /// Whether `outcome` is what was expected: a defect must FAIL, an unsupported op must be
    /// unsupported, and a right gradient must pass.
    pub fn matches(&self, outcome: &Outcome) -> bool {
        matches!(
            (self, outcome),
            (Expect::Pass, Outcome::Pass)
                | (Expect::Unsupported, Outcome::Unsupported(_))
                | (Expect::Defect(_), Outcome::Fail(_))
        )
    }
}

/// One sample set of one op.
pub struct Sample {
    /// candle's name of the op (`conv2d`, `sum_keepdim`).
    pub op: &'static str,
    /// What is special about it (`[2, 3] stride 2`).
    pub label: String,
    /// The verdict expected in the pinned candle.
    pub expect: Expect,
    /// The check, ready to run.
    pub check: Check<'static>,
}

impl Sample {
    /// Another option on the check.
    pub(crate) fn with(mut self, option: impl FnOnce(Check<'static>) -> Check<'static>) -> Sample {
        self.check = option(self.check);
        self
    }

    /// The verdict expected, when it is not a pass.
    pub(crate) fn expect(mut self, expect: Expect) -> Sample {
        self.expect = expect;
        self
    }
}

/// A sample of `op` whose function has one output, expected to pass.
pub(crate) fn sample<F>(op: &'static str, label: &str, shapes: &[&[usize]], function: F) -> Sample
where
    F: Fn(&[Tensor]) -> candle_core::Result<Tensor> + 'static,
{
    Sample {
        op,
        label: label.to_owned(),
        expect: Expect::Pass,
        check: check(&format!("{op} {label}"), shapes, function).cases(CASES),
    }
}

/// A constant u32 index tensor of `shape`.
pub(crate) fn ids(values: &[u32], shape: &[usize]) -> Tensor {
    Tensor::from_vec(values.to_vec(), shape, &Device::Cpu).expect("the sample's index tensor fits its shape")
}

/// Every sample, family by family.
pub fn all() -> Vec<Sample> {
    [
        unary::samples(),
        binary::samples(),
        reduce::samples(),
        matmul::samples(),
        conv::samples(),
        pool::samples(),
        index::samples(),
        shape::samples(),
        activation::samples(),
    ]
    .into_iter()
    .flatten()
    .collect()
}
