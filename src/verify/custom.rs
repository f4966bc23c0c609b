//! Any op, from its forward and VJP closures: what `torch.autograd.gradcheck` gives Python.
//!
//! There is no reference to compare with, so the oracle is central differences of the op's own
//! forward: for a random cotangent v, `dL/dx_i ≈ Σⱼ vⱼ (f(x + h e_i)ⱼ − f(x − h e_i)ⱼ) / 2h`, the
//! difference taken term by term (so that outputs of very different sizes do not hide each
//! other), over a shrinking sequence of steps extrapolated with its error bound
//! ([`richardson`]). An element agrees when its difference from the estimate is within
//! [`FINITE_DIFF_REL`] relative plus the estimate's bound; it is certified when the estimate
//! resolves its value, excused when it does not, and left out where the sequence does not
//! converge (a kink the verifier cannot see). A gradient on which nothing was certified and
//! nothing failed is **inconclusive**, with the reason and what to try: never a silent pass.
//!
//! Each case also calls the backward twice (it must give the same answer, to the built-in
//! verifier's 1e-12 relative) and with a zero cotangent (it must return zeros, and not fail). A
//! forward that is NaN or infinite at the drawn inputs has them drawn again, a few times. The
//! report carries, as a note and a second opinion outside the verdict, a Taylor-remainder test of
//! the first case ([`taylor`]).
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
use rand_chacha::ChaCha8Rng;

use super::check::catching_panics;
use super::{
    CaseRecord, Checked, Config, Fault, Finding, Inconclusive, Problem, Report, Subject, findings, same,
};
use crate::compare::{self, Abs, Comparison, Tolerance};
use crate::oracle::FINITE_DIFF_REL;
use crate::oracle::finite_diff::termwise_difference;
use crate::oracle::richardson::{self, Estimate, Sample, Steps};
use crate::oracle::taylor::{self, Taylor};
use crate::protocol::Answer;
use crate::random;

