//! Second order: the backward's own derivative, checked as PyTorch's `gradgradcheck` and JAX's
//! `check_grads(order=2)` check it, against finite differences of the backward itself.
//!
//! For fixed inputs x and cotangents v, the VJP is a function of x, `g(x) = VJP(x, v) = J(x)ᵀ v`.
//! Its derivative along a direction d (one array per input) is
//!
//! ```text
//! ġ = d/dt VJP(x + t·d, v) at t = 0 = (Σⱼ vⱼ ∇²fⱼ(x)) · d,
//! ```
//!
//! the Hessian of `⟨v, f⟩` times d: a Hessian-vector product, which a double backward computes
//! (the backward of the backward, with d as the cotangent of the gradient; `ġ_k` is the
//! derivative of `dL/dx_k`). The op supplies it, `second_order(inputs, cotangents, directions)
//! -> ġ` (one array per input, shaped like it), and each case checks it at the case's inputs
//! and cotangents along a random direction: standard normal for every input, zero for an input
//! marked `no_grad`.
//!
//! **The oracle** is the first-order one turned on the backward: each element of ġ from its
//! Richardson sequence in t ([`richardson::estimate`]), central differences `(g(x + t d) −
//! g(x − t d)) / 2t` over a shrinking sequence of t extrapolated with its error bound, the
//! backwards at each t shared by every element. The steps stay inside every input's domain (the
//! first step at most half of `min room(x)/|d|` over the elements). Each element of ġ is then
//! compared under the same rule as a gradient (`rtol` certifies, plus the estimate's bound;
//! `atol` only excuses; an estimate that does not converge is not comparable), and reported as
//! `dL/dx0 (second order)`: wrong values, a wrong shape, NaN, and an inconclusive verdict when
//! nothing was certified. A backward that is itself wrong makes the oracle wrong too: the
//! first-order comparison says so beside it.

use ndarray::ArrayD;
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::case::Outcome;
use super::closures::{self, Closures};
use super::estimates::{against_estimates, along_line, problem, shaped};
use super::options::Options;
use crate::oracle::richardson::Estimate;
use crate::verify::{Fault, Problem};

/// The second-order product: inputs, one cotangent per output and one direction per input, to
/// `d/dt VJP(x + t·d, v)` at t = 0, one array per input.
pub(super) type SecondOrder<'a> =
    Box<dyn Fn(&[ArrayD<f64>], &[ArrayD<f64>], &[ArrayD<f64>]) -> Result<Vec<ArrayD<f64>>, Fault> + 'a>;

/// The name of input `input`'s second-order product in reports (`x0 (second order)`, shown as
/// `dL/dx0 (second order)`).
pub(super) fn name(input: &str) -> String {
    format!("{input} (second order)")
}

/// Checks `product` in the case `outcome` (whose call answered), along a direction drawn from
/// `rng`: its comparisons and problems join the case's, one per compared input. A call that
/// fails is a fault on each of them, the first-order results kept.
pub(super) fn check(
    op: &Closures<'_>,
    product: &SecondOrder<'_>,
    outcome: &mut Outcome,
    rng: &mut ChaCha8Rng,
    options: &Options,
) {
    let Ok(checked) = &mut outcome.record.outcome else {
        return;
    };
    let (inputs, cotangents) = (&outcome.inputs, &outcome.cotangents);
    let directions: Vec<ArrayD<f64>> = inputs
        .iter()
        .zip(&options.no_grad)
        .map(|(x, &fixed)| {
            let d = ArrayD::random_using(x.raw_dim(), StandardNormal, &mut *rng);
            if fixed { ArrayD::zeros(x.raw_dim()) } else { d }
        })
        .collect();
    let answered = closures::call("the second-order product", || {
        product(inputs, cotangents, &directions)
    })
    .and_then(|answer| {
        if answer.len() == inputs.len() {
            Ok(answer)
        } else {
            Err(format!(
                "the second-order product returned {} arrays for {} inputs",
                answer.len(),
                inputs.len()
            ))
        }
    })
    .and_then(|answer| {
        Ok((
            along_direction(op, inputs, &directions, cotangents, options)?,
            answer,
        ))
    });
    let (estimates, answer) = match answered {
        Ok(both) => both,
        Err(message) => {
            for k in options.compared() {
                let problem = Problem::Fault(Fault::Failed(message.clone()));
                checked.wrong.push((name(&options.name(k)), problem));
            }
            return;
        }
    };
    for k in options.compared() {
        let (name, actual) = (name(&options.name(k)), &answer[k]);
        let (values, bounds, comparable) = shaped(inputs[k].shape(), &estimates[k]);
        let comparison = against_estimates(&name, &values, &bounds, &comparable, actual, options);
        if let Some(problem) = problem(actual, values.shape(), &comparison) {
            checked.wrong.push((name.clone(), problem));
        }
        outcome.comparisons.push((name.clone(), comparison));
        outcome.record.expected.grads.push((name.clone(), values));
        checked.actual.grads.push((name, actual.clone()));
    }
}

/// The finite-difference `d/dt VJP(x + t·d, v)` for every element of every compared input's
/// gradient: backwards at `x ± t·d` shared by all elements.
fn along_direction(
    op: &Closures<'_>,
    inputs: &[ArrayD<f64>],
    directions: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
    options: &Options,
) -> Result<Vec<Vec<Estimate>>, String> {
    let lengths: Vec<usize> = (0..inputs.len())
        .map(|k| if options.no_grad[k] { 0 } else { inputs[k].len() })
        .collect();
    along_line(inputs, directions, options, &lengths, |point| {
        let grads = op
            .vjp(point, cotangents)
            .map_err(|m| format!("{m} when every input moved along the second-order direction"))?;
        if let Some((j, g)) = (grads.iter().enumerate()).find(|(j, g)| g.shape() != inputs[*j].shape()) {
            return Err(format!(
                "the backward's gradient of {} has shape {:?}, expected {:?}: the second order cannot be checked",
                options.name(j),
                g.shape(),
                inputs[j].shape()
            ));
        }
        Ok(grads)
    })
}
