//! One case of a custom op: the gradients against finite differences (element by element, or by
//! random projections in fast mode), the forward mode if given, a second call, and a call with a
//! zero cotangent.

use ndarray::{ArrayD, IxDyn, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::domain::{self, Domain};
use super::jvp::{self, DotTest};
use crate::catalogue::Answer;
use crate::compare::{self, Abs, Comparison, Tolerance};
use crate::oracle::finite_diff::termwise_difference;
use crate::oracle::richardson::{self, Estimate, Sample};
use crate::verify::check::catching_panics;
use crate::verify::{CaseRecord, Checked, Fault, Problem, same};

/// The forward, as several outputs (one for [`super::OpCheck::new`]).
pub(super) type Forward<'a> = Box<dyn Fn(&[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a>;
/// The VJP: inputs and one cotangent per output to one gradient per input; also the JVP:
/// inputs and one tangent per input to one output tangent per output.
pub(super) type Linearised<'a> = Box<dyn Fn(&[ArrayD<f64>], &[ArrayD<f64>]) -> Vec<ArrayD<f64>> + 'a>;

/// The op under test.
pub(super) struct Closures<'a> {
    pub(super) forward: Forward<'a>,
    pub(super) backward: Linearised<'a>,
    pub(super) jvp: Option<Linearised<'a>>,
    /// Several outputs (names the outputs `y0`, `y1`, … in messages).
    pub(super) multi: bool,
}

/// The options a case is checked under (see [`super::OpCheck`]).
#[derive(Debug, Clone)]
pub(super) struct Options {
    pub(super) domains: Vec<Domain>,
    pub(super) rtol: f64,
    pub(super) atol: f64,
    pub(super) eps: f64,
    pub(super) nondet_tol: Option<f64>,
    pub(super) no_grad: Vec<bool>,
    pub(super) fast: bool,
}

impl Options {
    /// The inputs whose gradients are compared.
    pub(super) fn compared(&self) -> impl Iterator<Item = usize> + '_ {
        (0..self.no_grad.len()).filter(|&k| !self.no_grad[k])
    }
}

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

/// The name of input `k` in reports.
pub(super) fn input_name(k: usize) -> String {
    format!("x{k}")
}

/// Compares `actual` with finite-difference `values` (error `bounds`, `comparable` where the
/// sequence converged) under `rtol` and the estimates' bounds; an element outside them but within
/// `atol` more is excused (left out of the comparison and counted as excused).
pub(super) fn against_estimates(
    name: &str,
    values: &ArrayD<f64>,
    bounds: &ArrayD<f64>,
    comparable: &ArrayD<bool>,
    actual: &ArrayD<f64>,
    options: &Options,
) -> Comparison {
    let mut mask = comparable.clone();
    let mut by_atol = 0;
    if options.atol > 0.0 && actual.shape() == values.shape() {
        Zip::from(&mut mask)
            .and(values)
            .and(bounds)
            .and(actual)
            .for_each(|m, &e, &b, &a| {
                let (diff, scale) = ((a - e).abs(), a.abs().max(e.abs()));
                let within = options.rtol * scale + b;
                if *m && diff > within && diff <= within + options.atol {
                    *m = false;
                    by_atol += 1;
                }
            });
    }
    let tolerance = Tolerance {
        rel: options.rtol,
        abs: Abs::Bound(bounds.view()),
        compare: Some(mask.view()),
    };
    let mut comparison = compare::compare(name, values.view(), actual.view(), &tolerance);
    comparison.skipped -= by_atol;
    comparison.excused += by_atol;
    comparison
}

/// Estimates as three arrays of `shape`: values, bounds, comparable.
pub(super) fn shaped(shape: &[usize], estimates: &[Estimate]) -> (ArrayD<f64>, ArrayD<f64>, ArrayD<bool>) {
    let make =
        |v: Vec<_>| ArrayD::from_shape_vec(IxDyn(shape), v).expect("internal: one estimate per element");
    (
        make(estimates.iter().map(|e| e.value).collect()),
        make(estimates.iter().map(|e| e.error).collect()),
        ArrayD::from_shape_vec(IxDyn(shape), estimates.iter().map(Estimate::comparable).collect())
            .expect("internal: one estimate per element"),
    )
}

