//! The Eq. 33 network, three linear layers with relu between them and sqerr on top, on B×D0 data
//! x and B×D3 targets y: a whole backprop returns the six parameter gradients (Eq. 32/37), and
//! may send dL/dx and the loss too.
//!
//! Its own bugs: dL/da1 from dL/dh2 and a2, as misprinted in the notes' Eq. 32e/37e; the relu
//! mask of hidden layer 1 or 2 left out; one parameter's gradient returned in another's place.

use ndarray::{Array1, Array2, ArrayD, arr0};
use rand_chacha::ChaCha8Rng;

use super::VerifiedOp;
use crate::catalogue::{Answer, Bug, Grad, GradOut, InputSpec, OpKind, OpSpec, Request};
use crate::error::Result;
use crate::mlp::{self, MlpParams};
use crate::ops::{Cost, linear, relu};
use crate::oracle::{self, OracleReport};
use crate::random;
use crate::tape::Wrt;
use crate::verify::hypotheses::Evidence;
use crate::verify::hypotheses::law::Law;
use crate::verify::report::Diagnosis;
use crate::verify::subject::{Backward, Closure, label};
use crate::workload::Workload;

/// A handle to this op, for code that names it.
pub const KIND: OpKind = OpKind::of(&SPEC);

/// The network on the wire: data `x: B×D0`, targets `y: B×D3` and the six parameters; no
/// upstream gradient (the loss starts from dL/dL = 1). An answer may add dL/dx and the loss.
pub static SPEC: OpSpec = OpSpec {
    name: "mlp",
    family: "the notes",
    dims: &["B", "D0", "D1", "D2", "D3"],
    inputs: &[
        InputSpec::real("x", &["B", "D0"]).grad(Grad::Optional),
        InputSpec::real("y", &["B", "D3"]).grad(Grad::None),
        InputSpec::real("W1", &["D0", "D1"]),
        InputSpec::real("b1", &["D1"]),
        InputSpec::real("W2", &["D1", "D2"]),
        InputSpec::real("b2", &["D2"]),
        InputSpec::real("W3", &["D2", "D3"]),
        InputSpec::real("b3", &["D3"]),
    ],
    attrs: &[],
    grad_out: GradOut::None,
    extras: &["loss"],
};

/// dL/da1 from dL/dh2 and a2, as misprinted in the notes' Eq. 32e/37e.
pub const MISPRINT_32E: Bug = Bug {
    code: "misprint_32e",
    summary: "the notes' misprint in Eq. 32e/37e: dL/da1 computed from dL/dh2 and a2; the chain rule gives dL/da1 = relu.backward(dL/dh1; a1) (Eq. 25e)",
    explain: "\
misprint_32e: dL/da1 computed from dL/dh2 and a2

The notes' Eq. 32e (and 37e) is misprinted: it reads
dL/da1 = relu.backward(dL/dh2; a2). The chain rule gives
dL/da1 = relu.backward(dL/dh1; a1) (Eq. 25e, 26e): each relu's backward takes the
gradient of its own output and its own input. The misprint only runs when D1 = D2.

Typical wrong code:
    da1 = relu_backward(dh2, a2)
Fix:
    da1 = relu_backward(dh1, a1)
",
    parameter: None,
};

/// `gradverify explain layer_mask_missing`, one text for both layers.
const LAYER_MASK_MISSING_EXPLAIN: &str = "\
layer_mask_missing: one hidden layer's relu left out of the network's backward

In the network's backward each relu contributes its mask: dL/da2 = Θ(a2) ⊙ dL/dh2
(Eq. 37c), dL/da1 = Θ(a1) ⊙ dL/dh1 (Eq. 37e, 47). The report names the layer whose
mask is missing; the layers below it inherit the error.

Typical wrong code:
    da2 = dh2
Fix:
    da2 = relu_backward(dh2, a2)
";

/// The relu mask of hidden layer 1 left out of the backward.
pub const LAYER1_MASK_MISSING: Bug = Bug {
    code: "layer_mask_missing",
    summary: "the relu mask of hidden layer 1 is missing: dL/da1 = Θ(a1) ⊙ dL/dh1 (Eq. 37c/e, 47)",
    explain: LAYER_MASK_MISSING_EXPLAIN,
    parameter: Some(("layer", 1)),
};

/// The relu mask of hidden layer 2 left out of the backward.
pub const LAYER2_MASK_MISSING: Bug = Bug {
    code: "layer_mask_missing",
    summary: "the relu mask of hidden layer 2 is missing: dL/da2 = Θ(a2) ⊙ dL/dh2 (Eq. 37c/e, 47)",
    explain: LAYER_MASK_MISSING_EXPLAIN,
    parameter: Some(("layer", 2)),
};

/// The network.
pub struct MlpOp;

/// The parts of a network request: (x, y, parameters).
fn parts(request: &Request) -> (Array2<f64>, Array2<f64>, MlpParams) {
    let params = MlpParams {
        w1: request.matrix("W1").to_owned(),
        b1: request.vector("b1").to_owned(),
        w2: request.matrix("W2").to_owned(),
        b2: request.vector("b2").to_owned(),
        w3: request.matrix("W3").to_owned(),
        b3: request.vector("b3").to_owned(),
    };
    (
        request.matrix("x").to_owned(),
        request.matrix("y").to_owned(),
        params,
    )
}

