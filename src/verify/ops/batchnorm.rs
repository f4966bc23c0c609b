//! batchnorm (training mode), per column j of the B×D matrix x: μⱼ, the biased variance σⱼ²,
//! x̂ = (x − μ)/√(σ² + ε), out = γ ⊙ x̂ + β (`crate::ops::batchnorm`, B ≥ 2). With r = 1/√(σ² + ε)
//! and dx̂ = γ ⊙ dout the gradients are dx = r/B · (B dx̂ − Σᵢ dx̂ − x̂ Σᵢ dx̂ ⊙ x̂),
//! dγ = Σᵢ dout ⊙ x̂, dβ = Σᵢ dout.
//!
//! Its bugs, and layernorm's: `stats_as_constants` (dx = γ ⊙ dout · r, as if μ and σ did not
//! depend on x), `wrong_axis` (the statistics of the other op's axis: layernorm's rows here,
//! batchnorm's columns in layernorm), and batchnorm's `unbiased_variance` (σ² with ÷(B − 1),
//! makemore's choice, and its exact backward).

use std::sync::Arc;

use ndarray::{Array1, Array2, ArrayD, ArrayView2, Axis};
use ndarray_rand::rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::course::CourseOp;
use crate::catalogue::{AttrSpec, Bug, GradOut, InputSpec, OpSpec, Request};
use crate::ops::{BatchNorm, DEFAULT_EPS, LayerNorm, Op};
use crate::random;
use crate::verify::hypotheses::Evidence;
use crate::verify::report::Diagnosis;

/// The inputs of both norms: `x: B×D`, `gamma: D`, `beta: D`.
pub const NORM_INPUTS: &[InputSpec] = &[
    InputSpec::real("x", &["B", "D"]),
    InputSpec::real("gamma", &["D"]),
    InputSpec::real("beta", &["D"]),
];

/// The attribute of both norms: `eps`, 1e-5 when left out.
pub const NORM_ATTRS: &[AttrSpec] = &[AttrSpec {
    name: "eps",
    default: Some(DEFAULT_EPS),
    integer: false,
}];

/// batchnorm on the wire.
pub static SPEC: OpSpec = OpSpec {
    name: "batchnorm",
    family: "normalisation",
    dims: &["B", "D"],
    inputs: NORM_INPUTS,
    attrs: NORM_ATTRS,
    grad_out: GradOut::Array(&["B", "D"]),
    extras: &[],
};

/// μ and σ treated as constants.
pub const STATS_AS_CONSTANTS: Bug = Bug {
    code: "stats_as_constants",
    summary: "backpropagated as if the mean and variance were constants: you return γ ⊙ dout / √(σ² + ε); μ and σ² depend on every x of their group, dx = r/N · (N dx̂ − Σ dx̂ − x̂ Σ dx̂ ⊙ x̂) with dx̂ = γ ⊙ dout",
    explain: "\
stats_as_constants: batchnorm or layernorm backpropagated as if μ and σ were constants

x̂ = (x − μ) / √(σ² + ε), and both μ and σ² are functions of every x in the group
(a column of the batch for batchnorm, a row for layernorm), so each x reaches the output
three ways: directly, through μ and through σ². With r = 1/√(σ² + ε), N the group's
size and dx̂ = γ ⊙ dout, the sum of the three is
    dx = r/N · (N dx̂ − Σ dx̂ − x̂ Σ (dx̂ ⊙ x̂)),
the sums over the group. Your gradient is only the first path, r · dx̂.

Typical wrong code:
    dx = dout * gamma / np.sqrt(var + eps)
Fix (batchnorm; layernorm sums over axis=1 with N = D, keepdims=True):
    dxhat = dout * gamma
    dx = (N * dxhat - dxhat.sum(0) - xhat * (dxhat * xhat).sum(0)) / (N * np.sqrt(var + eps))
",
    parameter: None,
};

