//! Compound layers as candle-nn writes them from candle-core ops (candle-nn is not a
//! dependency: these are its formulas). softmax(x)ᵢ = e^(xᵢ − max x) / Σ e^(xⱼ − max x), whose VJP
//! is s ⊙ (v − ⟨v, s⟩); log_softmax(x) = x − logsumexp(x), VJP v − softmax(x) Σ v; layer norm
//! (x − μ)/√(σ² + ε) · γ + β over the last axis, RMS norm x / √(mean x² + ε) · γ, the L2 norm
//! √Σx². The max subtracted in softmax has a gradient that cancels exactly; a tie has
//! probability zero.

use candle_core::{D, Tensor};

use super::{Sample, sample};

const EPS: f64 = 1e-5;

fn softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    let shifted = x.broadcast_sub(&x.max_keepdim(D::Minus1)?)?;
    let e = shifted.exp()?;
    e.broadcast_div(&e.sum_keepdim(D::Minus1)?)
}

fn log_softmax(x: &Tensor) -> candle_core::Result<Tensor> {
    x.broadcast_sub(&x.log_sum_exp(D::Minus1)?.unsqueeze(D::Minus1)?)
}

fn layer_norm(x: &Tensor, gamma: &Tensor, beta: &Tensor) -> candle_core::Result<Tensor> {
    let mean = x.mean_keepdim(D::Minus1)?;
    let centred = x.broadcast_sub(&mean)?;
    let var = centred.sqr()?.mean_keepdim(D::Minus1)?;
    centred
        .broadcast_div(&(var + EPS)?.sqrt()?)?
        .broadcast_mul(gamma)?
        .broadcast_add(beta)
}

fn rms_norm(x: &Tensor, gamma: &Tensor) -> candle_core::Result<Tensor> {
    let ms = x.sqr()?.mean_keepdim(D::Minus1)?;
    x.broadcast_div(&(ms + EPS)?.sqrt()?)?.broadcast_mul(gamma)
}

pub(super) fn samples() -> Vec<Sample> {
    vec![
        sample("softmax", "[3, 5] last axis", &[&[3, 5]], |x| softmax(&x[0])),
        sample("softmax", "B = 1: [1, 4]", &[&[1, 4]], |x| softmax(&x[0])),
        sample("log_softmax", "[2, 3, 4] last axis", &[&[2, 3, 4]], |x| {
            log_softmax(&x[0])
        }),
        sample(
            "layer_norm",
            "x [3, 5], gamma [5], beta [5]",
            &[&[3, 5], &[5], &[5]],
            |x| layer_norm(&x[0], &x[1], &x[2]),
        ),
        sample("rms_norm", "x [2, 3, 4], gamma [4]", &[&[2, 3, 4], &[4]], |x| {
            rms_norm(&x[0], &x[1])
        }),
        sample("norm", "L2 of [3, 4]", &[&[3, 4]], |x| x[0].norm()),
    ]
}