impl VerifiedOp for MlpOp {
    fn spec(&self) -> &'static OpSpec {
        &SPEC
    }

    /// [B, D0, D1, D2, D3].
    fn planned_dims(&self) -> &'static [&'static [usize]] {
        &[
            &[1, 3, 4, 5, 2],
            &[4, 3, 3, 3, 3],
            &[3, 2, 4, 3, 1],
            &[2, 1, 3, 3, 1],
            &[5, 4, 1, 3, 2],
        ]
    }

    fn draw(&self, dims: &[usize], rng: &mut ChaCha8Rng) -> Request {
        let &[batch, d0, d1, d2, d3] = dims else {
            unreachable!("internal: dims {dims:?} do not fit mlp")
        };
        let p = random::mlp_params(rng, [d0, d1, d2, d3]);
        let x = random::normal_matrix(rng, batch, d0).into_dyn();
        let y = random::normal_matrix(rng, batch, d3).into_dyn();
        let inputs = vec![
            x,
            y,
            p.w1.into_dyn(),
            p.b1.into_dyn(),
            p.w2.into_dyn(),
            p.b2.into_dyn(),
            p.w3.into_dyn(),
            p.b3.into_dyn(),
        ];
        Request::new(KIND, inputs, Vec::new(), None)
    }

    /// B and the output width D3: a factor from the loss's backward depends on no other.
    fn fit_dims(&self, request: &Request) -> Vec<(&'static str, usize)> {
        vec![("B", request.batch()), ("D3", request.vector("b3").len())]
    }

    /// Every parameter gradient, dL/dx and the loss.
    fn reference_answer(&self, request: &Request) -> Result<Answer> {
        let (x, y, params) = parts(request);
        let g = mlp::loss_and_grads(&params, &x, &y, Wrt::ParamsAndData)?;
        let dx = g.x.expect("internal: dL/dx was requested");
        Ok(Answer::default()
            .with("W1", g.w1.into_dyn())
            .with("b1", g.b1.into_dyn())
            .with("W2", g.w2.into_dyn())
            .with("b2", g.b2.into_dyn())
            .with("W3", g.w3.into_dyn())
            .with("b3", g.b3.into_dyn())
            .with("x", dx.into_dyn())
            .with("loss", arr0(g.loss).into_dyn()))
    }

    fn hypotheses(&self, request: &Request, e: &Evidence<'_>) -> Vec<(Diagnosis, ArrayD<f64>)> {
        let (x, y, params) = parts(request);
        let mut found = Vec::new();
        let variants = [
            (&MISPRINT_32E, Variant::Misprint32e),
            (&LAYER1_MASK_MISSING, Variant::MaskMissing(1)),
            (&LAYER2_MASK_MISSING, Variant::MaskMissing(2)),
        ];
        for (bug, variant) in variants {
            if let Some(g) = network_variant(&x, &y, &params, variant).and_then(|a| a.get(e.input).cloned()) {
                found.push((Diagnosis::Bug(bug), g));
            }
        }
        for (other, g) in &e.expected.grads {
            if other != e.input && g.shape() == e.actual.shape() {
                found.push((Diagnosis::SwappedWith(other.clone()), g.clone()));
            }
        }
        found
    }

    fn network_parameters(&self) -> &'static [&'static str] {
        &["W1", "b1", "W2", "b2", "W3", "b3"]
    }

    /// The network's loss is sqerr: its factors mean what they mean for sqerr.
    fn factor_meaning(&self, law: &Law<'_>) -> Option<String> {
        super::sqerr::loss_meaning(law)
    }

    fn bugs(&self) -> &'static [&'static Bug] {
        &[&MISPRINT_32E, &LAYER1_MASK_MISSING, &LAYER2_MASK_MISSING]
    }

    fn sweep_case(
        &self,
        rng: &mut ChaCha8Rng,
        batch: usize,
        max_width: usize,
    ) -> Result<(String, OracleReport)> {
        use ndarray_rand::rand::Rng;
        let widths = [0; 4].map(|_| rng.random_range(1..=max_width));
        let params = random::mlp_params(rng, widths);
        let x = random::normal_matrix(rng, batch, widths[0]);
        let y = random::normal_matrix(rng, batch, widths[3]);
        let net = mlp::record(&params, x.view(), y.view())?;
        let mut leaves = vec![net.x];
        leaves.extend(net.params);
        let report = oracle::check(&net.tape, net.loss, arr0(1.0).into_dyn().view(), &leaves)?;
        let [d0, d1, d2, d3] = widths;
        Ok((format!("B={batch} D={d0}-{d1}-{d2}-{d3}"), report))
    }

    /// Every parameter's gradient of the network with widths D, D, D, max(D/4, 1), all zero.
    fn model_cost(&self, batch: usize, width: usize) -> Result<Option<Cost>> {
        let (params, x, y) = zero_network(batch, width);
        let net = mlp::record(&params, x.view(), y.view())?;
        net.tape.backward_cost(net.loss, Wrt::Params).map(Some)
    }

    fn timing_inputs(&self, batch: usize, width: usize) -> Option<Workload> {
        let d = width;
        let widths = [d, d, d, (d / 4).max(1)];
        let params = random::mlp_params(&mut random::case_rng(1, d as u64), widths);
        let x = random::normal_matrix(&mut random::case_rng(2, d as u64), batch, d);
        let y = random::normal_matrix(&mut random::case_rng(3, d as u64), batch, widths[3]);
        Some(Workload::Mlp(Box::new((params, x, y))))
    }
}

