//! Any op, from its forward and VJP closures: what `torch.autograd.gradcheck` gives Python.
//!
//! There is no reference to compare with, so the oracle is central differences of the op's own
//! forward: for a random cotangent v, `dL/dx_i ≈ (⟨v, f(x + h e_i)⟩ − ⟨v, f(x − h e_i)⟩) / 2h`
//! ([`central_difference`]). Agreement is to [`FINITE_DIFF_REL`] relative, with the quotient's
//! rounding noise as the only absolute excuse. An op may have kinks the verifier cannot see; an
//! element that disagrees at step h but agrees at step h/64, where the two estimates differ, is
//! taken to lie within h of a kink and is left out. Each case also calls the backward twice (it
//! must be deterministic) and with a zero cotangent (it must return zeros), as for the built-in
//! ops.
//!
//! ```
//! use gradverify::check;
//! use ndarray::ArrayD;
//!
//! // softplus(x) = ln(1 + eˣ), whose derivative is the logistic function.
//! let forward = |x: &[ArrayD<f64>]| x[0].mapv(|v| v.exp().ln_1p());
//! let backward = |x: &[ArrayD<f64>], g: &ArrayD<f64>| vec![g * &x[0].mapv(|v| 1.0 / (1.0 + (-v).exp()))];
//! check::op("softplus", &[&[3, 4]], forward, backward).assert_correct();
//! ```

use ndarray::{ArrayD, IxDyn, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;

use super::check::catching_panics;
use super::{CaseRecord, Checked, Config, Fault, Problem, Report, Subject, findings};
use crate::compare::{self, Abs, Tolerance};
use crate::oracle::FINITE_DIFF_REL;
use crate::oracle::finite_diff::{FdConfig, central_difference};
use crate::protocol::Answer;
use crate::random;

/// The ratio of the step used to tell a kink from a wrong gradient.
const KINK_STEP_RATIO: f64 = 64.0;

/// Checks the VJP `backward(inputs, dL/d(output)) -> dL/d(each input)` of an op whose forward is
/// `forward(inputs) -> output`, at inputs of the given shapes drawn at random (standard normal).
/// The inputs are named `x0`, `x1`, … in the report.
pub fn op<F, B>(name: &str, shapes: &[&[usize]], forward: F, backward: B) -> Report
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    op_with(Config::default(), name, shapes, forward, backward)
}

/// [`op`] with a chosen number of cases and seed.
pub fn op_with<F, B>(config: Config, name: &str, shapes: &[&[usize]], forward: F, backward: B) -> Report
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    let mut report = Report::new("your forward and backward", name, config.cases);
    let label = shapes
        .iter()
        .map(|s| format!("{s:?}"))
        .collect::<Vec<_>>()
        .join(", ");
    if shapes.is_empty() || shapes.iter().any(|s| s.contains(&0)) {
        report.findings.push(super::Finding {
            what: Subject::Shapes,
            problem: Problem::Fault(Fault::Failed(format!(
                "the input shapes [{label}] cannot be checked: give at least one input, with every dimension at least 1"
            ))),
            failed: 0,
            smallest_shape: label,
            worst: Vec::new(),
            diagnosis: None,
            only_batch_of_one: false,
        });
        return report;
    }
    let op = Closures { forward, backward };
    let records: Vec<CaseRecord> = (0..config.cases)
        .map(|index| {
            let mut rng = random::case_rng(config.seed, index as u64);
            let inputs: Vec<ArrayD<f64>> = shapes
                .iter()
                .map(|s| ArrayD::random_using(IxDyn(s), StandardNormal, &mut rng))
                .collect();
            op.check_case(inputs, &mut rng, &label)
        })
        .collect();
    let names: Vec<String> = (0..shapes.len()).map(|k| format!("x{k}")).collect();
    report.findings = findings(&records, &names, &mut |record, _| record.clone());
    report
}

struct Closures<F, B> {
    forward: F,
    backward: B,
}

