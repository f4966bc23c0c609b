//! A student's backward functions for the ops of the notes and of the course, in Rust, and how
//! they are checked.
//!
//! The notes' four (linear, relu, sqerr and the whole network) take and return the arrays of the
//! notes. The course's eleven others (sigmoid, tanh, dropout, softmax_xent, hinge, batchnorm,
//! layernorm, conv2d, maxpool2d, embedding, rnn_step; `shared/protocol-ops.md`) share one
//! signature, `backward(dL/d out, inputs, attrs) -> gradients`: the inputs in the protocol's order,
//! the attrs in the spec's order (dropout's p, the normalisations' ε, conv2d's stride and pad,
//! maxpool2d's pool and stride), labels and indices as whole f64s, dL/dL 0-dimensional for a loss,
//! and one gradient back per differentiated input, in order. Rows are data points, images are
//! N×C×H×W, losses are means over the batch.
//!
//! `cargo run --example student` prints a report per op; `cargo test --example student` runs the
//! tests at the bottom, one per op, written by `gradverify::backward_tests!`.
//! Copy this file into your own crate (with `gradverify` and `ndarray` as dependencies) and
//! replace the bodies with your own.

use gradverify::check::{self, NetworkGrads};
use gradverify::mlp::MlpParams;
use ndarray::{Array1, Array2, Array4, ArrayD, ArrayView1, ArrayView2, ArrayView4, ArrayViewD, Axis, s};

// Helpers: the protocol's arrays in their shapes, relu's step, and the normalisation that
// batchnorm and layernorm share.

/// The input `a` as a MATRIX (rows are data points).
fn matrix<'a>(a: &ArrayViewD<'a, f64>) -> ArrayView2<'a, f64> {
    a.clone().into_dimensionality().expect("a matrix")
}

/// The input `a` as a VECTOR.
fn vector<'a>(a: &ArrayViewD<'a, f64>) -> ArrayView1<'a, f64> {
    a.clone().into_dimensionality().expect("a vector")
}

/// The input `a` as a TENSOR4 (N×C×H×W).
fn tensor4<'a>(a: &ArrayViewD<'a, f64>) -> ArrayView4<'a, f64> {
    a.clone().into_dimensionality().expect("a 4-d tensor")
}

/// A loss's dL/dL, sent 0-dimensional.
fn scalar(a: &ArrayViewD<f64>) -> f64 {
    *a.first().expect("a number")
}

/// An INDEX VECTOR (labels, indices): whole numbers sent as f64.
fn indices(a: &ArrayViewD<f64>) -> Vec<usize> {
    a.iter().map(|&k| k as usize).collect()
}

/// Θ(a): 1 where a > 0, else 0 (Eq. 42).
fn step(a: &Array2<f64>) -> Array2<f64> {
    a.mapv(|v| if v > 0.0 { 1.0 } else { 0.0 })
}

/// Each row of `x` normalised over its n entries: x̂ = (x − μ) / √(σ² + ε), with the row's mean μ
/// and biased variance σ² = (1/n) Σ (x − μ)². Returns x̂ and 1/√(σ² + ε) per row.
fn normalise_rows(x: ArrayView2<f64>, eps: f64) -> (Array2<f64>, Array1<f64>) {
    let n = x.ncols() as f64;
    let mean = x.sum_axis(Axis(1)) / n;
    let centred = &x - &mean.view().insert_axis(Axis(1));
    let var = centred.mapv(|v| v * v).sum_axis(Axis(1)) / n;
    let inv_std = var.mapv(|v| 1.0 / (v + eps).sqrt());
    let xhat = &centred * &inv_std.view().insert_axis(Axis(1));
    (xhat, inv_std)
}

/// Back through [`normalise_rows`], per row of n entries:
/// dL/dx = (1/n) · inv_std · (n dL/dx̂ − Σ dL/dx̂ − x̂ Σ (dL/dx̂ ⊙ x̂)).
fn normalise_rows_backward(dxhat: ArrayView2<f64>, xhat: &Array2<f64>, inv_std: &Array1<f64>) -> Array2<f64> {
    let n = xhat.ncols() as f64;
    let sum_d = dxhat.sum_axis(Axis(1)).insert_axis(Axis(1));
    let sum_dx = (&dxhat * xhat).sum_axis(Axis(1)).insert_axis(Axis(1));
    let inner = &dxhat * n - &sum_d - xhat * &sum_dx;
    inner * &(inv_std / n).insert_axis(Axis(1))
}

// The notes' ops.

