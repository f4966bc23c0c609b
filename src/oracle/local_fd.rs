//! Central finite differences of one op, one element at a time.
//!
//! When the output is one op whose inputs are all leaves, moving an element θ of a leaf changes
//! only the outputs it reaches ([`LocalForward`](crate::ops::LocalForward)), so each quotient of
//! [`richardson`] reads `Σ_{j ∈ reach} vⱼ (outⱼ(θ + h) − outⱼ(θ − h))` from those outputs alone, the
//! difference taken term by term as in [`finite_diff`](super::finite_diff). The elements are
//! independent and run in parallel.
//!
//! **The rounding bound** is the tape oracle's, `Σ |∂L/∂n| |n|` over the values an evaluation
//! changed, here the reached outputs (weights |vⱼ|) and the moved element, whose weight, the
//! gradient at θ ± h, is taken from the one-sided quotient `|Σⱼ vⱼ (outⱼ(θ ± h) − outⱼ(θ))| / h`
//! rather than from the op's Jacobian (an O(outputs · inputs) matrix per step): at a point where
//! the gradient at θ vanishes (a perfect fit) it is still of the order of the gradient at θ ± h,
//! which is all a rounding bound needs. A scalar output that did not move is bounded by its own
//! magnitude, as in the tape oracle, and so is a reach none of whose outputs moved where the
//! reach is the op's own local form: every output of it has the element in its formula, so a
//! difference of exactly 0 is only known to within their rounding (a tanh saturated to within an
//! ulp of 1). A [`Whole`] reach is every output, most of which the element may never move.
//!
//! **Kinks**: a step is used only where the op is smooth along the element's move from θ − h to
//! θ and from θ to θ + h ([`LocalForward::smooth`](crate::ops::LocalForward::smooth)).

use ndarray::ArrayViewD;
use rayon::prelude::*;

use super::fd_config::{FdConfig, FdGradient, unresolved_reach, unresolved_scalar};
use super::richardson::{self, Estimate, Sample};
use crate::error::Result;
use crate::ops::Op;
use crate::ops::local::{LocalForward, Reach, Whole};

/// Elements per parallel task: enough to amortise a task on small ops.
const ELEMENTS_PER_TASK: usize = 16;

/// The finite-difference gradients of `L = ⟨cotangent, op(inputs)⟩` with respect to each of
/// `inputs[k]` for k in `wrt`, where `base` is the op's output at `inputs`. The op's local form
/// (or [`Whole`]) is built once for all of them.
pub fn gradients(
    op: &dyn Op,
    inputs: &[ArrayViewD<'_, f64>],
    wrt: &[usize],
    base: ArrayViewD<'_, f64>,
    cotangent: ArrayViewD<'_, f64>,
    config: FdConfig,
) -> Result<Vec<FdGradient>> {
    let (local, structural): (Box<dyn LocalForward + '_>, bool) = match op.local(inputs)? {
        Some(local) => (local, true),
        None => (Box::new(Whole::new(op, inputs, base.shape())), false),
    };
    let point = Point {
        local: local.as_ref(),
        structural,
        base: base.as_standard_layout().iter().copied().collect(),
        cotangent: cotangent.as_standard_layout().iter().copied().collect(),
    };
    wrt.iter()
        .map(|&input| point.gradient(input, inputs[input].view(), config))
        .collect()
}

/// The op at the base point, and the objective's weights.
struct Point<'p> {
    local: &'p dyn LocalForward,
    /// Whether a reach is the outputs its element is in the formula of (the op's own local
    /// form), rather than every output ([`Whole`]).
    structural: bool,
    /// The output at the base point, row-major.
    base: Vec<f64>,
    /// The cotangent v, row-major.
    cotangent: Vec<f64>,
}