impl<F, B> Closures<F, B>
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    fn check_case(
        &self,
        inputs: Vec<ArrayD<f64>>,
        rng: &mut rand_chacha::ChaCha8Rng,
        label: &str,
    ) -> CaseRecord {
        let mut record = CaseRecord {
            dims: Vec::new(),
            shape: label.to_owned(),
            batch: None,
            request: None,
            expected: Answer::default(),
            outcome: Err(Fault::Failed(String::new())),
        };
        let output = match catching_panics(|| (self.forward)(&inputs)) {
            Ok(out) if out.iter().all(|v| v.is_finite()) => out,
            Ok(_) => {
                record.outcome = Err(Fault::Failed(
                    "the forward returned NaN or infinity at random inputs".to_owned(),
                ));
                return record;
            }
            Err(message) => {
                record.outcome = Err(Fault::Failed(format!("the forward {message}")));
                return record;
            }
        };
        let cotangent = ArrayD::random_using(output.raw_dim(), StandardNormal, rng);
        let grads = match self.vjp(&inputs, &cotangent) {
            Ok(grads) => grads,
            Err(message) => {
                record.outcome = Err(Fault::Failed(message));
                return record;
            }
        };
        let mut checked = Checked::default();
        for (k, (input, actual)) in inputs.iter().zip(&grads).enumerate() {
            let name = format!("x{k}");
            let estimate = match self.finite_differences(&inputs, k, &cotangent, FdConfig::default().step) {
                Ok(estimate) => estimate,
                Err(message) => {
                    record.outcome = Err(Fault::Failed(message));
                    return record;
                }
            };
            record.expected.grads.push((name.clone(), estimate.0.clone()));
            checked.actual.grads.push((name.clone(), actual.clone()));
            if actual.shape() != input.shape() {
                let problem = Problem::WrongShape {
                    got: actual.shape().to_vec(),
                    expected: input.shape().to_vec(),
                };
                checked.wrong.push((name, problem));
            } else if actual.iter().any(|v| !v.is_finite()) {
                checked.wrong.push((name, Problem::NonFinite));
            } else if !self.agrees(&inputs, k, &cotangent, estimate, actual) {
                checked.wrong.push((name, Problem::WrongValues));
            }
        }
        match self.vjp(&inputs, &cotangent) {
            Ok(again) if again.iter().zip(&grads).all(|(a, b)| a == b) => {}
            _ => checked.nondeterministic = (0..inputs.len()).map(|k| format!("x{k}")).collect(),
        }
        if let Ok(zero) = self.vjp(&inputs, &ArrayD::zeros(output.raw_dim())) {
            for (k, g) in zero.iter().enumerate() {
                if g.iter().any(|v| *v != 0.0) {
                    checked.nonzero_for_zero_upstream.push(format!("x{k}"));
                }
            }
        }
        record.outcome = Ok(checked);
        record
    }

    /// The backward, with a panic or the wrong number of gradients as an error.
    fn vjp(&self, inputs: &[ArrayD<f64>], cotangent: &ArrayD<f64>) -> Result<Vec<ArrayD<f64>>, String> {
        let grads = catching_panics(|| (self.backward)(inputs, cotangent))
            .map_err(|m| format!("the backward {m}"))?;
        if grads.len() != inputs.len() {
            return Err(format!(
                "the backward returned {} gradients for {} inputs",
                grads.len(),
                inputs.len()
            ));
        }
        Ok(grads)
    }

    /// Central differences of ⟨v, forward⟩ for every element of input `k`, with their noise.
    fn finite_differences(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangent: &ArrayD<f64>,
        step: f64,
    ) -> Result<(ArrayD<f64>, ArrayD<f64>), String> {
        let objective = |x: &[ArrayD<f64>]| -> Result<(f64, f64), String> {
            let out = catching_panics(|| (self.forward)(x)).map_err(|m| format!("the forward {m}"))?;
            if out.shape() != cotangent.shape() {
                return Err(format!(
                    "the forward's output changed shape from {:?} to {:?}",
                    cotangent.shape(),
                    out.shape()
                ));
            }
            Ok(Zip::from(&out)
                .and(cotangent)
                .fold((0.0, 0.0), |(s, m), o, v| (s + o * v, m + (o * v).abs())))
        };
        let at_theta = objective(inputs)?.1;
        let mut point = inputs.to_vec();
        point[k] = point[k].as_standard_layout().into_owned();
        let n = point[k].len();
        let (mut values, mut noise) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for flat in 0..n {
            let theta = point[k].as_slice().expect("internal: standard layout")[flat];
            let q = central_difference(theta, step, at_theta, |x| {
                point[k].as_slice_mut().expect("internal: standard layout")[flat] = x;
                objective(&point)
            })?;
            point[k].as_slice_mut().expect("internal: standard layout")[flat] = theta;
            values.push(q.value);
            noise.push(q.noise);
        }
        let shape = inputs[k].raw_dim();
        let shaped =
            |v| ArrayD::from_shape_vec(shape.clone(), v).expect("internal: one estimate per element");
        Ok((shaped(values), shaped(noise)))
    }

    /// Every element agrees with the finite differences, except where the estimate moves with
    /// the step (h against h/64): there a kink is within reach and the element is left out.
    fn agrees(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangent: &ArrayD<f64>,
        (estimate, noise): (ArrayD<f64>, ArrayD<f64>),
        actual: &ArrayD<f64>,
    ) -> bool {
        let mut tolerance = Tolerance {
            rel: FINITE_DIFF_REL,
            abs: Abs::PerElement(noise.view()),
            compare: None,
        };
        if compare::compare("", estimate.view(), actual.view(), &tolerance).is_ok() {
            return true;
        }
        let step = FdConfig::default().step / KINK_STEP_RATIO;
        let Ok((fine, fine_noise)) = self.finite_differences(inputs, k, cotangent, step) else {
            return false;
        };
        let smooth = Zip::from(&estimate)
            .and(&fine)
            .and(&noise)
            .and(&fine_noise)
            .map_collect(|c, f, n, fine_n| {
                (c - f).abs() <= FINITE_DIFF_REL * c.abs().max(f.abs()) + n + fine_n
            });
        tolerance.compare = Some(smooth.view());
        compare::compare("", estimate.view(), actual.view(), &tolerance).is_ok()
    }
}