/// linear.backward (Eq. 30b): dL/dh = dL/da Wᵀ (Eq. 66), dL/dW = hᵀ dL/da (Eq. 70),
/// dL/db = Σ_rows dL/da (Eq. 74).
pub fn linear_backward(
    grad_a: &Array2<f64>,
    h: &Array2<f64>,
    w: &Array2<f64>,
    _b: &Array1<f64>,
) -> (Array2<f64>, Array2<f64>, Array1<f64>) {
    (grad_a.dot(&w.t()), h.t().dot(grad_a), grad_a.sum_axis(Axis(0)))
}

/// relu.backward (Eq. 29b, 47): dL/da = Θ(a) ⊙ dL/dh.
pub fn relu_backward(grad_h: &Array2<f64>, a: &Array2<f64>) -> Array2<f64> {
    grad_h * &step(a)
}

/// sqerr.backward (Eq. 31b): dL/df = dL/dL · (f − y), dL/dy = −dL/dL · (f − y).
pub fn sqerr_backward(grad_loss: f64, f: &Array2<f64>, y: &Array2<f64>) -> (Array2<f64>, Array2<f64>) {
    let df = grad_loss * (f - y);
    let dy = -&df;
    (df, dy)
}

/// The whole network: the forward pass of Eq. 33, then the backward pass of Eq. 37.
pub fn backprop(x: &Array2<f64>, y: &Array2<f64>, p: &MlpParams) -> NetworkGrads {
    let a1 = x.dot(&p.w1) + &p.b1;
    let h1 = a1.mapv(|v| v.max(0.0));
    let a2 = h1.dot(&p.w2) + &p.b2;
    let h2 = a2.mapv(|v| v.max(0.0));
    let f = h2.dot(&p.w3) + &p.b3;
    let (df, _dy) = sqerr_backward(1.0, &f, y);
    let (dh2, dw3, db3) = linear_backward(&df, &h2, &p.w3, &p.b3);
    let da2 = relu_backward(&dh2, &a2);
    let (dh1, dw2, db2) = linear_backward(&da2, &h1, &p.w2, &p.b2);
    let da1 = relu_backward(&dh1, &a1);
    let (_dx, dw1, db1) = linear_backward(&da1, x, &p.w1, &p.b1);
    (dw1, db1, dw2, db2, dw3, db3)
}

// The course's ops, elementwise.

/// sigmoid.backward: h = 1 / (1 + e^(−a)), dL/da = dL/dh ⊙ h ⊙ (1 − h).
pub fn sigmoid_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    _attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let h = inputs[0].mapv(|a| 1.0 / (1.0 + (-a).exp()));
    vec![&grad * &h.mapv(|h| h * (1.0 - h))]
}

/// tanh.backward: h = tanh(a), dL/da = dL/dh ⊙ (1 − h²).
pub fn tanh_backward(grad: ArrayViewD<f64>, inputs: &[ArrayViewD<f64>], _attrs: &[f64]) -> Vec<ArrayD<f64>> {
    let h = inputs[0].mapv(f64::tanh);
    vec![&grad * &h.mapv(|h| 1.0 - h * h)]
}

/// dropout.backward (inverted, mask given): out = x ⊙ mask / (1 − p), so
/// dL/dx = dL/d out ⊙ mask / (1 − p).
pub fn dropout_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (mask, p) = (&inputs[1], attrs[0]);
    vec![&grad * mask / (1.0 - p)]
}

// The course's ops, losses (means over the batch).

/// softmax_xent.backward: L = −(1/B) Σᵢ log softmax(zᵢ)[yᵢ], so
/// dL/dzᵢⱼ = dL/dL · (softmax(zᵢ)ⱼ − [j = yᵢ]) / B.
pub fn softmax_xent_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    _attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (z, labels) = (matrix(&inputs[0]), indices(&inputs[1]));
    let scale = scalar(&grad) / z.nrows() as f64;
    let mut dz = Array2::zeros(z.raw_dim());
    for (i, (row, mut drow)) in z.outer_iter().zip(dz.outer_iter_mut()).enumerate() {
        // Shifted by the row's max so that e^z cannot overflow; softmax is unchanged.
        let max = row.fold(f64::NEG_INFINITY, |m, &v| m.max(v));
        let e = row.mapv(|v| (v - max).exp());
        let p = &e / e.sum();
        drow.assign(&(p * scale));
        drow[labels[i]] -= scale;
    }
    vec![dz.into_dyn()]
}

