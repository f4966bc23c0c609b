//! One case of a custom op: the gradients against finite differences (element by element, or by
//! random projections in fast mode), the forward mode if given, a second call, and a call with a
//! zero cotangent.
//!
//! Element by element, each element first gets a first look (two central quotients at a step of
//! 3e-4, 4 forwards); where that certifies the op's own gradient element, with a bound within
//! `rtol`, the element is done,
//! elsewhere (a wrong element, a kink, a badly scaled function) the whole Richardson sequence
//! from `eps` decides, as without the first look. A correct gradient of a smooth op so costs 4
//! forwards per element.

use ndarray::{ArrayD, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::closures::{Closures, call};
use super::domain;
use super::estimates::{against_estimates, contracted, problem, shaped};
use super::jvp::{self, DotTest};
use super::options::Options;
use super::reference::{against_reference, forward_name};
use super::steps::{ForwardSteps, STEPS_PER_CALL, Step};
use crate::catalogue::Answer;
use crate::compare::{self, Comparison};
use crate::oracle::richardson::{Estimate, FIRST_LOOK_STEP, Sample, Sequence};
use crate::verify::{CaseRecord, Checked, Fault, Problem, same};

/// What one case leaves behind: its record, the comparison of each gradient (and of the forward
/// mode), the dot-product test, and its inputs and cotangents for the diagnoses.
pub(super) struct Outcome {
    pub(super) record: CaseRecord,
    pub(super) comparisons: Vec<(String, Comparison)>,
    pub(super) dot: Option<DotTest>,
    pub(super) inputs: Vec<ArrayD<f64>>,
    pub(super) cotangents: Vec<ArrayD<f64>>,
}

/// A case whose call failed.
pub(super) fn fault_record(dims: &[usize], label: &str, message: String) -> CaseRecord {
    CaseRecord {
        dims: dims.to_vec(),
        shape: label.to_owned(),
        batch: None,
        request: None,
        expected: Answer::default(),
        outcome: Err(Fault::Failed(message)),
    }
}

impl Closures<'_> {
    /// One case at finite inputs with finite outputs.
    pub(super) fn check_case(
        &self,
        inputs: Vec<ArrayD<f64>>,
        outputs: &[ArrayD<f64>],
        rng: &mut ChaCha8Rng,
        (dims, label): (&[usize], &str),
        options: &Options,
    ) -> Outcome {
        let cotangents: Vec<ArrayD<f64>> = outputs
            .iter()
            .map(|o| ArrayD::random_using(o.raw_dim(), StandardNormal, &mut *rng))
            .collect();
        let mut outcome = Outcome {
            record: fault_record(dims, label, String::new()),
            comparisons: Vec::new(),
            dot: None,
            inputs,
            cotangents,
        };
        if let Err(message) = self.check(&mut outcome, outputs, rng, options) {
            outcome.record.outcome = Err(Fault::Failed(message));
            outcome.comparisons.clear();
            outcome.dot = None;
        }
        outcome
    }

    /// Fills `outcome`; an error when a call failed.
    fn check(
        &self,
        outcome: &mut Outcome,
        outputs: &[ArrayD<f64>],
        rng: &mut ChaCha8Rng,
        options: &Options,
    ) -> Result<(), String> {
        let (inputs, cotangents) = (&outcome.inputs, &outcome.cotangents);
        let grads = self.vjp(inputs, cotangents)?;
        let reference = (self.reference.as_ref())
            .map(|r| self.reference_answer(r, inputs, cotangents))
            .transpose()?;
        let mut checked = Checked::default();
        for k in options.compared() {
            let (name, input, actual) = (options.name(k), &inputs[k], &grads[k]);
            let comparison = if let Some(reference) = &reference {
                let expected = &reference.grads[k];
                outcome
                    .record
                    .expected
                    .grads
                    .push((name.clone(), expected.clone()));
                against_reference(&name, expected, actual, options)
            } else if options.fast {
                self.projection(inputs, k, cotangents, actual, rng, options)?
            } else {
                let estimates = self.finite_differences(inputs, k, cotangents, actual, options)?;
                let (values, bounds, comparable) = shaped(input.shape(), &estimates);
                let comparison = against_estimates(&name, &values, &bounds, &comparable, actual, options);
                outcome.record.expected.grads.push((name.clone(), values));
                comparison
            };
            if let Some(problem) = problem(actual, input.shape(), &comparison) {
                checked.wrong.push((name.clone(), problem));
            }
            outcome.comparisons.push((name.clone(), comparison));
            checked.actual.grads.push((name, actual.clone()));
        }
        if let Some(jvp) = &self.jvp {
            let forward_mode = jvp::check(self, jvp, inputs, cotangents, &grads, rng, options)?;
            for (name, expected, actual, comparison, problem) in forward_mode.outputs {
                if let Some(problem) = problem {
                    checked.wrong.push((name.clone(), problem));
                }
                outcome.comparisons.push((name.clone(), comparison));
                outcome.record.expected.grads.push((name.clone(), expected));
                checked.actual.grads.push((name, actual));
            }
            outcome.dot = forward_mode.dot;
        }
        if let Some(reference) = &reference {
            let n = outputs.len();
            for (j, (expected, actual)) in reference.outputs.iter().zip(outputs).enumerate() {
                let name = forward_name(j, n);
                let comparison = against_reference(&name, expected, actual, options);
                if let Some(problem) = problem(actual, expected.shape(), &comparison) {
                    checked.wrong.push((name.clone(), problem));
                }
                outcome.comparisons.push((name.clone(), comparison));
                outcome
                    .record
                    .expected
                    .grads
                    .push((name.clone(), expected.clone()));
                checked.actual.grads.push((name, actual.clone()));
            }
        }
        let compared: Vec<String> = options.compared().map(|k| options.name(k)).collect();
        match self.vjp(inputs, cotangents) {
            Ok(again)
                if options
                    .compared()
                    .all(|k| repeats(&grads[k], &again[k], options.nondet_tol)) => {}
            _ => checked.nondeterministic = compared.clone(),
        }
        let zeros: Vec<ArrayD<f64>> = cotangents.iter().map(|v| ArrayD::zeros(v.raw_dim())).collect();
        match self.vjp(inputs, &zeros) {
            Ok(zero) => {
                for k in options.compared() {
                    if zero[k].iter().any(|v| *v != 0.0) {
                        checked.nonzero_for_zero_upstream.push(options.name(k));
                    }
                }
            }
            Err(message) => {
                for name in compared {
                    if checked.wrong.iter().all(|(n, _)| *n != name) {
                        let problem =
                            Problem::Fault(Fault::Failed(format!("{message} (upstream gradient all zeros)")));
                        checked.wrong.push((name, problem));
                    }
                }
            }
        }
        outcome.record.outcome = Ok(checked);
        Ok(())
    }

    /// The finite-difference estimate of `dL/dx_k` for every element of input `k`. First a first
    /// look at each element (two quotients at a short step, [`Sequence::first_look`]), kept where
    /// it certifies the op's own `claim`; the whole Richardson sequence for the others.
    fn finite_differences(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangents: &[ArrayD<f64>],
        claim: &ArrayD<f64>,
        options: &Options,
    ) -> Result<Vec<Estimate>, String> {
        let mut point = inputs.to_vec();
        point[k] = point[k].as_standard_layout().into_owned();
        let thetas: Vec<f64> = point[k].iter().copied().collect();
        let domain = options.domains[k];
        let steps = |eps: f64, theta: f64| domain::steps(eps, theta, domain.room(theta));
        let moved = |flat: usize| {
            format!(
                "{}{:?}",
                options.name(k),
                row_major_index(inputs[k].shape(), flat)
            )
        };
        let mut estimates: Vec<Option<Estimate>> = vec![None; thetas.len()];
        if claim.shape() == inputs[k].shape() {
            let first_step = options.eps.min(FIRST_LOOK_STEP);
            let mut looks: Vec<(usize, Sequence)> = (thetas.iter().enumerate())
                .map(|(flat, &theta)| (flat, Sequence::first_look(theta, steps(first_step, theta).first)))
                .collect();
            self.in_lock_step(&mut point, k, &mut looks, &moved, cotangents)?;
            for ((flat, look), &claimed) in looks.iter().zip(claim.iter()) {
                let estimate = look.estimate();
                let tight = estimate.error <= FIRST_LOOK_SHARE * options.rtol * estimate.value.abs();
                if tight && compare::certified_by(estimate.value, estimate.error, claimed, options.rtol) {
                    estimates[*flat] = Some(estimate);
                }
            }
        }
        let mut sequences: Vec<(usize, Sequence)> = (0..thetas.len())
            .filter(|&flat| estimates[flat].is_none())
            .map(|flat| {
                (
                    flat,
                    Sequence::new(thetas[flat], steps(options.eps, thetas[flat])),
                )
            })
            .collect();
        self.in_lock_step(&mut point, k, &mut sequences, &moved, cotangents)?;
        for (flat, sequence) in &sequences {
            estimates[*flat] = Some(sequence.estimate());
        }
        Ok(estimates
            .into_iter()
            .map(|e| e.expect("internal: every element estimated"))
            .collect())
    }

    /// Runs the Richardson sequences of elements `(flat, sequence)` of input `k` to their end, in
    /// lock-step over a block of elements, so that with a batch forward each round of the block's
    /// steps is one call ([`block_len`]); with a forward that answers steps, each round of up to
    /// [`STEPS_PER_CALL`] elements is one call of a few numbers per element ([`super::steps`]).
    fn in_lock_step(
        &self,
        point: &mut [ArrayD<f64>],
        k: usize,
        sequences: &mut [(usize, Sequence)],
        moved: &dyn Fn(usize) -> String,
        cotangents: &[ArrayD<f64>],
    ) -> Result<(), String> {
        let block = match (&self.forward_steps, &self.forward_batch) {
            (Some(_), _) => STEPS_PER_CALL,
            (None, Some(_)) => block_len(point),
            (None, None) => 1,
        };
        for block in sequences.chunks_mut(block) {
            loop {
                // The coordinate values each unsettled sequence of the block asks for next.
                let (members, asked): (Vec<usize>, Vec<(usize, [f64; 2])>) = (block.iter_mut().enumerate())
                    .filter_map(|(member, (flat, sequence))| {
                        sequence.next_pair().map(|(p, m)| (member, (*flat, [p, m])))
                    })
                    .unzip();
                if asked.is_empty() {
                    break;
                }
                let samples = match &self.forward_steps {
                    Some(steps) => self.stepped_samples(steps, point, k, &asked, cotangents)?,
                    None => (self
                        .forwards_moving(point, k, &asked, moved, cotangents)?
                        .chunks(2))
                    .map(|pair| contracted(&pair[0], &pair[1], cotangents))
                    .collect(),
                };
                for (member, sample) in members.into_iter().zip(samples) {
                    block[member].1.feed(sample);
                }
            }
        }
        Ok(())
    }

    /// The samples of the steps `(flat, [plus, minus])` of input `k` from `base`, in one call of
    /// the forward that answers steps.
    pub(super) fn stepped_samples(
        &self,
        forward_steps: &ForwardSteps<'_>,
        base: &[ArrayD<f64>],
        k: usize,
        asked: &[(usize, [f64; 2])],
        cotangents: &[ArrayD<f64>],
    ) -> Result<Vec<Sample>, String> {
        let steps: Vec<Step> = (asked.iter())
            .map(|&(flat, [plus, minus])| Step {
                input: k,
                flat,
                plus,
                minus,
            })
            .collect();
        let answered = call("the forward", || forward_steps(base, cotangents, &steps))?;
        if answered.len() != steps.len() {
            return Err(format!(
                "the forward answered {} of {} steps",
                answered.len(),
                steps.len()
            ));
        }
        Ok((answered.into_iter())
            .map(|d| Sample {
                difference: d.difference,
                magnitude: d.magnitude,
                smooth: true,
            })
            .collect())
    }

    /// The forward with element `flat` of input `k` moved to each of its two values, for each
    /// `(flat, values)` asked: two outputs per element, in order. Through the batch forward in
    /// one call where there is one, else one call per point (moving `point` in place and back).
    fn forwards_moving(
        &self,
        point: &mut [ArrayD<f64>],
        k: usize,
        asked: &[(usize, [f64; 2])],
        moved: &dyn Fn(usize) -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<Vec<ArrayD<f64>>>, String> {
        let moves = asked.iter().flat_map(|&(flat, xs)| xs.map(|x| (flat, x)));
        if let Some(batch) = &self.forward_batch {
            let points: Vec<Vec<ArrayD<f64>>> = moves
                .clone()
                .map(|(flat, x)| {
                    let mut moved_point = point.to_vec();
                    moved_point[k].as_slice_mut().expect("internal: standard layout")[flat] = x;
                    moved_point
                })
                .collect();
            let flats: Vec<usize> = moves.map(|(flat, _)| flat).collect();
            return self.forward_batch_at(batch, &points, &|p| moved(flats[p]), like);
        }
        let mut outputs = Vec::with_capacity(2 * asked.len());
        for &(flat, xs) in asked {
            let theta = point[k].as_slice().expect("internal: standard layout")[flat];
            for x in xs {
                point[k].as_slice_mut().expect("internal: standard layout")[flat] = x;
                let out = self.forward_at(point, &|| moved(flat), like);
                point[k].as_slice_mut().expect("internal: standard layout")[flat] = theta;
                outputs.push(out?);
            }
        }
        Ok(outputs)
    }
}

/// The most of `rtol` a first look's bound may take: the comparison lets a difference within
/// `rtol` plus the bound pass, and the whole sequence's bound is far below `rtol`, so a first
/// look is kept only where it judges about as tightly (a difference of 2 `rtol` at most, not
/// `rtol` plus 1e-4).
const FIRST_LOOK_SHARE: f64 = 1.0;

/// How many elements' sequences run in lock-step with a batch forward: as many as keep one
/// call's points (two per element, each a copy of every input) within [`BATCH_NUMBERS`].
fn block_len(inputs: &[ArrayD<f64>]) -> usize {
    let numbers: usize = inputs.iter().map(ArrayD::len).sum();
    (BATCH_NUMBERS / (2 * numbers.max(1))).max(1)
}

/// The most numbers the points of one batch call hold (8 MiB of f64; as JSON, about 20 MB).
const BATCH_NUMBERS: usize = 1 << 20;

/// The row-major index of element `flat` of an array of `shape`.
fn row_major_index(shape: &[usize], mut flat: usize) -> Vec<usize> {
    let mut index = shape.to_vec();
    for d in index.iter_mut().rev() {
        let size = *d;
        *d = flat % size;
        flat /= size;
    }
    index
}

/// A second call repeats the first: to 1e-12 relative element by element (the built-in
/// verifier's rule), or with `nondet_tol`, to that fraction of the gradient's largest element.
fn repeats(first: &ArrayD<f64>, second: &ArrayD<f64>, nondet_tol: Option<f64>) -> bool {
    match nondet_tol {
        _ if same(first, second) => true,
        Some(tol) if first.shape() == second.shape() => {
            let scale = first.iter().fold(0.0_f64, |m, v| m.max(v.abs()));
            let diff = Zip::from(first)
                .and(second)
                .fold(0.0_f64, |m, a, b| compare::nan_max(m, (a - b).abs()));
            diff <= tol * scale
        }
        _ => false,
    }
}
