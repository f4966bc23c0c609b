//! The Taylor-remainder test of a custom op's gradients along a random direction
//! ([`taylor`](crate::oracle::taylor)): a note beside the verdict, never part of it. Inputs
//! marked `no_grad` are not moved, and no step leaves an input's domain.

use ndarray::{ArrayD, Zip};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::StandardNormal;
use rand_chacha::ChaCha8Rng;

use super::OpCheck;
use crate::oracle::taylor::{self, Taylor};

/// The Taylor test's first ε, relative to the size of the inputs.
const TAYLOR_FIRST: f64 = 1e-3;

impl OpCheck<'_> {
    /// The Taylor-remainder test of the gradients under test at `inputs`; `None` where the op
    /// cannot give it (a fault, a gradient of the wrong shape).
    pub(super) fn taylor(&self, inputs: &[ArrayD<f64>], rng: &mut ChaCha8Rng) -> Option<Taylor> {
        let outputs = self.op.outputs(inputs).ok()?;
        let cotangents: Vec<ArrayD<f64>> = outputs
            .iter()
            .map(|o| ArrayD::random_using(o.raw_dim(), StandardNormal, &mut *rng))
            .collect();
        let directions: Vec<ArrayD<f64>> = inputs
            .iter()
            .zip(&self.options.no_grad)
            .map(|(x, &fixed)| {
                let u = ArrayD::random_using(x.raw_dim(), StandardNormal, &mut *rng);
                if fixed { ArrayD::zeros(x.raw_dim()) } else { u }
            })
            .collect();
        let grads = self.op.vjp(inputs, &cotangents).ok()?;
        if grads.iter().zip(inputs).any(|(g, x)| g.shape() != x.shape()) {
            return None;
        }
        let directional: f64 = self
            .options
            .compared()
            .map(|k| (&grads[k] * &directions[k]).sum())
            .sum();
        let size = inputs
            .iter()
            .flat_map(|x| x.iter())
            .fold(1.0_f64, |m, v| m.max(v.abs()));
        // Every ε of the sequence keeps the inputs inside their domains: at most half the room
        // to the nearest bound, per element, along the direction.
        let room = inputs
            .iter()
            .zip(&directions)
            .zip(&self.options.domains)
            .flat_map(|((x, u), domain)| {
                x.iter()
                    .zip(u.iter())
                    .filter(|(_, u)| **u != 0.0)
                    .map(move |(x, u)| domain.room(*x) / u.abs())
            })
            .fold(f64::INFINITY, f64::min);
        let first = (TAYLOR_FIRST * size).min(room / 2.0);
        if first <= 0.0 {
            return None;
        }
        taylor::taylor_test(directional, first, |eps| {
            let moved: Vec<ArrayD<f64>> = inputs
                .iter()
                .zip(&directions)
                .map(|(x, u)| x + &(u * eps))
                .collect();
            let outs = self.op.outputs(&moved).map_err(drop)?;
            if outs.len() != cotangents.len()
                || outs.iter().zip(&cotangents).any(|(o, v)| o.shape() != v.shape())
            {
                return Err(());
            }
            Ok(outs.iter().zip(&cotangents).fold((0.0, 0.0), |acc, (out, v)| {
                Zip::from(out)
                    .and(v)
                    .fold(acc, |(s, m), o, v| (s + o * v, m + (o * v).abs()))
            }))
        })
        .ok()
    }
}