/// hinge.backward: L = (1/B) Σᵢ Σ_{j ≠ yᵢ} max(0, zᵢⱼ − zᵢ,yᵢ + 1), so each positive margin gives
/// dL/dzᵢⱼ = dL/dL / B and dL/dzᵢ,yᵢ = −dL/dL / B.
pub fn hinge_backward(grad: ArrayViewD<f64>, inputs: &[ArrayViewD<f64>], _attrs: &[f64]) -> Vec<ArrayD<f64>> {
    let (z, labels) = (matrix(&inputs[0]), indices(&inputs[1]));
    let scale = scalar(&grad) / z.nrows() as f64;
    let mut dz = Array2::zeros(z.raw_dim());
    for (i, &y) in labels.iter().enumerate() {
        for j in 0..z.ncols() {
            if j != y && z[[i, j]] - z[[i, y]] + 1.0 > 0.0 {
                dz[[i, j]] += scale;
                dz[[i, y]] -= scale;
            }
        }
    }
    vec![dz.into_dyn()]
}

// The course's ops, normalisation (training mode).

/// batchnorm.backward: out = γ ⊙ x̂ + β with x̂ each column of x normalised over the batch, so
/// dL/dγ = Σ_rows dL/d out ⊙ x̂, dL/dβ = Σ_rows dL/d out, and dL/dx back through x̂ from
/// dL/dx̂ = dL/d out ⊙ γ (in [`normalise_rows_backward`], on the columns).
pub fn batchnorm_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (g, x, gamma, eps) = (matrix(&grad), matrix(&inputs[0]), vector(&inputs[1]), attrs[0]);
    let (xhat_t, inv_std) = normalise_rows(x.t(), eps);
    let dgamma = (&g * &xhat_t.t()).sum_axis(Axis(0));
    let dbeta = g.sum_axis(Axis(0));
    let dxhat = &g * &gamma;
    let dx = normalise_rows_backward(dxhat.t(), &xhat_t, &inv_std).reversed_axes();
    vec![dx.into_dyn(), dgamma.into_dyn(), dbeta.into_dyn()]
}

/// layernorm.backward: out = γ ⊙ x̂ + β with x̂ each row of x normalised over its features, so
/// dL/dγ = Σ_rows dL/d out ⊙ x̂, dL/dβ = Σ_rows dL/d out, and dL/dx back through x̂ from
/// dL/dx̂ = dL/d out ⊙ γ (in [`normalise_rows_backward`]).
pub fn layernorm_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (g, x, gamma, eps) = (matrix(&grad), matrix(&inputs[0]), vector(&inputs[1]), attrs[0]);
    let (xhat, inv_std) = normalise_rows(x, eps);
    let dgamma = (&g * &xhat).sum_axis(Axis(0));
    let dbeta = g.sum_axis(Axis(0));
    let dxhat = &g * &gamma;
    let dx = normalise_rows_backward(dxhat.view(), &xhat, &inv_std);
    vec![dx.into_dyn(), dgamma.into_dyn(), dbeta.into_dyn()]
}

// The course's ops, images (N×C×H×W).

/// conv2d.backward: out[n,f,i,j] = b[f] + Σ_{c,p,q} xpad[n,c,i·s+p,j·s+q] · w[f,c,p,q], so each
/// dL/d out[n,f,i,j] adds itself to dL/db[f], times the window of xpad under it to dL/dw[f], and
/// times w[f] to dL/dxpad under the window; dL/dx is dL/dxpad without its padding.
pub fn conv2d_backward(grad: ArrayViewD<f64>, inputs: &[ArrayViewD<f64>], attrs: &[f64]) -> Vec<ArrayD<f64>> {
    let (g, x, w) = (tensor4(&grad), tensor4(&inputs[0]), tensor4(&inputs[1]));
    let (stride, pad) = (attrs[0] as usize, attrs[1] as usize);
    let (batch, channels, h, wd) = x.dim();
    let (filters, _, hh, ww) = w.dim();
    let (_, _, ho, wo) = g.dim();
    let mut xpad = Array4::zeros((batch, channels, h + 2 * pad, wd + 2 * pad));
    xpad.slice_mut(s![.., .., pad..pad + h, pad..pad + wd]).assign(&x);
    let mut dxpad = Array4::zeros(xpad.raw_dim());
    let mut dw = Array4::zeros(w.raw_dim());
    let mut db = Array1::zeros(filters);
    for n in 0..batch {
        for f in 0..filters {
            for i in 0..ho {
                for j in 0..wo {
                    let d = g[[n, f, i, j]];
                    let (rows, cols) = (i * stride..i * stride + hh, j * stride..j * stride + ww);
                    db[f] += d;
                    dw.slice_mut(s![f, .., .., ..])
                        .scaled_add(d, &xpad.slice(s![n, .., rows.clone(), cols.clone()]));
                    dxpad
                        .slice_mut(s![n, .., rows, cols])
                        .scaled_add(d, &w.slice(s![f, .., .., ..]));
                }
            }
        }
    }
    let dx = dxpad.slice(s![.., .., pad..pad + h, pad..pad + wd]).to_owned();
    vec![dx.into_dyn(), dw.into_dyn(), db.into_dyn()]
}

