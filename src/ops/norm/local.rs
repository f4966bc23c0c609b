//! batchnorm and layernorm one element at a time ([`LocalForward`]).
//!
//! An element x_ab reaches only its group (its column for batchnorm, its row for layernorm): the
//! group's μ, σ² and r = 1/√(σ² + ε) are recomputed with the element moved, and each of the N
//! outputs `γ_col (x − μ) r + β_col` of the group, O(N) instead of the whole forward's O(B·D).
//! μ comes from the group's base sum with the entry exchanged, and σ² from `Σ (x − μ')²` over the
//! base entries with the moved entry's term exchanged: one vectorised pass, within a few ε of
//! the direct sum, and the same formula at θ + h and θ − h.
//! γⱼ and βⱼ reach column j alone, `γⱼ x̂ᵢⱼ + βⱼ` with x̂ from the base point. Both ops are smooth.

use ndarray::{Array1, Array2, ArrayViewD, Axis};

use super::Norm;
use crate::error::Result;
use crate::ops::local::{LocalForward, Reach};

/// The op at fixed inputs: each group's entries contiguous, with their sum and x̂ at the base point.
struct NormLocal {
    by_column: bool,
    /// Columns of x (D × B) for batchnorm, rows (B × D) for layernorm: a group per row.
    groups: Array2<f64>,
    /// Each group's sum at the base point.
    sums: Array1<f64>,
    gamma: Vec<f64>,
    beta: Vec<f64>,
    eps: f64,
    x_hat: Array2<f64>,
}

impl Norm {
    /// [`Op::local`](crate::ops::Op::local) for this op.
    pub(crate) fn op_local<'a>(
        &self,
        inputs: &[ArrayViewD<'a, f64>],
        eps: f64,
    ) -> Result<Option<Box<dyn LocalForward + 'a>>> {
        let (x, gamma, beta) = self.views(inputs, eps)?;
        let by_column = self.axis == Axis(0);
        let groups = if by_column { x.t() } else { x.view() }
            .as_standard_layout()
            .into_owned();
        Ok(Some(Box::new(NormLocal {
            by_column,
            sums: groups.sum_axis(Axis(1)),
            groups,
            gamma: gamma.to_vec(),
            beta: beta.to_vec(),
            eps,
            x_hat: self.normalize(&x, eps).x_hat,
        })))
    }
}

impl NormLocal {
    /// The outputs of x_ij's group with x_ij = `value`: the group's mean from its base sum, its
    /// variance `Σ (x − μ)²` over the group as it was, the moved entry's term exchanged.
    fn moved_x(&self, i: usize, j: usize, value: f64, reach: &mut Reach) {
        let d = self.gamma.len();
        let (group, at) = if self.by_column { (j, i) } else { (i, j) };
        let lane = self.groups.row(group);
        let lane = lane.as_slice().expect("internal: standard layout");
        let n = lane.len() as f64;
        let old = lane[at];
        let mean = (self.sums[group] - old + value) / n;
        let squares = sum_of_squares(lane, mean);
        let variance = (squares - (old - mean) * (old - mean) + (value - mean) * (value - mean)) / n;
        let r = 1.0 / (variance + self.eps).sqrt();
        if self.by_column {
            let (g, b) = (self.gamma[j], self.beta[j]);
            reach.outputs.extend((0..lane.len()).map(|a| a * d + j));
            reach.values.extend(lane.iter().map(|&v| (v - mean) * r * g + b));
            reach.values[at] = (value - mean) * r * g + b;
        } else {
            let (gamma, beta) = (&self.gamma, &self.beta);
            reach.outputs.extend((0..lane.len()).map(|a| i * d + a));
            let outputs = lane.iter().zip(gamma).zip(beta);
            reach
                .values
                .extend(outputs.map(|((&v, &g), &b)| (v - mean) * r * g + b));
            reach.values[at] = (value - mean) * r * gamma[at] + beta[at];
        }
    }
}

/// `Σ (v − mean)²` with four running sums, which vectorise where one does not.
fn sum_of_squares(lane: &[f64], mean: f64) -> f64 {
    let mut sums = [0.0; 4];
    let chunks = lane.chunks_exact(4);
    let tail: f64 = chunks.remainder().iter().map(|v| (v - mean) * (v - mean)).sum();
    for chunk in chunks {
        for (s, v) in sums.iter_mut().zip(chunk) {
            *s += (v - mean) * (v - mean);
        }
    }
    sums.iter().sum::<f64>() + tail
}

impl LocalForward for NormLocal {
    fn reach(&self, input: usize, flat: usize, value: f64, reach: &mut Reach) -> Result<()> {
        reach.clear();
        let (batch, d) = self.x_hat.dim();
        match input {
            0 => self.moved_x(flat / d, flat % d, value, reach),
            _ => {
                let j = flat;
                let (gamma, beta) = if input == 1 {
                    (value, self.beta[j])
                } else {
                    (self.gamma[j], value)
                };
                for i in 0..batch {
                    reach.push(i * d + j, self.x_hat[[i, j]] * gamma + beta);
                }
            }
        }
        Ok(())
    }

    fn smooth(&self, _: usize, _: usize, _: f64, _: f64) -> bool {
        true
    }
}