impl Closures<'_> {
    /// The forward, with a panic as an error.
    pub(super) fn outputs(&self, inputs: &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, String> {
        catching_panics(|| (self.forward)(inputs)).map_err(|m| format!("the forward {m}"))
    }

    /// The backward, with a panic or the wrong number of gradients as an error.
    pub(super) fn vjp(
        &self,
        inputs: &[ArrayD<f64>],
        cotangents: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let grads = catching_panics(|| (self.backward)(inputs, cotangents))
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

    /// The forward at `point`, which differs from the case's inputs by `moved` (for messages);
    /// an error when it panics or its outputs change in number or shape.
    pub(super) fn forward_at(
        &self,
        point: &[ArrayD<f64>],
        moved: &dyn Fn() -> String,
        like: &[ArrayD<f64>],
    ) -> Result<Vec<ArrayD<f64>>, String> {
        let outs = catching_panics(|| (self.forward)(point))
            .map_err(|m| format!("the forward {m} when {} moved", moved()))?;
        if outs.len() != like.len() {
            return Err(format!(
                "the forward returned {} outputs instead of {} when {} moved",
                outs.len(),
                like.len(),
                moved()
            ));
        }
        for (j, (out, was)) in outs.iter().zip(like).enumerate() {
            if out.shape() != was.shape() {
                let which = if self.multi {
                    format!(" y{j}")
                } else {
                    String::new()
                };
                return Err(format!(
                    "the forward's output{which} changed shape from {:?} to {:?} when {} moved: its shape must not depend on the input values",
                    was.shape(),
                    out.shape(),
                    moved()
                ));
            }
        }
        Ok(outs)
    }

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
        if let Err(message) = self.check(&mut outcome, rng, options) {
            outcome.record.outcome = Err(Fault::Failed(message));
            outcome.comparisons.clear();
            outcome.dot = None;
        }
        outcome
    }

    /// Fills `outcome`; an error when a call failed.
    fn check(&self, outcome: &mut Outcome, rng: &mut ChaCha8Rng, options: &Options) -> Result<(), String> {
        let (inputs, cotangents) = (&outcome.inputs, &outcome.cotangents);
        let grads = self.vjp(inputs, cotangents)?;
        let mut checked = Checked::default();
        for k in options.compared() {
            let (name, input, actual) = (input_name(k), &inputs[k], &grads[k]);
            let comparison = if options.fast {
                self.projection(inputs, k, cotangents, actual, rng, options)?
            } else {
                let estimates = self.finite_differences(inputs, k, cotangents, options)?;
                let (values, bounds, comparable) = shaped(input.shape(), &estimates);
                let comparison = against_estimates(&name, &values, &bounds, &comparable, actual, options);
                outcome.record.expected.grads.push((name.clone(), values));
                comparison
            };
            if actual.shape() != input.shape() {
                let problem = Problem::WrongShape {
                    got: actual.shape().to_vec(),
                    expected: input.shape().to_vec(),
                };
                checked.wrong.push((name.clone(), problem));
            } else if actual.iter().any(|v| !v.is_finite()) {
                checked.wrong.push((name.clone(), Problem::NonFinite));
            } else if !comparison.is_ok() {
                checked.wrong.push((name.clone(), Problem::WrongValues));
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
        let compared: Vec<String> = options.compared().map(input_name).collect();
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
                        checked.nonzero_for_zero_upstream.push(input_name(k));
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

    /// The finite-difference estimate of `dL/dx_k` for every element of input `k`.
    fn finite_differences(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangents: &[ArrayD<f64>],
        options: &Options,
    ) -> Result<Vec<Estimate>, String> {
        let mut point = inputs.to_vec();
        point[k] = point[k].as_standard_layout().into_owned();
        let n = point[k].len();
        let domain = options.domains[k];
        let mut estimates = Vec::with_capacity(n);
        for flat in 0..n {
            let theta = point[k].as_slice().expect("internal: standard layout")[flat];
            let moved = || {
                // The row-major index of element `flat`.
                let mut index = inputs[k].shape().to_vec();
                let mut rest = flat;
                for d in index.iter_mut().rev() {
                    let size = *d;
                    *d = rest % size;
                    rest /= size;
                }
                format!("{}{index:?}", input_name(k))
            };
            let steps = domain::steps(options.eps, theta, domain.room(theta));
            let estimate = richardson::estimate(theta, steps, |plus, minus| {
                let mut at = |x: f64| {
                    point[k].as_slice_mut().expect("internal: standard layout")[flat] = x;
                    self.forward_at(&point, &moved, cotangents)
                };
                let (up, down) = (at(plus)?, at(minus)?);
                Ok::<_, String>(contracted(&up, &down, cotangents))
            });
            point[k].as_slice_mut().expect("internal: standard layout")[flat] = theta;
            estimates.push(estimate?);
        }
        Ok(estimates)
    }
}

/// The sample `Σ_outputs Σⱼ vⱼ (upⱼ − downⱼ)`, term by term.
pub(super) fn contracted(up: &[ArrayD<f64>], down: &[ArrayD<f64>], cotangents: &[ArrayD<f64>]) -> Sample {
    let (difference, magnitude) = up
        .iter()
        .zip(down)
        .zip(cotangents)
        .map(|((u, d), v)| termwise_difference(u.view(), d.view(), v.view()))
        .fold((0.0, 0.0), |(s, m), (ds, dm)| (s + ds, m + dm));
    Sample {
        difference,
        magnitude,
        smooth: true,
    }
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