/// maxpool2d.backward: out[n,c,i,j] is the max of the pool×pool window at (i·s, j·s), so
/// dL/d out[n,c,i,j] goes to that window's argmax alone (added up where windows overlap).
pub fn maxpool2d_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (g, x) = (tensor4(&grad), tensor4(&inputs[0]));
    let (pool, stride) = (attrs[0] as usize, attrs[1] as usize);
    let (batch, channels, ho, wo) = g.dim();
    let mut dx = Array4::zeros(x.raw_dim());
    for n in 0..batch {
        for c in 0..channels {
            for i in 0..ho {
                for j in 0..wo {
                    let (mut best, mut at) = (f64::NEG_INFINITY, (0, 0));
                    for p in i * stride..i * stride + pool {
                        for q in j * stride..j * stride + pool {
                            if x[[n, c, p, q]] > best {
                                (best, at) = (x[[n, c, p, q]], (p, q));
                            }
                        }
                    }
                    dx[[n, c, at.0, at.1]] += g[[n, c, i, j]];
                }
            }
        }
    }
    vec![dx.into_dyn()]
}

// The course's ops, structure.

/// embedding.backward: out[i] = W[idxᵢ], so dL/dW[k] = Σ_{i: idxᵢ = k} dL/d out[i] (a repeated
/// index sums the gradients of its rows: fan-out, Eq. 4–10).
pub fn embedding_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    _attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let (g, w, idx) = (matrix(&grad), matrix(&inputs[0]), indices(&inputs[1]));
    let mut dw = Array2::zeros(w.raw_dim());
    for (i, &k) in idx.iter().enumerate() {
        let mut row = dw.row_mut(k);
        row += &g.row(i);
    }
    vec![dw.into_dyn()]
}

/// rnn_step.backward: h' = tanh(a) with a = x Wx + h Wh + b, so dL/da = dL/dh' ⊙ (1 − h'²), then
/// as linear: dL/dx = dL/da Wxᵀ, dL/dh = dL/da Whᵀ, dL/dWx = xᵀ dL/da, dL/dWh = hᵀ dL/da,
/// dL/db = Σ_rows dL/da.
pub fn rnn_step_backward(
    grad: ArrayViewD<f64>,
    inputs: &[ArrayViewD<f64>],
    _attrs: &[f64],
) -> Vec<ArrayD<f64>> {
    let g = matrix(&grad);
    let (x, h, wx, wh, b) = (
        matrix(&inputs[0]),
        matrix(&inputs[1]),
        matrix(&inputs[2]),
        matrix(&inputs[3]),
        vector(&inputs[4]),
    );
    let h_next = (x.dot(&wx) + h.dot(&wh) + b).mapv(f64::tanh);
    let da = &g * &h_next.mapv(|v| 1.0 - v * v);
    vec![
        da.dot(&wx.t()).into_dyn(),
        da.dot(&wh.t()).into_dyn(),
        x.t().dot(&da).into_dyn(),
        h.t().dot(&da).into_dyn(),
        da.sum_axis(Axis(0)).into_dyn(),
    ]
}

fn main() {
    let reports = [
        check::linear(linear_backward),
        check::relu(relu_backward),
        check::sqerr(sqerr_backward),
        check::network(backprop),
        check::sigmoid(sigmoid_backward),
        check::tanh(tanh_backward),
        check::dropout(dropout_backward),
        check::softmax_xent(softmax_xent_backward),
        check::hinge(hinge_backward),
        check::batchnorm(batchnorm_backward),
        check::layernorm(layernorm_backward),
        check::conv2d(conv2d_backward),
        check::maxpool2d(maxpool2d_backward),
        check::embedding(embedding_backward),
        check::rnn_step(rnn_step_backward),
    ];
    for report in &reports {
        println!("{report}");
    }
    if reports.iter().any(|r| !r.passed()) {
        std::process::exit(1);
    }
}

#[cfg(test)]
mod tests {
    gradverify::backward_tests!(
        linear: super::linear_backward,
        relu: super::relu_backward,
        sqerr: super::sqerr_backward,
        network: super::backprop,
        sigmoid: super::sigmoid_backward,
        tanh: super::tanh_backward,
        dropout: super::dropout_backward,
        softmax_xent: super::softmax_xent_backward,
        hinge: super::hinge_backward,
        batchnorm: super::batchnorm_backward,
        layernorm: super::layernorm_backward,
        conv2d: super::conv2d_backward,
        maxpool2d: super::maxpool2d_backward,
        embedding: super::embedding_backward,
        rnn_step: super::rnn_step_backward,
    );
}
