//! The ops' local forms ([`LocalForward`]) are their forwards: over random shapes, values and
//! attributes, moving any one element of any input changes exactly the outputs its reach names
//! (every other output bitwise unchanged in the whole forward) to the whole forward's values
//! within rounding. And an op whose local form misses an output is caught by the
//! finite-difference oracle it feeds, so that the sweep's agreement covers the local forms too.

use crate::common::{cotangent, tensor};
use gradverify::error::Result;
use gradverify::ops::local::Whole;
use gradverify::ops::{BatchNorm, Conv2d, Cost, LayerNorm, LocalForward, Op, Reach, RnnStep};
use gradverify::oracle;
use ndarray::{Array2, ArrayD, ArrayViewD};
use proptest::prelude::*;

/// A conv2d with stride 1 or 2 and pad 0 or 1, and inputs whose shapes divide exactly.
fn conv_case() -> impl Strategy<Value = (Conv2d, Vec<ArrayD<f64>>)> {
    (
        1..=2usize,
        1..=2usize,
        1..=3usize,
        1..=3usize,
        1..=3usize,
        1..=3usize,
        1..=3usize,
        1..=2usize,
        0..=1usize,
    )
        .prop_flat_map(|(n, c, f, hh, ww, ho, wo, stride, pad)| {
            let h = ((ho - 1) * stride + hh).saturating_sub(2 * pad).max(1);
            let w = ((wo - 1) * stride + ww).saturating_sub(2 * pad).max(1);
            (
                tensor(vec![n, c, h, w]),
                tensor(vec![f, c, hh, ww]),
                tensor(vec![f]),
            )
                .prop_map(move |(x, k, b)| (Conv2d { stride, pad }, vec![x, k, b]))
        })
        .prop_filter("the shape divides exactly", |(op, inputs)| {
            op.geometry(inputs[0].shape(), inputs[1].shape(), inputs[2].shape())
                .is_ok()
        })
}

/// batchnorm or layernorm inputs x (B×D, B, D ≥ `least`), γ, β.
fn norm_inputs(least: usize) -> impl Strategy<Value = Vec<ArrayD<f64>>> {
    (least..=5usize, least..=5usize)
        .prop_flat_map(|(b, d)| (tensor(vec![b, d]), tensor(vec![d]), tensor(vec![d])))
        .prop_map(|(x, g, b)| vec![x, g, b])
}

/// rnn_step inputs x (B×D), h (B×H), Wx, Wh, b.
fn rnn_inputs() -> impl Strategy<Value = Vec<ArrayD<f64>>> {
    (1..=3usize, 1..=4usize, 1..=4usize)
        .prop_flat_map(|(b, d, h)| {
            (
                tensor(vec![b, d]),
                tensor(vec![b, h]),
                tensor(vec![d, h]),
                tensor(vec![h, h]),
                tensor(vec![h]),
            )
        })
        .prop_map(|(x, h0, wx, wh, bias)| vec![x, h0, wx, wh, bias])
}

