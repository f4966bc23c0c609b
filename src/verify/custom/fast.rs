//! Fast mode: one random projection per input and case instead of one finite difference per
//! element, as the network's [`projection`](crate::oracle::projection) does.
//!
//! For input k, a direction u of independent random signs (`u_i = ±1`, Rademacher) and the
//! case's cotangents v: the directional derivative `d/ds ⟨v, f(x + s u)⟩` at s = 0 from the
//! Richardson sequence along u (steps kept inside the input's domain), against the gradient
//! under test projected on u, `g·u`. One sequence costs about as many forwards as one element of
//! the full check, whatever the input's size; with a batch forward, each central quotient's two
//! points are one call.
//!
//! **What it can miss**, per projection, with τ the effective tolerance (`rtol` plus the
//! estimate's bound, relative): an error `e_k` in one element is missed only when `|g·u|` exceeds
//! `|e_k|/τ`, with probability about `erfc(|e_k| / (√2·τ‖g‖))` (below 1e-20 for an element off by
//! 1e-3 of ‖g‖ at τ = 1e-6 in a gradient of hundreds of similar elements); an error spread over
//! many elements unrelated to g, about `(2/π)·arctan(τ‖g‖/‖e‖)`; a wrong constant factor c is
//! caught in every projection when `|c − 1| > τ` and in none below. Each case draws a fresh u, so
//! n cases miss a one-element error with the n-th power of that probability. Fast mode has no
//! expected gradient to show, so its findings carry no worst elements and no diagnosis: run the
//! full check on a failure.

use ndarray::{ArrayD, Zip, arr0};
use ndarray_rand::RandomExt;
use ndarray_rand::rand_distr::Bernoulli;
use rand_chacha::ChaCha8Rng;

use super::closures::Closures;
use super::estimates::{against_estimates, contracted};
use super::options::Options;
use crate::compare::{self, Comparison, Tolerance};
use crate::oracle::richardson::{self, Sample};

impl Closures<'_> {
    /// The comparison of `g·u` with the directional derivative along u for input `k`.
    pub(super) fn projection(
        &self,
        inputs: &[ArrayD<f64>],
        k: usize,
        cotangents: &[ArrayD<f64>],
        actual: &ArrayD<f64>,
        rng: &mut ChaCha8Rng,
        options: &Options,
    ) -> Result<Comparison, String> {
        let name = options.name(k);
        let signs = ArrayD::random_using(
            inputs[k].raw_dim(),
            Bernoulli::new(0.5).expect("internal: p in [0, 1]"),
            rng,
        );
        let u = signs.mapv(|up| if up { 1.0 } else { -1.0 });
        if actual.shape() != inputs[k].shape() {
            return Ok(compare::compare(
                &name,
                inputs[k].view(),
                actual.view(),
                &Tolerance::uniform(options.rtol, 0.0),
            ));
        }
        let projected = Zip::from(actual).and(&u).fold(0.0, |s, g, u| s + g * u);
        let domain = options.domains[k];
        let room = inputs[k]
            .iter()
            .fold(f64::INFINITY, |m, &x| m.min(domain.room(x)));
        let steps = super::domain::steps(options.eps, 0.0, room);
        let moved = || format!("{name} (along a random direction)");
        let estimate = richardson::estimate(0.0, steps, |plus, minus| {
            let along = |s: f64| {
                let mut point = inputs.to_vec();
                point[k] = &inputs[k] + &(&u * s);
                point
            };
            self.quotient_sample(&[along(plus), along(minus)], &moved, cotangents)
        })?;
        Ok(against_estimates(
            &name,
            &arr0(estimate.value).into_dyn(),
            &arr0(estimate.error).into_dyn(),
            &arr0(estimate.comparable()).into_dyn(),
            &arr0(projected).into_dyn(),
            options,
        ))
    }
}

impl Closures<'_> {
    /// The sample of one central quotient at its two points `[up, down]` under `cotangents`, the
    /// forward asked in one call of the batch forward where there is one (one round trip to a
    /// program, not two), else one call each.
    fn quotient_sample(
        &self,
        points: &[Vec<ArrayD<f64>>; 2],
        moved: &dyn Fn() -> String,
        cotangents: &[ArrayD<f64>],
    ) -> Result<Sample, String> {
        let [up, down] = match &self.forward_batch {
            Some(batch) => {
                let outputs = self.forward_batch_at(batch, points, &|_| moved(), cotangents)?;
                <[_; 2]>::try_from(outputs).map_err(|_| "internal: two outputs for two points".to_owned())?
            }
            None => [
                self.forward_at(&points[0], moved, cotangents)?,
                self.forward_at(&points[1], moved, cotangents)?,
            ],
        };
        Ok(contracted(&up, &down, cotangents))
    }
}