/// How many times the inputs of a case are drawn again while the forward is not finite there.
const REDRAWS: usize = 4;
/// The most elements one input may have: the check evaluates the forward dozens of times per
/// element.
const MAX_ELEMENTS: usize = 1 << 24;
/// The Taylor test's first ε, relative to the size of the inputs.
const TAYLOR_FIRST: f64 = 1e-3;

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
    if let Some(why) = unusable(shapes) {
        report.findings.push(Finding {
            what: Subject::Shapes,
            problem: Problem::Fault(Fault::Failed(format!(
                "the input shapes [{label}] cannot be checked: {why}"
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
    let names: Vec<String> = (0..shapes.len()).map(|k| format!("x{k}")).collect();
    let mut tallies = vec![Tally::default(); shapes.len()];
    let mut records = Vec::with_capacity(config.cases);
    let mut not_finite = 0;
    let mut second_opinion = None;
    for index in 0..config.cases {
        let mut rng = random::case_rng(config.seed, index as u64);
        let Some((inputs, output)) = op.draw(shapes, &mut rng) else {
            not_finite += 1;
            continue;
        };
        let (record, comparisons) = match output {
            Ok(output) => op.check_case(&inputs, output, &mut rng, &label),
            Err(fault) => (fault_record(&label, fault), Vec::new()),
        };
        for (tally, c) in tallies.iter_mut().zip(&comparisons) {
            tally.add(c);
        }
        if second_opinion.is_none()
            && let Ok(checked) = &record.outcome
        {
            second_opinion = op.taylor(&inputs, checked, &mut rng);
        }
        records.push(record);
    }
    report.findings = findings(&records, &names, &mut |record, _| record.clone());
    let call_failed = report.findings.iter().any(|f| f.what == "the call");
    for (name, tally) in names.iter().zip(&tallies) {
        let label = format!("dL/d{name}");
        if tally.certified == 0 && tally.failed == 0 && !call_failed {
            report
                .inconclusive
                .push(tally.inconclusive(label, not_finite, config.cases));
        } else if tally.compared() > 0 {
            report.notes.push(format!("{label}: {tally}"));
        }
    }
    if let Some(taylor) = second_opinion {
        report.notes.push(taylor.to_string());
    }
    report
}

/// Why the shapes cannot be checked, if they cannot.
fn unusable(shapes: &[&[usize]]) -> Option<String> {
    if shapes.is_empty() || shapes.iter().any(|s| s.contains(&0)) {
        return Some("give at least one input, with every dimension at least 1".to_owned());
    }
    shapes.iter().enumerate().find_map(|(k, s)| {
        let n = s.iter().try_fold(1_usize, |n, &d| n.checked_mul(d));
        n.is_none_or(|n| n > MAX_ELEMENTS).then(|| {
            format!("x{k} would have more than {MAX_ELEMENTS} elements (the most one input may have)")
        })
    })
}

/// A case whose call failed.
fn fault_record(label: &str, message: String) -> CaseRecord {
    CaseRecord {
        dims: Vec::new(),
        shape: label.to_owned(),
        batch: None,
        request: None,
        expected: Answer::default(),
        outcome: Err(Fault::Failed(message)),
    }
}

/// What the comparisons of one gradient found, over all cases.
#[derive(Debug, Clone, Copy, Default)]
struct Tally {
    certified: usize,
    excused: usize,
    skipped: usize,
    failed: usize,
}

impl Tally {
    fn add(&mut self, c: &Comparison) {
        self.certified += c.certified;
        self.excused += c.excused;
        self.skipped += c.skipped;
        self.failed += c.failed + usize::from(c.actual_shape.is_some());
    }

    fn compared(&self) -> usize {
        self.certified + self.excused + self.skipped + self.failed
    }

    /// Nothing certified, nothing failed: why, and what to try.
    fn inconclusive(&self, gradient: String, not_finite: usize, cases: usize) -> Inconclusive {
        let reason = if self.compared() == 0 && not_finite > 0 {
            format!(
                "the forward was NaN or infinite at the drawn inputs of {not_finite} of {cases} cases (each drawn {} times)",
                REDRAWS + 1
            )
        } else {
            format!(
                "no element could be certified: of {} over {cases} cases, {} excused (the finite differences do not resolve the value: rounding is as large as the derivative) and {} not comparable (the differences did not converge: a kink, or a step the function does not allow)",
                self.compared(),
                self.excused,
                self.skipped
            )
        };
        Inconclusive {
            gradient,
            reason,
            try_next: "other points (op_with with another seed), inputs in a domain where the forward is finite and smooth, or another scale (inputs and outputs nearer 1)".to_owned(),
        }
    }
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} of {} elements certified against finite differences, {} excused, {} not comparable, {} failed",
            self.certified,
            self.compared(),
            self.excused,
            self.skipped,
            self.failed
        )
    }
}

/// Inputs, and the forward's output there or its fault.
type Drawn = (Vec<ArrayD<f64>>, Result<ArrayD<f64>, String>);

struct Closures<F, B> {
    forward: F,
    backward: B,
}

impl<F, B> Closures<F, B>
where
    F: Fn(&[ArrayD<f64>]) -> ArrayD<f64>,
    B: Fn(&[ArrayD<f64>], &ArrayD<f64>) -> Vec<ArrayD<f64>>,
{
    /// Inputs where the forward is finite (drawn again up to [`REDRAWS`] times) and its output,
    /// or the forward's fault; `None` if it stayed NaN or infinite.
    fn draw(&self, shapes: &[&[usize]], rng: &mut ChaCha8Rng) -> Option<Drawn> {
        for _ in 0..=REDRAWS {
            let inputs: Vec<ArrayD<f64>> = shapes
                .iter()
                .map(|s| ArrayD::random_using(IxDyn(s), StandardNormal, &mut *rng))
                .collect();
            match catching_panics(|| (self.forward)(&inputs)) {
                Ok(out) if out.iter().all(|v| v.is_finite()) => return Some((inputs, Ok(out))),
                Ok(_) => continue,
                Err(message) => return Some((inputs, Err(format!("the forward {message}")))),
            }
        }
        None
    }

    /// One case at finite inputs: the gradients against finite differences, a second call, and
    /// a call with a zero upstream gradient. Also the comparison of each gradient.
    fn check_case(
        &self,
        inputs: &[ArrayD<f64>],
        output: ArrayD<f64>,
        rng: &mut ChaCha8Rng,
        label: &str,
    ) -> (CaseRecord, Vec<Comparison>) {
        let mut record = fault_record(label, String::new());
        let cotangent = ArrayD::random_using(output.raw_dim(), StandardNormal, rng);
        let grads = match self.vjp(inputs, &cotangent) {
            Ok(grads) => grads,
            Err(message) => {
                record.outcome = Err(Fault::Failed(message));
                return (record, Vec::new());
            }
        };
        let mut checked = Checked::default();
        let mut comparisons = Vec::with_capacity(inputs.len());
        for (k, (input, actual)) in inputs.iter().zip(&grads).enumerate() {
            let name = format!("x{k}");
            let estimates = match self.finite_differences(inputs, k, &cotangent) {
                Ok(estimates) => estimates,
                Err(message) => {
                    record.outcome = Err(Fault::Failed(message));
                    return (record, Vec::new());
                }
            };
            let shaped = |f: fn(&Estimate) -> f64| {
                ArrayD::from_shape_vec(input.raw_dim(), estimates.iter().map(f).collect())
                    .expect("internal: one estimate per element")
            };
            let (values, bounds) = (shaped(|e| e.value), shaped(|e| e.error));
            let comparable = ArrayD::from_shape_vec(
                input.raw_dim(),
                estimates.iter().map(Estimate::comparable).collect(),
            )
            .expect("internal: one estimate per element");
            let tolerance = Tolerance {
                rel: FINITE_DIFF_REL,
                abs: Abs::Bound(bounds.view()),
                compare: Some(comparable.view()),
            };
            let comparison = compare::compare(&name, values.view(), actual.view(), &tolerance);
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
            comparisons.push(comparison);
            record.expected.grads.push((name.clone(), values));
            checked.actual.grads.push((name, actual.clone()));
        }
        match self.vjp(inputs, &cotangent) {
            Ok(again) if again.iter().zip(&grads).all(|(a, b)| same(a, b)) => {}
            _ => checked.nondeterministic = (0..inputs.len()).map(|k| format!("x{k}")).collect(),
        }
        match self.vjp(inputs, &ArrayD::zeros(output.raw_dim())) {
            Ok(zero) => {
                for (k, g) in zero.iter().enumerate() {
                    if g.iter().any(|v| *v != 0.0) {
                        checked.nonzero_for_zero_upstream.push(format!("x{k}"));
                    }
                }
            }
            Err(message) => {
                for k in 0..inputs.len() {
                    let name = format!("x{k}");
                    if checked.wrong.iter().all(|(n, _)| *n != name) {
                        let problem =
                            Problem::Fault(Fault::Failed(format!("{message} (upstream gradient all zeros)")));
                        checked.wrong.push((name, problem));
                    }
                }
            }
        }
        record.outcome = Ok(checked);
        (record, comparisons)
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

    /// The forward at `point`, where element `flat` of input `k` was moved; an error when it
    /// panics or its output changes shape.
    fn forward_at(
        &self,
        point: &[ArrayD<f64>],
        k: usize,
        flat: usize,
        shape: &[usize],
    ) -> Result<ArrayD<f64>, String> {
        let moved = || {
            // The row-major index of element `flat`.
            let mut index = point[k].shape().to_vec();
            let mut rest = flat;
            for d in index.iter_mut().rev() {
                let size = *d;
                *d = rest % size;
                rest /= size;
            }
            format!("x{k}{index:?}")
        };
        let out = catching_panics(|| (self.forward)(point))
            .map_err(|m| format!("the forward {m} when {} moved", moved()))?;
        if out.shape() != shape {
            return Err(format!(
                "the forward's output changed shape from {shape:?} to {:?} when {} moved: its shape must not depend on the input values",
                out.shape(),
                moved()
            ));
        }
        Ok(out)
    }

    /// The finite-difference estimate of `dL/dx_k` for every element of input `k`.
    fn finite_differences(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangent: &ArrayD<f64>,
    ) -> Result<Vec<Estimate>, String> {
        let mut point = inputs.to_vec();
        point[k] = point[k].as_standard_layout().into_owned();
        let n = point[k].len();
        let mut estimates = Vec::with_capacity(n);
        for flat in 0..n {
            let theta = point[k].as_slice().expect("internal: standard layout")[flat];
            let estimate = richardson::estimate(theta, Steps::ANY_FUNCTION, |plus, minus| {
                let mut at = |x: f64| {
                    point[k].as_slice_mut().expect("internal: standard layout")[flat] = x;
                    self.forward_at(&point, k, flat, cotangent.shape())
                };
                let (up, down) = (at(plus)?, at(minus)?);
                let (difference, magnitude) = termwise_difference(up.view(), down.view(), cotangent.view());
                Ok::<_, String>(Sample {
                    difference,
                    magnitude,
                    smooth: true,
                })
            });
            point[k].as_slice_mut().expect("internal: standard layout")[flat] = theta;
            estimates.push(estimate?);
        }
        Ok(estimates)
    }

    /// The Taylor-remainder test of the gradients under test, along a random direction.
    fn taylor(&self, inputs: &[ArrayD<f64>], checked: &Checked, rng: &mut ChaCha8Rng) -> Option<Taylor> {
        let grads: Vec<&ArrayD<f64>> = checked.actual.grads.iter().map(|(_, g)| g).collect();
        if grads.len() != inputs.len() || grads.iter().zip(inputs).any(|(g, x)| g.shape() != x.shape()) {
            return None;
        }
        let cotangent = ArrayD::random_using(
            catching_panics(|| (self.forward)(inputs)).ok()?.raw_dim(),
            StandardNormal,
            &mut *rng,
        );
        let directions: Vec<ArrayD<f64>> = inputs
            .iter()
            .map(|x| ArrayD::random_using(x.raw_dim(), StandardNormal, &mut *rng))
            .collect();
        let grads = self.vjp(inputs, &cotangent).ok()?;
        let directional: f64 = grads.iter().zip(&directions).map(|(g, u)| (g * u).sum()).sum();
        let size = inputs
            .iter()
            .flat_map(|x| x.iter())
            .fold(1.0_f64, |m, v| m.max(v.abs()));
        taylor::taylor_test(directional, TAYLOR_FIRST * size, |eps| {
            let moved: Vec<ArrayD<f64>> = inputs
                .iter()
                .zip(&directions)
                .map(|(x, u)| x + &(u * eps))
                .collect();
            let out = catching_panics(|| (self.forward)(&moved)).map_err(drop)?;
            if out.shape() != cotangent.shape() {
                return Err(());
            }
            Ok(Zip::from(&out)
                .and(&cotangent)
                .fold((0.0, 0.0), |(s, m), o, v| (s + o * v, m + (o * v).abs())))
        })
        .ok()
    }
}