/// For every element of every input moved by a step: the reach is the whole forward's change.
fn local_form_is_the_forward(op: &dyn Op, inputs: &[ArrayD<f64>]) -> std::result::Result<(), TestCaseError> {
    let views: Vec<_> = inputs.iter().map(|a| a.view()).collect();
    let base = op.forward(&views).expect("the case fits");
    let local = op
        .local(&views)
        .expect("the case fits")
        .expect("the op has a local form");
    let whole = Whole::new(op, &views, base.shape());
    let base: Vec<f64> = base.iter().copied().collect();
    let (mut reach, mut full) = (Reach::default(), Reach::default());
    for (k, input) in inputs.iter().enumerate() {
        for (flat, &theta) in input.iter().enumerate() {
            let value = theta + 1e-3 * theta.abs().max(1.0);
            local.reach(k, flat, value, &mut reach).expect("a local step");
            whole.reach(k, flat, value, &mut full).expect("a whole step");
            let mut reached = vec![false; base.len()];
            for (&j, &v) in reach.outputs.iter().zip(&reach.values) {
                prop_assert!(!reached[j], "input {k} element {flat} reaches output {j} twice");
                reached[j] = true;
                let expected = full.values[j];
                prop_assert!(
                    (v - expected).abs() <= 1e-12 * (1.0 + expected.abs()),
                    "input {k} element {flat}: output {j} is {v} locally, {expected} in the whole forward"
                );
            }
            for (j, (&now, &was)) in full.values.iter().zip(&base).enumerate() {
                prop_assert!(
                    reached[j] || now == was,
                    "input {k} element {flat} changes output {j} ({was} to {now}) outside its reach"
                );
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn conv2d_local_form_is_its_forward((op, inputs) in conv_case()) {
        local_form_is_the_forward(&op, &inputs)?;
    }

    #[test]
    fn batchnorm_local_form_is_its_forward(inputs in norm_inputs(2)) {
        local_form_is_the_forward(&BatchNorm::default(), &inputs)?;
    }

    #[test]
    fn layernorm_local_form_is_its_forward(inputs in norm_inputs(2)) {
        local_form_is_the_forward(&LayerNorm::default(), &inputs)?;
    }

    #[test]
    fn rnn_step_local_form_is_its_forward(inputs in rnn_inputs()) {
        local_form_is_the_forward(&RnnStep, &inputs)?;
    }
}

/// batchnorm whose local form forgets the last output of every reach.
#[derive(Debug)]
struct ShortReach(BatchNorm);

struct Truncated<'a>(Box<dyn LocalForward + 'a>);

impl LocalForward for Truncated<'_> {
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()> {
        self.0.reach(input, flat, value, reach)?;
        reach.outputs.pop();
        reach.values.pop();
        Ok(())
    }
    fn smooth(&self, input: usize, flat: usize, from: f64, to: f64) -> bool {
        self.0.smooth(input, flat, from, to)
    }
}

impl Op for ShortReach {
    fn name(&self) -> &'static str {
        self.0.name()
    }
    fn input_names(&self) -> &'static [&'static str] {
        self.0.input_names()
    }
    fn forward(&self, inputs: &[ArrayViewD<'_, f64>]) -> Result<ArrayD<f64>> {
        self.0.forward(inputs)
    }
    fn vjp(
        &self,
        inputs: &[ArrayViewD<'_, f64>],
        grad_out: ArrayViewD<'_, f64>,
        wanted: &[bool],
    ) -> Result<Vec<Option<ArrayD<f64>>>> {
        self.0.vjp(inputs, grad_out, wanted)
    }
    fn jacobian(&self, inputs: &[ArrayViewD<'_, f64>], wrt: usize) -> Result<Array2<f64>> {
        self.0.jacobian(inputs, wrt)
    }
    fn forward_flops(&self, input_shapes: &[&[usize]]) -> Result<u64> {
        self.0.forward_flops(input_shapes)
    }
    fn cost(&self, input_shapes: &[&[usize]], wanted: &[bool]) -> Result<Cost> {
        self.0.cost(input_shapes, wanted)
    }
    fn local<'a>(&'a self, inputs: &[ArrayViewD<'a, f64>]) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        Ok(self
            .0
            .local(inputs)?
            .map(|l| Box::new(Truncated(l)) as Box<dyn LocalForward + 'a>))
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(16))]

    #[test]
    fn a_local_form_that_misses_an_output_makes_the_oracle_disagree(
        // Groups of 3 or more: at N = 2 dL/dx cancels far below its terms (tests/ref_ops_a.rs).
        (inputs, v) in norm_inputs(3).prop_flat_map(|inputs| {
            let shape = inputs[0].shape().to_vec();
            (Just(inputs), cotangent(shape))
        })
    ) {
        let agrees = |report: &oracle::OracleReport| report.vs_finite_diff.iter().all(|c| c.is_ok());
        let right = oracle::check_op(BatchNorm::default(), inputs.clone(), v.view()).expect("a case");
        prop_assert!(agrees(&right), "the reference agrees: {right:?}");
        let short = oracle::check_op(ShortReach(BatchNorm::default()), inputs, v.view()).expect("a case");
        prop_assert!(!agrees(&short), "a missing output must show as a disagreement: {short:?}");
    }
}