/// Parameters, data and targets of the Eq. 33 network with widths D, D, D, max(D/4, 1), all zero.
fn zero_network(batch: usize, width: usize) -> (MlpParams, Array2<f64>, Array2<f64>) {
    let widths = [width, width, width, (width / 4).max(1)];
    let params = MlpParams {
        w1: Array2::zeros((widths[0], widths[1])),
        b1: Array1::zeros(widths[1]),
        w2: Array2::zeros((widths[1], widths[2])),
        b2: Array1::zeros(widths[2]),
        w3: Array2::zeros((widths[2], widths[3])),
        b3: Array1::zeros(widths[3]),
    };
    (
        params,
        Array2::zeros((batch, widths[0])),
        Array2::zeros((batch, widths[3])),
    )
}

/// A wrong backprop of the Eq. 33 network that a student might write.
#[derive(Debug, Clone, Copy)]
enum Variant {
    /// dL/da1 = relu.backward(dL/dh2; a2), as misprinted in Eq. 32e/37e (needs D1 = D2).
    Misprint32e,
    /// The relu of this hidden layer (1 or 2) skipped in the backward.
    MaskMissing(usize),
}

/// The six parameter gradients of the network as `variant` computes them, or `None` where the
/// variant cannot run (the misprint's shapes do not fit).
fn network_variant(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams, variant: Variant) -> Option<Answer> {
    let as2 = |a: ArrayD<f64>| a.into_dimensionality::<ndarray::Ix2>().ok();
    let a1 = linear::forward(x.view(), p.w1.view(), p.b1.view()).ok()?;
    let h1 = as2(relu::forward(a1.view().into_dyn()).ok()?)?;
    let a2 = linear::forward(h1.view(), p.w2.view(), p.b2.view()).ok()?;
    let h2 = as2(relu::forward(a2.view().into_dyn()).ok()?)?;
    let f = linear::forward(h2.view(), p.w3.view(), p.b3.view()).ok()?;
    let g3 = linear::backward((&f - y).view(), h2.view(), p.w3.view(), p.b3.view()).ok()?;
    let masked = |g: &Array2<f64>, a: &Array2<f64>, layer: usize| -> Option<Array2<f64>> {
        if matches!(variant, Variant::MaskMissing(l) if l == layer) {
            return Some(g.clone());
        }
        as2(relu::backward(g.view().into_dyn(), a.view().into_dyn()).ok()?)
    };
    let da2 = masked(&g3.h, &a2, 2)?;
    let g2 = linear::backward(da2.view(), h1.view(), p.w2.view(), p.b2.view()).ok()?;
    let da1 = match variant {
        Variant::Misprint32e => as2(relu::backward(g3.h.view().into_dyn(), a2.view().into_dyn()).ok()?)?,
        Variant::MaskMissing(_) => masked(&g2.h, &a1, 1)?,
    };
    if da1.dim() != a1.dim() {
        return None;
    }
    let g1 = linear::backward(da1.view(), x.view(), p.w1.view(), p.b1.view()).ok()?;
    Some(
        Answer::default()
            .with("W1", g1.w.into_dyn())
            .with("b1", g1.b.into_dyn())
            .with("W2", g2.w.into_dyn())
            .with("b2", g2.b.into_dyn())
            .with("W3", g3.w.into_dyn())
            .with("b3", g3.b.into_dyn())
            .with("x", g1.h.into_dyn()),
    )
}

/// The six parameter gradients of the Eq. 33 network, in Eq. 35's order:
/// (dL/dW1, dL/db1, dL/dW2, dL/db2, dL/dW3, dL/db3).
pub type NetworkGrads = (
    Array2<f64>,
    Array1<f64>,
    Array2<f64>,
    Array1<f64>,
    Array2<f64>,
    Array1<f64>,
);

/// A whole-network backprop as a [`Backward`].
pub fn network_subject<F>(backprop: F) -> impl Backward
where
    F: Fn(&Array2<f64>, &Array2<f64>, &MlpParams) -> NetworkGrads,
{
    let label = label::<F>();
    let call = move |r: &Request| {
        let (x, y, params) = parts(r);
        let (w1, b1, w2, b2, w3, b3) = backprop(&x, &y, &params);
        Answer::default()
            .with("W1", w1.into_dyn())
            .with("b1", b1.into_dyn())
            .with("W2", w2.into_dyn())
            .with("b2", b2.into_dyn())
            .with("W3", w3.into_dyn())
            .with("b3", b3.into_dyn())
    };
    Closure { label, call }
}