/// The statistics taken along the other op's axis.
pub const WRONG_AXIS: Bug = Bug {
    code: "wrong_axis",
    summary: "the statistics are taken along the wrong axis: batchnorm normalises each feature over the batch (a column, axis 0), layernorm each data point over its features (a row, axis 1); you return the other op's gradient",
    explain: "\
wrong_axis: batchnorm's statistics per row, or layernorm's per column

Both ops compute out = γ ⊙ (x − μ)/√(σ² + ε) + β with γ and β per feature, but over
different groups: batchnorm takes μ and σ² of each column (one feature over the B
data points, axis 0), layernorm of each row (one data point over its D features,
axis 1). Your gradient is exactly the other op's: the sums of the backward run along
the wrong axis.

Typical wrong code (layernorm):
    mu = x.mean(axis=0); var = x.var(axis=0)
Fix:
    mu = x.mean(axis=1, keepdims=True); var = x.var(axis=1, keepdims=True)
and every sum of the backward along the same axis.
",
    parameter: None,
};

/// batchnorm with the unbiased variance.
pub const UNBIASED_VARIANCE: Bug = Bug {
    code: "unbiased_variance",
    summary: "batchnorm with the unbiased variance ÷(B − 1): in training batchnorm normalises by the biased variance σ² = (1/B) Σ (x − μ)², as PyTorch and the protocol do",
    explain: "\
unbiased_variance: batchnorm with ÷(B − 1) where the biased variance belongs

In training, batchnorm normalises each column by its biased variance
σ² = (1/B) Σᵢ (xᵢ − μ)² (PyTorch's BatchNorm, CS231n, the protocol); the unbiased
estimate ÷(B − 1) (makemore's bnvar) is only what PyTorch keeps for the running
average. Your gradient is the exact backward of the ÷(B − 1) forward: it differs by
terms of order 1/B, so small batches show it most.

Typical wrong code:
    var = ((x - mu) ** 2).sum(0) / (B - 1)
Fix:
    var = ((x - mu) ** 2).sum(0) / B        # np.var(x, axis=0)
",
    parameter: None,
};

/// The batchnorm op.
pub struct BatchNormOp;

impl CourseOp for BatchNormOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D], B ≥ 2.
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[&[2, 3], &[4, 4], &[5, 2], &[3, 1], &[6, 5]]
    }

    fn reference(&self, attrs: &[f64]) -> Arc<dyn Op> {
        Arc::new(BatchNorm { eps: attrs[0] })
    }

    /// ε = 1e-5.
    fn draw_attrs(&self, _dims: &[usize], _rng: &mut ChaCha8Rng) -> Vec<f64> {
        vec![DEFAULT_EPS]
    }

    fn draw_values(&self, dims: &[usize], _attrs: &[f64], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
        norm_inputs(dims, rng)
    }

    /// B ≥ 3: with two rows x̂ = ±1 up to ε, and dx, exactly 0 at ε = 0, is a cancellation of
    /// O(1) terms to O(ε) that no oracle resolves to 1e-12 of itself.
    fn sweep_dims(&self, rng: &mut ChaCha8Rng, batch: usize, max_width: usize) -> Vec<usize> {
        vec![batch.max(3), rng.random_range(1..=max_width)]
    }

    /// ε = 1e-5.
    fn sized_attrs(&self) -> Vec<f64> {
        vec![DEFAULT_EPS]
    }

    fn sized_dims(&self, batch: usize, width: usize) -> Option<Vec<usize>> {
        (batch >= 2).then(|| vec![batch, width])
    }

    /// B ≥ 2.
    fn admits(&self, dims: &[usize]) -> bool {
        dims[0] >= 2
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&STATS_AS_CONSTANTS, &WRONG_AXIS, &UNBIASED_VARIANCE]
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let eps = request.attr("eps");
        let mut found = norm_hypotheses(request, e, Axis(0), &LayerNorm { eps });
        let (x, gamma, grad) = (
            request.matrix("x"),
            request.vector("gamma"),
            request.upstream_matrix(),
        );
        let b = x.nrows() as f64;
        let mu = x.mean_axis(Axis(0)).expect("internal: B ≥ 2");
        let centred = &x - &mu;
        let var_u = centred.mapv(|v| v * v).sum_axis(Axis(0)) / (b - 1.0);
        let r = var_u.mapv(|v| 1.0 / (v + eps).sqrt());
        let x_hat = &centred * &r;
        let unbiased = match e.input {
            "x" => {
                let sum_g = grad.sum_axis(Axis(0));
                let sum_gx = (&grad * &x_hat).sum_axis(Axis(0));
                let inner = &grad * b - &sum_g - &x_hat * &sum_gx * (b / (b - 1.0));
                (inner * &(&gamma * &r / b)).into_dyn()
            }
            "gamma" => (&grad * &x_hat).sum_axis(Axis(0)).into_dyn(),
            _ => return found,
        };
        found.push((Diagnosis::Bug(&UNBIASED_VARIANCE), unbiased));
        found
    }
}

