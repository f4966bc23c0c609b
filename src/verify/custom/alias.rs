//! Aliased inputs: inputs i and j are the same array, as when a graph uses one value twice
//! (`f(x, x)`). Every case then draws input j equal to input i (an explicit point must have them
//! equal), and checks, beside each input's own gradient, the gradient of the shared array,
//!
//! ```text
//! d/dx f(…, x, …, x, …) = dL/dx_i + dL/dx_j   (the chain rule: uses accumulate),
//! ```
//!
//! against finite differences that move element e of **both** inputs at once (one Richardson
//! sequence per element, in lock-step, a whole round in one call of a batch forward), compared
//! under the same rule as a gradient and reported as `dL/dx0 (≡ x1)`.
//!
//! What it adds is mostly the **diagonal**: random independent draws never make x_i = x_j, and
//! the bugs of a value used twice live there, at ties (`max(x, y)`, `min`, sorting) and in
//! backwards that keep one gradient per distinct value and let the second use overwrite the
//! first. The sum itself follows from the two inputs' own gradients wherever central differences
//! are additive across the pair (a smooth op; at a tie of `max`, where each input's central
//! difference is the ½ of the two one-sided slopes), so a pair that fails here usually fails
//! there too; the finding on the shared array says what the rule is (uses accumulate). A backward
//! that writes both gradients into one buffer cannot show here: the closures get distinct arrays
//! and return distinct arrays.

use ndarray::ArrayD;

use super::case::Outcome;
use super::closures::Closures;
use super::domain;
use super::estimates::{against_estimates, contracted, shaped};
use super::options::Options;
use crate::oracle::richardson::{Estimate, Sequence};
use crate::verify::{Fault, Problem};

/// The most numbers the points of one batch call hold (as for the gradients' own differences).
const BATCH_NUMBERS: usize = 1 << 20;

/// The name of the shared array of an aliased pair in reports: `x0 (≡ x1)`, shown as
/// `dL/dx0 (≡ x1)`.
pub(super) fn name(options: &Options, (i, j): (usize, usize)) -> String {
    format!("{} (≡ {})", options.name(i), options.name(j))
}

/// Sets each aliased input j to its input i (where the shapes agree: a shrunk case whose shapes
/// do not is left as drawn, and the pair is not checked in it).
pub(super) fn tie(inputs: &mut [ArrayD<f64>], aliases: &[(usize, usize)]) {
    for &(i, j) in aliases {
        if inputs[i].shape() == inputs[j].shape() {
            inputs[j] = inputs[i].clone();
        }
    }
}

/// Why an explicit point cannot be used with these aliases, if it cannot.
pub(super) fn untied(point: &[ArrayD<f64>], aliases: &[(usize, usize)], options: &Options) -> Option<String> {
    aliases
        .iter()
        .find(|&&(i, j)| point[i] != point[j])
        .map(|&(i, j)| {
            format!(
                "{} and {} differ, but .alias({i}, {j}) says they are the same array",
                options.name(i),
                options.name(j)
            )
        })
}

/// Checks the gradient of each aliased pair's shared array in the case `outcome` (whose call
/// answered): its comparison and problem join the case's. A forward that fails while the pair
/// moves is a fault on the pair.
pub(super) fn check(op: &Closures<'_>, aliases: &[(usize, usize)], outcome: &mut Outcome, options: &Options) {
    for &pair in aliases {
        let (i, j) = pair;
        let Ok(checked) = &outcome.record.outcome else {
            return;
        };
        let inputs = &outcome.inputs;
        if inputs[i] != inputs[j] {
            continue;
        }
        let sum = match (
            checked.actual.get(&options.name(i)),
            checked.actual.get(&options.name(j)),
        ) {
            (Some(a), Some(b)) if a.shape() == inputs[i].shape() && b.shape() == inputs[i].shape() => a + b,
            // A gradient of the wrong shape is reported as such already.
            _ => continue,
        };
        let name = name(options, pair);
        let estimates = finite_differences(op, inputs, pair, &outcome.cotangents, options);
        let Ok(checked) = &mut outcome.record.outcome else {
            return;
        };
        let estimates = match estimates {
            Ok(estimates) => estimates,
            Err(message) => {
                checked.wrong.push((name, Problem::Fault(Fault::Failed(message))));
                continue;
            }
        };
        let (values, bounds, comparable) = shaped(inputs[i].shape(), &estimates);
        let comparison = against_estimates(&name, &values, &bounds, &comparable, &sum, options);
        if sum.iter().any(|v| !v.is_finite()) {
            checked.wrong.push((name.clone(), Problem::NonFinite));
        } else if !comparison.is_ok() {
            checked.wrong.push((name.clone(), Problem::WrongValues));
        }
        outcome.comparisons.push((name.clone(), comparison));
        outcome.record.expected.grads.push((name.clone(), values));
        checked.actual.grads.push((name, sum));
    }
}

/// The finite-difference gradient of the shared array: each element's Richardson sequence,
/// moving that element of inputs i and j together, all elements in lock-step (one call of the
/// batch forward per round where there is one).
fn finite_differences(
    op: &Closures<'_>,
    inputs: &[ArrayD<f64>],
    (i, j): (usize, usize),
    cotangents: &[ArrayD<f64>],
    options: &Options,
) -> Result<Vec<Estimate>, String> {
    let shared = inputs[i].as_standard_layout().into_owned();
    let domain = options.domains[i];
    let mut sequences: Vec<Sequence> = shared
        .iter()
        .map(|&theta| Sequence::new(theta, domain::steps(options.eps, theta, domain.room(theta))))
        .collect();
    let at = |flat: usize, x: f64| {
        let mut point = inputs.to_vec();
        let mut moved = shared.clone();
        moved.as_slice_mut().expect("internal: standard layout")[flat] = x;
        point[i] = moved.clone();
        point[j] = moved;
        point
    };
    let moved = |flat: usize| {
        format!(
            "{} and {} (the same array) moved at element {flat} (row-major)",
            options.name(i),
            options.name(j)
        )
    };
    // As many elements per call as keep its points within BATCH_NUMBERS numbers.
    let numbers: usize = inputs.iter().map(ArrayD::len).sum();
    let block = (BATCH_NUMBERS / (2 * numbers.max(1))).max(1);
    loop {
        let asked: Vec<(usize, [f64; 2])> = (0..sequences.len())
            .filter_map(|flat| sequences[flat].next_pair().map(|(p, m)| (flat, [p, m])))
            .collect();
        if asked.is_empty() {
            break;
        }
        for block in asked.chunks(block) {
            let points: Vec<Vec<ArrayD<f64>>> = (block.iter())
                .flat_map(|&(flat, xs)| xs.map(|x| at(flat, x)))
                .collect();
            let outputs = match &op.forward_batch {
                Some(batch) => op.forward_batch_at(batch, &points, &|p| moved(block[p / 2].0), cotangents)?,
                None => (points.iter().enumerate())
                    .map(|(p, point)| op.forward_at(point, &|| moved(block[p / 2].0), cotangents))
                    .collect::<Result<_, _>>()?,
            };
            for ((flat, _), pair) in block.iter().zip(outputs.chunks(2)) {
                sequences[*flat].feed(contracted(&pair[0], &pair[1], cotangents));
            }
        }
    }
    Ok(sequences.iter().map(Sequence::estimate).collect())
}
