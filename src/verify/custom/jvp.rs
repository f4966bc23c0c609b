//! Forward mode: a JVP `jvp(inputs, tangents) -> J u` (one output tangent per output), checked
//! two ways.
//!
//! 1. **Against finite differences along the tangent**: `J u = d/ds f(x + s u)` at s = 0, each
//!    output element from the Richardson sequence in s (steps kept inside every input's domain),
//!    compared element by element under the same `rtol`/`atol` rule as the gradients. The
//!    forwards along u are shared by all output elements, so this costs one sequence.
//! 2. **The dot-product test** against the VJP, with no finite differences (a third road, as in
//!    adjoint testing): `⟨J u, v⟩ = ⟨u, Jᵀ v⟩` for the case's cotangents v and the backward's
//!    gradients `Jᵀ v`. Both sides are the same bilinear form summed in different orders, so they
//!    agree to rounding: within [`DOT_ROUNDING`] of the sum of the absolute terms of both sides.
//!    It fails when either the JVP or the VJP is wrong (and says so; the finite differences say
//!    which).
//!
//! The tangent is standard normal for every input, zero for an input marked `no_grad`.

use ndarray::{ArrayD, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::closures::{self, Closures, Linearised};
use super::estimates::{against_estimates, along_line, problem, shaped};
use super::options::Options;
use crate::compare::Comparison;
use crate::oracle::richardson;
use crate::verify::Problem;

/// The dot-product test's tolerance, relative to the sum of the absolute terms: a small multiple
/// of machine epsilon (4096 ε ≈ 9e-13), as the two sides round differently over up to thousands
/// of terms each.
pub const DOT_ROUNDING: f64 = 4096.0 * f64::EPSILON;

/// The dot-product test of one case.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct DotTest {
    /// `⟨J u, v⟩`, from the JVP.
    pub(super) forward: f64,
    /// `⟨u, Jᵀ v⟩`, from the VJP.
    pub(super) reverse: f64,
    /// The sum of the absolute terms of both sides.
    pub(super) size: f64,
}

impl DotTest {
    /// Both sides agree to rounding.
    pub(super) fn holds(&self) -> bool {
        (self.forward - self.reverse).abs() <= DOT_ROUNDING * self.size
    }
}

impl std::fmt::Display for DotTest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "the dot-product test ⟨J u, v⟩ = ⟨u, Jᵀ v⟩ fails: the JVP gives {:.6e} and the VJP {:.6e}, {:.1e} apart where rounding allows {:.1e}: the JVP or the VJP is wrong",
            self.forward,
            self.reverse,
            (self.forward - self.reverse).abs(),
            DOT_ROUNDING * self.size
        )
    }
}

/// Per output: name, finite-difference `J u`, the JVP's `J u`, their comparison, its problem.
type Compared = (String, ArrayD<f64>, ArrayD<f64>, Comparison, Option<Problem>);

/// The forward mode of one case.
pub(super) struct ForwardMode {
    pub(super) outputs: Vec<Compared>,
    /// The dot-product test, where both sides could be formed.
    pub(super) dot: Option<DotTest>,
}

/// The name of output `j`'s tangent in reports: `jvp`, or `jvp_y0`, `jvp_y1`, … for several.
pub(super) fn tangent_name(j: usize, outputs: usize) -> String {
    if outputs == 1 {
        "jvp".to_owned()
    } else {
        format!("jvp_y{j}")
    }
}

/// Checks `jvp` at `inputs`; `grads` are the backward's answers to `cotangents`.
pub(super) fn check(
    op: &Closures<'_>,
    jvp: &Linearised<'_>,
    inputs: &[ArrayD<f64>],
    cotangents: &[ArrayD<f64>],
    grads: &[ArrayD<f64>],
    rng: &mut ChaCha8Rng,
    options: &Options,
) -> Result<ForwardMode, String> {
    let tangents: Vec<ArrayD<f64>> = inputs
        .iter()
        .zip(&options.no_grad)
        .map(|(x, &fixed)| {
            let u = ArrayD::random_using(x.raw_dim(), StandardNormal, &mut *rng);
            if fixed { ArrayD::zeros(x.raw_dim()) } else { u }
        })
        .collect();
    let answer = closures::call("the jvp", || jvp(inputs, &tangents))?;
    if answer.len() != cotangents.len() {
        return Err(format!(
            "the jvp returned {} output tangents for {} outputs",
            answer.len(),
            cotangents.len()
        ));
    }
    let estimates = along_tangent(op, inputs, &tangents, cotangents, options)?;
    let mut outputs = Vec::with_capacity(answer.len());
    for (j, (actual, estimates)) in answer.into_iter().zip(estimates).enumerate() {
        let name = tangent_name(j, cotangents.len());
        let (values, bounds, comparable) = shaped(cotangents[j].shape(), &estimates);
        let comparison = against_estimates(&name, &values, &bounds, &comparable, &actual, options);
        let problem = problem(&actual, values.shape(), &comparison);
        outputs.push((name, values, actual, comparison, problem));
    }
    let fits = |a: &ArrayD<f64>, b: &ArrayD<f64>| a.shape() == b.shape();
    let usable = outputs.iter().zip(cotangents).all(|(o, v)| fits(&o.2, v))
        && options.compared().all(|k| fits(&grads[k], &tangents[k]));
    let dot = usable.then(|| {
        let terms = |a: &ArrayD<f64>, b: &ArrayD<f64>| {
            Zip::from(a)
                .and(b)
                .fold((0.0, 0.0), |(s, m), x, y| (s + x * y, m + (x * y).abs()))
        };
        let (forward, forward_size) = outputs
            .iter()
            .zip(cotangents)
            .map(|(o, v)| terms(&o.2, v))
            .fold((0.0, 0.0), |(s, m), (a, b)| (s + a, m + b));
        let (reverse, reverse_size) = options
            .compared()
            .map(|k| terms(&grads[k], &tangents[k]))
            .fold((0.0, 0.0), |(s, m), (a, b)| (s + a, m + b));
        DotTest {
            forward,
            reverse,
            size: forward_size + reverse_size,
        }
    });
    Ok(ForwardMode { outputs, dot })
}

/// The finite-difference `J u` for every element of every output: forwards at `x + s u` shared
/// by all elements.
fn along_tangent(
    op: &Closures<'_>,
    inputs: &[ArrayD<f64>],
    tangents: &[ArrayD<f64>],
    like: &[ArrayD<f64>],
    options: &Options,
) -> Result<Vec<Vec<richardson::Estimate>>, String> {
    let moved = || "every input (along the tangent)".to_owned();
    let lengths: Vec<usize> = like.iter().map(ArrayD::len).collect();
    along_line(inputs, tangents, options, &lengths, |point| {
        op.forward_at(point, &moved, like)
    })
}