/// x, γ, β of a norm at [B, D]: x off-centre and spread, γ away from 0.
pub fn norm_inputs(dims: &[usize], rng: &mut ChaCha8Rng) -> Vec<ArrayD<f64>> {
    let (b, d) = (dims[0], dims[1]);
    let x = random::normal_matrix(rng, b, d) * 2.0 + random::normal_vector(rng, d);
    let gamma = random::normal_vector(rng, d).mapv(|g| g + g.signum());
    let beta = random::normal_vector(rng, d);
    vec![x.into_dyn(), gamma.into_dyn(), beta.into_dyn()]
}

/// The bugs both norms share, for a norm whose groups run along `axis`; `other` is the op of
/// the other axis, whose exact gradient is `wrong_axis`'s prediction.
pub fn norm_hypotheses(
    request: &Request,
    e: &Evidence<'_>,
    axis: Axis,
    other: &dyn Op,
) -> Vec<(Diagnosis, ArrayD<f64>)> {
    let mut found = Vec::new();
    let views: Vec<_> = request.inputs().iter().map(|a| a.view()).collect();
    let input = ["x", "gamma", "beta"].iter().position(|&n| n == e.input);
    if let Some(k) = input {
        let mut wanted = [false; 3];
        wanted[k] = true;
        let other_group = request.matrix("x").len_of(Axis(1 - axis.index()));
        match other.vjp(&views, request.upstream(), &wanted) {
            Ok(mut grads) => {
                if let Some(g) = grads[k].take() {
                    found.push((Diagnosis::Bug(&WRONG_AXIS), g));
                }
            }
            // Groups of one along the other axis: x̂ = 0, so dx and dγ are 0 (dβ is right).
            Err(_) if other_group == 1 && k < 2 => {
                found.push((Diagnosis::Bug(&WRONG_AXIS), ArrayD::zeros(views[k].raw_dim())));
            }
            Err(_) => {}
        }
    }
    if e.input == "x" {
        let (x, gamma) = (request.matrix("x"), request.vector("gamma"));
        let r = inverse_std(x, axis, request.attr("eps"));
        let grad = request.upstream_matrix();
        found.push((
            Diagnosis::Bug(&STATS_AS_CONSTANTS),
            (&grad * &gamma * &r).into_dyn(),
        ));
    }
    found
}

/// r = 1/√(σ² + ε) of the biased variance of each group along `axis`, shaped to broadcast
/// against x (a row of D for axis 0, a column of B for axis 1).
fn inverse_std(x: ArrayView2<'_, f64>, axis: Axis, eps: f64) -> Array2<f64> {
    let n = x.len_of(axis) as f64;
    let mean: Array1<f64> = x.sum_axis(axis) / n;
    let mean = mean.insert_axis(axis);
    let var = (&x - &mean).mapv(|v| v * v).sum_axis(axis) / n;
    var.mapv(|v| 1.0 / (v + eps).sqrt()).insert_axis(axis)
}