/// The sums one evaluation pair contributes to a [`Sample`].
#[derive(Default)]
struct Sums {
    /// `Σ vⱼ (upⱼ − downⱼ)` over the terms that changed.
    difference: f64,
    /// `Σ |vⱼ| (|upⱼ| + |downⱼ|)` over the same.
    changed: f64,
    /// `Σ |vⱼ| (|upⱼ| + |downⱼ|)` over the whole reach, changed or not.
    reached: f64,
    /// `Σ |vⱼ| |upⱼ|` over the outputs θ + h moved from the base, and likewise θ − h.
    moved_up: f64,
    moved_down: f64,
    /// `Σ vⱼ (upⱼ − baseⱼ)` and `Σ vⱼ (baseⱼ − downⱼ)`: the one-sided differences.
    side_up: f64,
    side_down: f64,
}

impl Point<'_> {
    /// Every element of `inputs[input]` (whose values are `leaf`), in parallel.
    fn gradient(&self, input: usize, leaf: ArrayViewD<'_, f64>, config: FdConfig) -> Result<FdGradient> {
        let leaf = leaf.as_standard_layout();
        let thetas = leaf.as_slice().expect("internal: standard layout");
        let estimates = thetas
            .par_iter()
            .enumerate()
            .with_min_len(ELEMENTS_PER_TASK)
            .map_init(
                || (Reach::default(), Reach::default()),
                |(up, down), (flat, &theta)| self.estimate(input, flat, theta, config, up, down),
            )
            .collect::<Result<Vec<Estimate>>>()?;
        Ok(FdGradient::from_estimates(leaf.shape(), &estimates))
    }

    fn estimate(
        &self,
        input: usize,
        flat: usize,
        theta: f64,
        config: FdConfig,
        up: &mut Reach,
        down: &mut Reach,
    ) -> Result<Estimate> {
        richardson::estimate(theta, config.steps(), |plus, minus| {
            self.local.reach(input, flat, plus, up)?;
            self.local.reach(input, flat, minus, down)?;
            let s = self.sums(up, down);
            let slope = |side: f64, x: f64| {
                if x == theta {
                    0.0
                } else {
                    (side / (x - theta)).abs()
                }
            };
            let moved_element = slope(s.side_up, plus) * plus.abs() + slope(s.side_down, minus) * minus.abs();
            Ok(Sample {
                difference: s.difference,
                magnitude: s.moved_up + s.moved_down + moved_element + self.unresolved(&s, up, down),
                smooth: self.local.smooth(input, flat, minus, theta)
                    && self.local.smooth(input, flat, theta, plus),
            })
        })
    }

    fn sums(&self, up: &Reach, down: &Reach) -> Sums {
        debug_assert_eq!(up.outputs, down.outputs, "a reach depends on the element only");
        let mut s = Sums::default();
        // Unchanged terms count 0; written as selects, which the loop vectorises.
        let when = |changed: bool, term: f64| if changed { term } else { 0.0 };
        for ((&j, &u), &d) in up.outputs.iter().zip(&up.values).zip(&down.values) {
            let (v, b) = (self.cotangent[j], self.base[j]);
            s.difference += when(u != d, v * (u - d));
            s.changed += when(u != d, v.abs() * (u.abs() + d.abs()));
            s.reached += v.abs() * (u.abs() + d.abs());
            s.moved_up += when(u != b, v.abs() * u.abs());
            s.side_up += when(u != b, v * (u - b));
            s.moved_down += when(d != b, v.abs() * d.abs());
            s.side_down += when(d != b, v * (b - d));
        }
        s
    }

    /// The bound on a reach that did not move: [`unresolved_reach`] for a local form's, else
    /// the tape oracle's on a scalar output ([`unresolved_scalar`]).
    fn unresolved(&self, s: &Sums, up: &Reach, down: &Reach) -> f64 {
        if self.structural {
            return unresolved_reach(s.changed, s.reached);
        }
        match (&self.base[..], up.values.first(), down.values.first()) {
            ([_], Some(&u), Some(&d)) => unresolved_scalar(s.changed, u, d, self.cotangent[0]),
            _ => 0.0,
        }
    }
}
